"""Scores of label maps, as mmseg's ``IoUMetric`` computes them: a confusion matrix with
ground truth in rows and prediction in columns, pixels labelled ``ignore_index`` left out,
mIoU averaged over the classes whose union is non-empty (pure NumPy)."""
from __future__ import annotations

import numpy as np

from altair.evaluation.arrays import BaselineError, check_num_classes, valid_labels

__all__ = ['confusion', 'miou', 'iou', 'dice', 'accuracy']


def confusion(pred: np.ndarray, gt: np.ndarray, *, num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """Confusion matrix: rows ground truth, columns prediction, ignored pixels left out.

    Args:
        pred: Integer prediction of any shape, values in 0..K-1 where ``gt`` is labelled.
        gt: Integer ground truth of the same shape, 0..K-1 or ``ignore_index``.
        num_classes: K.
        ignore_index: Ground-truth label of pixels that are not scored.

    Returns:
        (K, K) int64 pixel counts; sum over several images to pool them.

    Raises:
        BaselineError: shapes that disagree or values outside 0..K-1.
    """
    check_num_classes(num_classes)
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise BaselineError(f'pred has shape {pred.shape}, gt has shape {gt.shape}')
    valid = valid_labels(gt, num_classes, ignore_index, 'gt')
    p = pred[valid]
    if not np.issubdtype(p.dtype, np.integer):
        raise BaselineError(f'pred must be an integer array, got dtype {pred.dtype}')
    bad = (p < 0) | (p >= num_classes)
    if bad.any():
        raise BaselineError(f'pred holds {np.unique(p[bad])[:10].tolist()} on labelled pixels; '
                            f'predictions must be in 0..{num_classes - 1}')
    flat = gt[valid].astype(np.int64) * num_classes + p.astype(np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _check_conf(conf: np.ndarray) -> np.ndarray:
    conf = np.asarray(conf)
    if conf.ndim != 2 or conf.shape[0] != conf.shape[1]:
        raise BaselineError(f'a confusion matrix is (K, K), got shape {conf.shape}')
    if (conf < 0).any():
        raise BaselineError('a confusion matrix holds counts; got negative entries')
    return conf.astype(np.float64)


def miou(conf: np.ndarray) -> float:
    """Mean IoU in percent over classes with a non-empty union (mmseg's ``IoUMetric`` convention).

    Args:
        conf: (K, K) confusion matrix, rows ground truth, columns prediction.

    Returns:
        Mean of ``TP / (TP + FP + FN)`` over classes present in ground truth or prediction,
        times 100; NaN when no pixel was scored.
    """
    conf = _check_conf(conf)
    tp = np.diag(conf)
    union = conf.sum(axis=0) + conf.sum(axis=1) - tp
    seen = union > 0
    return float(np.mean(tp[seen] / union[seen]) * 100) if seen.any() else float('nan')


def iou(conf: np.ndarray, *, cls: int = 1) -> float:
    """IoU ``TP / (TP + FP + FN)`` of class ``cls`` in percent, like :func:`miou` and
    mmseg's ``IoU.<class>`` (the foreground of a two-class map by default).

    Args:
        conf: (K, K) confusion matrix, rows ground truth, columns prediction.
        cls: The class scored.

    Returns:
        The IoU times 100; NaN when ``cls`` is in neither ground truth nor prediction.
    """
    conf = _check_conf(conf)
    if not 0 <= cls < conf.shape[0]:
        raise BaselineError(f'cls {cls} is out of range for a {conf.shape[0]}-class confusion matrix')
    tp = conf[cls, cls]
    union = conf[cls, :].sum() + conf[:, cls].sum() - tp
    return float(tp / union * 100) if union > 0 else float('nan')


def dice(conf: np.ndarray, *, cls: int = 1) -> float:
    """Dice coefficient ``2 TP / (2 TP + FP + FN)`` of class ``cls``, in [0, 1].

    Args:
        conf: (K, K) confusion matrix, rows ground truth, columns prediction.
        cls: The class scored (the foreground of a two-class map by default).

    Returns:
        The Dice score; NaN when ``cls`` is in neither ground truth nor prediction.
    """
    conf = _check_conf(conf)
    if not 0 <= cls < conf.shape[0]:
        raise BaselineError(f'cls {cls} is out of range for a {conf.shape[0]}-class confusion matrix')
    tp = conf[cls, cls]
    denom = conf[cls, :].sum() + conf[:, cls].sum()
    return float(2 * tp / denom) if denom > 0 else float('nan')


def accuracy(conf: np.ndarray) -> float:
    """Pixel accuracy in percent (mmseg's ``aAcc``); NaN when no pixel was scored."""
    conf = _check_conf(conf)
    total = conf.sum()
    return float(np.trace(conf) / total * 100) if total > 0 else float('nan')
