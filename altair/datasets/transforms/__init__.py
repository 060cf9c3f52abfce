"""Registered data transforms: augmentation presets, the sample check, the centred crop."""
from altair.datasets.transforms.aug_preset import AugPreset
from altair.datasets.transforms.check import CheckSegSample, SegSampleError
from altair.datasets.transforms.crop import CentredRandomCrop
from altair.datasets.transforms.presets import PRESETS, UnknownPresetError, build_preset

__all__ = ['AugPreset', 'CentredRandomCrop', 'CheckSegSample', 'SegSampleError', 'PRESETS', 'UnknownPresetError', 'build_preset']
