"""The errors of reading and writing images, volumes and vector labels, in one place: each an
:class:`~altair.errors.AltairError` and the built-in that fits (``ValueError``,
``FileNotFoundError``, or ``DataError`` for training data), so no common base beyond
``AltairError`` (``FileNotFoundError`` and ``ValueError`` cannot share a subclass);
:data:`RASTER_ERRORS` catches them all."""
from __future__ import annotations

from altair.errors import AltairError, DataError


class UnsupportedImageError(AltairError, ValueError):
    """A file that is not an image Altair can read."""


class ImageNotFoundError(AltairError, FileNotFoundError):
    """An image path or folder that does not exist or holds no image."""


class ImageReadError(UnsupportedImageError):
    """An image file that is truncated or corrupt (it opens, but its pixels do not read)."""


class NodataValueError(AltairError, ValueError):
    """A nodata value the image's data type cannot hold."""


class RasterFileError(DataError):
    """A training raster that cannot be opened or read (corrupt, truncated, not a raster)."""


class BandError(DataError):
    """A band index or description that the file does not have."""


class LabelAlignmentError(DataError):
    """Labels that cannot be placed on the image grid (no overlap, no CRS, other size)."""


class VectorLabelError(DataError):
    """Vector labels without the class attribute, or with values that are not classes."""


class VectorFileError(DataError):
    """A vector file that is truncated or corrupt."""


class LabelValueError(DataError):
    """Label values that are not in the classes (or the classes sidecar)."""


class MosaicError(AltairError, ValueError):
    """Rasters that cannot be put side by side as one scene."""


class VolumeError(DataError):
    """A ``VolumeSliceDataset`` option, volume file or label value that cannot work."""


RASTER_ERRORS = (UnsupportedImageError, ImageNotFoundError, ImageReadError, NodataValueError,
                 RasterFileError, BandError, LabelAlignmentError, VectorLabelError,
                 VectorFileError, LabelValueError, MosaicError, VolumeError)
