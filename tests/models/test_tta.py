from __future__ import annotations

import json

import pytest
import torch
from mmengine.registry import DefaultScope
from mmseg.structures import SegDataSample

from altair.inference.tta import TTAConfigError
from altair.registry import MODELS
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


def test_tta_inside_sliding_windows_keeps_shape():
    model = _build(dict(mode='slide', crop_size=(32, 32), stride=(24, 24)), transforms=['d4'],
                   merge='mean', max_batch=4)
    data, _ = _data(50, 70)
    with torch.no_grad():
        out = model.test_step(data)[0]
    assert out.seg_logits.data.shape == (5, 50, 70)
    assert out.pred_sem_seg.data.shape == (1, 50, 70)


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
