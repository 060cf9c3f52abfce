# UperNet + ViT-B/16, 8 GPUs x batch 2, 160k iterations, ADE20K, trained with FSDP in bf16
# (configs/_base_/strategies/fsdp_bf16.py: one FSDP unit per ViT block).
#   tools/dist_train.sh configs/upernet/upernet_vit-b16-fsdp_8xb2-160k_ade20k-512x512.py 8
_base_ = [
    '../_base_/models/upernet_vit-b16.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_adamw_160k.py',
    '../_base_/strategies/fsdp_bf16.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
train_dataloader = dict(batch_size=2)
runner_type = 'FlexibleRunner'
# ViT's position and class embeddings take no weight decay
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(pos_embed=dict(decay_mult=0.0),
                                                         cls_token=dict(decay_mult=0.0),
                                                         norm=dict(decay_mult=0.0),
                                                         head=dict(lr_mult=10.0))))
