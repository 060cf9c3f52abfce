from __future__ import annotations

import copy

import pytest
import torch
from mmengine.registry import DefaultScope
from mmseg.models.segmentors import EncoderDecoder

from altair.registry import MODELS
from tests.models.tiny import segmentor_cfg


def _model(test_cfg):
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(segmentor_cfg(test_cfg))
    return model.eval()


def _metas(h, w):
    return [dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w))]


def test_constant_blend_equals_mmseg_slide_inference_and_leaves_metainfo_alone():
    torch.manual_seed(0)
    model = _model(dict(mode='slide', crop_size=(32, 32), stride=(20, 24), blend='constant',
                        batch_size=3, precision='fp32'))  # mmseg's runs in fp32
    x = torch.randn(1, 3, 70, 90)
    metas = _metas(70, 90)
    before = copy.deepcopy(metas)
    with torch.no_grad():
        ours = model.slide_inference(x, metas)
        assert metas == before
        ref = EncoderDecoder.slide_inference(model, x, copy.deepcopy(metas))
    assert ours.shape == (1, 5, 70, 90)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('native', [True, False])
def test_slide_mode_precision_defaults_to_auto(monkeypatch, native):
    import altair.inference.precision as prec
    monkeypatch.setattr(prec, 'cpu_has_native_bf16', lambda: native)
    torch.manual_seed(0)
    model = _model(dict(mode='slide', crop_size=(32, 32), stride=(20, 24)))
    seen = []
    forward = model.encode_decode

    def spy(inputs, metas):
        seen.append(torch.get_autocast_dtype('cpu') if torch.is_autocast_enabled('cpu')
                    else torch.float32)
        return forward(inputs, metas)
    monkeypatch.setattr(model, 'encode_decode', spy)
    with torch.no_grad():
        model.slide_inference(torch.randn(1, 3, 40, 50), _metas(40, 50))
    assert seen and set(seen) == {torch.bfloat16 if native else torch.float32}


def test_slide_mode_runs_through_predict_with_gaussian_blend():
    torch.manual_seed(0)
    model = _model(dict(mode='slide', crop_size=(32, 32), overlap=0.5))
    from mmseg.structures import SegDataSample
    samples = [SegDataSample(metainfo=_metas(40, 50)[0])]
    with torch.no_grad():
        out = model.predict(torch.randn(1, 3, 40, 50), samples)
    assert out[0].seg_logits.data.shape == (5, 40, 50)
    assert out[0].pred_sem_seg.data.shape == (1, 40, 50)


def test_stride_and_overlap_together_is_an_error():
    model = _model(dict(mode='slide', crop_size=(32, 32), stride=(16, 16), overlap=0.5))
    with pytest.raises(ValueError, match="'stride' or 'overlap', not both"):
        model.slide_inference(torch.zeros(1, 3, 40, 40), _metas(40, 40))
