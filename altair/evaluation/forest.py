"""The per-pixel random forest baseline: features of a scene's pixels (the bands) or of a
volume slice's (intensity and position), a stratified training sample, scikit-learn's
forest. scikit-learn is imported inside the functions (a benchmark and test dependency)."""
from __future__ import annotations

import numpy as np

from altair.evaluation.arrays import BaselineError, as_hwc

__all__ = ['scene_features', 'volume_features', 'stratified_sample', 'fit_random_forest',
           'predict_random_forest']


def scene_features(image: np.ndarray) -> np.ndarray:
    """Per-pixel features of a scene for :func:`fit_random_forest`: its bands.

    Args:
        image: (H, W, C) array (an (H, W) array counts as one band).

    Returns:
        (H * W, C) float32, pixels in row-major order; non-finite values (nodata) become 0.
    """
    image = as_hwc(image, 'image')
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
    image = as_hwc(image, 'image')
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
