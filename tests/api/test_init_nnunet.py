"""``altair init`` on an nnU-Net raw dataset: a 2-channel set cut from the real MNI template
trains (the model takes both channels), and bad volume folders get one error line, exit
status 2 and no config."""
from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from mmengine.config import Config

import altair as alt
from tests.datasets.test_nnunet_raw import nnunet_set

CLASSES = {'other': 0, 'grey matter': 1, 'white matter': 2}


def tissue_labels(gm: np.ndarray, wm: np.ndarray) -> np.ndarray:
    """0 other, 1 grey, 2 white matter: the argmax of (max(1 - gm - wm, 0), gm, wm) of the
    probability maps scaled to 0..255 (``benchmarks/own_data.py``'s rule)."""
    gm, wm = gm.astype(np.float32) / 255, wm.astype(np.float32) / 255
    return np.argmax(np.stack([np.maximum(1 - gm - wm, 0), gm, wm]), axis=0).astype(np.uint8)


def mni_two_channel_set(root: Path, *, slabs: int = 4) -> Path:
    """An nnU-Net raw set of the MNI ICBM152 template: channel 0 the T1, channel 1 its
    gradient magnitude (Gaussian, sigma 1 voxel: edges, not the tissue labels), labels from
    the grey/white-matter maps; the central part of the head, every second voxel in-plane,
    cut into ``slabs`` slabs along axis 2 (the last one goes to imagesTs/)."""
    from scipy.ndimage import gaussian_gradient_magnitude

    from altair.datasets.sample_data import mni_template
    t1, gm, wm = (nib.load(str(p)) for p in mni_template())
    image = np.asarray(t1.dataobj, np.float32)
    grad = gaussian_gradient_magnitude(image, sigma=1.0).astype(np.float32)
    labels = tissue_labels(np.asarray(gm.dataobj), np.asarray(wm.dataobj))
    cut = (slice(30, 170, 2), slice(30, 210, 2), slice(50, 150))
    image, grad, labels = image[cut], grad[cut], labels[cut]
    for sub in ('imagesTr', 'labelsTr', 'imagesTs'):
        (root / sub).mkdir(parents=True)
    bounds = np.linspace(0, image.shape[2], slabs + 1).round().astype(int)
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        case, test = f'mni_{i:03d}', i == slabs - 1
        folder = root / ('imagesTs' if test else 'imagesTr')
        for c, data in enumerate((image, grad)):
            nib.save(nib.Nifti1Image(data[:, :, a:b], t1.affine), folder / f'{case}_{c:04d}.nii.gz')
        if not test:
            nib.save(nib.Nifti1Image(labels[:, :, a:b], t1.affine),
                     root / 'labelsTr' / f'{case}.nii.gz')
    (root / 'dataset.json').write_text(json.dumps(dict(
        channel_names={'0': 'T1', '1': 'T1 gradient'}, labels=CLASSES,
        numTraining=slabs - 1, file_ending='.nii.gz')))
    return root


@pytest.mark.slow
@pytest.mark.extended
def test_a_two_channel_mni_set_trains_on_both_channels(tiny, tmp_path):
    data = mni_two_channel_set(tmp_path / 'mni')
    res = alt.init(data, iters=3, crop_size=64)
    assert '(e) nnU-Net raw' in res.text
    cfg = Config.fromfile(str(res.config))
    assert cfg.classes == list(CLASSES)
    # 1 mm voxels: one slice on either side of each slice, so 3 channels per channel file
    assert cfg.volume_options.context == 1
    assert cfg.model.backbone.in_channels == 6 and len(cfg.mean) == len(cfg.std) == 6
    assert cfg.normalize == dict(mode='percentile', lower=0.5, upper=99.5)
    assert [len(v['img']) for v in cfg.volumes] == [2, 2, 2]
    assert cfg.predict_cases == [['imagesTs/mni_003_0000.nii.gz',
                                  'imagesTs/mni_003_0001.nii.gz']]
    run = alt.train(res.config, cfg_options=tiny.options(iters=3, splits=('train', 'val')),
                    root=tmp_path / 'runs', seed=0)
    assert run.status == 'finished'
    [val] = run.metrics
    assert 0 <= val['mIoU'] <= 100
    state = torch.load(run.checkpoint(), map_location='cpu', weights_only=False)['state_dict']
    first = next(v for k, v in state.items() if k.startswith('backbone.') and v.ndim == 4)
    assert first.shape[1] == 6  # the first convolution takes both channels' 3 slices
    # the prediction set by its case id: both channel files, the source's grid and affine
    [pred] = alt.predict(run, str(data / 'imagesTs' / 'mni_003'), out_dir=tmp_path / 'pred',
                         save=('labels',), progress=False)
    seg, src = nib.load(pred.written['labels']), nib.load(data / 'imagesTs' /
                                                          'mni_003_0000.nii.gz')
    assert pred.written['labels'].name == 'mni_003_seg.nii.gz'
    assert seg.shape == src.shape and np.array_equal(seg.affine, src.affine)
    # the held-out training case, predicted and scored per case
    summary = alt.test(run, work_dir=str(tmp_path / 'test'))
    [row] = summary['metric_per_case']
    assert sorted(row['metrics']) == sorted(list(CLASSES)[1:])


def _affine_mismatch(root: Path) -> str:
    for sub in ('imagesTr', 'labelsTr'):
        (root / sub).mkdir(parents=True)
    shifted = np.eye(4)
    shifted[1, 3] = -4.0
    for i in range(2):
        lab = np.zeros((8, 9, 4), np.uint8)
        lab[2:5, 2:6, 1:3] = 1
        nib.save(nib.Nifti1Image(lab.astype(np.int16) * 9, np.eye(4)),
                 root / 'imagesTr' / f'v{i}.nii.gz')
        nib.save(nib.Nifti1Image(lab, shifted if i else np.eye(4)),
                 root / 'labelsTr' / f'v{i}.nii.gz')
    return 'v1.nii.gz'


def _missing_channel(root: Path) -> str:
    nnunet_set(root)
    (root / 'imagesTr' / 'la_002_0001.nii.gz').unlink()
    return 'la_002_0001.nii.gz'


def _bad_dataset_json(root: Path) -> str:
    nnunet_set(root)
    spec = json.loads((root / 'dataset.json').read_text())
    (root / 'dataset.json').write_text(json.dumps(dict(spec, labels={'background': 1, 'x': 2})))
    return 'dataset.json'


@pytest.mark.parametrize('make', [_affine_mismatch, _missing_channel, _bad_dataset_json])
def test_bad_volume_folders_one_line_exit_2_nothing_written(tmp_path, cli, make):
    data = tmp_path / 'data'
    named = make(data)
    before = sorted(p.name for p in data.rglob('*'))
    proc = cli('init', data, '--iters', '2')
    assert proc.returncode == 2, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith('error:')]
    assert len(errors) == 1 and named in errors[0], proc.stderr
    assert 'Traceback' not in proc.stderr
    assert sorted(p.name for p in data.rglob('*')) == before
