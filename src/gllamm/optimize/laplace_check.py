"""Is the Laplace approximation usable at its estimates? (A fit by method="laplace", checked by quadrature.)

Laplace's approximation (lme4's nAGQ = 1) of each cluster's integral is exact for Gaussian responses and close for
long clusters, but for short binary clusters it can be poor, and an optimiser can exploit its error the way it
exploits too few quadrature points: a 2PL item model on 60 persons drifts to loadings of 40-60 with a Laplace
log-likelihood 10-30 above the exact one at the same estimates (and above the exact maximum). After a Laplace fit
of a single level of continuous latent variables, log L at the estimates is computed again by adaptive quadrature;
when the two differ by more than ``ERROR_PER_CLUSTER`` per cluster (0.006 on the LSAT, VerbAgg and contraception
data; 0.17-0.5 on the drifting 2PLs), the fit is reported as not converged, with both numbers and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR_PER_CLUSTER = 0.05  # |log L by quadrature - Laplace's| / clusters beyond which Laplace is not usable
CHECK_POINTS = 8  # adaptive quadrature points per latent dimension for the check (at most 3 dimensions)


@dataclass(frozen=True)
class LaplaceCheck:
    """Laplace's log L at the estimates and log L there by adaptive quadrature with ``check_nip`` points."""

    loglik: float
    check_nip: int
    check_loglik: float
    n_clusters: int

    @property
    def difference(self) -> float:
        """log L by quadrature minus Laplace's, at the same estimates."""
        return self.check_loglik - self.loglik

    @property
    def passed(self) -> bool:
        """|difference| <= ERROR_PER_CLUSTER per cluster (a NaN difference fails)."""
        return bool(abs(self.difference) <= ERROR_PER_CLUSTER * self.n_clusters)

    def describe(self) -> str:
        """One line for summaries and messages."""
        verdict = "passed" if self.passed else "FAILED"
        return (f"Laplace check {verdict}: log L at the estimates is {self.loglik:.4f} by the Laplace approximation "
                f"and {self.check_loglik:.4f} by adaptive quadrature with {self.check_nip} points (difference "
                f"{self.difference:.3g}, {self.difference / max(self.n_clusters, 1):.2g} per cluster; tolerance "
                f"{ERROR_PER_CLUSTER:g} per cluster)")

    def as_dict(self) -> dict:
        """The numbers, for saving."""
        return dict(laplace=True, loglik=self.loglik, check_nip=self.check_nip, check_loglik=self.check_loglik,
                    n_clusters=self.n_clusters)


def needs_laplace_check(integration, spec) -> bool:
    """A Laplace fit of one level of at most three continuous latent variables (quadrature is affordable)."""
    return integration.method == "laplace" and len(spec.levels) == 1 and not spec.levels[0].discrete \
        and spec.n_latent <= 3 and not integration.within_classes


def failure_message(check: LaplaceCheck, message: str) -> str:
    """The message of a fit whose Laplace check failed."""
    return (f"{check.describe()}; the Laplace approximation is poor at these estimates and the fit may exploit its "
            f"error (estimates drifting to large loadings or variances): use method='adaptive' ({message})")
