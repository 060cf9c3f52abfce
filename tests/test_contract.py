"""The contract of every component Altair's own modules register (timm-style: parametrised
over the registries, so a new component is tested without anyone writing a test):

- a model is built from a shipped config that uses it and trains a step (forward and
  backward, every trainable parameter gets a gradient) through ``altair.testing.check_config``;
  the TTA model wraps one and predicts; a self-supervised model builds (each self-supervised
  config trains on a fixed batch in tests/models/selfsup/test_configs.py);
- a transform keeps image and mask aligned;
- hooks, parameter schedulers (one step), optimizer wrappers (one update), metrics,
  strategies and functions construct from the configs that use them, or without arguments.

Datasets need data on disk and runners a whole config: tests/datasets and tests/api build
them. A component no shipped config uses and that cannot be built without arguments fails
here, with the message saying what to ship.
"""
from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch

import altair.datasets  # noqa: F401  (registers everything the contract sweeps)
import altair.engine  # noqa: F401
import altair.evaluation  # noqa: F401
import altair.inference  # noqa: F401
import altair.models  # noqa: F401
import altair.visualization  # noqa: F401
from altair.datasets.transforms import PRESETS
from altair.config_checks import typed_sections
from altair.introspect import components
from altair.testing import check_component_builds, check_config, configs_by_type

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / 'configs').rglob('*.py') if '_base_' not in p.parts)
CORE = components('altair')
SWEPT = ('model', 'transform', 'hook', 'parameter scheduler', 'optim_wrapper', 'metric',
         'strategy', 'function')
# components Altair adds to a run itself (no config names them), as altair.api.train adds
# them: the run's metrics file, the augmentation presets, the sample check; and the crop
# altair init writes into volume configs
ADDED_BY_ALTAIR = {
    'RunMetricsHook': [dict(type='RunMetricsHook', path='metrics.json')],
    'AugPreset': [dict(type='AugPreset', name=name, seed=0) for name in PRESETS],
    'CheckSegSample': [dict(type='CheckSegSample', num_classes=8, ignore_index=255)],
    # altair init writes it into volume configs
    'CentredRandomCrop': [dict(type='CentredRandomCrop', crop_size=(24, 32)),
                          dict(type='CentredRandomCrop', crop_size=24, cat_max_ratio=0.75)],
}


def _ids(comp) -> str:
    return f'{comp.registry.name}.{comp.name}'


@pytest.fixture(scope='module')
def uses() -> dict[str, list[dict]]:
    return configs_by_type(CONFIGS)


def test_the_sweep_finds_the_core_components():
    names = {c.name for c in CORE}
    assert {'AltairEncoderDecoder', 'AltairTTAModel', 'LoadRaster', 'AugPreset',
            'AltairCheckpointHook', 'WarmupCosineLR', 'AutocastOptimWrapper',
            'ClassIoUMetric', 'AltairFSDPStrategy'} <= names
    assert all(c.obj.__module__.startswith('altair.') for c in CORE)
    assert {c.registry.name for c in CORE} >= set(SWEPT)


@pytest.mark.parametrize('comp', [c for c in CORE if c.registry.name in SWEPT
                                  and c.registry.name != 'model'], ids=_ids)
def test_component_builds_from_its_configs(comp, uses):
    check_component_builds(comp, uses=ADDED_BY_ALTAIR.get(comp.name) or uses.get(comp.name, []))


def _types(tree) -> set[str]:
    """Every ``type`` name in a config tree (scope or module prefix dropped)."""
    return {str(sub['type']).split('.')[-1] for _, sub in typed_sections(tree)}


@functools.lru_cache(maxsize=1)
def _loaded() -> tuple[tuple[Path, dict], ...]:
    from altair.config import load_config
    return tuple((path, load_config(path).to_dict()) for path in CONFIGS)


def _where_used(name: str) -> tuple[str, Path]:
    """How a model is exercised: ``'train'`` (a segmentation config's model uses it),
    ``'tta'`` (a config's tta_model), ``'selfsup'`` (a self-supervised config's model)."""
    found = {}
    for path, cfg in _loaded():
        kind = 'selfsup' if 'selfsup' in path.parts else 'train'
        if name in _types(cfg.get('model')):
            found.setdefault(kind, path)
        if name in _types(cfg.get('tta_model')):
            found.setdefault('tta', path)
    for kind in ('train', 'tta', 'selfsup'):
        if kind in found:
            return kind, found[kind]
    raise AssertionError(f"model '{name}': no shipped config under configs/ uses it; ship one "
                         '(the contract then trains it a step)')


@pytest.mark.parametrize('comp', [c for c in CORE if c.registry.name == 'model'], ids=_ids)
def test_model_trains_a_step_or_wraps_one(comp):
    from mmengine.registry import DefaultScope
    from mmseg.structures import SegDataSample

    from altair.config import load_model_config
    from altair.registry import MODELS
    kind, path = _where_used(comp.name)
    if kind == 'train':
        model = check_config(path)
        assert any(type(m).__name__ == comp.name for m in model.modules()), path
        return
    cfg = load_model_config(path)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        if kind == 'selfsup':  # built here; trained on a fixed batch by its config's test
            assert MODELS.build(cfg.model).backbone is not None, path
            return
        model = MODELS.build(dict(cfg.tta_model, module=cfg.model)).eval()
    img = torch.randint(0, 256, (3, 40, 56), dtype=torch.uint8)
    sample = SegDataSample(metainfo=dict(img_shape=(40, 56), ori_shape=(40, 56)))
    with torch.no_grad():
        [out] = model.test_step(dict(inputs=[img], data_samples=[sample]))
    assert out.pred_sem_seg.data.shape == (1, 40, 56), path
    assert torch.isfinite(out.seg_logits.data).all(), path


# ---- the transform contract can fail: misaligning transforms, called through the checker
def _flip_image_only(results):
    results['img'] = results['img'][:, ::-1].copy()
    return results


def _flip_mask_only(results):
    results['gt_seg_map'] = results['gt_seg_map'][::-1].copy()
    return results


def _rotate_image_only(results):
    results['img'] = results['img'][::-1, ::-1].copy()
    return results


def _crop(offset_img: int, offset_mask: int):
    """Crop 40x32 from image and mask, the image's corner ``offset_img`` px down and right
    of the top left, the mask's ``offset_mask`` px."""
    def crop(results):
        a, b = offset_img, offset_mask
        results['img'] = results['img'][a:a + 40, a:a + 32]
        results['gt_seg_map'] = results['gt_seg_map'][b:b + 40, b:b + 32]
        return results
    return crop


@pytest.mark.parametrize('transform, message', [
    (_flip_image_only, r"tells the mask's labels on 3\d% of its valid pixels"),
    (_flip_mask_only, r"tells the mask's labels on \d\d% of its valid pixels"),
    (_rotate_image_only, r"tells the mask's labels on \d\d% of its valid pixels"),
    (_crop(8, 0), r"tells the mask's labels on \d\d% of its valid pixels"),
    (_crop(1, 0), r'matches its mask shifted by \(-1, -1\) px \(100%\) better than the mask '
                  r'itself \(8\d%\)'),
], ids=['flip-image-only', 'flip-mask-only', 'rotate-image-only', 'crop-8px-apart',
        'crop-1px-apart'])
def test_the_alignment_check_fails_on_a_misaligning_transform(transform, message):
    from altair.testing import check_transform_alignment
    with pytest.raises(AssertionError, match=f'transform broken: .*{message}'):
        check_transform_alignment('broken', transform)


def test_the_alignment_check_passes_aligned_geometry_under_photometric_change():
    """Geometry applied to both, then a global colour change and pixel noise on the image
    alone (what the presets do): aligned, whatever the image's values became."""
    import numpy as np

    from altair.testing import check_transform_alignment

    def flip_crop_and_recolour(results):
        results = _flip_image_only(results)
        results['gt_seg_map'] = results['gt_seg_map'][:, ::-1].copy()
        results = _crop(3, 3)(results)
        img = results['img'].astype(np.float64)[..., ::-1]  # BGR <-> RGB
        img = 255 * (img / 255) ** 1.8 * 0.7 + np.random.normal(0, 12, img.shape)
        results['img'] = np.clip(img, 0, 255).astype(np.uint8)
        return results
    check_transform_alignment('aligned', flip_crop_and_recolour)


def test_the_sample_matches_none_of_its_flips_or_shifts():
    """The position code: the layout agrees with each of its flips and shifts by a few px on
    so few pixels that the checker's threshold (more than half) tells them apart."""
    import numpy as np

    from altair.testing import aligned_sample, label_agreement
    img, mask = aligned_sample()
    assert label_agreement(img, mask) == 1.0
    # the same statistic, counted directly: the share of pixels whose label survives
    for moved in (mask[:, ::-1], mask[::-1], mask[::-1, ::-1], np.roll(mask, 8, 0),
                  np.roll(mask, 8, 1)):
        assert float((moved == mask).mean()) < 0.4
        assert label_agreement(img, moved) < 0.5
