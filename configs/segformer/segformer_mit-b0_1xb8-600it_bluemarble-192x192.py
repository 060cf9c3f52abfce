# SegFormer MiT-B0 from scratch, 1 process x batch 8, 600 iterations, Blue Marble, 192x192
# crops: the `make demo` config, sized for 2 CPU cores without native bf16 (about 7 minutes
# of fp32 training). Against the 256x256 config: 192x192 crops, a 128-channel decoder (the
# 256-channel one was half of a step's time) and median-frequency class weights computed
# from the training masks (class_weight='auto'; water is half of the pixels). README: "make
# demo" lists what each change did. AutoWeightCrossEntropyLoss is mmseg's CrossEntropyLoss that
# takes 'auto': built outside `altair train` (mmseg's init_model) it is unweighted.
_base_ = ['./segformer_mit-b0_1xb8-600it_bluemarble-256x256.py']
crop_size = (192, 192)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(
        channels=128,
        loss_decode=dict(type='AutoWeightCrossEntropyLoss', use_sigmoid=False,
                         loss_weight=1.0, class_weight='auto')))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(300, 300), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.9),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
