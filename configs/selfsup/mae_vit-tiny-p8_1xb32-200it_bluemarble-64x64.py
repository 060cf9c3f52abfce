# MAE (He et al., CVPR 2022; mmpretrain's) of a tiny ViT (4 layers x 192 channels, 8x8 patches)
# on 64x64 Blue Marble crops outside the val longitudes: 75 % of the patches masked, the pixels
# of the masked ones reconstructed. Small enough for 2 CPU cores.
#   altair train configs/selfsup/mae_vit-tiny-p8_1xb32-200it_bluemarble-64x64.py
_base_ = ['./simclr_resnet18-v1c_1xb32-200it_bluemarble-96x96.py']
crop_size = (64, 64)
train_dataloader = dict(dataset=dict(crop_size=96, pipeline=[
    dict(type='mmpretrain.RandomResizedCrop', scale=64, crop_ratio_range=(0.2, 1.0)),
    dict(type='mmpretrain.RandomFlip', prob=0.5),
    dict(type='mmpretrain.PackInputs')]))
model = dict(
    _delete_=True,
    type='mmpretrain.MAE',
    data_preprocessor=dict(type='mmpretrain.SelfSupDataPreprocessor',
                           mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           to_rgb=True),
    backbone=dict(type='mmpretrain.MAEViT', img_size=64, patch_size=8, mask_ratio=0.75,
                  arch=dict(embed_dims=192, num_layers=4, num_heads=3,
                            feedforward_channels=768)),
    neck=dict(type='mmpretrain.MAEPretrainDecoder', num_patches=64, patch_size=8, in_chans=3,
              embed_dim=192, decoder_embed_dim=128, decoder_depth=2, decoder_num_heads=4,
              mlp_ratio=4.0),
    head=dict(type='mmpretrain.MAEPretrainHead', norm_pix=True, patch_size=8,
              loss=dict(type='mmpretrain.PixelReconstructionLoss', criterion='L2')))
optim_wrapper = dict(optimizer=dict(lr=1.5e-3, betas=(0.9, 0.95), weight_decay=0.05))
