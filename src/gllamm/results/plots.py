"""Plots (matplotlib; each function returns the Figure)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def caterpillar(result, latent: str | None = None, level: float = 0.95, ax=None):
    """EB posterior means of one latent variable with intervals mean +- z * posterior SD, sorted."""
    import matplotlib.pyplot as plt
    from statistics import NormalDist

    eb = result.empirical_bayes()
    latent = latent or result.spec.levels[0].latent_names[0]
    order = eb[latent].sort_values().index
    z = NormalDist().inv_cdf(0.5 + level / 2)
    mean, sd = eb.loc[order, latent].to_numpy(), eb.loc[order, f"sd({latent})"].to_numpy()
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4))
    else:
        fig = ax.figure
    rank = np.arange(len(order))
    ax.errorbar(rank, mean, yerr=z * sd, fmt="o", markersize=3, elinewidth=0.8)
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xlabel(f"{result.spec.levels[0].name} (ranked)")
    ax.set_ylabel(f"EB prediction of {latent}")
    ax.set_title(f"Empirical Bayes predictions with {int(level * 100)}% intervals")
    return fig


def conditional_marginal_curves(result, grid: pd.DataFrame, x: str, by: str | None = None, ax=None,
                                labels: dict | None = None):
    """Conditional (latent variables at 0, the median) and marginal mean curves against ``x``.

    grid: rows at which to predict (covariate patterns along x, for each value of ``by``).
    Solid lines for the first value of ``by``, dashed for the next; the marginal curve of each
    pair is the one closer to the overall mean (as in the seed article's Figure 1).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4.5))
    else:
        fig = ax.figure
    groups = [(None, grid)] if by is None else list(grid.groupby(by, sort=True))
    styles = ["-", "--", ":", "-."]
    for (value, part), style in zip(groups, styles):
        part = part.sort_values(x)
        conditional = result.predict(part, latent="zero")
        marginal = result.predict(part, latent="marginal")
        name = "" if by is None else (labels or {}).get(value, f"{by} = {value}")
        ax.plot(part[x], conditional, style, color="black", label=f"conditional (median) {name}".strip())
        ax.plot(part[x], marginal, style, color="tab:blue", label=f"marginal {name}".strip())
    ax.set_xlabel(x)
    ax.set_ylabel("predicted probability" if result.family.name == "binomial" else "predicted mean")
    ax.legend(frameon=False, fontsize=8)
    return fig


def item_characteristic_curves(result, ax=None, points: int = 200):
    """Item characteristic curves P(y_j = 1 | eta) = h(beta_j + lambda_j eta) of a binary factor (IRT) model,
    over eta within +-3 SDs of the latent variable; one curve per indicator."""
    import matplotlib.pyplot as plt

    from ..errors import GllammError
    from ..objective import latent_structure
    from ..families.links import inverse_link_numpy

    indicators = getattr(result.spec.formula, "indicators", None)
    if indicators is None or result.family.name != "binomial" or result.spec.levels[0].dim != 1:
        raise GllammError("Item characteristic curves need a one-factor model for binary items written in syntax.")
    params = result.table_spec.unpack(np.asarray(result.theta))
    loadings, _, ML = (np.asarray(x) for x in latent_structure(result.table_spec, params))
    sd = float(abs(ML[0, 0]))
    grid = np.linspace(-3 * sd, 3 * sd, points)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4.5))
    else:
        fig = ax.figure
    for j, name in enumerate(indicators):
        intercept = float(result.params[f"{name}~1"])
        ax.plot(grid, inverse_link_numpy(result.family.link.name, intercept + loadings[0, j] * grid), label=name)
    latent = result.spec.levels[0].latent_names[0]
    ax.set_xlabel(f"{latent} (latent variable)")
    ax.set_ylabel("P(correct response)")
    ax.set_title("Item characteristic curves")
    ax.legend(frameon=False, fontsize=8)
    return fig
