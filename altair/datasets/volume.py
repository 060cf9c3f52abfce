"""``VolumeSliceDataset``: 2-D slices of 3-D volumes (NIfTI, ``.npy``), read one slice at a time.

Each data-list entry is one slice ``k`` along one stored axis of one volume; the registered
transform :class:`LoadVolumeSlice` reads it (``np.take(volume, k, axis)``, no reorientation)
from a lazily opened volume: NIfTI through nibabel's ``ArrayProxy``, ``.npy`` memory-mapped.
"""
from __future__ import annotations

import glob
import math
import os
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset

from altair.datasets.raster.sampling import (class_cells, draw_cell, minority_classes,
                                             oversample_options)
from altair.errors import DataError, DataNotFoundError, first_line
from altair.registry import DATASETS, TRANSFORMS

SUFFIXES = ('.nii.gz', '.nii', '.npy')
AXES = (0, 1, 2)
SUBSETS = ('train', 'val', 'all')
NORMALIZE_MODES = ('percentile', 'window')
MAX_LABEL = 254

_CACHE_SIZE = 8
_PERCENTILE_SAMPLE = 2_000_000   # voxels read to estimate a volume's percentiles
_CHUNK_VOXELS = 16_000_000       # voxels read at once when scanning a whole volume
_volumes: OrderedDict[tuple[int, str], Any] = OrderedDict()


class VolumeError(DataError):
    """A ``VolumeSliceDataset`` option, volume file or label value that cannot work."""


# --- opening volumes ----------------------------------------------------------------------
def volume_stem(path: str) -> str:
    """The file name without ``.nii.gz``/``.nii``/``.npy``: ``'ct_01.nii.gz'`` -> ``'ct_01'``."""
    name = os.path.basename(path)
    for suffix in SUFFIXES:
        if name.lower().endswith(suffix):
            return name[:-len(suffix)]
    raise VolumeError(f"volume '{path}' has an unknown suffix; use one of "
                      f"{', '.join(SUFFIXES)}")


def open_volume(path: str, *, role: str = 'volume') -> Any:
    """The 3-D array of ``path``, unread: a read-only ``np.memmap`` (``.npy``, unscaled
    ``.nii``) or a nibabel ``ArrayProxy`` (``.nii.gz``, scaled ``.nii``: values are scaled by
    the header's slope/intercept on reading). A ``.nii.gz`` is decompressed up to the slice
    on every read (unless indexed_gzip is installed): store big volumes as ``.nii`` or
    ``.npy`` for fast training. Either supports ``arr[index]``, ``.shape`` and ``.dtype``.

    Raises:
        VolumeError: an unknown suffix or an array that is not 3-D.
        DataNotFoundError: ``path`` does not exist.
    """
    volume_stem(path)  # checks the suffix
    if not os.path.isfile(path):
        raise DataNotFoundError(f"{role} '{path}' does not exist; fix the path or drop the "
                                'volume from the list')
    with _read_errors(path, role):
        if path.lower().endswith('.npy'):
            arr = np.load(path, mmap_mode='r')
        else:
            import nibabel as nib
            # keep_file_open: one handle per process (the cache is keyed by pid), so a .nii.gz
            # is not reopened for every slice (and is seekable when indexed_gzip is installed).
            img = nib.load(path, mmap=True, keep_file_open=True)
            arr = img.dataobj
            if not path.lower().endswith('.gz'):
                _check_nifti_size(path, arr, role)
                if arr.slope == 1 and arr.inter == 0:
                    # unscaled .nii: asanyarray memory-maps the file, and a slice across the
                    # Fortran order costs a strided copy instead of thousands of small reads
                    whole = np.asanyarray(arr)
                    arr = whole if isinstance(whole, np.memmap) else arr
            else:  # a .nii.gz is only found cut short when the cut is read
                arr = _Guarded(arr, path, role)
    if len(arr.shape) != 3:
        raise VolumeError(f"{role} '{path}' has shape {tuple(arr.shape)}; VolumeSliceDataset "
                          'reads 3-D volumes, save one 3-D array per file')
    return arr


# what reading a cut or corrupt volume raises: nibabel's ImageFileError (not its header),
# OSError ('Expected N bytes'; gzip.BadGzipFile), EOFError and zlib.error (a .nii.gz cut
# short), ValueError (a .npy shorter than its header says)
def _read_failures() -> tuple:
    import zlib

    from nibabel.filebasedimages import ImageFileError
    return (OSError, EOFError, ValueError, zlib.error, ImageFileError)


@contextmanager
def _read_errors(path: str, role: str):
    """A volume that fails to open or read as one :class:`VolumeError` line naming it."""
    try:
        yield
    except VolumeError:
        raise
    except _read_failures() as exc:
        reason = first_line(exc, 200)
        raise VolumeError(f"cannot read {role} '{path}': {reason}; the file may be truncated "
                          'or corrupt (copy it again)') from None


def _check_nifti_size(path: str, proxy: Any, role: str) -> None:
    """Refuse a ``.nii`` shorter than its data offset + voxels x bytes per voxel (from the
    header, as nibabel's ``ArrayProxy`` holds them)."""
    need = int(proxy.offset) + math.prod(int(d) for d in proxy.shape) * proxy.dtype.itemsize
    size = os.path.getsize(path)
    if size < need:
        raise VolumeError(f"{role} '{path}' is truncated: the file has {size} of the {need} "
                          'bytes its header gives (a copy or download cut short?); copy it '
                          'again')


class _Guarded:
    """A nibabel ``ArrayProxy`` whose reads fail as :class:`VolumeError` (a ``.nii.gz``
    cut short opens, and fails when the cut is reached); otherwise the proxy itself."""

    def __init__(self, proxy: Any, path: str, role: str) -> None:
        self._proxy, self._path, self._role = proxy, path, role

    @property
    def shape(self) -> tuple:
        return self._proxy.shape

    @property
    def ndim(self) -> int:
        return len(self._proxy.shape)

    @property
    def dtype(self):
        return self._proxy.dtype

    def __getattr__(self, name: str) -> Any:
        if name.startswith('_'):  # not set yet (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self._proxy, name)

    def __getitem__(self, index) -> np.ndarray:
        with _read_errors(self._path, self._role):
            return self._proxy[index]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        with _read_errors(self._path, self._role):
            return np.asarray(self._proxy, dtype=dtype)


def cached_volume(path: str) -> Any:
    """:func:`open_volume`, reused in this process (an LRU keyed by ``(pid, path)``, so a
    handle opened before a dataloader fork is never shared between workers)."""
    key = (os.getpid(), str(path))
    if key in _volumes:
        _volumes.move_to_end(key)
        return _volumes[key]
    arr = _volumes[key] = open_volume(str(path))
    while len(_volumes) > _CACHE_SIZE:
        _volumes.popitem(last=False)
    return arr


def read_slice(arr: Any, axis: int, k: int) -> np.ndarray:
    """``np.take(arr, k, axis)`` of a lazy volume, reading only that slice. Shape (H, W):
    the two remaining axes in stored order."""
    index = [slice(None)] * 3
    index[axis] = k
    return np.asanyarray(arr[tuple(index)])


def _storage_axis(arr: Any) -> int:
    """The axis whose slabs are contiguous on disk (NIfTI is Fortran-ordered)."""
    order = getattr(arr, 'order', None)
    if order is None:
        order = 'F' if arr.flags.f_contiguous and not arr.flags.c_contiguous else 'C'
    return 2 if order == 'F' else 0


def _chunks(arr: Any, step: int = 1, budget: int = _CHUNK_VOXELS):
    """Yield ``(storage_axis, positions, block)``: the volume read in slabs along its
    storage axis (``positions`` the slab indices), every ``step``-th voxel along each axis
    (``step=1``: all of it), at most ~``budget`` voxels at a time."""
    a = _storage_axis(arr)
    n = arr.shape[a]
    per_slab = math.prod(-(-d // step) for i, d in enumerate(arr.shape) if i != a)
    slabs = max(1, budget // max(1, per_slab))
    for start in range(0, n, slabs * step):
        stop = min(n, start + slabs * step)
        index = [slice(None, None, step)] * 3
        index[a] = slice(start, stop, step)
        yield a, range(start, stop, step), np.asanyarray(arr[tuple(index)])


def percentiles(arr: Any, lower: float, upper: float, *,
                max_voxels: int = _PERCENTILE_SAMPLE) -> tuple[float, float]:
    """The ``lower`` and ``upper`` percentiles (0..100) of a volume's finite values,
    estimated on a regular strided sample of at most ``max_voxels`` voxels (exact when
    the volume is smaller), read slab by slab."""
    step = max(1, int(math.floor((math.prod(arr.shape) / max_voxels) ** (1 / 3))))
    while math.prod(-(-d // step) for d in arr.shape) > max_voxels:
        step += 1
    parts = [b.astype(np.float64, copy=False).ravel() for _, _, b in _chunks(arr, step)]
    sample = np.concatenate(parts)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 0.0
    lo, hi = np.percentile(sample, [lower, upper])
    return float(lo), float(hi)


def check_labels(values: np.ndarray, *, path: str, ignore_index: int,
                 where: str = '') -> None:
    """Raise :class:`VolumeError` unless every value is an integer in 0..254 or
    ``ignore_index``."""
    if values.size == 0:
        return
    if np.issubdtype(values.dtype, np.integer) or values.dtype == np.bool_:
        if values.min() >= 0 and values.max() <= MAX_LABEL:
            return  # the common case, decided without a full-size mask
        bad = (values < 0) | ((values > MAX_LABEL) & (values != ignore_index))
    else:
        with np.errstate(invalid='ignore'):  # NaN: != its round, so it is reported
            bad = (values != np.round(values)) | (values < 0) | (
                (values > MAX_LABEL) & (values != ignore_index))
    if not bad.any():
        return
    value = values[bad].flat[0].item()
    raise VolumeError(f"label volume '{path}'{where} holds the value {value}; labels must be "
                      f'integers 0..{MAX_LABEL} (or the ignore index {ignore_index}); remap '
                      'the label values to class indices')


def foreground_slices(arr: Any, axis: int, *, path: str, ignore_index: int) -> np.ndarray:
    """(N,) bool over the slices along ``axis``: True where the label slice has a voxel
    other than 0 and ``ignore_index``. Checks every label value on the way."""
    out = np.zeros(arr.shape[axis], bool)
    for a, positions, block in _chunks(arr):
        check_labels(block, path=path, ignore_index=ignore_index)
        fg = (block != 0) & (block != ignore_index)
        if a == axis:
            out[positions.start:positions.stop] = fg.any(axis=tuple(i for i in AXES if i != a))
        else:
            out |= fg.any(axis=tuple(i for i in AXES if i != axis))
    return out


def norm_range(arr: Any, normalize: dict | None) -> tuple[float, float] | None:
    """``(lo, hi)`` the image is clipped to and scaled from, or None (raw values)."""
    if normalize is None:
        return None
    if normalize['mode'] == 'percentile':
        return percentiles(arr, float(normalize.get('lower', 0.5)),
                           float(normalize.get('upper', 99.5)))
    center, width = float(normalize.get('center', 40)), float(normalize.get('width', 400))
    return center - width / 2, center + width / 2


def _check_normalize(normalize: dict | None) -> dict | None:
    if normalize is None:
        return None
    mode = normalize.get('mode') if isinstance(normalize, dict) else normalize
    if mode not in NORMALIZE_MODES:
        raise VolumeError(f"VolumeSliceDataset normalize mode {mode!r}: choose "
                          "dict(mode='percentile', lower=0.5, upper=99.5), "
                          "dict(mode='window', center=40, width=400) or normalize=None")
    if mode == 'percentile' and not (0 <= normalize.get('lower', 0.5)
                                     < normalize.get('upper', 99.5) <= 100):
        raise VolumeError(f'VolumeSliceDataset normalize {normalize}: need 0 <= lower < '
                          'upper <= 100 (percentiles)')
    if mode == 'window' and not normalize.get('width', 400) > 0:
        raise VolumeError(f'VolumeSliceDataset normalize {normalize}: the window width must '
                          'be > 0')
    return dict(normalize)


# --- the dataset --------------------------------------------------------------------------
@DATASETS.register_module()
class VolumeSliceDataset(BaseDataset):
    """Every slice along one axis of 3-D image volumes with label volumes of the same shape,
    for 2-D segmentation models. Slices are read on the fly by :class:`LoadVolumeSlice`
    (put it first in the pipeline); ``img`` is (H, W, 1) float32.

    Args:
        volumes: ``[dict(img=..., ann=...), ...]``, paths relative to ``data_root``
            (``ann`` may be None for unlabelled volumes). Or use ``img_glob``/``ann_pattern``.
        img_glob: image volumes, e.g. ``'imagesTr/*.nii.gz'`` (recursive ``**`` allowed).
        ann_pattern: each image's labels, ``{stem}`` = the image name without
            ``.nii.gz``/``.nii``/``.npy``, e.g. ``'labelsTr/{stem}.nii.gz'``.
        classes, palette: class names and colours.
        axis: 0, 1 or 2, the index into the array as stored (no reorientation); a slice
            has the two other axes, in order, as (H, W).
        normalize: None (raw values), ``dict(mode='percentile', lower=0.5, upper=99.5)``
            (clip to the volume's percentiles, computed once here on a sample of at most
            ~2M voxels, and scale to [0, 1]) or ``dict(mode='window', center=40, width=400)``
            (CT window in HU: clip to center ± width/2, scale to [0, 1]).
        skip_empty: drop the slices whose label holds no voxel other than 0 and
            ``ignore_index`` (reads every label volume once here).
        split: ``dict(by='volume', val_fraction=0.2, seed=0)``: whole volumes go to val,
            chosen by ``numpy.random.default_rng(seed).permutation``; None: no split.
        subset: ``'train'`` or ``'val'`` (side of ``split``), or ``'all'``.
        ignore_index: the label not to train or evaluate on (0..255).
        oversample: ``dict(share=1/3, classes=None)`` (ignored by ``subset='val'``):
            nnU-Net's foreground oversampling for slices. With probability ``share`` a
            sample's slice is replaced by a slice of the same volume holding a rare class,
            and ``crop_centre`` = (row, col) of a pixel of it is recorded for
            :class:`~altair.datasets.transforms.CentredRandomCrop` (use it instead of
            ``RandomCrop``): the class uniform among those the volume holds on its kept
            slices, then a voxel of it uniform among at most 10,000 per class and volume.
            ``classes``: the class indices to centre on (default: every class except the
            most frequent one of the kept training slices). Reads every label volume whole
            here (twice without ``classes``). The coin and draws use the same
            ``numpy.random`` stream as the rest of the pipeline (seeded per data worker by
            mmengine), tossed only when ``share > 0``, so ``share=0`` gives exactly the
            samples the dataset gives without the option.

    Attributes:
        volumes: the subset's volumes, ``dict(img, ann, shape, norm)`` each.
        rare_classes: the classes centred on (empty without oversampling).
    """

    CENTRES_PER_CLASS = 10_000  # nnU-Net keeps 10,000 locations per class and case too

    def __init__(self, *, volumes: Sequence[dict] | None = None, img_glob: str | None = None,
                 ann_pattern: str | None = None, classes: Sequence[str],
                 palette: Sequence[Sequence[int]] | None = None, axis: int = 2,
                 normalize: dict | None = None, skip_empty: bool = False,
                 split: dict | None = None, subset: str = 'all', ignore_index: int = 255,
                 oversample: dict | None = None, data_root: str = '',
                 pipeline: Sequence = (), **kwargs) -> None:
        if axis not in AXES or isinstance(axis, bool):
            raise VolumeError(f'VolumeSliceDataset axis {axis!r}: choose 0, 1 or 2 (the index '
                              'into the array as stored)')
        if subset not in SUBSETS:
            raise VolumeError(f"VolumeSliceDataset subset '{subset}': choose one of "
                              f"{', '.join(SUBSETS)}")
        if split is not None and split.get('by', 'volume') != 'volume':
            raise VolumeError(f"VolumeSliceDataset split by '{split.get('by')}': only "
                              "by='volume' (whole volumes) keeps train and val apart")
        if split is None and subset != 'all':
            raise VolumeError(f"VolumeSliceDataset subset '{subset}' needs "
                              "split=dict(by='volume', val_fraction=0.2, seed=0); or list "
                              "this subset's volumes and use subset='all'")
        if not 0 <= ignore_index <= 255:
            raise VolumeError(f'VolumeSliceDataset ignore_index {ignore_index}: labels are '
                              'uint8, choose 0..255')
        self.axis, self.subset, self.ignore_index = axis, subset, ignore_index
        self.normalize = _check_normalize(normalize)
        self.skip_empty = skip_empty
        self.oversample_share, self.oversample_classes = oversample_options(
            oversample, len(classes), owner='VolumeSliceDataset', error=VolumeError)
        if subset == 'val':
            self.oversample_share = 0.0
        self.rare_classes: tuple = ()
        self.centres: dict[tuple, dict[int, np.ndarray]] = {}
        self.split_cfg = None if split is None else dict(split)
        self.specs = self._volume_specs(volumes, img_glob, ann_pattern, data_root)
        metainfo = dict(kwargs.pop('metainfo', None) or {}, classes=tuple(classes))
        if palette is not None:
            metainfo['palette'] = [list(p) for p in palette]
        super().__init__(metainfo=metainfo, data_root=data_root, pipeline=list(pipeline),
                         **kwargs)

    @staticmethod
    def _volume_specs(volumes, img_glob, ann_pattern, data_root) -> list[dict]:
        def rooted(p):
            return p if p is None or os.path.isabs(p) or not data_root else os.path.join(
                data_root, p)
        if (volumes is None) == (img_glob is None):
            raise VolumeError('VolumeSliceDataset needs volumes=[dict(img=..., ann=...)] or '
                              'img_glob (with ann_pattern), not both')
        if volumes is not None:
            specs = [dict(img=rooted(v['img']), ann=rooted(v.get('ann'))) for v in volumes]
        else:
            pattern = rooted(img_glob)
            imgs = sorted(glob.glob(pattern, recursive=True))
            if not imgs:
                raise DataNotFoundError(f"no image volume matches '{pattern}'; fix img_glob "
                                        '(relative to data_root)')
            specs = [dict(img=img, ann=rooted(ann_pattern.format(stem=volume_stem(img)))
                          if ann_pattern else None) for img in imgs]
        if not specs:
            raise VolumeError('VolumeSliceDataset: the volume list is empty')
        return specs

    def _split(self, n: int) -> list[int]:
        """Indices into ``self.specs`` of this subset's volumes, in list order."""
        if self.subset == 'all':
            return list(range(n))
        cfg = self.split_cfg
        if n < 2:
            raise VolumeError(f"split by='volume' needs at least 2 volumes, got {n}; add "
                              "volumes or use split=None, subset='all'")
        frac, seed = float(cfg.get('val_fraction', 0.2)), int(cfg.get('seed', 0))
        if not 0 < frac < 1:
            raise VolumeError(f'split val_fraction {frac}: choose a fraction in (0, 1)')
        n_val = min(n - 1, max(1, round(frac * n)))
        val = set(np.random.default_rng(seed).permutation(n)[:n_val].tolist())
        return [i for i in range(n) if (i in val) == (self.subset == 'val')]

    def _resolve(self, spec: dict) -> dict:
        img, ann = spec['img'], spec['ann']
        arr = open_volume(img, role='image volume')
        shape = tuple(int(d) for d in arr.shape)
        if ann is not None:
            if not os.path.isfile(ann):
                raise DataNotFoundError(f"label volume '{ann}' of image '{img}' does not "
                                        'exist; fix ann (or ann_pattern) or drop the volume')
            lab_shape = tuple(int(d) for d in open_volume(ann, role='label volume').shape)
            if lab_shape != shape:
                raise VolumeError(f"label volume '{ann}' has shape {lab_shape} but its image "
                                  f"'{img}' has shape {shape}; give each image the label "
                                  'volume of the same grid, voxel for voxel')
        return dict(img=img, ann=ann, shape=shape, norm=norm_range(arr, self.normalize))

    def load_data_list(self) -> list[dict]:
        self.volumes = [self._resolve(self.specs[i]) for i in self._split(len(self.specs))]
        data_list, kept = [], []
        for v in self.volumes:
            keep = range(v['shape'][self.axis])
            if self.skip_empty:
                if v['ann'] is None:
                    raise VolumeError(f"skip_empty needs labels, but image '{v['img']}' has "
                                      'none; give its ann or set skip_empty=False')
                fg = foreground_slices(open_volume(v['ann']), self.axis, path=v['ann'],
                                       ignore_index=self.ignore_index)
                keep = np.flatnonzero(fg).tolist()
            kept.append(keep)
            data_list += [dict(img_path=v['img'], seg_map_path=v['ann'], axis=self.axis,
                               slice_index=int(k), norm=v['norm'],
                               ignore_index=self.ignore_index, reduce_zero_label=False,
                               seg_fields=[]) for k in keep]
        if self.oversample_share > 0:
            self._find_centres(kept)
        return data_list

    def _kept_labels(self, v: dict, keep: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """A label volume, read whole and checked, and the (D, H, W)-shaped bool mask of
        its slices in ``keep`` (a broadcast view)."""
        lab = np.asarray(open_volume(v['ann'], role='label volume'))
        check_labels(lab, path=v['ann'], ignore_index=self.ignore_index)
        on = np.zeros(lab.shape[self.axis], bool)
        on[list(keep)] = True
        shape = [1, 1, 1]
        shape[self.axis] = -1
        return lab, np.broadcast_to(on.reshape(shape), lab.shape)

    def _find_centres(self, kept: list) -> None:
        """Each labelled volume's candidate centre voxels of the rare classes (flat indices
        on its kept slices, :func:`~altair.datasets.raster.sampling.class_cells`); the
        default rare classes are counted over the kept slices of every volume."""
        labelled = [(i, v, keep) for i, (v, keep) in enumerate(zip(self.volumes, kept))
                    if v['ann'] is not None]
        rare = self.oversample_classes
        if rare is None:
            n = len(self.metainfo['classes'])
            counts = np.zeros(n, np.int64)
            for _, v, keep in labelled:
                lab, on = self._kept_labels(v, keep)
                vals = lab[on]
                vals = vals[(vals < n) & (vals != self.ignore_index)].astype(np.int64)
                counts += np.bincount(vals, minlength=n)
            rare = minority_classes(counts)
        for i, v, keep in labelled:
            lab, on = self._kept_labels(v, keep)
            cells = class_cells(lab, rare, on, limit=self.CENTRES_PER_CLASS, seed=i)
            if cells:
                self.centres[(v['img'], v['ann'])] = cells
        self.rare_classes = tuple(rare)

    def get_data_info(self, idx: int) -> dict:
        """The entry ``idx``; with ``oversample``, with probability ``share`` its slice is
        replaced by one of the same volume holding a rare class and ``crop_centre`` = (row,
        col) names a voxel of that class in it (see the class docstring)."""
        info = super().get_data_info(idx)
        # the coin is tossed only when oversampling is on, so share=0 keeps the old stream
        if self.oversample_share > 0 and np.random.random_sample() < self.oversample_share:
            cells = self.centres.get((info['img_path'], info['seg_map_path']))
            if cells:
                shape = next(v['shape'] for v in self.volumes if v['img'] == info['img_path'])
                at = np.unravel_index(draw_cell(np.random, cells), shape)
                row, col = (int(at[a]) for a in AXES if a != self.axis)
                info['slice_index'], info['crop_centre'] = int(at[self.axis]), (row, col)
        return info


# --- the transform ------------------------------------------------------------------------
@TRANSFORMS.register_module()
class LoadVolumeSlice(BaseTransform):
    """Read slice ``results['slice_index']`` along ``results['axis']`` of
    ``results['img_path']`` and, when set, of ``results['seg_map_path']``.

    Adds ``img`` (H, W, 1) float32 (``(clip(x, lo, hi) - lo) / (hi - lo)`` in [0, 1] when
    ``results['norm']`` is ``(lo, hi)``, all zeros if ``hi <= lo``; else the raw values),
    ``img_shape`` = ``ori_shape`` = (H, W), ``gt_seg_map`` (H, W) uint8,
    ``seg_fields=['gt_seg_map']`` and ``reduce_zero_label=False``.

    Raises:
        VolumeError: a label value that is not an integer 0..254 or the ignore index.
    """

    def transform(self, results: dict) -> dict:
        axis, k = int(results['axis']), int(results['slice_index'])
        img = read_slice(cached_volume(results['img_path']), axis, k)
        norm = results.get('norm')
        if norm is None:
            img = img.astype(np.float32)
        else:
            lo, hi = float(norm[0]), float(norm[1])
            # float64 for the one slice, so the result stays inside [0, 1] after rounding
            img = ((np.clip(img.astype(np.float64), lo, hi) - lo) / (hi - lo)).astype(
                np.float32) if hi > lo else np.zeros(img.shape, np.float32)
        results['img'] = img[..., None]
        results['img_shape'] = results['ori_shape'] = img.shape[:2]
        results['reduce_zero_label'] = False
        seg = results.get('seg_map_path')
        if seg:
            label = read_slice(cached_volume(seg), axis, k)
            check_labels(label, path=seg, ignore_index=int(results.get('ignore_index', 255)),
                         where=f' (slice {k} along axis {axis})')
            results['gt_seg_map'] = label.astype(np.uint8)
            results['seg_fields'] = ['gt_seg_map']
        return results
