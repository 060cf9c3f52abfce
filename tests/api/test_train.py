"""``alt.train`` / ``alt.test`` / ``alt.predict`` round trips on the real Blue Marble tiles."""
from __future__ import annotations

import pytest
import torch

import altair as alt
from altair.config import load_config


@pytest.fixture
def bluemarble(small_bluemarble):
    """These runs check the flow, not the numbers: 3 val tiles do (see small_bluemarble)."""
    return small_bluemarble


def _weights(run) -> dict:
    return torch.load(run.last_checkpoint, map_location='cpu', weights_only=False)['state_dict']


@pytest.mark.slow
@pytest.mark.extended
def test_train_test_predict_round_trip(bluemarble, tiny, tmp_path):
    run = alt.train('configs/pspnet.py', cfg_options=tiny.options(bluemarble), seed=0,
                    root=tmp_path)
    assert [(r.id, r.status) for r in alt.runs(tmp_path)] == [(run.id, 'finished')]
    loaded = alt.load_run(run.id[:8], tmp_path)  # the date alone is a unique prefix here
    assert loaded.id == run.id and loaded.config.train_cfg.max_iters == 2
    assert loaded.last_checkpoint.name == 'iter_2.pth'
    assert loaded.best_checkpoint.name == 'best_mIoU_iter_2.pth'
    [val] = loaded.metrics
    assert val['iter'] == 2 and 'IoU.water' in val and 0 <= val['mIoU'] <= 100

    metrics = alt.test(run.id[:8], root=tmp_path)  # val == test split in this config
    assert metrics['mIoU'] == pytest.approx(val['mIoU'], abs=0.011)
    assert metrics['IoU.barren'] == pytest.approx(val['IoU.barren'], abs=0.011)

    image = bluemarble / 'img_dir' / 'val'
    preds = alt.predict(run.id[:8], images=str(image / 'r01_*.png'), tta=True,
                        tta_transforms=['hflip', 'vflip', 'rotate90'], root=tmp_path,
                        progress=False)
    assert len(preds) == len(list(image.glob('r01_*.png'))) == 2  # of the 3 val tiles
    assert preds[0].labels.shape == (300, 300) and preds[0].sliding_window  # > 256 crop
    assert preds[0].written['labels'].parent == run.dir / 'predictions'
    assert preds[0].written['overlay'].is_file()
    # TTA and windows combine: D4 of per-window predictions, merged per window
    [plain] = alt.predict(run, images=preds[0].source, save=(), root=tmp_path)
    assert plain.labels.shape == preds[0].labels.shape and plain.labels.max() < 8


@pytest.mark.slow
@pytest.mark.extended
def test_yaml_and_dict_configs_train_like_the_python_config(bluemarble, tiny, tmp_path):
    cfg = load_config('configs/pspnet.py')
    cfg.dump(str(tmp_path / 'pspnet.yaml'))
    opts = tiny.options(bluemarble, iters=1)
    runs = [alt.train(c, cfg_options=opts, seed=0, root=tmp_path / 'runs')
            for c in ('configs/pspnet.py', tmp_path / 'pspnet.yaml', cfg.to_dict())]
    assert [r.id.split('-')[2] for r in runs] == ['pspnet', 'pspnet', 'run']
    reference = _weights(runs[0])
    for run in runs[1:]:
        weights = _weights(run)
        assert weights.keys() == reference.keys()
        assert all(torch.equal(weights[k], reference[k]) for k in reference)


@pytest.mark.slow
@pytest.mark.extended
def test_distributed_two_cpu_workers_make_one_run(bluemarble, tiny, tmp_path, capfd):
    run = alt.train('configs/pspnet.py', cfg_options=tiny.options(bluemarble), distributed=2,
                    root=tmp_path)
    out = capfd.readouterr()
    assert 'CPU DDP over gloo: rank 0 of 2' in out.out + out.err
    assert [r.id for r in alt.runs(tmp_path)] == [run.id] and run.status == 'finished'
    assert run.last_checkpoint.name == 'iter_2.pth' and len(run.metrics) == 1


@pytest.mark.slow
@pytest.mark.extended
def test_a_failing_worker_fails_the_run_with_its_error(bluemarble, tiny, tmp_path):
    opts = dict(tiny.options(bluemarble),
                **{'train_dataloader.dataset.data_root': str(tmp_path / 'x')})
    with pytest.raises(alt.TrainingFailedError, match=r'rank \d of 2 failed \(exit code 1\): '
                                                      r'.*x'):
        alt.train('configs/pspnet.py', cfg_options=opts, distributed=2, root=tmp_path)
    [run] = alt.runs(tmp_path)
    assert run.status == 'failed' and 'rank' in run.info['error']


def test_train_option_errors(tmp_path):
    with pytest.raises(alt.TrainOptionError, match='grad_accum must be an int >= 1, got 0'):
        alt.train('configs/pspnet.py', grad_accum=0, root=tmp_path)
    with pytest.raises(alt.TrainOptionError, match=r"distributed must be True/False or a number "
                                                   r"of processes >= 1, got 'yes'"):
        alt.train('configs/pspnet.py', distributed='yes', root=tmp_path)
    with pytest.raises(alt.RunNotFoundError, match="nothing to resume: no unfinished run of "
                                                   "'pspnet'"):
        alt.train('configs/pspnet.py', resume=True, root=tmp_path)


@pytest.mark.parametrize('exc, status', [(KeyboardInterrupt(), 'interrupted'),
                                         (ValueError('bad value'), 'failed')])
def test_a_training_that_stops_records_why(tmp_path, monkeypatch, exc, status):
    import altair.api.train as api

    class Runner:
        def train(self):
            raise exc
    monkeypatch.setattr(api, 'build_runner', lambda cfg: Runner())
    with pytest.raises(type(exc)):
        alt.train('configs/pspnet.py', root=tmp_path)
    [run] = alt.runs(tmp_path)
    assert run.status == status
    assert run.info['error'] == (None if status == 'interrupted' else 'ValueError: bad value')
    assert run.config.custom_hooks[-1] == dict(type='RunMetricsHook',
                                               path=str(run.dir / 'metrics.json'))


def test_sigterm_while_training_is_an_interrupt():
    import os
    import signal

    from altair.api.train import _sigterm_as_interrupt
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt, match='signal 15'):
        with _sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) == before


def test_number_of_workers(monkeypatch, caplog):
    from altair.api.train import num_workers
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 0)
    with caplog.at_level('WARNING', logger='altair'):
        assert num_workers(True) == 1
    assert 'no GPU is visible: training in one process' in caplog.text
    assert (num_workers(False), num_workers(3), num_workers(processes=2),
            num_workers(2, processes=2), num_workers(True, processes=3)) == (1, 3, 2, 2, 3)
    with pytest.raises(alt.TrainOptionError, match='distributed=3 and processes=2 disagree'):
        num_workers(3, processes=2)
    # --gpus means GPUs, as in predict: none visible is an error that names --processes
    with pytest.raises(alt.TrainOptionError,
                       match='gpus=2 but 0 GPU.*processes=N trains in N CPU processes'):
        num_workers(gpus=2)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 4)
    assert num_workers(True) == 4 and num_workers(True, gpus=2) == 2
    assert num_workers(gpus=4) == 4 and num_workers(processes=6) == 6
    with pytest.raises(alt.TrainOptionError, match='distributed=3 and gpus=2 disagree'):
        num_workers(3, 2)
    with pytest.raises(alt.TrainOptionError, match=r'gpus=8 but 4 GPU\(s\) are visible$'):
        num_workers(gpus=8)
    with pytest.raises(alt.TrainOptionError, match='processes=2 and gpus=2: give one'):
        num_workers(processes=2, gpus=2)


def test_amp_is_the_former_name_of_precision(tmp_path, monkeypatch):
    """alt.train(amp=...) still sets the precision, warns once per process, and refuses to be
    given beside precision=."""
    import warnings

    import altair.api.train as api
    from altair import errors

    def stop(*args):
        raise RuntimeError('stop')
    monkeypatch.setattr(api, 'num_workers', stop)  # after the keywords are read
    monkeypatch.setattr(errors, '_WARNED', set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for _ in range(2):
            with pytest.raises(RuntimeError, match='stop'):
                api.train('cfg.py', amp='bf16', launcher='none')
    assert [str(w.message) for w in caught if w.category is FutureWarning] == [
        'amp= is deprecated: use precision=']
    with pytest.raises(errors.RenamedKeywordError, match="amp='bf16' and precision='fp32'"):
        api.train('cfg.py', amp='bf16', precision='fp32', launcher='none')
    assert errors.renamed_keyword('amp', 'bf16', 'precision', None) == 'bf16'
    assert errors.renamed_keyword('amp', None, 'precision', 'fp16') == 'fp16'


def _compiled(config, tmp_path, monkeypatch, **kwargs):
    """The config ``alt.train`` hands the runner (training itself replaced by nothing)."""
    import altair.api.train as api
    seen = []

    class Runner:
        def train(self):
            pass
    monkeypatch.setattr(api, 'build_runner', lambda cfg: seen.append(cfg) or Runner())
    alt.train(config, root=tmp_path / 'runs', **kwargs)
    [cfg] = seen
    return cfg


def test_yaml_training_section_trains_like_the_train_arguments(tmp_path, monkeypatch):
    from pathlib import Path
    base = Path('configs/pspnet.py').resolve()
    yaml = tmp_path / 'accum.yaml'
    yaml.write_text(f'_base_: {base}\ntraining:\n  gradient_accumulation: 2\n'
                    '  precision: bf16\n')
    ours = _compiled(yaml, tmp_path, monkeypatch)
    reference = _compiled('configs/pspnet.py', tmp_path, monkeypatch, grad_accum=2,
                          precision='bf16')
    plain = _compiled('configs/pspnet.py', tmp_path, monkeypatch)
    assert ours.optim_wrapper == reference.optim_wrapper != plain.optim_wrapper
    wrapper = ours.optim_wrapper
    assert wrapper['accumulative_counts'] == 2 and 'accumulative_counts' not in plain.optim_wrapper
    assert (wrapper['type'], wrapper['dtype']) in (('AutocastOptimWrapper', 'bfloat16'),
                                                   ('AmpOptimWrapper', 'bfloat16'))
    assert 'training' not in ours and 'precision' not in ours


def test_yaml_augmentation_preset_is_the_preset_shorthand(tmp_path, monkeypatch):
    from pathlib import Path
    yaml = tmp_path / 'heavy.yaml'
    yaml.write_text(f"_base_: {Path('configs/pspnet.py').resolve()}\n"
                    'augmentations:\n  preset: heavy\n')
    ours = _compiled(yaml, tmp_path, monkeypatch).train_dataloader.dataset.pipeline
    reference = _compiled('configs/pspnet.py', tmp_path, monkeypatch, cfg_options={
        'augmentations': dict(preset='heavy')}).train_dataloader.dataset.pipeline
    plain = _compiled('configs/pspnet.py', tmp_path, monkeypatch
                      ).train_dataloader.dataset.pipeline
    assert ours == reference != plain
    [step] = [s for s in ours if s['type'] == 'AugPreset']
    assert step['name'] == 'heavy' and tuple(step['crop_size']) == (256, 256)


def test_an_unknown_preset_in_a_yaml_config_names_the_key(tmp_path):
    from pathlib import Path
    yaml = tmp_path / 'hevy.yaml'
    yaml.write_text(f"_base_: {Path('configs/pspnet.py').resolve()}\n"
                    'augmentations:\n  preset: hevy\n')
    with pytest.raises(KeyError) as info:
        alt.train(yaml, root=tmp_path)
    assert str(info.value) == ("unknown preset 'hevy'; choose one of light, medium, heavy, "
                               f'medical, satellite, overhead (config key augmentations.preset in {yaml})')
