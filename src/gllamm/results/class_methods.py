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
        """Most probable class of each cluster given its responses, argmax_c P(c | y_j) (1..C), a Series indexed by
        the clusters."""
        from .latent_classes import modal_class

        return modal_class(self)

    @property
    def entropy(self) -> float:
        """Relative entropy of the posterior class probabilities p_jc = P(c | y_j) over the N clusters,
        E = 1 - sum_j sum_c (-p_jc log p_jc) / (N log C): 1 = perfect classification, 0 = none (Mplus' entropy)."""
        from .latent_classes import classification_entropy

        return classification_entropy(self)

    def class_profiles(self) -> pd.DataFrame:
        """One row per class: its probability (the average of pi_jc over the clusters), its locations e_c and, for
        latent class models, each item's mean response in the class (P(y = 1 | class) for binary items), a
        DataFrame."""
        from .latent_classes import class_profiles

        return class_profiles(self)

    @property
    def starts(self) -> pd.DataFrame:
        """A DataFrame of the log-likelihood, convergence and iterations reached from every (seeded) starting value
        of a latent class fit, best first: several starts ending at the best log-likelihood mean a global maximum
        is likely."""
        from .latent_classes import start_summary

        return start_summary(self)

    def gateaux(self, points=None) -> pd.Series:
        """The Gateaux derivative D(e) = sum_j w_j [f(y_j | e) / L_j - 1] of the log-likelihood towards a point mass
        at e, at each of ``points`` (default: a grid covering the mass points and beyond), a Series indexed by the
        points. NPML's estimate is reached when D(e) <= 0 everywhere (Lindsay); gllamm's gateaux()."""
        from .latent_classes import gateaux

        return gateaux(self, points)
