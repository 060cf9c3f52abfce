# FSDP (FlexibleRunner + AltairFSDPStrategy) with bf16 compute and communication, for large
# transformer encoders. One FSDP unit per encoder block (`TransformerEncoderLayer` in MiT and
# ViT); decode heads stay in the root unit (mmseg calls head.loss() / head.predict(), which an
# FSDP unit's forward would not see). Checkpoints are gathered into one ordinary file.
# The config using it sets runner_type = 'FlexibleRunner' (_base_ files may not repeat a key).
strategy = dict(
    # scoped name: FlexibleRunner builds its strategy before entering default_scope
    type='altair.AltairFSDPStrategy',
    model_wrapper=dict(
        auto_wrap_policy=dict(type='altair.fsdp_wrap_classes',
                              class_names=['TransformerEncoderLayer']),
        mixed_precision=dict(param_dtype='bfloat16', reduce_dtype='bfloat16',
                             buffer_dtype='bfloat16')),
    state_dict_cfg='full')
