"""``AugPreset``: a named augmentation preset as one registered pipeline step."""
from __future__ import annotations

import numpy as np
from mmcv.transforms import BaseTransform

from altair.datasets.transforms.presets import (IGNORE_INDEX, RGB_ONLY, build_preset,
                                                from_unit_range, to_unit_range)
from altair.registry import TRANSFORMS


@TRANSFORMS.register_module()
class AugPreset(BaseTransform):
    """Apply preset ``name`` (``light``, ``medium``, ``heavy``, ``medical``, ``satellite``;
    contents in ``altair.datasets.transforms.presets`` and docs/guides/configs.md) to ``img`` and
    ``gt_seg_map``, keeping the image's dtype and band count.

    Without ``seed`` every call draws its seed from NumPy's global generator, which mmengine
    seeds per worker from the run's seed, so a seeded training augments reproducibly; with
    ``seed`` the transform has its own fixed sequence.

    Args:
        name: the preset.
        crop_size: (h, w) of the final random crop (none when ``None``).
        ignore_index: mask value for areas a transform pads.
        seed: fixed seed of this transform's own generator.
    """

    def __init__(self, name: str, *, crop_size: tuple[int, int] | None = None,
                 ignore_index: int = IGNORE_INDEX, seed: int | None = None) -> None:
        self.name, self.seed = name, seed
        self.compose = build_preset(name, crop_size=crop_size, ignore_index=ignore_index,
                                    seed=seed)

    def transform(self, results: dict) -> dict:
        img = results['img']
        bands = 1 if img.ndim == 2 else img.shape[2]
        if self.name in RGB_ONLY and bands not in (1, 3):
            raise ValueError(f"preset '{self.name}' needs 1- or 3-band images (colour jitter), "
                             f"got {bands} bands in {results.get('img_path', 'the image')}; "
                             "use 'satellite' or 'light' for multi-band images")
        if self.seed is None:
            self.compose.set_random_seed(int(np.random.randint(0, 2**31 - 1)))
        x, info = to_unit_range(img)
        data = dict(image=x)
        if 'gt_seg_map' in results:
            data['mask'] = results['gt_seg_map']
        out = self.compose(**data)
        results['img'] = from_unit_range(out['image'], info)
        results['img_shape'] = results['img'].shape[:2]
        if 'mask' in out:
            results['gt_seg_map'] = out['mask']
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name='{self.name}', seed={self.seed})"


# random steps of an mmseg train pipeline that a preset replaces (resizing stays: it sets the
# scale the model trains at)
REPLACED = ('RandomCrop', 'CentredRandomCrop', 'RandomFlip', 'RandomRotate', 'RandomRotFlip',
            'PhotoMetricDistortion', 'RandomCutOut', 'Albu', 'AugPreset')


def with_preset(pipeline: list, preset: str, *, crop_size=None,
                ignore_index: int = IGNORE_INDEX) -> list:
    """``pipeline`` with its random flips, crops, rotations and photometric steps replaced by
    ``AugPreset(preset)``, placed before ``PackSegInputs`` (the config shorthand
    ``augmentations = dict(preset=...)``)."""
    build_preset(preset)  # unknown names fail here, naming the five
    kept = [t for t in pipeline if t.get('type') not in REPLACED]
    step = dict(type='AugPreset', name=preset, crop_size=crop_size, ignore_index=ignore_index)
    at = next((i for i, t in enumerate(kept) if t.get('type') == 'PackSegInputs'), len(kept))
    return kept[:at] + [step] + kept[at:]
