"""The ``altair`` command: help, the runs table, and a train → runs → test → predict → plot
round trip (train in a subprocess, the rest in-process) with exit codes checked."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from altair.api.runs import create_run
from altair.cli import runs_table
from altair.cli_parser import build_parser

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ('train', 'test', 'predict', 'runs', 'plot', 'plugins', 'demo')


def _help(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*argv, '--help'])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_help_lists_every_command_and_option(capsys):
    text = _help(capsys)
    assert all(c in text for c in COMMANDS)
    assert all(o in _help(capsys, 'train') for o in ('--config', '--processes', '--gpus',
                                                     '--precision',
                                                     '--grad-accum', '--work-dir',
                                                     '--cfg-options', '--resume', '--seed'))
    assert all(o in _help(capsys, 'predict') for o in ('--out', '--tta', '--tta-scales',
                                                       '--tta-merge', '--sliding-window',
                                                       '--window', '--overlap', '--save'))
    assert '--tta' in _help(capsys, 'test') and '--out' in _help(capsys, 'plot')


def test_precision_choices_are_the_engines():
    """`--precision` takes exactly what ``apply_amp`` accepts (the CLI keeps a literal copy)."""
    from altair.cli_parser import AMP_CHOICES
    from altair.engine.amp import AMP_CHOICES as ENGINE
    assert AMP_CHOICES == ENGINE
    for cmd in (['train', 'c.py'], ['demo']):
        assert build_parser().parse_args([*cmd, '--precision', 'auto']).precision == 'auto'


def test_amp_is_a_deprecated_name_of_precision_that_warns_once(monkeypatch, capsys):
    """The old ``--amp`` sets the same value; the first use in a process warns, later ones
    do not (each renamed flag warns once)."""
    import warnings

    from altair import errors
    monkeypatch.setattr(errors, '_WARNED', set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        first = build_parser().parse_args(['train', 'c.py', '--amp', 'bf16'])
        second = build_parser().parse_args(['demo', '--amp', 'fp32'])
    assert (first.precision, second.precision) == ('bf16', 'fp32')
    assert [(w.category, str(w.message)) for w in caught] == [
        (FutureWarning, '--amp is deprecated: use --precision')]
    assert '--amp' not in _help(capsys, 'train')  # one name per concept in the help


def test_batch_size_of_predict_is_a_deprecated_name_of_window_batch(monkeypatch, capsys):
    """``predict --batch-size`` (windows per forward pass) is read as ``--window-batch`` with a
    warning, while ``init --batch-size`` stays the training batch."""
    import warnings

    from altair import errors
    monkeypatch.setattr(errors, '_WARNED', set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        old = build_parser().parse_args(['predict', 'r', 'a.tif', '--batch-size', '3'])
        new = build_parser().parse_args(['predict', 'r', 'a.tif', '--window-batch', '5'])
        init = build_parser().parse_args(['init', 'data', '--batch-size', '7'])
    assert (old.window_batch, new.window_batch, init.batch_size) == (3, 5, 7)
    assert [str(w.message) for w in caught if w.category is FutureWarning] == [
        '--batch-size is deprecated: use --window-batch']
    assert '--batch-size' not in _help(capsys, 'predict')


def test_prediction_precision_defaults_to_auto_everywhere():
    """`altair predict`, `alt.predict` and the per-image engine default to 'auto' (bf16 only
    where native: benchmarks/precision_agreement.py found 99.9 % equal labels on the demo)."""
    import inspect

    from altair.api.predict import predict
    from altair.prediction.options import PredictOptions
    from altair.inference.precision import PRECISIONS
    args = build_parser().parse_args(['predict', 'last', 'x.tif'])
    assert args.precision == 'auto'
    assert build_parser().parse_args(['predict', 'last', 'x.tif', '--precision', 'fp32']
                                     ).precision == 'fp32'
    assert inspect.signature(predict).parameters['precision'].default == 'auto'
    assert PredictOptions().precision == 'auto'
    assert 'auto' in PRECISIONS


def test_runs_table(tmp_path):
    run = create_run('pspnet', root=tmp_path, source='configs/pspnet.py')
    (run.dir / 'metrics.json').write_text(json.dumps([{'iter': 2, 'mIoU': 12.345}]))
    run.set_status('finished')
    tracked = create_run('unet', root=tmp_path)
    tracked.set_info(tracking={'tensorboard': 'tensorboard --logdir /r/x'})
    lines = runs_table([run, tracked]).splitlines()
    assert lines[0].split() == ['ID', 'CONFIG', 'STATUS', 'BEST', 'mIoU', 'DATE', '(UTC)',
                                'TRACKING']
    assert lines[1].split()[:4] == [run.id, 'configs/pspnet.py', 'finished', '12.35']
    assert len(lines[1].split()) == 6  # no tracking: an empty last column
    assert lines[2].endswith('tensorboard --logdir /r/x')


@pytest.mark.slow
@pytest.mark.extended
def test_cli_round_trip_and_errors(bluemarble, tiny, tmp_path, cli):
    """`altair train` as a process of its own, the other commands in this one (``cli``)."""
    def altair(*args, ok=True):
        proc = cli(*args)
        if ok:
            assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
        return proc
    root = ['--runs-root', str(tmp_path / 'runs')]
    opts = tiny.cli(tiny.options(bluemarble))[1:]
    proc = subprocess.run([sys.executable, '-m', 'altair', 'train', '--config',
                           'configs/pspnet.py', '--seed', '0', *root, '--cfg-options', *opts],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    run_id = proc.stdout.strip().splitlines()[-1].split()[1]
    assert proc.stdout.strip().splitlines()[-1].startswith(f'run {run_id} finished')
    table = altair('runs', *root).stdout.splitlines()
    assert table[1].split()[:3] == [run_id, 'configs/pspnet.py', 'finished']
    prefix = run_id[:8]
    assert "'mIoU'" in altair('test', prefix, *root).stdout
    image = bluemarble / 'img_dir' / 'val' / 'r01_c02.png'
    out = altair('predict', prefix, str(image), '--out', str(tmp_path / 'pred'), '--tta',
                 'hflip', 'vflip', '--sliding-window', '--window', '128', '128',
                 '--overlap', '0.25', *root).stdout
    assert sorted(p.name for p in (tmp_path / 'pred').iterdir()) == ['r01_c02_labels.tif',
                                                                    'r01_c02_overlay.png']
    assert str(tmp_path / 'pred' / 'r01_c02_labels.tif') in out
    png = Path(altair('plot', prefix, *root).stdout.strip())
    assert png.name == 'curves.png' and png.read_bytes()[:4] == b'\x89PNG'

    proc = altair('test', 'nope', *root, ok=False)
    assert proc.returncode == 2 and proc.stderr.startswith("error: no run 'nope' under ")
    proc = altair('predict', prefix, str(tmp_path / 'missing.png'), *root, ok=False)
    assert proc.returncode == 2 and "missing.png' does not exist" in proc.stderr
    empty = create_run('pspnet', root=tmp_path / 'runs')
    proc = altair('test', empty.id, *root, ok=False)
    assert proc.returncode == 2 and f"run '{empty.id}' has no checkpoint yet" in proc.stderr
    proc = altair('predict', prefix, str(image), '--window', '0', '128', *root, ok=False)
    assert proc.returncode == 2 and 'window must be >= 1 in both dimensions' in proc.stderr


@pytest.mark.parametrize('args, message', [
    (['train', 'configs/pspnet.py', '--cfg-options', 'optim_wraper.type=SGD'],
     "error: config key 'optim_wraper' in configs/pspnet.py is not read by anything; did you "
     "mean 'optim_wrapper'?"),
    (['train', 'configs/pspnet.py', '--work-dir', '/sys/altair-not-writable'],
     "error: work directory '/sys/altair-not-writable' is not writable (Operation not "
     'permitted); choose another one or fix its permissions'),
    (['predict', 'configs/pspnet.py', 'missing.pth', 'README.md', '--out',
      '/sys/altair-not-writable'],  # refused before the model (or the image) is read
     "error: output directory '/sys/altair-not-writable' is not writable (Operation not "
     'permitted)'),
    (['train', 'configs/pspnet.py', '--cfg-options', 'train_dataloader.dataset.data_root=/nope'],
     "error: train_dataloader.dataset: /nope/img_dir/train: image folder does not exist "
     '(data_root + data_prefix.img_path); see `altair check-data CONFIG`'),
])
def test_bad_config_key_and_unwritable_folders_exit_2(tmp_path, args, message, cli):
    proc = cli(*args, '--runs-root', tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.startswith(message), proc.stderr[-2000:]


def test_test_passes_its_launcher_on_and_check_data_has_none(cli, monkeypatch, tmp_path):
    import altair.api.test as api_test
    seen = {}

    def fake(config, checkpoint, **kwargs):
        seen.update(kwargs)
        return {'mIoU': 1.0}
    monkeypatch.setattr(api_test, 'test_checkpoint', fake)
    ckpt = tmp_path / 'c.pth'
    ckpt.write_bytes(b'')
    proc = cli('test', 'configs/pspnet.py', ckpt, '--launcher', 'none')
    assert proc.returncode == 0, proc.stderr
    assert seen['launcher'] == 'none'
    proc = cli('check-data', 'configs/pspnet.py', '--launcher', 'pytorch')
    assert proc.returncode == 2 and 'unrecognized arguments: --launcher pytorch' in proc.stderr


def test_a_misspelt_augmentation_preset_is_one_line(cli, tmp_path):
    proc = cli('train', 'configs/pspnet.py', '--work-dir', tmp_path / 'w', '--runs-root', tmp_path,
               '--cfg-options', 'augmentations.preset=hevy')
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "error: unknown preset 'hevy'; choose one of light, medium, heavy"), proc.stderr
    assert not (tmp_path / 'w').exists() or not list((tmp_path / 'w').glob('*.pth'))


_GLOO_CHILD = r'''
import gc, os, sys, tempfile
import torch, torch.distributed as dist
from mmengine.model import BaseModel, MMDistributedDataParallel
from altair.cli import _close_process_group

class Model(BaseModel):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 1)

    def forward(self, x, mode='tensor'):
        return self.conv(x)

def gloo_threads():
    return sum(open(f'/proc/self/task/{t}/comm').read().strip() == 'pt_gloo_runloop'
               for t in os.listdir('/proc/self/task'))

store = dist.FileStore(os.path.join(tempfile.mkdtemp(), 'store'), 1)
dist.init_process_group('gloo', store=store, rank=0, world_size=1)
model = MMDistributedDataParallel(Model())  # the wrapper mmengine's runner builds
holder = {'model': model}
holder['self'] = holder  # the model lives on in a reference cycle, as a runner's does
dist.broadcast(torch.ones(3), 0)
del model, holder
before = gloo_threads()
if sys.argv[1] == 'close':
    _close_process_group()
else:
    dist.destroy_process_group()
print(before, gloo_threads(), dist.is_initialized())
'''


@pytest.mark.parametrize('how, expected', [('close', '2 0 False'), ('destroy', '2 2 False')])
def test_the_cli_joins_gloo_threads_before_interpreter_exit(how, expected):
    """A launched rank's gloo worker threads end with the command: left running into interpreter
    finalisation they can abort the rank after its work is done (SIGABRT, 'terminate called
    without an active exception'). Destroying the group alone leaves them running while a
    model in a reference cycle still holds it (the 'destroy' row shows the threads stay)."""
    out = subprocess.run([sys.executable, '-c', _GLOO_CHILD, how], capture_output=True,
                         text=True, timeout=120, env={'OMP_NUM_THREADS': '1', 'PATH': ''},
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split('\n')[-2] == expected


def test_version_is_the_installed_distributions(capsys):
    """``altair --version`` prints the version pip recorded for the package (its metadata,
    not the module the parser reads) and exits 0."""
    from importlib.metadata import version
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(['--version'])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"altair {version('altair-seg')}\n"


def test_out_is_a_folder_and_file_a_file(tmp_path, monkeypatch):
    """init, plot and export as predict and test: --out DIR, --file PATH; a --out with a
    suffix that is no existing folder is the former file form (a FutureWarning, once)."""
    import warnings

    import altair.api.init
    import altair.cli as cli
    from altair import errors
    from altair.cli_parser import build_parser
    parse = build_parser().parse_args
    monkeypatch.setattr(errors, '_WARNED', set())
    (tmp_path / 'v1.2').mkdir()
    assert cli._output(parse(['plot', 'RUN', '--out', str(tmp_path)])) == (None, str(tmp_path))
    assert cli._output(parse(['plot', 'RUN', '--out', str(tmp_path / 'v1.2')])) == \
        (None, str(tmp_path / 'v1.2'))  # an existing folder, dot or not
    assert cli._output(parse(['plot', 'RUN', '--file', 'c.png'])) == ('c.png', None)
    assert cli._output(parse(['export', 'RUN', '--format', 'onnx'])) == (None, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for _ in range(2):
            assert cli._output(parse(['export', 'RUN', '--format', 'onnx', '--out',
                                      'm.onnx'])) == ('m.onnx', None)
    assert [str(w.message) for w in caught] == [
        'altair export --out m.onnx: --out names a folder; use --file m.onnx for a file']
    with pytest.raises(SystemExit):  # one or the other
        parse(['init', 'DATA', '--out', 'd', '--file', 'c.py'])
    seen = []
    monkeypatch.setattr(altair.api.init, 'init',
                        lambda data, **kw: seen.append((kw['file'], kw['out_dir'])))
    for argv in (['--out', str(tmp_path / 'cfgs')], ['--file', 'mine.py'], []):
        cli._init(parse(['init', 'DATA', *argv]))
    assert seen == [(None, str(tmp_path / 'cfgs')), ('mine.py', None), (None, None)]
