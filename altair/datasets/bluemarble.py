"""The embedded Blue Marble land-cover dataset (built by ``tools/dataset_converters/bluemarble.py``)."""
from __future__ import annotations

from mmseg.datasets import BaseSegDataset

from altair.datasets.bluemarble_classes import CLASSES, PALETTE
from altair.registry import DATASETS


@DATASETS.register_module()
class BlueMarbleDataset(BaseSegDataset):
    """NASA Blue Marble RGB tiles labelled with MODIS 2019 land cover (8 classes).

    Layout: ``img_dir/{train,val}/*.png`` and ``ann_dir/{train,val}/*.png`` (uint8 class
    indices, 255 = no data). See ``altair/datasets/bluemarble_classes.py`` for the classes.
    """

    METAINFO = dict(classes=CLASSES, palette=[list(p) for p in PALETTE])

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = False, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)
