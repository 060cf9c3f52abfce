# SimCLR (Chen et al., ICML 2020) pretraining of the ResNet-18 (V1c) that configs/pspnet.py
# uses, on random 96x96 crops of the Blue Marble image outside the val longitudes
# (BlueMarbleCrops), two 64x64 views per crop. 200 iterations of batch 32: minutes on 2 CPU
# cores. mmpretrain's components are named with their scope ('mmpretrain.X'); the config's own
# scope stays 'altair' (its runner, hooks and datasets).
#   altair train configs/selfsup/simclr_resnet18-v1c_1xb32-200it_bluemarble-96x96.py
#   tools/export_backbone.py last work_dirs/ssl/simclr_resnet18.pth
_base_ = ['../_base_/default_runtime.py']
crop_size = (96, 96)
view = [
    dict(type='mmpretrain.RandomResizedCrop', scale=64, crop_ratio_range=(0.2, 1.0)),
    dict(type='mmpretrain.RandomFlip', prob=0.5),
    dict(type='mmpretrain.RandomApply', prob=0.8, transforms=[
        dict(type='mmpretrain.ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2,
             hue=0.1)]),
    dict(type='mmpretrain.RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
]
train_pipeline = [dict(type='mmpretrain.MultiView', num_views=2, transforms=[view]),
                  dict(type='mmpretrain.PackInputs')]
train_dataloader = dict(
    batch_size=32, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='BlueMarbleCrops', data_root='data/bluemarble', crop_size=96,
                 num_samples=6400, pipeline=train_pipeline))
model = dict(
    type='mmpretrain.SimCLR',
    data_preprocessor=dict(type='mmpretrain.SelfSupDataPreprocessor',
                           mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           to_rgb=True),
    backbone=dict(type='mmpretrain.ResNetV1c', depth=18, out_indices=(3,),
                  norm_cfg=dict(type='BN')),
    neck=dict(type='mmpretrain.NonLinearNeck', in_channels=512, hid_channels=512,
              out_channels=128, num_layers=2, with_avg_pool=True),
    head=dict(type='mmpretrain.ContrastiveHead', loss=dict(type='mmpretrain.CrossEntropyLoss'),
              temperature=0.1))
optim_wrapper = dict(type='AutocastOptimWrapper', dtype='auto',
                     optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
param_scheduler = [dict(type='WarmupCosineLR', warmup=20, end=200, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=200)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=200, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
