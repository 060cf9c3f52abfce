# UNet++ (deep supervision) on a ResNet-18 at strides 4/8/16/32, from scratch, 1 process x
# batch 8, 600 iterations, Blue Marble 256x256 crops, bf16 autocast: the demo's schedule, so
# its mIoU compares with configs/pspnet.py's.
_base_ = [
    '../../../configs/_base_/models/pspnet_r18-d8.py',
    '../../../configs/_base_/datasets/bluemarble.py',
    '../../../configs/_base_/default_runtime.py',
    '../../../configs/_base_/schedules/schedule_cpu_demo.py',
]
# from a source checkout; once the plugin is pip-installed its entry point does this
custom_imports = dict(imports=['projects.unetplusplus.altair_unetplusplus'],
                      allow_failed_imports=False)
crop_size = (256, 256)
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    # no dilation: UNet++ wants the full pyramid (strides 4, 8, 16, 32)
    backbone=dict(strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1)),
    decode_head=dict(
        _delete_=True,
        type='UNetPlusPlusHead',
        in_channels=[64, 128, 256, 512],
        in_index=[0, 1, 2, 3],
        channels=32,
        deep_supervision=True,
        dropout_ratio=0.1,
        num_classes=8,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=None)
