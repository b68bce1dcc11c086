"""Log of the integral over one level's latent variables, per cluster.

For cluster c with standardised latent vector u ~ N(0, I_q),

    log L_c = log int exp(g_c(u)) du - (q/2) log(2 pi),
    g_c(u)  = sum_i w_i log f(y_i | eta0_i + a_i' u) - |u|^2 / 2,

where a_i = L' z_i (L the Cholesky factor of Psi). Strategies:

* adaptive Gauss-Hermite: with mode u_c and curvature -H_c = R R' of g_c,
  u = u_c + sqrt(2) R^{-T} x_k, and
  log L_c = (q/2) log 2 - sum log diag R + logsumexp_k(log w_k + |x_k|^2 + g_c(u_k)) - (q/2) log(2 pi);
* Laplace: one node, log L_c = g_c(u_c) - sum log diag R (lme4's nAGQ = 1;
  exact for Gaussian responses with identity link, where g_c is quadratic);
* plain Gauss-Hermite: u_c = 0, R = I.

The modes are found by damped Newton iterations in their own (undifferentiated)
function; the likelihood takes them as input and applies two more Newton
steps that *are* differentiated. At a fixed point that gives the exact first and
second derivatives of the mode (implicit function theorem), hence exact
derivatives of the approximation that is evaluated.

Rows are stored as chunks (see design/chunks.py): sums over a cluster's rows
are chunk sums followed by a segment sum over the cluster's chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import small_linalg
from .rules import normalised_weights, rule_of, weighted_logsumexp
from .shared_gaussian import marginal_posterior

_STEP_SIZES = np.array([1.0, 0.5, 0.25, 0.1, 0.02])


@dataclass(frozen=True)
class Integration:
    """How latent variables are integrated out: method and points per dimension."""

    method: str  # "adaptive" | "laplace" | "ghq" | "exact" | "discrete" (nip = classes) | "none" (no latent variables)
    nip: int
    classes: int = 0  # continuous latent variables inside latent classes: the number of classes summed over
    reml: bool = False  # Gaussian identity-link models: the restricted likelihood (see objective.reml_correction)
    rule: str = "product"  # quadrature: "product" | "sparse" | "spherical" | "qmc" (integrate/rules.py)

    @property
    def within_classes(self) -> bool:
        """True when continuous latent variables are integrated within each of several latent classes."""
        return self.classes > 0

    @property
    def inner(self) -> "Integration":
        """The rule for the continuous latent variables (without the sum over classes)."""
        return Integration(self.method, self.nip, reml=self.reml, rule=self.rule)

    @property
    def needs_modes(self) -> bool:
        """True when the likelihood needs the modes found beforehand (adaptive quadrature and Laplace): plain
        Gauss-Hermite does not use them, and for "exact" one Newton step from anywhere reaches the mode."""
        return self.method in ("adaptive", "laplace")

    @property
    def joint_mode(self) -> bool:
        """True when one mode per cluster (the joint mode of all its levels when nested) integrates: Laplace, or
        "exact" (Gaussian identity-link responses, whose integrand is Gaussian: Laplace is then exact)."""
        return self.method in ("laplace", "exact")

    @property
    def label(self) -> str:
        """Description for summaries."""
        if self.classes:
            return f"{self.inner.label} for the continuous latent variables; exact sum over {self.classes} latent classes"
        if self.reml:
            return Integration(self.method, self.nip).label + "; restricted maximum likelihood (REML)"
        if self.method in ("adaptive", "ghq") and self.rule != "product":
            from .rules import describe_rule

            adaptive = "adaptive " if self.method == "adaptive" else ""
            return f"{adaptive}{describe_rule(self.rule, self.nip)}" + ("" if adaptive else " (not adaptive)")
        return {
            "adaptive": f"adaptive Gauss-Hermite quadrature, {self.nip} points per dimension",
            "ghq": f"Gauss-Hermite quadrature (not adaptive), {self.nip} points per dimension",
            "laplace": "Laplace approximation",
            "exact": "exact (Gaussian responses, identity link)",
            "discrete": f"exact sum over {self.nip} latent classes (finite mixture)",
            "none": "none (no latent variables)",
        }[self.method]


@dataclass(frozen=True)
class ClusterModel:
    """g_c(u) and its derivatives for all clusters (pure functions of arrays).

    row_kernel(eta) gives log f(y | eta) elementwise for eta of shape
    (chunks, width) or (chunks, nodes, width); row_derivatives(eta) its first
    and second derivatives in eta for eta of shape (chunks, width).
    """

    row_kernel: callable
    row_derivatives: callable
    eta0: jnp.ndarray  # (chunks, width)
    weight: jnp.ndarray  # (chunks, width)
    loadings: jnp.ndarray  # (q, chunks, width)
    chunk_cluster: jnp.ndarray  # (chunks,)
    n_clusters: int
    prior: float = 1.0  # precision of the N(0, I) prior on u; 0 gives the conditional likelihood (ML estimates)
    set_size: int = 1  # choice sets of K slots: row_derivatives' second derivatives are (chunks, W/K, K, K)
    quadratic: jnp.ndarray | None = None  # latent interactions: eta += u' C_i u with C (q, q, chunks, width), symmetric
    exact_rows: jnp.ndarray | None = None  # (chunks, width) bool: Gaussian rows with residual variance 0, whose
    # kernel is evaluated at variance 1 and that only the marginal forms take (design/exact_indicators.py)
    cluster_constant: jnp.ndarray | None = None  # (clusters,) added to g_c: log N(r_E; 0, S) of rows conditioned on
    standard_shift: jnp.ndarray | None = None  # (clusters, q) m and (clusters, q, q) P of u = m + P v, where the
    standard_map: jnp.ndarray | None = None  # integrand is in v (integrate/exact_conditioning.py); None: u = v

    @property
    def q(self) -> int:
        """Latent dimension."""
        return self.loadings.shape[0]

    def per_cluster(self, per_chunk):
        """Sum chunk-level values (chunks, ...) into clusters (clusters, ...)."""
        return jax.ops.segment_sum(per_chunk, self.chunk_cluster, num_segments=self.n_clusters,
                                   indices_are_sorted=True)

    def eta(self, u):
        """Linear predictor of every row at cluster values u (clusters, q)."""
        uc = u[self.chunk_cluster]
        eta = self.eta0 + jnp.einsum("kcm,ck->cm", self.loadings, uc)
        if self.quadratic is not None:
            eta = eta + jnp.einsum("klcm,ck,cl->cm", self.quadratic, uc, uc)
        return eta

    def value(self, u):
        """g_c(u); u: (clusters, q) -> (clusters,)."""
        rows = jnp.sum(self.weight * self.row_kernel(self.eta(u)), axis=-1)
        return self._with_constant(self.per_cluster(rows)) - 0.5 * self.prior * jnp.sum(u * u, axis=-1)

    def _with_constant(self, values):
        """values (clusters, ...) plus the clusters' constant term (rows conditioned on), if any."""
        if self.cluster_constant is None:
            return values
        return values + self.cluster_constant.reshape(self.cluster_constant.shape + (1,) * (values.ndim - 1))

    def standard(self, v):
        """The standardised latent values u = m_c + P_c v of integration coordinates v (clusters, ..., q)."""
        if self.standard_map is None:
            return v
        extra = (None,) * (v.ndim - 2)
        return self.standard_shift[(slice(None),) + extra] + jnp.einsum("ckl,c...l->c...k", self.standard_map, v)

    def standard_moments(self, mean, cov):
        """Mean and covariance of u = m + P v from those of v (clusters, q), (clusters, q, q)."""
        if self.standard_map is None:
            return mean, cov
        P = self.standard_map
        return self.standard(mean), jnp.einsum("ckl,clm,cnm->ckn", P, cov, P)

    def log_density_at_nodes(self, u):
        """sum_i w_i log f(y_i | eta0_i + a_i'u) at many points per cluster; u: (clusters, nodes, q) -> (clusters, nodes)."""
        uc = u[self.chunk_cluster]
        eta = self.eta0[:, None, :] + jnp.einsum("kcm,cnk->cnm", self.loadings, uc)
        if self.quadratic is not None:
            eta = eta + jnp.einsum("klcm,cnk,cnl->cnm", self.quadratic, uc, uc)
        rows = jnp.sum(self.weight[:, None, :] * self.row_kernel(eta), axis=-1)
        return self._with_constant(self.per_cluster(rows))

    def value_at_nodes(self, u):
        """g_c at many points per cluster; u: (clusters, nodes, q) -> (clusters, nodes)."""
        return self.log_density_at_nodes(u) - 0.5 * jnp.sum(u * u, axis=-1)

    def gradient_hessian(self, u, clamp: bool):
        """Gradient (clusters, q) and Hessian (clusters, q, q) of g_c at u.

        With clamp=True, rows with positive curvature d2 log f / d eta2 are
        given zero curvature, so the Hessian is always negative definite.
        """
        d1, d2 = self.row_derivatives(self.eta(u))
        a = self.loadings
        if self.quadratic is not None:  # d eta / du = a + 2 C u
            a = a + 2.0 * jnp.einsum("klcm,cl->kcm", self.quadratic, u[self.chunk_cluster])
        d1 = self.weight * d1
        if self.set_size > 1:  # within-set Hessian blocks (negative semi-definite already)
            K = self.set_size
            set_weight = self.weight.reshape(self.weight.shape[:-1] + (-1, K))[..., 0]
            a_sets = a.reshape(a.shape[:-1] + (-1, K))  # (q, chunks, S, K)
            outer = jnp.einsum("pcsk,cskl,qcsl->pqc", a_sets, set_weight[..., None, None] * d2, a_sets)
        else:
            d2 = self.weight * d2
            if clamp:
                d2 = jnp.minimum(d2, 0.0)
            outer = jnp.sum(a[:, None] * a[None] * d2, axis=-1)  # (q, q, chunks)
        grad = self.per_cluster(jnp.sum(a * d1, axis=-1).T) - self.prior * u
        hess = self.per_cluster(jnp.moveaxis(outer, -1, 0)) - max(self.prior, 1e-8) * jnp.eye(self.q)
        if self.quadratic is not None and not clamp:  # + sum_i d1_i d2 eta_i / du du' = 2 d1_i C_i
            hess = hess + self.per_cluster(2.0 * jnp.einsum("klcm,cm->ckl", self.quadratic, d1))
        return grad, hess

    def newton_step(self, u, clamp: bool):
        """Newton step -H^{-1} g for the mode of g_c."""
        grad, hess = self.gradient_hessian(u, clamp)
        return small_linalg.solve_spd(-hess, grad)


def find_modes(model: ClusterModel, start, max_iter: int = 100, tol: float = 1e-10):
    """Damped Newton for the modes of g_c from ``start`` (clusters, q); not for differentiation."""
    steps = jnp.asarray(_STEP_SIZES)

    def body(state):
        u, it, _ = state
        delta = model.newton_step(u, clamp=True)
        trial = u[None] + steps[:, None, None] * delta[None]
        values = jax.vmap(model.value)(trial)  # (steps, clusters)
        current = model.value(u)
        best = jnp.argmax(values, axis=0)
        improved = jnp.max(values, axis=0) > current
        chosen = jnp.where(improved, steps[best], 0.0)
        u_new = u + chosen[:, None] * delta
        change = jnp.max(jnp.abs(u_new - u))
        return u_new, it + 1, change

    def cond(state):
        _, it, change = state
        return (it < max_iter) & (change > tol)

    u, _, _ = jax.lax.while_loop(cond, body, (start, 0, jnp.asarray(jnp.inf)))
    return u


def log_cluster_integrals(model: ClusterModel, integration: Integration, modes, newton_steps: int = 2, rule=None):
    """log int exp(g_c(u)) phi(u) du per cluster (clusters,), by the chosen strategy.

    ``modes`` are the modes of g_c at the current parameters (ignored by "ghq").
    ``newton_steps`` differentiated Newton steps from the (stopped) modes give
    exact derivatives of the mode up to that order (1 for gradients, 2 for Hessians).
    ``rule``: (nodes, log weights) as arrays (a padded rule, ``padded_rules``), else the integration's rule
    (``rules.rule_of``: nip points per dimension for the product rule).
    """
    q = model.q
    log_2pi = jnp.log(2 * jnp.pi)
    nodes, log_w, sign = (*rule, None) if rule is not None else rule_of(integration, q)
    if integration.method == "ghq":
        u = jnp.sqrt(2.0) * jnp.broadcast_to(jnp.asarray(nodes), (model.n_clusters,) + nodes.shape)
        values = model.value_at_nodes(u)
        return 0.5 * q * (jnp.log(2.0) - log_2pi) + weighted_logsumexp(log_w + jnp.sum(nodes**2, axis=1) + values,
                                                                       sign)

    mode = jax.lax.stop_gradient(modes)
    for _ in range(newton_steps):  # differentiated steps: exact implicit derivatives of the mode
        mode = mode + model.newton_step(mode, clamp=False)
    _, hess = model.gradient_hessian(mode, clamp=False)
    root = small_linalg.cholesky(-hess)
    log_det_scale = -jnp.sum(jnp.log(jnp.diagonal(root, axis1=-2, axis2=-1)), axis=-1)
    if integration.method in ("laplace", "exact"):
        return log_det_scale + model.value(mode)
    x = jnp.broadcast_to(jnp.asarray(nodes), (model.n_clusters,) + nodes.shape)  # (clusters, nodes, q)
    u = mode[:, None, :] + jnp.sqrt(2.0) * small_linalg.solve_upper_transposed(root[:, None], x)  # R^{-T} x
    values = model.value_at_nodes(u)
    return (
        0.5 * q * (jnp.log(2.0) - log_2pi)
        + log_det_scale
        + weighted_logsumexp(log_w + jnp.sum(nodes**2, axis=1) + values, sign)
    )


def posterior_nodes(model: ClusterModel, integration: Integration, modes):
    """Quadrature nodes u_k (clusters, nodes, q) and normalised posterior weights (clusters, nodes).

    The posterior of u given a cluster's responses is proportional to exp(g_c(u));
    with the fit's (adaptive) rule its moments are sums over the nodes with
    weights w_k exp(|x_k|^2 + g_c(u_k)) / sum. For the Laplace method, which has
    a single node, an adaptive rule with 8 points per dimension is used instead. The nodes are in the model's
    integration coordinates: u itself, or v of u = m + P v given rows without error (``model.standard``).
    """
    q = model.q
    nodes, log_w, sign = rule_of(Integration("adaptive", 8) if integration.method == "laplace" else integration, q)
    x = jnp.broadcast_to(jnp.asarray(nodes), (model.n_clusters,) + nodes.shape)
    if integration.method == "ghq":
        u = jnp.sqrt(2.0) * x
    else:
        root = small_linalg.cholesky(-model.gradient_hessian(modes, clamp=False)[1])
        u = modes[:, None, :] + jnp.sqrt(2.0) * small_linalg.solve_upper_transposed(root[:, None], x)
    weights = normalised_weights(log_w + np.sum(nodes**2, axis=1) + model.value_at_nodes(u), sign)
    return u, weights


def posterior_moments(model: ClusterModel, integration: Integration, modes):
    """Posterior means (clusters, q) and covariances (clusters, q, q) of the standardised latent u.

    For Gaussian responses with identity link ("exact") the posterior is normal
    with mean at the mode and covariance (-H)^{-1}; otherwise by quadrature.
    """
    if integration.method == "exact":
        if model.exact_rows is not None:  # rows without error: the curvature is infinite along them
            return marginal_posterior(model)
        _, hess = model.gradient_hessian(modes, clamp=False)
        return modes, small_linalg.inverse_spd(-hess)
    u, weights = posterior_nodes(model, integration, modes)
    mean = jnp.einsum("cn,cnk->ck", weights, u)
    centred = u - mean[:, None, :]
    cov = jnp.einsum("cn,cnk,cnl->ckl", weights, centred, centred)
    return model.standard_moments(mean, cov)


def posterior_mode_curvature(model: ClusterModel, modes):
    """Posterior modes (clusters, q) and inverse negative curvature (-H)^{-1} at the mode."""
    if model.exact_rows is not None:  # (Gaussian: the mode is the mean, the curvature's inverse the covariance)
        return marginal_posterior(model)
    _, hess = model.gradient_hessian(modes, clamp=False)
    return model.standard_moments(modes, small_linalg.inverse_spd(-hess))
