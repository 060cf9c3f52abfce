"""Scenes read through rasterio: ``LoadRaster``, ``RasterSceneDataset`` and their helpers."""
from altair.datasets.raster.load import LoadRaster
from altair.datasets.raster.scene import RasterSceneDataset, SceneConfigError

__all__ = ['LoadRaster', 'RasterSceneDataset', 'SceneConfigError']
