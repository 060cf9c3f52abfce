from __future__ import annotations

import json

import pytest
import torch
from mmengine.registry import DefaultScope
from mmseg.structures import SegDataSample

from altair.inference.tta import TTAConfigError
from altair.registry import MODELS
from tests.inference.helpers import numpy_stitch
from tests.models.tiny import segmentor_cfg


def _build(test_cfg, **tta):
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(dict(type='AltairTTAModel', module=segmentor_cfg(test_cfg), **tta))
    return model.eval()


def _data(h, w):
    torch.manual_seed(1)
    img = torch.rand(3, h, w) * 255
    sample = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
    return dict(inputs=[img], data_samples=[sample]), img


def test_hflip_soft_vote_matches_hand_computation():
    model = _build(dict(mode='whole'), transforms=['hflip'], merge='soft_vote')
    data, img = _data(40, 56)
    with torch.no_grad():
        out = model.test_step(data)[0]
        x = img[[2, 1, 0]][None] if model.module.data_preprocessor.channel_conversion else img[None]
        seg = model.module
        metas = [dict(img_shape=(40, 56), ori_shape=(40, 56), pad_shape=(40, 56))]
        plain = seg.encode_decode(x, metas).softmax(1)
        flipped = seg.encode_decode(x.flip(-1), metas).flip(-1).softmax(1)
    expected = ((plain + flipped) / 2)[0]
    torch.testing.assert_close(out.seg_logits.data, expected, rtol=1e-5, atol=1e-6)
    assert torch.equal(out.pred_sem_seg.data[0], expected.argmax(0))


def test_tta_inside_sliding_windows_equals_hand_merged_views_stitched_by_numpy():
    """Slide mode with D4: every window's 8 views predicted, turned back and averaged by hand,
    then the windows blended by the independent NumPy stitcher."""
    model = _build(dict(mode='slide', crop_size=(32, 32), stride=(24, 24), precision='fp32'),
                   transforms=['d4'], merge='mean', max_batch=4)
    data, img = _data(50, 70)
    seg = model.module
    x = img[[2, 1, 0]] if seg.data_preprocessor.channel_conversion else img
    # the 8 elements of D4 by hand: k quarter turns, then optionally a transpose
    views = [(lambda t, k=k, tr=tr: _d4(t, k, tr), lambda t, k=k, tr=tr: _d4_inverse(t, k, tr))
             for k in range(4) for tr in (False, True)]

    def merged_window(window):
        w = torch.from_numpy(window)[None]
        metas = [dict(img_shape=(32, 32), ori_shape=(32, 32), pad_shape=(32, 32))]
        outs = [inverse(seg.encode_decode(forward(w), metas)) for forward, inverse in views]
        return torch.stack(outs).mean(0)[0].numpy()
    with torch.no_grad():
        out = model.test_step(data)[0]
        ref = numpy_stitch(x.numpy(), merged_window, (32, 32), (24, 24), 'gaussian')
    assert out.seg_logits.data.shape == (5, 50, 70)
    torch.testing.assert_close(out.seg_logits.data, torch.from_numpy(ref).float(),
                               rtol=1e-4, atol=1e-4)
    assert torch.equal(out.pred_sem_seg.data[0], out.seg_logits.data.argmax(0))
    # the views matter: without TTA the result differs
    with torch.no_grad():
        plain = numpy_stitch(x.numpy(), lambda w: seg.encode_decode(
            torch.from_numpy(w)[None], [dict(img_shape=(32, 32), ori_shape=(32, 32),
                                             pad_shape=(32, 32))])[0].numpy(),
            (32, 32), (24, 24), 'gaussian')
    assert not torch.allclose(torch.from_numpy(plain).float(), out.seg_logits.data, atol=1e-3)


def _d4(t, k: int, transpose: bool):
    t = torch.rot90(t, k, dims=(-2, -1))
    return t.transpose(-2, -1) if transpose else t


def _d4_inverse(t, k: int, transpose: bool):
    t = t.transpose(-2, -1) if transpose else t
    return torch.rot90(t, -k, dims=(-2, -1))


def test_bad_names_fail_when_the_model_is_built():
    with pytest.raises(TTAConfigError, match="unknown TTA transform 'flip'"):
        _build(dict(mode='whole'), transforms=['flip'])
    with pytest.raises(TTAConfigError, match="unknown TTA merge 'vote'"):
        _build(dict(mode='whole'), merge='vote')


def test_views_per_call_come_from_the_probe_unless_given(tmp_path, monkeypatch):
    """max_batch=None: the D4 views go through the segmentor in the probed batch (4 here:
    two calls for 8 views); the probe measures the input's own shape, once."""
    import altair.inference.autotune as at
    monkeypatch.setenv('ALTAIR_BATCH_PROBE', '1')
    monkeypatch.setenv('ALTAIR_CACHE', str(tmp_path))
    monkeypatch.setattr(at, '_MEMO', {})
    probed = []

    def fake_timing(run, candidates):
        probed.append(candidates)
        return {1: 1.0, 2: 2.0, 4: 2.4, 8: 6.0}
    monkeypatch.setattr(at, 'time_batches', fake_timing)
    model = _build(dict(mode='whole'), transforms=['d4'], merge='mean')
    sizes = []
    real = model.module.encode_decode
    monkeypatch.setattr(model.module, 'encode_decode',
                        lambda x, metas: sizes.append(x.shape[0]) or real(x, metas))
    data, _ = _data(40, 56)
    with torch.no_grad():
        model.test_step(data)
        model.test_step(data)
    assert sizes == [4, 4, 4, 4] and len(probed) == 1
    [key] = json.loads((tmp_path / at.CACHE_FILE).read_text())
    assert '|3x40x56|' in key
