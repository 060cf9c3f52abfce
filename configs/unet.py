# Short name for unet/unet_s4-c32_1xb8-600it_bluemarble-256x256.py
# (U-Net, 4 stages, 32 base channels, full-resolution output, from scratch).
_base_ = ['./unet/unet_s4-c32_1xb8-600it_bluemarble-256x256.py']
