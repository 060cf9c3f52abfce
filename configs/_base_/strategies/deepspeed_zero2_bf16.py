# DeepSpeed ZeRO-2 with bf16 (FlexibleRunner + mmengine's DeepSpeedStrategy). Needs CUDA and
# the optional extra: pip install 'altair-seg[deepspeed]'. ZeRO-2 shards optimizer state and
# gradients over the processes; ZeRO-3 also shards the parameters.
strategy = dict(
    type='DeepSpeedStrategy',
    bf16=dict(enabled=True),
    zero_optimization=dict(stage=2, allgather_partitions=True, reduce_scatter=True,
                           allgather_bucket_size=50000000, reduce_bucket_size=50000000,
                           overlap_comm=True, contiguous_gradients=True),
    gradient_clipping=1.0)
# The config using it sets runner_type = 'FlexibleRunner' and
# optim_wrapper = dict(type='DeepSpeedOptimWrapper') (DeepSpeed owns the optimizer step;
# mmengine drives it through that wrapper): _base_ files may not repeat a key.
