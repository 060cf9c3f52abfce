"""Row blocks: each block, predicted alone from its plan, gives the whole run's rows bit for
bit (with a predictor whose output depends on its batch); the plan covers the image."""
from __future__ import annotations

import pytest
import torch

from altair.inference.grid import window_starts
from altair.inference.shard import batch_start, row_blocks, shard
from altair.inference.sliding import sliding_window_inference
from altair.raster.sources import TensorSource
from tests.inference.helpers import batch_dependent


def _bands(src, **kw):
    out = []
    sliding_window_inference(src, batch_dependent, num_classes=3,
                             sink=lambda y, b, v: out.append((y, b.clone(), v if v is None else v.clone())),
                             **kw)
    rows = torch.cat([b for _, b, _ in out], 1)
    mask = None if out[0][2] is None else torch.cat([v for _, _, v in out], 0)
    return out[0][0], rows, mask


def _engine_batches(n_windows, batch, has_data):
    """The first window of every window's batch, as the engine forms them (reference)."""
    starts, pending, queued = [], [], 0
    for i in range(n_windows):
        pending.append(i)
        queued += has_data(i)
        if queued == batch:
            starts += [pending[0]] * len(pending)
            pending, queued = [], 0
    return starts + [pending[0]] * len(pending) if pending else starts


@pytest.mark.parametrize('window,stride,batch,parts', [(16, 12, 3, 2), (16, 4, 5, 3),
                                                        (12, 12, 1, 4), (20, 7, 4, 2)])
@pytest.mark.parametrize('holes', [False, True])
def test_blocks_equal_the_whole_run(window, stride, batch, parts, holes):
    gen = torch.Generator().manual_seed(1)
    image = torch.rand(1, 75, 41, generator=gen)
    if holes:  # skipped windows change which windows share a batch
        image[:, 14:40, :] = float('nan')
    src = TensorSource(image)
    valid = src.read_valid if holes else None
    kw = dict(window=window, stride=stride, batch_size=batch, valid=valid)
    _, whole, whole_mask = _bands(src, **kw)
    blocks = row_blocks(75, window, stride, parts)
    assert len(blocks) == parts
    assert blocks[0].top == 0 and blocks[-1].stop == 75
    assert all(a.stop == b.top for a, b in zip(blocks, blocks[1:]))
    cols = len(window_starts(41, window, stride))

    def has_data(i):
        if valid is None:
            return True
        ys, xs = window_starts(75, window, stride), window_starts(41, window, stride)
        y, x = ys[i // cols], xs[i % cols]
        return bool(valid(y, min(y + window, 75), x, min(x + window, 41)).any())

    for block in blocks:
        first = batch_start(block.first_row * cols, batch, has_data)
        top, rows, mask = _bands(src, resume=(block.top, first), stop=block.stop, **kw)
        assert top == block.top and rows.shape[1] == block.rows
        assert torch.equal(rows, whole[:, block.top:block.stop])
        if holes:
            assert torch.equal(mask, whole_mask[block.top:block.stop])


def test_batch_start_matches_the_engine():
    has_data = [True, False, False, True, True, False, True, True, False, False, True]
    ref = _engine_batches(len(has_data), 2, lambda i: has_data[i])
    assert [batch_start(i, 2, lambda i: has_data[i]) for i in range(len(has_data))] == ref


def test_blocks_balance_the_replayed_rows():
    # 11 grid rows (window 512, stride 384 over 4000 rows); the second block replays one
    blocks = row_blocks(4000, 512, 384, 2)
    costs = [b.grid_rows[1] - b.first_row for b in blocks]
    assert costs == [6, 6] and blocks[1].first_row == blocks[1].grid_rows[0] - 1
    assert row_blocks(300, 512, 384, 2) == row_blocks(300, 512, 384, 1)  # one grid row


def test_shard_is_round_robin():
    items = list('abcdefg')
    assert [shard(items, r, 3) for r in range(3)] == [list('adg'), list('be'), list('cf')]
    with pytest.raises(ValueError, match='rank 3'):
        shard(items, 3, 3)


def test_stop_must_be_a_grid_row_top():
    with pytest.raises(ValueError, match='stop row 5'):
        sliding_window_inference(torch.rand(1, 30, 10), lambda x: x, window=8, stride=6,
                                 num_classes=1, stop=5, sink=lambda *a: None)
