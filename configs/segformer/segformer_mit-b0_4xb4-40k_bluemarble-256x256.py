# SegFormer MiT-B0, 4 GPUs x batch 4, 40k iterations, Blue Marble: the GPU-sized schedule.
_base_ = [
    '../_base_/models/segformer_mit-b0.py', '../_base_/datasets/bluemarble.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py'
]
crop_size = (256, 256)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
optimizer = dict(_delete_=True, type='AdamW', lr=6e-4, betas=(0.9, 0.999), weight_decay=0.01)
optim_wrapper = dict(optimizer=optimizer,
                     paramwise_cfg=dict(custom_keys=dict(norm=dict(decay_mult=0.0),
                                                         head=dict(lr_mult=10.0))))
train_dataloader = dict(batch_size=4)
