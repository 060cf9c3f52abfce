"""`--track tensorboard mlflow`: what a run logs there, read back with each tool's own reader
and compared with the run's own files (mmengine's scalars.json, the run store's metrics)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.conftest import ROOT

from altair.engine.tracking import (TrackingError, check_track, mlflow_uri, overlay_panel,
                                    vis_backends)


def test_check_track_names_bad_trackers():
    assert check_track(None) == [] and check_track('tensorboard') == ['tensorboard']
    assert check_track(['mlflow', 'mlflow']) == ['mlflow']
    with pytest.raises(TrackingError, match="unknown tracker 'wandb'.*tensorboard, mlflow"):
        check_track(['wandb'])


def test_mlflow_defaults_to_a_local_file_store(tmp_path, monkeypatch):
    monkeypatch.delenv('MLFLOW_TRACKING_URI', raising=False)
    assert mlflow_uri(tmp_path) == (tmp_path / 'mlruns').as_uri()
    monkeypatch.setenv('MLFLOW_TRACKING_URI', 'http://tracking:5000')
    assert mlflow_uri(tmp_path) == 'http://tracking:5000'
    [backend] = vis_backends(['mlflow'], experiment='pspnet', run_name='r1')
    assert backend['tracking_uri'] == 'http://tracking:5000' and backend['run_name'] == 'r1'


def test_overlay_panel_is_image_prediction_truth():
    image = np.zeros((3, 2, 2), np.uint8)
    image[0] = 200  # red in file order; in OpenCV (BGR) order it is blue
    pred, truth = np.zeros((2, 2), np.int64), np.ones((2, 2), np.int64)
    palette = [[0, 255, 0], [0, 0, 255]]
    panel = overlay_panel(image, pred, truth, palette, alpha=0.5)
    assert panel.shape == (2, 6, 3)
    assert panel[0, 0].tolist() == [200, 0, 0]
    assert panel[0, 2].tolist() == [100, 128, 0]   # half image, half class 0 (green)
    assert panel[0, 4].tolist() == [100, 0, 128]   # half image, half class 1 (blue)
    assert overlay_panel(image, pred, None, palette, bgr=True)[0, 0].tolist() == [0, 0, 200]


@pytest.mark.slow
def test_tensorboard_and_mlflow_hold_what_the_run_logged(small_bluemarble, tiny, tmp_path,
                                                         monkeypatch):
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    import altair as alt
    from altair.cli import runs_table
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('MLFLOW_TRACKING_URI', raising=False)
    opts = dict(tiny.options(small_bluemarble, iters=2), **{'default_hooks.logger.interval': 1})
    run = alt.train(str(ROOT / 'configs' / 'pspnet.py'), cfg_options=opts, seed=0, root=tmp_path / 'runs',
                    track=['tensorboard', 'mlflow'])
    assert run.status == 'finished'
    logged = [json.loads(ln) for ln in next(run.work_dir.glob('*/vis_data/scalars.json'))
              .read_text().splitlines()]
    train = [e for e in logged if 'loss' in e]
    [val] = run.metrics

    # TensorBoard: the event file mmengine wrote, read by TensorBoard's own reader
    [events] = list(run.work_dir.glob('*/vis_data/events.out.tfevents.*'))
    acc = EventAccumulator(str(events.parent), size_guidance={'images': 0}).Reload()
    assert [s.step for s in acc.Scalars('loss')] == [e['step'] for e in train] == [1, 2]
    assert [s.value for s in acc.Scalars('loss')] == pytest.approx([e['loss'] for e in train],
                                                                   rel=1e-6)
    assert [s.value for s in acc.Scalars('lr')] == pytest.approx([e['lr'] for e in train])
    assert acc.Scalars('mIoU')[-1].value == pytest.approx(val['mIoU'], abs=1e-4)
    assert acc.Scalars('IoU.water')[-1].value == pytest.approx(val['IoU.water'], abs=1e-4)
    overlays = [t for t in acc.Tags()['images'] if t.startswith('val_overlay_')]
    assert len(overlays) == 3  # the 3 val tiles (at most 4 per validation)
    assert acc.Tags()['tensors'] == ['config/text_summary']  # the resolved config
    assert acc.Images('val_overlay_0')[0].width == 3 * 300  # image | prediction | truth

    # MLflow: the local file store under ./mlruns, read by MLflow's client
    client = MlflowClient(tracking_uri=(tmp_path / 'mlruns').as_uri())
    experiment = client.get_experiment_by_name('pspnet')  # the config's name
    [found] = client.search_runs([experiment.experiment_id],
                                 filter_string=f"tags.mlflow.runName = '{run.id}'")
    history = client.get_metric_history(found.info.run_id, 'loss')
    assert [m.step for m in history] == [1, 2]
    assert [m.value for m in history] == pytest.approx([e['loss'] for e in train], rel=1e-6)
    assert found.data.metrics['mIoU'] == pytest.approx(val['mIoU'], abs=1e-4)
    assert found.data.metrics['IoU.water'] == pytest.approx(val['IoU.water'], abs=1e-4)
    assert found.data.params['train_cfg.max_iters'] == '2'  # the resolved config
    artifacts = {a.path for a in client.list_artifacts(found.info.run_id)}
    assert {'config.py', 'val_overlay_0', 'val_overlay_1', 'val_overlay_2'} <= artifacts
    assert [a.path for a in client.list_artifacts(found.info.run_id, 'val_overlay_0')] == [
        'val_overlay_0/iter_2.png']
    log_dir = next(p for p in artifacts if p[:8].isdigit())  # mmengine's log, uploaded
    assert any(a.path.endswith('.log') for a in client.list_artifacts(found.info.run_id,
                                                                      log_dir))

    assert set(run.tracking) == {'tensorboard', 'mlflow'}
    assert (tmp_path / 'mlruns').as_uri() in run.tracking['mlflow']
    assert run.tracking['mlflow'] in runs_table([run])



def test_config_track_key_adds_backends_once_and_records_where(tmp_path, monkeypatch):
    """`track = [...]` in a config = --track; a resumed run's saved config (backends already
    in it) does not get them twice."""
    from mmengine.config import Config

    from altair.api.runs import create_run
    from altair.api.compile import CompileOptions, _run_options
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('MLFLOW_TRACKING_URI', raising=False)
    run = create_run('pspnet', root=tmp_path / 'runs')
    cfg = Config(dict(track=['tensorboard', 'mlflow'], optim_wrapper=dict(type='OptimWrapper'),
                      visualizer=dict(type='SegLocalVisualizer', name='visualizer',
                                      vis_backends=[dict(type='LocalVisBackend')])))
    _run_options(cfg, CompileOptions(run=run))
    kinds = [b['type'] for b in cfg.visualizer.vis_backends]
    assert kinds == ['LocalVisBackend', 'TensorboardVisBackend', 'MLflowVisBackend']
    assert cfg.visualizer.name == f'visualizer-{run.id}' and 'track' not in cfg
    assert [h['type'] for h in cfg.custom_hooks] == ['RunMetricsHook', 'ValOverlayHook']
    assert run.tracking['mlflow'] == (f'mlflow {(tmp_path / "mlruns").as_uri()} experiment '
                                      f'pspnet run {run.id}')
    assert os.environ['MLFLOW_ALLOW_FILE_STORE'] == 'true'
    again = Config(cfg.to_dict())
    _run_options(again, CompileOptions(run=run, track=['tensorboard', 'mlflow']))
    assert [b['type'] for b in again.visualizer.vis_backends] == kinds
    assert [h['type'] for h in again.custom_hooks] == ['RunMetricsHook', 'ValOverlayHook']
