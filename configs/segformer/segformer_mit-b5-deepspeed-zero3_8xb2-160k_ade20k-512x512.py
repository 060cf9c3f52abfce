# SegFormer MiT-B5, 8 GPUs x batch 2, 160k iterations, ADE20K, trained with DeepSpeed ZeRO-3
# (the ZeRO-2 config with parameters sharded too).
#   tools/dist_train.sh configs/segformer/segformer_mit-b5-deepspeed-zero3_8xb2-160k_ade20k-512x512.py 8
_base_ = ['./segformer_mit-b5-deepspeed-zero2_8xb2-160k_ade20k-512x512.py']
strategy = dict(zero_optimization=dict(stage=3))
