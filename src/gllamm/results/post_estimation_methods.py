"""What a fit computes after estimation, as methods of FitResult: empirical Bayes predictions of the latent
variables, predictions of the responses with their uncertainty, marginal effects, residuals, per-cluster
log-likelihoods, robust covariances and Wald tests, simulation, refits and the bootstrap, saving, and plots.
Each method says what it computes; the work is in the module it names."""

from __future__ import annotations

import numpy as np
import pandas as pd


class PostEstimationMethods:
    """Post-estimation methods of ``FitResult`` (a mixin: ``self`` is the fit)."""

    def empirical_bayes(self, kind: str = "mean"):
        """Empirical Bayes predictions of the latent variables, per cluster.

        kind="mean": posterior means E[eta_j | y_j] and SDs sqrt(var[eta_j | y_j]) (gllamm's gllapred, u), by the
        fit's quadrature at the estimates; "mode": posterior modes with SDs from the curvature of the log
        posterior there (lme4's conditional modes, ranef(condVar = TRUE)); "ml": the maximisers of the
        responses' likelihood alone (no prior), with SDs from its curvature.

        Returns one DataFrame indexed by the clusters (the latent variables' columns, then ``sd(...)`` and, for
        several latent variables, ``corr(...)``); with nested levels a dict {level name: DataFrame}; with latent
        classes the posterior means sum_c P(c | y_j) e_c of the class locations and their SDs (the classes
        themselves: ``class_probabilities()``, ``modal_class()``).
        """
        from .empirical_bayes import empirical_bayes

        return empirical_bayes(self, kind)

    def predict(self, newdata: pd.DataFrame | None = None, *, type: str = "mean", latent: str = "zero",
                offset=None, nip: int = 40, se: bool = False, level: float = 0.95, layout: str = "wide"):
        """Predictions of the responses.

        newdata: rows to predict for (default: the fitted data); model syntax: new units scored from their
        responses. type: "linear" (the linear predictor nu; lme4's "link"), "mean" (h(nu); "response"),
        "probability" (ordinal and nominal responses: a DataFrame of P(y = k)), for zero-inflated counts "count"
        (the count part's mean) and "zero" (P(y = 0)). latent: the latent variables at 0 ("zero", the default:
        a typical cluster, lme4's re.form = NA), at their EB means ("eb": h(E[eta | y])), integrated over their
        posterior ("posterior": E[h(eta) | y], gllamm's gllapred, mu) or over their distribution ("marginal":
        the population average int h(nu) phi(eta) d eta, by ``nip``-point quadrature).
        se=True: a DataFrame mean, se, lower, upper, the SE by the delta method sqrt(g' V g), g = d prediction
        / d theta exact (gllamm.results.prediction_uncertainty), the interval at ``level``.

        Returns a Series on the data's index (NaN for rows dropped from the fit); in model syntax a DataFrame of
        units x indicators (layout="long": one value per (unit, indicator) row, as fitted).
        """
        from .aligned_predictions import aligned

        if se:
            from .prediction_uncertainty import prediction_frame

            frame = prediction_frame(self, newdata, type, latent, offset, nip, level)
            return aligned(self, frame, newdata)
        if latent == "posterior":  # E[h(eta) | y]: the posterior mean of the mean (gllapred, mu)
            from .posterior_response_mean import posterior_response_means

            if newdata is not None or type not in ("mean", "response"):
                from ..errors import GllammError

                raise GllammError("latent='posterior' is the posterior mean of the fitted rows' means given their "
                                  "clusters' responses: leave out newdata and use type='mean'.")
            return aligned(self, posterior_response_means(self), None)
        from .predictions import predict

        from ..errors import check_choice

        layout = check_choice("layout", layout, ("wide", "long"))
        if self.design.fixed_model_spec is not None:
            return aligned(self, predict(self, newdata, type=type, latent=latent, offset=offset, nip=nip), newdata)
        scored = self  # model syntax: new units are scored by the fit at its estimates on their data
        if newdata is not None:
            from .predict import _syntax_newdata

            scored = _syntax_newdata(self, newdata, latent)
        values = predict(scored, None, type=type, latent=latent, offset=offset, nip=nip)
        return values if layout == "long" else aligned(scored, values, None)

    def marginal_effects(self, variables=None, at: dict | None = None, latent: str = "marginal", level: float = 0.95,
                         nip: int = 40) -> pd.DataFrame:
        """Average marginal effects on the predicted mean (Stata's margins, dydx(); marginaleffects' avg_slopes).

        A numeric covariate x: AME = (1/n) sum_i d m_i / d x_i (exact derivatives); a categorical one (or a
        number used as ``C(x)``): for each level l, (1/n) sum_i m_i(x = l) - m_i(x = first level), every row set
        to each level. m_i is population-averaged (latent="marginal") or at the latent variables' mean ("zero").
        variables: the covariates (default: all of the fixed part); at: {column: value} set for every row.
        SEs by the delta method with the exact gradient in theta.

        Returns a DataFrame term, contrast, estimate, std_error, statistic, p_value, conf_low, conf_high.
        """
        from .marginal_effects import marginal_effects

        return marginal_effects(self, variables, at, latent, level, nip)

    def get_prediction(self, newdata: pd.DataFrame | None = None, *, type: str = "mean", latent: str = "zero",
                       offset=None, nip: int = 40, level: float = 0.95) -> pd.DataFrame:
        """``predict(..., se=True)`` under statsmodels' name: a DataFrame mean, se, lower, upper per row."""
        return self.predict(newdata, type=type, latent=latent, offset=offset, nip=nip, se=True, level=level)

    def residuals(self, type: str = "pearson") -> np.ndarray:
        """Residuals of the fitted rows, conditional on the EB means of the latent variables (mu_i = h(nu_i) at
        E[eta | y]): "response" y_i - mu_i, "pearson" (y_i - mu_i) / sqrt(V(mu_i)) with the family's variance
        function (times the dispersion), "deviance" sign(y_i - mu_i) sqrt(d_i). Returns an array in the order of
        the fitted rows. Not defined for ordinal and nominal responses."""
        from .predictions import residuals

        return residuals(self, type)

    def cluster_loglik(self) -> pd.Series:
        """Each top-level cluster's contribution log L_j = log int prod_i f(y_ij | eta) phi(eta) d eta to the
        log-likelihood (before cluster weights), a Series indexed by the clusters (gllamm's gllapred, ll)."""
        from .predict import cluster_loglik

        return cluster_loglik(self)

    def robust_vcov(self, cluster=None, data: pd.DataFrame | None = None) -> pd.DataFrame:
        """Sandwich covariance of the reported parameters, J A^-1 B A^-1 J' with A = -H (the observed information),
        B = G/(G - 1) sum_g s_g s_g' over the G top-level clusters' weighted scores s_g = d log L_g / d theta
        (exact), and J = d reported / d theta. cluster: a coarser clustering (a column of the fitted ``data``
        or one value per used row, constant within top-level clusters): scores summed within its groups."""
        from .inference import robust_vcov

        return robust_vcov(self, cluster, data)

    def wald_test(self, names, values=None, vcov: pd.DataFrame | None = None) -> dict:
        """Joint Wald test of H0: params[names] = values (default 0): chi2 = (b - v)' V^-1 (b - v) with V the
        covariance of those estimates (``vcov``, default the model-based one), df = number of names.
        Returns {"chi2", "df", "p"}."""
        from .inference import wald_test

        return wald_test(self, names, values, vcov)

    def simulate(self, seed=None, theta=None, return_latent: bool = False):
        """One data set drawn from the fitted model (gllamm's gllasim): latent variables from their distribution,
        then responses from their conditional distribution given them, on the fitted rows and covariates.
        theta: internal parameters (default: the estimates). Returns the model frame with the response replaced,
        and with return_latent=True also the drawn latent variables (one row per cluster; with nested levels or
        crossed factors a dict {level name: DataFrame})."""
        from .simulate import simulate

        return simulate(self, seed, theta, return_latent)

    def refit(self, data: pd.DataFrame, **changes) -> "FitResult":  # noqa: F821
        """The same model (formula, options, weights, offsets) fitted to ``data``, a frame with the fitted
        frame's columns (e.g. from ``simulate()``); ``changes`` override options. Returns a FitResult."""
        from .simulate import refit

        return refit(self, data, **changes)

    def bootstrap(self, statistic=None, n_boot: int = 100, seed=None, n_jobs: int = 1, progress=None) -> pd.DataFrame:
        """Parametric bootstrap: ``n_boot`` data sets simulated from the fit, each refitted, and ``statistic``
        (FitResult -> numbers; default the parameters) of every converged refit, one row per replicate; failed
        refits are counted in ``.attrs["failed"]``. ``n_jobs`` processes share the replicates (the statistic must
        then be a module-level function); ``progress`` shows a progress bar (default: on a terminal)."""
        from .bootstrap import bootstrap

        return bootstrap(self, statistic, n_boot, seed, n_jobs, progress)

    def save(self, path):
        """Write the fit to ``path`` (a zip of JSON and NumPy arrays, no pickles), readable by ``gllamm.load``,
        which rebuilds the model so that predictions, EB and refits work. Returns the path."""
        from .persistence import save

        return save(self, path)

    def plot_caterpillar(self, latent: str | None = None, level: float = 0.95, ax=None):
        """Caterpillar plot: the clusters' EB posterior means of one latent variable (default the first), sorted,
        with intervals mean +- z SD at ``level``. Draws on ``ax`` (or a new figure); returns the Figure."""
        from .plots import caterpillar

        return caterpillar(self, latent, level, ax)

    def plot_conditional_marginal(self, grid: pd.DataFrame, x: str, by: str | None = None, ax=None, labels=None):
        """Conditional (latent variables at 0) and marginal (population-averaged) predicted means along the
        column ``x`` of ``grid`` (rows of covariate values), one pair of curves per value of ``by`` (``labels``
        names them): the seed article's Figure 1. Returns the matplotlib Figure."""
        from .plots import conditional_marginal_curves

        return conditional_marginal_curves(self, grid, x, by, ax, labels)

    def plot_item_characteristic_curves(self, ax=None):
        """Item characteristic curves of a one-factor binary (IRT) model: P(y_i = 1 | theta) = h(beta_i +
        lambda_i theta) against theta over +-3 SD of its distribution, one curve per item. Returns the Figure."""
        from .plots import item_characteristic_curves

        return item_characteristic_curves(self, ax)
