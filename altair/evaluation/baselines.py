"""Classical baselines to compare trained models against.

These are what a user tries before training a network: a global Otsu threshold, a
nearest-class-mean classifier over the bands, "always predict the majority class", and a
per-pixel random forest (``altair.evaluation.forest``); ``altair.evaluation.scores`` scores
them.
Every parameter (threshold, polarity, class means, band scale) is fitted on *training*
images and labels only, so a baseline scored on the validation split is as honest as
the trained model it is compared with.

Pure NumPy: no torch, so the functions run anywhere and tests need no model.
"""
from __future__ import annotations

from collections.abc import Iterable
from itertools import zip_longest

import numpy as np

from altair.evaluation.arrays import BaselineError, as_hwc, check_num_classes, valid_labels

__all__ = ['BaselineError', 'otsu_threshold', 'otsu_segment', 'fit_class_means',
           'nearest_class_mean', 'majority_class']


_MISSING = object()  # marks the shorter of two iterables in fit_class_means


# --------------------------------------------------------------------------- Otsu


def _bin_values(values: np.ndarray, bins: int) -> tuple[np.ndarray, int, object]:
    """Histogram bin of each value, the number of bins, and bin -> upper threshold.

    Integer data gets integer-aligned bins (one per value when the range fits in ``bins``)
    so a threshold is an integer, ``values > t`` reproduces the histogram split exactly
    and uint8 input matches OpenCV's 256-bin Otsu. Float data gets ``bins`` equal bins
    over ``[min, max]``, each closed on the right, so a value equal to an edge falls on
    the same side of the returned threshold as in the histogram.
    """
    lo, hi = values.min(), values.max()
    if np.issubdtype(values.dtype, np.integer):
        lo_i, hi_i = int(lo), int(hi)
        width = -(-(hi_i - lo_i + 1) // bins)  # ceil: at most `bins` bins cover the range
        idx = (values.astype(np.int64) - lo_i) // width
        nbins = (hi_i - lo_i) // width + 1
        return idx, nbins, lambda k: float(lo_i + (k + 1) * width - 1)
    edges = np.linspace(float(lo), float(hi), bins + 1)
    idx = np.searchsorted(edges[1:-1], values, side='left')
    return idx, bins, lambda k: float(edges[k + 1])


def otsu_threshold(values: np.ndarray, *, bins: int = 1024,
                   valid: np.ndarray | None = None) -> float:
    """Otsu's threshold (Otsu 1979, "A threshold selection method from gray-level histograms").

    Picks the split of the histogram that maximises the between-class variance
    ``w0 * w1 * (mu0 - mu1) ** 2``. Class means are computed from the values themselves
    (per-bin sums), not from bin centres, so with one bin per value the result is the
    exact Otsu optimum over the data.

    Args:
        values: Array of any shape and numeric dtype (uint8, uint16, float, bool).
        bins: Number of histogram bins (>= 2). Integer data whose range fits gets one
            bin per value; wider integer ranges get integer-wide bins.
        valid: Boolean mask of the same shape; only ``True`` values count. Non-finite
            values (NaN, inf) never count.

    Returns:
        The threshold ``t``: the foreground (bright class) is ``values > t``. For integer
        data ``t`` is an integer (the largest value of the dark class's last bin). For a
        constant input the constant itself.

    Raises:
        BaselineError: ``bins`` < 2, ``valid`` of another shape, or no valid value.
    """
    if int(bins) != bins or bins < 2:
        raise BaselineError(f'bins must be an integer >= 2, got {bins!r}')
    values = np.asarray(values)
    if values.dtype == bool:
        values = values.astype(np.uint8)
    if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.complexfloating):
        raise BaselineError(f'otsu_threshold needs real numeric values, got dtype {values.dtype}')
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != values.shape:
            raise BaselineError(f'valid has shape {valid.shape}, values have shape {values.shape}')
        values = values[valid]
    else:
        values = values.ravel()
    if np.issubdtype(values.dtype, np.floating):
        values = values[np.isfinite(values)]
    if values.size == 0:
        raise BaselineError('otsu_threshold got no valid (masked-in, finite) values')
    if values.min() == values.max():
        return float(values.flat[0])

    idx, nbins, threshold_of = _bin_values(values, int(bins))
    counts = np.bincount(idx, minlength=nbins).astype(np.float64)
    # Offsetting by the minimum keeps the sums small, so the subtraction below stays exact-ish.
    sums = np.bincount(idx, weights=values.astype(np.float64) - float(values.min()), minlength=nbins)
    w0 = np.cumsum(counts)[:-1]
    s0 = np.cumsum(sums)[:-1]
    w1 = counts.sum() - w0
    s1 = sums.sum() - s0
    with np.errstate(divide='ignore', invalid='ignore'):
        between = w0 * w1 * (s0 / w0 - s1 / w1) ** 2
    between[(w0 == 0) | (w1 == 0)] = -np.inf
    # argmax takes the first maximum: across empty bins that is the last occupied one.
    return threshold_of(int(np.argmax(between)))


def _band(image: np.ndarray, band: int, name: str) -> np.ndarray:
    """The (H, W) band ``band`` of an (H, W) or (H, W, C) image."""
    image = np.asarray(image)
    if image.ndim == 2:
        if band != 0:
            raise BaselineError(f'{name} is (H, W) with one band; band {band} does not exist')
        return image
    if image.ndim != 3:
        raise BaselineError(f'{name} must be (H, W) or (H, W, C), got shape {image.shape}')
    if not -image.shape[2] <= band < image.shape[2]:
        raise BaselineError(f'band {band} is out of range for {name} with {image.shape[2]} bands')
    return image[..., band]


def otsu_segment(image: np.ndarray, *, threshold: float | None = None, band: int = 0,
                 foreground_bright: bool | None = None, train_image: np.ndarray | None = None,
                 train_labels: np.ndarray | None = None, ignore_index: int = 255,
                 bins: int = 1024) -> np.ndarray:
    """Two-class map from a global threshold on one band (Otsu 1979).

    With ``train_image`` the threshold is Otsu's on the training band (pixels labelled
    ``ignore_index`` left out); with ``train_labels`` as well, the polarity is the side
    where the foreground's training mean lies (foreground mean above the background mean
    means bright = foreground). Nothing is then fitted on ``image``, so it may be
    validation data. Without training data: Otsu on ``image`` itself, bright = foreground.
    An explicit ``threshold`` or ``foreground_bright`` overrides the fitted one.

    Args:
        image: (H, W) or (H, W, C) array to segment.
        threshold: Fixed threshold; foreground is ``band > threshold`` (bright) or
            ``band <= threshold`` (dark).
        band: Band of a (H, W, C) image (and of ``train_image``) to threshold.
        foreground_bright: Fixed polarity.
        train_image: (H', W') or (H', W', C) training image to fit on.
        train_labels: (H', W') training labels: 0 background, 1 foreground, ``ignore_index``.
        ignore_index: Label of training pixels that take no part in fitting.
        bins: Histogram bins for Otsu.

    Returns:
        (H, W) uint8 map, 1 = foreground. Non-finite pixels are background.

    Raises:
        BaselineError: labels without a training image, shapes that disagree, labels other
            than 0 / 1 / ``ignore_index``, or training labels lacking one of the two classes.
    """
    values = _band(image, band, 'image')
    if train_labels is not None and train_image is None:
        raise BaselineError('train_labels given without train_image; pass both, or neither')
    if train_image is not None:
        train = _band(train_image, band, 'train_image')
        valid = None
        if train_labels is not None:
            train_labels = np.asarray(train_labels)
            if train_labels.shape != train.shape:
                raise BaselineError(f'train_labels have shape {train_labels.shape}, '
                                    f'train_image is {train.shape}')
            bad = np.setdiff1d(np.unique(train_labels), [0, 1, ignore_index])
            if bad.size:
                raise BaselineError(f'train_labels hold {bad.tolist()}; otsu_segment expects '
                                    f'0 (background), 1 (foreground) or {ignore_index} (ignore)')
            valid = train_labels != ignore_index
        if threshold is None:
            threshold = otsu_threshold(train, bins=bins, valid=valid)
        if foreground_bright is None and train_labels is not None:
            train = train.astype(np.float64)
            finite = np.isfinite(train)
            fg, bg = finite & (train_labels == 1), finite & (train_labels == 0)
            if not fg.any() or not bg.any():
                raise BaselineError('train_labels need both background (0) and foreground (1) '
                                    f'pixels to fit the polarity; got {int(fg.sum())} foreground '
                                    f'and {int(bg.sum())} background')
            foreground_bright = bool(train[fg].mean() > train[bg].mean())
    if threshold is None:
        threshold = otsu_threshold(values, bins=bins)
    if foreground_bright is None:
        foreground_bright = True
    mask = values > threshold if foreground_bright else values <= threshold
    if np.issubdtype(values.dtype, np.floating):
        mask &= np.isfinite(values)  # nodata (NaN, inf) is never foreground
    return mask.astype(np.uint8)


# --------------------------------------------------------------- class statistics


def fit_class_means(images: Iterable[np.ndarray], labels: Iterable[np.ndarray], *,
                    num_classes: int, ignore_index: int = 255, return_std: bool = False
                    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Per-class mean of each band over training images, streamed one image at a time.

    Args:
        images: (H_i, W_i, C) arrays (an (H, W) array counts as one band); the same C for all.
            Any iterable: a generator that reads one file at a time keeps memory to one image.
        labels: (H_i, W_i) integer labels, classes 0..num_classes-1 or ``ignore_index``.
        num_classes: K.
        ignore_index: Label of pixels left out.
        return_std: Also return the per-band standard deviation over all labelled pixels
            (all classes pooled), the scale to standardise bands with in
            :func:`nearest_class_mean`. Constant bands get 1 so dividing by it is safe.

    Returns:
        (K, C) float64 means, NaN rows for classes with no training pixel; with
        ``return_std`` also the (C,) float64 std.

    Raises:
        BaselineError: no images, iterables of different lengths, shapes or band counts that
            disagree, labels outside 0..K-1 that are not ``ignore_index``, no labelled pixel.
    """
    check_num_classes(num_classes)
    sums = counts = None
    n_all, mean_all, m2_all = 0, None, None
    for i, (image, label) in enumerate(zip_longest(images, labels, fillvalue=_MISSING)):
        if image is _MISSING or label is _MISSING:
            raise BaselineError(f'images and labels differ in length: one ends after {i} items')
        image = as_hwc(image, f'images[{i}]')
        label = np.asarray(label)
        if label.shape != image.shape[:2]:
            raise BaselineError(f'labels[{i}] has shape {label.shape}, images[{i}] is {image.shape}')
        channels = image.shape[2]
        if sums is None:
            sums = np.zeros((num_classes, channels))
            counts = np.zeros(num_classes, dtype=np.int64)
            mean_all, m2_all = np.zeros(channels), np.zeros(channels)
        elif channels != sums.shape[1]:
            raise BaselineError(f'images[{i}] has {channels} bands, images[0] has {sums.shape[1]}')
        valid = valid_labels(label, num_classes, ignore_index, f'labels[{i}]')
        cls = label[valid].astype(np.int64)
        pix = image[valid].astype(np.float64)  # (N_i, C)
        counts += np.bincount(cls, minlength=num_classes)
        for c in range(channels):
            sums[:, c] += np.bincount(cls, weights=pix[:, c], minlength=num_classes)
        if return_std and cls.size:
            # Chan et al.'s pairwise update: stable where sum-of-squares would cancel.
            n_i, mean_i = cls.size, pix.mean(axis=0)
            m2_i = ((pix - mean_i) ** 2).sum(axis=0)
            delta = mean_i - mean_all
            n = n_all + n_i
            mean_all = mean_all + delta * (n_i / n)
            m2_all = m2_all + m2_i + delta ** 2 * (n_all * n_i / n)
            n_all = n
    if counts is None:
        raise BaselineError('fit_class_means needs at least one image')
    if counts.sum() == 0:
        raise BaselineError(f'no labelled pixel in the training labels (all are {ignore_index})')
    with np.errstate(divide='ignore', invalid='ignore'):
        means = sums / counts[:, None]
    means[counts == 0] = np.nan
    if not return_std:
        return means
    std = np.sqrt(m2_all / n_all)
    std[std == 0] = 1.0
    return means, std


def nearest_class_mean(image: np.ndarray, means: np.ndarray, *,
                       scale: np.ndarray | None = None) -> np.ndarray:
    """Label each pixel with the class whose mean is nearest (Euclidean distance).

    Args:
        image: (H, W, C) array (an (H, W) array counts as one band).
        means: (K, C) class means from :func:`fit_class_means`; NaN rows (classes absent
            from training) are never chosen.
        scale: (C,) positive per-band divisor applied to pixels and means alike, e.g. the
            training std, so bands in different units weigh the same.

    Returns:
        (H, W) uint8 class map. Ties go to the lower class index.

    Raises:
        BaselineError: band counts that disagree, K > 256, no usable class, bad ``scale``.
    """
    image = as_hwc(image, 'image')
    means = np.asarray(means, dtype=np.float64)
    if means.ndim != 2 or means.shape[1] != image.shape[2]:
        raise BaselineError(f'means must be (K, {image.shape[2]}) for an image with '
                            f'{image.shape[2]} bands, got shape {means.shape}')
    if means.shape[0] > 256:
        raise BaselineError(f'{means.shape[0]} classes do not fit the uint8 output (at most 256)')
    if scale is None:
        scale = np.ones(image.shape[2])
    scale = np.asarray(scale, dtype=np.float64).reshape(-1)
    if scale.shape != (image.shape[2],) or not (np.isfinite(scale).all() and (scale > 0).all()):
        raise BaselineError(f'scale must be {image.shape[2]} positive finite values, got {scale.tolist()}')
    present = np.flatnonzero(np.isfinite(means).all(axis=1))
    if present.size == 0:
        raise BaselineError('every row of means is NaN: no class was seen in training')
    x = image.astype(np.float64) / scale  # (H, W, C)
    best = np.full(image.shape[:2], np.inf)
    out = np.full(image.shape[:2], present[0], dtype=np.uint8)
    # One class at a time keeps memory at O(H * W * C), not O(H * W * K).
    for k in present:
        dist = ((x - means[k] / scale) ** 2).sum(axis=2)
        closer = dist < best
        best[closer] = dist[closer]
        out[closer] = k
    return out


def majority_class(labels: Iterable[np.ndarray], *, num_classes: int, ignore_index: int = 255) -> int:
    """The most frequent class over training label maps (ties: the lower index).

    Args:
        labels: (H_i, W_i) integer label maps (any iterable; read one at a time).
        num_classes: K.
        ignore_index: Label of pixels not counted.

    Returns:
        The class index in 0..K-1.

    Raises:
        BaselineError: labels outside 0..K-1 that are not ``ignore_index``, or no labelled pixel.
    """
    check_num_classes(num_classes)
    counts = np.zeros(num_classes, dtype=np.int64)
    for i, label in enumerate(labels):
        label = np.asarray(label)
        valid = valid_labels(label, num_classes, ignore_index, f'labels[{i}]')
        counts += np.bincount(label[valid].astype(np.int64), minlength=num_classes)
    if counts.sum() == 0:
        raise BaselineError(f'no labelled pixel in the label maps (all are {ignore_index}, or none given)')
    return int(np.argmax(counts))


# ------------------------------------------------------------------ random forest


