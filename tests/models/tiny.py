"""A small real mmseg segmentor (ResNet-18 at 1/8 width + FCN head, 5 classes) for model tests."""
from __future__ import annotations

from mmengine.config import ConfigDict


def segmentor_cfg(test_cfg: dict) -> dict:
    return dict(
        type='AltairEncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1]),
        backbone=dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8,
                      out_indices=(3,), norm_cfg=dict(type='BN')),
        decode_head=dict(type='FCNHead', in_channels=64, channels=16, num_convs=1,
                         num_classes=5, in_index=0, norm_cfg=dict(type='BN')),
        test_cfg=ConfigDict(test_cfg))
