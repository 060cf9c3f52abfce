"""Datasets: the embedded Blue Marble land cover, its builder, and augmentation presets."""
from altair.datasets.bluemarble import BlueMarbleDataset
from altair.datasets.bluemarble_build import (DataPackageMissingError, build_bluemarble,
                                              ensure_bluemarble)
from altair.datasets.transforms import AugPreset
from altair.datasets.unlabelled import BlueMarbleCrops, UnlabelledImageFolder

__all__ = ['AugPreset', 'BlueMarbleCrops', 'BlueMarbleDataset', 'UnlabelledImageFolder', 'build_bluemarble', 'ensure_bluemarble',
           'DataPackageMissingError']
