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


def test_logit_adjustment_undoes_the_weights_of_a_weighted_cross_entropy():
    """The minimiser of a cross-entropy weighted by w has softmax proportional to w_c p(c):
    fitted to labels drawn with p = (0.9, 0.1) under w = (0.5, 40), free logits end at
    log(w p) + const, and the adjusted ones at log p + const."""
    import math

    import torch

    from altair.models.segmentor import adjusted, class_weight_adjustment
    p, w = torch.tensor([0.9, 0.1]), torch.tensor([0.5, 40.0])
    logits = torch.zeros(2, requires_grad=True)
    opt = torch.optim.LBFGS([logits], max_iter=200)

    def closure():
        opt.zero_grad()
        loss = -(w * p * torch.log_softmax(logits, 0)).sum()  # expected weighted CE
        loss.backward()
        return loss
    opt.step(closure)
    offsets = torch.tensor(class_weight_adjustment(w.tolist())).view(1, 2, 1, 1)
    out = adjusted(logits.detach().view(1, 2, 1, 1), offsets).flatten()
    assert torch.softmax(out, 0).tolist() == pytest.approx(p.tolist(), abs=1e-4)
    assert torch.softmax(logits.detach(), 0)[1] > 0.8  # unadjusted: the rare class wins
    assert class_weight_adjustment([1.0, math.e]) == pytest.approx([0.0, -1.0])
    with pytest.raises(ValueError, match='positive finite'):
        class_weight_adjustment([1.0, 0.0])


def test_adjust_logits_subtracts_the_log_class_weights_in_whole_and_slide_inference():
    weights = [0.5, 1.0, 2.0, 4.0, 40.0]
    cfg = segmentor_cfg(dict(mode='whole', adjust_logits='class_weight'))
    cfg['decode_head']['loss_decode'] = dict(type='CrossEntropyLoss', class_weight=weights)
    plain_cfg = segmentor_cfg(dict(mode='whole'))
    with DefaultScope.overwrite_default_scope('altair'):
        torch.manual_seed(0)
        model = MODELS.build(cfg).eval()
        plain = MODELS.build(plain_cfg).eval()
    assert 'logit_offsets' not in model.state_dict()  # checkpoints load either way
    plain.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 48, 40)
    with torch.no_grad():
        got, ref = model.encode_decode(x, _metas(48, 40)), plain.encode_decode(x, _metas(48, 40))
        offsets = -torch.log(torch.tensor(weights)).view(1, 5, 1, 1)
        torch.testing.assert_close(got, ref + offsets)
        model.test_cfg.update(mode='slide', crop_size=(32, 32), stride=(16, 16),
                              precision='fp32')
        plain.test_cfg.update(mode='slide', crop_size=(32, 32), stride=(16, 16),
                              precision='fp32')
        torch.testing.assert_close(model.slide_inference(x, _metas(48, 40)),
                                   plain.slide_inference(x, _metas(48, 40)) + offsets,
                                   rtol=1e-4, atol=1e-4)
    bad = segmentor_cfg(dict(mode='whole', adjust_logits='prior'))
    with DefaultScope.overwrite_default_scope('altair'), pytest.raises(ValueError, match='prior'):
        MODELS.build(bad)


def test_a_model_built_to_predict_keeps_numeric_weights_and_so_its_offsets():
    """`altair test` / `altair predict` build from the run's config, where `altair train`
    wrote the counted weights: the offsets follow; an unresolved 'auto' gives none."""
    from mmengine.config import Config

    from altair.config import load_model_config
    for weight, has in (([1.0, 1.0, 2.0, 4.0, 8.0], True), ('auto', False)):
        cfg = segmentor_cfg(dict(mode='whole', adjust_logits='class_weight'))
        cfg['decode_head']['loss_decode'] = dict(type='AutoWeightCrossEntropyLoss',
                                                 class_weight=weight)
        built = load_model_config(Config(dict(model=cfg)))
        with DefaultScope.overwrite_default_scope('altair'):
            model = MODELS.build(built.model)
        assert (model.logit_offsets is not None) == has
