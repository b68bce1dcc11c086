"""Saved results: a zip of JSON metadata, the model frame and NumPy arrays (``save``), read back as data
(``read_saved``; ``gllamm.load`` in loading.py rebuilds the model from them).

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
                integration=[result.integration.method, result.integration.nip, result.integration.classes,
                             bool(result.integration.reml), result.integration.rule], loglik=result.loglik,
                converged=result.converged, iterations=result.iterations, message=result.message,
                seconds=result.seconds, fit_log=result.fit_log, trials_given=result.options.get("trials") is not None,
                quadrature_check=None if result.quadrature_check is None else result.quadrature_check.as_dict())
    arrays = dict(theta=result.theta, theta_vcov=result.theta_vcov, gradient=result.gradient,
                  cluster_labels=_storable(np.asarray(design.cluster_labels)),
                  trials=design.trials, row_index=_storable(np.asarray(design.row_index)))
    if design.data_rows is not None:  # (predictions are aligned to the user's rows)
        arrays.update(data_rows=np.asarray(design.data_rows), data_index=_storable(np.asarray(design.data_index)))
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


_MEMBERS = ("meta.json", "model_frame.json", "arrays.npz")


def read_saved(path):
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


def _storable(labels: np.ndarray) -> np.ndarray:
    """Labels NumPy can read back without pickle: text labels (object arrays) as a string array."""
    return labels.astype(str) if labels.dtype == object else labels
