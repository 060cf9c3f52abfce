"""Volume prediction (``altair.prediction.volumes``) against the training pipeline's own
reading of each slice and the sliding-window engine run slice by slice."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

import altair as alt
from altair.inference.sliding import sliding_window_inference
from altair.prediction.model import input_transform
from altair.prediction.options import PredictOptionError

from tests.volume_fixtures import AFFINE, write_cases


def reference_labels(model, config, case: Path) -> np.ndarray:
    """Slice by slice as training reads it (the config's own test pipeline), predicted by
    the sliding-window engine with the model's preprocessing, argmax."""
    from mmengine.config import Config

    from altair.datasets.volume import VolumeSliceDataset
    cfg = Config.fromfile(config)
    ds_cfg = dict(cfg.volume_options, subset='all', split=None, pipeline=cfg.test_pipeline[:1],
                  volumes=[dict(img=str(case), ann=None)], data_root='')
    ds_cfg.pop('type')
    ds = VolumeSliceDataset(**ds_cfg)
    from altair.models.segmentor import window_predictor
    predictor = window_predictor(model)
    out = []
    for i in range(len(ds)):
        img = torch.from_numpy(ds[i]['img']).permute(2, 0, 1)
        pre = input_transform(model, img.shape[0])
        logits = sliding_window_inference(img, predictor, window=(32, 32), overlap=0.25,
                                          num_classes=model.out_channels, batch_size=3,
                                          preprocess=pre)
        out.append(logits.argmax(0).numpy())
    return np.stack(out, axis=2).astype(np.uint8)


def test_labels_equal_the_slice_by_slice_reference_with_the_source_geometry(volume_model,
                                                                            tmp_path):
    """The fixture's voxels (1.5 x 1.2 x 2 mm) give 2.5-D context: each slice with its two
    neighbours, read by the slab in prediction and slice by slice in the reference."""
    config, ckpt, cases = volume_model
    model = alt.load_model(config, ckpt, device='cpu')
    assert model.altair_card.raster['volume']['context'] == 1
    [p] = alt.predict(model, cases[1], out_dir=tmp_path, precision='fp32', window_batch=5,
                      save=('labels', 'preview', 'probs'), uncertainty='entropy',
                      progress=False)
    assert p.written['labels'] == tmp_path / 'case1_seg.nii.gz'
    seg, src = nib.load(p.written['labels']), nib.load(cases[1])
    assert seg.shape == src.shape and np.array_equal(seg.affine, src.affine)
    assert seg.get_data_dtype() == np.uint8
    got = np.asanyarray(seg.dataobj)
    assert np.array_equal(got, reference_labels(model, config, cases[1]))
    probs = np.asanyarray(nib.load(p.written['probs']).dataobj)
    assert probs.shape == (*src.shape, 2) and probs.dtype == np.uint8
    assert np.array_equal(probs.argmax(-1)[np.abs(probs[..., 0].astype(int) - probs[..., 1])
                                           > 1], got[np.abs(probs[..., 0].astype(int)
                                                            - probs[..., 1]) > 1])
    unc = np.asanyarray(nib.load(p.written['uncertainty']).dataobj)
    p1 = probs[..., 1] / 255.0
    expected = -(p1 * np.log(np.clip(p1, 1e-12, 1))
                 + (1 - p1) * np.log(np.clip(1 - p1, 1e-12, 1))) / np.log(2)  # normalised
    assert np.allclose(unc, expected, atol=0.02)
    assert p.written['preview'].stat().st_size > 0


class _Recorded:
    """A channel array that records the slices read along ``axis``."""

    def __init__(self, data: np.ndarray, axis: int, reads: list) -> None:
        self.data, self.axis, self.reads, self.shape = data, axis, reads, data.shape

    def __getitem__(self, index):
        along = index[self.axis]
        self.reads.extend(range(*along.indices(self.shape[self.axis])))
        return self.data[index]


@pytest.mark.parametrize('axis, context, slab', [(2, 1, 3), (0, 2, 1), (1, 1, 4), (2, 0, 3)])
def test_slab_reader_reads_each_slice_once_and_in_order(axis, context, slab):
    """Slabs with context from a forward-only read (a gzipped volume cannot seek back),
    against each slice's channels picked one by one with NumPy."""
    from altair.prediction.volumes import SlabReader
    rng = np.random.default_rng(0)
    data = [rng.integers(0, 1000, (10, 9, 11)).astype(np.int16) for _ in range(2)]
    norms = [(100.0, 900.0), None]
    reads: list = [[], []]
    reader = SlabReader([_Recorded(d, axis, r) for d, r in zip(data, reads)], norms, axis,
                        context=context)
    depth = data[0].shape[axis]
    got = torch.cat([reader.read(k, min(depth, k + slab)) for k in range(0, depth, slab)])
    assert reads == [list(range(depth))] * 2  # each slice of each channel once, in order
    assert got.shape == (depth, 2 * (2 * context + 1), *np.delete(data[0].shape, axis))
    for k in range(depth):
        expected = []
        for d, n in zip(data, norms):
            for j in range(k - context, k + context + 1):
                raw = np.take(d, min(max(j, 0), depth - 1), axis=axis).astype(np.float64)
                expected.append(raw if n is None else (np.clip(raw, *n) - n[0]) / (n[1] - n[0]))
        assert np.allclose(got[k].numpy(), np.stack(expected), atol=1e-6)


def test_tta_flips_change_the_batch_not_the_geometry(volume_model, tmp_path):
    config, ckpt, cases = volume_model
    model = alt.load_model(config, ckpt, device='cpu')
    plain, = alt.predict(model, cases[0], out_dir=tmp_path / 'a', precision='fp32',
                         save=('labels',), progress=False)
    tta, = alt.predict(model, cases[0], out_dir=tmp_path / 'b', precision='fp32',
                       save=('labels',), tta_transforms=['hflip', 'vflip'], progress=False)
    a, b = (np.asanyarray(nib.load(p.written['labels']).dataobj) for p in (plain, tta))
    assert a.shape == b.shape and not np.array_equal(a, b)  # random weights: not equivariant


def test_a_case_id_and_channel_files_name_one_case(volume_model, tmp_path):
    config, ckpt, cases = volume_model
    folder = tmp_path / 'imagesTs'
    folder.mkdir()
    (folder / 'la_003_0000.nii.gz').write_bytes(cases[0].read_bytes())
    model = alt.load_model(config, ckpt, device='cpu')
    [p] = alt.predict(model, str(folder / 'la_003'), out_dir=tmp_path / 'out',
                      save=('labels',), progress=False)
    assert p.written['labels'].name == 'la_003_seg.nii.gz'
    (folder / 'la_003_0001.nii.gz').write_bytes(cases[0].read_bytes())
    with pytest.raises(PredictOptionError, match=r"case 'la_003' has 2 channel file\(s\) "
                                                 r'\(la_003_0000.nii.gz, la_003_0001.nii.gz\) '
                                                 'but the model takes 1'):
        alt.predict(model, folder, out_dir=tmp_path / 'out', progress=False)
    (folder / 'la_003_0000.nii.gz').unlink()
    with pytest.raises(PredictOptionError, match=r"case 'la_003' has channel files _0001 "
                                                 r"but not '.*la_003_0000.nii.gz'"):
        alt.predict(model, folder, out_dir=tmp_path / 'out', progress=False)


def test_volumes_and_images_are_not_mixed_and_a_2d_model_is_refused(volume_model, tmp_path,
                                                                   crop):
    config, ckpt, cases = volume_model
    model = alt.load_model(config, ckpt, device='cpu')
    with pytest.raises(PredictOptionError, match='is not a volume'):
        alt.predict(model, [cases[0], crop], progress=False)
    model.altair_card = type(model.altair_card)(raster={})
    with pytest.raises(PredictOptionError, match='not trained on volumes'):
        alt.predict(model, cases[0], out_dir=tmp_path, progress=False)


def test_a_four_dimensional_volume_is_one_line(volume_model, tmp_path):
    config, ckpt, _ = volume_model
    path = tmp_path / 'dwi.nii.gz'
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 4, 3), np.int16), AFFINE), path)
    with pytest.raises(alt.errors.AltairError, match=r"'.*dwi.nii.gz' has shape \(8, 8, 4, 3\)"):
        alt.predict((config, str(ckpt)), path, out_dir=tmp_path, progress=False)


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith('.')}


def test_resume_skips_finished_cases_and_redoes_the_rest(volume_model, tmp_path, monkeypatch):
    config, ckpt, cases = volume_model
    model = alt.load_model(config, ckpt, device='cpu')
    folder = cases[0].parent
    alt.predict(model, folder, out_dir=tmp_path, save=('labels',), progress=False)
    first = digests(tmp_path)
    assert sorted(first) == ['case0_seg.nii.gz', 'case1_seg.nii.gz', 'case2_seg.nii.gz']
    (tmp_path / 'case1_seg.nii.gz').unlink()
    import altair.prediction.volumes as volumes
    done = []
    real = volumes._predict
    monkeypatch.setattr(volumes, '_predict', lambda m, case, *a: done.append(case.stem)
                        or real(m, case, *a))
    out = alt.predict(model, folder, out_dir=tmp_path, save=('labels',), resume=True,
                      progress=False)
    assert done == ['case1'] and len(out) == 3
    assert digests(tmp_path) == first


@pytest.mark.slow
@pytest.mark.extended
def test_sigkill_then_resume_gives_the_bytes_of_an_uninterrupted_run(volume_model, tmp_path):
    config, ckpt, _ = volume_model
    cases = write_cases(tmp_path / 'big', 4, shape=(96, 96, 48))
    cmd = [sys.executable, '-m', 'altair', 'predict', str(config), str(ckpt),
           str(cases[0].parent), '--save', 'labels', '--precision', 'fp32', '--window-batch', '4']
    env = dict(os.environ, ALTAIR_CACHE_DIR=str(tmp_path / 'cache'))
    subprocess.run(cmd + ['--out', str(tmp_path / 'whole')], check=True, env=env,
                   capture_output=True)
    killed = tmp_path / 'killed'
    proc = subprocess.Popen(cmd + ['--out', str(killed)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (killed / 'case1_seg.nii.gz').exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, 'the run finished before it was killed'
    assert not (killed / 'case3_seg.nii.gz').exists()
    before = {k: v for k, v in digests(killed).items()}
    subprocess.run(cmd + ['--out', str(killed), '--resume'], check=True, env=env,
                   capture_output=True)
    after = digests(killed)
    assert after == digests(tmp_path / 'whole')
    assert all(after[k] == v for k, v in before.items())  # finished cases left as they were


@pytest.mark.slow
@pytest.mark.extended
def test_two_processes_share_the_cases_and_write_the_same_bytes(volume_model, tmp_path):
    config, ckpt, cases = volume_model
    folder = cases[0].parent
    one = alt.predict((config, str(ckpt)), folder, out_dir=tmp_path / 'one', save=('labels',),
                      precision='fp32', window_batch=4, progress=False)
    two = alt.predict((config, str(ckpt)), folder, out_dir=tmp_path / 'two', save=('labels',),
                      precision='fp32', window_batch=4, processes=2, progress=False)
    assert [p.source for p in two] == [p.source for p in one] == cases
    assert digests(tmp_path / 'two') == digests(tmp_path / 'one')


def test_itk_cases_give_the_same_labels_with_their_geometry(volume_model, tmp_path):
    """A case converted to NRRD and to a DICOM series: the labels of the NIfTI case, written
    with the source's spacing, origin and direction."""
    from altair.raster.volume import volume_geometry
    from tests.raster.test_itk import convert, write_series
    config, ckpt, cases = volume_model
    model = alt.load_model(config, ckpt, device='cpu')
    kw = dict(save=('labels',), precision='fp32', window_batch=4, progress=False)
    [ref] = alt.predict(model, cases[0], out_dir=tmp_path / 'nii', **kw)
    want = np.asanyarray(nib.load(ref.written['labels']).dataobj)
    nrrd = convert(str(cases[0]), tmp_path / 'case0.nrrd')
    [p] = alt.predict(model, nrrd, out_dir=tmp_path / 'nrrd', **kw)
    assert p.written['labels'].name == 'case0_seg.nrrd'
    from altair.raster.volume import open_volume
    assert np.array_equal(open_volume(str(p.written['labels'])), want)
    assert volume_geometry(str(p.written['labels'])) == volume_geometry(nrrd)
    series = tmp_path / 'series'
    write_series(np.asanyarray(nib.load(cases[0]).dataobj).astype(np.int16), series,
                 series='1.2.3')
    [d] = alt.predict(model, series, out_dir=tmp_path / 'dcm', **kw)
    assert d.written['labels'].name == 'series_seg.nii.gz'
    assert nib.load(d.written['labels']).shape == want.shape
    got, ref_geo = volume_geometry(str(d.written['labels'])), volume_geometry(str(series))
    assert np.allclose(got['spacing'], ref_geo['spacing'], atol=1e-5)
    assert np.allclose(got['origin'], ref_geo['origin'], atol=1e-4)
    with pytest.raises(alt.errors.AltairError, match='writes label volumes only'):
        alt.predict(model, nrrd, out_dir=tmp_path / 'p', save=('labels', 'probs'),
                    progress=False)


def bad_cases(folder: Path, good: Path) -> dict[str, list[str]]:
    """The bad volume inputs of the issue, each as ``altair predict`` arguments."""
    from tests.raster.test_itk import write_series
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 4, 3), np.int16), AFFINE), folder / 'dwi.nii.gz')
    (folder / 'ts').mkdir()
    (folder / 'ts' / 'k_0000.nii.gz').write_bytes(good.read_bytes())
    (folder / 'ts' / 'k_0002.nii.gz').write_bytes(good.read_bytes())
    voxels = np.arange(6 * 5 * 3, dtype=np.int16).reshape(6, 5, 3)
    write_series(voxels, folder / 'two', series='1.2.3.1')
    write_series(voxels, folder / 'two', series='1.2.3.2')
    return {'4-D': [str(folder / 'dwi.nii.gz')],
            'channel missing': [str(folder / 'ts')],
            'two series': [str(folder / 'two')]}


@pytest.mark.parametrize('case, message', [
    ('4-D', r"error: image volume '.*dwi.nii.gz' has shape \(8, 8, 4, 3\)"),
    ('channel missing', r"error: case 'k' has channel files _0000, _0002 but not "
                        r"'.*k_0001.nii.gz'"),
    ('two series', r"error: .*'.*two' holds 2 DICOM series \(1.2.3.1, 1.2.3.2\)"),
])
def test_bad_volume_input_is_one_line_exit_2_and_writes_nothing(volume_model, tmp_path, cli,
                                                                case, message):
    import re
    config, ckpt, cases = volume_model
    args = bad_cases(tmp_path, cases[0])[case]
    out = tmp_path / 'out'
    proc = cli('predict', str(config), str(ckpt), *args, '--out', str(out))
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert re.match(message, lines[0]), lines[0]
    assert not out.exists() or not any(out.iterdir())
