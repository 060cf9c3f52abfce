#!/usr/bin/env python
"""Export a self-supervised backbone for segmentation:
tools/export_backbone.py RUN_OR_CHECKPOINT OUT.pth [--convert mmpretrain_resnet|mmpretrain_vit|none]

RUN_OR_CHECKPOINT is a run id (its best, else last, checkpoint) or a checkpoint file. OUT.pth
loads into the mmseg backbone with init_cfg=dict(type='Pretrained', checkpoint='OUT.pth').
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from altair.cli import run_tool  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('source', metavar='RUN_OR_CHECKPOINT')
    p.add_argument('out', metavar='OUT.pth')
    p.add_argument('--convert', default='mmpretrain_resnet',
                   choices=['mmpretrain_resnet', 'mmpretrain_vit', 'none'],
                   help='key names: mmpretrain ResNet -> mmseg ResNet (default), mmpretrain ViT '
                        '(MAE) -> mmseg VisionTransformer, or as they are')
    p.add_argument('--prefix', default='backbone.', help='weights to take (default: backbone.)')
    p.add_argument('--runs-root', help='run store (default: $ALTAIR_HOME/runs, else ./runs)')
    args = p.parse_args(argv)

    def fn() -> int:
        from altair.api.runs import resolve_checkpoint
        from altair.models.selfsup.export import export_backbone
        source = resolve_checkpoint(args.source, args.runs_root)
        print(export_backbone(source, args.out, convert=args.convert, prefix=args.prefix))
        return 0
    return run_tool(fn)


if __name__ == '__main__':
    sys.exit(main())
