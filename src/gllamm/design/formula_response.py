"""The response of a formula model, coded for its family: numbers (with binomial trials from cbind() or trials=),
ordered categories (ordinal), category codes (nominal) or ranks within choice sets, and for mixed responses each
row's family and residual variance."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import GllammError
from ..families.mixed import make_mixed_family
from .choice_sets import code_ranks
from .design import _evaluate, _numeric_column
from .nominal import code_nominal
from .ordinal_response import code_ordinal


@dataclass
class Response:
    """A coded response and what its family needs besides."""

    y: np.ndarray
    trials: np.ndarray
    family: object  # the family (a MixedFamily made from the mapping for mixed responses)
    categories: tuple = ()  # ordinal: category labels, lowest first
    nominal: tuple | None = None  # nominal: (codes, labels, base)
    member: np.ndarray | None = None  # mixed: each row's family
    dispersion_index: np.ndarray | None = None  # mixed: each row's residual variance / dispersion
    dispersion_names: tuple | None = None
    dispersion_families: tuple | None = None
    set_codes: np.ndarray | None = None  # choice sets: each row's set
    set_labels: np.ndarray | None = None


def formula_response(formula, cc: pd.DataFrame, family, mapping, family_by, scale, choice_set, base,
                     trials: np.ndarray | None) -> Response:
    """The response of the complete rows ``cc``; ``trials``: trials= on those rows (None if not given)."""
    response = Response(np.zeros(0), np.zeros(0), family)
    if mapping is not None:
        _mixed(response, cc, mapping, family_by, scale)
        family = response.family
    if formula.cbind:
        successes = _numeric_column(_evaluate(formula.cbind[0], cc), formula.cbind[0])
        failures = _numeric_column(_evaluate(formula.cbind[1], cc), formula.cbind[1])
        if family.name != "binomial":
            raise GllammError("cbind(successes, failures) responses need family='binomial'.")
        if np.any(failures < 0):
            raise GllammError(f"cbind(): failures '{formula.cbind[1]}' has negative values.")
        y, n_trials = successes, successes + failures
    elif family.name == "multinomial" and choice_set is not None:
        if base is not None:
            raise GllammError("base= is for a nominal response (one row per observation); with choice_set= the "
                              "base alternative is the reference level of its alternative-specific constants, "
                              "e.g. C(mode, Treatment('bus')).")
        set_codes, set_labels = pd.factorize(cc[choice_set], sort=True)
        response.set_codes, response.set_labels = set_codes, np.asarray(set_labels)
        y, n_trials = code_ranks(_raw(formula, cc), set_codes, np.asarray(set_labels), formula.response).astype(float), None
    elif family.name == "multinomial":
        response.nominal = code_nominal(_raw(formula, cc), formula.response, base)
        y, n_trials = response.nominal[0].astype(float), None
    elif family.name == "ordinal":
        y, response.categories = code_ordinal(_raw(formula, cc), formula.response)
        n_trials = trials
    else:
        y = _numeric_column(_evaluate(formula.response, cc), formula.response)
        n_trials = trials
    if trials is not None and formula.cbind:
        raise GllammError("Give the number of trials either with cbind() or with trials=, not both.")
    if n_trials is not None and family.name not in ("binomial", "mixed"):
        raise GllammError(f"trials= applies to family='binomial' only (this model has family='{family.name}').")
    if response.member is not None:
        family.validate(y, n_trials, response.member)
    else:
        family.validate(y, n_trials, formula.response)
    if n_trials is None:
        n_trials = np.ones_like(y)
    if family.name == "binomial" and np.any(y != np.round(y)):
        raise GllammError(f"Binomial response '{formula.response}' must hold whole numbers of successes.")
    response.y, response.trials = y, n_trials
    return response


def _raw(formula, cc: pd.DataFrame):
    """The response column (or the values of its expression) as given."""
    return cc[formula.response] if formula.response in cc.columns else _evaluate(formula.response, cc)


def _mixed(response: Response, cc: pd.DataFrame, mapping: dict, family_by: str, scale) -> None:
    """Mixed responses: the MixedFamily of the response types in ``family_by``, each row's member and dispersion."""
    if scale is not None:
        raise GllammError("scale= cannot yet be combined with mixed responses.")
    types = cc[family_by].astype(str)
    family, members = make_mixed_family(mapping, sorted(types.unique()))
    if any(f.name == "ordinal" for f in family.members):
        raise GllammError("Ordinal responses among mixed responses are available in model syntax, where each "
                          "ordinal item gets thresholds of its own (e.g. 'f =~ y + o' with family={'y': "
                          "'gaussian', 'o': 'ordinal'}); a formula's shared fixed part cannot hold them.")
    response.family = family
    response.member = types.map(members).to_numpy().astype(np.int32)
    with_dispersion = [k for k, f in enumerate(family.members) if f.has_dispersion]
    response.dispersion_names = tuple(f"var(Residual|{family.labels[k]})" if family.members[k].name == "gaussian"
                                      else f"dispersion|{family.labels[k]}" for k in with_dispersion)
    response.dispersion_families = tuple(family.members[k].name for k in with_dispersion)
    lookup = np.zeros(len(family.members), dtype=np.int32)
    lookup[with_dispersion] = np.arange(len(with_dispersion))
    response.dispersion_index = lookup[response.member]
