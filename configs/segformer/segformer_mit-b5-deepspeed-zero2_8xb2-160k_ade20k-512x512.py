# SegFormer MiT-B5 (82M parameters), 8 GPUs x batch 2, 160k iterations, ADE20K, trained with
# deepspeed-zero2 (configs/_base_/strategies/deepspeed_zero2_bf16.py).
#   tools/dist_train.sh configs/segformer/segformer_mit-b5-deepspeed-zero2_8xb2-160k_ade20k-512x512.py 8
_base_ = [
    '../_base_/models/segformer_mit-b5.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_adamw_160k.py',
    '../_base_/strategies/deepspeed_zero2_bf16.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor, decode_head=dict(num_classes=150))
train_dataloader = dict(batch_size=2)
runner_type = 'FlexibleRunner'
# DeepSpeedOptimWrapper takes the optimizer (and its builder the paramwise_cfg) only: the
# base's clip_grad is DeepSpeed's gradient_clipping (configs/_base_/strategies/)
optim_wrapper = dict(_delete_=True, type='DeepSpeedOptimWrapper',
                     optimizer={{_base_.optim_wrapper.optimizer}},
                     paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}})
