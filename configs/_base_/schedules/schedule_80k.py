# 80k iterations: schedule_20k.py stretched (SGD + poly decay, validation every 8k).
_base_ = ['./schedule_20k.py']
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=80000, by_epoch=False)
]
train_cfg = dict(max_iters=80000, val_interval=8000)
default_hooks = dict(checkpoint=dict(interval=8000))
