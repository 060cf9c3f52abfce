"""Scan a config's datasets before training: ``altair check-data CONFIG``.

Every image and mask is read in full (so truncated files are found), and checked against what
the config's pipeline and model expect: a mask per image, of the image's size, with values in
``0 .. num_classes - 1`` or the ignore index; 8-bit 3-band images where ``LoadImageFromFile``
decodes in colour; sane sizes. The report also counts pixels per class.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from altair.config import dataset_leaves
from altair.config_checks import naming_the_section
from altair.datasets.check_report import DataReport, Finding, SplitReport
from altair.datasets.check_windows import check_windowed
from altair.errors import AltairError
from altair.raster.formats import RASTER_SUFFIXES
from altair.registry import DATASETS

MIN_SIDE = 16  # pixels; smaller images are mostly padding after any crop
MAX_ASPECT = 10.0


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset config means on disk."""

    split: str
    img_dir: Path
    ann_dir: Path
    img_suffix: str
    seg_map_suffix: str
    classes: tuple[str, ...]
    ignore_index: int
    reduce_zero_label: bool
    color_type: str  # of the pipeline's LoadImageFromFile


def dataset_specs(cfg, splits: Iterable[str] = ('train', 'val', 'test')) -> list[DatasetSpec]:
    """The datasets of ``cfg``'s ``<split>_dataloader``s (a split shared with another, as
    ``test_dataloader = val_dataloader``, once)."""
    from mmengine.registry import DefaultScope
    from mmseg.datasets import BaseSegDataset

    specs, seen = [], []
    for split in splits:
        for ds_cfg in dataset_leaves((cfg.get(f'{split}_dataloader') or {}).get('dataset')
                                     or {}):
            if not ds_cfg or ds_cfg in seen:
                continue
            seen.append(ds_cfg)
            with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'altair')), \
                    naming_the_section(f'{split}_dataloader.dataset'):
                ds = DATASETS.build(dict(ds_cfg, lazy_init=True, pipeline=[]))
            if isinstance(ds, BaseSegDataset):  # not e.g. unlabelled images for pretraining
                specs.append(_spec(split, ds, ds_cfg))
    return specs


def _spec(split: str, ds, ds_cfg: dict) -> DatasetSpec:
    """What check-data needs of a built (lazy) segmentation dataset and its config."""
    load = next((t for t in ds_cfg.get('pipeline') or []
                 if str(t.get('type', '')).endswith('LoadImageFromFile')), {})
    return DatasetSpec(
        split=split, img_dir=Path(ds.data_prefix.get('img_path', ds.data_root or '')),
        ann_dir=Path(ds.data_prefix.get('seg_map_path', ds.data_root or '')),
        img_suffix=ds.img_suffix, seg_map_suffix=ds.seg_map_suffix,
        classes=tuple(ds.metainfo['classes']), ignore_index=ds.ignore_index,
        reduce_zero_label=ds.reduce_zero_label, color_type=load.get('color_type', 'color'))


def read_array(path: Path, *, mask: bool = False) -> np.ndarray:
    """Decode a whole image as training would: ``(H, W)`` or ``(H, W, C)``, bit depth kept.

    Images go through OpenCV (mmcv's default decoder), masks through Pillow (as mmseg's
    ``LoadAnnotations``: palette PNGs give their indices); GeoTIFFs through rasterio.

    Raises:
        ValueError: a corrupt or truncated file.
    """
    if path.suffix.lower() in RASTER_SUFFIXES:
        import rasterio
        with rasterio.open(path) as src:
            data = src.read()
        return data[0] if data.shape[0] == 1 else np.moveaxis(data, 0, -1)
    from PIL import Image
    if mask or path.suffix.lower() in ('.jpg', '.jpeg'):
        with Image.open(path) as img:
            img.load()  # decodes everything: a truncated JPEG raises here, OpenCV would not
            if mask:
                return np.asarray(img)
    import cv2
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise ValueError('not a decodable image (corrupt or truncated?)')
    return data


def _shape(a: np.ndarray) -> str:
    return f'{a.shape[1]}x{a.shape[0]}'


def image_findings(img: np.ndarray, spec: DatasetSpec) -> Iterator[tuple[str, str]]:
    """(level, message) for an image's bands, bit depth and size under ``spec``'s pipeline."""
    bands = 1 if img.ndim == 2 else img.shape[2]
    if spec.color_type == 'color':
        if img.dtype != np.uint8:
            yield 'error', (f'{img.dtype} image, but LoadImageFromFile(color_type=\'color\') '
                            'decodes to 8 bits and loses the rest; use color_type=\'unchanged\' '
                            'and a data_preprocessor with matching mean/std')
        if bands == 4:
            yield 'error', ("4 bands, but LoadImageFromFile(color_type='color') keeps 3 and drops "
                            "the 4th; use color_type='unchanged' and 4-value mean/std")
        elif bands == 1:
            yield 'warning', ("1 band: LoadImageFromFile(color_type='color') repeats it into 3 "
                              'identical channels')
        elif bands != 3:
            yield 'error', (f"{bands} bands, but LoadImageFromFile(color_type='color') decodes "
                            '3; use color_type=\'unchanged\'')
    h, w = img.shape[:2]
    if min(h, w) < MIN_SIDE or max(h, w) / max(min(h, w), 1) > MAX_ASPECT:
        yield 'warning', (f'{w}x{h} pixels (aspect {max(h, w) / max(min(h, w), 1):.0f}:1): '
                          'crops of it are mostly padding (ignored pixels); tile or resize it')


def mask_findings(mask: np.ndarray, img: np.ndarray | None, spec: DatasetSpec
                  ) -> Iterator[tuple[str, str]]:
    """(level, message) for a mask against its image and the classes."""
    if mask.ndim == 3:
        yield 'error', (f'mask has {mask.shape[2]} bands; expected one band of class indices '
                        '(a grey or palette PNG)')
        return
    if img is not None and mask.shape != img.shape[:2]:
        yield 'error', f'mask is {_shape(mask)} but its image is {_shape(img)}'
    values = label_values(mask, spec)
    bad = values[(values != spec.ignore_index) & ((values < 0) | (values >= len(spec.classes)))]
    if bad.size:
        found, counts = np.unique(bad, return_counts=True)
        listed = ', '.join(f'{v} ({c} px)' for v, c in zip(found[:8], counts[:8]))
        yield 'error', (f'mask values {listed} are not classes (0-{len(spec.classes) - 1}) nor '
                        f'the ignore index {spec.ignore_index}')


def label_values(mask: np.ndarray, spec: DatasetSpec) -> np.ndarray:
    """The labels training sees (``reduce_zero_label``: 0 -> ignore, v -> v - 1)."""
    values = mask.astype(np.int64).ravel()
    if spec.reduce_zero_label:
        values = np.where(values == 0, spec.ignore_index, values - 1)
        values[values == spec.ignore_index - 1] = spec.ignore_index
    return values


def mask_class_pixels(mask: np.ndarray, spec: DatasetSpec) -> tuple[np.ndarray, int]:
    """Pixels per class of a 2-D mask as training labels them, and its ignored pixels."""
    n = len(spec.classes)
    values = label_values(mask, spec)
    ok = values[(values >= 0) & (values < n)]
    return np.bincount(ok, minlength=n)[:n], int((values == spec.ignore_index).sum())


def folder_problem(spec: DatasetSpec) -> tuple[Path, str] | None:
    """(folder, message) when the image or mask folder is missing or holds no image."""
    if not spec.img_dir.is_dir():
        return spec.img_dir, 'image folder does not exist (data_root + data_prefix.img_path)'
    if next((p for p in spec.img_dir.rglob(f'*{spec.img_suffix}') if p.is_file()), None) is None:
        others = sorted({p.suffix for p in spec.img_dir.rglob('*') if p.is_file()})
        hint = f"; it holds {', '.join(others)} files (img_suffix?)" if others else (
            '; it is empty')
        return spec.img_dir, f"no '*{spec.img_suffix}' images{hint}"
    if not spec.ann_dir.is_dir():
        return spec.ann_dir, ('mask folder does not exist (data_root + '
                              'data_prefix.seg_map_path)')
    return None


class DatasetFolderError(AltairError, FileNotFoundError):
    """A dataset folder that is missing or holds no image."""


def check_dataset_folders(cfg, splits: Iterable[str]) -> None:
    """Refuse to start when a split's image or mask folder is missing or empty (mmengine
    would fail later with "need at least one array to concatenate").

    Raises:
        DatasetFolderError: naming the split, the folder and what was expected.
    """
    for spec in dataset_specs(cfg, splits):
        problem = folder_problem(spec)
        if problem is not None:
            raise DatasetFolderError(
                f'{spec.split}_dataloader.dataset: {problem[0]}: {problem[1]}; see '
                '`altair check-data CONFIG`')


def check_split(spec: DatasetSpec, report: DataReport, *, progress: bool = True) -> None:
    """Append ``spec``'s findings and class counts to ``report``."""
    def add(level: str, path, message: str) -> None:
        report.findings.append(Finding(level, spec.split, str(path), message))

    n = len(spec.classes)
    split = SplitReport(spec.split, spec.classes, class_pixels=np.zeros(n, np.int64),
                        class_images=np.zeros(n, np.int64))
    report.splits.append(split)
    problem = folder_problem(spec)
    if problem is not None:
        add('error', *problem)
        return
    images = sorted(p for p in spec.img_dir.rglob(f'*{spec.img_suffix}') if p.is_file())
    bar = None
    if progress and len(images) > 1:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(images))
    for path in images:
        split.images += 1
        rel = path.relative_to(spec.img_dir)
        mask_path = spec.ann_dir / (str(rel)[:-len(spec.img_suffix)] + spec.seg_map_suffix)
        img = None
        try:
            img = read_array(path)
        except Exception as exc:  # corrupt, truncated, not an image
            add('error', path, f'cannot be read ({type(exc).__name__}: {exc})')
        for level, msg in image_findings(img, spec) if img is not None else ():
            add(level, path, msg)
        if not mask_path.is_file():
            add('error', path, f'has no mask (expected {mask_path})')
        else:
            try:
                mask = read_array(mask_path, mask=True)
            except Exception as exc:
                add('error', mask_path, f'cannot be read ({type(exc).__name__}: {exc})')
            else:
                for level, msg in mask_findings(mask, img, spec):
                    add(level, mask_path, msg)
                if mask.ndim == 2:
                    counts, ignored = mask_class_pixels(mask, spec)
                    split.class_pixels += counts
                    split.class_images += counts > 0
                    split.ignored_pixels += ignored
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    if spec.split == 'train':
        for name, pixels in zip(spec.classes, split.class_pixels):
            if pixels == 0:
                add('warning', spec.ann_dir, f"class '{name}' has no pixel in the training set")


def check_dataset(cfg, *, splits: Iterable[str] = ('train', 'val', 'test'),
                  progress: bool = True) -> DataReport:
    """Check every dataset of ``cfg`` (see the module docstring)."""
    report = DataReport()
    for spec in dataset_specs(cfg, splits):
        check_split(spec, report, progress=progress)
    check_windowed(cfg, splits, report)
    return report


def format_report(report: DataReport, *, max_findings: int = 50) -> str:
    """Findings (errors first, at most ``max_findings``), then per split the image count and
    pixels per class, then a verdict line."""
    lines = [str(f) for f in sorted(report.findings, key=lambda f: f.level != 'error')]
    if len(lines) > max_findings:
        lines = lines[:max_findings] + [f'... and {len(lines) - max_findings} more']
    for split in report.splits:
        total = int(split.class_pixels.sum()) + split.ignored_pixels
        lines.append(f'{split.split}: {split.images} images, {total} labelled pixels '
                     f'({split.ignored_pixels} ignored)')
        for name, px, imgs in zip(split.classes, split.class_pixels, split.class_images):
            share = 100 * px / total if total else 0.0
            lines.append(f'  {name:<16} {share:6.2f} %  in {imgs} images')
    n_err, n_warn = len(report.errors), len(report.findings) - len(report.errors)
    lines.append(f'{n_err} error(s), {n_warn} warning(s)' + (
        '' if report.ok else ': fix the errors before training'))
    return '\n'.join(lines)
