"""One program for every number of quadrature points: the rule as data, padded to a few sizes.

A fit by quadrature uses rules of several sizes: ``nip`` points, ``nip + 8`` for the quadrature check, and more
after a failed check (8, 16, 24, checked with 32). Compiled with the rule as a constant, each size is a new
program. Here, for one latent variable on small data, the nodes x_k and log weights log w_k are arrays the
programs take, padded to ``PADDED_SIZES`` points with nodes at 0 and weights 0 (log w = -inf):

    log int exp(g(u)) du  ~  logsumexp_k (log w_k + x_k^2 + g(u_k)) + ...,

and a term with log w_k = -inf adds exactly nothing (nor to any derivative), so the value is that of the
``nip``-point rule while the program serves every ``nip`` up to the padded size. The work grows with the padded
size, so this is done only where rows x padded points stay below ``SMALL_WORK``, where compiling costs more than
computing. There the quadrature check's log-likelihood comes from the iterations' value-and-gradient program
(``SharedPrograms.value``), so a fit whose check passes compiles no program for it."""

from __future__ import annotations

import numpy as np

from .gauss_hermite import product_rule

RULE_NODES = "rule_nodes"  # design keys of the padded rule
RULE_LOG_WEIGHTS = "rule_log_weights"
PADDED_SIZES = (32, 64)
SMALL_WORK = 100_000  # row slots x padded points up to which the rule is padded (a fit's evaluations cost up to 4x
# more there, a few ms, against the seconds of compiling a program per rule)


def padded_size(table, integration, rows: int) -> int | None:
    """The padded number of points for this model and ``rows`` row slots (chunks x width), or None (the rule stays a
    constant): one level of one continuous latent variable, adaptive or plain Gauss-Hermite quadrature, small data."""
    spec = table.spec
    if integration.method not in ("adaptive", "ghq") or integration.within_classes or integration.reml \
            or integration.rule != "product":
        return None
    if len(spec.levels) != 1 or spec.crossed or spec.levels[0].discrete or spec.levels[0].dim != 1:
        return None
    size = next((s for s in PADDED_SIZES if integration.nip <= s), None)
    return size if size is not None and rows * size <= SMALL_WORK else None


def padded_rule(nip: int, size: int) -> dict:
    """{RULE_NODES: (size, 1), RULE_LOG_WEIGHTS: (size,)}: the nip-point rule, then zero-weight points at 0."""
    nodes, log_w = product_rule(nip, 1)
    padded_nodes = np.zeros((size, 1))
    padded_nodes[:nip] = nodes
    padded_log_w = np.full(size, -np.inf)
    padded_log_w[:nip] = log_w
    return {RULE_NODES: padded_nodes, RULE_LOG_WEIGHTS: padded_log_w}
