"""gllamm.fit: model text + data + options -> Model -> FitResult.

The stages are objects of their own: ``build_model`` (model.py) parses the formula or syntax and builds the
structure and the arrays; ``Model.fit`` (estimate/) chooses the integration, finds start values, runs the Newton
iterations, checks the quadrature and computes standard errors; ``make_result`` (results/) assembles the result.
"""

from __future__ import annotations

import pandas as pd

from .runtime.blas_threads import one_blas_thread
from .runtime.compile_messages import announce_compiles
from .families import Family
from .model import build_model
from .options import split_options
from .results import FitResult


@one_blas_thread
@announce_compiles
def fit(model: str, data: pd.DataFrame, *, family: str | Family | dict = "gaussian", link: str | None = None,
        family_by: str | None = None, base=None, choice_set: str | None = None, nominal: str | None = None,
        classes: int | str | None = None, concomitant: str | None = None, known_class: str | None = None,
        starts: int | None = None, seed: int | None = 0, nip: int | None = None, method: str | None = None, weights=None, cluster_weights=None, top_weights=None, level_weights=None,
        scale_weights: str = "none",
        offset=None, trials=None, scale: str | None = None,
        start=None, fix: dict | None = None, equal=None, factor_scale: str = "loading", cluster: str | list | None = None, long: dict | None = None,
        information: str | None = None, devices: int | None = None, chunk_size: int | None = None,
        max_iter: int = 200, tol: float = 1e-8,
        verbose: bool = False, **unknown) -> FitResult:
    """Fit a GLLAMM by maximum likelihood.

    - model: lme4-style formula, e.g. ``"y ~ x + (1 + x | school)"``, or lavaan-style
        syntax for latent variable models (``"f =~ y1 + y2 + y3; f ~ x"``) on wide data
        (one row per unit; responses are stacked to long format inside).
    - family/link: response distribution and link (canonical link by default); "ordinal" for
        cumulative logit/probit/cloglog models (thresholds "1|2", "2|3", ... replace the intercept).
        Mixed responses: a mapping {response: family or (family, link)}, keyed by indicator
        names in model syntax, or by the values of the column ``family_by`` in a formula
        model on long data (one row per response), e.g.
        ``family={"y": "gaussian", "d": ("binomial", "probit")}, family_by="type"``.
        "multinomial": a nominal response (multinomial logit), with one copy of every fixed and
        random effect per category other than the base (``base=``, the first category by default),
        named "2:x", "var(2:(Intercept)|school)".
        With ``choice_set=column`` the data are long (one row per alternative of each choice set)
        and the response holds ranks: 1 for the chosen alternative (discrete choice, conditional
        logit) or 1, 2, ... for a ranking (exploded/rank-ordered logit; 0 or missing = not ranked,
        so partial rankings work). Covariates are alternative attributes (or interactions with the
        alternative, C(alt):x); a common intercept cancels and is dropped. Random effects: shared
        random coefficients of attributes, (0 + price | person), or alternative-specific ones,
        (0 + C(alt) | person).
    - classes: a discrete latent variable with this many classes instead of normal latent variables.
        In a formula model the random effects take one of ``classes`` mass points (locations
        "class1:(Intercept)|g", ...; centred at 0 where the fixed part has the same term, so the
        fixed effect stays the mean), with class probabilities "P(class1)", ...; ``classes="npml"``
        adds mass points until the Gateaux derivative is non-positive (the NPML estimate).
        In model syntax ``C =~ y1 + ... + yJ`` is the exploratory latent class model: class-specific
        intercepts "C1:y1", ... of every item (logits of P(y=1 | class) for binary items, means for
        Gaussian ones), and ``C ~ w`` regresses class membership on w (multinomial logit, last class
        the reference, coefficients "C1~w"). The likelihood sums over the classes exactly.
    - concomitant: formula models with classes: ``"~ w1 + w2"`` (constant within clusters) for the
        class-membership model.
    - known_class: column holding the class (1..classes) of clusters whose class is observed, missing
        where it is latent (training data; e.g. compliers in the treatment arm of a trial).
    - starts, seed: number of starting values for models with classes (best solution kept; all in
        ``FitResult.starts``) and the seed of the random ones.
    - method: "adaptive" (adaptive Gauss-Hermite quadrature, ``nip`` points per
        latent dimension), "laplace" (= lme4's nAGQ=1) or "ghq" (non-adaptive).
        Gaussian responses with identity link are integrated exactly.
    - priors: weakly informative priors on the latent variables' SDs and covariance matrices, making the fit
        penalised ML (MAP, gllamm's prior()): {"sd": "gamma(a, b)" | "half_t(df, s)", "cov": "wishart(df[, s])",
        "cor": "lkj(eta)"}, a key with ":level" for one level; maximises log L + log p (estimate/priors.py).
    - misclassification: a binary response observed with known error, {"sensitivity": se, "specificity": sp}:
        P(y = 1 | eta) = se F(eta) + (1 - sp)(1 - F(eta)) (a composite link, gllamm's composite(); the coefficients
        are those of the true status).
    - integration: the quadrature rule (integrate/rules.py): "product" (nip^q nodes; the default up to three latent
        variables at a level), "spherical" (spherical-radial rules of degree 5, 7, 9 for nip=3, 4, 5, gllamm's ip(m);
        the default, nip=3, from four latent variables at a level), "sparse" (Smolyak sparse grid exact to total
        degree 2 nip - 1) or "qmc" (nip scrambled Sobol points and their mirror images).
    - weights: level-1 weights (column name or array); cluster_weights: level-2
        weights (a column constant within clusters), as gllamm's pweight: the
        log-likelihood becomes the pseudo-likelihood sum_j w_j log L_j with
        L_j = int prod_i f(y_ij | b)^{w_ij} phi(b) db (use robust SEs with sampling weights);
        In model syntax weights= are the units' (rows of the wide data) and cluster_weights= the clusters'
        (multilevel syntax with cluster=; constant within clusters; the top-level clusters' with several
        cluster columns).
    - top_weights: with nested levels, weights of the top-level units (gllamm's pweight at the top level);
    - level_weights: with three or more nested grouping factors, {grouping factor: weights} for the levels
        between the first and the top (constant within each unit), e.g. {"school": "w_school"}; in
        multilevel syntax {cluster column: weights} for the cluster levels below the top;
        cluster_weights= are then the weights of the level-2 units, and
        log L = sum_k w_k log int phi(u3) prod_j (int phi(u2) prod_i f^{w_i} du2)^{w_j} du3.
    - scale_weights: "none", "size" or "effective" scaling of level-1 sampling weights within clusters.
    - frequency_weights: instead of weights=, the number of identical rows each row stands for (collapsed data,
        gllamm's weight()); in model syntax the number of identical units. The fit equals that of the expanded data,
        standard errors, nobs and BIC included.
    - offset: column or array added to the linear predictor; trials: binomial denominators.
    - scale: one-sided formula ``"~ x"`` for the level-1 scale, log s_i = v_i' alpha: the residual
        SD of Gaussian responses (heteroscedasticity; the intercept replaces var(Residual)), the
        log dispersion of gamma responses, or the SD of the latent response of ordinal and binary
        responses (the scaled ordinal probit of R's clm(scale=), gllamm's sprobit; no intercept).
        Coefficients are reported as "scale:x" on the log scale.
    - nominal: for ordinal responses, a one-sided formula ``"~ x"`` of covariates whose effects differ
        between thresholds (non-proportional / partial proportional odds, R's clm(nominal=)):
        P(y <= k) = F(kappa_k + t'gamma_k - eta), reported as "1|2:x", "2|3:x", ...
        With ``ordered_thresholds=True`` (gllamm's ethresh) t acts on the first threshold and the log gaps instead:
        kappa_1(t) = kappa_1 + t'gamma_1, kappa_k(t) = kappa_{k-1}(t) + (kappa_k - kappa_{k-1}) exp(t'gamma_k).
    - zero_inflation: for count responses (poisson, negbin, negbin1), a one-sided formula ``"~ w"`` of the
        probability of a structural zero, logit pi_i = w_i' gamma (glmmTMB's ziformula): P(y = 0) =
        pi + (1 - pi) f(0 | mu), P(y = k) = (1 - pi) f(k | mu); coefficients "zi:(Intercept)", "zi:w".
        The random effects are in the count part.
    - start: where to start: {reported parameter name: value} for some or all parameters (the rest at the default
        start values; e.g. another fit's ``params``; unknown names are an error), a FitResult, or the internal
        theta vector; with ``max_iter=0`` the log-likelihood is only evaluated there (no optimisation).
    - fix: {parameter name: value} to hold fixed (fixed effects, variances of
        latent variables in their own block, "var(Residual)", "dispersion").
    - equal: groups of parameter names constrained to be equal, e.g. [("x1", "x2")].
    - factor_scale: for syntax models, "loading" (first loading of each factor 1) or
        "variance" (factor variances 1, all loadings free).
    - cluster: for syntax with 'level: 1' / 'level: 2' blocks, the column of the clusters
        the units (rows) are nested in (multilevel SEM); with 'level: 3' blocks and above, a list of
        nested cluster columns, lowest first (cluster=["class", "school"]).
    - long: for syntax models on long data (one row per unit and item),
        {"unit": column, "item": column, "response": column}; the item values name the indicators.
    - information: "observed" (gllamm's default) or "expected" (Fisher information, for
        Gaussian identity-link models; the default for those written in model syntax,
        as in SEM programs such as lavaan) for model-based standard errors.

    - devices: number of devices the top-level clusters are spread over (default: all visible; CPU
        devices with XLA_FLAGS=--xla_force_host_platform_device_count=N); with several processes
        (``gllamm.initialize_distributed``) each process passes its own clusters as ``data``.
    - chunk_size: rows per part of clusters worked on at once (default from the available memory):
        the memory of a fit is bounded by one part's rows times quadrature nodes.

    Maximises  sum_j log int prod_i f(y_ij | x_ij'beta + z_ij'b_j) phi(b_j; 0, Psi) db_j
    by trust-region Newton with exact derivatives.
    """
    data_options, model_options, estimation, scale = split_options(
        dict(family=family, link=link, family_by=family_by, base=base, choice_set=choice_set, nominal=nominal,
             classes=classes, concomitant=concomitant, known_class=known_class, starts=starts, seed=seed, nip=nip,
             method=method, weights=weights, cluster_weights=cluster_weights, top_weights=top_weights,
             level_weights=level_weights, scale_weights=scale_weights, offset=offset, trials=trials, scale=scale,
             start=start, fix=fix, equal=equal, factor_scale=factor_scale, cluster=cluster, long=long,
             information=information, devices=devices, chunk_size=chunk_size, max_iter=max_iter, tol=tol,
             verbose=verbose, **unknown))
    return build_model(model, data, data_options, model_options).fit(estimation, scale)
