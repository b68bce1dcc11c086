"""gllamm.load: a saved result (``FitResult.save``) read back, its model rebuilt from the saved formula and frame.

Nothing in the file is executed: its JSON and NumPy arrays are read as data (``results/persistence.read_saved``,
NumPy without pickles), and its formula or syntax passes the same check as any model text before formulaic sees it
(``syntax.safe_expressions``: columns, numbers, arithmetic and a list of functions). Nothing is refitted: the
estimates, covariance matrices and fit log are restored as saved, so predictions are identical. A damaged,
truncated or foreign file is a GllammError naming the file and what is wrong.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from .errors import GllammError
from .model import Model
from .options import DataOptions, ModelOptions
from .results.persistence import FORMAT, read_saved


def load(path):
    """Read a result written by ``FitResult.save(path)`` and return the FitResult: the model and design are
    rebuilt from the saved text and data, nothing is refitted, and nothing in the file is executed (JSON and
    NumPy arrays only; see the module docstring). A damaged or foreign file is a GllammError naming it."""
    from ._version import __version__

    meta, frame, arrays = read_saved(path)
    if meta.get("format") != FORMAT:
        raise GllammError(f"{path} was written in format {meta.get('format')}; this gllamm ({__version__}) reads format {FORMAT}.")
    try:
        result = _rebuild(meta, frame, arrays)
    except GllammError as error:
        raise GllammError(f"Cannot load {path}: {error}") from None
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise GllammError(f"Cannot load {path}: the file is damaged or was not written by gllamm.save "
                          f"({type(error).__name__}: {error}).") from None
    return result


def _rebuild(meta: dict, frame: pd.DataFrame, arrays: dict):
    """The FitResult of a saved file's contents: the design rebuilt from the stored formula and frame."""
    from .design import build_design
    from .families import make_family
    from .syntax import parse_formula

    options = meta["options"]
    if options["family"] == "mixed":  # the mapping {response: [family, link]} as JSON
        family = {label: tuple(value) for label, value in json.loads(options["families"]).items()}
    else:
        family = make_family(options["family"], options.get("link"))
        if "sensitivity" in options:  # (a binary response observed with error)
            from dataclasses import replace as replaced

            family = replaced(family, sensitivity=float(options["sensitivity"]),
                              specificity=float(options["specificity"]))
    if meta.get("syntax"):
        from .design.syntax_design import build_syntax_design
        from .syntax.model_syntax import parse_model_syntax

        frame.index = pd.Index(arrays["cluster_labels"])
        syntax = parse_model_syntax(meta["syntax"])
        spec, design, implied = build_syntax_design(syntax, frame, family,
                                              factor_scale=options.get("factor_scale", "loading"),
                                              cluster=options.get("cluster"), weights=arrays.get("weights_argument"),
                                              cluster_weights=arrays.get("cluster_weights_argument"),
                                              level_weights=_level_weights(arrays))
        spec, design = _with_classes(spec, design, frame, options, syntax=True)
        from .results.defined_parameters import resolve

        definitions = resolve(syntax.definitions, implied.labels or {})
        design = _with_data_rows(design, arrays)
        model = _model(meta["syntax"], frame, spec, design, True, arrays, options, implied, definitions)
        return _restore(model, meta, arrays, options)
    spec, design = build_design(parse_formula(meta["formula"]), frame, family, weights=arrays.get("weights_argument"),
                                offset=arrays.get("offset_argument"),
                                trials=arrays["trials"] if meta["trials_given"] else None,
                                cluster_weights=arrays.get("cluster_weights_argument"),
                                top_weights=arrays.get("top_weights_argument"),
                                level_weights=_level_weights(arrays),
                                scale=options.get("scale"),
                                scale_weights=options.get("scale_weights", "none"),
                                family_by=options.get("family_by"), base=options.get("base"),
                                choice_set=options.get("choice_set"), nominal=options.get("nominal"),
                                discrete=options.get("classes") is not None,
                                zero_inflation=options.get("zero_inflation"))
    spec, design = _with_classes(spec, design, frame, options, syntax=False)
    design = _with_data_rows(_with_row_index(design, arrays["row_index"]), arrays)
    return _restore(_model(meta["formula"], frame, spec, design, False, arrays, options), meta, arrays, options)


def _model(text, frame, spec, design, syntax: bool, arrays, options, implied=None, definitions=()) -> Model:
    """The Model of a saved result, with the options it was fitted with."""
    data_options = DataOptions(weights=arrays.get("weights_argument"), cluster_weights=arrays.get("cluster_weights_argument"),
                               top_weights=arrays.get("top_weights_argument"), level_weights=_level_weights(arrays),
                               scale_weights=options.get("scale_weights", "none"), offset=arrays.get("offset_argument"),
                               trials=arrays.get("trials") if options.get("trials") is not None else None,
                               cluster=options.get("cluster"), group=options.get("group"))
    model_options = ModelOptions(family=spec.family, family_by=options.get("family_by"), base=options.get("base"),
                                 choice_set=options.get("choice_set"), nominal=options.get("nominal"),
                                 scale=options.get("scale"), zero_inflation=options.get("zero_inflation"),
                                 classes=options.get("classes"),
                                 concomitant=options.get("concomitant"), known_class=options.get("known_class"),
                                 factor_scale=options.get("factor_scale", "loading"))
    return Model(text, frame, spec, design, syntax, data_options, model_options,
                 dict(implied.fix) if implied else {}, tuple(implied.equal) if implied else (), definitions)


def _with_classes(spec, design, frame, options, syntax: bool):
    """The discrete latent variable of a latent class fit (same classes, membership model, known classes)."""
    if options.get("classes") is None:
        return spec, design
    from .design.latent_classes import discrete_model

    return discrete_model(spec, design, frame, int(options["classes"]), syntax=syntax,
                          target=options.get("class_target"), concomitant=options.get("concomitant"),
                          known_class=options.get("known_class"))


def _restore(model: Model, meta, arrays, options):
    """The saved estimates, covariances and fit log on the rebuilt model (responses without error flagged again)."""
    from .design.exact_indicators import mark_zero_dispersions
    from .integrate import Integration
    from .optimize import OptimizationResult
    from .results.construction import make_result
    from .spec import ParameterTable
    from .spec.constraints import Constraints

    spec, design = model.spec, model.design
    table = ParameterTable(spec)
    if table.size != len(arrays["theta"]):
        raise GllammError(f"the file holds {len(arrays['theta'])} parameters but its model has {table.size} in this "
                          f"gllamm; it was written by gllamm {meta.get('gllamm_version')} with another parameter layout.")
    integration = Integration(*meta["integration"])
    zero = np.isneginf(np.asarray(arrays["theta"], dtype=float))  # residual variances fixed at exactly 0
    if zero.any():
        mark_zero_dispersions(table, Constraints(np.eye(zero.size)[:, ~zero], np.where(zero, -np.inf, 0.0)), design,
                              integration)
    hessian = -np.linalg.pinv(arrays["theta_vcov"])
    optimum = OptimizationResult(arrays["theta"], meta["loglik"], arrays["gradient"], hessian, meta["converged"],
                                 meta["iterations"], meta["message"], meta["seconds"], meta["fit_log"])
    check = meta.get("quadrature_check")
    result = make_result(spec, table, design, integration, optimum, options, warn=False,
                          theta_vcov=arrays["theta_vcov"],
                          quadrature_check=_check(check), definitions=model.definitions, model=model)
    return result


def _check(saved: dict | None):
    """The saved quadrature or Laplace check (None if the fit had none)."""
    from .optimize.laplace_check import LaplaceCheck
    from .optimize.quadrature_check import QuadratureCheck

    if saved is None:
        return None
    if saved.get("laplace"):
        return LaplaceCheck(float(saved["loglik"]), int(saved["check_nip"]), float(saved["check_loglik"]),
                            int(saved["n_clusters"]))
    return QuadratureCheck(int(saved["nip"]), float(saved["loglik"]), int(saved["check_nip"]),
                           float(saved["check_loglik"]), str(saved.get("rule", "product")),
                           str(saved.get("check_rule", "product")))


def _with_data_rows(design, arrays):
    """The saved positions of the design's rows in the user's data frame and its index (files from earlier
    versions: those of the saved frame)."""
    from dataclasses import replace

    if "data_rows" not in arrays:
        return design
    return replace(design, data_rows=np.asarray(arrays["data_rows"]), data_index=pd.Index(arrays["data_index"]))


def _with_row_index(design, row_index):
    from dataclasses import replace

    return replace(design, row_index=pd.Index(row_index))


def _level_weights(arrays: dict) -> dict | None:
    """The saved level_weights= values, {level: values}."""
    return {k.split(":", 1)[1]: v for k, v in arrays.items() if k.startswith("level_weights:")} or None
