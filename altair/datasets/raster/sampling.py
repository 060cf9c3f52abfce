"""Where training and evaluation windows go: valid-pixel fractions, spatial splits, grids.

Positions are (row, col) in full-resolution pixels of a scene; masks may be kept decimated
by an integer ``factor`` (a 10980x10980 scene's validity at 1/6 costs 3 MB, not 120 MB).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def integral(mask: np.ndarray) -> np.ndarray:
    """Summed-area table of a (h, w) mask: (h + 1, w + 1) int64, ``ii[r, c]`` = sum of
    ``mask[:r, :c]``."""
    ii = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), np.int64)
    ii[1:, 1:] = mask.astype(np.int64).cumsum(0).cumsum(1)
    return ii


def box_sum(ii: np.ndarray, r0: int, c0: int, r1: int, c1: int) -> int:
    """Sum of the mask over rows ``r0:r1`` and columns ``c0:c1``."""
    return int(ii[r1, c1] - ii[r0, c1] - ii[r1, c0] + ii[r0, c0])


@dataclass(frozen=True)
class Coverage:
    """A scene's valid pixels, decimated by ``factor``, as a summed-area table."""
    ii: np.ndarray
    factor: int
    height: int
    width: int

    def fraction(self, row: int, col: int, h: int, w: int) -> float:
        """Valid fraction of the window (approximate at the decimated resolution)."""
        f = self.factor
        r0, c0 = row // f, col // f
        r1 = max(r0 + 1, min(self.ii.shape[0] - 1, math.ceil((row + h) / f)))
        c1 = max(c0 + 1, min(self.ii.shape[1] - 1, math.ceil((col + w) / f)))
        return box_sum(self.ii, r0, c0, r1, c1) / ((r1 - r0) * (c1 - c0))


def decimation(height: int, width: int, max_side: int = 2048) -> int:
    """The integer factor that brings the longer side to at most ``max_side``."""
    return max(1, math.ceil(max(height, width) / max_side))


@dataclass(frozen=True)
class BlockSplit:
    """Square blocks of ``block`` pixels; ``val[i, j]`` marks the blocks held out."""
    block: int
    val: np.ndarray  # (rows of blocks, cols of blocks) bool

    def touches(self, row: int, col: int, h: int, w: int, *, val: bool) -> bool:
        """Whether the window overlaps a block of the ``val`` (True) or train (False) side."""
        b = self.block
        sel = self.val[row // b:(row + h - 1) // b + 1, col // b:(col + w - 1) // b + 1]
        return bool(sel.any() if val else (~sel).any())


def block_split(height: int, width: int, *, block: int, val_fraction: float, seed: int,
                usable: np.ndarray | None = None,
                val_blocks: list | None = None) -> BlockSplit:
    """Hold out ``val_fraction`` of the ``block``-pixel blocks, drawn with ``seed``; only
    ``usable`` blocks ((rows, cols) bool, e.g. those with valid pixels) are drawn. Or hold out
    exactly ``val_blocks`` ([(block row, block col), ...]; a row or column ``None`` = all)."""
    shape = (math.ceil(height / block), math.ceil(width / block))
    if val_blocks is not None:
        val = np.zeros(shape, bool)
        for r, c in val_blocks:
            val[slice(None) if r is None else r, slice(None) if c is None else c] = True
        return BlockSplit(block, val)
    usable = np.ones(shape, bool) if usable is None else usable
    cand = np.flatnonzero(usable.ravel())
    n_val = max(1, round(val_fraction * len(cand))) if len(cand) > 1 else 0
    val = np.zeros(shape[0] * shape[1], bool)
    val[np.random.default_rng(seed).permutation(cand)[:n_val]] = True
    return BlockSplit(block, val.reshape(shape))


def grid_windows(row0: int, col0: int, row1: int, col1: int,
                 size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Windows ``(row, col, h, w)`` of ``size`` (smaller at a small region) tiling the region
    rows ``row0:row1``, columns ``col0:col1``; the last row/column of windows ends at its edge."""
    h, w = min(size[0], row1 - row0), min(size[1], col1 - col0)

    def starts(lo: int, hi: int, n: int) -> list[int]:
        out = list(range(lo, hi - n + 1, n))
        if not out or out[-1] + n < hi:
            out.append(hi - n)
        return out
    return [(r, c, h, w) for r in starts(row0, row1, h) for c in starts(col0, col1, w)]
