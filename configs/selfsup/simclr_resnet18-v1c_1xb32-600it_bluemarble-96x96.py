# SimCLR recipe of benchmarks/ssl_transfer.py: the ResNet-18 of
# simclr_resnet18-v1c_1xb32-200it_bluemarble-96x96.py pretrained 600 iterations with weaker
# colour augmentation (land cover is told apart by its colour, so views that differ in hue and
# greyness teach the backbone to ignore what segmentation needs), temperature 0.2 and a
# warm-up + cosine schedule. README "Self-supervised pretraining" lists what each change did.
#   altair train configs/selfsup/simclr_resnet18-v1c_1xb32-600it_bluemarble-96x96.py
#   tools/export_backbone.py last work_dirs/ssl/simclr_resnet18.pth
_base_ = ['./simclr_resnet18-v1c_1xb32-200it_bluemarble-96x96.py']
iters = 600
view = [
    dict(type='mmpretrain.RandomResizedCrop', scale=64, crop_ratio_range=(0.3, 1.0)),
    dict(type='mmpretrain.RandomFlip', prob=0.5),
    dict(type='mmpretrain.RandomApply', prob=0.5, transforms=[
        dict(type='mmpretrain.ColorJitter', brightness=0.2, contrast=0.2, saturation=0.1,
             hue=0.02)]),
]
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='mmpretrain.MultiView', num_views=2, transforms=[view]),
    dict(type='mmpretrain.PackInputs')]))
model = dict(head=dict(temperature=0.2))
param_scheduler = [dict(type='WarmupCosineLR', warmup=iters // 10, end=iters, by_epoch=False)]
train_cfg = dict(max_iters=iters)
default_hooks = dict(checkpoint=dict(interval=iters))
