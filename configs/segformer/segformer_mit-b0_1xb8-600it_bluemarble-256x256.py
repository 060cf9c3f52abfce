# SegFormer MiT-B0 from scratch, 1 process x batch 8, 600 iterations, Blue Marble, 256x256
# crops, bf16 autocast: sized for 2 CPU cores. AdamW, 1e-3.
_base_ = [
    '../_base_/models/segformer_mit-b0.py', '../_base_/datasets/bluemarble.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_adamw_cpu_demo.py'
]
crop_size = (256, 256)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
