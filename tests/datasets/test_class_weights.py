"""``class_weight='auto'``: weights from the training masks' pixel counts, against counts and
weights computed by hand (NumPy) on a small mask set."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from altair.config import drop_class_weight_methods
from altair.datasets.class_weights import (ClassWeightError, resolve_class_weights,
                                           weights_from_counts)
from altair.errors import AltairError


def test_median_and_inverse_frequency_by_hand():
    counts = [50, 10, 5, 0]  # shares of the present classes: 50/65, 10/65, 5/65
    assert weights_from_counts(counts, 'auto') == weights_from_counts(counts, 'median_frequency')
    # median share 10/65: w = (10/65) / f
    assert weights_from_counts(counts) == [0.2, 1.0, 2.0, 1.0]
    inv = np.array([65 / 50, 65 / 10, 65 / 5])
    assert weights_from_counts(counts, 'inverse_frequency') == pytest.approx(
        list(inv / inv.mean()) + [1.0], abs=1e-4)


def test_no_pixel_and_unknown_method_are_refused():
    with pytest.raises(ClassWeightError, match='no labelled pixel'):
        weights_from_counts([0, 0])
    with pytest.raises(ClassWeightError, match="'balanced' is not one of auto"):
        weights_from_counts([1, 2], 'balanced')
    assert issubclass(ClassWeightError, AltairError) and issubclass(ClassWeightError, ValueError)


def _mask_set(root: Path, rng) -> np.ndarray:
    """Three 24x30 masks with random labels 0..7 and some ignore pixels; their counts."""
    counts = np.zeros(8, np.int64)
    shares = [.5, .2, .1, .05, .05, .05, .04, .01]
    for i in range(3):
        mask = rng.choice(8, size=(24, 30), p=shares).astype(np.uint8)
        mask[:2] = 255
        for sub, arr in (('img_dir', np.full((24, 30, 3), 90, np.uint8)), ('ann_dir', mask)):
            (root / sub / 'train').mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(root / sub / 'train' / f'{i}.png'), arr)
        counts += np.bincount(mask[mask != 255], minlength=8)
    return counts


def _median_frequency(counts: np.ndarray) -> np.ndarray:
    share = counts / counts.sum()
    return np.where(counts > 0, np.median(share[counts > 0]) / np.maximum(share, 1e-12), 1.0)


def test_the_shipped_config_trains_with_weights_from_its_masks(tmp_path, in_repo_root):
    from altair.config import load_config
    from altair.api.compile import compile_config
    counts = _mask_set(tmp_path, np.random.default_rng(0))
    cfg = load_config('configs/segformer.py',
                      cfg_options={'train_dataloader.dataset.data_root': str(tmp_path)})
    assert cfg.model.decode_head.loss_decode.class_weight == 'auto'
    compile_config(cfg, work_dir=tmp_path / 'work')
    weights = list(_median_frequency(counts))
    assert cfg.model.decode_head.loss_decode.class_weight == pytest.approx(weights, abs=1e-4)
    # and the model Altair trains is built with them
    from mmengine.registry import DefaultScope

    from altair.registry import MODELS
    with DefaultScope.overwrite_default_scope('altair'):
        loss = MODELS.build(cfg.model).decode_head.loss_decode
    assert type(loss).__name__ == 'AutoWeightCrossEntropyLoss' and loss.weight_method is None
    assert loss.class_weight == pytest.approx(weights, abs=1e-4)


def _cfg(root: Path, losses) -> Config:
    ds = dict(type='BlueMarbleDataset', data_root=str(root),
              data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
              pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')])
    return Config(dict(default_scope='altair', train_dataloader=dict(dataset=ds), model=dict(
        decode_head=dict(loss_decode=losses),
        auxiliary_head=[dict(loss_decode=dict(type='CrossEntropyLoss', class_weight=[1.0] * 8)),
                        dict(loss_decode=dict(type='CrossEntropyLoss',
                                              class_weight='inverse_frequency'))])))


def test_every_head_and_loss_is_resolved_and_lists_are_kept(tmp_path):
    counts = _mask_set(tmp_path, np.random.default_rng(1))
    cfg = _cfg(tmp_path, [dict(type='CrossEntropyLoss', class_weight='auto'),
                          dict(type='DiceLoss')])
    done = resolve_class_weights(cfg)
    assert sorted(done) == ['model.auxiliary_head[1].loss_decode',
                            'model.decode_head.loss_decode[0]']
    assert cfg.model.decode_head.loss_decode[0].class_weight == pytest.approx(
        list(_median_frequency(counts)), abs=1e-4)
    inv = counts.sum() / counts
    assert cfg.model.auxiliary_head[1].loss_decode.class_weight == pytest.approx(
        list(inv / inv.mean()), abs=1e-4)
    assert cfg.model.auxiliary_head[0].loss_decode.class_weight == [1.0] * 8
    assert 'class_weight' not in cfg.model.decode_head.loss_decode[1]


def test_a_subset_by_indices_counts_only_its_own_masks(tmp_path):
    _mask_set(tmp_path, np.random.default_rng(2))
    cfg = _cfg(tmp_path, dict(type='CrossEntropyLoss', class_weight='auto'))
    cfg.train_dataloader.dataset.indices = [0, 2]  # masks 0.png and 2.png, not 1.png
    counts = np.zeros(8, np.int64)
    for i in (0, 2):
        mask = cv2.imread(str(tmp_path / 'ann_dir/train' / f'{i}.png'), cv2.IMREAD_UNCHANGED)
        counts += np.bincount(mask[mask != 255], minlength=8)
    resolve_class_weights(cfg)
    assert cfg.model.decode_head.loss_decode.class_weight == pytest.approx(
        list(_median_frequency(counts)), abs=1e-4)


def test_a_misspelt_method_names_its_key_before_reading_any_mask(tmp_path):
    cfg = _cfg(tmp_path / 'nowhere', dict(type='CrossEntropyLoss', class_weight='median'))
    with pytest.raises(ClassWeightError, match=r"^model\.decode_head\.loss_decode\.class_weight "
                                               r"'median' is not one of auto, median_frequency"):
        resolve_class_weights(cfg)


def test_no_training_masks_is_one_clear_error(tmp_path):
    cfg = _cfg(tmp_path / 'nowhere', dict(type='CrossEntropyLoss', class_weight='auto'))
    with pytest.raises(ClassWeightError, match="needs the training masks"):
        resolve_class_weights(cfg)


def test_testing_and_prediction_drop_the_method_names(tmp_path):
    cfg = _cfg(tmp_path / 'nowhere', dict(type='CrossEntropyLoss', class_weight='auto'))
    drop_class_weight_methods(cfg)
    assert cfg.model.decode_head.loss_decode.class_weight is None
    assert cfg.model.auxiliary_head[1].loss_decode.class_weight is None
    assert cfg.model.auxiliary_head[0].loss_decode.class_weight == [1.0] * 8


def test_cli_refuses_an_unknown_method_in_one_line(cli, tmp_path):
    proc = cli('train', 'configs/segformer.py', '--work-dir', tmp_path / 'work', '--runs-root',
               tmp_path, '--cfg-options', 'model.decode_head.loss_decode.class_weight=median')
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: model.decode_head.loss_decode.class_weight 'median' is not one of auto, "
        "median_frequency, inverse_frequency (or a list of floats / a .npy, .json, .pkl or "
        ".yaml file)")
    assert not list((tmp_path / 'work').glob('*.pth'))


def _ce_by_hand(logits: np.ndarray, target: np.ndarray, weights=None) -> float:
    """mmseg's mean cross-entropy: ``-log softmax_y`` averaged over the pixels with weights
    ``w_y`` (sum of ``w_y * nll`` over the sum of ``w_y``, as torch's weighted mean)."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    nll = -np.take_along_axis(logp, target[:, None], axis=1)[:, 0]
    w = np.ones(logits.shape[1]) if weights is None else np.asarray(weights)
    return float((w[target] * nll).sum() / w[target].sum())


def test_auto_weight_loss_is_weighted_cross_entropy_or_unweighted_for_a_method(caplog):
    """AutoWeightCrossEntropyLoss: numbers weight it as by hand; a method name (no training
    masks at hand outside `altair train`) builds it unweighted, with a warning; a misspelt one
    is refused with its name."""
    import logging

    import torch

    from altair.models.losses import AutoWeightCrossEntropyLoss, SoftmaxFocalLoss
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(2, 4, 5, 6))
    target = rng.integers(0, 4, (2, 5, 6))
    x, y = torch.from_numpy(logits).float(), torch.from_numpy(target)
    w = [0.5, 2.0, 1.0, 3.0]
    assert float(AutoWeightCrossEntropyLoss(class_weight=w)(x, y)) == pytest.approx(
        _ce_by_hand(logits, target, w), rel=1e-5)
    for method in ('auto', 'median_frequency', 'inverse_frequency'):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger='altair'):
            loss = AutoWeightCrossEntropyLoss(class_weight=method, loss_weight=2.0)
        assert loss.class_weight is None and loss.weight_method == method
        assert f"class_weight '{method}' is counted from the training masks" in caplog.text
        assert float(loss(x, y)) == pytest.approx(2 * _ce_by_hand(logits, target), rel=1e-5)
    assert loss.loss_name == 'loss_ce'
    focal = SoftmaxFocalLoss(class_weight='auto')
    assert focal.class_weight is None and focal.weight_method == 'auto'
    assert float(focal(x, y)) == pytest.approx(float(SoftmaxFocalLoss()(x, y)), rel=1e-6)
    with pytest.raises(ClassWeightError, match=r"^AutoWeightCrossEntropyLoss\.class_weight "
                                               r"'median' is not one of auto, median_frequency"):
        AutoWeightCrossEntropyLoss(class_weight='median')
