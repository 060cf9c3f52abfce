"""Argument checks shared by the baselines and the scores (pure NumPy)."""
from __future__ import annotations

import numpy as np

from altair.errors import AltairError


class BaselineError(AltairError, ValueError):
    """Bad input to a baseline or metric helper; the message names the value."""


def as_hwc(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        return image[..., None]
    if image.ndim != 3:
        raise BaselineError(f'{name} must be (H, W) or (H, W, C), got shape {image.shape}')
    return image


def valid_labels(labels: np.ndarray, num_classes: int, ignore_index: int, name: str) -> np.ndarray:
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


def check_num_classes(num_classes: int) -> None:
    if int(num_classes) != num_classes or num_classes < 1:
        raise BaselineError(f'num_classes must be a positive integer, got {num_classes!r}')
