"""Registered data transforms: augmentation presets."""
from altair.datasets.transforms.aug_preset import AugPreset
from altair.datasets.transforms.presets import PRESETS, UnknownPresetError, build_preset

__all__ = ['AugPreset', 'PRESETS', 'UnknownPresetError', 'build_preset']
