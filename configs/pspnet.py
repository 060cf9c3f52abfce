# Short name for pspnet/pspnet_r18-d16_1xb8-600it_bluemarble-256x256.py
# (PSPNet, ResNet-18 from scratch at output stride 16).
_base_ = ['./pspnet/pspnet_r18-d16_1xb8-600it_bluemarble-256x256.py']
