# SegFormer MiT-B2 (standard variant), 8 GPUs x batch 2, 160k iterations, ADE20K (150 classes).
_base_ = [
    '../_base_/models/segformer_mit-b2.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_adamw_160k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor, decode_head=dict(num_classes=150))
train_dataloader = dict(batch_size=2)
