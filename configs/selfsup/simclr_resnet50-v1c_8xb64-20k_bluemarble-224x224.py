# SimCLR, standard size: ResNet-50 (V1c, the backbone of the r50 segmentation configs), 8 GPUs
# x batch 64, 20k iterations, two 224x224 views of 256x256 Blue Marble crops (or point the
# dataset at your own images: dict(type='UnlabelledImageFolder', data_root=...)).
_base_ = ['./simclr_resnet18-v1c_1xb32-200it_bluemarble-96x96.py']
crop_size = (224, 224)
view = [
    dict(type='mmpretrain.RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.0)),
    dict(type='mmpretrain.RandomFlip', prob=0.5),
    dict(type='mmpretrain.RandomApply', prob=0.8, transforms=[
        dict(type='mmpretrain.ColorJitter', brightness=0.8, contrast=0.8, saturation=0.8,
             hue=0.2)]),
    dict(type='mmpretrain.RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='mmpretrain.GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf',
         prob=0.5),
]
train_dataloader = dict(batch_size=64, num_workers=8, dataset=dict(
    crop_size=256, num_samples=1280000,
    pipeline=[dict(type='mmpretrain.MultiView', num_views=2, transforms=[view]),
              dict(type='mmpretrain.PackInputs')]))
model = dict(backbone=dict(depth=50, norm_cfg=dict(type='SyncBN')),
             neck=dict(in_channels=2048, hid_channels=2048, out_channels=128))
optim_wrapper = dict(_delete_=True, type='AmpOptimWrapper', dtype='bfloat16',
                     optimizer=dict(type='mmpretrain.LARS', lr=4.8, momentum=0.9, weight_decay=1e-6),
                     paramwise_cfg=dict(custom_keys={
                         'bn': dict(decay_mult=0, lars_exclude=True),
                         'bias': dict(decay_mult=0, lars_exclude=True),
                         'downsample.1': dict(decay_mult=0, lars_exclude=True)}))
param_scheduler = [dict(type='WarmupCosineLR', warmup=1000, end=20000, by_epoch=False)]
train_cfg = dict(max_iters=20000)
default_hooks = dict(checkpoint=dict(interval=2000, max_keep_ckpts=3))
