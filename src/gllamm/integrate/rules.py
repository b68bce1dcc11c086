"""Integration rules for  int h(x) exp(-|x|^2) dx  over R^q beyond the product of one-dimensional rules.

Every rule is a set of nodes x_k with weights w_k, sum_k w_k h(x_k); it is applied centred and scaled at each
cluster's posterior mode and curvature (adaptive quadrature) like the product rule. A rule is returned as
``Rule(nodes (K, q), log |w| (K,), sign (K,) or None)``: sparse grids have negative weights, summed in log space
as logsumexp(log|w_k| + a_k, b=sign_k).

* ``product`` (gllamm's default): all combinations of the ``nip``-point Gauss-Hermite rule, nip^q nodes, exact for
  polynomials of degree 2 nip - 1 in each coordinate.
* ``sparse``: Smolyak's combination of Gauss-Hermite rules of 1..nip points (Heiss & Winschel 2008),
      A(k, q) = sum_{k-q <= j <= k-1} (-1)^(k-1-j) C(q-1, k-1-j) sum_{|i| = q+j} U^(i_1) x ... x U^(i_q),
  exact for polynomials of total degree 2k - 1 (k = nip) with O(q^(k-1)) nodes instead of k^q.
* ``spherical`` (gllamm's ``ip(m)``): spherical-radial rules of degree 5, 7, 9 or 11 (nip = 3, 4, 5, 6: the degree of
  the nip-point product rule). With x = sqrt(t) s, s on the unit sphere,
      int h(x) exp(-|x|^2) dx = pi^(q/2) / Gamma(q/2) int_0^inf t^(q/2-1) e^(-t) E_s[h(sqrt(t) s)] dt;
  the t-integral by a generalised Gauss-Laguerre rule, E_s by a fully symmetric rule on the sphere whose orbit
  weights solve the moment equations with non-negative weights (so all weights are positive).
* ``qmc``: randomised quasi-Monte Carlo: ``nip`` scrambled Sobol points (scipy.stats.qmc, a fixed seed so the
  objective is smooth) mapped to N(0, I), taken with their mirror images and whitened to sample mean 0 and
  covariance I, so that the rule is exact for polynomials of degree 3; every weight is pi^(q/2)/K.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations, permutations, product
from math import comb, gamma, lgamma, log, pi
from typing import NamedTuple

import numpy as np

from ..errors import GllammError
from .gauss_hermite import product_rule

RULES = ("product", "sparse", "spherical", "qmc")
SPHERICAL_DEGREES = {3: 5, 4: 7, 5: 9, 6: 11}  # nip -> degree of the spherical-radial rule


class Rule(NamedTuple):
    """Nodes (K, q), log |weights| (K,) and signs of the weights (K,), None when every weight is positive."""

    nodes: np.ndarray
    log_weights: np.ndarray
    sign: np.ndarray | None = None

    @property
    def size(self) -> int:
        """The number of nodes K."""
        return int(self.nodes.shape[0])

    def weights(self) -> np.ndarray:
        """The weights w_k themselves."""
        w = np.exp(self.log_weights)
        return w if self.sign is None else w * self.sign


def standard_rule(kind: str, nip: int, q: int) -> Rule:
    """The rule ``kind`` (one of RULES) of accuracy ``nip`` in q dimensions for the weight exp(-|x|^2). In one
    dimension every kind but "qmc" is the nip-point Gauss-Hermite rule."""
    if kind not in RULES:
        raise GllammError(f"integration={kind!r} is not a rule; choose one of {', '.join(map(repr, RULES))}.")
    if kind == "product" or (q == 1 and kind in ("sparse", "spherical")):
        return Rule(*product_rule(nip, q))
    if kind == "sparse":
        return _sparse_rule(int(nip), int(q))
    if kind == "spherical":
        if nip not in SPHERICAL_DEGREES:
            raise GllammError(f"integration='spherical' has rules of degree 5, 7, 9 and 11, asked for as nip=3, 4, 5 "
                              f"or 6 (the degree of the nip-point product rule, as gllamm's ip(m) with nip(5|7|9|11)); "
                              f"got nip={nip}.")
        return _spherical_rule(SPHERICAL_DEGREES[nip], int(q))
    return _qmc_rule(int(nip), int(q))


@lru_cache(maxsize=64)
def _sparse_rule(k: int, q: int) -> Rule:
    """Smolyak's sparse grid of level k from Gauss-Hermite rules of 1..k points, equal nodes merged."""
    one_d = [None] + [np.polynomial.hermite.hermgauss(i) for i in range(1, k + 1)]
    weights: dict[tuple, float] = {}
    for j in range(max(0, k - q), k):
        coefficient = (-1) ** (k - 1 - j) * comb(q - 1, k - 1 - j)
        for sizes in _compositions(q + j, q):
            for point in product(*(range(i) for i in sizes)):
                x = tuple(round(float(one_d[i][0][p]), 13) + 0.0 for i, p in zip(sizes, point))
                w = coefficient * float(np.prod([one_d[i][1][p] for i, p in zip(sizes, point)]))
                weights[x] = weights.get(x, 0.0) + w
    scale = pi ** (q / 2)
    kept = [(x, w) for x, w in weights.items() if abs(w) > 1e-14 * scale]
    nodes = np.array([x for x, _ in kept], dtype=float).reshape(-1, q)
    w = np.array([w for _, w in kept])
    return Rule(nodes, np.log(np.abs(w)), np.sign(w) if np.any(w < 0) else None)


def _compositions(total: int, parts: int):
    """Tuples of ``parts`` positive integers summing to ``total``."""
    for cuts in combinations(range(1, total), parts - 1):
        bounds = (0,) + cuts + (total,)
        yield tuple(b - a for a, b in zip(bounds[:-1], bounds[1:]))


@lru_cache(maxsize=32)
def _spherical_rule(degree: int, q: int) -> Rule:
    """Spherical-radial rule of odd ``degree``: generalised Gauss-Laguerre in t = |x|^2 times a positive fully
    symmetric rule on the unit sphere."""
    if q > 8:
        raise GllammError(f"integration='spherical' has rules for up to 8 latent variables at a level; this level has "
                          f"{q}. Use integration='sparse' or 'qmc'.")
    sphere_points, sphere_weights = _sphere_rule(degree, q)
    n_radial = (degree + 1) // 2 - 1  # radial points: 2, 3, 4, 5 for degrees 5, 7, 9, 11 (exact in t to degree 3-9)
    from scipy.special import roots_genlaguerre

    t, w_t = roots_genlaguerre(n_radial, q / 2 - 1)
    nodes = (np.sqrt(t)[:, None, None] * sphere_points[None]).reshape(-1, q)
    w = (w_t[:, None] * sphere_weights[None]).reshape(-1) * pi ** (q / 2) / gamma(q / 2)
    return Rule(nodes, np.log(w))


def _sphere_rule(degree: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    """Points on S^(q-1) and positive weights (summing to 1) integrating every polynomial of degree <= ``degree``
    exactly against the uniform distribution: orbits of fully symmetric generators, weights solve the even symmetric
    moment equations, the set of orbits with the fewest points that has a non-negative solution (odd moments vanish by symmetry)."""
    from scipy.optimize import nnls

    orbits = [_orbit(g, q) for g in _generators(q, degree)]
    patterns = [p for j in range(degree // 2 + 1) for p in _partitions(j, q)]
    A = np.array([[np.mean(np.prod(orbit[:, : len(p)] ** (2 * np.array(p)), axis=1)) for orbit in orbits]
                  for p in patterns])
    b = np.array([_sphere_moment(p, q) for p in patterns])
    subsets = sorted((s for r in range(1, len(orbits) + 1) for s in combinations(range(len(orbits)), r)),
                     key=lambda s: sum(len(orbits[i]) for i in s))
    for subset in subsets:  # the fewest points first
        weights, residual = nnls(A[:, subset], b)
        if residual < 1e-12:
            share = np.zeros(len(orbits))
            share[list(subset)] = weights
            break
    else:
        raise GllammError(f"no positive spherical rule of degree {degree} in {q} dimensions; use integration='sparse'.")
    keep = share > 1e-13
    points = np.concatenate([orbits[i] for i in np.flatnonzero(keep)])
    weights = np.concatenate([np.full(len(orbits[i]), share[i] / len(orbits[i])) for i in np.flatnonzero(keep)])
    return points, weights


def _generators(q: int, degree: int) -> list[tuple]:
    """Fully symmetric generators: (1, ..., 1, 0, ...)/sqrt(m) and a few with two distinct values; for degree 11
    more of them, with up to three distinct values (without them no positive rule exists in five dimensions)."""
    shapes = [(1.0,) * m for m in range(1, q + 1)]
    shapes += [s for s in ((2.0, 1.0), (1.0, 2.0, 2.0), (2.0, 1.0, 1.0), (3.0, 1.0), (1.0, 1.0, 3.0)) if len(s) <= q]
    if degree > 9:
        shapes += [s for s in ((3.0, 2.0, 1.0), (2.0, 2.0, 1.0, 1.0), (2.0, 1.0, 1.0, 1.0), (3.0, 1.0, 1.0),
                               (1.0, 1.0, 1.0, 1.0, 2.0), (2.0, 2.0, 2.0, 1.0), (3.0, 3.0, 1.0)) if len(s) <= q]
    return [tuple(np.array(s) / np.linalg.norm(s)) for s in shapes]


def _orbit(generator: tuple, q: int) -> np.ndarray:
    """Every point obtained from ``generator`` (padded with zeros) by permuting coordinates and changing signs."""
    base = tuple(generator) + (0.0,) * (q - len(generator))
    points = set()
    for perm in set(permutations(base)):
        nonzero = [i for i, v in enumerate(perm) if v != 0.0]
        for signs in product((1.0, -1.0), repeat=len(nonzero)):
            p = list(perm)
            for i, s in zip(nonzero, signs):
                p[i] = s * p[i]
            points.add(tuple(p))
    return np.array(sorted(points))


def _partitions(j: int, q: int, largest: int | None = None):
    """Partitions of j into at most q positive parts, largest first (exponent patterns 2*part)."""
    largest = j if largest is None else largest
    if j == 0:
        yield ()
        return
    if q == 0:
        return
    for first in range(min(j, largest), 0, -1):
        for rest in _partitions(j - first, q - 1, first):
            yield (first,) + rest


def _sphere_moment(pattern: tuple, q: int) -> float:
    """E[prod s_i^(2 p_i)] for s uniform on S^(q-1): prod Gamma(p_i + 1/2)/Gamma(1/2) * Gamma(q/2)/Gamma(q/2 + sum p)."""
    value = sum(lgamma(p + 0.5) - lgamma(0.5) for p in pattern) + lgamma(q / 2) - lgamma(q / 2 + sum(pattern))
    return float(np.exp(value))


@lru_cache(maxsize=32)
def _qmc_rule(points: int, q: int, seed: int = 0) -> Rule:
    """``points`` (rounded up to a power of two, at least 2) scrambled Sobol points and their mirror images,
    whitened: 2 * points nodes of equal weight pi^(q/2) / K."""
    from scipy.stats import norm, qmc

    m = int(np.log2(_qmc_rule_size(points) // 2))
    u = qmc.Sobol(d=q, scramble=True, seed=seed).random_base2(m)
    z = norm.ppf(u)
    z = np.concatenate([z, -z])
    root = np.linalg.cholesky(z.T @ z / len(z))
    z = np.linalg.solve(root, z.T).T
    nodes = z / np.sqrt(2.0)
    return Rule(nodes, np.full(len(z), 0.5 * q * log(pi) - log(len(z))))


def rule_of(integration, q: int) -> Rule:
    """The rule of an ``Integration`` (its ``rule`` kind and ``nip``) in q dimensions."""
    return standard_rule(getattr(integration, "rule", "product"), integration.nip, q)


def weighted_logsumexp(terms, sign, axis: int = -1, keepdims: bool = False):
    """log sum_k sign_k exp(terms_k) along ``axis`` (terms include log |w_k|); sign None: all weights positive."""
    from jax.scipy.special import logsumexp

    if sign is None:
        return logsumexp(terms, axis=axis, keepdims=keepdims)
    return logsumexp(terms, axis=axis, b=sign, keepdims=keepdims)


def normalised_weights(terms, sign):
    """sign_k exp(terms_k) / sum_j sign_j exp(terms_j) along the last axis: posterior weights of the nodes."""
    import jax.numpy as jnp

    weights = jnp.exp(terms - weighted_logsumexp(terms, sign, keepdims=True))
    return weights if sign is None else weights * sign


def describe_rule(kind: str, nip: int, short: bool = False) -> str:
    """The rule in words: for summaries ("sparse-grid quadrature (Smolyak ..., exact to degree 7)") or, ``short``,
    in a sentence ("a sparse grid of degree 7", "8 quadrature points per dimension")."""
    if kind == "sparse":
        return f"a sparse grid of degree {2 * nip - 1}" if short else \
            f"sparse-grid quadrature (Smolyak from Gauss-Hermite rules, exact to degree {2 * nip - 1})"
    if kind == "spherical":
        degree = SPHERICAL_DEGREES.get(nip, 2 * nip - 1)
        return f"a spherical rule of degree {degree}" if short else f"spherical-radial quadrature of degree {degree}"
    if kind == "qmc":
        nodes = f"{_qmc_rule_size(nip)} scrambled Sobol nodes"
        return nodes if short else f"randomised quasi-Monte Carlo integration ({nodes})"
    return f"{nip} quadrature points per dimension" if short else f"Gauss-Hermite quadrature, {nip} points per dimension"


def _qmc_rule_size(points: int) -> int:
    """The number of nodes of the qmc rule asked for with ``points``: 2 * (points rounded up to a power of two)."""
    return 2 * 2 ** max(1, int(np.ceil(np.log2(max(points, 2)))))
