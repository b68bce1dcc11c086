"""Latent class post-estimation of a fit (a mixin of FitResult): class probabilities, modal classes, entropy,
class profiles, the random starts and the Gateaux derivative of NPML."""

from __future__ import annotations

import pandas as pd


class LatentClassMethods:
    """class_probabilities, modal_class, entropy, class_profiles, starts, gateaux."""

    def class_probabilities(self, kind: str = "posterior", newdata: pd.DataFrame | None = None) -> pd.DataFrame:
        """Class probabilities per cluster: "posterior" P(c | y_j) by Bayes' rule, or "prior" pi_jc from the
        class-membership model (also for ``newdata``)."""
        from ..errors import check_choice
        from .latent_classes import posterior_class_probabilities, prior_class_probabilities

        kind = check_choice("kind", kind, ("posterior", "prior"))
        if kind == "posterior":
            if newdata is not None:
                from ..errors import GllammError

                raise GllammError("Posterior class probabilities are for the fitted clusters; use kind='prior' "
                                  "for new data.")
            return posterior_class_probabilities(self)
        return prior_class_probabilities(self, newdata)

    def modal_class(self) -> pd.Series:
        """Most probable class (1..C) of each cluster given its responses."""
        from .latent_classes import modal_class

        return modal_class(self)

    @property
    def entropy(self) -> float:
        """Relative entropy of the posterior class probabilities: 1 = perfect classification, 0 = none."""
        from .latent_classes import classification_entropy

        return classification_entropy(self)

    def class_profiles(self) -> pd.DataFrame:
        """Per class: probability, locations and (latent class models) each item's mean response in the class."""
        from .latent_classes import class_profiles

        return class_profiles(self)

    @property
    def starts(self) -> pd.DataFrame:
        """Log-likelihood, convergence and iterations from every starting value of a latent class fit."""
        from .latent_classes import start_summary

        return start_summary(self)

    def gateaux(self, points=None) -> pd.Series:
        """Gateaux derivative of the log-likelihood towards a point mass at each point (NPML check)."""
        from .latent_classes import gateaux

        return gateaux(self, points)
