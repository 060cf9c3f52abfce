"""Augmentation presets: image and mask stay aligned, dtype and bands are kept, seeds
reproduce, padding gets the ignore index, the pure helpers do what they say."""
from __future__ import annotations

import numpy as np
import pytest

from altair.datasets.transforms import PRESETS, AugPreset, UnknownPresetError
from altair.datasets.transforms.aug_preset import with_preset
from altair.datasets.transforms.presets import (bias_field, from_unit_range, haze_and_clouds,
                                                per_band_brightness_contrast, smooth_field,
                                                to_unit_range)

LEVELS = np.array([0.3, 0.5, 0.7, 0.9])  # class c is drawn at LEVELS[c] of full scale


def _blocks(bands: int, dtype, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """An image of 64-pixel blocks whose mask is a function of the pixel values."""
    rng = np.random.default_rng(0)
    mask = np.kron(rng.integers(0, 4, (size // 64, size // 64)),
                   np.ones((64, 64), int)).astype(np.uint8)
    top = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1.0
    img = np.repeat((LEVELS[mask] * top)[..., None], bands, axis=2).astype(dtype)
    return (img[..., 0] if bands == 1 else img), mask


def _agreement(img: np.ndarray, mask: np.ndarray, dtype) -> float:
    """Share of non-ignored pixels whose value is nearest to their class's level."""
    top = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1.0
    value = (img if img.ndim == 2 else img.mean(axis=2)) / top
    nearest = np.abs(value[..., None] - LEVELS).argmin(-1)
    valid = mask != 255
    return float((nearest[valid] == mask[valid]).mean())


@pytest.mark.parametrize('name', list(PRESETS))
def test_image_and_mask_stay_aligned(name):
    img, mask = _blocks(3, np.uint8)
    scores, shuffled = [], []
    for seed in range(6):
        out = AugPreset(name, crop_size=(192, 192), seed=seed)(dict(img=img.copy(),
                                                                    gt_seg_map=mask.copy()))
        assert out['img'].shape == (192, 192, 3) and out['gt_seg_map'].shape == (192, 192)
        assert out['img_shape'] == (192, 192)
        scores.append(_agreement(out['img'], out['gt_seg_map'], np.uint8))
        shuffled.append(_agreement(out['img'], np.rot90(out['gt_seg_map']).copy(), np.uint8))
    # block borders blur under interpolation, colour jitter moves levels, cutout (heavy) and
    # clouds (satellite) cover some pixels: the bar is high but not 1; a misaligned mask
    # scores far below it
    assert np.mean(scores) > (0.75 if name in ('heavy', 'satellite') else 0.85), scores
    assert np.mean(shuffled) < 0.6, shuffled


@pytest.mark.parametrize('name', list(PRESETS))
@pytest.mark.parametrize('bands, dtype', [(3, np.uint8), (4, np.uint16), (1, np.float32)])
def test_dtype_and_band_count_are_kept(name, bands, dtype):
    img, mask = _blocks(bands, dtype)
    if name in ('medium', 'heavy') and bands == 4:
        with pytest.raises(ValueError, match=f"preset '{name}' needs 1- or 3-band images"):
            AugPreset(name)(dict(img=img, gt_seg_map=mask))
        return
    out = AugPreset(name, crop_size=(200, 200), seed=1)(dict(img=img, gt_seg_map=mask))
    assert out['img'].dtype == dtype and out['img'].shape == img.shape[:0] + (200, 200) + \
        img.shape[2:]
    assert out['gt_seg_map'].dtype == np.uint8
    assert set(np.unique(out['gt_seg_map'])) <= {0, 1, 2, 3, 255}  # nearest: no new labels


@pytest.mark.parametrize('name', list(PRESETS))
def test_same_seed_same_output(name):
    img, mask = _blocks(3, np.uint8)
    a = AugPreset(name, crop_size=(128, 128), seed=7)(dict(img=img.copy(), gt_seg_map=mask))
    b = AugPreset(name, crop_size=(128, 128), seed=7)(dict(img=img.copy(), gt_seg_map=mask))
    assert np.array_equal(a['img'], b['img']) and np.array_equal(a['gt_seg_map'],
                                                                  b['gt_seg_map'])
    np.random.seed(3)  # unseeded transforms follow NumPy's global generator (mmengine's seed)
    c = AugPreset(name, crop_size=(128, 128))(dict(img=img.copy(), gt_seg_map=mask))
    np.random.seed(3)
    d = AugPreset(name, crop_size=(128, 128))(dict(img=img.copy(), gt_seg_map=mask))
    assert np.array_equal(c['img'], d['img'])


def test_padding_gets_the_ignore_index():
    img, mask = _blocks(3, np.uint8, size=128)
    out = AugPreset('light', crop_size=(200, 200), seed=0)(dict(img=img, gt_seg_map=mask))
    assert (out['gt_seg_map'] == 255).sum() >= 200 * 200 - 128 * 128 * 1.6  # at least padding


def test_unknown_preset_lists_them_all():
    with pytest.raises(UnknownPresetError, match="unknown preset 'hevy'; choose one of light, "
                                                 'medium, heavy, medical, satellite, overhead'):
        AugPreset('hevy')


def test_config_shorthand_replaces_the_random_steps():
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                dict(type='RandomResize', scale=(300, 300), ratio_range=(0.75, 1.5)),
                dict(type='RandomCrop', crop_size=(256, 256)), dict(type='RandomFlip', prob=0.5),
                dict(type='PhotoMetricDistortion'), dict(type='PackSegInputs')]
    out = with_preset(pipeline, 'satellite', crop_size=(256, 256))
    assert [t['type'] for t in out] == ['LoadImageFromFile', 'LoadAnnotations', 'RandomResize',
                                        'AugPreset', 'PackSegInputs']
    assert out[3] == dict(type='AugPreset', name='satellite', crop_size=(256, 256),
                          ignore_index=255)
    from altair.config import load_config
    from altair.api.compile import compile_config
    cfg = compile_config(load_config('configs/pspnet.py',
                                     cfg_options={'augmentations': dict(preset='heavy')}),
                         work_dir='w', launcher='none')
    steps = cfg.train_dataloader.dataset.pipeline
    assert [t['type'] for t in steps][-2:] == ['AugPreset', 'PackSegInputs']
    assert steps[-2]['name'] == 'heavy' and tuple(steps[-2]['crop_size']) == (256, 256)


# ---- the hand-written pieces
def test_unit_range_round_trips_every_dtype():
    for img in (np.arange(12, dtype=np.uint8).reshape(2, 2, 3),
                np.array([[0, 65535], [1, 30000]], np.uint16),
                np.array([[-1000.0, 0.0], [500.0, 3000.0]], np.float32)):
        x, info = to_unit_range(img)
        assert x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1 and x.ndim == 3
        np.testing.assert_allclose(from_unit_range(x, info), img, rtol=1e-6, atol=1e-3)
        assert from_unit_range(x, info).dtype == img.dtype


def test_per_band_brightness_contrast_formula():
    img = np.random.default_rng(0).random((8, 8, 4)).astype(np.float32) * 0.5 + 0.25
    out = per_band_brightness_contrast(img, np.array([0.0, 0.1, 0.0, -0.1]),
                                       np.array([1.0, 1.0, 0.5, 1.0]))
    np.testing.assert_allclose(out[..., 0], img[..., 0], atol=1e-7)
    np.testing.assert_allclose(out[..., 1], img[..., 1] + 0.1, atol=1e-6)
    m = img[..., 2].mean()
    np.testing.assert_allclose(out[..., 2], (img[..., 2] - m) * 0.5 + m, atol=1e-6)


def test_haze_clouds_and_bias_field():
    img = np.full((32, 32, 5), 0.2, np.float32)
    field = smooth_field(np.random.default_rng(0), 32, 32)
    assert field.min() == 0.0 and field.max() == pytest.approx(1.0)
    clear = haze_and_clouds(img, field, haze=0.0, cover=0.0)
    np.testing.assert_allclose(clear, img)
    hazy = haze_and_clouds(img, field, haze=0.5, cover=0.0)
    np.testing.assert_allclose(hazy, 0.2 * 0.5 + 0.9 * 0.5, rtol=1e-6)
    cloudy = haze_and_clouds(img, field, haze=0.0, cover=0.3)
    assert cloudy[field == 1.0].min() == pytest.approx(0.9) and cloudy.shape == img.shape
    shaded = bias_field(img, field, 0.25)
    np.testing.assert_allclose(shaded[..., 0], 0.2 * (1 + 0.25 * (2 * field - 1)), rtol=1e-5)
