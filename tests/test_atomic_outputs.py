"""Interrupted work leaves nothing under a final name, and rerunning it completes: a SIGKILLed
prediction (which --resume also finishes, byte-identical), an interrupted dataset build, an
interrupted backbone export."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def pspnet_checkpoint(tmp_path, in_repo_root) -> Path:
    from mmengine.registry import DefaultScope

    from altair.config import load_config
    from altair.registry import MODELS
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(load_config('configs/pspnet.py').model)
    path = tmp_path / 'pspnet.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


@pytest.mark.slow
def test_a_sigkilled_prediction_leaves_no_final_file_and_resumes_byte_identical(
        tmp_path, pspnet_checkpoint, cli):
    """The killed prediction is a process of its own; resume and the references run here."""
    rng = np.random.default_rng(0)
    image = tmp_path / 'big.png'
    cv2.imwrite(str(image), rng.integers(0, 256, (1536, 1536, 3), dtype=np.uint8))

    def cmd(out, *extra):
        return ['predict', 'configs/pspnet.py', str(pspnet_checkpoint), str(image), '--out',
                str(out), '--sliding-window', '--window', '256', '256', '--save', 'labels',
                'probs', '--runs-root', str(tmp_path / 'runs'), *extra]
    out = tmp_path / 'out'
    proc = subprocess.Popen([sys.executable, '-m', 'altair', *cmd(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    journal = out / '.big.journal.json'
    deadline = time.monotonic() + 300
    while not journal.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert journal.exists(), proc.stderr.read().decode()[-2000:] if proc.poll() else 'timeout'
    proc.send_signal(signal.SIGKILL)  # a band or two in: mid-way through the window loop
    assert proc.wait() == -signal.SIGKILL
    assert not (out / 'big_labels.tif').exists()
    resumed = cli(*cmd(out, '--resume'))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert 'resuming at row' in resumed.stderr
    assert sorted(p.name for p in out.iterdir()) == ['big_labels.tif', 'big_probs.tif']
    whole = cli(*cmd(tmp_path / 'ref'))
    assert whole.returncode == 0, whole.stderr[-2000:]
    for name in ('big_labels.tif', 'big_probs.tif'):
        assert (out / name).read_bytes() == (tmp_path / 'ref' / name).read_bytes(), name
    # rerun without --resume: starts again and completes
    rerun = cli(*cmd(out))
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert (out / 'big_labels.tif').read_bytes() == (tmp_path / 'ref' / 'big_labels.tif'
                                                     ).read_bytes()


def test_an_interrupted_dataset_build_leaves_nothing_and_a_rerun_completes(tmp_path,
                                                                           monkeypatch):
    import altair.datasets.bluemarble_build as build
    real, calls = cv2.imwrite, []

    def dying(path, img, *args):
        calls.append(path)
        if len(calls) == 40:
            raise KeyboardInterrupt
        return real(path, img, *args)
    monkeypatch.setattr(cv2, 'imwrite', dying)  # the builder imports cv2 inside
    out = tmp_path / 'bluemarble'
    with pytest.raises(KeyboardInterrupt):
        build.build_bluemarble(out, progress=False)
    assert list(tmp_path.iterdir()) == []  # not even the temporary folder
    monkeypatch.setattr(cv2, 'imwrite', real)
    meta = build.build_bluemarble(out, progress=False)
    assert (out / 'meta.json').is_file() and meta


def test_an_interrupted_export_leaves_nothing(tmp_path, pspnet_checkpoint, monkeypatch):
    from altair.models.selfsup import export
    real = torch.save

    def dying(obj, f, *args, **kwargs):
        Path(f).write_bytes(b'half')
        raise KeyboardInterrupt
    monkeypatch.setattr(export.torch, 'save', dying)
    target = tmp_path / 'exported' / 'backbone.pth'
    with pytest.raises(KeyboardInterrupt):
        export.export_backbone(pspnet_checkpoint, target, convert='none')
    assert list(target.parent.iterdir()) == []  # the temporary file removed too
    monkeypatch.setattr(export.torch, 'save', real)
    export.export_backbone(pspnet_checkpoint, target, convert='none')
    assert sorted(p.name for p in target.parent.iterdir()) == ['backbone.pth']


def test_a_failed_run_record_write_keeps_the_old_one_and_leaves_nothing(tmp_path, monkeypatch):
    import json

    from altair.fileio import write_json
    path = tmp_path / 'run.json'
    write_json(path, {'status': 'running'})
    real = Path.write_text

    def full_disk(self, text, *args, **kwargs):
        real(self, text[:5])
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(Path, 'write_text', full_disk)
    with pytest.raises(OSError, match='No space left'):
        write_json(path, {'status': 'finished'})
    monkeypatch.setattr(Path, 'write_text', real)
    assert json.loads(path.read_text()) == {'status': 'running'}
    assert [p.name for p in tmp_path.iterdir()] == ['run.json']
