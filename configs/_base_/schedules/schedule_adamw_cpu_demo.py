# Short AdamW schedule for transformers trained from scratch on the CPU (SegFormer demo).
_base_ = ['./schedule_cpu_demo.py']
optimizer = dict(_delete_=True, type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.01)
optim_wrapper = dict(
    type='AutocastOptimWrapper', dtype='auto', optimizer=optimizer,
    # no 10x head learning rate here: the encoder is not pretrained either
    paramwise_cfg=dict(custom_keys=dict(pos_block=dict(decay_mult=0.0),
                                        norm=dict(decay_mult=0.0))))
