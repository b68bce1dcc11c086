"""Responses measured without error: a residual variance fixed at exactly 0 (``x ~~ 0*x``).

A Gaussian indicator with sigma_i^2 = 0 equals its linear predictor, y_i = eta0_i + a_i'u: the joint density of a
unit's responses is the marginal normal

    log L_c = log N(r_c; 0, Sigma_c),   Sigma_c = A_c'A_c + T_c,   T_c = diag(sigma_i^2 / w_i),

with a 0 on T's diagonal for such rows (``integrate/shared_gaussian.py``), which stays positive definite as long as
the latent variables spread those rows. This is how an observed covariate enters a latent variable model as a
latent variable of its own (the seeds' missing-covariate and covariate-measurement-error models): where it is
observed, the latent variable equals it; where it is missing, it is integrated out.

The variance is stored as log sd = -inf in theta. The programs never see that -inf in arithmetic: the design
carries ``ZERO_DISPERSION``, a flag per dispersion, and ``objective.cluster_model`` replaces the flagged log sds by 0
(through ``jnp.where``, so no derivative passes through them) and hands the flagged rows to the integrals as
``ClusterModel.exact_rows``. Only the exact Gaussian integration (every response Gaussian with identity link) can
take such rows. Under adaptive quadrature, Laplace or Gauss-Hermite (other responses non-Gaussian: the seeds'
missing-covariate model with a binary disease) the design also carries ``CONDITION_ON_EXACT`` and every cluster's
integrand is conditioned on its error-free rows exactly (``integrate/exact_conditioning.py``).
"""

from __future__ import annotations

import numpy as np

from ..errors import GllammError
from ..integrate.shared_gaussian import CONDITION_ON_EXACT, ZERO_DISPERSION  # see the module docstring


def mark_zero_dispersions(table, constraints, design, integration) -> bool:
    """Flag the dispersions ``constraints`` fix at 0 in the design's arrays (``ZERO_DISPERSION``); True if any.

    Refuses the models that cannot take them: integration other than exact Gaussian, sampling weights on their rows
    (a point mass has no power w), clusters of rows that span several chunks."""
    from ..integrate.shared_gaussian import PATTERN_CHUNK, ROW_PATTERN, mark_row_patterns

    positions = constraints.zero_dispersions
    if positions.size == 0:
        return False
    frame = table.frame()
    dispersion_rows = frame[frame.block == "dispersion"]
    first = int(dispersion_rows.position.min())
    names = [table.spec.dispersions[p - first] for p in positions]
    listed = ", ".join(f"'{n.split('~~')[0]} ~~ 0*{n.split('~~')[0]}'" if "~~" in n else f"{n}=0" for n in names)
    import jax
    import jax.numpy as jnp

    arrays = design.chunks.arrays
    host = {key: np.asarray(value) for key, value in arrays.items()}
    flags = np.zeros(len(table.spec.dispersions), dtype=bool)
    flags[positions - first] = True
    exact_rows = flags[host["dispersion_index"]] & (host["weight"] > 0)
    if table.spec.family.name == "mixed":
        exact_rows &= np.asarray(table.spec.family.rows_with_dispersion(host["member"]))
    if np.any(host["weight"][exact_rows] != 1.0):
        raise GllammError(f"{listed}: a response without error cannot carry sampling weights other than 1 on its rows; "
                          "give the weights to the clusters (cluster_weights=) or fix the variance at a small value.")
    if integration.method != "exact":
        _check_conditioning(table, integration, host, exact_rows, listed)
        arrays[ZERO_DISPERSION] = jnp.asarray(flags)
        arrays[CONDITION_ON_EXACT] = jnp.asarray(True)
        return True
    if ROW_PATTERN not in host:
        mark_row_patterns(host, every_cluster=True)
        if ROW_PATTERN not in host:
            raise GllammError(f"{listed}: a residual variance of exactly 0 is available for single-level models whose "
                              "clusters fit in one chunk of rows; fix it at a small positive value instead (e.g. 1e-6).")
        arrays.update({key: jax.device_put(host[key]) for key in (ROW_PATTERN, PATTERN_CHUNK)})
    arrays[ZERO_DISPERSION] = jnp.asarray(flags)
    return True


def _check_conditioning(table, integration, host, exact_rows, listed: str) -> None:
    """Refuse, with what to do instead, the models whose clusters cannot be conditioned on their error-free rows
    under a quadrature: the rows must be Gaussian with the identity link, every cluster one chunk of rows of a single
    level of continuous latent variables without interactions, and the latent variables free to take their values."""
    spec = table.spec
    small = "fix it at a small positive value instead (e.g. 1e-6)"
    if integration.method not in ("adaptive", "laplace", "ghq") or integration.within_classes \
            or len(spec.levels) != 1 or spec.levels[0].discrete or spec.crossed:
        raise GllammError(f"A residual variance fixed at exactly 0 ({listed}) is available for one level of normal "
                          f"latent variables (exact, adaptive, Laplace or Gauss-Hermite integration); {small}.")
    if any(level.products for level in spec.levels):
        raise GllammError(f"A residual variance fixed at exactly 0 ({listed}) cannot be combined with latent "
                          f"interactions; {small}.")
    chunk_cluster = host["chunk_cluster"]
    if "parent" in host or not np.array_equal(chunk_cluster, np.arange(np.shape(host["cluster_weight"])[0])):
        raise GllammError(f"{listed}: a residual variance of exactly 0 needs every cluster's rows in one chunk; "
                          f"leave out chunk_size= or {small}.")
    family = spec.family
    if family.name == "mixed":
        gaussian = np.array([f.name == "gaussian" and f.link.name == "identity" for f in family.members])
        ok = gaussian[host["member"][exact_rows].astype(int)]
    else:
        ok = np.full(int(exact_rows.sum()), family.name == "gaussian" and family.link.name == "identity")
    if not np.all(ok):
        raise GllammError(f"{listed}: only a Gaussian response with the identity link can have a residual variance "
                          "of exactly 0.")
