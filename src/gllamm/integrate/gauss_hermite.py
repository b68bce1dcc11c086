"""Gauss-Hermite product rules.

For  int f(x) exp(-|x|^2) dx  over R^q  the product rule uses nodes x_k (all
combinations of the one-dimensional nodes) and weights w_k (products of the
one-dimensional weights), from numpy's ``hermgauss``.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product

import numpy as np


@lru_cache(maxsize=64)
def product_rule(nip: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (nip**dim, dim) and log weights (nip**dim,) of the product rule for exp(-|x|^2)."""
    x, w = np.polynomial.hermite.hermgauss(nip)
    nodes = np.array(list(product(x, repeat=dim)), dtype=float).reshape(-1, dim)
    log_w = np.array([np.sum(np.log(c)) for c in product(w, repeat=dim)], dtype=float)
    return nodes, log_w
