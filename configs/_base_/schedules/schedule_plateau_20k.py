# 20k iterations, SGD at a constant LR cut by 10x when val mIoU has not improved for 2
# validations (every 2k iterations), then 1 validation of cooldown, never below 1e-5
# (mmengine's ReduceOnPlateauLR). by_epoch=True is required by mmengine and right here too:
# its ParamSchedulerHook hands validation metrics only to epoch-based schedulers, and each
# validation counts as one "epoch" of patience, also in iteration-based training.
_base_ = ['./schedule_20k.py']
param_scheduler = [
    dict(type='ReduceOnPlateauLR', monitor='mIoU', rule='greater', factor=0.1, patience=2,
         cooldown=1, min_value=1e-5, threshold=1e-4, by_epoch=True)
]
