# 20k iterations, AdamW + linear warm-up (1.5k iterations from 1e-3 x base) then cosine to 0:
# Altair's WarmupCosineLR, one scheduler. By epochs: begin/end/warmup in epochs, by_epoch=True,
# convert_to_iter_based=True.
_base_ = ['./schedule_20k.py']
optimizer = dict(_delete_=True, type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01)
optim_wrapper = dict(optimizer=optimizer)
param_scheduler = [dict(type='WarmupCosineLR', warmup=1500, start_factor=1e-3, eta_min=0.0,
                        begin=0, end=20000, by_epoch=False)]
