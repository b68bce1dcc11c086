"""The options a fit was made with, by stage, as given: what differs from the defaults of gllamm.options."""

from __future__ import annotations

from dataclasses import fields

import pandas as pd


def settings(result) -> pd.DataFrame:
    """Rows (stage, option, value) of every option that differs from its default: the data and model options of
    the result's Model, the estimation and scale-out options of its fit. A result without its Model (made by hand)
    has the options it recorded."""
    rows = []
    model = result.model
    groups = [("data", getattr(model, "data_options", None)), ("model", getattr(model, "model_options", None)),
              ("estimation", result.estimation), ("scale-out", result.scale_options)]
    for stage, options in groups:
        if options is None:
            continue
        for field in fields(options):
            value = getattr(options, field.name)
            if not _is_default(value, field.default):
                rows.append(dict(stage=stage, option=field.name, value=_shown(value)))
    if model is None:
        rows = [dict(stage="recorded", option=k, value=v) for k, v in result.options.items() if v is not None]
    frame = pd.DataFrame(rows, columns=["stage", "option", "value"])
    frame.attrs["model"] = getattr(model, "text", None)
    return frame


def _is_default(value, default) -> bool:
    if isinstance(value, (pd.DataFrame, pd.Series)) or hasattr(value, "shape"):
        return False
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False


def _shown(value):
    """Arrays by their shape (weights given as arrays), families by name, everything else as given."""
    if hasattr(value, "shape") and not isinstance(value, str):
        return f"array of {len(value)} values"
    if hasattr(value, "link") and hasattr(value, "name"):
        return f"{value.name} ({value.link.name} link)"
    return value
