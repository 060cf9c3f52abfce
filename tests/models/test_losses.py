"""The imbalance configs (Dice + CE, focal, Lovasz + CE beside configs/segformer.py): each builds,
names its loss terms and trains an optimizer step; the Dice term (mmseg's TverskyLoss with
alpha = beta = 0.5) equals the per-class soft Dice computed by NumPy, ignored pixels masked,
and MONAI's DiceLoss."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import ROOT

LOSS_CONFIGS = {
    'configs/segformer/segformer_mit-b0-dice-ce_1xb8-600it_bluemarble-192x192.py':
        {'decode.loss_ce', 'decode.loss_dice'},
    'configs/segformer/segformer_mit-b0-focal_1xb8-600it_bluemarble-192x192.py':
        {'decode.loss_focal'},
    'configs/segformer/segformer_mit-b0-lovasz-ce_1xb8-600it_bluemarble-192x192.py':
        {'decode.loss_ce', 'decode.loss_lovasz'},
}


@pytest.mark.parametrize('path', LOSS_CONFIGS)
def test_each_loss_config_builds_and_trains_a_step(path):
    from mmengine.optim import OptimWrapper
    from mmengine.registry import DefaultScope
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from altair.config import load_config
    from altair.registry import MODELS
    cfg = load_config(ROOT / path)
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    torch.manual_seed(0)
    h = w = 64
    meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w))
    samples = []
    for _ in range(2):
        label = torch.randint(0, 8, (1, h, w))
        label[:, :4] = 255  # ignored pixels, as nodata borders give
        samples.append(SegDataSample(metainfo=meta, gt_sem_seg=PixelData(data=label)))
    data = dict(inputs=[torch.randint(0, 256, (3, h, w), dtype=torch.uint8) for _ in range(2)],
                data_samples=samples)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    first = model.train_step(data, wrapper)
    assert LOSS_CONFIGS[path] <= set(first), sorted(first)
    assert all(torch.isfinite(first[k]) and first[k] > 0 for k in LOSS_CONFIGS[path])
    second = model.train_step(data, wrapper)
    assert second['loss'] != first['loss']  # the step changed the weights


def _soft_dice_numpy(logits: np.ndarray, target: np.ndarray, ignore: int = 255,
                     smooth: float = 1.0) -> float:
    """1 - mean over images and classes of (2 TP + 2s) / (|P| + |G| + 2s) on valid pixels."""
    e = np.exp(logits - logits.max(1, keepdims=True))
    prob = e / e.sum(1, keepdims=True)
    valid = target != ignore
    losses = []
    for c in range(logits.shape[1]):
        for i in range(logits.shape[0]):
            p = prob[i, c][valid[i]]
            g = (target[i][valid[i]] == c).astype(np.float64)
            losses.append(1 - (2 * (p * g).sum() + 2 * smooth) / (p.sum() + g.sum() + 2 * smooth))
    return float(np.mean(losses))


def _dice_term():
    from altair.config import load_config
    from altair.registry import MODELS
    cfg = load_config(ROOT / next(iter(LOSS_CONFIGS)))
    term = cfg.model.decode_head.loss_decode[1]
    assert (term.type, term.alpha, term.beta) == ('TverskyLoss', 0.5, 0.5)
    return MODELS.build(term)


def test_the_dice_term_is_the_per_class_soft_dice_with_ignored_pixels_masked():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 5, 12, 10, generator=g, dtype=torch.float64)
    target = torch.randint(0, 5, (2, 12, 10), generator=g)
    target[0, :3] = 255
    got = float(_dice_term()(logits, target))
    assert got == pytest.approx(_soft_dice_numpy(logits.numpy(), target.numpy()), rel=1e-9)


def test_the_dice_term_equals_monais_dice_loss():
    from monai.losses import DiceLoss
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(3, 4, 9, 11, generator=g, dtype=torch.float64)
    target = torch.randint(0, 4, (3, 9, 11), generator=g)
    theirs = DiceLoss(softmax=True, to_onehot_y=True, smooth_nr=2.0, smooth_dr=2.0)(
        logits, target[:, None])
    assert float(_dice_term()(logits, target)) == pytest.approx(float(theirs), rel=1e-9)


def _focal_numpy(logits: np.ndarray, target: np.ndarray, gamma: float, w: np.ndarray,
                 ignore: int = 255) -> float:
    e = np.exp(logits - logits.max(1, keepdims=True))
    prob = e / e.sum(1, keepdims=True)
    num = den = 0.0
    for i, y, x in zip(*np.nonzero(target != ignore)):
        p = prob[i, target[i, y, x], y, x]
        num += -w[target[i, y, x]] * (1 - p) ** gamma * np.log(p)
        den += w[target[i, y, x]]
    return num / den


def test_softmax_focal_loss_against_numpy_and_mmsegs_cross_entropy():
    from mmseg.models.losses import CrossEntropyLoss

    from altair.models.losses import SoftmaxFocalLoss
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(2, 4, 7, 6, generator=g, dtype=torch.float64) * 3
    target = torch.randint(0, 4, (2, 7, 6), generator=g)
    target[1, :2] = 255
    w = [0.5, 2.0, 1.0, 3.0]
    for gamma in (0.0, 2.0):
        got = float(SoftmaxFocalLoss(gamma=gamma, class_weight=w)(logits, target))
        assert got == pytest.approx(_focal_numpy(logits.numpy(), target.numpy(), gamma,
                                                 np.array(w)), rel=1e-6)
    # gamma 0 is mmseg's class-weighted cross-entropy (its mean over the weights, as torch's;
    # mmseg indexes its weights by the ignore label too, so no ignored pixel here)
    labelled = torch.where(target == 255, 0, target)
    ce = CrossEntropyLoss(class_weight=w, avg_non_ignore=True)(logits.float(), labelled)
    assert float(SoftmaxFocalLoss(gamma=0, class_weight=w)(logits, labelled)) == pytest.approx(
        float(ce), rel=1e-5)
    with pytest.raises(ValueError, match='gamma -1'):
        SoftmaxFocalLoss(gamma=-1)


@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_weighted_cross_entropy_with_ignored_pixels_is_torchs_weighted_mean(avg_non_ignore):
    """mmseg's weighted cross-entropy fails on the ignore index (mmseg#3734); Altair's equals
    PyTorch's weighted mean over the labelled pixels, and without ignored pixels mmseg's."""
    import torch.nn.functional as F
    from mmseg.models.losses import CrossEntropyLoss

    from altair.models.losses import AutoWeightCrossEntropyLoss
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 8, 8, generator=g)
    label = torch.randint(0, 3, (2, 8, 8), generator=g)
    weights = [0.2, 1.0, 3.5]
    ours = AutoWeightCrossEntropyLoss(class_weight=weights, avg_non_ignore=avg_non_ignore)
    theirs = CrossEntropyLoss(class_weight=weights, avg_non_ignore=avg_non_ignore)
    # no ignored pixel: mmseg's numbers
    assert torch.allclose(ours(logits, label, ignore_index=255),
                          theirs(logits, label, ignore_index=255))
    label[:, :3] = 255
    with pytest.raises(IndexError):
        theirs(logits, label, ignore_index=255)
    expected = F.cross_entropy(logits, label, weight=torch.tensor(weights), ignore_index=255)
    assert torch.allclose(ours(logits, label, ignore_index=255), expected, atol=1e-6)
