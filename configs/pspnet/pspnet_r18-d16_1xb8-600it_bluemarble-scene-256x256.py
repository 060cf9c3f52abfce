# configs/pspnet.py trained on the Blue Marble read straight from its two source rasters
# (RasterSceneDataset, no tiling step), with the tiled demo's split and augmentation.
_base_ = [
    '../_base_/models/pspnet_r18-d8.py', '../_base_/datasets/bluemarble_scene.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_cpu_demo.py'
]
crop_size = (256, 256)
# LoadRaster reads bands in the file's order (RGB), not OpenCV's BGR
data_preprocessor = dict(size=crop_size, bgr_to_rgb=False)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2)))
