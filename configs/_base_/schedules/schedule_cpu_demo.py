# A short schedule for training from scratch on 2 CPU cores (make demo).
optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4)
# bf16 autocast where the CPU or GPU has it natively (2x faster on an AVX512-BF16 CPU), fp32
# elsewhere (dtype='auto': emulated bf16 is slower than fp32); fp32 master weights either way.
optim_wrapper = dict(type='AutocastOptimWrapper', dtype='auto', optimizer=optimizer,
                     clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=50, by_epoch=False),
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=50, end=600, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=600, val_interval=600)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=25, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=600, save_best='mIoU',
                    max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
