"""``class_weight='auto'`` in a decode head's loss: per-class weights from the training split's
pixel counts (the counts ``altair check-data`` reports), written into the config before the
model is built, so the run's saved config holds the numbers it trained with.

- ``'auto'`` / ``'median_frequency'``: ``w_c = median(f) / f_c`` over the classes present
  (Eigen & Fergus, ICCV 2015), ``f_c`` = class ``c``'s share of the labelled pixels;
- ``'inverse_frequency'``: ``w_c ∝ 1 / f_c``, scaled so the weights' mean over the present
  classes is 1.

A class with no training pixel gets weight 1 (no pixel of it ever reaches the loss).

A method name is for Altair's losses (``AutoWeightCrossEntropyLoss``, ``SoftmaxFocalLoss``):
built outside Altair's training (mmseg's ``init_model``, ``MODELS.build``) they take it as
"no weights", where mmseg's ``CrossEntropyLoss`` would read ``'auto'`` as a file name.
"""
from __future__ import annotations

import logging

import numpy as np

from altair.config import (CLASS_WEIGHT_METHODS, ClassWeightError, check_weight_method,
                           is_weight_method, loss_configs, split_datasets)
from altair.datasets.check import check_dataset, dataset_specs, mask_class_pixels, read_array
from altair.registry import DATASETS

logger = logging.getLogger('altair')

METHODS = CLASS_WEIGHT_METHODS[1:]  # ('median_frequency', 'inverse_frequency')
AUTO = CLASS_WEIGHT_METHODS[0]  # 'auto' = median_frequency


def weights_from_counts(counts, method: str = 'median_frequency') -> list[float]:
    """Per-class loss weights from per-class pixel counts (see the module docstring)."""
    counts = np.asarray(counts, dtype=np.float64)
    method = 'median_frequency' if method == AUTO else method
    if method not in METHODS:
        raise ClassWeightError(f"class weight method '{method}' is not one of "
                               f"{', '.join((AUTO,) + METHODS)}")
    present = counts > 0
    if not present.any():
        raise ClassWeightError('class weights: the training masks hold no labelled pixel')
    share = counts[present] / counts.sum()
    if method == 'median_frequency':
        w = np.median(share) / share
    else:
        w = 1.0 / share
        w = w / w.mean()
    out = np.ones(len(counts))
    out[present] = w
    return [round(float(v), 4) for v in out]


def resolve_class_weights(cfg) -> dict[str, list[float]]:
    """Replace every ``class_weight='auto'`` / method name in the model's losses by the
    weights computed from the training split (counted once); return ``{key: weights}``.

    Raises:
        ClassWeightError: an unknown method (naming the config key), or a training split
            whose masks cannot be counted.
    """
    wanted = [(key, loss) for key, loss in loss_configs(cfg.model)
              if is_weight_method(loss.get('class_weight'))]
    if not wanted:
        return {}
    for key, loss in wanted:
        check_weight_method(loss['class_weight'], key)
    counts, classes = training_class_pixels(cfg)
    done = {}
    for key, loss in wanted:
        weights = weights_from_counts(counts, loss['class_weight'])
        logger.info('%s.class_weight %r from the training pixel counts: %s', key,
                    loss['class_weight'],
                    ', '.join(f'{c} {w:g}' for c, w in zip(classes, weights)))
        loss['class_weight'] = weights
        done[key] = weights
    return done


def training_class_pixels(cfg) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per-class labelled pixels of the config's training split (as ``altair check-data``
    counts them) and the class names. A training dataset with ``indices`` (a subset of its
    folder) is counted over that subset only, so the weights use no label outside it."""
    if any(d.get('indices') is not None for d in split_datasets(cfg, 'train')):
        counts, classes = _subset_class_pixels(cfg)
    else:
        report = check_dataset(cfg, splits=('train',), progress=False)
        splits = [s for s in report.splits if s.split == 'train']
        counts = np.sum([s.class_pixels for s in splits], axis=0) if splits else None
        classes = tuple(splits[0].classes) if splits else ()
    if counts is None or not counts.sum():
        raise ClassWeightError("class_weight='auto' needs the training masks, and "
                               "train_dataloader.dataset gave no labelled pixel; see "
                               "`altair check-data CONFIG`")
    return counts, classes


def _subset_class_pixels(cfg) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """Class pixels of the masks the training datasets keep (after their ``indices``)."""
    from pathlib import Path

    from mmengine.registry import DefaultScope

    specs = [s for s in dataset_specs(cfg, ('train',)) if s.split == 'train']
    if not specs:
        return None, ()
    counts = np.zeros(len(specs[0].classes), np.int64)
    for leaf, spec in zip(split_datasets(cfg, 'train'), specs):
        with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'altair')):
            ds = DATASETS.build(dict(leaf, pipeline=[]))
        for i in range(len(ds)):
            path = ds.get_data_info(i).get('seg_map_path')
            if path:
                counts += mask_class_pixels(read_array(Path(path), mask=True), spec)[0]
    return counts, specs[0].classes
