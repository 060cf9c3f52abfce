"""Score predicted label volumes per case: ``<case>_seg.nii.gz`` (``.nii``, ``.npy``) files in
a folder against their reference label volumes, with Dice, HD95 and NSD per class
(:mod:`altair.evaluation.volumes`), written as nnU-Net's ``summary.json``.

References come from a folder (``<case>.nii.gz`` / ``.nii`` / ``.npy``) or from a config's
``VolumeSliceDataset`` entries (the ``ann`` of the volume whose image is ``<case>``, over the
train, val and test datasets, whatever their ``subset``). Class names come from ``classes``,
else the config's dataset ``classes``; without either, the classes are the label values
``'1'..'K-1'`` with ``K - 1`` the largest label in the predictions and references.
"""
from __future__ import annotations

import glob
import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from altair.api.runs import is_run_reference, load_run, read_config
from altair.config import split_datasets
from altair.datasets.volume import check_labels
from altair.errors import DataNotFoundError
from altair.evaluation.volumes import case_metrics, summarise
from altair.fileio import ensure_writable_dir, write_json
from altair.prediction.cases import case_stem
from altair.raster.errors import VolumeError
from altair.raster.formats import VOLUME_SUFFIXES, has_suffix
from altair.raster.volume import open_volume, volume_geometry, volume_stem

SEG_SUFFIX = '_seg'
SUMMARY_FILE = 'summary.json'
SPLITS = ('train', 'val', 'test')


def is_nifti(path: str) -> bool:
    return has_suffix(path, ('.nii', '.nii.gz'))


def prediction_files(cases_dir: str | os.PathLike) -> dict[str, str]:
    """``{case: path}`` of every ``<case>_seg.<volume ending>`` file in ``cases_dir``, sorted.

    Raises:
        DataNotFoundError: no such folder, or no prediction in it.
    """
    folder = Path(cases_dir)
    if not folder.is_dir():
        raise DataNotFoundError(f"cases folder '{folder}' does not exist")
    found = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name.lower().endswith(VOLUME_SUFFIXES):
            stem = volume_stem(path.name)
            if stem.endswith(SEG_SUFFIX) and len(stem) > len(SEG_SUFFIX):
                found[stem[:-len(SEG_SUFFIX)]] = str(path)
    if not found:
        raise DataNotFoundError(f"no predicted volume <case>{SEG_SUFFIX}"
                                f"{{{','.join(VOLUME_SUFFIXES)}}} in '{folder}'")
    return found


def folder_references(labels: str | os.PathLike) -> dict[str, str]:
    """``{case: path}`` of the label volumes ``<case>.<volume ending>`` in ``labels``."""
    folder = Path(labels)
    if not folder.is_dir():
        raise DataNotFoundError(f"labels folder '{folder}' does not exist")
    refs: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name.lower().endswith(VOLUME_SUFFIXES):
            _add_reference(refs, volume_stem(path.name), str(path))
    return refs


def _add_reference(refs: dict[str, str], case: str, path: str) -> None:
    if case in refs and os.path.abspath(refs[case]) != os.path.abspath(path):
        raise VolumeError(f"case '{case}' has two reference label volumes, '{refs[case]}' and "
                          f"'{path}'; keep one")
    refs[case] = path


def volume_datasets(cfg) -> list[dict]:
    """The ``VolumeSliceDataset`` configs of the train, val and test dataloaders."""
    return [leaf for split in SPLITS for leaf in split_datasets(cfg, split)
            if leaf.get('type') == 'VolumeSliceDataset']


def _rooted(path: str, root: str) -> str:
    """A dataset path as ``VolumeSliceDataset`` reads it: under ``data_root`` unless absolute."""
    return path if os.path.isabs(path) or not root else os.path.join(root, path)


def _rooted_case(img, root: str):
    """A case's image path, or each of its channel files, under ``data_root``."""
    if isinstance(img, (list, tuple)):
        return [_rooted(str(f), root) for f in img]
    return _rooted(img, root)


def config_references(cfg) -> dict[str, str]:
    """``{image stem: label volume}`` of every labelled volume the config's
    ``VolumeSliceDataset`` entries list (``volumes`` or ``img_glob`` + ``ann_pattern``, paths
    under ``data_root``), every subset included."""
    refs: dict[str, str] = {}
    for leaf in volume_datasets(cfg):
        root = leaf.get('data_root') or ''
        if leaf.get('volumes') is not None:
            pairs = [(_rooted_case(v['img'], root), v.get('ann') and _rooted(v['ann'], root))
                     for v in leaf['volumes']]
        elif leaf.get('img_glob') and leaf.get('ann_pattern'):
            images = sorted(glob.glob(_rooted(leaf['img_glob'], root), recursive=True))
            pairs = [(img, _rooted(leaf['ann_pattern'].format(stem=volume_stem(img)), root))
                     for img in images]
        else:
            pairs = []
        for img, ann in pairs:
            if ann:
                _add_reference(refs, case_stem(img), ann)
    return refs


def config_classes(cfg) -> list[str] | None:
    """The class names of the config's first volume dataset that names them."""
    for leaf in volume_datasets(cfg):
        names = leaf.get('classes') or (leaf.get('metainfo') or {}).get('classes')
        if names:
            return [str(n) for n in names]
    return None


def config_ignore_index(cfg) -> int:
    return next((int(leaf['ignore_index']) for leaf in volume_datasets(cfg)
                 if leaf.get('ignore_index') is not None), 255)


def check_pair(pred: str, ref: str) -> tuple[float, ...]:
    """Check that ``pred`` lies on the grid of its reference ``ref`` (same shape; same affine
    when both are NIfTI) and return the voxel spacing (mm) from ``ref``'s header (1.0 per
    axis for ``.npy``; SimpleITK's for NRRD / MetaImage).

    Raises:
        VolumeError: one line naming both files and what differs.
    """
    p_shape = tuple(open_volume(pred, role='predicted volume').shape)
    r_shape = tuple(open_volume(ref, role='reference label volume').shape)
    if p_shape != r_shape:
        raise VolumeError(f"predicted volume '{pred}' has shape {p_shape} but its reference "
                          f"'{ref}' has shape {r_shape}; predict on the reference's grid")
    if not is_nifti(ref):
        return tuple(float(s) for s in volume_geometry(ref)['spacing'])
    import nibabel as nib
    ref_img = nib.load(ref)
    if is_nifti(pred):
        a, b = nib.load(pred).affine, ref_img.affine
        if not np.allclose(a, b, atol=1e-4):
            worst = float(np.abs(a - b).max())
            raise VolumeError(f"predicted volume '{pred}' and its reference '{ref}' have "
                              f'different affines (largest difference {worst:.4g}); '
                              "write the prediction with the reference image's affine")
    return tuple(float(z) for z in ref_img.header.get_zooms()[:len(r_shape)])


def read_labels(path: str, *, role: str, ignore_index: int,
                num_classes: int | None = None) -> np.ndarray:
    """The label volume at ``path`` (through :func:`open_volume`) as uint8, checked: integer
    labels 0..254 or ``ignore_index`` (0..255), and below ``num_classes`` when given."""
    arr = np.asarray(open_volume(path, role=role))
    check_labels(arr, path=path, ignore_index=ignore_index)
    arr = arr.astype(np.uint8)
    if num_classes is not None:
        bad = (arr >= num_classes) & (arr != ignore_index)
        if bad.any():
            raise VolumeError(f"{role} '{path}' holds the label {int(arr[bad].max())}; the "
                              f'classes are 0..{num_classes - 1}')
    return arr


def _largest_label(pairs, ignore_index: int) -> int:
    top = 1
    for pred, ref in pairs:
        for path, role in ((pred, 'predicted volume'), (ref, 'reference label volume')):
            arr = read_labels(path, role=role, ignore_index=ignore_index)
            arr = arr[arr != ignore_index]
            top = max(top, int(arr.max()) if arr.size else 0)
    return top


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (JSON's null)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summary_path(cases_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Where :func:`test_cases` writes ``summary.json``: in ``out``, else ``cases_dir``."""
    return Path(out if out is not None else cases_dir) / SUMMARY_FILE


def config_of(source, root: str | os.PathLike | None = None):
    """The config of a run reference (id, prefix, ``last``, ``Run``), or ``source`` itself
    (a config path, ``Config`` or dict); None for None."""
    if source is None:
        return None
    return load_run(source, root).config_path if is_run_reference(source) else source


def pair_cases(cases_dir, *, labels=None, cfg=None) -> list[tuple[str, str, str]]:
    """``[(case, prediction, reference)]`` of every prediction in ``cases_dir``.

    Raises:
        VolumeError: a prediction without a reference (naming both the prediction and where
            its reference was looked for).
    """
    if labels is None and cfg is None:
        raise VolumeError('scoring predicted volumes needs reference labels: a labels folder, '
                          "or a config (a run's) whose VolumeSliceDataset lists them")
    refs = folder_references(labels) if labels is not None else config_references(cfg)
    where = (f"'{Path(labels) / '<case>'}{{{','.join(VOLUME_SUFFIXES)}}}'" if labels is not None
             else "the config's VolumeSliceDataset volumes")
    pairs = []
    for case, pred in prediction_files(cases_dir).items():
        if case not in refs:
            raise VolumeError(f"predicted volume '{pred}' has no reference label volume: no "
                              f"'{case}' among {where}")
        pairs.append((case, pred, refs[case]))
    return pairs


def test_cases(cases_dir: str | os.PathLike, *, labels: str | os.PathLike | None = None,
               config=None, classes: Sequence[str] | None = None, tolerance: float = 1.0,
               out: str | os.PathLike | None = None, ignore_index: int | None = None) -> dict:
    """Score every ``<case>_seg.<ending>`` volume in ``cases_dir`` against its reference
    and write ``summary.json`` (NaN as null) into ``out`` (default ``cases_dir``).

    Args:
        cases_dir: the folder of predicted label volumes (same grid as their references).
        labels: a folder of reference label volumes ``<case>.<ending>``; default: the
            ``ann`` of the config's ``VolumeSliceDataset`` volume whose image is ``<case>``.
        config: a config (path, ``Config`` or dict) for the references and class names.
        classes: class names, background first (default: the config's; else ``'1'``, ...).
        tolerance: NSD's tolerated surface deviation, mm.
        ignore_index: the reference label not scored (default: the config's, else 255).

    Returns:
        The summary (:func:`~altair.evaluation.volumes.summarise`, NaN where undefined) plus
        ``tolerance_mm``.

    Raises:
        VolumeError: a prediction without a reference, a different shape or affine, labels
            outside the classes; DataNotFoundError: a missing folder or no prediction.
    """
    cfg = read_config(config) if config is not None else None
    if classes is None and cfg is not None:
        classes = config_classes(cfg)
    if ignore_index is None:
        ignore_index = config_ignore_index(cfg) if cfg is not None else 255
    pairs = pair_cases(cases_dir, labels=labels, cfg=cfg)
    spacings = [check_pair(pred, ref) for _, pred, ref in pairs]  # every check before scoring
    num_classes = len(classes) if classes is not None else \
        1 + _largest_label([(p, r) for _, p, r in pairs], ignore_index)
    scored = []
    for (case, pred, ref), spacing in zip(pairs, spacings):
        p = read_labels(pred, role='predicted volume', ignore_index=ignore_index,
                        num_classes=num_classes)
        r = read_labels(ref, role='reference label volume', ignore_index=ignore_index,
                        num_classes=num_classes)
        scored.append(dict(case=case, prediction=pred, reference=ref, spacing=list(spacing),
                           metrics=case_metrics(p, r, num_classes=num_classes, spacing=spacing,
                                                tolerance=tolerance, classes=classes,
                                                ignore_index=ignore_index)))
    summary = dict(summarise(scored), tolerance_mm=float(tolerance))
    path = summary_path(cases_dir, out)
    ensure_writable_dir(path.parent, 'summary folder')
    write_json(path, json_safe(summary))
    return summary


def test_volumes(cfg) -> list[dict]:
    """The volumes (``dict(img, ann, ...)``) of the config's test set when it is a
    ``VolumeSliceDataset``, else []."""
    from altair.registry import DATASETS
    leaves = split_datasets(cfg, 'test')
    if not leaves or any(leaf.get('type') != 'VolumeSliceDataset' for leaf in leaves):
        return []
    volumes = []
    for leaf in leaves:
        dataset = DATASETS.build(dict(leaf, pipeline=[], lazy_init=True))
        dataset.full_init()
        volumes += dataset.volumes
    return volumes


def predict_and_score(checkpoint, cfg, *, tta: bool = False, tta_transforms=None,
                      tolerance: float = 1.0, work_dir: str | os.PathLike,
                      verbose: bool = True) -> dict:
    """Predict the config's test volumes with ``checkpoint`` into ``<work_dir>/cases`` (labels
    only; whole volumes, slice by slice along the training axis) and score them per case
    (:func:`test_cases`, ``summary.json`` in ``work_dir``)."""
    from altair.api.load import load_model
    from altair.api.predict import predict
    cases = Path(work_dir) / 'cases'
    images = [v['img'] for v in test_volumes(cfg)]
    predict(load_model(cfg, checkpoint), images, out_dir=cases, save=('labels',), tta=tta,
            tta_transforms=tta_transforms, progress=verbose)
    return test_cases(cases, config=cfg, tolerance=tolerance, out=work_dir)
