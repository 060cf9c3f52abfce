"""Datasets: the embedded Blue Marble land cover, its builder, and augmentation presets."""
from altair.datasets.bluemarble import BlueMarbleDataset
from altair.datasets.bluemarble_build import (DataPackageMissingError, build_bluemarble,
                                              ensure_bluemarble)
from altair.datasets.transforms import AugPreset

__all__ = ['AugPreset', 'BlueMarbleDataset', 'build_bluemarble', 'ensure_bluemarble',
           'DataPackageMissingError']
