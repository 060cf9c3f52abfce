# DeepSpeed ZeRO-3 with bf16: ZeRO-2 (deepspeed_zero2_bf16.py) that also shards the parameters.
# Needs CUDA and the optional extra: pip install 'altair-seg[deepspeed]'.
_base_ = ['./deepspeed_zero2_bf16.py']
strategy = dict(zero_optimization=dict(stage=3))
