# DeepLabV3+, ResNet-18 from scratch at output stride 16, 1 process x batch 8, 600 iterations,
# Blue Marble, 256x256 crops, bf16 autocast: sized for 2 CPU cores.
_base_ = [
    '../_base_/models/deeplabv3plus_r18-d8.py', '../_base_/datasets/bluemarble.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_cpu_demo.py'
]
crop_size = (256, 256)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    # output stride 16, with the ASPP rates the DeepLabV3+ paper uses at that stride
    backbone=dict(strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2)),
    decode_head=dict(dilations=(1, 6, 12, 18)))
