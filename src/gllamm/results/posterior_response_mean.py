"""The posterior mean of each row's mean, gllamm's ``gllapred, mu`` (predict(latent="posterior")):

    E[h(eta_i) | y_j] = int h(eta0_i + a_i' u) p(u | y_j) du  ~=  sum_k w_jk h(eta0_i + a_i' u_jk),

with u_jk and w_jk the nodes and normalised posterior weights of the fit's adaptive quadrature rule for cluster j
(integrate/cluster_integral.posterior_nodes). It differs from latent="eb", which plugs the posterior mean of the
latent variables into the inverse link, h(eta0_i + a_i' E[u | y_j]), whenever h is not linear.
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import GllammError


@functools.lru_cache(maxsize=16)
def _program(table, integration):
    """Jitted (theta, data, modes) -> E[h(eta) | y] (chunks, width)."""
    import jax
    import jax.numpy as jnp

    from ..integrate.cluster_integral import posterior_nodes
    from ..objective import cluster_model

    link = table.spec.family.link

    def means(theta, data, modes):
        model = cluster_model(table, theta, data)
        u, weights = posterior_nodes(model, integration, modes)  # (clusters, n, q), (clusters, n)
        uc, wc = u[model.chunk_cluster], weights[model.chunk_cluster]
        eta = model.eta0[:, None, :] + jnp.einsum("kcm,cnk->cnm", model.loadings, uc)
        if model.quadratic is not None:
            eta = eta + jnp.einsum("klcm,cnk,cnl->cnm", model.quadratic, uc, uc)
        return jnp.einsum("cn,cnm->cm", wc, link.inverse(eta))

    return jax.jit(means)


def posterior_response_means(result) -> np.ndarray:
    """E[h(eta_i) | y] for every row of the fitted data (see the module docstring)."""
    spec = result.spec
    if spec.crossed or len(spec.levels) != 1 or spec.discrete_level is not None or spec.levels[0].discrete:
        raise GllammError("latent='posterior' (the posterior mean of the mean) is available for models with one level "
                          "of continuous latent variables; use latent='eb' (the mean at the EB values) otherwise.")
    if result.family.name not in ("gaussian", "binomial", "poisson", "gamma", "negbin", "negbin1") \
            or spec.zero_inflation_names or spec.scale_names:
        raise GllammError(f"latent='posterior' is available for Gaussian, binomial, Poisson, gamma and negative "
                          f"binomial responses; not for family '{result.family.name}' (or zero inflation / a modelled "
                          "scale).")
    _, data, modes = result._evaluation()
    values = np.asarray(_program(result.table_spec, result.integration)(np.asarray(result.theta), data, modes))
    positions = result.design.chunks.row_positions
    out = np.full(len(result.design.y), np.nan)
    out[positions[positions >= 0]] = values[positions >= 0]
    return out
