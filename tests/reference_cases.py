"""The R reference fits in ../shared/reference (copied to tests/reference/) and the gllamm call for each."""

import json
from pathlib import Path

REFERENCE_DIR = Path(__file__).parent / "reference"

# name -> (dataset, gllamm formula, options); the R call is in each JSON file's "call".
CASES = {
    "pisa": ("pisa_usa_2000", "pass_read ~ mn_ses + female + ses + high_school + college + test_lang + (1 | id_school)",
             dict(family="binomial", nip=12)),
    "cbpp": ("cbpp", "cbind(incidence, size - incidence) ~ period2 + period3 + period4 + (1 | herd)",
             dict(family="binomial", nip=25)),
    "contraception": ("contraception", "use ~ age + age2 + urban + livch1 + livch2 + livch3 + (1 | district)",
                      dict(family="binomial", nip=25)),
    "verbagg": ("verbagg", "r2 ~ anger + male + btype_scold + btype_shout + situ_self + mode_do + (1 | id)",
                dict(family="binomial", nip=15)),
    "exam": ("exam", "normexam ~ standlrt + girl + (1 + standlrt | school)", dict(family="gaussian")),
    "sleepstudy": ("sleepstudy", "reaction ~ days + (1 + days | subject)", dict(family="gaussian")),
    "epilepsy": ("epilepsy", "y ~ lbase + trt + lbase_trt + lage + v4 + (1 | subject)", dict(family="poisson", nip=20)),
}


def load_reference(name: str) -> dict:
    return json.loads((REFERENCE_DIR / f"{name}.json").read_text())


def varcorr_name(row: dict) -> str | None:
    """gllamm's parameter name for an lme4 VarCorr row (None for the residual)."""
    if row["grp"] == "Residual":
        return "var(Residual)"
    if row.get("var2") is None:
        return f"var({row['var1']}|{row['grp']})"
    return f"cov({row['var1']},{row['var2']}|{row['grp']})"


def assert_latent_covariances_match(fit, rows: list[dict], estimate_tol: float = 2e-4, se_rel: float = 2e-3) -> None:
    """Each of lavaan's latent (co)variance rows (lhs, rhs, group, est, se of parameterEstimates) equals the fit's
    parameter of group g's copies (named lhs.g~~rhs.g in either order)."""
    import pytest

    for row in rows:
        a, b = f"{row['lhs']}.g{row['group']}", f"{row['rhs']}.g{row['group']}"
        name = f"{a}~~{b}" if f"{a}~~{b}" in fit.params else f"{b}~~{a}"
        assert fit.params[name] == pytest.approx(row["est"], abs=estimate_tol), name
        assert fit.se[name] == pytest.approx(row["se"], rel=se_rel), name
