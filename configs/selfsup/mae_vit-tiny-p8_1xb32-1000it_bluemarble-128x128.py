# MAE recipe of benchmarks/ssl_transfer.py: the tiny ViT of
# mae_vit-tiny-p8_1xb32-200it_bluemarble-64x64.py pretrained 1000 iterations on 128x128 views
# (16x16 patches of 8 pixels, 75 % masked, normalised-pixel loss) cut from 160x160 crops at
# 0.5-1x of their area, i.e. at about the scale the segmentation fine-tuning sees; warm-up and
# cosine decay. About 7 minutes on 2 CPU cores (AVX512-BF16). README "Self-supervised
# pretraining" lists what each change did.
#   altair train configs/selfsup/mae_vit-tiny-p8_1xb32-1000it_bluemarble-128x128.py
#   tools/export_backbone.py last work_dirs/ssl/mae_vit-tiny.pth --convert mmpretrain_vit
_base_ = ['./mae_vit-tiny-p8_1xb32-200it_bluemarble-64x64.py']
crop_size = (128, 128)
iters = 1000
train_dataloader = dict(dataset=dict(crop_size=160, pipeline=[
    dict(type='mmpretrain.RandomResizedCrop', scale=128, crop_ratio_range=(0.5, 1.0)),
    dict(type='mmpretrain.RandomFlip', prob=0.5),
    dict(type='mmpretrain.PackInputs')]))
model = dict(backbone=dict(img_size=128, mask_ratio=0.75), neck=dict(num_patches=256),
             head=dict(norm_pix=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, begin=0, end=iters // 10, by_epoch=False),
    dict(type='CosineAnnealingLR', eta_min=0.0, begin=iters // 10, end=iters, by_epoch=False)]
train_cfg = dict(max_iters=iters)
default_hooks = dict(checkpoint=dict(interval=iters))
