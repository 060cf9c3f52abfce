"""The one table of the file types Altair reads, by how it reads them."""
from __future__ import annotations

import os

# read window by window through rasterio (GDAL), never loaded whole
RASTER_SUFFIXES = ('.tif', '.tiff', '.vrt', '.img', '.jp2')
# ordinary images: decoded whole (OpenCV for prediction; GDAL's drivers in training)
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.webp')
# medical volumes read whole through SimpleITK (the `altair-seg[medical]` extra): NRRD and
# MetaImage, each with its detached-header form (.nhdr, .mhd; the data file beside it is
# named in the header). A DICOM series is a folder, not a suffix.
ITK_SUFFIXES = ('.nrrd', '.nhdr', '.mha', '.mhd')
# label or image volumes (nibabel for NIfTI, NumPy arrays, SimpleITK for the rest)
VOLUME_SUFFIXES = ('.nii.gz', '.nii', '.npy') + ITK_SUFFIXES
# polygons burnt into labels (pyogrio)
VECTOR_SUFFIXES = ('.geojson', '.gpkg', '.shp', '.fgb')
# every 2-D image, rasters first
PICTURE_SUFFIXES = RASTER_SUFFIXES + IMAGE_SUFFIXES


def has_suffix(path: str | os.PathLike, suffixes: tuple[str, ...]) -> bool:
    """Whether ``path`` ends (case-insensitively) with one of ``suffixes`` (``.nii.gz``
    included, which ``Path.suffix`` would read as ``.gz``)."""
    return os.fspath(path).lower().endswith(suffixes)
