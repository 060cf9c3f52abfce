# PSPNet on a dilated ResNet-50 (output stride 8): the standard variant.
# Nothing is downloaded: point load_from or model.backbone.init_cfg at weights you have.
_base_ = ['./pspnet_r18-d8.py']
model = dict(
    backbone=dict(depth=50),
    decode_head=dict(in_channels=2048, channels=512),
    auxiliary_head=dict(in_channels=1024, channels=256))
