"""The joint integrand of crossed random effects at theta (see integrate/crossed.py for the integration)."""
from __future__ import annotations

import jax.numpy as jnp

from .integrate.crossed import CrossedModel, crossed_loglik
from .row_functions import row_dispersion, row_functions
from .spec import ParameterTable
from .spec.latent_structure import latent_structure

CROSSED_STRUCTURE = ("crossed_rest_col", "crossed_contact", "crossed_contact_unit", "crossed_contact_col",
                     "crossed_pair_first", "crossed_pair_second")


def crossed_model(table: ParameterTable, theta, data) -> CrossedModel:
    """The joint integrand of crossed random effects at theta: row functions, eta0 = X beta + offset, and for each
    factor k the loadings a_ik = (M_k L_k)' Lambda_k z_ik of its standardised effects and each row's unit."""
    params = table.unpack(theta)
    eta0 = jnp.einsum("pcm,p->cm", data["X"], params.beta) + data["offset"]
    log_dispersion, _ = row_dispersion(table, params, data)
    row_kernel, row_derivatives = row_functions(table, params, data, log_dispersion)
    loadings, codes, units = [], [], []
    for k in range(len(table.spec.levels)):
        loadings_matrix, _, ML = latent_structure(table, params, k)
        weighted_z = jnp.einsum("rcm,kr->kcm", data[f"crossed_Z{k}"], loadings_matrix)
        loadings.append(jnp.einsum("kcm,kl->lcm", weighted_z, ML))
        codes.append(data[f"crossed_code{k}"])
        units.append(data[f"crossed_units{k}"].shape[0])
    structure = {name: data[name] for name in CROSSED_STRUCTURE}
    return CrossedModel(row_kernel, row_derivatives, eta0, data["weight"], tuple(loadings), tuple(codes), tuple(units),
                        structure)


def crossed_objective_loglik(table, integration, theta, data, modes, newton_steps):
    """log L of a crossed model as one 'cluster' (the rows' constants included)."""
    model = crossed_model(table, theta, data)
    value = crossed_loglik(model, modes, max(1, newton_steps), exact=integration.method == "exact")
    return jnp.reshape(value + jnp.sum(data["weight"] * data["constant"]), (1,))
