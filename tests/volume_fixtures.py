"""A model trained on nothing, with the config ``altair init`` writes for a few volumes:
fixtures of the volume prediction and per-case test tests (a helper module)."""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

import altair as alt

AFFINE = np.array([[-1.5, 0, 0, 90], [0, 1.2, 0, -120], [0, 0, 2.0, -70], [0, 0, 0, 1]])


def write_cases(folder: Path, n: int, shape=(40, 48, 7), suffix='.nii.gz') -> list[Path]:
    """``n`` int16 image volumes with a bright box, and their label volumes."""
    (folder / 'imagesTr').mkdir(parents=True, exist_ok=True)
    (folder / 'labelsTr').mkdir(exist_ok=True)
    out = []
    for i in range(n):
        rng = np.random.default_rng(i)
        lab = np.zeros(shape, np.uint8)
        lab[10:20, 12:30, 1:5] = 1
        img = (rng.normal(100, 20, shape) + 300 * lab).astype(np.int16)
        for sub, arr in (('imagesTr', img), ('labelsTr', lab)):
            nib.save(nib.Nifti1Image(arr, AFFINE), folder / sub / f'case{i}{suffix}')
        out.append(folder / 'imagesTr' / f'case{i}{suffix}')
    return out


@pytest.fixture(scope='module')
def volume_model(tmp_path_factory):
    """(config, checkpoint, cases) of a model with fixed random weights whose config was
    written by ``altair init`` on 3 volumes (slices along axis 2, crop 32)."""
    from mmengine.config import Config
    from mmseg.apis import init_model

    from altair.config import load_model_config
    root = tmp_path_factory.mktemp('vol')
    cases = write_cases(root / 'data', 3)
    res = alt.init(root / 'data', iters=10)
    torch.manual_seed(0)
    model = init_model(load_model_config(Config.fromfile(res.config)), None, device='cpu')
    ckpt = root / 'model.pth'
    cfg = Config.fromfile(res.config)
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(
        classes=tuple(cfg.classes), palette=[list(p) for p in cfg.palette]))), ckpt)
    return res.config, ckpt, cases
