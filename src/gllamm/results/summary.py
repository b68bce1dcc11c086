"""Rendering of FitResult.summary() as text."""

from __future__ import annotations

import numpy as np


def _fmt(x: float, width: int = 10) -> str:
    if not np.isfinite(x):
        return " " * (width - 1) + "."
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-4):
        return f"{x:{width}.3e}"
    return f"{x:{width}.5f}" if abs(x) < 1000 else f"{x:{width}.2f}"


_DISPERSION_LABELS = {"gamma": "Dispersion (1/shape)", "negbin": "Negative binomial (NB2, Var = mu + mu^2/theta)",
                      "negbin1": "Negative binomial (NB1, Var = mu (1 + alpha))"}


def render_summary(result):
    """The text of FitResult.summary() (a Summary: a str with HTML, LaTeX and Markdown renderings): header, fixed
    effects, loadings/paths, variance components."""
    table = result.table()
    lines = _header_lines(result) + [""] + _coefficient_lines(result, table) + _variance_lines(result) \
        + _class_lines(result, table) + _fit_measure_lines(result)
    families = result.spec.dispersion_families or (result.family.name,) * len(result.spec.dispersions)
    for key, member in zip(result.spec.dispersions, families):
        if member in _DISPERSION_LABELS:
            lines += ["", f"{_DISPERSION_LABELS[member]} {key}: {_fmt(float(result.params[key])).strip()} "
                          f"(SE {_fmt(float(result.se[key])).strip()})"]
    from .summary_object import Summary, summary_tables

    return Summary("\n".join(lines), "\n".join(_header_lines(result)), summary_tables(result))


def _header_lines(result) -> list[str]:
    """The model, data, log-likelihood, convergence, boundary and quadrature check."""
    family = result.family
    lines = [
        "Generalized linear latent and mixed model (gllamm)",
        f"  Formula:      {result.spec.formula.formula}",
        (f"  Families:     {family.description}" if family.name == "mixed"
         else f"  Family:       {family.name}    Link: {family.link.name}"
         + ("    with zero inflation (logit)" if result.spec.zero_inflation_names else "")
         + (f"    observed with sensitivity {family.sensitivity:g} and specificity {family.specificity:g}"
            if getattr(family, "misclassified", False) else "")),
        f"  Integration:  {result.integration.label}",
        f"  Observations: {result.nobs}" + (f"  ({result.design.n_dropped} rows with missing values dropped)" if result.design.n_dropped else ""),
    ]
    if result.spec.crossed:
        lines.append("  Crossed:      " + " x ".join(f"{name} ({count} units)" for name, count in result.n_groups.items()))
        lines.append("                (" + ("integrated exactly" if result.integration.method == "exact" else
                                           "Laplace approximation, the default for crossed factors")
                     + " over all their random effects jointly; adaptive quadrature needs nested levels)")
    else:
        for number, (name, count) in enumerate(result.n_groups.items(), start=2):
            lines.append(f"  Level {number}:      {name}, {count} units")
    lines += [
        (f"  REML criterion = {-2 * result.loglik:.4f}    (restricted log likelihood {result.loglik:.4f}; compare "
         "fits that differ in fixed effects by maximum likelihood)" if result.integration.reml else
         f"  Log likelihood = {result.loglik:.4f}    AIC = {result.aic:.2f}    BIC = {result.bic:.2f}"),
        *([f"  Priors:       {result.options['prior_description']}: penalised maximum likelihood (MAP), "
           f"log posterior = {result.options['log_posterior']:.4f}"] if result.options.get("prior_description") else []),
        f"  Converged:    {'yes' if result.converged else 'NO'} after {result.iterations} iterations ({result.message})",
    ]
    if result.boundary:
        lines.append(f"  Boundary:     singular fit: {', '.join(result.boundary)} on the boundary of the parameter space "
                     "(variance 0, correlation +-1 or probability 0); their SEs and z are not meaningful ('.'), "
                     "intervals are [0, upper)")
    if result.quadrature_check is not None:
        lines.append(f"  Quadrature:   {result.quadrature_check.describe()}")
    if result.spec.levels and result.spec.discrete_level is None:
        lines.append("  Predictions:  predict() sets the random effects / latent variables to their mean (0); "
                     "latent='marginal' averages over them, 'eb'/'posterior' uses each cluster's posterior")
    return lines


def _coefficient_lines(result, table) -> list[str]:
    """Fixed effects, thresholds, threshold effects, level-1 scale, loadings and structural coefficients."""
    family, lines = result.family, []
    if result.spec.fixed_names:
        lines += _coefficient_block(table.loc[list(result.spec.fixed_names)])
    if result.spec.threshold_names:
        lines += ([""] if result.spec.fixed_names else []) + ["Thresholds"] + _coefficient_block(table.loc[list(result.spec.threshold_names)])[1:]
    if result.spec.threshold_covariates:
        lines += ["", "Threshold effects (non-proportional odds: kappa_k + t'gamma_k)"] + _coefficient_block(
            table.loc[list(result.spec.threshold_effect_names)])[1:]
    if result.spec.scale_names:
        what = {"gaussian": "log residual SD", "gamma": "log dispersion"}.get(family.name, "log SD of the latent response")
        lines += ["", f"Level-1 scale ({what})"] + _coefficient_block(table.loc[list(result.spec.scale_names)])[1:]
    if result.spec.zero_inflation_names:
        lines += ["", "Zero inflation (logit of the probability of a structural zero)"] + _coefficient_block(
            table.loc[list(result.spec.zero_inflation_names)])[1:]
    structural = [name for level in result.spec.levels
                  for name in [l.name for l in level.loading_list if l.value is None]
                  + [p.name for p in level.paths] + [p.name for p in level.covariate_paths]
                  + [p.name for p in level.products]]
    if structural:
        lines += ["", "Loadings and structural coefficients"] + _coefficient_block(table.loc[structural])[1:]
    return lines


def _variance_lines(result) -> list[str]:
    """Variances and covariances of the latent variables and residual variances (fixed ones marked)."""
    lines = []
    components = result.variance_components()
    if len(components):
        lines += ["", "Variances and covariances of latent variables" + (" and residuals" if (components.group == "Residual").any() else "")]
        level_width = max([12] + [len(str(g)) + 2 for g in components.group])
        name_width = max([34] + [len(str(n)) + 2 for n in components["name"]])
        header = f"{'Level':<{level_width}}{'Parameter':<{name_width}}{'Estimate':>10} {'Std. Err.':>10}   {'SD / Corr.':>10}"
        lines.append(header)
        lines.append("-" * len(header))
        fixed = set(result.options.get("fix") or {})
        for _, row in components.iterrows():
            se = f"{'(fixed)':>10}" if row["name"] in fixed else _fmt(row.se)
            lines.append(f"{row.group:<{level_width}}{row['name']:<{name_width}}{_fmt(row.estimate)} {se}   "
                         f"{_fmt(row.sd_cor)}")
    return lines


def _class_lines(result, table) -> list[str]:
    """Latent classes: locations, membership model, class probabilities; defined parameters."""
    lines = []
    level = result.spec.discrete_level
    if level is not None:
        names = [level.location_name(c, k) for k in range(level.dim) for c in range(level.classes)]
        lines += ["", f"Latent classes ({level.classes}): locations"] + _coefficient_block(table.loc[names])[1:]
        membership = list(result.spec.class_logit_names)
        if membership:
            lines += ["", f"Class membership (multinomial logit, reference {level.class_name}{level.classes})"] + \
                _coefficient_block(table.loc[membership])[1:]
        probabilities = [n for n in table.index if n.startswith("P(")]
        if probabilities:
            lines += ["", "Class probabilities"] + _coefficient_block(table.loc[probabilities])[1:]
    if result.definitions:
        defined = table.loc[[d[0] for d in result.definitions]]
        lines += ["", "Defined parameters (delta-method standard errors)"] + _coefficient_block(defined)[1:]
    return lines


def _coefficient_block(frame) -> list[str]:
    width = max([12] + [len(n) for n in frame.index]) + 2
    header = f"{'':{width}}{'Estimate':>10} {'Std. Err.':>10} {'z':>8} {'P>|z|':>7}   {'[95% Conf. Interval]':>21}"
    lines = ["Fixed effects", header, "-" * len(header)]
    for name, row in frame.iterrows():
        z = f"{row.z:8.2f}" if np.isfinite(row.z) else f"{'.':>8}"
        p = f"{row.p:7.3f}" if np.isfinite(row.p) else f"{'.':>7}"
        lines.append(f"{name:{width}}{_fmt(row.estimate)} {_fmt(row.se)} {z} {p}   "
                     f"{_fmt(row.ci_lower)} {_fmt(row.ci_upper)}")
    return lines


def _level_srmr(measures) -> str:
    """' (within 0.0251, between 0.1511)' for two-level models (lavaan's srmr is their sum), else ''."""
    if "srmr_within" not in measures:
        return ""
    return f" (within {measures['srmr_within']:.4f}, between {measures['srmr_between']:.4f})"


def _fit_measure_lines(result) -> list[str]:
    """Chi-square, CFI, TLI, RMSEA and SRMR of SEMs with continuous indicators (nothing for other models)."""
    if not hasattr(result.spec.formula, "text") or not result.spec.family.exact_gaussian:
        return []
    measures = result.fit_measures()
    if measures.isna().all():
        return ["", f"Fit measures: {measures.attrs.get('note', 'not available')}"]
    m = measures
    return ["", "Fit measures (as lavaan's fitMeasures)",
            f"  Chi-square = {m['chisq']:.3f}, df = {m['df']:.0f}, p = {m['pvalue']:.4g}   "
            f"(baseline {m['baseline.chisq']:.3f}, df {m['baseline.df']:.0f})",
            f"  CFI = {m['cfi']:.4f}   TLI = {m['tli']:.4f}   SRMR = {m['srmr']:.4f}" + _level_srmr(m),
            f"  RMSEA = {m['rmsea']:.4f}, 90% CI [{m['rmsea.ci.lower']:.4f}, {m['rmsea.ci.upper']:.4f}], "
            f"P(RMSEA <= 0.05) = {m['rmsea.pvalue']:.4g}"]
