"""Per-case scores of predicted label volumes: Dice, HD95 and normalised surface Dice (NSD)
per foreground class, computed by MONAI's metric functions, and their nnU-Net-style summary.

Pure functions over arrays (no file I/O). Conventions, decided here before MONAI is called:

* Background (class 0) is not scored, as in nnU-Net's ``summary.json``.
* Voxels whose reference is ``ignore_index`` are removed from both prediction and reference
  (set to background for every class, as MONAI's own ``ignore_index`` masking does).
* A class absent from both prediction and reference: Dice, HD95 and NSD are NaN and the case
  is left out of that class's means (nnU-Net's convention).
* A class present in only one of them: Dice 0 and NSD 0; HD95 NaN (MONAI would give inf,
  which makes every mean inf and cannot be written to JSON). The miss therefore counts in
  the Dice and NSD means; the HD95 mean is over the cases where both hold the class.

Surfaces, distances and the 95th percentile are MONAI's: the surface of a mask is its voxels
removed by a binary erosion (6-connectivity, outside the array counts as background); HD95
is the larger of the two directed 95th percentiles (linear interpolation) of the distances
(mm, Euclidean with the voxel ``spacing``) from one surface's voxels to the nearest voxel of
the other surface; NSD is the share of both surfaces' voxels within ``tolerance`` mm of the
other surface (Nikolov et al., 2021, arXiv:2111.05408, counted in voxels).
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
import torch

from altair.errors import AltairError

METRICS = ('Dice', 'HD95', 'NSD')
COUNTS = ('n_pred', 'n_ref')


class CaseMetricsError(AltairError, ValueError):
    """Arrays or options the volume metrics cannot score; the message names the value."""


def class_names(num_classes: int, classes: Sequence[str] | None = None) -> list[str]:
    """The names of classes ``0..num_classes-1``: ``classes`` as strings, else the indices
    (``'0'``, ``'1'``, ...: the label values, as nnU-Net's summary keys them)."""
    if classes is None:
        return [str(c) for c in range(num_classes)]
    if len(classes) != num_classes:
        raise CaseMetricsError(f'{len(classes)} class names {list(classes)} for num_classes '
                               f'{num_classes}; give one name per class, background first')
    return [str(c) for c in classes]


def _spacing(spacing, ndim: int) -> list[float]:
    values = [float(spacing)] * ndim if np.isscalar(spacing) else [float(s) for s in spacing]
    if len(values) != ndim or not all(math.isfinite(s) and s > 0 for s in values):
        raise CaseMetricsError(f'voxel spacing {spacing!r}: give {ndim} positive sizes in mm '
                               '(one per array axis)')
    return values


def _check(pred: np.ndarray, ref: np.ndarray, num_classes: int, tolerance: float) -> None:
    if pred.shape != ref.shape or pred.ndim not in (2, 3):
        raise CaseMetricsError(f'prediction shape {pred.shape} and reference shape '
                               f'{ref.shape}: need the same 2-D or 3-D shape')
    if int(num_classes) != num_classes or num_classes < 2:
        raise CaseMetricsError(f'num_classes {num_classes!r}: need an integer >= 2 '
                               '(background and at least one class)')
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise CaseMetricsError(f'NSD tolerance {tolerance!r} mm: need a finite number >= 0')


def _union_box(p: np.ndarray, r: np.ndarray) -> tuple[slice, ...]:
    """The bounding box of ``p | r`` grown by one voxel (clipped to the array). Surfaces and
    distances inside it are those of the whole array (MONAI crops the same way), so the
    one-hot tensors need only cover it."""
    both = p | r
    box = []
    for axis in range(both.ndim):
        hit = np.flatnonzero(both.any(axis=tuple(a for a in range(both.ndim) if a != axis)))
        box.append(slice(max(0, hit[0] - 1), min(both.shape[axis], hit[-1] + 2)))
    return tuple(box)


def monai_metrics():
    """``monai.metrics``, imported on first use: MONAI is the ``[medical]`` extra."""
    try:
        import monai.metrics
    except ImportError:
        raise CaseMetricsError("scoring volumes per case needs MONAI: pip install "
                               "'altair-seg[medical]'") from None
    return monai.metrics


def binary_metrics(p: np.ndarray, r: np.ndarray, *, spacing: Sequence[float],
                   tolerance: float = 1.0) -> dict:
    """Dice, HD95 (mm), NSD and the voxel counts of one class.

    Args:
        p, r: (D, H, W) or (H, W) bool masks of the prediction and the reference.
        spacing: voxel size in mm per axis.
        tolerance: NSD's tolerated surface deviation, mm.

    Returns:
        ``{Dice, HD95, NSD, n_pred, n_ref}``, floats (NaN where undefined, see the module
        docstring) and ints.
    """
    metrics = monai_metrics()
    n_pred, n_ref = int(p.sum()), int(r.sum())
    counts = dict(n_pred=n_pred, n_ref=n_ref)
    if n_pred == 0 and n_ref == 0:
        return dict(Dice=math.nan, HD95=math.nan, NSD=math.nan, **counts)
    box = _union_box(p, r)
    yp = torch.from_numpy(np.ascontiguousarray(p[box]))[None, None]
    yr = torch.from_numpy(np.ascontiguousarray(r[box]))[None, None]
    dice = float(metrics.compute_dice(yp, yr, include_background=True, ignore_empty=False)[0, 0])
    if n_pred == 0 or n_ref == 0:
        return dict(Dice=dice, HD95=math.nan, NSD=0.0, **counts)
    spacing = list(spacing)
    with warnings.catch_warnings():  # MONAI's internal use of its own deprecated argument
        warnings.simplefilter('ignore', FutureWarning)
        hd95 = metrics.compute_hausdorff_distance(yp, yr, include_background=True, percentile=95,
                                          spacing=spacing)
        nsd = metrics.compute_surface_dice(yp, yr, [float(tolerance)], include_background=True,
                                   spacing=spacing)
    return dict(Dice=dice, HD95=float(hd95[0, 0]), NSD=float(nsd[0, 0]), **counts)


def case_metrics(pred: np.ndarray, ref: np.ndarray, *, num_classes: int, spacing,
                 tolerance: float = 1.0, classes: Sequence[str] | None = None,
                 ignore_index: int = 255) -> dict:
    """The scores of one case, per foreground class (``1..num_classes-1``).

    Args:
        pred: (D, H, W) (or (H, W)) integer label volume, the prediction.
        ref: the reference labels, same shape; ``ignore_index`` voxels are not scored.
        num_classes: classes including the background (label 0).
        spacing: voxel size in mm, one per axis (or one number for all).
        tolerance: NSD's tolerated surface deviation, mm.
        classes: the ``num_classes`` class names (default: the label values as strings).
        ignore_index: the reference label left out (from prediction and reference).

    Returns:
        ``{class_name: {Dice, HD95, NSD, n_pred, n_ref}}`` for the foreground classes; Dice
        and NSD in [0, 1], HD95 in mm, NaN where undefined (see the module docstring).

    Raises:
        CaseMetricsError: different shapes, bad spacing, tolerance or class names.
    """
    pred, ref = np.asarray(pred), np.asarray(ref)
    _check(pred, ref, num_classes, tolerance)
    names = class_names(num_classes, classes)
    spacing = _spacing(spacing, ref.ndim)
    keep = ref != ignore_index
    return {names[c]: binary_metrics((pred == c) & keep, (ref == c) & keep, spacing=spacing,
                                     tolerance=tolerance)
            for c in range(1, num_classes)}


def nan_mean(values) -> float:
    """The mean of the finite values among ``values`` (None and NaN left out); NaN if none."""
    kept = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    return math.fsum(kept) / len(kept) if kept else math.nan


def summarise(cases: list[dict]) -> dict:
    """nnU-Net's ``summary.json`` shape over scored cases.

    Args:
        cases: ``[{case, prediction, reference, metrics: {class_name: {Dice, HD95, NSD,
            ...}}}, ...]`` (the ``metrics`` of :func:`case_metrics`).

    Returns:
        ``{metric_per_case: cases, mean: {class_name: {Dice, HD95, NSD}},
        foreground_mean: {Dice, HD95, NSD}}``: ``mean`` over the cases where the value is
        defined (NaN left out; NaN when it is nowhere defined), ``foreground_mean`` the mean
        of the classes' means, NaN-aware in the same way.
    """
    names = list(dict.fromkeys(name for case in cases for name in case['metrics']))
    mean = {name: {m: nan_mean(case['metrics'][name][m] for case in cases
                               if name in case['metrics'])
                   for m in METRICS} for name in names}
    foreground = {m: nan_mean(mean[name][m] for name in names) for m in METRICS}
    return dict(metric_per_case=list(cases), mean=mean, foreground_mean=foreground)


def _cell(metric: str, value) -> str:
    if value is None or math.isnan(float(value)):
        return '-'
    return f'{value:.2f}' if metric == 'HD95' else f'{value:.3f}'


def format_table(summary: dict) -> str:
    """The summary as text: one row per case and a ``mean`` row, a column group per class
    (``Dice``, ``HD95`` in mm, ``NSD``), then the foreground mean; ``-`` where undefined."""
    names = list(summary['mean'])
    head = ['case'] + [m if m != 'HD95' else 'HD95 mm' for _ in names for m in METRICS]
    rows = [[case['case']] + [_cell(m, case['metrics'].get(name, {}).get(m))
                              for name in names for m in METRICS]
            for case in summary['metric_per_case']]
    rows.append(['mean'] + [_cell(m, summary['mean'][name][m]) for name in names
                            for m in METRICS])
    widths = [max(len(row[i]) for row in [head] + rows) for i in range(len(head))]
    for k, name in enumerate(names):  # a class name wider than its three columns widens them
        cols = range(1 + 3 * k, 4 + 3 * k)
        widths[cols[-1]] += max(0, len(name) - (sum(widths[i] for i in cols) + 4))
    groups = [''.ljust(widths[0])] + [
        name.ljust(sum(widths[i] for i in range(1 + 3 * k, 4 + 3 * k)) + 4)
        for k, name in enumerate(names)]

    def line(cells: list[str]) -> str:
        return '  '.join([cells[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(cells[1:], widths[1:])]).rstrip()

    fg = summary['foreground_mean']
    return '\n'.join(['  '.join(groups).rstrip(), line(head)] + [line(r) for r in rows] + [
        'foreground mean: ' + '  '.join(f'{m} {_cell(m, fg[m])}' for m in METRICS)])
