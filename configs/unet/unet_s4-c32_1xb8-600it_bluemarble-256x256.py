# U-Net S4 (32 base channels) from scratch at full resolution, 1 process x batch 8,
# 600 iterations, Blue Marble, 256x256 crops: the small-structure family on the demo data.
_base_ = [
    '../_base_/models/unet_s4-c32.py', '../_base_/datasets/bluemarble.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_cpu_demo.py'
]
crop_size = (256, 256)
data_preprocessor = dict(size=crop_size, size_divisor=None)  # size and size_divisor exclude each other
model = dict(data_preprocessor=data_preprocessor, decode_head=dict(num_classes=8),
             auxiliary_head=dict(num_classes=8))
