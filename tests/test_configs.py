"""Every segmentation config under configs/ loads and builds its model; the three short configs
train a step (forward/backward) on a tiny input. (configs/selfsup/ has its own tests in
tests/models/selfsup/test_configs.py.)"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from mmengine.registry import DefaultScope

from altair.config import load_config
from altair.registry import MODELS

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'configs').rglob('*.py')
                 if '_base_' not in p.parts and 'selfsup' not in p.parts)
SHORT = ['configs/pspnet.py', 'configs/deeplabv3plus.py', 'configs/segformer.py',
         'configs/unet.py']


def _build(cfg):
    # as loaded: class_weight='auto' (configs/segformer.py) builds without Altair's help
    with DefaultScope.overwrite_default_scope('altair'):
        return MODELS.build(cfg.model)


def test_the_short_configs_exist():
    assert set(SHORT) <= set(CONFIGS)


@pytest.mark.parametrize('path', CONFIGS)
def test_config_loads_and_builds(path):
    cfg = load_config(ROOT / path)
    assert cfg.default_scope == 'altair'
    model = _build(cfg)
    n_classes = model.decode_head.num_classes
    dataset = cfg.train_dataloader.dataset
    if dataset.type == 'BlueMarbleDataset':
        assert n_classes == 8
        assert 'bluemarble' in Path(path).name or path in SHORT
    # full names say what is inside: dataset, classes, crop, iterations, batch size
    name = Path(path).stem
    for word, expected in (('cityscapes', 19), ('ade20k', 150)):
        if word in name:
            assert n_classes == expected and word in dataset.type.lower()
    full = re.search(r'_(\d+)xb(\d+)-(\d+k?)(?:it)?_[\w-]+-(\d+)x(\d+)$', name)
    if path not in SHORT:
        assert full, f'{name} does not follow <algo>_<backbone>_<N>xb<B>-<iters>_<data>-<crop>'
        gpus, batch, iters, h, w = full.groups()
        assert tuple(cfg.crop_size) == (int(h), int(w))
        assert cfg.train_dataloader.batch_size == int(batch)
        expected_iters = int(iters[:-1]) * 1000 if iters.endswith('k') else int(iters)
        assert cfg.train_cfg.max_iters == expected_iters


@pytest.mark.parametrize('path', SHORT)
def test_short_config_trains_one_step(path):
    """The plugin contract's config check (altair.testing): finite loss, a gradient for every
    trainable parameter, logits and predictions of the right shape."""
    from altair.testing import check_config
    model = check_config(ROOT / path)
    assert model.decode_head.num_classes == 8
    grads = [p.grad for p in model.backbone.parameters() if p.requires_grad]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize('path', CONFIGS)
def test_optim_wrapper_builds_with_mmengines_builder(path):
    """Each config's ``optim_wrapper`` through mmengine's own builder (the one the runners and
    strategies call), over a two-layer model: the wrapper's ``__init__`` takes every key given
    (DeepSpeedOptimWrapper takes the optimizer only; a ``clip_grad`` inherited from the
    schedule used to fail it), and the optimizer gets the config's learning rate."""
    import torch
    from mmengine.optim import build_optim_wrapper

    cfg = load_config(ROOT / path)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    with DefaultScope.overwrite_default_scope('altair'):
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(wrapper).__name__ == cfg.optim_wrapper.type.split('.')[-1]
    assert {g['lr'] for g in wrapper.optimizer.param_groups} == {cfg.optim_wrapper.optimizer.lr}
