# configs/pspnet.py, its ResNet-18 starting from the DINO pretraining of
# configs/selfsup/dino_resnet18-v1c_1xb32-600it_bluemarble-96x96.py (Blue Marble crops outside
# the val longitudes) instead of from scratch. First:
#   altair train configs/selfsup/dino_resnet18-v1c_1xb32-600it_bluemarble-96x96.py
#   tools/export_backbone.py last work_dirs/ssl/dino_resnet18.pth
_base_ = ['./pspnet_r18-d16_1xb8-600it_bluemarble-256x256.py']
model = dict(backbone=dict(
    init_cfg=dict(type='Pretrained', checkpoint='work_dirs/ssl/dino_resnet18.pth')))
# fine-tuning recipe: the pretrained backbone at half the head's learning rate, after the
# schedule's linear warm-up (the first 1/12 of the iterations)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=0.5))))
