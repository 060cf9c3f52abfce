"""Scenes read through rasterio: ``LoadRaster``, ``RasterSceneDataset`` and their helpers."""
from altair.datasets.scenes.load import LoadRaster
from altair.datasets.scenes.scene import RasterSceneDataset, SceneConfigError

__all__ = ['LoadRaster', 'RasterSceneDataset', 'SceneConfigError']
