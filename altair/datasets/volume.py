"""``VolumeSliceDataset``: 2-D slices of 3-D volumes (NIfTI, ``.npy``), read one slice at a time.

Each data-list entry is one slice ``k`` along one stored axis of one volume; the registered
transform :class:`LoadVolumeSlice` reads it (``np.take(volume, k, axis)``, no reorientation)
from a lazily opened volume: NIfTI through nibabel's ``ArrayProxy``, ``.npy`` memory-mapped.
"""
from __future__ import annotations

import glob
import os
from typing import Any, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset

from altair.datasets.cases import (case_files, case_norms, check_label_volume, check_normalize,
                                   context_indices, norm_range, normalise, open_case)
from altair.datasets.scenes.sampling import (class_cells, draw_cell, minority_classes,
                                             oversample_options)
from altair.errors import DataNotFoundError
from altair.raster.errors import VolumeError
from altair.raster.volume import cached_volume, chunks, open_volume, read_slice, volume_stem
from altair.registry import DATASETS, TRANSFORMS

# norm_range and normalise live in altair.datasets.cases and are kept importable from here
__all__ = ['LoadVolumeSlice', 'VolumeSliceDataset', 'check_labels', 'foreground_slices',
           'norm_range', 'normalise']

AXES = (0, 1, 2)
SUBSETS = ('train', 'val', 'all')
MAX_LABEL = 254


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
    for a, positions, block in chunks(arr):
        check_labels(block, path=path, ignore_index=ignore_index)
        fg = (block != 0) & (block != ignore_index)
        if a == axis:
            out[positions.start:positions.stop] = fg.any(axis=tuple(i for i in AXES if i != a))
        else:
            out |= fg.any(axis=tuple(i for i in AXES if i != axis))
    return out


# --- the dataset --------------------------------------------------------------------------
@DATASETS.register_module()
class VolumeSliceDataset(BaseDataset):
    """Every slice along one axis of 3-D image volumes with label volumes of the same shape,
    for 2-D segmentation models. Slices are read on the fly by :class:`LoadVolumeSlice`
    (put it first in the pipeline); ``img`` is (H, W, C) float32, C = 1 for an image of
    one file, else its number of channel files.

    Args:
        volumes: ``[dict(img=..., ann=...), ...]``, paths relative to ``data_root``
            (``ann`` may be None for unlabelled volumes). ``img`` may be a list of channel
            files (one 3-D file per channel, e.g. T1, T2, FLAIR, all of one shape).
            Or use ``img_glob``/``ann_pattern`` (one file per image).
        img_glob: image volumes, e.g. ``'imagesTr/*.nii.gz'`` (recursive ``**`` allowed).
        ann_pattern: each image's labels, ``{stem}`` = the image name without
            ``.nii.gz``/``.nii``/``.npy``, e.g. ``'labelsTr/{stem}.nii.gz'``.
        classes: the class names.
        palette: the class colours.
        axis: 0, 1 or 2, the index into the array as stored (no reorientation); a slice
            has the two other axes, in order, as (H, W).
        normalize: None (raw values), ``dict(mode='percentile', lower=0.5, upper=99.5)``
            (clip to the volume's percentiles, computed once here on a sample of at most
            ~2M voxels, and scale to [0, 1]) or ``dict(mode='window', center=40, width=400)``
            (CT window in HU: clip to center ± width/2, scale to [0, 1]); one for every
            channel, or a list with one (None or a dict) per channel.
        skip_empty: drop the slices whose label holds no voxel other than 0 and
            ``ignore_index`` (reads every label volume once here).
        split: ``dict(by='volume', val_fraction=0.2, seed=0)``: whole volumes go to val,
            chosen by ``numpy.random.default_rng(seed).permutation``; None: no split.
        subset: ``'train'`` or ``'val'`` (side of ``split``), or ``'all'``.
        ignore_index: the label not to train or evaluate on (0..255).
        context: 2.5-D context: the ``context`` slices on either side of each slice are
            read as more channels (``2 * context + 1`` per channel, channel by channel,
            slices in order; past an end the edge slice repeats).
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
        volumes: the subset's volumes, ``dict(img, ann, shape, norm)`` each; ``norm`` is
            ``(lo, hi)`` or None, and for an ``img`` list one of those per channel.
        rare_classes: the classes centred on (empty without oversampling).
    """

    CENTRES_PER_CLASS = 10_000  # nnU-Net keeps 10,000 locations per class and case too

    def __init__(self, *, volumes: Sequence[dict] | None = None, img_glob: str | None = None,
                 ann_pattern: str | None = None, classes: Sequence[str],
                 palette: Sequence[Sequence[int]] | None = None, axis: int = 2,
                 normalize: dict | None = None, skip_empty: bool = False,
                 split: dict | None = None, subset: str = 'all', ignore_index: int = 255,
                 oversample: dict | None = None, context: int = 0, data_root: str = '',
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
        if isinstance(context, bool) or not isinstance(context, int) or not 0 <= context <= 8:
            raise VolumeError(f'VolumeSliceDataset context {context!r}: give the number of '
                              'neighbouring slices on each side, 0..8')
        self.axis, self.subset, self.ignore_index = axis, subset, ignore_index
        self.context = context
        self.normalize = check_normalize(normalize)
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
            specs = [dict(img=rooted(v['img']) if isinstance(v['img'], (str, os.PathLike))
                          else [rooted(p) for p in case_files(v['img'])],
                          ann=rooted(v.get('ann'))) for v in volumes]
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
        arrays = open_case(img)
        first = case_files(img)[0]
        shape = tuple(int(d) for d in arrays[0].shape)
        if ann is not None:
            if not os.path.isfile(ann):
                raise DataNotFoundError(f"label volume '{ann}' of image '{first}' does not "
                                        'exist; fix ann (or ann_pattern) or drop the volume')
            check_label_volume(first, ann, shape=shape)
        norms = case_norms(arrays, self.normalize)
        # an image of one file keeps the one-channel form: norm = (lo, hi) or None
        multi = not isinstance(img, (str, os.PathLike))
        return dict(img=img, ann=ann, shape=shape, norm=norms if multi else norms[0])

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
                               slice_index=int(k), norm=v['norm'], context=self.context,
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
        on its kept slices, :func:`~altair.datasets.scenes.sampling.class_cells`); the
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
                self.centres[_case_key(v['img'], v['ann'])] = cells
        self.rare_classes = tuple(rare)

    def get_data_info(self, idx: int) -> dict:
        """The entry ``idx``; with ``oversample``, with probability ``share`` its slice is
        replaced by one of the same volume holding a rare class and ``crop_centre`` = (row,
        col) names a voxel of that class in it (see the class docstring)."""
        info = super().get_data_info(idx)
        # the coin is tossed only when oversampling is on, so share=0 keeps the old stream
        if self.oversample_share > 0 and np.random.random_sample() < self.oversample_share:
            cells = self.centres.get(_case_key(info['img_path'], info['seg_map_path']))
            if cells:
                shape = next(v['shape'] for v in self.volumes if v['img'] == info['img_path'])
                at = np.unravel_index(draw_cell(np.random, cells), shape)
                row, col = (int(at[a]) for a in AXES if a != self.axis)
                info['slice_index'], info['crop_centre'] = int(at[self.axis]), (row, col)
        return info


def _case_key(img: str | Sequence[str], ann: str | None) -> tuple:
    """A hashable key of a case (an image of channel files is a list)."""
    return tuple(case_files(img)), ann


# --- the transform ------------------------------------------------------------------------
@TRANSFORMS.register_module()
class LoadVolumeSlice(BaseTransform):
    """Read slice ``results['slice_index']`` along ``results['axis']`` of
    ``results['img_path']`` and, when set, of ``results['seg_map_path']``.

    Adds ``img`` (H, W, C) float32 (``(clip(x, lo, hi) - lo) / (hi - lo)`` in [0, 1] when
    ``results['norm']`` is ``(lo, hi)``, all zeros if ``hi <= lo``; else the raw values);
    for an ``img_path`` list of channel files (C of them, each through
    :func:`~altair.datasets.cases.normalise` with its entry of the ``norm`` list); with
    ``results['context']`` = c > 0 each channel gives the slices ``k - c .. k + c``
    (:func:`~altair.datasets.cases.context_indices`), so C (2c + 1) channels;
    ``img_shape`` = ``ori_shape`` = (H, W), ``gt_seg_map`` (H, W) uint8,
    ``seg_fields=['gt_seg_map']`` and ``reduce_zero_label=False``.

    Raises:
        VolumeError: a label value that is not an integer 0..254 or the ignore index.
    """

    def transform(self, results: dict) -> dict:
        axis, k = int(results['axis']), int(results['slice_index'])
        path, norm = results['img_path'], results.get('norm')
        if isinstance(path, (str, os.PathLike)):
            files, norms = [path], [norm]
        else:
            files = case_files(path)
            norms = [None] * len(files) if norm is None else norm
        arrays = [cached_volume(f) for f in files]
        around = context_indices(k, arrays[0].shape[axis], int(results.get('context', 0)))
        img = np.stack([normalise(read_slice(a, axis, j), n)
                        for a, n in zip(arrays, norms) for j in around], axis=-1)
        results['img'] = img
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
