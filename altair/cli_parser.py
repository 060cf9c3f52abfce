"""The argument parser of the `altair` command line: every command, its options and their
help. Imports nothing heavy, so `altair --help` is quick."""
from __future__ import annotations

import argparse

from altair.errors import warn_once

# = altair.engine.amp.AMP_CHOICES (a literal: importing torch would slow `altair --help`)
AMP_CHOICES = ('auto', 'fp32', 'bf16', 'fp16')
TRACKERS = ('tensorboard', 'mlflow')  # = altair.engine.tracking.TRACKERS



def _common(p: argparse.ArgumentParser, *, launcher: bool = True) -> None:
    from mmengine.config import DictAction
    p.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                   help='override config keys, e.g. train_cfg.max_iters=100')
    if launcher:  # commands that run as one rank of a launched job
        p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                       help='job launcher (default: detected from RANK/WORLD_SIZE or SLURM_*)')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)


def _console(p: argparse.ArgumentParser) -> None:
    p.add_argument('--verbose', action='store_true',
                   help="stream mmengine's whole log (environment, config, every log line) "
                        'instead of the progress display; the log file has it either way')
    p.add_argument('--track', nargs='+', choices=TRACKERS, metavar='TRACKER',
                   help='also log to tensorboard and/or mlflow (./mlruns unless '
                        "MLFLOW_TRACKING_URI is set); default: the config's track")


def _root(p: argparse.ArgumentParser) -> None:
    p.add_argument('--runs-root', metavar='DIR',
                   help='run store (default: $ALTAIR_HOME/runs, else ./runs)')


def _trust(p: argparse.ArgumentParser) -> None:
    p.add_argument('--trust-config', action='store_true',
                   help='execute the config a model file carries when it is not plain '
                        'literals (old checkpoints of your own); without it such a file is '
                        'refused, since executing it could run any code '
                        '(= ALTAIR_TRUST_CONFIG=1)')


class _Renamed(argparse.Action):
    """A flag's former name: sets what the new name sets and warns, once per process and
    flag, that it is deprecated."""

    def __init__(self, option_strings, dest, *, new: str, **kwargs) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        warn_once(f'flag {option_string}', f'{option_string} is deprecated: use {self.new}',
                  stacklevel=2)
        setattr(namespace, self.dest, values)


def _precision(p: argparse.ArgumentParser, text: str) -> None:
    """Training precision as ``--precision`` (the name predict uses), ``--amp`` its old name."""
    p.add_argument('--precision', choices=AMP_CHOICES, help=text)
    p.add_argument('--amp', choices=AMP_CHOICES, dest='precision', action=_Renamed,
                   new='--precision', help=argparse.SUPPRESS)


def _out_or_file(p: argparse.ArgumentParser, *, folder: str, file: str, default: str) -> None:
    """``--out DIR``, an output folder as in every command, or ``--file PATH`` where one
    exact file is meant (a ``--out`` with a suffix that is no existing folder is read as
    ``--file``, with a warning: its former meaning)."""
    where = p.add_mutually_exclusive_group()
    where.add_argument('--out', metavar='DIR', help=f'{folder} (default: {default})')
    where.add_argument('--file', metavar='PATH', help=file)


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors as one line (``error: altair predict: argument
    --tta-merge: invalid choice ...``) and exit status 2, like every other bad input; the
    usage itself is one ``--help`` away."""

    def error(self, message: str):
        self.exit(2, f'error: {self.prog}: {message} (see {self.prog} --help)\n')


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog='altair', description='Altair semantic segmentation: train, test and predict; '
        'every training is a run in the run store (see `altair runs`).')
    from altair.version import __version__
    p.add_argument('--version', action='version', version=f'altair {__version__}')
    sub = p.add_subparsers(dest='command', required=True, metavar='COMMAND')

    train = sub.add_parser('train', help='train a segmentor from a config (a new run)',
                           description='Train a config; prints the run id when done.')
    train.add_argument('config', nargs='?', help='config file (.py, .yaml or .json)')
    train.add_argument('--config', dest='config_opt', metavar='CONFIG',
                       help='the config, as an option (same as the positional)')
    workers = train.add_mutually_exclusive_group()
    workers.add_argument('--processes', type=int, metavar='N',
                         help='train in N CPU processes (gloo), as predict --processes')
    workers.add_argument('--gpus', type=int, metavar='N',
                         help='train in N processes, one per GPU (at most the visible GPUs)')
    _precision(train, "auto (bf16 where the hardware computes it natively, else fp32; never "
                      "fp16), fp32, bf16 (also on the CPU) or fp16 (CUDA); default: the "
                      "config's")
    train.add_argument('--grad-accum', type=int, metavar='N',
                       help='accumulate gradients over N iterations per optimizer step')
    train.add_argument('--seed', type=int, help='random seed')
    train.add_argument('--work-dir', help='checkpoints and logs (default: the run folder)')
    train.add_argument('--resume', nargs='?', const=True, default=False, metavar='RUN',
                       help='continue RUN, or without a value the latest unfinished run of '
                            'this config (or the one in --work-dir)')
    _console(train)
    _common(train)
    _root(train)

    test = sub.add_parser('test', help='evaluate a run or a checkpoint on the test set',
                          description='Evaluate RUN (its best checkpoint unless CHECKPOINT is '
                                      'given) or CONFIG CHECKPOINT. With --cases: score the '
                                      'predicted volumes <case>_seg.nii.gz (.nii, .npy) in a '
                                      'folder per case (Dice, HD95, NSD per class), print the '
                                      'table and write summary.json.')
    test.add_argument('run', metavar='RUN|CONFIG', nargs='?',
                      help="run id, unique id prefix or 'last' (the newest run), or a config; "
                           'with --cases it names the classes and the reference labels '
                           '(its VolumeSliceDataset volumes); with --cases --labels it may be '
                           'left out (classes named by label value)')
    test.add_argument('checkpoint', nargs='?', help='checkpoint (needed with a config)')
    test.add_argument('--tta', nargs='*', metavar='TRANSFORM',
                      help="test-time augmentation with the config's tta_model; naming "
                           'transforms (hflip vflip rotate90 transpose d2 d4, as predict '
                           '--tta) replaces its transforms')
    test.add_argument('--show-dir', help='draw predictions into <work-dir>/<show-dir>')
    test.add_argument('--out', help='write predicted label maps (PNG) into this folder; with '
                                    '--cases: the folder of summary.json (default: DIR)')
    test.add_argument('--cases', metavar='DIR',
                      help='score the predicted volumes <case>_seg.nii.gz (.nii, .npy) in DIR '
                           'against their references instead of running a model')
    test.add_argument('--labels', metavar='DIR',
                      help='with --cases: the reference label volumes <case>.nii.gz (.nii, '
                           ".npy); default: the run's VolumeSliceDataset volumes")
    test.add_argument('--tolerance', type=float, default=1.0, metavar='MM',
                      help='with --cases: the surface tolerance of NSD in mm (default: 1.0)')
    test.add_argument('--work-dir', help='logs (default: <run>/test, or work_dirs/<config>)')
    _common(test)
    _root(test)
    _trust(test)

    pred = sub.add_parser(
        'predict', help='predict label maps of images of any size',
        description='altair predict RUN IMAGES | altair predict CONFIG CHECKPOINT IMAGES | altair '
                    'predict MODEL.onnx|MODEL.safetensors|CHECKPOINT.pth IMAGES. '
                    "RUN: a run id, a unique prefix or 'last'. "
                    'IMAGES: a file, a folder or a quoted glob. Images larger than the '
                    "model's training crop are predicted by sliding windows. Volumes "
                    '(.nii.gz, .nii, .npy) are cases, predicted slice by slice along the '
                    'training axis into <case>_seg.nii.gz with the source header; a case id '
                    '(imagesTs/la_003) or the channel files of a case (<case>_0000, _0001, '
                    '...) name one case; --resume skips the cases already finished.')
    pred.add_argument('inputs', nargs='+', metavar='RUN|CONFIG CHECKPOINT IMAGES')
    pred.add_argument('--out', help='output folder (default: <run>/predictions, or '
                                    './predictions)')
    mode = pred.add_mutually_exclusive_group()
    mode.add_argument('--sliding-window', action='store_const', const=True, dest='sliding',
                      default='auto', help='always use sliding windows')
    mode.add_argument('--whole', action='store_const', const=False, dest='sliding',
                      help='always predict the whole image at once')
    pred.add_argument('--window', type=int, nargs=2, metavar=('H', 'W'),
                      help="window height and width (default: the training crop)")
    pred.add_argument('--overlap', type=float, default=0.25, help='in [0, 1) (default 0.25)')
    pred.add_argument('--stride', type=int, nargs=2, metavar=('SY', 'SX'),
                      help='explicit step between windows instead of --overlap')
    pred.add_argument('--blend', choices=['gaussian', 'linear', 'constant'], default='gaussian')
    pred.add_argument('--window-batch', type=int, metavar='N',
                      help='windows (and TTA views) per forward pass (default: measured on '
                           'this machine on first use, then cached)')
    pred.add_argument('--batch-size', type=int, dest='window_batch', action=_Renamed,
                      new='--window-batch', help=argparse.SUPPRESS)
    pred.add_argument('--save', nargs='+', default=['labels', 'overlay'],
                      choices=['labels', 'overlay', 'probs', 'preview', 'polygons'],
                      help='what to write (default: labels overlay)')
    pred.add_argument('--probs', action='store_true',
                      help='also write class probabilities as a GeoTIFF (= --save ... probs)')
    pred.add_argument('--probs-dtype', choices=['uint8', 'float32'], default='uint8',
                      help='uint8 = probability x 255 (default), or float32')
    pred.add_argument('--precision', choices=['fp32', 'bf16', 'fp16', 'auto'], default='auto',
                      help='auto (default): bf16 where the CPU or GPU computes it natively, '
                           'else fp32; never fp16')
    pred.add_argument('--device', default='auto', help='auto (default), cuda, cuda:1 or cpu')
    pred.add_argument('--backend', choices=['auto', 'torch', 'onnxruntime'], default='auto',
                      help='auto (default): onnxruntime for an .onnx MODEL, else torch')
    pred.add_argument('--tta', nargs='*', metavar='TRANSFORM',
                      help='test-time augmentation: hflip vflip rotate90 transpose d2 d4 '
                           '(their product; bare --tta = hflip)')
    pred.add_argument('--tta-scales', type=float, nargs='+', default=[1.0], metavar='S')
    pred.add_argument('--tta-merge', default='soft_vote',
                      choices=['mean', 'soft_vote', 'gmean', 'max', 'hard_vote'])
    pred.add_argument('--nodata', type=float, metavar='V',
                      help="the input's nodata value (default: the file's, else its alpha or "
                           'mask band); windows holding only nodata are skipped')
    pred.add_argument('--uncertainty', choices=['entropy', 'margin', 'tta-variance',
                                                'tta-agreement'],
                      help='also write <stem>_uncertainty.tif (float32; the tta-* measures '
                           'need --tta)')
    pred.add_argument('--format', choices=['cog', 'gtiff'],
                      help='raster outputs as Cloud-Optimized GeoTIFF (default for '
                           'georeferenced images) or plain tiled GeoTIFF')
    pred.add_argument('--mosaic', metavar='NAME',
                      help='predict all IMAGES (adjacent rasters on one pixel grid) as one '
                           'seamless scene; outputs are named NAME_labels.tif, ...')
    pred.add_argument('--resume', action='store_true',
                      help='continue an interrupted prediction (same arguments) from its '
                           'journal; with none there, start fresh (a requeued job can run '
                           'the same command every time)')
    procs = pred.add_mutually_exclusive_group()
    procs.add_argument('--processes', type=int, metavar='N',
                       help='predict in N CPU processes (images shared out; one image split '
                            'into row blocks, same result as one process)')
    procs.add_argument('--gpus', type=int, metavar='N',
                       help='predict in N processes, one per GPU (at most the visible GPUs)')
    pred.add_argument('--polygons-format', choices=['gpkg', 'geojson'], default='gpkg',
                      help='file type of --save polygons (default gpkg)')
    pred.add_argument('--min-area', type=float, default=0.0, metavar='A',
                      help='drop polygons smaller than A map units squared')
    pred.add_argument('--simplify', type=float, default=0.0, metavar='T',
                      help='simplify polygon outlines with tolerance T map units')
    _root(pred)
    _trust(pred)

    runs = sub.add_parser('runs', help='list the runs in the run store')
    runs.add_argument('--compare', nargs='+', metavar='RUN',
                      help="per-class IoU of the runs' best validations side by side")
    _root(runs)

    plot = sub.add_parser('plot', help="a run's loss, learning-rate and validation curves, or "
                                       'several runs overlaid')
    plot.add_argument('run', nargs='+', help="run id, unique id prefix or 'last' (several: "
                                             'their curves overlaid)')
    _out_or_file(plot, folder='folder of curves.png (one run) or curves_compare.png '
                 '(several)', file='the PNG to write', default='<run>/curves.png, or '
                 './curves_compare.png for several runs')
    _root(plot)

    export = sub.add_parser(
        'export', help='a trained model as one portable file (ONNX or safetensors)',
        description='Write RUN (its best, else last, checkpoint) or CHECKPOINT as ONNX '
        '(logits graph; dynamic batch, and height/width where the model allows, else the '
        'training crop) or safetensors (weights); both carry a header with the config, '
        'classes, palette, normalisation, bands and training crop.')
    export.add_argument('run', metavar='RUN|CHECKPOINT')
    export.add_argument('--format', required=True, choices=['onnx', 'safetensors'])
    _out_or_file(export, folder='folder of <run id>.<format>', file='the file to write '
                 '(ending in .<format>)', default='<run>/export/<run id>.<format>')
    export.add_argument('--opset', type=int, default=18, help='ONNX opset (default 18)')
    _root(export)
    _trust(export)

    check = sub.add_parser(
        'check-data', help="scan a config's datasets for problems before training",
        description='Read every image and mask of the datasets a config trains and evaluates '
        'on: unreadable or truncated files, images without masks, size mismatches, label '
        'values that are not classes, bit depths and bands the pipeline would alter, extreme '
        'sizes; then pixels per class. Exit status 1 if there are errors.')
    check.add_argument('config', help='config file')
    check.add_argument('--split', nargs='+', default=['train', 'val', 'test'],
                       choices=['train', 'val', 'test'], help='(default: all three)')
    check.add_argument('--max-findings', type=int, default=50, metavar='N',
                       help='print at most N findings (default: %(default)s)')
    _common(check, launcher=False)  # one process reads the files

    init = sub.add_parser(
        'init', help='inspect a data folder and write a config that trains on it',
        description='Recognise the layout of DATA (mmseg img_dir/ann_dir, images/ + masks/, '
        'GeoTIFF scenes + a label raster or polygons, volumes + label volumes), infer bands, '
        'dtype, nodata, classes, per-band mean/std, class shares and a crop size, write a '
        'config and print the command that trains it.')
    init.add_argument('data', help='the data folder')
    init.add_argument('--model', default='unet', help='unet (default: full resolution, small '
                      'structures), pspnet, deeplabv3plus or segformer')
    _out_or_file(init, folder='folder of altair_config.py (and its base file)',
                 file='the config to write (its base file goes beside it)',
                 default='DATA/altair_config.py')
    init.add_argument('--time', metavar='DURATION', dest='time_budget',
                      help='training time budget, e.g. 10m, 90s, 1.5h: a few steps are timed '
                      'here and max_iters fills it (default: 12m)')
    init.add_argument('--iters', type=int, help='training iterations instead of a time budget '
                      '(no step timed)')
    init.add_argument('--bands', nargs='+', metavar='BAND',
                      help='1-based band indices or band descriptions (default: all)')
    init.add_argument('--nodata', type=float, help="the images' nodata value (default: the "
                      "files' own, else an all-zero border)")
    init.add_argument('--class-field', metavar='NAME',
                      help='the attribute of polygon labels that holds the class (without '
                           'it, polygons are footprints: one class inside them, background '
                           'elsewhere)')
    init.add_argument('--class-name', metavar='NAME',
                      help="the footprints' class (default: the labels file's name)")
    init.add_argument('--unlabelled-outside', action='store_true',
                      help='pixels outside the polygons are unlabelled (ignored), not '
                           'background: for sparse annotations given with --class-field')
    init.add_argument('--crop', type=int, metavar='N', help='training crop N x N')
    init.add_argument('--context', type=int, metavar='N', choices=range(9),
                      help='volumes: N slices on either side of each slice as more channels '
                           '(default: 1 where the through-plane spacing is at most 3x the '
                           'in-plane, else 0)')
    init.add_argument('--batch-size', type=int, help='(default: planned from the time per '
                      'image and memory; 8 with --iters)')
    init.add_argument('--force', action='store_true', help='overwrite an existing config')

    sub.add_parser('plugins', help='list installed plugins and what each registers',
                   description="List the installed packages that declare the 'altair.plugins' "
                   'entry point, import each and show what it registers (exit 1 if one fails).')

    demo = sub.add_parser('demo', help='build Blue Marble, train, evaluate, predict the globe')
    demo.add_argument('--config', default='configs/segformer.py',
                      help='(default: %(default)s, the best val mIoU of the short configs)')
    demo.add_argument('--work-dir', default='work_dirs/demo', help='(default: %(default)s)')
    demo.add_argument('--data-root', default='data/bluemarble', help='(default: %(default)s)')
    demo.add_argument('--max-iters', type=int, help="override the config's iterations")
    _precision(demo, "training precision (default: the config's, auto in the short configs)")
    _console(demo)
    return p
