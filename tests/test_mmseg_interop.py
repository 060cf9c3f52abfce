"""Every shipped config works with mmseg's own tools, no Altair function called: its model
builds from mmseg's ``MODELS`` registry (with the config's ``default_scope``, as mmseg's
runner sets it) into the same modules as Altair's build, and each segmentor goes through
``mmseg.apis.init_model`` and ``inference_model`` on a small random image.

``class_weight='auto'`` is the case that used to fail (``TypeError: Unsupported format:
auto``: mmseg's ``CrossEntropyLoss`` reads the string as a file name); the shipped config now
names ``AutoWeightCrossEntropyLoss``, which builds unweighted outside ``altair train``.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'configs').rglob('*.py')
                 if '_base_' not in p.parts)
SEGMENTORS = [p for p in CONFIGS if '/selfsup/' not in p]
SIZE = (64, 64)


def _by_size(paths: list[str]) -> list:
    """The configs, those for 4 or more GPUs (ResNet-50, ViT-B, MiT-B5: 1-3 s each to build
    on the CPU) marked ``slow``."""
    out = []
    for path in paths:
        gpus = re.search(r'_(\d+)xb\d+-', Path(path).name)
        big = gpus is not None and int(gpus.group(1)) >= 4
        out.append(pytest.param(path, marks=pytest.mark.slow) if big else path)
    return out


def _mmseg_build(path: str):
    from mmseg.registry import MODELS
    cfg = Config.fromfile(str(ROOT / path))
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    return MODELS.build(cfg.model)


def _shapes(model) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_the_sweep_sees_every_config():
    assert len(CONFIGS) > 30 and 'configs/segformer.py' in SEGMENTORS
    assert len(SEGMENTORS) < len(CONFIGS)  # the self-supervised ones have no segmentor
    fast = [p for p in _by_size(CONFIGS) if isinstance(p, str)]
    assert 'configs/segformer.py' in fast and 'configs/unet.py' in fast
    assert 0 < len(fast) < len(CONFIGS)


@pytest.mark.parametrize('path', _by_size(CONFIGS))
def test_mmseg_registry_builds_what_altair_builds(path):
    """mmseg's ``MODELS.build(cfg.model)``: the same class and the same parameters as
    Altair's own build (``load_model_config`` + Altair's registry); a segmentor exactly for
    the configs outside ``configs/selfsup/``."""
    from mmengine.registry import DefaultScope
    from mmseg.models import BaseSegmentor

    from altair.config import load_model_config
    from altair.registry import MODELS
    torch.manual_seed(0)
    theirs = _mmseg_build(path)
    cfg = load_model_config(ROOT / path)
    with DefaultScope.overwrite_default_scope('altair'):
        ours = MODELS.build(cfg.model)
    assert type(theirs) is type(ours)
    assert _shapes(theirs) == _shapes(ours)
    assert isinstance(theirs, BaseSegmentor) == (path in SEGMENTORS)


def _config_for_init_model(path: str) -> Config:
    """The config file as mmseg loads it, its test pipeline without ``Resize``: the
    Cityscapes / ADE20K pipelines resize to 2048x1024 / 2048x512, 10 s and more per model on
    the CPU, and the image under test is small on purpose."""
    cfg = Config.fromfile(str(ROOT / path))
    cfg.test_pipeline = [s for s in cfg.test_pipeline if s['type'] != 'Resize']
    return cfg


@pytest.mark.parametrize('path', _by_size(SEGMENTORS))
def test_init_model_and_inference_model(path):
    """``init_model`` + ``inference_model`` on a random image of the config's bands; the
    logits equal those of the model's own ``test_step`` on the image packed by hand (so
    mmseg's pipeline hands the model the same tensor), the prediction is their arg-max at the
    image's size."""
    from mmseg.apis import inference_model, init_model
    from mmseg.structures import SegDataSample

    from altair.testing import config_input
    cfg = _config_for_init_model(path)
    bands, dtype = config_input(cfg.model)
    torch.manual_seed(0)
    model = init_model(cfg, device='cpu')
    img = np.random.default_rng(0).integers(0, 256, (*SIZE, bands)).astype(dtype)
    result = inference_model(model, img)
    n_classes = model.decode_head.num_classes
    logits = result.seg_logits.data
    assert tuple(logits.shape) == (n_classes, *SIZE) and torch.isfinite(logits).all()
    assert tuple(result.pred_sem_seg.data.shape) == (1, *SIZE)
    assert torch.equal(result.pred_sem_seg.data[0], logits.argmax(0))
    sample = SegDataSample(metainfo=dict(ori_shape=SIZE, img_shape=SIZE))
    with torch.no_grad():
        [own] = model.test_step(dict(inputs=[torch.from_numpy(img.transpose(2, 0, 1).copy())],
                                     data_samples=[sample]))
    torch.testing.assert_close(logits, own.seg_logits.data)


def test_auto_class_weight_builds_unweighted_outside_altair_train(caplog):
    """configs/segformer.py (class_weight='auto') through init_model: the loss is built,
    without weights, and says why; mmseg's CrossEntropyLoss with the same key still fails."""
    from mmseg.apis import init_model
    from mmseg.registry import MODELS

    from altair.models.losses import AutoWeightCrossEntropyLoss
    with caplog.at_level(logging.WARNING, logger='altair'):
        model = init_model(_config_for_init_model('configs/segformer.py'), device='cpu')
    loss = model.decode_head.loss_decode
    assert type(loss) is AutoWeightCrossEntropyLoss
    assert loss.class_weight is None and loss.weight_method == 'auto'
    assert "class_weight 'auto' is counted from the training masks" in caplog.text
    with pytest.raises(TypeError, match='Unsupported format: auto'):
        MODELS.build(dict(type='CrossEntropyLoss', class_weight='auto'))
