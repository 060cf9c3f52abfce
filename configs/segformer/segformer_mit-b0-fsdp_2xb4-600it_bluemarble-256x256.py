# SegFormer MiT-B0 on Blue Marble with FSDP (FlexibleRunner + AltairFSDPStrategy): parameters,
# gradients and optimizer state sharded over the processes. Small enough to run on 2 CPU
# processes (gloo); the same file runs on GPUs (NCCL). 2 processes x batch 4 = the batch 8 of
# segformer_mit-b0_1xb8-600it_bluemarble-256x256.py.
#   altair train configs/segformer/segformer_mit-b0-fsdp_2xb4-600it_bluemarble-256x256.py --gpus 2
_base_ = ['./segformer_mit-b0_1xb8-600it_bluemarble-256x256.py']
runner_type = 'FlexibleRunner'
strategy = dict(
    # scoped name: FlexibleRunner builds its strategy before entering default_scope
    type='altair.AltairFSDPStrategy',
    # one FSDP unit per transformer block of the encoder; the rest (patch embeddings, decode
    # head) shards as the root unit
    model_wrapper=dict(auto_wrap_policy=dict(type='altair.fsdp_wrap_classes',
                                             class_names=['TransformerEncoderLayer'])),
    # checkpoints as one ordinary file (gathered on rank 0): tools/test.py, altair predict
    # and load_from read them like any other ('local' = one shard file per rank)
    state_dict_cfg='full')
train_dataloader = dict(batch_size=4)
