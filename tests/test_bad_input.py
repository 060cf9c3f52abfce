"""Bad input, command by command: each case is one line on stderr starting ``error:`` that
names the culprit, exit status 2, no traceback, and nothing left in the output folder.

One table, run in this process through the ``cli`` fixture (tests/test_e2e.py checks the
same path in a fresh interpreter). Every case fails before any data is read, so the table
holds on a fresh clone without data/; the config sections that only fail once a Runner
builds them on real data are tests/engine/test_runner.py's."""
from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """A PSPNet checkpoint (random weights), a small image, a non-image, a 3-band GeoTIFF,
    a data folder that matches no layout, a one-band image, a GeoTIFF cut short, a config
    without a model (and a checkpoint carrying it), one whose test set reads windows of
    scenes, an output folder whose lock this process holds (another prediction writing
    there), a checkpoint, a safetensors and an ONNX file cut short, and a checkpoint whose
    config is code."""
    from mmengine.registry import DefaultScope

    from altair.config import load_config
    from altair.raster.write import write_geotiff
    from altair.registry import MODELS
    root = tmp_path_factory.mktemp('bad_input')
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(load_config(ROOT / 'configs/pspnet.py').model)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, root / 'model.pth')
    rng = np.random.default_rng(0)
    cv2.imwrite(str(root / 'img.png'), rng.integers(0, 256, (64, 80, 3), dtype=np.uint8))
    (root / 'broken.png').write_text('not an image')
    write_geotiff(root / 'scene.tif', rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
                  transform=(0.1, 0, 10, 0, -0.1, 50))
    (root / 'loose').mkdir()
    (root / 'loose' / 'notes.txt').write_text('no images here')
    (root / 'scenes').mkdir()
    write_geotiff(root / 'scenes' / 'scene.tif', rng.integers(0, 256, (32, 32, 3),
                                                              dtype=np.uint8),
                  transform=(0.1, 0, 10, 0, -0.1, 50))
    write_geotiff(root / 'scenes' / 'labels.tif', rng.integers(0, 2, (32, 32), dtype=np.uint8),
                  transform=(0.1, 0, 10, 0, -0.1, 50))
    (root / 'config.py').write_text("_base_ = ['%s']\n" % (ROOT / 'configs/pspnet.py'))
    cv2.imwrite(str(root / 'gray.png'), rng.integers(0, 256, (64, 80), dtype=np.uint8))
    whole = (root / 'scene.tif').read_bytes()
    (root / 'cut.tif').write_bytes(whole[:len(whole) * 2 // 3])
    (root / 'nomodel.py').write_text("default_scope = 'altair'\ncrop_size = (64, 64)\n")
    torch.save({'state_dict': model.state_dict(),
                'meta': {'cfg': (root / 'nomodel.py').read_text()}}, root / 'nomodel.pth')
    (root / 'windows.py').write_text(
        "_base_ = ['%s']\n" % (ROOT / 'configs/pspnet.py') +
        "test_dataloader = dict(dataset=dict(_delete_=True, type='RasterSceneDataset', "
        "data_root='%s', scenes=[dict(img='scene.tif', ann='labels.tif')], classes=['a', 'b'], "
        "window_size=(16, 16), pipeline=[dict(type='LoadRaster'), dict(type='PackSegInputs')]))"
        "\n" % (root / 'scenes'))
    ckpt = (root / 'model.pth').read_bytes()
    (root / 'cut.pth').write_bytes(ckpt[:len(ckpt) // 2])
    (root / 'cut.safetensors').write_bytes(b'\x40\x00\x00\x00\x00\x00\x00\x00{"a":')
    (root / 'cut.onnx').write_bytes(b'\x08\x09\x12\x07pytorch\x1a')
    torch.save({'state_dict': model.state_dict(),
                'meta': {'cfg': "model = dict(type='EncoderDecoder')\nimport os\n"}},
               root / 'code.pth')
    from altair.prediction.lock import OutputLock, lock_path
    (root / 'locked').mkdir()
    held = OutputLock(lock_path(root / 'locked', 'img'), "'img_*'")
    held.acquire()  # as a prediction writing img_* there would
    yield {k: root / v for k, v in dict(
        ckpt='model.pth', img='img.png', broken='broken.png', tif='scene.tif', loose='loose',
        scenes='scenes', config='config.py', gray='gray.png', cut='cut.tif',
        nomodel='nomodel.py', nomodel_ckpt='nomodel.pth', windows='windows.py',
        locked='locked', cut_pth='cut.pth', cut_st='cut.safetensors', cut_onnx='cut.onnx',
        code_pth='code.pth').items()}
    held.release()


P = 'configs/pspnet.py'
# (id, args with {ckpt} {img} {out} ... placeholders, what the line must say)
CASES = [
    # train
    ('train-missing-config', ['train', 'configs/nope.py'],
     r"config file 'configs/nope\.py' does not exist"),
    ('train-misspelt-config', ['train', 'configs/pspnet_.py'],
     r"config file 'configs/pspnet_\.py' does not exist; did you mean configs/pspnet\.py"),
    ('train-unknown-model-type', ['train', P, '--cfg-options', 'model.decode_head.type=PSPHed'],
     r"model\.decode_head\.type 'PSPHed' is not a registered model; did you mean PSPHead"),
    ('train-misspelt-key', ['train', P, '--cfg-options', 'optim_wraper.type=AdamW'],
     r"config key 'optim_wraper' .* did you mean 'optim_wrapper'"),
    ('train-unwritable-work-dir', ['train', P, '--work-dir', '/proc/altair-out'],
     r"work directory '/proc/altair-out' is not writable"),
    ('train-missing-data', ['train', P, '--work-dir', '{out}', '--cfg-options',
                            'train_dataloader.dataset.data_root=/nope'],
     r'/nope/img_dir/train: image folder does not exist'),
    ('train-unknown-preset', ['train', P, '--work-dir', '{out}', '--cfg-options',
                              'augmentations.preset=hevy'],
     r"unknown preset 'hevy'; choose one of light, medium, heavy"),
    ('train-grad-accum-0', ['train', P, '--grad-accum', '0'],
     r'grad_accum must be an int >= 1, got 0'),
    ('train-class-weight-method', ['train', P, '--work-dir', '{out}', '--cfg-options',
                                   'model.decode_head.loss_decode.class_weight=bogus'],
     r"model\.decode_head\.loss_decode\.class_weight 'bogus' is not one of"),
    ('train-resume-unknown-run', ['train', P, '--resume', 'nope-run'],
     r"no run 'nope-run' under .*runs; there are no runs there yet"),
    ('train-no-config', ['train'],
     r'altair train needs a config \(CONFIG or --config CONFIG\), or --resume RUN'),
    # test
    ('test-missing-checkpoint', ['test', P, '/nope/model.pth'],
     r"checkpoint '/nope/model\.pth' does not exist"),
    ('test-unknown-run', ['test', '2099-nope'], r"no run '2099-nope' under .*runs"),
    ('test-config-without-checkpoint', ['test', P],
     r"config 'configs/pspnet\.py' needs a checkpoint \(or give a run id\)"),
    ('test-missing-config', ['test', 'configs/nope.py', '{ckpt}'],
     r"config file 'configs/nope\.py' does not exist"),
    ('test-config-without-model', ['test', '{nomodel}', '{ckpt}'],
     r"config of '.*nomodel\.py' has no 'model' section"),
    ('test-show-dir-of-windows', ['test', '{windows}', '{ckpt}', '--show-dir', 'vis',
                                  '--work-dir', '{out}'],
     r'--show-dir draws each test image whole, but this test set reads windows of scenes'),
    # predict
    ('predict-no-images-after-the-checkpoint', ['predict', P, '{ckpt}', '--out', '{out}'],
     r'takes RUN IMAGES or CONFIG CHECKPOINT IMAGES, got 2 argument\(s\)'),
    ('predict-unknown-run', ['predict', '2099-nope', '{img}', '--out', '{out}'],
     r"no run '2099-nope' under .*runs"),
    ('predict-missing-checkpoint', ['predict', P, '/nope/model.pth', '{img}', '--out', '{out}'],
     r"checkpoint '/nope/model\.pth' does not exist"),
    ('predict-no-images', ['predict', P, '{ckpt}', '/nope/*.png', '--out', '{out}'],
     r"no images match '/nope/\*\.png'"),
    ('predict-overlap', ['predict', P, '{ckpt}', '{img}', '--out', '{out}', '--overlap', '1.5'],
     r'overlap must be in \[0, 1\), got 1\.5'),
    ('predict-window', ['predict', P, '{ckpt}', '{img}', '--out', '{out}', '--window', '0', '8'],
     r'window must be >= 1 in both dimensions, got \(0, 8\)'),
    ('predict-stride', ['predict', P, '{ckpt}', '{img}', '--out', '{out}', '--stride', '0', '0'],
     r'stride must be >= 1 in both dimensions, got \(0, 0\)'),
    ('predict-window-batch', ['predict', P, '{ckpt}', '{img}', '--out', '{out}',
                              '--window-batch', '0'], r'window_batch must be an int >= 1, got 0'),
    ('predict-tta-transform', ['predict', P, '{ckpt}', '{img}', '--out', '{out}', '--tta',
                               'flip'], r"unknown TTA transform 'flip'; choose from"),
    ('predict-tta-merge', ['predict', P, '{ckpt}', '{img}', '--out', '{out}', '--tta', 'hflip',
                           '--tta-merge', 'vote'], r"--tta-merge: invalid choice: 'vote'"),
    ('predict-tta-scale', ['predict', P, '{ckpt}', '{img}', '--out', '{out}', '--tta', 'hflip',
                           '--tta-scales', '0'], r'scales must be > 0, got 0\.0'),
    ('predict-uncertainty-without-tta', ['predict', P, '{ckpt}', '{img}', '--out', '{out}',
                                         '--uncertainty', 'tta-variance'],
     r"uncertainty 'tta-variance' needs test-time augmentation \(--tta"),
    ('predict-negative-min-area', ['predict', P, '{ckpt}', '{img}', '--out', '{out}',
                                   '--min-area', '-1'], r'min_area must be a number >= 0, got -1'),
    ('predict-unwritable-out', ['predict', P, '{ckpt}', '{img}', '--out', '/proc/altair-out'],
     r"output directory '/proc/altair-out' is not writable"),
    ('predict-not-an-image', ['predict', P, '{ckpt}', '{broken}', '--out', '{out}'],
     r"cannot decode '.*broken\.png' as an image"),
    ('predict-nodata-outside-dtype', ['predict', P, '{ckpt}', '{tif}', '--out', '{out}',
                                      '--nodata', '300'],
     r"nodata 300 is outside what '.*scene\.tif' \(uint8\) can hold"),
    ('predict-processes-0', ['predict', P, '{ckpt}', '{img}', '--out', '{out}', '--processes',
                             '0'], r'processes must be a number of processes >= 1, got 0'),
    ('predict-mosaic-name', ['predict', P, '{ckpt}', '{tif}', '--out', '{out}', '--mosaic',
                             'a/b'], r"mosaic must be a plain name for the outputs, got 'a/b'"),
    ('predict-band-count', ['predict', P, '{ckpt}', '{gray}', '--out', '{out}'],
     r"image '.*gray\.png' has 1 band\(s\) but the model was trained on 3"),
    ('predict-truncated-geotiff', ['predict', P, '{ckpt}', '{cut}', '--out', '{out}'],
     r"image '.*cut\.tif' is truncated: its pixel data run to byte \d+ but the file has \d+ "
     r'bytes'),
    ('predict-config-without-model', ['predict', '{nomodel}', '{ckpt}', '{img}', '--out',
                                      '{out}'],
     r"config of '.*nomodel\.py' has no 'model' section"),
    ('predict-checkpoint-config-without-model', ['predict', '{nomodel_ckpt}', '{img}', '--out',
                                                 '{out}'],
     r"config of '.*nomodel\.pth' has no 'model' section"),
    ('predict-truncated-checkpoint', ['predict', '{cut_pth}', '{img}', '--out', '{out}'],
     r"cannot read checkpoint '.*cut\.pth': it is truncated or not a PyTorch checkpoint"),
    ('predict-truncated-safetensors', ['predict', '{cut_st}', '{img}', '--out', '{out}'],
     r"'.*cut\.safetensors' cannot be read as a \.safetensors file"),
    ('predict-truncated-onnx', ['predict', '{cut_onnx}', '{img}', '--out', '{out}'],
     r"'.*cut\.onnx' cannot be read as an ONNX model"),
    ('predict-checkpoint-config-is-code', ['predict', '{code_pth}', '{img}', '--out', '{out}'],
     r"'.*code\.pth': the config it carries has a statement other than `name = value` on "
     r'line 2; only literal assignments are read'),
    ('export-checkpoint-config-is-code', ['export', '{code_pth}', '--format', 'onnx', '--out',
                                          '{out}/m.onnx'],
     r"'.*code\.pth': the config it carries has a statement other than `name = value`"),
    ('predict-output-locked', ['predict', P, '{ckpt}', '{img}', '--out', '{locked}'],
     r"outputs 'img_\*' in '.*locked' are being written by another prediction \(pid \d+ on "
     r'\S+, since'),
    ('train-unknown-tracker', ['train', P, '--track', 'wandb'],
     r"altair train: argument --track: invalid choice: 'wandb'"),
    ('predict-onnxruntime-needs-onnx', ['predict', P, '{ckpt}', '{img}', '--out', '{out}',
                                        '--backend', 'onnxruntime'],
     r"backend 'onnxruntime' runs an exported \.onnx model, got .*model\.pth"),
    # runs and plots
    ('plot-unknown-run', ['plot', '2099-nope'], r"no run '2099-nope' under .*runs"),
    ('plot-second-unknown-run', ['plot', '2099-nope', '2098-nope'],
     r"no run '2099-nope' under .*runs"),
    ('runs-compare-unknown-run', ['runs', '--compare', '2099-nope'],
     r"no run '2099-nope' under .*runs"),
    # export
    ('export-unknown-run', ['export', '2099-nope', '--format', 'onnx'],
     r"no run '2099-nope' under .*runs"),
    ('export-bad-format', ['export', '{ckpt}', '--format', 'tflite'],
     r"argument --format: invalid choice: 'tflite'"),
    ('export-checkpoint-without-config', ['export', '{ckpt}', '--format', 'safetensors',
                                          '--out', '{out}/m.safetensors'],
     r"checkpoint '.*model\.pth' does not hold its config"),
    ('export-wrong-suffix', ['export', '{ckpt}', '--format', 'onnx', '--file', '{out}/m.pt'],
     r"output '.*m\.pt' should end in \.onnx"),
    ('export-bad-opset', ['export', '{ckpt}', '--format', 'onnx', '--opset', '7'],
     r'opset must be an int in 11\.\.23, got 7'),
    # check-data
    ('check-data-missing-config', ['check-data', 'configs/nope.py'],
     r"config file 'configs/nope\.py' does not exist"),
    ('check-data-bad-number', ['check-data', P, '--max-findings', 'many'],
     r"altair check-data: argument --max-findings: invalid int value: 'many'"),
    ('no-command', [], r'altair: the following arguments are required: COMMAND'),
    # init
    ('init-missing-folder', ['init', '/nope/data'], r"data folder '/nope/data' does not exist"),
    ('init-no-layout', ['init', '{loose}'], r"'.*loose' matches no data layout Altair knows"),
    ('init-band-out-of-range', ['init', '{scenes}', '--bands', '1', '4'],
     r"band 4 of raster '.*scene\.tif' does not exist"),
    ('init-unknown-model', ['init', '{scenes}', '--model', 'bogus'],
     r"unknown model 'bogus'; choose one of unet, pspnet"),
    ('init-existing-config', ['init', '{scenes}', '--file', '{config}'],
     r"config '.*config\.py' exists; pass --force to overwrite it"),
    ('init-bad-time', ['init', '{scenes}', '--time', '10 minutes'],
     r"time budget '10 minutes': expected a positive duration such as 600, 90s, 10m"),
    ('init-iters-and-time', ['init', '{scenes}', '--iters', '50', '--time', '1m'],
     r'--iters and --time both set how long to train; give one'),
    # demo
    ('demo-missing-config', ['demo', '--config', 'configs/nope.py', '--work-dir', '{out}'],
     r"config file 'configs/nope\.py' does not exist"),
]


# the one message that is more than a line on purpose: it draws the accepted folder trees
MULTILINE = {'init-no-layout'}


def test_the_table_is_broad():
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)
    commands = {c[1][0] for c in CASES if c[1]}
    assert commands >= {'train', 'test', 'predict', 'plot', 'check-data', 'init', 'demo',
                        'runs', 'export'}


@pytest.mark.parametrize('case', CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(case, files, tmp_path, cli):
    name, args, message = case
    out = tmp_path / 'out'
    before = _tree(files['config'].parent)
    names = dict({k: str(v) for k, v in files.items()}, out=str(out))
    args = [a.format(**names) for a in args]
    if args[:1] and args[0] in ('train', 'test', 'predict', 'plot', 'runs', 'export'):
        args += ['--runs-root', str(tmp_path / 'runs')]
    proc = cli(*args)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()
             and 'Warning' not in ln and not ln.startswith('  ')]  # Python's warnings
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    errors = [ln for ln in lines if ln.startswith('error')]
    assert len(errors) == 1, errors
    line = errors[0]
    assert name in MULTILINE or line == lines[-1], lines[-3:]
    assert re.search(message, line), (message, line)
    # nothing written: no output, no checkpoint, no run, the inputs untouched (a training
    # stopped by its config after mmengine's Runner started keeps the log and config it
    # wrote for it, as a record of what was tried)
    written = sorted(p for p in out.rglob('*') if p.is_file()) if out.exists() else []
    if args[:1] == ['train']:
        written = [p for p in written if p.suffix not in ('.log', '.py', '.json')]
    assert written == [], written
    assert _runs(tmp_path / 'runs') == [], _runs(tmp_path / 'runs')
    assert _tree(files['config'].parent) == before


def _tree(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob('*')
            if p.is_file()}


def _runs(root: Path) -> list[str]:
    """Runs left with a status other than 'failed' (a failed run is the record of the error)."""
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob('*/run.json')
                  if json.loads(p.read_text()).get('status') != 'failed')
