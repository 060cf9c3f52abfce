"""Where training and evaluation windows go: valid-pixel fractions, spatial splits, grids.

Positions are (row, col) in full-resolution pixels of a scene; masks may be kept decimated
by an integer ``factor`` (a 10980x10980 scene's validity at 1/6 costs 3 MB, not 120 MB).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from altair.errors import DataError


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


# --- foreground oversampling (nnU-Net: Isensee et al., Nature Methods 2021, draws a third of
# its patches centred on a voxel of a foreground class) -----------------------------------
OVERSAMPLE_KEYS = ('share', 'classes')


def oversample_options(cfg: dict | None, num_classes: int, *, owner: str,
                       error: type[DataError] = DataError) -> tuple[float, tuple | None]:
    """``(share, classes)`` of the ``oversample`` option (``(0.0, None)`` without it).

    Args:
        cfg: ``dict(share=1/3, classes=None)`` or None.
        num_classes: how many classes the dataset has.
        owner: the dataset class named in the messages.
        error: the :class:`~altair.errors.DataError` subclass raised.

    Raises:
        DataError: (``error``) an unknown key, a share outside [0, 1] or an unknown class index.
    """
    if cfg is None:
        return 0.0, None
    if not isinstance(cfg, dict):
        raise error(f"{owner} oversample {cfg!r}: give dict(share=1/3, classes=None)")
    unknown = sorted(set(cfg) - set(OVERSAMPLE_KEYS))
    if unknown:
        raise error(f"{owner} oversample key '{unknown[0]}': choose "
                    f"{' or '.join(OVERSAMPLE_KEYS)}")
    share = cfg.get('share', 1 / 3)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise error(f'{owner} oversample share {share!r}: give a fraction in [0, 1]')
    classes = cfg.get('classes')
    if classes is not None:
        bad = [k for k in classes if isinstance(k, bool) or not isinstance(k, (int, np.integer))
               or not 0 <= k < num_classes] or ([] if len(classes) else ['[]'])
        if bad:
            raise error(f'{owner} oversample classes: {bad[0]!r} is not a class index; give '
                        f'indices in [0, {num_classes - 1}] or None')
        classes = tuple(sorted({int(k) for k in classes}))
    return float(share), classes


def minority_classes(counts: np.ndarray) -> list[int]:
    """The classes with pixels, except the most frequent one (the lowest index on a tie).

    Args:
        counts: (num_classes,) pixel count of each class.
    """
    counts = np.asarray(counts)
    if not (counts > 0).any():
        return []
    top = int(np.argmax(counts))
    return [int(k) for k in np.flatnonzero(counts > 0) if k != top]


def centred_origin(centre, size: int, extent: int):
    """Start of a ``size``-pixel window whose centre pixel (``start + size // 2``) is
    ``centre``, moved inside ``[0, extent)``; ints or arrays."""
    return np.clip(np.asarray(centre) - size // 2, 0, extent - size)


def centre_cells_allowed(shape: tuple[int, int], factor: int, size: tuple[int, int],
                         extent: tuple[int, int], split: BlockSplit | None, *,
                         val: bool) -> np.ndarray:
    """(h, w) bool over the cells of a mask decimated by ``factor``: True where every window
    of ``size`` centred on a full-resolution pixel of the cell (clamped to the scene of
    ``extent`` (height, width)) stays off the blocks of the ``val`` side (see
    :meth:`BlockSplit.touches`); all True without a split."""
    if split is None:
        return np.ones(shape, bool)

    def spans(n: int, win: int, ext: int) -> tuple[np.ndarray, np.ndarray]:
        first = np.arange(n) * factor  # the cell's first and last full-resolution pixel
        last = np.minimum(first + factor - 1, ext - 1)
        lo = centred_origin(first, win, ext)
        hi = centred_origin(last, win, ext) + win - 1  # origins grow with the centre
        return lo // split.block, hi // split.block
    r0, r1 = spans(shape[0], size[0], extent[0])
    c0, c1 = spans(shape[1], size[1], extent[1])
    ii = integral(split.val if val else ~split.val)
    hits = (ii[r1[:, None] + 1, c1[None] + 1] - ii[r0[:, None], c1[None] + 1]
            - ii[r1[:, None] + 1, c0[None]] + ii[r0[:, None], c0[None]])
    return hits == 0


def class_cells(labels: np.ndarray, classes, mask: np.ndarray | None = None, *,
                limit: int = 10_000, seed: int = 0) -> dict[int, np.ndarray]:
    """Flat indices into ``labels`` (h, w) of each class's cells where ``mask``, at most
    ``limit`` per class (a seeded uniform subset, sorted; nnU-Net keeps 10,000 locations per
    class too), so a scene costs ~80 kB per class; classes without a cell are left out."""
    rng = np.random.default_rng(seed)
    out = {}
    for k in classes:
        hit = labels == k
        if mask is not None:
            hit &= mask
        idx = np.flatnonzero(hit)
        if len(idx) > limit:
            idx = np.sort(rng.choice(idx, limit, replace=False))
        if len(idx):
            out[int(k)] = idx
    return out


def draw_cell(rng, cells: dict[int, np.ndarray]) -> int:
    """One flat index of ``cells`` (:func:`class_cells`): the class uniform among the keys (so a
    class of a few pixels is drawn as often as a common one), then an index of it uniform.

    Args:
        rng: ``numpy.random`` or a ``RandomState`` (its ``randint``).
    """
    keys = sorted(cells)
    idx = cells[keys[int(rng.randint(len(keys)))]]
    return int(idx[int(rng.randint(len(idx)))])


def draw_centred(rng, cells: dict[int, np.ndarray], *, grid_width: int, factor: int,
                 size: tuple[int, int], extent: tuple[int, int]) -> tuple[int, int]:
    """``(row, col)`` of a ``size`` (h, w) window centred on a pixel of a rare class: the class
    uniform among ``cells``' keys (so a class of a few pixels is drawn as often as a common
    one), a cell of it uniform, a full-resolution pixel uniform inside the cell, the window
    clamped to the scene of ``extent`` (height, width).

    Args:
        rng: ``numpy.random`` or a ``RandomState`` (its ``randint``).
        cells: :func:`class_cells` of a mask decimated by ``factor``, ``grid_width`` wide.
    """
    r, c = divmod(draw_cell(rng, cells), grid_width)
    pr = min(r * factor + int(rng.randint(factor)), extent[0] - 1)
    pc = min(c * factor + int(rng.randint(factor)), extent[1] - 1)
    return (int(centred_origin(pr, size[0], extent[0])),
            int(centred_origin(pc, size[1], extent[1])))
