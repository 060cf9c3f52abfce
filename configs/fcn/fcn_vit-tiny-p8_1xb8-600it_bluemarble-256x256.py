# FCN head over a tiny ViT (4 layers x 192 channels, 8x8 patches), from scratch, Blue Marble
# 256x256: the baseline of the MAE-pretrained configs/fcn/fcn_vit-tiny-p8_ssl-mae_* (same
# model). One 1/8-resolution feature map and a light head: about 1 s per iteration on 2 CPU
# cores, where UperNet's 4x neck made the same backbone 5x slower.
#   altair train configs/fcn/fcn_vit-tiny-p8_1xb8-600it_bluemarble-256x256.py
_base_ = [
    '../_base_/models/upernet_vit-b16.py', '../_base_/datasets/bluemarble.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_adamw_cpu_demo.py'
]
crop_size = (256, 256)
data_preprocessor = dict(size=crop_size)
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(img_size=(256, 256), patch_size=8, embed_dims=192, num_layers=4, num_heads=3,
                  out_indices=(1, 3), final_norm=True, patch_bias=True),
    neck=None,
    decode_head=dict(_delete_=True, type='FCNHead', in_channels=192, in_index=1, channels=128,
                     num_convs=2, concat_input=True, dropout_ratio=0.1, num_classes=8,
                     norm_cfg=norm_cfg, align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                                      loss_weight=1.0)),
    auxiliary_head=dict(in_channels=192, in_index=0, channels=64, num_classes=8))
