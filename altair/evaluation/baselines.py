"""Classical baselines to compare trained models against, and the metrics to score them.

These are what a user tries before training a network: a global Otsu threshold, a
nearest-class-mean classifier over the bands, a per-pixel random forest, and "always
predict the majority class".
Every parameter (threshold, polarity, class means, band scale) is fitted on *training*
images and labels only, so a baseline scored on the validation split is as honest as
the trained model it is compared with.

The metric helpers follow mmseg's ``IoUMetric``: a confusion matrix with ground truth
in rows and prediction in columns, pixels labelled ``ignore_index`` left out, and mIoU
averaged over the classes whose union is non-empty.

Pure NumPy: no torch, so the functions run anywhere and tests need no model. The random
forest imports scikit-learn inside its functions (a benchmark and test dependency only).
"""
from __future__ import annotations

from collections.abc import Iterable
from itertools import zip_longest

import numpy as np

from altair.errors import AltairError

__all__ = [
    'BaselineError', 'otsu_threshold', 'otsu_segment', 'fit_class_means',
    'nearest_class_mean', 'majority_class', 'scene_features', 'volume_features',
    'stratified_sample', 'fit_random_forest', 'predict_random_forest', 'confusion', 'miou',
    'iou', 'dice', 'accuracy',
]


class BaselineError(AltairError, ValueError):
    """Bad input to a baseline or metric helper; the message names the value."""


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


def _as_hwc(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        return image[..., None]
    if image.ndim != 3:
        raise BaselineError(f'{name} must be (H, W) or (H, W, C), got shape {image.shape}')
    return image


def _valid_labels(labels: np.ndarray, num_classes: int, ignore_index: int, name: str) -> np.ndarray:
    """Mask of labelled pixels; raises on values that are neither a class nor ignore."""
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise BaselineError(f'{name} must be an integer array, got dtype {labels.dtype}')
    valid = labels != ignore_index
    bad = (labels < 0) | (labels >= num_classes)
    if (bad & valid).any():
        values = np.unique(labels[bad & valid])[:10].tolist()
        raise BaselineError(f'{name} holds {values}; labels must be in 0..{num_classes - 1} '
                            f'or ignore_index {ignore_index}')
    return valid


def _check_num_classes(num_classes: int) -> None:
    if int(num_classes) != num_classes or num_classes < 1:
        raise BaselineError(f'num_classes must be a positive integer, got {num_classes!r}')


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
    _check_num_classes(num_classes)
    sums = counts = None
    n_all, mean_all, m2_all = 0, None, None
    for i, (image, label) in enumerate(zip_longest(images, labels, fillvalue=_MISSING)):
        if image is _MISSING or label is _MISSING:
            raise BaselineError(f'images and labels differ in length: one ends after {i} items')
        image = _as_hwc(image, f'images[{i}]')
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
        valid = _valid_labels(label, num_classes, ignore_index, f'labels[{i}]')
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
    image = _as_hwc(image, 'image')
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
    _check_num_classes(num_classes)
    counts = np.zeros(num_classes, dtype=np.int64)
    for i, label in enumerate(labels):
        label = np.asarray(label)
        valid = _valid_labels(label, num_classes, ignore_index, f'labels[{i}]')
        counts += np.bincount(label[valid].astype(np.int64), minlength=num_classes)
    if counts.sum() == 0:
        raise BaselineError(f'no labelled pixel in the label maps (all are {ignore_index}, or none given)')
    return int(np.argmax(counts))


# ------------------------------------------------------------------ random forest


def scene_features(image: np.ndarray) -> np.ndarray:
    """Per-pixel features of a scene for :func:`fit_random_forest`: its bands.

    Args:
        image: (H, W, C) array (an (H, W) array counts as one band).

    Returns:
        (H * W, C) float32, pixels in row-major order; non-finite values (nodata) become 0.
    """
    image = _as_hwc(image, 'image')
    return np.nan_to_num(image.reshape(-1, image.shape[2]).astype(np.float32),
                         nan=0.0, posinf=0.0, neginf=0.0)


def volume_features(image: np.ndarray, *, index: int, depth: int) -> np.ndarray:
    """Per-voxel features of one slice of a volume: intensity and normalised position.

    Args:
        image: (H, W) or (H, W, 1) slice, e.g. as ``LoadVolumeSlice`` reads it.
        index: the slice's index along the slicing axis, 0..depth-1.
        depth: the volume's number of slices along that axis.

    Returns:
        (H * W, 4) float32, pixels in row-major order: intensity, ``index / depth``,
        ``row / H``, ``col / W`` (positions in [0, 1)); non-finite intensities become 0.

    Raises:
        BaselineError: a slice with more than one channel, or ``index`` outside the depth.
    """
    image = _as_hwc(image, 'image')
    if image.shape[2] != 1:
        raise BaselineError(f'a volume slice has one channel, got shape {image.shape}')
    if not 0 <= index < depth:
        raise BaselineError(f'slice index {index} is outside a depth of {depth}')
    h, w = image.shape[:2]
    rows, cols = np.meshgrid(np.arange(h) / h, np.arange(w) / w, indexing='ij')
    out = np.empty((h * w, 4), np.float32)
    out[:, 0] = np.nan_to_num(image.reshape(-1).astype(np.float32), nan=0.0, posinf=0.0,
                              neginf=0.0)
    out[:, 1] = index / depth
    out[:, 2], out[:, 3] = rows.ravel(), cols.ravel()
    return out


def stratified_sample(labels: np.ndarray, *, max_samples: int, seed: int = 0,
                      ignore_index: int = 255) -> np.ndarray:
    """Indices of at most ``max_samples`` labelled pixels, each class keeping its share.

    Proportional allocation: class ``k`` with ``n_k`` of the ``N`` labelled pixels gets
    ``floor(n_k * max_samples / N)`` of them, at least one (taken from the largest class's
    allocation), drawn without replacement. With ``N <= max_samples``: every labelled pixel.

    Args:
        labels: (N,) integer labels (any shape is flattened); ``ignore_index`` is never drawn.
        max_samples: the most pixels returned; at least the number of classes present.
        seed: seed of ``numpy.random.default_rng``.
        ignore_index: label of pixels left out.

    Returns:
        Sorted int64 flat indices into ``labels``.

    Raises:
        BaselineError: ``max_samples`` below the number of classes present, or no labelled
            pixel.
    """
    labels = np.asarray(labels).reshape(-1)
    labelled = np.flatnonzero(labels != ignore_index)
    if labelled.size == 0:
        raise BaselineError(f'no labelled pixel to sample (all are {ignore_index})')
    if labelled.size <= max_samples:
        return labelled.astype(np.int64)
    present, counts = np.unique(labels[labelled], return_counts=True)
    if max_samples < present.size:
        raise BaselineError(f'max_samples {max_samples} cannot hold one pixel of each of '
                            f'the {present.size} classes present')
    take = np.maximum(1, counts * max_samples // labelled.size)
    take[np.argmax(take)] -= max(0, int(take.sum()) - max_samples)
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(labels == k), n, replace=False)
              for k, n in zip(present.tolist(), take.tolist())]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def fit_random_forest(features: np.ndarray, labels: np.ndarray, *,
                      max_samples: int | None = 100_000, n_trees: int = 100, n_jobs: int = 2,
                      seed: int = 0, ignore_index: int = 255):
    """A per-pixel random forest (Breiman 2001, "Random Forests", Machine Learning 45)
    fitted on labelled training pixels: scikit-learn's ``RandomForestClassifier`` with its
    defaults (Gini, unlimited depth, sqrt(F) features per split) and ``n_trees`` trees.

    Args:
        features: (N, F) per-pixel features (:func:`scene_features`, :func:`volume_features`).
        labels: (N,) integer labels; pixels labelled ``ignore_index`` take no part.
        max_samples: fit on a class-stratified random subsample of at most this many pixels
            (:func:`stratified_sample`), so fitting time stays bounded; None: every pixel.
        n_trees, n_jobs: trees, and the processes that grow and apply them.
        seed: seeds the subsample and the forest.
        ignore_index: label of pixels left out.

    Returns:
        The fitted classifier; :func:`predict_random_forest` applies it.

    Raises:
        BaselineError: features and labels of different lengths, or features not (N, F).
    """
    from sklearn.ensemble import RandomForestClassifier
    features, labels = np.asarray(features), np.asarray(labels).reshape(-1)
    if features.ndim != 2 or features.shape[0] != labels.size:
        raise BaselineError(f'features must be (N, F) for {labels.size} labels, got shape '
                            f'{features.shape}')
    if max_samples is None:
        keep = np.flatnonzero(labels != ignore_index)
        if keep.size == 0:
            raise BaselineError(f'no labelled pixel to fit on (all are {ignore_index})')
    else:
        keep = stratified_sample(labels, max_samples=max_samples, seed=seed,
                                 ignore_index=ignore_index)
    model = RandomForestClassifier(n_estimators=n_trees, n_jobs=n_jobs, random_state=seed)
    return model.fit(features[keep], labels[keep].astype(np.int64))


def predict_random_forest(model, features: np.ndarray, *, shape: tuple | None = None,
                          chunk: int = 1_000_000) -> np.ndarray:
    """Class of each pixel from a forest of :func:`fit_random_forest`.

    Args:
        model: the fitted classifier.
        features: (N, F) features of the pixels to label.
        shape: reshape the (N,) result to it, e.g. the image's (H, W).
        chunk: pixels classified at once (bounds the (chunk, K) vote array).

    Returns:
        uint8 class indices, (N,) or ``shape``.
    """
    features = np.asarray(features)
    out = np.empty(features.shape[0], np.uint8)
    for start in range(0, features.shape[0], chunk):
        out[start:start + chunk] = model.predict(features[start:start + chunk])
    return out if shape is None else out.reshape(shape)


# ------------------------------------------------------------------------ metrics


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
    _check_num_classes(num_classes)
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise BaselineError(f'pred has shape {pred.shape}, gt has shape {gt.shape}')
    valid = _valid_labels(gt, num_classes, ignore_index, 'gt')
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
