"""`altair` command line (also behind tools/train.py and tools/test.py).

Argument parsing only; the work is done in ``altair.api``.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean bad input: shown as one line, without a traceback."""
    from altair.api.config import ConfigNotFoundError, UnknownTypeError
    from altair.api.test import CheckpointNotFoundError, TTAConfigMissingError
    from altair.datasets.bluemarble_build import (BuildOptionError, DataPackageMissingError,
                                                  DatasetExistsError)
    from altair.engine.amp import AmpConfigError
    from altair.inference.blend import BlendModeError
    from altair.inference.grid import WindowArgumentError
    from altair.inference.precision import PrecisionError
    from altair.inference.sources import ImageNotFoundError, UnsupportedImageError
    from altair.inference.tta import TTAConfigError
    return (WindowArgumentError, BlendModeError, PrecisionError, UnsupportedImageError,
            ImageNotFoundError, TTAConfigError,
            ConfigNotFoundError, UnknownTypeError, CheckpointNotFoundError, TTAConfigMissingError,
            DataPackageMissingError, DatasetExistsError, BuildOptionError, AmpConfigError)


def run_tool(fn: Callable[[], int]) -> int:
    """Run ``fn``; bad input prints ``error: ...`` to stderr and returns status 2."""
    errors = user_errors()
    try:
        return fn()
    except errors as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2


def _common(p: argparse.ArgumentParser) -> None:
    from mmengine.config import DictAction
    p.add_argument('--work-dir', help='logs and checkpoints (default: work_dirs/<config name>)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                   help='override config keys, e.g. train_cfg.max_iters=100')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                   help='job launcher (default: detected from RANK/WORLD_SIZE or SLURM_*)')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='altair', description='Altair semantic segmentation.')
    sub = p.add_subparsers(dest='command', required=True)

    train = sub.add_parser('train', help='train a segmentor from a config')
    train.add_argument('config', help='config file (.py, .yaml or .json)')
    train.add_argument('--resume', action='store_true',
                       help='resume from the last checkpoint in the work dir')
    train.add_argument('--amp', choices=['fp16', 'bf16'],
                       help='mixed precision (bf16 also runs on the CPU; fp16 needs CUDA)')
    _common(train)

    test = sub.add_parser('test', help='evaluate a checkpoint')
    test.add_argument('config', help='config file')
    test.add_argument('checkpoint', help='checkpoint file')
    test.add_argument('--tta', action='store_true',
                      help="test-time augmentation with the config's tta_model and tta_pipeline")
    test.add_argument('--show-dir', help='draw predictions into <work-dir>/<show-dir>')
    test.add_argument('--out', help='write predicted label maps (PNG) into this folder')
    _common(test)

    pred = sub.add_parser('predict', help='predict label maps of images of any size')
    pred.add_argument('config', help='config file')
    pred.add_argument('checkpoint', help='checkpoint file')
    pred.add_argument('images', help='an image (GeoTIFF, PNG, JPEG, ...) or a folder of them')
    pred.add_argument('--out', required=True, help='output folder')
    pred.add_argument('--window', type=int, nargs=2, default=[512, 512], metavar=('H', 'W'))
    pred.add_argument('--overlap', type=float, default=0.25, help='in [0, 1) (default 0.25)')
    pred.add_argument('--stride', type=int, nargs=2, metavar=('SY', 'SX'),
                      help='explicit step between windows instead of --overlap')
    pred.add_argument('--blend', choices=['gaussian', 'linear', 'constant'], default='gaussian')
    pred.add_argument('--batch-size', type=int, default=4, help='windows per forward pass')
    pred.add_argument('--probs', action='store_true',
                      help='also write class probabilities as a GeoTIFF')
    pred.add_argument('--probs-dtype', choices=['uint8', 'float32'], default='uint8',
                      help='uint8 = probability x 255 (default), or float32')
    pred.add_argument('--precision', choices=['fp32', 'bf16', 'fp16', 'auto'], default='fp32')
    pred.add_argument('--device', help='cuda, cuda:1 or cpu (default: cuda when present)')
    pred.add_argument('--tta', nargs='*', metavar='TRANSFORM',
                      help='test-time augmentation: hflip vflip rotate90 transpose d2 d4 '
                           '(their product; bare --tta = hflip)')
    pred.add_argument('--tta-scales', type=float, nargs='+', default=[1.0], metavar='S')
    pred.add_argument('--tta-merge', default='soft_vote',
                      choices=['mean', 'soft_vote', 'gmean', 'max', 'hard_vote'])

    demo = sub.add_parser('demo', help='build Blue Marble, train, evaluate, predict the globe')
    demo.add_argument('--config', default='configs/segformer.py',
                      help='(default: %(default)s, the best val mIoU of the short configs)')
    demo.add_argument('--work-dir', default='work_dirs/demo', help='(default: %(default)s)')
    demo.add_argument('--data-root', default='data/bluemarble', help='(default: %(default)s)')
    demo.add_argument('--max-iters', type=int, help="override the config's iterations")
    demo.add_argument('--amp', choices=['bf16'], help='bf16 autocast on the CPU')
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == 'train':
        from altair.api.train import train_config

        def fn() -> int:
            train_config(args.config, work_dir=args.work_dir, amp=args.amp, resume=args.resume,
                         launcher=args.launcher, cfg_options=args.cfg_options)
            return 0
    elif args.command == 'test':
        from altair.api.test import test_checkpoint

        def fn() -> int:
            metrics = test_checkpoint(args.config, args.checkpoint, tta=args.tta,
                                      show_dir=args.show_dir, out=args.out,
                                      work_dir=args.work_dir, launcher=args.launcher,
                                      cfg_options=args.cfg_options)
            print({k: round(float(v), 2) for k, v in metrics.items()})
            return 0
    elif args.command == 'predict':
        from altair.api.predict import predict

        def fn() -> int:
            results = predict(args.config, args.checkpoint, args.images, args.out,
                              device=args.device, window=tuple(args.window),
                              overlap=None if args.stride else args.overlap,
                              stride=tuple(args.stride) if args.stride else None,
                              blend=args.blend, batch_size=args.batch_size, probs=args.probs,
                              probs_dtype=args.probs_dtype,
                              tta=None if args.tta is None else (args.tta or ['hflip']),
                              tta_scales=args.tta_scales, tta_merge=args.tta_merge,
                              precision=args.precision)
            for written in results:
                print(' '.join(str(p) for p in written.values()))
            return 0
    else:
        from altair.api.demo import run_demo

        def fn() -> int:
            run_demo(config=args.config, work_dir=args.work_dir, data_root=args.data_root,
                     max_iters=args.max_iters, amp=args.amp)
            return 0
    return run_tool(fn)


if __name__ == '__main__':
    sys.exit(main())
