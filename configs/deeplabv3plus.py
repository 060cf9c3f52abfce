# Short name for deeplabv3plus/deeplabv3plus_r18-d16_1xb8-600it_bluemarble-256x256.py
# (DeepLabV3+, ResNet-18 from scratch at output stride 16).
_base_ = ['./deeplabv3plus/deeplabv3plus_r18-d16_1xb8-600it_bluemarble-256x256.py']
