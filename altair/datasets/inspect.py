"""What ``altair init`` reads from a data folder: its layout (image/label pairs) and the
images' bands, dtype, nodata and per-band statistics. The classes and label statistics are
``altair.datasets.label_stats``. Pure reading; writing the config is ``altair.api.init``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from altair.datasets.nnunet_raw import is_nnunet_raw, read_raw_dataset
from altair.datasets.scenes.sampling import decimation
from altair.errors import DataError, DataNotFoundError
from altair.raster.formats import PICTURE_SUFFIXES, VECTOR_SUFFIXES, VOLUME_SUFFIXES
from altair.raster.nodata import nodata_mask
from altair.raster.read import open_raster, read_bands, resolve_bands

LABEL_WORDS = ('label', 'labels', 'mask', 'masks', 'annotation', 'gt', 'ann')

LAYOUTS = """\
accepted layouts:
  (a) mmseg             (b) images + masks     (c) GeoTIFF scenes            (d) volumes
  DATA/                 DATA/                  DATA/                         DATA/
    img_dir/[train/]      images/x.tif           scene1.tif                    images/ (or imagesTr/)
    ann_dir/[train/]      masks/x.png            scene2.tif                      case1.nii.gz
    [classes.json]        [classes.json]         labels.tif | labels.geojson   labels/ (or labelsTr/)
                                                 (or sceneN_labels.tif each)     case1.nii.gz
                                                 [classes.json]                [classes.json]
  (e) nnU-Net raw: DATA/dataset.json, imagesTr/case1_0000.nii.gz (_0001, ... one file per
      channel), labelsTr/case1.nii.gz, [imagesTs/] (cases to predict)"""


class DataLayoutError(DataError):
    """A data folder that matches none of the layouts ``altair init`` knows."""


@dataclass
class Pair:
    img: str | list[str]      # a list: one file per channel (nnU-Net cases of 2+ channels)
    ann: str | None
    split: str | None = None  # 'train' / 'val' when the folder says so


@dataclass
class Layout:
    kind: str                 # 'mmseg', 'pairs', 'scenes', 'volumes'
    root: Path
    pairs: list[Pair]
    sidecar: Path | None = None
    # nnU-Net raw volumes: the channel names, the class names of dataset.json's labels (by
    # value) and the imagesTs/ cases to predict (one list of channel files each)
    channels: list[str] | None = None
    class_names: list[str] | None = None
    predict: list[list[str]] = field(default_factory=list)

    @property
    def title(self) -> str:
        if self.channels is not None:
            return '(e) nnU-Net raw: dataset.json + imagesTr/ + labelsTr/'
        return {'mmseg': "(a) mmseg img_dir/ + ann_dir/",
                'pairs': '(b) images/ + masks/, matched by file stem',
                'scenes': '(c) GeoTIFF scenes + labels',
                'volumes': '(d) volumes + label volumes'}[self.kind]


def _stem(path: Path) -> str:
    name = path.name
    for suffix in VOLUME_SUFFIXES + PICTURE_SUFFIXES + VECTOR_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[:-len(suffix)]
    return path.stem


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in folder.rglob('*') if p.is_file() and not p.name.startswith('.')
                  and p.name.lower().endswith(suffixes))


def _match(images: list[Path], masks: list[Path], img_root: Path, ann_root: Path) -> list[Pair]:
    """Pair each image with the mask of the same relative folder and stem.

    Raises:
        DataError: images without a mask (named, with how many).
    """
    by_key = {(str(m.parent.relative_to(ann_root)), _stem(m)): m for m in masks}
    pairs, missing = [], []
    for img in images:
        rel = img.parent.relative_to(img_root)
        mask = by_key.get((str(rel), _stem(img)))
        if mask is None:
            missing.append(img)
            continue
        split = rel.parts[0] if rel.parts and rel.parts[0] in ('train', 'val', 'test') else None
        pairs.append(Pair(str(img), str(mask), split))
    if missing:
        raise DataError(
            f"{len(missing)} image(s) have no mask, e.g. '{missing[0]}' (looked for "
            f"'{ann_root / missing[0].parent.relative_to(img_root) / _stem(missing[0])}.*'); "
            'give every image a mask with the same file stem, or move it out of the folder')
    return pairs


def detect_layout(root: str | os.PathLike) -> Layout:
    """Which of the four layouts ``root`` follows, with its image/label pairs.

    Raises:
        DataNotFoundError: ``root`` does not exist.
        DataLayoutError: it matches no layout (the message draws each accepted one).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataNotFoundError(f"data folder '{root}' does not exist")
    sidecar = root / 'classes.json'
    sidecar = sidecar if sidecar.is_file() else None
    if is_nnunet_raw(root):
        return nnunet_layout(root)
    for img_name, ann_name, kind in (('img_dir', 'ann_dir', 'mmseg'), ('images', 'masks', 'pairs'),
                                     ('imagesTr', 'labelsTr', 'volumes'),
                                     ('images', 'labels', None), ('volumes', 'labels', 'volumes')):
        img_dir, ann_dir = root / img_name, root / ann_name
        if not (img_dir.is_dir() and ann_dir.is_dir()):
            continue
        vols = _files(img_dir, VOLUME_SUFFIXES)
        if kind == 'volumes' or (kind is None and vols):
            return Layout('volumes', root, _match(vols, _files(ann_dir, VOLUME_SUFFIXES),
                                                  img_dir, ann_dir), sidecar)
        imgs = _files(img_dir, PICTURE_SUFFIXES)
        if not imgs:
            raise DataLayoutError(f"'{img_dir}' holds no images ({', '.join(PICTURE_SUFFIXES)})\n"
                                  + LAYOUTS)
        pairs = _match(imgs, _files(ann_dir, PICTURE_SUFFIXES), img_dir, ann_dir)
        return Layout(kind or 'pairs', root, pairs, sidecar)
    top = [p for p in sorted(root.iterdir()) if p.is_file() and not p.name.startswith('.')]
    rasters = [p for p in top if p.name.lower().endswith(PICTURE_SUFFIXES)]
    vectors = [p for p in top if p.name.lower().endswith(VECTOR_SUFFIXES)]
    labels = [p for p in rasters if any(w in _stem(p).lower().replace('-', '_').split('_')
                                        for w in LABEL_WORDS)]
    scenes = [p for p in rasters if p not in labels]
    if scenes and (labels or vectors):
        return Layout('scenes', root, _pair_scenes(scenes, labels + vectors), sidecar)
    raise DataLayoutError(f"'{root}' matches no data layout Altair knows\n" + LAYOUTS)


def nnunet_layout(root: Path) -> Layout:
    """The volumes layout of an nnU-Net raw dataset: one pair per training case (its image
    one file, or a list of channel files for 2+ channels), the channel and class names of
    ``dataset.json`` and the ``imagesTs/`` cases.

    Raises:
        NnunetFormatError: ``dataset.json`` or a file outside the format (named).
    """
    raw = read_raw_dataset(root)
    one = len(raw.spec.channels) == 1
    pairs = [Pair(files[0] if one else files, label) for _, files, label in raw.training]
    if not pairs:
        raise DataError(f"'{root / 'imagesTr'}' holds no case (<case>_0000"
                        f"{raw.spec.file_ending}); add the training cases")
    return Layout('volumes', root, pairs, None, raw.spec.channels, raw.spec.classes,
                  [files for _, files in raw.test])


def _pair_scenes(scenes: list[Path], labels: list[Path]) -> list[Pair]:
    """Each scene with ``<stem>_labels.*`` (or ``_mask``, ...) when there is one, else with
    the one label file that all scenes share."""
    own = {}
    for lab in labels:
        parts = _stem(lab).replace('-', '_').split('_')
        base = '_'.join(p for p in parts if p.lower() not in LABEL_WORDS)
        own[base] = lab
    shared = [lab for lab in labels if _stem(lab).lower() in LABEL_WORDS or len(labels) == 1]
    pairs = []
    for scene in scenes:
        lab = own.get(_stem(scene)) or (shared[0] if len(shared) == 1 else None)
        if lab is None:
            raise DataError(
                f"scene '{scene}' has no labels: name them '{_stem(scene)}_labels.tif' (or "
                f".geojson), or give all scenes one 'labels.tif' / 'labels.geojson'")
        pairs.append(Pair(str(scene), str(lab)))
    return pairs


# --- statistics ---------------------------------------------------------------------------
@dataclass
class BandStats:
    count: int
    dtype: str
    nodata: float | None
    nodata_inferred: bool
    mean: list[float]
    std: list[float]
    valid_fraction: float
    sizes: list[tuple[int, int]] = field(default_factory=list)   # (H, W) of each image


def _border_nodata(img: np.ndarray, *, frame_share: float = 0.2) -> float | None:
    """0 (or the dtype's maximum) when at least ``frame_share`` of the outer frame of pixels
    is that value in every band, as in scenes with a nodata border but no nodata tag (a
    rotated Landsat footprint leaves a third of its frame at 0)."""
    frame = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    for value in (0, np.iinfo(img.dtype).max if img.dtype.kind in 'ui' else None):
        if value is not None and (frame == value).all(-1).mean() >= frame_share:
            return float(value)
    return None


def image_stats(paths: list[str], *, bands: list[int] | None, nodata: float | None,
                max_images: int = 64, max_side: int = 1024) -> BandStats:
    """Per-band mean and std over the valid pixels of up to ``max_images`` images, each
    read decimated to ``max_side``; band count, dtype and nodata checked to agree.

    Raises:
        DataError: images with different band counts or dtypes (named).
    """
    first = None
    total = sq = None
    n = valid = seen = 0
    inferred = False
    step = max(1, len(paths) // max_images)
    sizes = []
    for k, path in enumerate(paths):
        with open_raster(path) as src:
            idx = resolve_bands(src, bands)
            sizes.append((src.height, src.width))
            kind = (len(idx), src.dtypes[0])
            if first is None:
                first = (path, kind, src.nodata)
            elif kind != first[1]:
                raise DataError(
                    f"images differ: '{first[0]}' has {first[1][0]} band(s) of {first[1][1]} "
                    f"but '{path}' has {kind[0]} of {kind[1]}; choose the same bands for all "
                    'with --bands, or convert them to one dtype')
            if k % step:
                continue
            f = decimation(src.height, src.width, max_side)
            img = read_bands(src, idx, out_shape=(-(-src.height // f), -(-src.width // f)))
            nd = nodata if nodata is not None else src.nodata
            if nd is None and k == 0:
                nd = _border_nodata(img)
                inferred = nd is not None
                nodata = nd if inferred else None
            ok = ~nodata_mask(img, nd)
            px = img[ok].astype(np.float64)
            total = px.sum(0) if total is None else total + px.sum(0)
            sq = (px ** 2).sum(0) if sq is None else sq + (px ** 2).sum(0)
            n += len(px)
            valid += ok.sum()
            seen += ok.size
    if n == 0:
        raise DataError(f"no valid pixel in the images (e.g. '{paths[0]}'): check the nodata "
                        'value (--nodata)')
    mean = total / n
    std = np.sqrt(np.maximum(sq / n - mean ** 2, 0))
    std = np.where(std > 0, std, 1.0)
    out_nodata = nodata if nodata is not None else first[2]
    return BandStats(first[1][0], first[1][1], out_nodata, inferred,
                     [float(round(m, 4)) for m in mean], [float(round(s, 4)) for s in std],
                     valid / max(seen, 1), sizes)
