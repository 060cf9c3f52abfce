# UNet++ over an mmpretrain backbone (ConvNeXt-atto, strides 4/8/16/32, from scratch): the
# head takes any multi-scale backbone; only in_channels changes. Same schedule as the ResNet one.
_base_ = ['./unetpp_r18-ds_1xb8-600it_bluemarble-256x256.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ConvNeXt',
        arch='atto',
        out_indices=(0, 1, 2, 3),
        gap_before_final_norm=False,
        drop_path_rate=0.1),
    decode_head=dict(in_channels=[40, 80, 160, 320]))
