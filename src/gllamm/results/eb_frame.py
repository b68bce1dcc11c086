"""The table of empirical Bayes predictions of one level: means, SDs and correlations per unit."""

from __future__ import annotations

import numpy as np
import pandas as pd


def eb_frame(result, means, covs, index: int = 0, labels=None) -> pd.DataFrame:
    """Posterior means (units x latent variables of level ``index``) with the SDs and correlations from their
    covariances (units x q x q), indexed by the units' labels."""
    level = result.spec.levels[index]
    names = list(level.latent_names)
    index = pd.Index(result.design.cluster_labels if labels is None else labels, name=level.name)
    out = pd.DataFrame(means, index=index, columns=names)
    for k, name in enumerate(names):
        out[f"sd({name})"] = np.sqrt(np.clip(covs[:, k, k], 0, None))
    for k in range(len(names)):
        for m in range(k):
            denom = np.sqrt(covs[:, k, k] * covs[:, m, m])
            out[f"corr({names[m]},{names[k]})"] = np.where(denom > 0, covs[:, k, m] / np.where(denom > 0, denom, 1), 0.0)
    return out
