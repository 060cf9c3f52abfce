"""End to end on the real Blue Marble data: train a few iterations, test (plain and TTA),
and 2-process CPU training through tools/dist_train.sh."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

pytestmark = pytest.mark.slow


@pytest.fixture
def bluemarble(small_bluemarble):
    """These runs check the flow, not the numbers: 3 val tiles do (see small_bluemarble)."""
    return small_bluemarble


def _tiny(tiny, data_root: Path, iters: int = 4) -> list[str]:
    return tiny.cli(tiny.options(data_root, iters=iters))


def _run(args, env=None, timeout=600):
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, 'OMP_NUM_THREADS': '2', **(env or {})})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_train_then_test_plain_and_tta(bluemarble, tiny, tmp_path):
    """20 iterations through tools/train.py, output captured (not a terminal, as in CI):
    plain progress lines, the validation, the per-class table and the run in at most 40
    lines, mmengine's environment and config dump in the log file only; then test, test with
    TTA, and resume (--verbose: mmengine's log stream)."""
    work = tmp_path / 'run'
    opts = {k: v for k, v in tiny.options(bluemarble, iters=20).items()
            if k != 'default_hooks.logger.interval'}  # the config's own interval
    proc = subprocess.run([PY, 'tools/train.py', 'configs/pspnet.py', '--work-dir', str(work),
                           *tiny.cli(opts)], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600,
                          env={**os.environ, 'OMP_NUM_THREADS': '2'})
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert len(lines) <= 40, proc.stdout
    assert [ln.split()[1] for ln in lines if ln.startswith('iter ')] == [
        f'{i}/20' for i in range(2, 21, 2)]
    assert any(ln.startswith('val at iter 20: mIoU ') for ln in lines)
    assert 'per-class IoU (last evaluation):' in lines
    assert lines[-1].startswith('run ') and lines[-1].split()[2] == 'finished:'
    log = Path(next(ln for ln in lines if ln.startswith('altair: full log in '))
               .split(' in ', 1)[1]).read_text()
    assert 'System environment' in log and 'Config:' in log
    assert 'System environment' not in proc.stdout
    assert 'SyncBN -> BN' in log  # the config asks for SyncBN; the CPU has none
    ckpt = work / 'iter_20.pth'
    assert ckpt.is_file() and (work / 'last_checkpoint').read_text().strip().endswith(
        'iter_20.pth')
    out = _run([PY, 'tools/test.py', 'configs/pspnet.py', str(ckpt), '--work-dir', str(work),
                *_tiny(tiny, bluemarble)])
    assert 'mIoU' in out.stdout and 'IoU.water' in out.stdout
    out = _run([PY, 'tools/test.py', 'configs/pspnet.py', str(ckpt), '--tta', '--work-dir',
                str(work), '--show-dir', 'vis', '--out', str(work / 'preds'),
                *_tiny(tiny, bluemarble)])
    assert 'mIoU' in out.stdout
    n_val = len(list((bluemarble / 'img_dir' / 'val').glob('*.png')))
    assert len(list((work / 'vis' / 'vis_data' / 'vis_image').glob('*.png'))) == n_val
    assert len(list((work / 'preds').glob('*.png'))) == n_val
    # resume continues from iteration 20 to 22 (safe weights-only loading of mmengine state)
    out = _run([PY, 'tools/train.py', 'configs/pspnet.py', '--work-dir', str(work), '--resume',
                '--verbose', *_tiny(tiny, bluemarble, iters=22)])
    assert (work / 'iter_22.pth').is_file()
    assert 'resumed' in (out.stdout + out.stderr).lower()


@pytest.mark.extended
def test_plugin_config_trains_from_the_repo_root_without_pythonpath(bluemarble, tiny,
                                                                   tmp_path):
    cfg = 'projects/unetplusplus/configs/unetpp_r18-ds_1xb8-600it_bluemarble-256x256.py'
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = subprocess.run([PY, 'tools/train.py', cfg, '--work-dir', str(tmp_path), '--verbose',
                           *_tiny(tiny, bluemarble, iters=2)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**env, 'OMP_NUM_THREADS': '2'})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'decode.x03.loss_ce' in proc.stdout + proc.stderr  # UNet++'s deep supervision
    assert (tmp_path / 'iter_2.pth').is_file()


@pytest.mark.extended
def test_bf16_training_on_cpu(bluemarble, tiny, tmp_path):
    out = _run([PY, 'tools/train.py', 'configs/segformer.py', '--precision', 'bf16', '--work-dir',
                str(tmp_path), '--verbose', *_tiny(tiny, bluemarble, iters=2)])
    assert 'AutocastOptimWrapper' in (out.stdout + out.stderr)
    assert (tmp_path / 'iter_2.pth').is_file()


@pytest.mark.extended
def test_dist_train_two_cpu_processes(bluemarble, tiny, tmp_path):
    home = tmp_path / 'home'
    out = _run(['bash', 'tools/dist_train.sh', 'configs/pspnet.py', '2', '--work-dir',
                str(tmp_path), '--verbose', *_tiny(tiny, bluemarble, iters=3)],
               env={'PORT': '29517', 'ALTAIR_HOME': str(home)})
    log = out.stdout + out.stderr
    assert 'CPU DDP over gloo: rank 0 of 2' in log
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    ckpt = tmp_path / 'iter_3.pth'
    assert ckpt.is_file()
    # both ranks trained one run, opened by rank 0, recorded in the run store
    from altair.api.runs import list_runs
    [run] = list_runs(home / 'runs')
    assert run.status == 'finished' and run.work_dir == tmp_path.resolve()
    assert run.last_checkpoint == ckpt and len(run.metrics) == 1
    assert run.config.launcher == 'none' and run.config.train_cfg.max_iters == 3
    out = _run(['bash', 'tools/dist_test.sh', 'configs/pspnet.py', str(ckpt), '2', '--work-dir',
                str(tmp_path), *_tiny(tiny, bluemarble)], env={'PORT': '29518'})
    assert 'mIoU' in out.stdout + out.stderr


@pytest.mark.extended  # the messages and exit codes in-process: tests/test_bad_input.py
def test_cli_errors_are_one_line_with_exit_2(tmp_path):
    proc = subprocess.run([PY, 'tools/train.py', 'configs/nope.py'], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: config file 'configs/nope.py' does not exist"
    proc = subprocess.run([PY, 'tools/train.py', 'configs/pspnet.py', '--cfg-options',
                           'model.decode_head.type=PSPHeadd'], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 2 and 'did you mean PSPHead' in proc.stderr
    proc = subprocess.run([PY, 'tools/test.py', 'configs/pspnet.py', str(tmp_path / 'x.pth')],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and 'x.pth' in proc.stderr and 'does not exist' in proc.stderr
    proc = subprocess.run([PY, 'tools/dataset_converters/bluemarble.py', '--out-dir',
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f'error: {tmp_path} already exists; pass overwrite=True '
                                   '(--overwrite) to rebuild it')

