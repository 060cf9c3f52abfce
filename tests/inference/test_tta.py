from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from altair.inference.tta import (FAMILIES, MERGES, TTAConfigError, View, default_max_batch,
                                  dihedral_views, make_views, merge_views, tta_predictor)

ALL_OPS = ['hflip', 'vflip', 'rot90', 'rot180', 'rot270', 'transpose']


@pytest.mark.parametrize('ops', [(op,) for op in ALL_OPS] + list(itertools.permutations(ALL_OPS, 2))
                         + [('rot90', 'hflip', 'transpose')])
@pytest.mark.parametrize('shape', [(1, 2, 5, 7), (2, 1, 1, 3), (1, 3, 9, 4)])
def test_inverse_undoes_forward(ops, shape):
    x = torch.randn(shape)
    view = View(ops)
    y = view.forward(x)
    assert tuple(y.shape[-2:]) == view.input_shape(*shape[-2:])
    assert torch.equal(view.inverse(y), x)


def test_families_generate_the_expected_groups():
    assert len(dihedral_views(['d4'])) == 8
    assert len(dihedral_views(['hflip', 'vflip', 'rotate90'])) == 8  # generates all of D4
    assert len(dihedral_views(['hflip', 'vflip'])) == 4
    assert len(dihedral_views(['d2'])) == 4
    assert len(dihedral_views(['rotate90'])) == 4
    assert len(dihedral_views(['d4', 'hflip', 'transpose'])) == 8  # duplicates removed
    assert dihedral_views([]) == [()] and dihedral_views(['d4'])[0] == ()
    assert len(make_views(['hflip'], [0.5, 1.0, 2.0])) == 6


def test_unknown_names_list_the_accepted_ones():
    with pytest.raises(TTAConfigError, match=r"unknown TTA transform 'rot45'; choose from "
                                             + ', '.join(FAMILIES)):
        make_views(['rot45'])
    with pytest.raises(TTAConfigError, match="unknown TTA merge 'median'; choose one of "
                                             + ', '.join(MERGES)):
        tta_predictor(lambda x: x, merge='median')
    with pytest.raises(TTAConfigError, match='scales must be > 0'):
        make_views(['hflip'], [0.0])


def _per_pixel(k=4, c=3, seed=0):
    weight = torch.randn(k, c, generator=torch.Generator().manual_seed(seed))
    return lambda x: torch.einsum('kc,bchw->bkhw', weight, x)


@pytest.mark.parametrize('merge', MERGES)
def test_d4_equivariant_predictor_is_unchanged(merge):
    predictor = _per_pixel()
    x = torch.randn(2, 3, 7, 10)
    plain = predictor(x)
    out = tta_predictor(predictor, transforms=['d4'], merge=merge, max_batch=5)(x)
    assert out.shape == plain.shape
    assert torch.equal(out.argmax(1), plain.argmax(1))
    if merge in ('mean', 'max'):
        torch.testing.assert_close(out, plain, rtol=1e-5, atol=1e-5)
    if merge == 'soft_vote':
        torch.testing.assert_close(out, plain.softmax(1), rtol=1e-5, atol=1e-6)


def test_non_equivariant_predictor_gives_the_hand_computed_merge():
    # depends on the column index: hflip changes what it sees
    def predictor(x):
        ramp = torch.arange(x.shape[-1], dtype=x.dtype)
        return torch.stack([x[:, 0] * ramp, -x[:, 0] * ramp], 1)
    x = torch.randn(1, 1, 3, 5)
    plain = predictor(x)
    flipped = predictor(x.flip(-1)).flip(-1)
    out = tta_predictor(predictor, transforms=['hflip'], merge='mean')(x)
    torch.testing.assert_close(out, (plain + flipped) / 2)


def test_batching_calls_and_max_batch():
    calls = []

    def predictor(x):
        calls.append(x.shape[0])
        return x[:, :2]
    x = torch.randn(3, 2, 6, 4)  # non-square: rotations form a second shape group
    tta_predictor(predictor, transforms=['d4'], max_batch=7)(x)
    assert max(calls) <= 7 and sum(calls) == 8 * 3
    calls.clear()
    tta_predictor(predictor, transforms=['d4'], max_batch=2)(x)  # B=3 > max_batch: split
    assert max(calls) <= 2 and sum(calls) == 8 * 3


def test_default_max_batch_depends_on_the_device():
    calls = []

    def predictor(x):
        calls.append(x.shape[0])
        return x[:, :2]
    tta_predictor(predictor, transforms=['d4'])(torch.randn(1, 2, 5, 5))
    assert calls == [2, 2, 2, 2]  # CPU: views in pairs
    assert default_max_batch('cpu') == 2
    assert default_max_batch('cuda:0') == default_max_batch('mps') == 16
    with pytest.raises(TTAConfigError, match='max_batch must be an int >= 1 or None, got 0'):
        tta_predictor(predictor, max_batch=0)


def test_scales_resize_back_and_identity_scale_is_exact():
    predictor = _per_pixel()
    x = torch.randn(1, 3, 8, 12)
    out = tta_predictor(predictor, transforms=[], scales=[1.0, 2.0], merge='mean')(x)
    up = torch.nn.functional.interpolate(x, size=(16, 24), mode='bilinear', align_corners=False)
    down = torch.nn.functional.interpolate(predictor(up), size=(8, 12), mode='bilinear',
                                           align_corners=False)
    torch.testing.assert_close(out, (predictor(x) + down) / 2, rtol=1e-5, atol=1e-5)


# ---- merges against NumPy references
def _np_softmax(z, axis):
    e = np.exp(z - z.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def test_merges_match_numpy_references():
    rng = np.random.default_rng(0)
    views = rng.normal(size=(5, 2, 4, 3, 3)).astype(np.float32)  # V, B, K, H, W
    t = [torch.from_numpy(v) for v in views]
    p = _np_softmax(views.astype(np.float64), axis=2)
    np.testing.assert_allclose(merge_views(t, 'mean'), views.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(merge_views(t, 'max'), views.max(0), rtol=1e-6)
    np.testing.assert_allclose(merge_views(t, 'soft_vote'), p.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(merge_views(t, 'gmean'), np.exp(np.log(p).mean(0)), rtol=1e-4)
    votes = np.eye(4)[views.argmax(2)].sum(0).transpose(0, 3, 1, 2)  # B, K, H, W
    expected = votes + 0.5 * p.mean(0)
    np.testing.assert_allclose(merge_views(t, 'hard_vote'), expected, rtol=1e-5, atol=1e-6)
    # the label is the majority vote
    assert np.array_equal(merge_views(t, 'hard_vote').argmax(1).numpy(),
                          (votes + 0.5 * p.mean(0)).argmax(1))


def test_hard_vote_ties_go_to_the_larger_mean_probability():
    # two views, two classes: view 1 votes class 0 weakly, view 2 votes class 1 strongly
    v1 = torch.tensor([0.1, 0.0]).view(1, 2, 1, 1)
    v2 = torch.tensor([0.0, 3.0]).view(1, 2, 1, 1)
    out = merge_views([v1, v2], 'hard_vote')
    assert out.argmax(1).item() == 1
    assert merge_views([v2, v1], 'hard_vote').argmax(1).item() == 1  # order does not matter
    # three views: two weak votes for class 0 beat one strong vote for class 1
    assert merge_views([v1, v1, v2], 'hard_vote').argmax(1).item() == 0
