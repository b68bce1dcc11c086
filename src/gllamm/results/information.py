"""Expected (Fisher) information for models with Gaussian responses, identity link.

Each cluster's responses are multivariate normal, y_c ~ N(mu_c, Sigma_c) with

    mu_c    = X_c beta + offset_c + Zl_c M Gamma w_c,      Zl_c = Z_c Lambda'
    Sigma_c = (Zl_c M L)(Zl_c M L)' + diag(sigma^2 of each row),

and the Fisher information is  sum_c  J_mu' Sigma^{-1} J_mu + 1/2 tr(Sigma^{-1} dSigma_i Sigma^{-1} dSigma_j),
with the Jacobians J_mu, dSigma in theta from JAX. This is what SEM programs
(lavaan's default) use for standard errors; gllamm's default is the observed information.
Clusters with the same rows (X, Z, offsets, residual variances, covariates: a CFA's complete units) have the
same terms: each group of them is evaluated once and counted n_g times.
"""

from __future__ import annotations

import weakref
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import GllammError
from ..integrate import small_linalg
from ..integrate.shared_gaussian import few_groups


def _cluster_layout(design):
    codes = design.cluster_codes
    sizes = np.bincount(codes)
    width = int(sizes.max())
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    within = np.arange(len(codes)) - np.repeat(starts, sizes)
    rows = np.full((len(sizes), width), -1)
    rows[codes[order], within] = order
    return rows


def expected_information(table, design, theta) -> np.ndarray:
    """Fisher information in theta (P x P) for a Gaussian-identity model."""
    from ..objective import latent_structure

    spec = table.spec
    if not spec.family.exact_gaussian:
        raise GllammError("The expected information is available for Gaussian responses with identity link; "
                          "use information='observed'.")
    if not (np.all(design.weights == 1) and (design.cluster_weights is None or np.all(design.cluster_weights == 1))):
        raise GllammError("The expected information assumes unit weights; use information='observed' with weights.")
    function, arguments = information_call(table, design, theta)
    return np.asarray(function(*arguments))


def information_call(table, design, theta) -> tuple:
    """(the stored-program function of ``expected_information``, its arguments at theta), for prefetching."""
    arrays, same_covariance = _arrays_of(design)
    return _information_function(table, same_covariance), (np.asarray(theta, dtype=float), arrays)


_last_design: list = [lambda: None, None]  # (weak reference to the last design, its arrays): one per fit, asked
# for at every Fisher scoring step


def _arrays_of(design) -> tuple[dict, bool]:
    """The cluster-padded arrays of ``design``'s groups of equal clusters and whether all share one Sigma
    (made once per design)."""
    if _last_design[0]() is not design:
        arrays = _grouped(_information_arrays(design))
        _last_design[:] = [weakref.ref(design), (arrays, _same_covariance(arrays))]
    return _last_design[1]


def _grouped(arrays: dict) -> dict:
    """``arrays`` with one cluster per group of clusters whose rows are all equal, and ``count`` (the number of
    clusters in each group); every cluster its own group (count 1) when there are more than a few groups."""
    n_clusters = arrays["mask"].shape[0]
    groups = few_groups([value.reshape(n_clusters, -1).astype(float) for value in arrays.values()], n_clusters)
    if groups is None:  # (``count`` is 1 for every cluster already)
        return arrays
    first, group = groups
    return {**{key: value[first] for key, value in arrays.items()},
            "count": np.bincount(group, minlength=len(first)).astype(float)}


def _same_covariance(arrays: dict) -> bool:
    """True when every cluster has the same rows (mask, Z, residual variance indexes), hence one Sigma."""
    return all(np.array_equal(arrays[key], np.broadcast_to(arrays[key][:1], arrays[key].shape))
               for key in ("mask", "Z", "dispersion_index"))


def _information_arrays(design) -> dict:
    """The design's rows padded to one row of width max-cluster-size per cluster (mask marks real rows); every
    cluster counted once (``_grouped`` merges equal ones)."""
    rows = _cluster_layout(design)
    valid = rows >= 0
    safe = np.where(valid, rows, 0)
    index = design.dispersion_index if design.dispersion_index is not None else np.zeros(len(design.y), dtype=int)
    return dict(
        X=np.where(valid[..., None], design.X[safe], 0.0),
        Z=np.where(valid[..., None], design.Z[safe], 0.0),
        offset=np.where(valid, design.offset[safe], 0.0),
        dispersion_index=np.where(valid, index[safe], 0).astype(np.int32),
        mask=valid.astype(float),
        w=design.cluster_covariates if design.cluster_covariates is not None else np.zeros((rows.shape[0], 1)),
        count=np.ones(rows.shape[0]),
    )


@lru_cache(maxsize=32)
def _information_function(table, same_covariance: bool = False):
    """Jitted (and stored compiled, see runtime/compiled_cache.py) Fisher information as a function of (theta, cluster-padded
    arrays). With ``same_covariance`` (every cluster has the same rows) Sigma and its derivatives are computed once:
    the covariance part is n/2 tr(Sigma^{-1} dSigma_i Sigma^{-1} dSigma_j)."""
    from ..runtime.compiled_cache import CachedFunction
    from ..objective import latent_structure

    spec = table.spec

    def moments(t, data):
        params = table.unpack(t)
        loadings, M, ML = latent_structure(table, params)
        mask = data["mask"]
        zl = jnp.einsum("cmr,kr->cmk", data["Z"], loadings)
        mu = jnp.einsum("cmp,p->cm", data["X"], params.beta) + data["offset"]
        if spec.levels[0].covariate_paths:
            mu = mu + jnp.einsum("cmk,ck->cm", zl, data["w"] @ (M @ params.covariate_effects[0]).T)
        a = jnp.einsum("cmk,kl->cml", zl, ML)
        variance = jnp.exp(2 * params.log_dispersion)[data["dispersion_index"]]
        sigma = jnp.einsum("cml,cnl->cmn", a, a) * mask[:, :, None] * mask[:, None, :]
        sigma = sigma + jnp.eye(mask.shape[1]) * jnp.where(mask > 0, variance, 1.0)[:, :, None]
        return mu * mask, sigma

    def information(t, data):  # data["count"]: how many clusters each (group's) cluster stands for
        mu, sigma = moments(t, data)
        j_mu, j_sigma = jax.jacfwd(moments)(t, data)
        inverse = small_linalg.inverse_spd(sigma)
        mean_part = jnp.einsum("c,cmp,cmn,cnq->pq", data["count"], j_mu, inverse, j_mu)
        product = jnp.einsum("cmn,cnkp->cmkp", inverse, j_sigma)
        return mean_part + 0.5 * jnp.einsum("c,cmkp,ckmq->pq", data["count"], product, product)

    def shared_information(t, data):
        first = {key: value[:1] for key, value in data.items()}  # (every array's first axis is the cluster)
        sigma = moments(t, first)[1][0]
        j_sigma = jax.jacfwd(lambda s: moments(s, first)[1][0])(t)
        j_mu = jax.jacfwd(lambda s: moments(s, data)[0])(t)
        inverse = small_linalg.inverse_spd(sigma)
        mean_part = jnp.einsum("c,cmp,mn,cnq->pq", data["count"], j_mu, inverse, j_mu)
        product = jnp.einsum("mn,nkp->mkp", inverse, j_sigma)
        return mean_part + 0.5 * jnp.sum(data["count"]) * jnp.einsum("mkp,kmq->pq", product, product)

    if same_covariance:
        return CachedFunction("expected_information_shared", jax.jit(shared_information), repr(table))
    return CachedFunction("expected_information", jax.jit(information), repr(table))
