#!/usr/bin/env python
"""Self-supervised pretraining → segmentation: the same short PSPNet schedule from scratch and
from each SSL-pretrained ResNet-18, val mIoU on Blue Marble.

Pretraining (``configs/selfsup/*``, ``--pretrain-iters``) sees only random crops outside the
val longitudes (``BlueMarbleCrops``); the backbone is exported with ``export_backbone`` and
loaded through the backbone's ``init_cfg``. Fine-tuning runs ``--finetune-iters`` iterations,
seed 0, every variant alike: ``configs/pspnet.py`` (ResNet-18) for SimCLR and DINO, the FCN
tiny-ViT config for MAE, each against the same config from scratch.

Prints one JSON line per method: ratio = val mIoU with pretraining / from scratch.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# method → (pretraining config glob, segmentation config, key conversion)
METHODS = {
    'simclr': ('simclr_resnet18-v1c_*.py', 'configs/pspnet.py', 'mmpretrain_resnet'),
    'dino': ('dino_resnet18-v1c_*.py', 'configs/pspnet.py', 'mmpretrain_resnet'),
    'mae': ('mae_vit-tiny-p8_*.py',
            'configs/fcn/fcn_vit-tiny-p8_ssl-mae_1xb8-600it_bluemarble-256x256.py',
            'mmpretrain_vit'),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data-root', default=str(ROOT / 'data/bluemarble'))
    p.add_argument('--pretrain-iters', type=int, default=200)
    p.add_argument('--finetune-iters', type=int, default=300)
    p.add_argument('--methods', nargs='+', default=list(METHODS), choices=METHODS)
    args = p.parse_args()

    import altair as alt
    from altair.datasets.bluemarble_build import ensure_bluemarble
    from altair.models.selfsup.export import export_backbone
    ensure_bluemarble(args.data_root)
    n = args.finetune_iters
    finetune = {'train_cfg.max_iters': n, 'train_cfg.val_interval': n,
                'default_hooks.checkpoint.interval': n, 'randomness.seed': 0,
                **{f'{s}_dataloader.dataset.data_root': args.data_root
                   for s in ('train', 'val', 'test')}}
    scratch: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as home:
        for method in args.methods:
            pattern, seg_config, convert = METHODS[method]
            if seg_config not in scratch:
                t0 = time.time()
                run = alt.train(ROOT / seg_config, root=home, cfg_options={
                    **finetune, 'model.backbone.init_cfg': None})
                scratch[seg_config] = (run.best_metrics['mIoU'], time.time() - t0)
            scratch_miou, scratch_s = scratch[seg_config]
            t0 = time.time()
            config = next((ROOT / 'configs/selfsup').glob(pattern))
            pre = alt.train(config, root=home, cfg_options={
                'train_cfg.max_iters': args.pretrain_iters,
                'default_hooks.checkpoint.interval': args.pretrain_iters,
                'train_dataloader.dataset.data_root': args.data_root, 'randomness.seed': 0})
            weights = export_backbone(pre.last_checkpoint, Path(home) / f'{method}.pth',
                                      convert=convert)
            pretrain_s = time.time() - t0
            run = alt.train(ROOT / seg_config, root=home, cfg_options={
                **finetune, 'model.backbone.init_cfg': dict(type='Pretrained',
                                                            checkpoint=str(weights))})
            miou = run.best_metrics['mIoU']
            print(json.dumps(dict(
                name=f'ssl_transfer_{method}', ratio=round(miou / scratch_miou, 3),
                baseline=scratch_miou, ours=miou, unit=f'val mIoU ({seg_config}, Blue Marble)',
                pretrain_iters=args.pretrain_iters, finetune_iters=n,
                pretrain_seconds=round(pretrain_s), scratch_train_seconds=round(scratch_s),
                pretrain_data='Blue Marble crops outside the val longitudes')), flush=True)


if __name__ == '__main__':
    main()
