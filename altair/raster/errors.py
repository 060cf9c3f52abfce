"""The errors of reading and writing images, volumes and vector labels: one family under
:class:`RasterError`, each also the built-in (and Altair base) that fits."""
from __future__ import annotations

from altair.errors import AltairError, DataError


class RasterError(AltairError):
    """Base of every error of :mod:`altair.raster`."""


class UnsupportedImageError(RasterError, ValueError):
    """A file that is not an image Altair can read."""


class ImageNotFoundError(RasterError, FileNotFoundError):
    """An image path or folder that does not exist or holds no image."""


class ImageReadError(UnsupportedImageError):
    """An image file that is truncated or corrupt (it opens, but its pixels do not read)."""


class NodataValueError(RasterError, ValueError):
    """A nodata value the image's data type cannot hold."""


class RasterFileError(RasterError, DataError):
    """A training raster that cannot be opened or read (corrupt, truncated, not a raster)."""


class BandError(RasterError, DataError):
    """A band index or description that the file does not have."""


class LabelAlignmentError(RasterError, DataError):
    """Labels that cannot be placed on the image grid (no overlap, no CRS, other size)."""


class VectorLabelError(RasterError, DataError):
    """Vector labels without the class attribute, or with values that are not classes."""


class VectorFileError(RasterError, DataError):
    """A vector file that is truncated or corrupt."""


class LabelValueError(RasterError, DataError):
    """Label values that are not in the classes (or the classes sidecar)."""


class MosaicError(RasterError, ValueError):
    """Rasters that cannot be put side by side as one scene."""


class VolumeError(RasterError, DataError):
    """A ``VolumeSliceDataset`` option, volume file or label value that cannot work."""
