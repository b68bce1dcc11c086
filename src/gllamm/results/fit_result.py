"""FitResult: the frozen outcome of a fit, with tables and derived quantities.

Reported parameters are the fixed effects, the variances and covariances of
the latent variables and the residual variance (Gaussian) or dispersion
(gamma). Their covariance matrix comes from the observed information in the
internal parameterisation theta by the delta method:

    vcov(r) = J (-H)^{-1} J',   J = d r / d theta,  H = d^2 log L / d theta^2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statistics import NormalDist

from ..design import Design
from ..errors import check_level
from ..integrate import Integration
from ..spec import ModelSpec, ParameterTable
from .class_methods import LatentClassMethods
from .conventions import ConventionalNames
from .post_estimation_methods import PostEstimationMethods
from .sem_tables import StructuralEquationTables


@dataclass(frozen=True)
class FitResult(PostEstimationMethods, ConventionalNames, StructuralEquationTables, LatentClassMethods):
    """Estimates, standard errors and diagnostics of a fitted GLLAMM (read-only).

    Fields: ``params`` (reported estimates, a Series) and ``vcov`` (their covariance, J (-H)^-1 J'); ``loglik``
    (log L at the estimates); ``converged``, ``iterations``, ``message`` (why the iterations stopped) and
    ``gradient`` (d log L / d theta at the end); ``theta`` and ``theta_vcov`` (the internal parameters and their
    covariance (-H)^-1); ``spec``, ``table_spec``, ``design``, ``integration`` (the model's structure, parameter
    layout, arrays and integration rule); ``fit_log`` (the iteration log) and ``seconds``; ``options`` (the fit's
    options and counts); ``quadrature_check`` (log L at the estimates by a finer rule, or Laplace against adaptive
    quadrature; None for exact integration); ``boundary`` (estimates on the boundary of the parameter space);
    ``definitions`` (defined parameters of the model syntax); ``model`` (the ``gllamm.Model`` fitted, which refits
    and the bootstrap use); ``estimation`` and ``scale_options`` (the ``EstimationOptions`` and ``ScaleOptions`` it
    was fitted with).
    """

    spec: ModelSpec
    table_spec: ParameterTable
    design: Design
    integration: Integration
    theta: np.ndarray
    theta_vcov: np.ndarray
    params: pd.Series
    vcov: pd.DataFrame
    loglik: float
    converged: bool
    iterations: int
    message: str
    gradient: np.ndarray
    fit_log: list = field(default_factory=list)
    seconds: float = 0.0
    options: dict = field(default_factory=dict)  # the fit's options (family, link, method, nip, ...)
    quadrature_check: object = None  # QuadratureCheck (LaplaceCheck): log L at the estimates with more points
    boundary: tuple = ()  # names of estimates on the boundary (variance 0, correlation +-1, probability 0)
    definitions: tuple = ()  # defined parameters (name, expression, ((label, reported name), ...)) of the syntax
    model: object = None  # the gllamm.Model fitted: refits and the bootstrap fit its text again through it
    estimation: object = None  # the EstimationOptions and ScaleOptions it was fitted with (gllamm.options)
    scale_options: object = None

    @property
    def singular(self) -> bool:
        """True for a boundary (singular) fit, lme4's isSingular(): some estimates lie on the boundary of the
        parameter space (``boundary`` names them; see gllamm.results.boundary)."""
        return bool(self.boundary)

    # ---- basic quantities --------------------------------------------------------
    @property
    def se(self) -> pd.Series:
        """Standard errors of the reported parameters."""
        return pd.Series(np.sqrt(np.clip(np.diag(self.vcov.to_numpy()), 0, None)), index=self.params.index)

    @property
    def fixed_effects(self) -> pd.Series:
        """The fixed-effect estimates beta."""
        return self.params[list(self.spec.fixed_names)]

    @property
    def n_params(self) -> int:
        """Number of free parameters (fixed and equated parameters not counted twice)."""
        return int(self.options.get("n_free", len(self.theta)))

    @property
    def nobs(self) -> int:
        """Number of level-1 rows (responses) used."""
        if self.options.get("frequency_weighted"):  # collapsed data: the rows they stand for
            arrays = self.design.data()  # rows' weights times their clusters' (syntax: the units' weights)
            per_row = np.asarray(arrays["weight"]) * np.asarray(arrays["cluster_weight"])[np.asarray(
                arrays["chunk_cluster"])][:, None]
            return int(round(float(np.sum(per_row)) / self.design.set_size))
        return int(self.options.get("nobs", self.design.n_obs))  # (all processes' rows in a distributed fit)

    @property
    def n_groups(self) -> dict:
        """Number of units per level, e.g. {'school': 65}."""
        if "groups" in self.options:  # a distributed fit: units of all processes
            return dict(self.options["groups"])
        if self.design.level_units:
            return dict(self.design.level_units)
        return {level.name: self.design.n_clusters for level in self.spec.levels}

    @property
    def aic(self) -> float:
        """Akaike information criterion, -2 log L + 2 k (k free parameters)."""
        return -2 * self.loglik + 2 * self.n_params

    @property
    def bic(self) -> float:
        """Bayesian information criterion, -2 log L + k log(n) (n level-1 rows)."""
        return -2 * self.loglik + np.log(self.nobs) * self.n_params

    @property
    def family(self):
        """The response family (with its link)."""
        return self.spec.family

    # ---- tables ------------------------------------------------------------------------
    def table(self, level: float = 0.95, vcov: str | pd.DataFrame = "model", exponentiate: bool = False) -> pd.DataFrame:
        """Estimates with SEs, Wald z, two-sided p and confidence intervals (all reported parameters).

        vcov: "model" (observed information), "robust" (sandwich) or a covariance DataFrame.
        exponentiate: report exp(estimate) for the fixed effects (odds ratios, rate ratios),
        with exponentiated interval bounds and delta-method SEs exp(b) se(b); z and p are unchanged.
        """
        check_level(level)
        if isinstance(vcov, str):
            vcov = self.vcov if vcov == "model" else self.robust_vcov()
        estimate = self.params
        se = pd.Series(np.sqrt(np.clip(np.diag(vcov.loc[estimate.index, estimate.index].to_numpy()), 0, None)),
                       index=estimate.index)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = estimate / se
        crit = NormalDist().inv_cdf(0.5 + level / 2)
        out = pd.DataFrame({
            "estimate": estimate,
            "se": se,
            "z": z,
            "p": [2 * NormalDist().cdf(-abs(v)) if np.isfinite(v) else np.nan for v in z],
            "ci_lower": estimate - crit * se,
            "ci_upper": estimate + crit * se,
        })
        if self.definitions:  # defined parameters (name := expression), by the delta method
            from .defined_parameters import defined_table

            out = pd.concat([out, defined_table(self, level)])
        fixed_names = [name for name in (self.options.get("fix") or {}) if name in out.index]
        out.loc[fixed_names, ["se", "z", "p", "ci_lower", "ci_upper"]] = np.nan  # fixed by the user: not estimated
        for name in self.boundary:  # a Wald SE, z and interval mean nothing at the boundary
            out.loc[name, ["se", "z", "p"]] = np.nan
            out.loc[name, ["ci_lower", "ci_upper"]] = self._boundary_interval(name, level)
        if exponentiate:
            fixed = list(self.spec.fixed_names)
            out.loc[fixed, "estimate"] = np.exp(estimate[fixed])
            out.loc[fixed, "se"] = np.exp(estimate[fixed]) * se[fixed]
            out.loc[fixed, "ci_lower"] = np.exp(out.loc[fixed, "ci_lower"])
            out.loc[fixed, "ci_upper"] = np.exp(out.loc[fixed, "ci_upper"])
        return out

    def _boundary_interval(self, name: str, level: float) -> tuple[float, float]:
        """[0, upper) for a variance at 0 (upper from ``boundary_upper_sd``), [0, nan) for a probability at 0,
        (nan, nan) for a covariance whose correlation is at +-1."""
        from .boundary import boundary_upper_sd

        for spec_level in self.spec.levels:
            for k, latent in enumerate(spec_level.latent_names):
                if not spec_level.discrete and name == spec_level.covariance_name(k, k):
                    upper = boundary_upper_sd(self.table_spec, self.theta_vcov, spec_level.name, latent, level)
                    return 0.0, upper**2
        if name.startswith("P("):
            return 0.0, np.nan
        return np.nan, np.nan

    def settings(self) -> pd.DataFrame:
        """The options the fit was made with, by stage (data, model, estimation, scale-out): every option that
        differs from its default, as given (MixedModels.jl's OptSummary, lme4's control)."""
        from .settings import settings

        return settings(self)

    def variance_components(self, level: float = 0.95) -> pd.DataFrame:
        """Variances and covariances of the latent variables (and residual variances) as lme4's VarCorr: one row per
        element (group, var1, var2, estimate, se, sd_cor, sd_cor_lower, sd_cor_upper, name), SDs sqrt(psi_kk) and
        correlations psi_kl / sqrt(psi_kk psi_ll) with their intervals at ``level``
        (gllamm.results.variance_components)."""
        from .variance_components import variance_components

        return variance_components(self, level)

    # ---- post-estimation -----------------------------------------------------------------
    def _evaluation(self, nested_ok: bool = False):
        """(objective, data, modes) at the estimates, for post-estimation computations."""
        from ..errors import GllammError
        from ..objective_programs import make_objective, settled_modes

        if len(self.spec.levels) > 1 and not nested_ok:
            raise GllammError("This post-estimation step is available for models with one level of latent "
                              "variables; models with nested levels support summary(), table() and tests so far.")
        objective = make_objective(self.table_spec, self.integration)
        data = self.design.data()
        n_parts = self._post_estimation_parts(data)
        if n_parts > 1:  # too large for one piece: per-cluster functions one part of clusters at a time
            from .partwise import PartwiseObjective

            objective = PartwiseObjective(objective, data, n_parts)
            return objective, data, objective.modes(self.theta)
        modes = settled_modes(objective, self.theta, data, objective.modes(self.theta, data, objective.mode_start(data)))
        return objective, data, modes

    def _post_estimation_parts(self, data) -> int:
        """Parts of clusters for post-estimation: as many as the fit's chunk size (or the memory) needs."""
        if self.spec.discrete_level is not None:  # latent-class models are evaluated in one piece
            return 1
        from ..objective_programs import nodes_per_row
        from ..parallel import auto_chunk_size

        size = self.options.get("chunk_size") or auto_chunk_size(nodes_per_row(self.table_spec, self.integration))
        return max(1, -(-int(np.asarray(data["weight"]).size) // int(size)))

    def summary(self):
        """Summary in the spirit of gllamm and lme4 output: a str (print it) that renders as HTML in notebooks and
        has to_latex() and to_markdown() (gllamm.results.summary_object.Summary)."""
        from .summary import render_summary

        return render_summary(self)

    def __repr__(self) -> str:
        return (f"<FitResult {self.spec.formula.formula!r} family={self.family.name}/{self.family.link.name} "
                f"loglik={self.loglik:.4f} converged={self.converged}>")

    def to_dict(self) -> dict:
        """Machine-readable summary as plain Python values (used by the command line's --json): formula, family,
        link, method, nip, loglik, aic, bic, nobs, n_groups, n_dropped, converged, iterations, message and every
        parameter's estimate, se, z, p and interval."""
        table = self.table()
        return dict(
            formula=self.spec.formula.formula,
            family=self.family.name,
            link=self.family.link.name,
            method=self.integration.method,
            nip=self.integration.nip,
            loglik=self.loglik,
            aic=self.aic,
            bic=self.bic,
            nobs=self.nobs,
            n_groups=self.n_groups,
            n_dropped=self.design.n_dropped,
            converged=self.converged,
            iterations=self.iterations,
            message=self.message,
            parameters={name: {k: (None if not np.isfinite(v) else float(v)) for k, v in row.items()}
                        for name, row in table.iterrows()},
        )
