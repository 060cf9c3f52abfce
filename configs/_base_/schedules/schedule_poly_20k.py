# 20k iterations, SGD + polynomial decay to zero: lr = base * (1 - t / 20000) ** 0.9
# (mmengine's PolyLR; schedule_20k.py is the same with mmseg's eta_min=1e-4).
_base_ = ['./schedule_20k.py']
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=20000,
                        by_epoch=False)]
