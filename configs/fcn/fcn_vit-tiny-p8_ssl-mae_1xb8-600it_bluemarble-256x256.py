# configs/fcn/fcn_vit-tiny-p8_1xb8-600it_bluemarble-256x256.py with the tiny ViT starting from
# the MAE pretraining of configs/selfsup/mae_vit-tiny-p8_1xb32-1000it_bluemarble-128x128.py
# (Blue Marble crops outside the val longitudes; mmseg resizes the position embeddings on
# loading). Fine-tuning recipe: README "Self-supervised pretraining" lists what each part did.
#   altair train configs/selfsup/mae_vit-tiny-p8_1xb32-1000it_bluemarble-128x128.py
#   tools/export_backbone.py last work_dirs/ssl/mae_vit-tiny.pth --convert mmpretrain_vit
#   altair train configs/fcn/fcn_vit-tiny-p8_ssl-mae_1xb8-600it_bluemarble-256x256.py
_base_ = ['./fcn_vit-tiny-p8_1xb8-600it_bluemarble-256x256.py']
model = dict(backbone=dict(
    init_cfg=dict(type='Pretrained', checkpoint='work_dirs/ssl/mae_vit-tiny.pth')))
# fine-tuning recipe (MAE paper): layer-wise learning-rate decay 0.75 from the head down to the
# patch embedding, at twice the from-scratch base rate; warm-up as the scratch schedule
optim_wrapper = dict(optimizer=dict(lr=2e-3), constructor='LayerDecayOptimWrapperConstructor',
                     paramwise_cfg=dict(_delete_=True, layer_decay=0.75))
