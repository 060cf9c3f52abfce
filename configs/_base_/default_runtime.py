# Runtime shared by every Altair config.
default_scope = 'altair'
# Altair's Runner = mmengine's Runner + CPU/GPU device placement (gloo DDP, SyncBN -> BN).
runner_type = 'AltairRunner'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # NCCL on CUDA; on the CPU AltairRunner starts a gloo group instead.
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)

# Test-time augmentation used by `tools/test.py --tta` (Altair's TTA needs no tta_pipeline):
# horizontal flip, soft vote — the augmentation the configs train with. transforms=['d4']
# (all 8 flips/rotations) suits models trained with rotations too; on the Blue Marble demo
# models it lowered val mIoU (north/south are not interchangeable there, see README).
# For mmseg's TTA through the dataset's `tta_pipeline`: tta_model = dict(type='SegTTAModel').
tta_model = dict(type='AltairTTAModel', transforms=['hflip'], scales=[1.0], merge='soft_vote')
