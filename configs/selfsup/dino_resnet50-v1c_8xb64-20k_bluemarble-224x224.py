# DINO, standard size: ResNet-50 (V1c), 8 GPUs x batch 64, 20k iterations; multi-crop of
# 2 global 224x224 + 6 local 96x96 views of 256x256 Blue Marble crops; 65536 prototypes.
_base_ = ['./dino_resnet18-v1c_1xb32-200it_bluemarble-96x96.py']
crop_size = (224, 224)
jitter = dict(type='mmpretrain.RandomApply', prob=0.8, transforms=[
    dict(type='mmpretrain.ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)])
global_view = [dict(type='mmpretrain.RandomResizedCrop', scale=224, crop_ratio_range=(0.4, 1.0)),
               dict(type='mmpretrain.RandomFlip', prob=0.5), jitter]
local_view = [dict(type='mmpretrain.RandomResizedCrop', scale=96, crop_ratio_range=(0.05, 0.4)),
              dict(type='mmpretrain.RandomFlip', prob=0.5), jitter]
train_dataloader = dict(batch_size=64, num_workers=8, dataset=dict(
    crop_size=256, num_samples=1280000, pipeline=[
        dict(type='mmpretrain.MultiView', num_views=[2, 6], transforms=[global_view, local_view]),
        dict(type='mmpretrain.PackInputs')]))
model = dict(backbone=dict(depth=50, norm_cfg=dict(type='SyncBN')),
             head_cfg=dict(in_dim=2048, hidden_dim=2048, bottleneck_dim=256, out_dim=65536),
             total_steps=20000, teacher_temp=0.07, warmup_teacher_temp=0.04,
             warmup_teacher_steps=3000)
optim_wrapper = dict(_delete_=True, type='AmpOptimWrapper', dtype='bfloat16',
                     optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.04))
param_scheduler = [dict(type='WarmupCosineLR', warmup=1000, end=20000, by_epoch=False)]
train_cfg = dict(max_iters=20000)
default_hooks = dict(checkpoint=dict(interval=2000, max_keep_ckpts=3))
