"""Datasets: the embedded Blue Marble land cover, its builder, raster scenes read through
rasterio, slices of volumes, and augmentation presets."""
from altair.datasets.bluemarble import BlueMarbleDataset
from altair.datasets.bluemarble_build import (DataPackageMissingError, build_bluemarble,
                                              ensure_bluemarble)
from altair.datasets.scenes import LoadRaster, RasterSceneDataset
from altair.datasets.transforms import AugPreset
from altair.datasets.unlabelled import BlueMarbleCrops, RasterCrops, UnlabelledImageFolder
from altair.datasets.volume import LoadVolumeSlice, VolumeSliceDataset

__all__ = ['AugPreset', 'LoadRaster', 'LoadVolumeSlice', 'RasterSceneDataset', 'VolumeSliceDataset', 'BlueMarbleCrops', 'BlueMarbleDataset', 'RasterCrops', 'UnlabelledImageFolder', 'build_bluemarble', 'ensure_bluemarble',
           'DataPackageMissingError']
