# DINO recipe of benchmarks/ssl_transfer.py: the ResNet-18 of
# dino_resnet18-v1c_1xb32-200it_bluemarble-96x96.py pretrained 600 iterations with the paper's
# teacher temperature warm-up (0.04 -> 0.07 over the first 30 %), weaker colour augmentation
# (colour tells land cover apart) and multi-crop (2 global 64x64 + 4 local 32x32 views). README
# "Self-supervised pretraining" lists what each change did.
#   altair train configs/selfsup/dino_resnet18-v1c_1xb32-600it_bluemarble-96x96.py
#   tools/export_backbone.py last work_dirs/ssl/dino_resnet18.pth
_base_ = ['./dino_resnet18-v1c_1xb32-200it_bluemarble-96x96.py']
iters = 600
jitter = dict(type='mmpretrain.RandomApply', prob=0.5, transforms=[
    dict(type='mmpretrain.ColorJitter', brightness=0.2, contrast=0.2, saturation=0.1, hue=0.02)])
global_view = [dict(type='mmpretrain.RandomResizedCrop', scale=64, crop_ratio_range=(0.4, 1.0)),
               dict(type='mmpretrain.RandomFlip', prob=0.5), jitter]
local_view = [dict(type='mmpretrain.RandomResizedCrop', scale=32, crop_ratio_range=(0.05, 0.4)),
              dict(type='mmpretrain.RandomFlip', prob=0.5), jitter]
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='mmpretrain.MultiView', num_views=[2, 4], transforms=[global_view, local_view]),
    dict(type='mmpretrain.PackInputs')]))
model = dict(total_steps=iters, teacher_temp=0.07, warmup_teacher_temp=0.04,
             warmup_teacher_steps=int(0.3 * iters))
param_scheduler = [dict(type='WarmupCosineLR', warmup=iters // 10, end=iters, by_epoch=False)]
train_cfg = dict(max_iters=iters)
default_hooks = dict(checkpoint=dict(interval=iters))
