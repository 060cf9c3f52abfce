"""Splitting a prediction across processes: image lists by rank, one raster by row blocks.

A raster split into row blocks must give the labels a single process gives, bit for bit. The
sliding-window engine emits finished rows at the top of each grid row, so a block is a run
of grid rows ``[g0, g1)`` whose output rows are ``[top(g0), top(g1))``; its process also
replays the earlier grid rows whose windows reach below ``top(g0)`` (their weighted sums are
part of those rows), in the batches a single process forms (:func:`batch_start`), and the
engine stops once its last row is out (``sliding_window_inference(resume=..., stop=...)``).
The replayed grid rows are the price of the split; :func:`row_blocks` balances the blocks
with them counted.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

from altair.inference.grid import window_starts

T = TypeVar('T')


def shard(items: Sequence[T], rank: int, world: int) -> list[T]:
    """The items rank ``rank`` of ``world`` processes takes: every ``world``-th from
    ``rank`` (round robin, so neighbours in a sorted list spread over the ranks)."""
    if not 0 <= rank < world:
        raise ValueError(f'rank {rank} is outside a world of {world} processes')
    return list(items[rank::world])


@dataclass(frozen=True)
class RowBlock:
    """Output rows ``[top, stop)`` of one process, predicted from grid row ``first_row``
    (replayed up to ``grid_rows[0]``) through grid row ``grid_rows[1] - 1``."""
    top: int
    stop: int
    first_row: int
    grid_rows: tuple[int, int]

    @property
    def rows(self) -> int:
        return self.stop - self.top


def row_blocks(height: int, window_h: int, stride_h: int, parts: int) -> list[RowBlock]:
    """At most ``parts`` row blocks covering an image of ``height`` rows, in order, with the
    largest number of grid rows any process predicts (its own plus the replayed ones) as
    small as it can be. An image of fewer grid rows than ``parts`` gets fewer blocks."""
    if parts < 1:
        raise ValueError(f'parts must be >= 1, got {parts}')
    rows = window_starts(height, window_h, stride_h)
    count = len(rows)

    def top(g: int) -> int:
        return 0 if g == 0 else (rows[g] if g < count else height)

    # first grid row whose windows reach below the top of grid row g (g itself or earlier)
    first = [next(r for r in range(g + 1) if rows[r] + window_h > top(g)) for g in range(count)]

    def greedy(limit: int) -> list[tuple[int, int]] | None:
        blocks, g0 = [], 0
        while g0 < count:
            if len(blocks) == parts or g0 + 1 - first[g0] > limit:
                return None
            g1 = g0 + 1
            while g1 < count and g1 + 1 - first[g0] <= limit:
                g1 += 1
            blocks.append((g0, g1))
            g0 = g1
        return blocks

    lo, hi = 1, count  # the cost of one block is at most every grid row
    while lo < hi:
        mid = (lo + hi) // 2
        if greedy(mid) is None:
            lo = mid + 1
        else:
            hi = mid
    return [RowBlock(top=top(g0), stop=top(g1), first_row=first[g0], grid_rows=(g0, g1))
            for g0, g1 in greedy(lo)]


def batch_start(index: int, batch_size: int, has_data: Callable[[int], bool]) -> int:
    """The first window of the batch a single process puts window ``index`` in.

    The engine fills each batch with ``batch_size`` windows that hold data, in grid order;
    windows without data (``has_data(i)`` False) ride along in the batch that is filling.
    ``has_data`` is asked about windows ``0 .. index`` only.
    """
    start, queued, filling = 0, 0, False
    for i in range(index + 1):
        if not filling:
            start, filling = i, True
        queued += bool(has_data(i))
        if queued == batch_size:  # the batch runs; the next window opens a new one
            filling, queued = False, 0
    return start
