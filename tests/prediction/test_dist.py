"""Prediction in several processes equals one process: one image split into row blocks, and a
list of images shared out; the options that cannot be split are refused before any work."""
from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

ROOT = Path(__file__).resolve().parents[2]

OPTIONS = dict(window_size=(64, 64), overlap=0.25, window_batch=3, progress=False)


def _read(path):
    with rasterio.open(path) as ds:
        return ds.read()


def _two_and_one(model, image, tmp_path, kw):
    """The prediction in two processes, and the reference: one process with the threads each
    worker had (oneDNN's sums depend on the thread count in the last bits)."""
    import altair as alt
    from altair.engine.launch import threads_per_worker
    [two] = alt.predict(model, image, out_dir=tmp_path / 'two', processes=2, **kw)
    threads = torch.get_num_threads()
    torch.set_num_threads(threads_per_worker(2))
    try:
        [one] = alt.predict(model, image, out_dir=tmp_path / 'one', **kw)
    finally:
        torch.set_num_threads(threads)
    return two, one


@pytest.mark.slow
@pytest.mark.extended
def test_two_processes_equal_one(checkpoint, framed, tmp_path):
    model = ('configs/pspnet.py', str(checkpoint))
    kw = dict(OPTIONS, save=('labels', 'probs', 'preview', 'overlay'), probs_dtype='float32',
              uncertainty='entropy')
    two, one = _two_and_one(model, framed, tmp_path, kw)
    assert isinstance(two.labels, type(two.written['labels']))  # labels come back as a file
    assert two.windows == one.windows and two.skipped_windows == one.skipped_windows > 0
    for kind in ('labels', 'probs', 'uncertainty', 'preview', 'overlay'):
        assert filecmp.cmp(one.written[kind], two.written[kind], shallow=False), kind
    assert np.array_equal(_read(two.labels)[0], one.labels)
    assert not list((tmp_path / 'two').glob('.*'))  # no block file left


@pytest.mark.slow
@pytest.mark.extended
def test_two_processes_equal_one_with_tta(checkpoint, framed, tmp_path):
    """TTA views go through the model in the same calls (batch_size images each) in a row
    block as in the whole run, so the probabilities match bit for bit."""
    model = ('configs/pspnet.py', str(checkpoint))
    kw = dict(OPTIONS, save=('labels', 'probs'), probs_dtype='float32', tta=True,
              tta_transforms=['hflip', 'vflip'])
    two, one = _two_and_one(model, framed, tmp_path, kw)
    for kind in ('labels', 'probs'):
        assert filecmp.cmp(one.written[kind], two.written[kind], shallow=False), kind


@pytest.mark.slow
@pytest.mark.extended
def test_images_are_shared_out_between_processes(checkpoint, crop, framed, tmp_path):
    import altair as alt
    model = ('configs/pspnet.py', str(checkpoint))
    images = [framed, crop]
    two = alt.predict(model, images, out_dir=tmp_path / 'two', processes=2, save=('labels',),
                      **OPTIONS)
    one = alt.predict(model, images, out_dir=tmp_path / 'one', save=('labels',), **OPTIONS)
    assert [p.source for p in two] == [p.source for p in one] == images
    for a, b in zip(one, two):
        assert np.array_equal(_read(b.labels)[0], a.labels)


def test_process_options_are_refused_before_work(checkpoint, crop, framed, tmp_path,
                                                 monkeypatch):
    import altair as alt
    from altair.api.predict import PredictOptionError, load_model
    model = ('configs/pspnet.py', str(checkpoint))
    with pytest.raises(PredictOptionError, match=r'processes must be a number of processes '
                                                 r'>= 1, got 0'):
        alt.predict(model, crop, processes=0)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 1)
    with pytest.raises(PredictOptionError, match=r'gpus=2 but 1 GPU\(s\) are visible'):
        alt.predict(model, crop, gpus=2)
    monkeypatch.undo()
    with pytest.raises(PredictOptionError, match='give processes'):
        alt.predict(model, crop, processes=2, gpus=1)
    with pytest.raises(PredictOptionError, match="save 'polygons' of one image"):
        alt.predict(model, crop, processes=2, save=('polygons',))
    with pytest.raises(PredictOptionError, match='resume continues a one-process'):
        alt.predict(model, crop, processes=2, resume=True)
    net = load_model(ROOT / 'configs/pspnet.py', checkpoint, device='cpu')
    with pytest.raises(PredictOptionError, match='not a segmentor'):
        alt.predict(net, crop, processes=2)
    with pytest.raises(PredictOptionError, match='not arrays'):
        alt.predict(model, np.zeros((8, 8, 3), np.uint8), processes=2)
    monkeypatch.setenv('WORLD_SIZE', '2')
    monkeypatch.setenv('RANK', '0')
    with pytest.raises(PredictOptionError, match='split already'):
        alt.predict(model, [crop, framed], processes=2)


def test_cli_gpus_beyond_the_visible_devices(checkpoint, crop, tmp_path, cli):
    visible = torch.cuda.device_count()
    proc = cli('predict', 'configs/pspnet.py', checkpoint, crop, '--out', tmp_path,
               '--gpus', visible + 1)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f'error: gpus={visible + 1} but {visible} GPU(s) are visible'), \
        proc.stderr[-2000:]
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_a_failing_worker_stops_the_prediction_with_its_error(checkpoint, crop, tmp_path):
    import altair as alt
    from altair.engine.launch import WorkerFailedError
    broken = tmp_path / 'broken.tif'
    broken.write_bytes(b'not a GeoTIFF')
    with pytest.raises(WorkerFailedError, match=r"rank 1 of 2 failed \(exit code 1\): .*"
                                                r"cannot read '.*broken.tif' as a raster"):
        alt.predict(('configs/pspnet.py', str(checkpoint)), [crop, broken],
                    out_dir=tmp_path / 'out', processes=2, save=('labels',), **OPTIONS)
    import torch.distributed as dist
    assert not dist.is_initialized()  # the parent left no process group behind


@pytest.mark.slow
@pytest.mark.extended
def test_processes_refuse_outputs_another_prediction_holds(checkpoint, framed, tmp_path, cli):
    """One image split over 2 processes into outputs whose lock is held (as another
    prediction writing there would): one line naming the holder, no block file written."""
    from altair.prediction.lock import OutputLock, lock_path
    out = tmp_path / 'out'
    out.mkdir()
    stem = Path(framed).stem
    with OutputLock(lock_path(out, stem), f"'{stem}_*'"):
        res = cli('predict', 'configs/pspnet.py', checkpoint, framed, '--out', out,
                  '--processes', 2, '--window', 64, 64)
    assert res.returncode == 2, res.stderr[-2000:]
    assert 'Traceback' not in res.stderr
    error = [ln for ln in res.stderr.splitlines() if ln.startswith('error: ')]
    assert len(error) == 1 and f"outputs '{stem}_*' in '{out}' are being written by " \
        'another prediction (pid' in error[0], res.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == []
