"""Save and load fitted results: a zip of JSON metadata, the model frame and NumPy arrays.

No pickles: the model is rebuilt from the formula and the saved model frame, and the
estimates, covariance matrices and fit log are restored, so predictions are identical.
Loading evaluates no code from the file: JSON and NumPy arrays are read as data (NumPy without
pickles), and the formulas in the file pass the same check as any formula before formulaic
sees them (``syntax.safe_expressions``: columns, numbers, arithmetic and a list of functions).
A damaged, truncated or foreign file is a GllammError naming the file and what is wrong.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import GllammError

FORMAT = 1


def save(result, path) -> Path:
    """Write a fitted result to ``path`` (a .gllamm zip file)."""
    from .._version import __version__

    path = Path(path)
    design = result.design
    syntax = getattr(result.spec.formula, "text", None)
    meta = dict(format=FORMAT, gllamm_version=__version__, formula=result.spec.formula.formula, syntax=syntax,
                options={k: list(v) if isinstance(v, tuple) else v for k, v in result.options.items()
                         if isinstance(v, (str, int, float, type(None)))
                         or (isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v))},
                integration=[result.integration.method, result.integration.nip, result.integration.classes], loglik=result.loglik,
                converged=result.converged, iterations=result.iterations, message=result.message,
                seconds=result.seconds, fit_log=result.fit_log, trials_given=result.options.get("trials") is not None,
                quadrature_check=None if result.quadrature_check is None else result.quadrature_check.as_dict())
    arrays = dict(theta=result.theta, theta_vcov=result.theta_vcov, gradient=result.gradient,
                  cluster_labels=_storable(np.asarray(design.cluster_labels)),
                  trials=design.trials, row_index=np.asarray(design.row_index))
    for name in ("offset_argument", "weights_argument", "cluster_weights_argument", "top_weights_argument"):
        if getattr(design, name) is not None:
            arrays[name] = getattr(design, name)
    for level, values in (design.level_weights_argument or {}).items():
        arrays[f"level_weights:{level}"] = values
    for column in design.model_frame.columns:  # JSON text is not exact for every double: keep their bits
        if pd.api.types.is_float_dtype(design.model_frame[column]):
            arrays[f"frame:{column}"] = design.model_frame[column].to_numpy()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("meta.json", json.dumps(meta, default=float))
        archive.writestr("model_frame.json", design.model_frame.reset_index(drop=True).to_json(orient="table"))
        archive.writestr("arrays.npz", buffer.getvalue())
    return path


def load(path):
    """Read a result written by ``save``; the model and design are rebuilt, nothing is refitted, and nothing
    in the file is executed (see the module docstring)."""
    from .._version import __version__

    meta, frame, arrays = _read(path)
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


_MEMBERS = ("meta.json", "model_frame.json", "arrays.npz")


def _read(path):
    """(metadata, model frame, arrays) of a saved result, read as data only; GllammError if not readable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No saved result at {path}.")
    try:
        with zipfile.ZipFile(path) as archive:
            missing = [name for name in _MEMBERS if name not in archive.namelist()]
            if missing:
                raise GllammError(f"{path} is not a gllamm result: it has no {', '.join(missing)} (was it written by "
                                  "FitResult.save?).")
            members = {name: archive.read(name) for name in _MEMBERS}
    except GllammError:
        raise
    except zipfile.BadZipFile:
        raise GllammError(f"{path} is not a gllamm result (not a zip file; damaged or truncated?).") from None
    except Exception as error:  # zlib.error, EOFError, CRC errors of a damaged member
        raise GllammError(f"{path} is damaged: {type(error).__name__}: {error}") from None
    try:
        meta = json.loads(members["meta.json"])
        frame = pd.read_json(io.StringIO(members["model_frame.json"].decode()), orient="table")
        with np.load(io.BytesIO(members["arrays.npz"]), allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except Exception as error:  # JSONDecodeError, UnicodeDecodeError, BadZipFile of the arrays, pickled arrays
        raise GllammError(f"{path} is damaged: {type(error).__name__}: {error}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("options"), dict):
        raise GllammError(f"{path} is not a gllamm result: its meta.json has no options.")
    for key in [k for k in arrays if k.startswith("frame:")]:
        frame[key[6:]] = arrays.pop(key)
    return meta, frame, arrays


def _rebuild(meta: dict, frame: pd.DataFrame, arrays: dict):
    """The FitResult of a saved file's contents: the design rebuilt from the stored formula and frame."""
    from ..design import build_design
    from ..families import make_family
    from ..syntax import parse_formula

    options = meta["options"]
    if options["family"] == "mixed":  # the mapping {response: [family, link]} as JSON
        family = {label: tuple(value) for label, value in json.loads(options["families"]).items()}
    else:
        family = make_family(options["family"], options.get("link"))
    if meta.get("syntax"):
        from ..design.syntax_design import build_syntax_design
        from ..syntax.model_syntax import parse_model_syntax

        frame.index = pd.Index(arrays["cluster_labels"])
        syntax = parse_model_syntax(meta["syntax"])
        spec, design, implied = build_syntax_design(syntax, frame, family,
                                              factor_scale=options.get("factor_scale", "loading"),
                                              cluster=options.get("cluster"), weights=arrays.get("weights_argument"),
                                              cluster_weights=arrays.get("cluster_weights_argument"),
                                              level_weights=_level_weights(arrays))
        spec, design = _with_classes(spec, design, frame, options, syntax=True)
        from .defined_parameters import resolve

        return _restore(spec, design, meta, arrays, options, resolve(syntax.definitions, implied.labels or {}))
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
                                discrete=options.get("classes") is not None)
    spec, design = _with_classes(spec, design, frame, options, syntax=False)
    design = _with_row_index(design, arrays["row_index"])
    return _restore(spec, design, meta, arrays, options)


def _with_classes(spec, design, frame, options, syntax: bool):
    """The discrete latent variable of a latent class fit (same classes, membership model, known classes)."""
    if options.get("classes") is None:
        return spec, design
    from ..design.latent_classes import discrete_model

    return discrete_model(spec, design, frame, int(options["classes"]), syntax=syntax,
                          target=options.get("class_target"), concomitant=options.get("concomitant"),
                          known_class=options.get("known_class"))


def _restore(spec, design, meta, arrays, options, definitions: tuple = ()):
    from .construction import make_result
    from ..integrate import Integration
    from ..optimize import OptimizationResult
    from ..optimize.quadrature_check import QuadratureCheck
    from ..spec import ParameterTable

    table = ParameterTable(spec)
    if table.size != len(arrays["theta"]):
        raise GllammError(f"the file holds {len(arrays['theta'])} parameters but its model has {table.size} in this "
                          f"gllamm; it was written by gllamm {meta.get('gllamm_version')} with another parameter layout.")
    integration = Integration(*meta["integration"])
    hessian = -np.linalg.pinv(arrays["theta_vcov"])
    optimum = OptimizationResult(arrays["theta"], meta["loglik"], arrays["gradient"], hessian, meta["converged"],
                                 meta["iterations"], meta["message"], meta["seconds"], meta["fit_log"])
    check = meta.get("quadrature_check")
    result = make_result(spec, table, design, integration, optimum, options, warn=False,
                          theta_vcov=arrays["theta_vcov"],
                          quadrature_check=None if check is None else QuadratureCheck(
                              int(check["nip"]), float(check["loglik"]), int(check["check_nip"]),
                              float(check["check_loglik"])), definitions=definitions)
    return result


def _with_row_index(design, row_index):
    from dataclasses import replace

    return replace(design, row_index=pd.Index(row_index))


def _storable(labels: np.ndarray) -> np.ndarray:
    """Labels NumPy can read back without pickle: text labels (object arrays) as a string array."""
    return labels.astype(str) if labels.dtype == object else labels


def _level_weights(arrays: dict) -> dict | None:
    """The saved level_weights= values, {level: values}."""
    return {k.split(":", 1)[1]: v for k, v in arrays.items() if k.startswith("level_weights:")} or None
