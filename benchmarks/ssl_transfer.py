#!/usr/bin/env python
"""Self-supervised pretraining → segmentation: the same short PSPNet schedule from scratch and
from each SSL-pretrained ResNet-18, val mIoU on Blue Marble.

Pretraining (``configs/selfsup/{simclr,dino}_resnet18-v1c_*``, ``--pretrain-iters``) sees only
random crops outside the val longitudes (``BlueMarbleCrops``); the backbone is exported with
``export_backbone`` and loaded through the backbone's ``init_cfg``. Fine-tuning is
``configs/pspnet.py`` for ``--finetune-iters`` iterations, seed 0, every variant alike. MAE
pretrains a ViT, which has no segmentation config here yet, so it is not in this comparison.

Prints one JSON line per method: ratio = val mIoU with pretraining / from scratch.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METHODS = ('simclr', 'dino')


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
    with tempfile.TemporaryDirectory() as home:
        t0 = time.time()
        scratch = alt.train(ROOT / 'configs/pspnet.py', cfg_options=finetune, root=home)
        scratch_miou, scratch_s = scratch.best_metrics['mIoU'], time.time() - t0
        for method in args.methods:
            t0 = time.time()
            config = next((ROOT / 'configs/selfsup').glob(f'{method}_resnet18-v1c_*.py'))
            pre = alt.train(config, root=home, cfg_options={
                'train_cfg.max_iters': args.pretrain_iters,
                'default_hooks.checkpoint.interval': args.pretrain_iters,
                'train_dataloader.dataset.data_root': args.data_root, 'randomness.seed': 0})
            weights = export_backbone(pre.last_checkpoint, Path(home) / f'{method}.pth')
            pretrain_s = time.time() - t0
            run = alt.train(ROOT / 'configs/pspnet.py', root=home, cfg_options={
                **finetune, 'model.backbone.init_cfg': dict(type='Pretrained',
                                                            checkpoint=str(weights))})
            miou = run.best_metrics['mIoU']
            print(json.dumps(dict(
                name=f'ssl_transfer_{method}', ratio=round(miou / scratch_miou, 3),
                baseline=scratch_miou, ours=miou, unit='val mIoU (PSPNet R18, Blue Marble)',
                pretrain_iters=args.pretrain_iters, finetune_iters=n,
                pretrain_seconds=round(pretrain_s), scratch_train_seconds=round(scratch_s),
                pretrain_data='Blue Marble crops outside the val longitudes')), flush=True)


if __name__ == '__main__':
    main()
