"""The run store without training: ids, lookup by prefix, status, checkpoints, metrics."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from altair.api.runs import (AmbiguousRunError, CheckpointNotFoundError, NoCheckpointError, Run,
                             RunNotFoundError, create_run, list_runs, load_run,
                             resolve_checkpoint, resolve_model_source, run_name, runs_root)


def test_ids_are_short_unique_and_sortable(tmp_path):
    a = create_run('pspnet', root=tmp_path)
    b = create_run('pspnet', root=tmp_path)
    assert re.fullmatch(r'\d{8}-\d{4}-pspnet-[0-9a-f]{4}', a.id)
    assert a.id != b.id and a.dir == (tmp_path / a.id).resolve()
    assert [r.id for r in list_runs(tmp_path)] == sorted([a.id, b.id])
    assert a.status == 'running' and a.work_dir == a.dir
    info = a.info
    assert info['config_name'] == 'pspnet' and info['error'] is None


def test_run_names_from_config_files():
    assert run_name('configs/pspnet/pspnet_r18-d16_1xb8-600it_bluemarble-256x256.py') == 'pspnet'
    assert run_name('configs/segformer.py') == 'segformer'
    assert run_name('My Config!.yaml') == 'my-config'
    assert run_name({'model': {}}) == 'run'


def test_runs_root_default_env_and_argument(tmp_path, monkeypatch):
    monkeypatch.delenv('ALTAIR_HOME', raising=False)
    assert str(runs_root()) == 'runs'
    monkeypatch.setenv('ALTAIR_HOME', str(tmp_path))
    assert runs_root() == tmp_path / 'runs'
    assert runs_root(tmp_path / 'x') == tmp_path / 'x'


def test_lookup_by_id_prefix_and_errors(tmp_path):
    ids = ['20261126-1045-pspnet-3fa9', '20261126-1045-pspnet-3fb0', '20261127-0900-segformer-00aa']
    for run_id in ids:
        (tmp_path / run_id).mkdir()
        (tmp_path / run_id / 'run.json').write_text(json.dumps({'id': run_id, 'status': 'finished'}))
    assert load_run(ids[2], tmp_path).id == ids[2]
    assert load_run('20261127', tmp_path).id == ids[2]
    assert load_run('20261126-1045-pspnet-3fa', tmp_path).id == ids[0]
    assert load_run('last', tmp_path).id == ids[2]
    with pytest.raises(AmbiguousRunError, match=f"'20261126-1045-pspnet-3f' is ambiguous: it "
                                                f'matches {ids[0]}, {ids[1]}'):
        load_run('20261126-1045-pspnet-3f', tmp_path)
    with pytest.raises(RunNotFoundError, match=f"no run '20261126-1045-pspnet-3fa8' under "
                                               f'{tmp_path}; closest: {ids[0]}'):
        load_run('20261126-1045-pspnet-3fa8', tmp_path)
    with pytest.raises(RunNotFoundError, match='closest: .*segformer'):
        load_run('segformer', tmp_path)
    with pytest.raises(RunNotFoundError, match='there are no runs there yet'):
        load_run('x', tmp_path / 'empty')


def test_status_checkpoints_and_metrics(tmp_path):
    run = create_run('pspnet', root=tmp_path)
    with pytest.raises(NoCheckpointError, match=f"run '{run.id}' has no checkpoint yet "
                                                r'\(status running'):
        run.checkpoint()
    (run.dir / 'iter_2.pth').write_bytes(b'x')
    (run.dir / 'last_checkpoint').write_text(str(run.dir / 'iter_2.pth'))
    assert run.last_checkpoint == run.dir / 'iter_2.pth' == run.checkpoint()
    assert run.best_checkpoint is None
    (run.dir / 'best_mIoU_iter_2.pth').write_bytes(b'x')
    assert run.checkpoint() == run.best_checkpoint == run.dir / 'best_mIoU_iter_2.pth'
    (run.dir / 'metrics.json').write_text(json.dumps([{'iter': 1, 'mIoU': 3.0},
                                                      {'iter': 2, 'mIoU': 5.0},
                                                      {'iter': 3, 'mIoU': 4.0}]))
    assert run.best_metrics == {'iter': 2, 'mIoU': 5.0}
    run.set_status('failed', error='ValueError: boom')
    assert run.status == 'failed' and run.info['error'] == 'ValueError: boom'
    with pytest.raises(ValueError, match="unknown run status 'done'"):
        run.set_status('done')


def test_what_a_run_id_or_a_config_and_checkpoint_resolve_to(tmp_path):
    """The one resolution behind alt.test, alt.predict and tools/export_backbone.py."""
    run = create_run('pspnet', root=tmp_path, source='configs/pspnet.py')
    (run.dir / 'iter_4.pth').write_bytes(b'x')
    (run.dir / 'last_checkpoint').write_text(str(run.dir / 'iter_4.pth'))
    assert resolve_model_source(run.id[:8], root=tmp_path) == (
        run.config_path, run.dir / 'iter_4.pth', run)
    other = tmp_path / 'other.pth'
    other.write_bytes(b'x')
    assert resolve_model_source(run, other, root=tmp_path)[1] == other  # explicit one wins
    assert resolve_model_source('configs/pspnet.py', str(other)) == (
        'configs/pspnet.py', other, None)
    with pytest.raises(CheckpointNotFoundError, match="config 'configs/pspnet.py' needs a "
                                                      'checkpoint'):
        resolve_model_source('configs/pspnet.py')
    with pytest.raises(RunNotFoundError):
        resolve_model_source('2099-nope', root=tmp_path)
    assert resolve_checkpoint(run.id, tmp_path) == run.dir / 'iter_4.pth'
    assert resolve_checkpoint(str(other)) == other
    with pytest.raises(CheckpointNotFoundError, match=r"checkpoint '/nope/x\.pth' does not "
                                                      'exist'):
        resolve_checkpoint('/nope/x.pth')


def test_a_running_run_whose_process_died_reads_interrupted(tmp_path):
    code = ('import sys; from altair.api.runs import create_run; '
            f'print(create_run("pspnet", root=r"{tmp_path}").id)')
    run_id = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            check=True).stdout.strip()
    run = load_run(run_id, tmp_path)
    assert run.info['status'] == 'running' and run.status == 'interrupted'
    assert isinstance(run, Run) and str(run) == run_id


def test_compare_puts_best_per_class_iou_side_by_side(tmp_path, cli):
    from altair.api.runs import compare_table
    a, b = create_run('pspnet', root=tmp_path), create_run('unet', root=tmp_path)
    (a.dir / 'metrics.json').write_text(json.dumps([
        {'iter': 10, 'mIoU': 20.0, 'IoU.water': 90.0, 'IoU.forest': 10.0},
        {'iter': 20, 'mIoU': 25.5, 'IoU.water': 91.25, 'IoU.forest': 12.5}]))
    (b.dir / 'metrics.json').write_text(json.dumps([
        {'iter': 10, 'mIoU': 30.0, 'IoU.water': 95.0, 'IoU.barren': 7.0}]))
    rows = [ln.split() for ln in compare_table([a, b]).splitlines()]
    assert rows == [['CLASS', a.id, b.id], ['water', '91.25', '95.00'],
                    ['forest', '12.50', '-'], ['barren', '-', '7.00'],
                    ['mIoU', '25.50', '30.00'], ['best', 'at', 'iter', '20', '10']]
    proc = cli('runs', '--compare', a.id, b.id[:-1], '--runs-root', tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == compare_table([a, b])
    proc = cli('runs', '--compare', a.id, 'nope', '--runs-root', tmp_path)
    assert proc.returncode == 2 and "no run 'nope'" in proc.stderr
