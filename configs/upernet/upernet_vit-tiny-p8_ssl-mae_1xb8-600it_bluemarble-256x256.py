# UperNet over the tiny ViT (4 layers x 192, 8x8 patches) that
# configs/selfsup/mae_vit-tiny-p8_1xb32-200it_bluemarble-64x64.py pretrains with MAE, fine-tuned
# on Blue Marble at 256x256 (the 64x64 position embeddings are resized by mmseg on loading).
# First:
#   altair train configs/selfsup/mae_vit-tiny-p8_1xb32-200it_bluemarble-64x64.py
#   tools/export_backbone.py last work_dirs/ssl/mae_vit-tiny.pth --convert mmpretrain_vit
_base_ = [
    '../_base_/models/upernet_vit-b16.py', '../_base_/datasets/bluemarble.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_adamw_cpu_demo.py'
]
crop_size = (256, 256)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(img_size=(256, 256), patch_size=8, embed_dims=192, num_layers=4, num_heads=3,
                  out_indices=(0, 1, 2, 3), final_norm=True, patch_bias=True,
                  init_cfg=dict(type='Pretrained', checkpoint='work_dirs/ssl/mae_vit-tiny.pth')),
    neck=dict(in_channels=[192, 192, 192, 192], out_channels=192, scales=[4, 2, 1, 0.5]),
    decode_head=dict(in_channels=[192, 192, 192, 192], channels=128, num_classes=8),
    auxiliary_head=dict(in_channels=192, channels=64, num_classes=8))
