# 20k iterations, SGD + one-cycle LR (Smith & Topin 2019, mmengine's OneCycleLR): cosine rise
# from eta_max/25 to eta_max over the first 10 %, cosine fall to eta_max/25/1e4. Momentum is
# left to the optimizer. For other lengths change total_steps (= train_cfg.max_iters).
_base_ = ['./schedule_20k.py']
param_scheduler = [
    dict(type='OneCycleLR', eta_max=0.01, total_steps=20000, pct_start=0.1,
         anneal_strategy='cos', div_factor=25, final_div_factor=1e4, by_epoch=False)
]
