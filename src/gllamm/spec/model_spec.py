"""The model: which latent variables live at which level, and the response family.

A ModelSpec holds only structure (names, shapes, blocks); data-dependent
arrays live in a Design. Together with the ParameterTable it determines the
log-likelihood completely.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..families import Family
from ..syntax import FormulaSpec


@dataclass(frozen=True)
class LevelSpec:
    """Latent variables at one grouping level.

    The latent vector at this level is b = L u with u ~ N(0, I), so that
    Psi = Cov(b) = L L'. ``blocks`` partition the latent variables into
    mutually uncorrelated groups (block-diagonal Psi); L is lower triangular
    within each block.
    """

    name: str
    latent_names: tuple[str, ...]
    blocks: tuple[tuple[int, ...], ...]

    @property
    def dim(self) -> int:
        return len(self.latent_names)

    @property
    def cholesky_positions(self) -> tuple[tuple[int, int], ...]:
        """(row, col) of each free Cholesky element, block by block, row-major lower triangle."""
        positions = []
        for block in self.blocks:
            for i, row in enumerate(block):
                for col in block[: i + 1]:
                    positions.append((row, col))
        return tuple(positions)


@dataclass(frozen=True)
class ModelSpec:
    """Structure of a GLLAMM: response family, fixed effects, latent variables per level."""

    formula: FormulaSpec
    family: Family
    fixed_names: tuple[str, ...]
    levels: tuple[LevelSpec, ...]

    @property
    def n_latent(self) -> int:
        return sum(level.dim for level in self.levels)
