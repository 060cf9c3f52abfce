from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from altair.api.plot import NoTrainingLogError, plot_run, read_scalar_logs


def _train(step: int, loss: float) -> dict:
    return {'lr': 0.01 / step, 'data_time': 0.01, 'loss': loss, 'decode.loss_ce': 0.8 * loss,
            'aux.loss_ce': 0.2 * loss, 'time': 0.9, 'iter': step, 'memory': 0, 'step': step}


def _val(step: int, miou: float) -> dict:
    return {'aAcc': 80.0, 'mIoU': miou, 'mAcc': 50.0, 'IoU.water': 90.0, 'data_time': 0.1,
            'time': 0.5, 'step': step}


def _launch(work_dir: Path, stamp: str, lines: list, *, scalars: bool = True) -> None:
    vis = work_dir / stamp / 'vis_data'
    vis.mkdir(parents=True)
    text = '\n'.join(x if isinstance(x, str) else json.dumps(x) for x in lines) + '\n'
    (vis / f'{stamp}.json').write_text(text)
    if scalars:  # LocalVisBackend's copy of the same lines must not double the entries
        (vis / 'scalars.json').write_text(text)


@pytest.fixture
def resumed_run(tmp_path) -> Path:
    work = tmp_path / 'my_run'
    # first launch crashed after step 30; the resume re-logs step 30 with a different loss
    _launch(work, '20240101_100000',
            [_train(10, 3.0), _train(20, 2.5), _val(20, 30.0), _train(30, 2.2)])
    _launch(work, '20240101_120000',
            [_train(30, 2.0), '', _train(40, 1.8), _val(40, 45.0)], scalars=False)
    return work


def test_read_scalar_logs_dedups_resumed_steps(resumed_run):
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        train, val = read_scalar_logs(resumed_run)
    assert [e['step'] for e in train] == [10, 20, 30, 40]
    assert [e['step'] for e in val] == [20, 40]
    assert train[2]['loss'] == 2.0  # the resumed launch's entry wins
    assert [e['mIoU'] for e in val] == [30.0, 45.0]
    assert all('loss' not in e for e in val)


def test_scalars_json_is_the_fallback(tmp_path):
    vis = tmp_path / '20240101_100000' / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'scalars.json').write_text(json.dumps(_train(10, 1.0)) + '\n' + json.dumps(_val(10, 5.0)))
    train, val = read_scalar_logs(tmp_path)
    assert len(train) == 1 and len(val) == 1


def test_plot_run_writes_png(resumed_run, tmp_path):
    from matplotlib.image import imread
    out = plot_run(resumed_run, tmp_path / 'plots' / 'curves.png')
    assert out == tmp_path / 'plots' / 'curves.png'
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    height, width = imread(out).shape[:2]
    assert width > height > 100
    assert [p.name for p in out.parent.iterdir()] == ['curves.png']  # no temp file left behind


def test_plot_run_without_val_or_train_data(tmp_path):
    _launch(tmp_path / 'run', '20240101_100000', [_train(10, 1.0)])
    out = plot_run(tmp_path / 'run', tmp_path / 'a.png', title='custom')
    assert out.stat().st_size > 0
    _launch(tmp_path / 'empty', '20240101_100000', [''])
    assert plot_run(tmp_path / 'empty', tmp_path / 'b.png').stat().st_size > 0


def test_missing_logs_raise(tmp_path):
    (tmp_path / '20240101_100000' / 'vis_data').mkdir(parents=True)
    with pytest.raises(NoTrainingLogError, match='no training logs') as info:
        read_scalar_logs(tmp_path)
    assert str(tmp_path) in str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(NoTrainingLogError):
        plot_run(tmp_path / 'does_not_exist', tmp_path / 'x.png')
    assert not (tmp_path / 'x.png').exists()


def test_malformed_lines_warn_and_are_skipped(tmp_path):
    _launch(tmp_path, '20240101_100000',
            [_train(10, 3.0), '{"loss": 2.0, "st', 'not json', _train(20, 2.0), _val(20, 1.0)])
    with pytest.warns(UserWarning, match='skipped 2 malformed line'):
        train, val = read_scalar_logs(tmp_path)
    assert [e['step'] for e in train] == [10, 20]
    assert len(val) == 1


def test_plot_runs_overlays_one_line_per_run(resumed_run, tmp_path, monkeypatch):
    """Each panel holds one line per run, with that run's points (dedup'd across launches)."""
    from matplotlib.figure import Figure

    from altair.api.plot import plot_runs
    other = tmp_path / 'other_run'
    _launch(other, '20240102_100000', [_train(10, 4.0), _train(20, 3.0), _val(20, 12.0)])
    drawn = []
    real = Figure.subplots

    def spy(self, *a, **kw):
        axes = real(self, *a, **kw)
        drawn.extend(axes)
        return axes
    monkeypatch.setattr(Figure, 'subplots', spy)
    out = plot_runs([('A', resumed_run), ('B', other)], tmp_path / 'cmp' / 'c.png')
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    loss, lr, miou = ({ln.get_label(): ln.get_xydata().tolist() for ln in ax.get_lines()}
                      for ax in drawn)
    assert loss == {'A': [[10, 3.0], [20, 2.5], [30, 2.0], [40, 1.8]],
                    'B': [[10, 4.0], [20, 3.0]]}
    assert miou == {'A': [[20, 30.0], [40, 45.0]], 'B': [[20, 12.0]]}
    assert lr['B'] == [[10, 0.001], [20, 0.0005]]
    with pytest.raises(NoTrainingLogError):
        plot_runs([('A', resumed_run), ('C', tmp_path / 'nothing')], tmp_path / 'x.png')
