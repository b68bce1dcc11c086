"""The model: which latent variables live at which level, and the response family.

A ModelSpec holds only structure (names, shapes, blocks); data-dependent
arrays live in a Design. Together with the ParameterTable it determines the
log-likelihood completely.

At a level with latent vector eta (dimension q), row i contributes

    sum_m eta_m z_i^(m)' lambda_m      (GLLAMM's response model)

where z_i^(m) are the Z columns the m-th latent variable multiplies and
lambda_m its loadings (fixed at 1 for random intercepts and coefficients).
The structural model is  eta = B eta + Gamma w + zeta,  zeta = L u,  u ~ N(0, I),
so eta = (I - B)^{-1} (Gamma w + L u).

A *discrete* level (``classes`` = C > 0) has instead a latent vector taking one of C
locations e_1, ..., e_C (rows of a C x q matrix) with probabilities following a
multinomial logit on cluster covariates v (concomitant variables):
pi_jc = exp(v_j' rho_c) / sum_d exp(v_j' rho_d), rho_C = 0 (the last class is the reference).
Locations are free (latent classes: class-specific intercepts of every item) or, for latent
variables whose covariate also has a fixed effect (discrete random effects, NPML), centred:
sum_c pi_c e_c = 0 with pi the class probabilities at v = (1, 0, ...), the last location implied.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..families import Family


@dataclass(frozen=True)
class Loading:
    """Latent variable ``latent`` multiplies Z column ``column`` with a loading fixed at ``value`` or free (None)."""

    latent: int
    column: int
    value: float | None
    name: str


@dataclass(frozen=True)
class Path:
    """A structural coefficient: latent ``lhs`` regressed on latent ``rhs`` (B) or covariate ``rhs`` (Gamma)."""

    lhs: int
    rhs: int
    name: str


@dataclass(frozen=True)
class Product:
    """An interaction of exogenous latent variables a and b: in the equation of latent ``lhs``
    (eta_lhs += gamma eta_a eta_b) or, with ``response``, of the response in Z column ``lhs``."""

    lhs: int
    a: int
    b: int
    name: str
    response: bool = False


@dataclass(frozen=True)
class LevelSpec:
    """Latent variables at one grouping level.

    ``blocks`` partition the disturbances zeta into mutually uncorrelated groups
    (block-diagonal Psi = L L'); L is lower triangular within each block.
    ``loadings`` default to one Z column per latent variable with loading 1
    (random intercepts and coefficients). With ``unit_variance`` the disturbance
    variances are fixed at 1 (factor scale set by the variance, not a loading). With ``scaled_rows`` each row of L
    is d_k v_k / |v_k| with v_k = (x_k1, ..., x_k,k-1, 1): theta holds d_k at the diagonal position and x_kj
    elsewhere, so that a variance psi_kk = d_k^2 is a function of one parameter however the latent variables are
    correlated (equal or fixed variances are then linear constraints: ``group_equal="lv.variances"``).
    """

    name: str
    latent_names: tuple[str, ...]
    blocks: tuple[tuple[int, ...], ...]
    loadings: tuple[Loading, ...] | None = None
    paths: tuple[Path, ...] = ()  # B: latent on latent (same level)
    covariate_paths: tuple[Path, ...] = ()  # Gamma: latent on cluster-level covariates
    unit_variance: bool = False
    naming: str = "formula"  # "formula": var(x|g), cov(a,b|g); "syntax": f~~f, f1~~f2
    cross_paths: tuple[Path, ...] = ()  # B across levels: latent ``lhs`` here on latent ``rhs`` of the next level up
    products: tuple[Product, ...] = ()  # latent interactions (eta_a eta_b of exogenous latent variables)
    classes: int = 0  # > 0: a discrete latent variable with this many classes (mass points) instead of N(0, Psi)
    centred: tuple[bool, ...] = ()  # discrete levels: per latent variable, locations centred (mean 0) or free
    class_name: str = "class"  # discrete levels: classes are reported as class1, class2, ...
    scaled_rows: bool = False  # L's rows as d_k v_k / |v_k| (see the class docstring)

    @property
    def discrete(self) -> bool:
        """True for a discrete latent variable (latent classes / mass points)."""
        return self.classes > 0

    @property
    def location_positions(self) -> tuple[tuple[int, int], ...]:
        """(class, latent) of every estimated location, latent-major; centred latents omit the last class."""
        out = []
        for k in range(self.dim if self.discrete else 0):
            rows = self.classes - 1 if self.centred[k] else self.classes
            out += [(c, k) for c in range(rows)]
        return tuple(out)

    def location_name(self, c: int, k: int) -> str:
        """Reported name of location e_ck: 'C1:Q1' (syntax) or 'class1:(Intercept)|school' (formula)."""
        base = f"{self.class_name}{c + 1}:{self.latent_names[k]}"
        return base if self.naming == "syntax" else f"{base}|{self.name}"

    @property
    def dim(self) -> int:
        """Number of latent variables at this level."""
        return len(self.latent_names)

    @property
    def loading_list(self) -> tuple[Loading, ...]:
        """The loadings, defaulting to one Z column per latent variable with loading 1."""
        if self.loadings is not None:
            return self.loadings
        return tuple(Loading(m, m, 1.0, "") for m in range(self.dim))

    @property
    def cholesky_positions(self) -> tuple[tuple[int, int], ...]:
        """(row, col) of each free Cholesky element, block by block, row-major lower triangle (none if discrete)."""
        if self.discrete:
            return ()
        positions = []
        for block in self.blocks:
            for i, row in enumerate(block):
                for col in block[: i + 1]:
                    if not (self.unit_variance and row == col):
                        positions.append((row, col))
        return tuple(positions)

    def covariance_name(self, r: int, c: int) -> str:
        """Reported name of Psi[r, c]: var(x|g)/cov(a,b|g) for formulas, f~~f / f1~~f2 for syntax."""
        a, b = self.latent_names[r], self.latent_names[c]
        if self.naming == "syntax":
            return f"{a}~~{a}" if r == c else f"{b}~~{a}"
        return f"var({a}|{self.name})" if r == c else f"cov({b},{a}|{self.name})"


@dataclass(frozen=True)
class ModelSpec:
    """Structure of a GLLAMM: response family, fixed effects, latent variables per level.

    ``dispersion_names``: one residual variance/dispersion per group of rows
    (e.g. per indicator in a factor model); rows say which one applies.
    ``covariate_names``: cluster-level covariates w in the structural model.
    ``categories``: for ordinal responses, the ordered category labels; the model then
    has thresholds kappa_1 < ... < kappa_{K-1} and no intercept.
    ``scale_names``: the level-1 scale is modelled, log s_i = v_i' alpha: the residual SD
    (Gaussian), log dispersion (gamma), or the SD of the latent response of ordinal and
    binary models (scaled probit/logit; v without intercept); replaces the dispersions.
    ``zero_inflation_names``: zero-inflated counts, P(structural zero) = logit^-1(w_i' gamma), w from
    ``zero_inflation="~ w"`` (families/zero_inflation.py).
    """

    formula: object  # FormulaSpec or the model syntax text
    family: Family
    fixed_names: tuple[str, ...]
    levels: tuple[LevelSpec, ...]
    dispersion_names: tuple[str, ...] | None = None
    covariate_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # ordinal responses: category labels, lowest first
    scale_names: tuple[str, ...] = ()  # level-1 log-scale coefficients "scale:x" (heteroscedastic models)
    dispersion_families: tuple[str, ...] | None = None  # mixed responses: the family of each dispersion
    set_size: int = 1  # multinomial choice sets: K consecutive rows (alternatives) per set
    threshold_groups: tuple = ()  # ordinal items with thresholds of their own: ((item, categories), ...)
    threshold_covariates: tuple[str, ...] = ()  # non-proportional odds: covariates t of kappa_k + t' gamma_k
    ordered_thresholds: bool = False  # t acts on kappa_1 and the log gaps instead (gllamm's ethresh; always ordered)
    class_covariates: tuple[str, ...] = ()  # discrete level: covariates v of the class probabilities ("(Intercept)" first)
    crossed: bool = False  # levels are grouping factors not nested in one another (integrate/crossed.py)
    zero_inflation_names: tuple[str, ...] = ()  # count responses: logit of a structural zero, "zi:(Intercept)", "zi:w"

    @property
    def discrete_index(self) -> int | None:
        """Position of the discrete level in ``levels``, or None."""
        return next((i for i, level in enumerate(self.levels) if level.discrete), None)

    @property
    def discrete_level(self):
        """The discrete level (latent classes), or None."""
        return next((level for level in self.levels if level.discrete), None)

    @property
    def class_logit_names(self) -> tuple[str, ...]:
        """Multinomial logit coefficients of class membership, 'class1~(Intercept)', 'class1~x' (last class reference)."""
        level = self.discrete_level
        if level is None:
            return ()
        return tuple(f"{level.class_name}{c + 1}~{v}" for c in range(level.classes - 1) for v in self.class_covariates)

    @property
    def reported_dispersion_powers(self) -> tuple[float, ...]:
        """Reported value = exp(power * theta): 2 for a Gaussian variance (theta = log sigma), 1 for gamma's
        dispersion and NB1's alpha, -1 for NB2's theta = 1/alpha (theta = log alpha)."""
        families = self.dispersion_families or (self.family.name,) * len(self.dispersions)
        return tuple({"gaussian": 2.0, "negbin": -1.0}.get(name, 1.0) for name in families)

    @property
    def threshold_names(self) -> tuple[str, ...]:
        """Names of the ordinal thresholds: "1|2", "2|3", ... as in R's ordinal package, or per item
        "q1|t1", "q1|t2", ... as in lavaan when items have thresholds of their own."""
        if self.threshold_groups:
            return tuple(f"{item}|t{k + 1}" for item, c in self.threshold_groups for k in range(len(c) - 1))
        c = self.categories
        return tuple(f"{c[k]}|{c[k + 1]}" for k in range(len(c) - 1))

    @property
    def threshold_effect_names(self) -> tuple[str, ...]:
        """Effects gamma_k of covariates on each threshold (non-proportional odds), "1|2:x" (k-major)."""
        return tuple(f"{k}:{t}" for k in self.threshold_names for t in self.threshold_covariates)

    @property
    def threshold_layout(self) -> tuple[tuple[int, int], ...]:
        """(first position, count) of each item's thresholds in the threshold vector (one group without items)."""
        groups = self.threshold_groups or ((("", self.categories),) if self.categories else ())
        layout, start = [], 0
        for _, categories in groups:
            layout.append((start, len(categories) - 1))
            start += len(categories) - 1
        return tuple(layout)

    @property
    def n_latent(self) -> int:
        """Total number of latent variables over all levels."""
        return sum(level.dim for level in self.levels)

    @property
    def dispersions(self) -> tuple[str, ...]:
        """Names of the residual variances/dispersions (empty for binomial and Poisson)."""
        if not self.family.has_dispersion or self.scale_names:
            return ()
        return self.dispersion_names if self.dispersion_names is not None else (self.family.dispersion_name,)
