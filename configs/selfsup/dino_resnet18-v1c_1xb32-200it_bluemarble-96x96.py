# DINO (Caron et al., ICCV 2021), trained by Altair (altair/models/selfsup/dino.py), of the
# ResNet-18 (V1c) that configs/pspnet.py uses, on Blue Marble crops outside the val longitudes.
# Multi-crop: 2 global 64x64 views (teacher and student) + 4 local 32x32 views (student).
#   altair train configs/selfsup/dino_resnet18-v1c_1xb32-200it_bluemarble-96x96.py
#   tools/export_backbone.py last work_dirs/ssl/dino_resnet18.pth
_base_ = ['./simclr_resnet18-v1c_1xb32-200it_bluemarble-96x96.py']
jitter = dict(type='mmpretrain.RandomApply', prob=0.8, transforms=[
    dict(type='mmpretrain.ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)])
global_view = [dict(type='mmpretrain.RandomResizedCrop', scale=64, crop_ratio_range=(0.4, 1.0)),
               dict(type='mmpretrain.RandomFlip', prob=0.5), jitter]
local_view = [dict(type='mmpretrain.RandomResizedCrop', scale=32, crop_ratio_range=(0.05, 0.4)),
              dict(type='mmpretrain.RandomFlip', prob=0.5), jitter]
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='mmpretrain.MultiView', num_views=[2, 4], transforms=[global_view, local_view]),
    dict(type='mmpretrain.PackInputs')]))
model = dict(
    _delete_=True,
    type='DINO',
    data_preprocessor=dict(type='mmpretrain.SelfSupDataPreprocessor',
                           mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           to_rgb=True),
    backbone=dict(type='mmpretrain.ResNetV1c', depth=18, out_indices=(3,),
                  norm_cfg=dict(type='BN')),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head_cfg=dict(in_dim=512, hidden_dim=512, bottleneck_dim=128, out_dim=1024),
    total_steps=200, num_global=2, student_temp=0.1, teacher_temp=0.04,
    warmup_teacher_temp=0.04, warmup_teacher_steps=0, base_momentum=0.996,
    center_momentum=0.9)
