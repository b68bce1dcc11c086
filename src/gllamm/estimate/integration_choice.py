"""Which integration a model gets: exact for Gaussian identity-link responses at one level, otherwise adaptive
quadrature (``nip`` points per latent dimension, fewer by default in more dimensions), Laplace or plain
Gauss-Hermite as asked; and the warning before a fit whose every evaluation is very large."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import ComputationWarning, GllammError, warn_user
from ..integrate import Integration
from ..objective_programs import nodes_per_row


def default_nip(dim: int) -> int:
    """Quadrature points per dimension by default (gllamm's 8, fewer in high dimensions)."""
    return 8 if dim <= 2 else (5 if dim == 3 else 3)


def choose_integration(spec, design, method: str, nip: int | None, reml: bool = False,
                       rule: str | None = None) -> Integration:
    """The integration rule of a model without latent classes: none without latent variables; exact Gaussian
    integration for Gaussian identity-link responses at one level (without latent interactions and with
    method != "ghq"); otherwise ``method`` with ``nip`` points (default ``default_nip``), Laplace with one.
    ``reml``: the same rule on the restricted likelihood (Gaussian identity-link formula models only).
    ``rule``: the quadrature rule ("product", "sparse", "spherical", "qmc"; None: ``default_rule`` of the
    largest number of latent variables at a level), whose accuracy ``nip`` sets (``integrate/rules.py``)."""
    if spec.crossed:
        if rule not in (None, "product"):
            raise GllammError(f"integration={rule!r} sets a quadrature rule, which crossed random effects do not use "
                              "(they are integrated by the Laplace approximation); leave out integration=.")
        return _crossed_integration(spec, method, nip, reml)
    if reml:
        return replace(_reml_integration(spec, method), reml=True)
    method = method or "adaptive"
    dim = max((level.dim for level in spec.levels if not level.discrete), default=0)
    if rule not in (None, "product") and method == "laplace":
        raise GllammError(f"integration={rule!r} is a quadrature rule; method='laplace' uses one node. Leave out one "
                          "of them.")
    rule = "product" if method == "laplace" else (default_rule(dim) if rule is None else rule)
    if dim <= 1 and rule in ("sparse", "spherical"):
        rule = "product"  # (in one dimension they are the Gauss-Hermite rule)
    if nip is None:
        nip = default_nip(spec.n_latent) if rule == "product" else DEFAULT_ACCURACY[rule]
    if not isinstance(nip, (int, np.integer)) or nip < 1:
        raise GllammError(f"nip must be a positive whole number of quadrature points; got {nip!r}.")
    integration = _quadrature_integration(spec, design, method, int(nip))
    if rule == "product" or integration.method not in ("adaptive", "ghq"):
        return integration
    _check_rule(rule, int(nip), dim)
    return replace(integration, rule=rule)


DEFAULT_ACCURACY = {"sparse": 5, "spherical": 3, "qmc": 256}  # nip by default: degrees 9 and 5; 512 nodes


def default_rule(dim: int) -> str:
    """The rule by default for ``dim`` latent variables at a level: the product of Gauss-Hermite rules up to three,
    the spherical-radial rule of degree 5 from four on (gllamm's ip(m)): in four dimensions 48 nodes against the
    81 of the 3-point product rule of the same degree, and measured more accurate (benchmarks/integration_rules.py);
    the quadrature check refits with the rule of degree 9 where it is not accurate enough."""
    return "product" if dim <= 3 else "spherical"


def _check_rule(rule: str, nip: int, dim: int) -> None:
    """A clear error for a rule's accuracy it does not have (spherical rules: nip = 3, 4, 5)."""
    from ..integrate.rules import standard_rule

    standard_rule(rule, nip, max(dim, 2))


def _quadrature_integration(spec, design, method: str, nip: int) -> Integration:
    """Exact, Laplace or quadrature with ``nip`` by the kind of model (see ``choose_integration``)."""
    if not spec.levels:
        return Integration("none", 0)
    if len(spec.levels) > 1:
        if method == "ghq":
            raise GllammError("method='ghq' is not available for models with nested levels; use 'adaptive' "
                              "(default) or 'laplace'.")
        if method == "laplace" and (spec.set_size > 1 or any(level.discrete for level in spec.levels)
                                    or any(key.startswith("unit_weight") for key in design.data())):
            raise GllammError("method='laplace' with nested levels is available for single-row responses without "
                              "latent classes or weights of levels below the top; use method='adaptive'.")
        if spec.family.exact_gaussian and not any(level.products or level.discrete for level in spec.levels) \
                and not any(key.startswith("unit_weight") for key in design.data()):
            return Integration("exact", 1)  # the joint mode of every level (integrate/nested_laplace.py): exact
        return Integration(method, 1 if method == "laplace" else int(nip))
    if spec.family.exact_gaussian and method != "ghq" and not spec.levels[0].products:
        return Integration("exact", 1)
    if method == "laplace":
        return Integration("laplace", 1)
    return Integration(method, int(nip))


def _crossed_integration(spec, method: str | None, nip: int | None, reml: bool) -> Integration:
    """Crossed factors: the joint Laplace approximation (integrate/crossed.py), exact for Gaussian identity-link
    responses; quadrature is refused with the reason."""
    factors = " x ".join(level.name for level in spec.levels)
    if method in ("adaptive", "ghq"):
        raise GllammError(
            f"method='{method}' is not available for crossed random effects ({factors}): the likelihood does not "
            "split into independent clusters, so quadrature would need nip^q nodes over all q random effects at "
            "once. Crossed models are fitted by the Laplace approximation over all effects jointly (as glmer and "
            "glmmTMB do; exact for Gaussian responses): leave out method= or give method='laplace'.")
    if nip not in (None, 1):
        raise GllammError(f"nip= sets quadrature points, which crossed random effects ({factors}) do not use "
                          "(they are integrated by the Laplace approximation); leave out nip=.")
    if any(level.discrete or level.products or level.paths or level.covariate_paths for level in spec.levels):
        raise GllammError(f"Crossed random effects ({factors}) are random intercepts and coefficients; latent "
                          "classes, paths and interactions need nested levels.")
    if reml:
        _reml_integration(spec, "laplace")  # (its checks)
        return Integration("exact", 1, reml=True)
    return Integration("exact" if spec.family.exact_gaussian else "laplace", 1)


def _reml_integration(spec, method: str) -> Integration:
    """The exact rule of a Gaussian identity-link model (Laplace at nested levels, exact there too), or an error
    saying why REML does not apply."""
    family = spec.family
    if not family.exact_gaussian:
        raise GllammError(f"reml=True is for Gaussian responses with the identity link (linear mixed models); this "
                          f"model's response is {family.name} with the {family.link.name} link. Leave out reml= "
                          "(maximum likelihood).")
    if spec.formula is None or isinstance(spec.formula, str):
        raise GllammError("reml=True is for mixed-model formulas (y ~ x + (1 | g)); latent variable syntax is fitted "
                          "by maximum likelihood.")
    if spec.scale_names or any(level.discrete or level.products for level in spec.levels):
        raise GllammError("reml=True is for linear mixed models without a modelled level-1 scale, latent classes or "
                          "latent interactions; leave out reml= (maximum likelihood).")
    if method == "ghq":
        raise GllammError("reml=True integrates exactly; leave out method='ghq'.")
    if not spec.levels:
        return Integration("none", 0)
    return Integration("exact", 1)  # (nested levels: the joint mode, exact for these models)


_NODES_PER_UNIT = 20_000  # quadrature nodes per unit beyond which a fit is announced as costly
_NODE_VALUES = 2e9  # rows x nodes per evaluation beyond which likewise


def announce_cost(spec, integration, design, table) -> None:
    """ComputationWarning before a fit whose every log-likelihood evaluation is very large: more than
    _NODES_PER_UNIT quadrature nodes per unit (e.g. nip=40 in three dimensions: 64,000), or more than
    _NODE_VALUES row x node values."""
    nodes = nodes_per_row(table, integration)
    rows = int(np.asarray(design.y).size)
    if nodes > _NODES_PER_UNIT or float(rows) * nodes > _NODE_VALUES:
        q = spec.n_latent
        warn_user(f"Every evaluation of the log-likelihood integrates over {nodes:,} quadrature nodes for each of "
                  f"{rows:,} rows ({integration.nip} points in each of {q} dimensions): {float(rows) * nodes:.2g} "
                  f"values per evaluation, and a fit makes dozens. Adaptive quadrature rarely needs more than 5-8 "
                  f"points per dimension here (nip={default_nip(q)} by default; the fit checks its accuracy).",
                  ComputationWarning)
