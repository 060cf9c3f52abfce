# MAE, standard size: ViT-B/16 (mmpretrain's), 8 GPUs x batch 64, 20k iterations on 224x224
# crops of Blue Marble (or your own UnlabelledImageFolder). Hand over with
# tools/export_backbone.py RUN OUT.pth --convert mmpretrain_vit into the ViT-B of
# configs/upernet/upernet_vit-b16-fsdp_8xb2-160k_ade20k-512x512.py (patch_bias=True).
_base_ = ['./mae_vit-tiny-p8_1xb32-200it_bluemarble-64x64.py']
crop_size = (224, 224)
train_dataloader = dict(batch_size=64, num_workers=8, dataset=dict(
    crop_size=256, num_samples=1280000, pipeline=[
        dict(type='mmpretrain.RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.0),
             backend='pillow', interpolation='bicubic'),
        dict(type='mmpretrain.RandomFlip', prob=0.5),
        dict(type='mmpretrain.PackInputs')]))
model = dict(
    backbone=dict(_delete_=True, type='mmpretrain.MAEViT', arch='b', patch_size=16,
                  mask_ratio=0.75),
    neck=dict(num_patches=196, patch_size=16, embed_dim=768, decoder_embed_dim=512,
              decoder_depth=8, decoder_num_heads=16),
    head=dict(patch_size=16))
optim_wrapper = dict(_delete_=True, type='AmpOptimWrapper', dtype='bfloat16',
                     optimizer=dict(type='AdamW', lr=1.2e-3, betas=(0.9, 0.95),
                                    weight_decay=0.05),
                     paramwise_cfg=dict(custom_keys={
                         'ln': dict(decay_mult=0.0), 'bias': dict(decay_mult=0.0),
                         'pos_embed': dict(decay_mult=0.), 'mask_token': dict(decay_mult=0.),
                         'cls_token': dict(decay_mult=0.)}))
param_scheduler = [dict(type='WarmupCosineLR', warmup=1000, end=20000, by_epoch=False)]
train_cfg = dict(max_iters=20000)
default_hooks = dict(checkpoint=dict(interval=2000, max_keep_ckpts=3))
