"""Datasets: the embedded Blue Marble land cover and its builder."""
from altair.datasets.bluemarble import BlueMarbleDataset
from altair.datasets.bluemarble_build import (DataPackageMissingError, build_bluemarble,
                                              ensure_bluemarble)

__all__ = ['BlueMarbleDataset', 'build_bluemarble', 'ensure_bluemarble',
           'DataPackageMissingError']
