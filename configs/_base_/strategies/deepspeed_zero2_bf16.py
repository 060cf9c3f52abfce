# DeepSpeed ZeRO-2 with bf16 (FlexibleRunner + mmengine's DeepSpeedStrategy). Needs CUDA and
# the optional extra: pip install 'altair-seg[deepspeed]'. ZeRO-2 shards optimizer state and
# gradients over the processes; ZeRO-3 also shards the parameters.
strategy = dict(
    type='DeepSpeedStrategy',
    bf16=dict(enabled=True),
    # DeepSpeed casts the parameters to bf16, not the batch, and (0.19.4 and later) not the
    # buffers unless told: BatchNorm would meet bf16 weights and fp32 running statistics
    inputs_to_half=['inputs'],
    config=dict(data_types=dict(buffer_dtype='bf16')),
    zero_optimization=dict(stage=2, allgather_partitions=True, reduce_scatter=True,
                           allgather_bucket_size=50000000, reduce_bucket_size=50000000,
                           overlap_comm=True, contiguous_gradients=True),
    gradient_clipping=1.0)
# The config using it sets runner_type = 'FlexibleRunner' and
# optim_wrapper = dict(_delete_=True, type='DeepSpeedOptimWrapper', optimizer=...,
# paramwise_cfg=...) (DeepSpeed owns the optimizer step; mmengine drives it through that
# wrapper, whose __init__ takes the optimizer only: clip_grad, dtype or accumulative_counts
# would fail it; they are gradient_clipping, bf16/fp16 and gradient_accumulation_steps here):
# _base_ files may not repeat a key.
