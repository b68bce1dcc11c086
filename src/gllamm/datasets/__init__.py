"""Real datasets bundled with gllamm.

``load(name)`` returns a pandas DataFrame; ``names()`` lists what is available;
``describe(name)`` says where the data come from.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from ..errors import GllammError, closest

DESCRIPTIONS = {
    "pisa_usa_2000": "PISA 2000, USA: 2,069 students in 148 schools (Rabe-Hesketh & Skrondal). pass_read (1 = proficient "
                     "reader), female, isei, high_school, college, one_for, both_for, test_lang, id_school, weights "
                     "w_fstuwt (student) and wnrschbw (school); ses = (isei - mean)/20 and mn_ses = school mean of ses.",
    "pisaUSA2000": "The same PISA data as the original Stata file (pisaUSA2000.dta), without ses/mn_ses.",
    "cbpp": "lme4::cbpp: contagious bovine pleuropneumonia; incidence of new cases out of size, 15 herds, 4 periods "
            "(period2-period4 dummies).",
    "contraception": "mlmRev::Contraception, Bangladesh fertility survey: use (0/1) for 1,934 women in 60 districts; "
                     "age (centred), age2, urban, livch1-livch3 (1, 2, 3+ living children vs none).",
    "verbagg": "lme4::VerbAgg: verbal aggression, 316 persons x 24 items; r2 (0/1), resp (0, 1, 2), anger, male, "
               "btype_scold, btype_shout, situ_self, mode_do, item, id.",
    "exam": "mlmRev::Exam: normalised exam scores of 4,059 students in 65 London schools; normexam, standlrt, girl, school.",
    "sleepstudy": "lme4::sleepstudy: reaction times of 18 subjects over 10 days of sleep deprivation.",
    "epilepsy": "MASS::epil: seizure counts y of 59 patients over 4 visits; trt, lbase, lage, v4, visit, lbase_trt, subject.",
    "wine": "ordinal::wine: bitterness ratings (1-5) of wines by 9 judges; temp_warm, contact_yes, judge.",
    "holzinger": "lavaan::HolzingerSwineford1939: 9 ability tests x1-x9 of 301 pupils in 2 schools.",
    "twolevel": "lavaan::Demo.twolevel: y1-y6, within covariates x1-x3, between covariates w1-w2, 200 clusters.",
    "lsat7": "LSAT section 7: 5 binary items Q1-Q5 answered by 1,000 persons.",
    "salamanders": "glmmTMB::Salamanders: salamander counts (count) in 644 surveys of 23 sites (site); minedno (1 = "
                   "site not affected by mining), cover, DOY, Wtemp (standardised), spp (species).",
    "penicillin": "lme4::Penicillin: diameter of the zone of growth inhibition, 6 samples (sample) of penicillin "
                  "each tested on 24 plates (plate): fully crossed.",
}
_FILES = {name: f"{name}.csv" for name in DESCRIPTIONS} | {"pisaUSA2000": "pisaUSA2000.dta"}


def names() -> list[str]:
    """Names of the bundled datasets."""
    return sorted(DESCRIPTIONS)


def describe(name: str) -> str:
    """Source and variables of a bundled dataset."""
    _check(name)
    return DESCRIPTIONS[name]


def _check(name: str) -> None:
    if name not in DESCRIPTIONS:
        raise GllammError(f"No bundled dataset '{name}'.{closest(name, DESCRIPTIONS)} Available: {', '.join(names())}.")


def load(name: str) -> pd.DataFrame:
    """Load a bundled dataset as a DataFrame."""
    _check(name)
    path = resources.files(__package__) / "data" / _FILES[name]
    with resources.as_file(path) as file:
        if file.suffix == ".dta":
            return pd.read_stata(file)
        return pd.read_csv(file)
