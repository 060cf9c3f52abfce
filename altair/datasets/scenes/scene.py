"""``RasterSceneDataset``: windows of whole scenes, read on the fly; no tiling step."""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from mmengine.dataset import BaseDataset

from altair.datasets.bluemarble_build import package_file
from altair.datasets.scenes.load import cached_raster, load_labels
from altair.datasets.scenes.sampling import (BlockSplit, Coverage, block_split,
                                             centre_cells_allowed, class_cells, decimation,
                                             draw_centred, grid_windows, integral,
                                             minority_classes, oversample_options)
from altair.errors import DataError, DataNotFoundError
from altair.raster.grid import Grid, check_label_grid, scene_grid
from altair.raster.labels import to_classes
from altair.raster.nodata import nodata_mask
from altair.raster.read import read_bands, resolve_bands
from altair.raster.vector import is_vector, vector_fields
from altair.registry import DATASETS


class SceneConfigError(DataError):
    """A ``RasterSceneDataset`` option or scene list that cannot work."""


def package_path(uri: str) -> str:
    """``pkg://DIST/PATTERN``: the file matching PATTERN inside the installed distribution
    DIST (located without importing it)."""
    dist, _, pattern = uri[len('pkg://'):].partition('/')
    return str(package_file(dist, pattern))


SPLIT_BY = ('block', 'scene', 'none')
SUBSETS = ('train', 'val', 'all')


@dataclass
class _Scene:
    img: str
    ann: str | None
    crs: Any
    bounds: Any
    bands: list[int]
    nodata: float | None
    height: int
    width: int
    coverage: Coverage
    split: BlockSplit | None = None
    is_val: bool = False
    class_cover: dict | None = None  # class index -> Coverage of its pixels
    small: tuple | None = None  # (decimated labels, valid cells) until the centres are found
    centres: dict | None = None  # rare class -> flat indices of its centre cells (decimated)


@DATASETS.register_module()
class RasterSceneDataset(BaseDataset):
    """Training windows drawn at random from whole scenes (GeoTIFF or any raster GDAL reads),
    evaluation windows on a regular grid; the labels are a raster in any grid (aligned with
    nearest-neighbour reprojection) or polygons (burned), read window by window.

    Train and val never share pixels: ``split=dict(by='block')`` holds out square blocks of
    every scene (training windows never touch them), ``by='scene'`` whole scenes.

    Args:
        scenes: ``[dict(img=..., ann=..., crs=None, bounds=None), ...]`` (``crs`` and
            ``bounds`` = west, south, east, north georeference a plain image); paths are
            relative to ``data_root``; ``pkg://DIST/PATTERN`` is a file inside an installed
            distribution. Or use ``img_glob`` and ``ann_pattern``.
        img_glob: images, e.g. ``'images/*.tif'`` (recursive ``**`` allowed).
        ann_pattern: each image's labels, ``{stem}`` replaced, e.g. ``'masks/{stem}.png'``.
        classes: the class names.
        palette: the class colours.
        bands: 1-based band indices or descriptions (default: every band).
        nodata: the images' nodata value (default: each file's own).
        label_values: ``{raw label value or attribute value: class index}``; default: label
            values are class indices.
        class_field: the class attribute of polygon labels.
        footprint_class: the class index of every polygon in labels without a class
            attribute (footprints: buildings, fields, lesions drawn as outlines), used when
            ``class_field`` is None.
        vector_fill: the class of pixels no polygon covers (default ``ignore_index``; the
            background class for footprints).
        window_size: (H, W) of a window; ``None`` = the whole scene (grid mode only).
        mode: ``'random'`` (default for the train subset) or ``'grid'``.
        samples_per_epoch: random windows per epoch (default: valid area / window area).
        min_valid_fraction: random windows with fewer valid (not nodata) pixels are redrawn.
        max_class_fraction: ``{class index: fraction}``: random windows where one of these
            classes covers more are redrawn (measured on a decimated label map, like the
            valid fraction), e.g. ``{0: 0.95}`` keeps open-ocean windows out of training.
        oversample: ``dict(share=1/3, classes=None)``: that share of the random windows is
            centred on a valid pixel of a rare class (nnU-Net's foreground oversampling):
            the class uniform among those the drawn scene holds on its side of the split,
            then a pixel of it, the window clamped to the scene and never touching a
            held-out block. ``classes``: the class indices to centre on (default: every class
            except the most frequent one of the training pixels, counted on the decimated
            label map). A centred window breaking ``min_valid_fraction`` or
            ``max_class_fraction`` is redrawn on another rare pixel, like any random window.
            The draws use the same ``numpy.random`` stream as the uniform ones (seeded per
            data worker by mmengine, replayed on resume), so ``share=0`` (the default
            without the option) draws exactly the windows it drew before the option existed.
        split: ``dict(by='block'|'scene'|'none', val_fraction=0.2, block_size=1024, seed=0)``;
            with ``by='block'``, ``val_blocks=[(row, col), ...]`` (``None`` = every row or
            column) holds out those blocks instead of a random draw.
        subset: ``'train'``, ``'val'`` or ``'all'`` (ignores ``split``).
        ignore_index: the label of nodata and unlabelled pixels.
    """

    def __init__(self, *, scenes: Sequence[dict] | None = None, img_glob: str | None = None,
                 ann_pattern: str | None = None, classes: Sequence[str],
                 palette: Sequence[Sequence[int]] | None = None,
                 bands: Sequence[int | str] | None = None, nodata: float | None = None,
                 label_values: dict | None = None, class_field: str | None = None,
                 vector_fill: int | None = None, footprint_class: int | None = None,
                 window_size: Sequence[int] | None = (512, 512), mode: str | None = None,
                 samples_per_epoch: int | None = None, min_valid_fraction: float = 0.5,
                 max_class_fraction: dict | None = None, oversample: dict | None = None,
                 split: dict | None = None, subset: str = 'train', ignore_index: int = 255,
                 data_root: str = '', pipeline: Sequence = (), **kwargs) -> None:
        if subset not in SUBSETS:
            raise SceneConfigError(f"RasterSceneDataset subset '{subset}': choose one of "
                                   f"{', '.join(SUBSETS)}")
        self.subset = subset
        self.mode = mode or ('random' if subset == 'train' else 'grid')
        if self.mode not in ('random', 'grid'):
            raise SceneConfigError(f"RasterSceneDataset mode '{self.mode}': choose random or grid")
        if window_size is None and self.mode == 'random':
            raise SceneConfigError('RasterSceneDataset: random windows need a window_size')
        if isinstance(window_size, int):
            window_size = (window_size, window_size)
        self.window_size = tuple(window_size) if window_size is not None else None
        self.scene_specs = self._scene_specs(scenes, img_glob, ann_pattern, data_root)
        self.bands_spec, self.nodata = bands, nodata
        self.label_values = dict(label_values) if label_values else None
        self.class_field, self.vector_fill = class_field, vector_fill
        self.footprint_class = footprint_class
        self.samples_per_epoch = samples_per_epoch
        self.min_valid_fraction = min_valid_fraction
        self.max_class_fraction = {int(k): float(v) for k, v in
                                   (max_class_fraction or {}).items()}
        bad = [(k, v) for k, v in self.max_class_fraction.items()
               if not (0 <= k < len(classes) and 0.0 <= v <= 1.0)]
        if bad:
            raise SceneConfigError(
                f'RasterSceneDataset max_class_fraction {{{bad[0][0]}: {bad[0][1]}}}: give '
                f'class indices in [0, {len(classes) - 1}] and fractions in [0, 1]')
        self.oversample_share, self.oversample_classes = oversample_options(
            oversample, len(classes), owner='RasterSceneDataset', error=SceneConfigError)
        self.rare_classes: tuple = ()
        self.split_cfg = dict(by='none') if split is None else dict(split)
        by = self.split_cfg.setdefault('by', 'block')
        if by not in SPLIT_BY:
            raise SceneConfigError(f"RasterSceneDataset split by '{by}': choose one of "
                                   f"{', '.join(SPLIT_BY)}")
        self.ignore_index = ignore_index
        metainfo = dict(kwargs.pop('metainfo', None) or {}, classes=tuple(classes))
        if palette is not None:
            metainfo['palette'] = [list(p) for p in palette]
        super().__init__(metainfo=metainfo, data_root=data_root, pipeline=list(pipeline),
                         serialize_data=False, **kwargs)

    # --- scene list ---------------------------------------------------------------------
    @staticmethod
    def _scene_specs(scenes, img_glob, ann_pattern, data_root) -> list[dict]:
        def rooted(p):
            if p is not None and p.startswith('pkg://'):
                return package_path(p)
            return p if p is None or os.path.isabs(p) or not data_root else os.path.join(
                data_root, p)
        if scenes is not None and img_glob is not None:
            raise SceneConfigError('RasterSceneDataset: give scenes or img_glob, not both')
        if scenes is not None:
            specs = [dict(s, img=rooted(s['img']), ann=rooted(s.get('ann'))) for s in scenes]
        elif img_glob is not None:
            pattern = rooted(img_glob)
            imgs = sorted(glob.glob(pattern, recursive=True))
            if not imgs:
                raise DataNotFoundError(f"no image matches '{pattern}'")
            specs = []
            for img in imgs:
                stem = os.path.splitext(os.path.basename(img))[0]
                ann = rooted(ann_pattern.format(stem=stem)) if ann_pattern else None
                if ann is not None and not os.path.isfile(ann):
                    raise DataNotFoundError(
                        f"image '{img}' has no labels: '{ann}' does not exist; give every "
                        'image its mask (same file stem) or remove the image')
                specs.append(dict(img=img, ann=ann))
        else:
            raise SceneConfigError('RasterSceneDataset needs scenes=[dict(img=..., ann=...)] '
                                   'or img_glob')
        if not specs:
            raise SceneConfigError('RasterSceneDataset: the scene list is empty')
        return specs

    def _resolve(self, spec: dict) -> _Scene:
        src = cached_raster(spec['img'])
        bands = resolve_bands(src, self.bands_spec)
        grid = scene_grid(src, crs=spec.get('crs'), bounds=spec.get('bounds'))
        ann = spec.get('ann')
        if ann:
            if is_vector(ann):
                crs = vector_fields(ann)['crs']
                if grid.crs is None and crs:
                    raise SceneConfigError(
                        f"image '{spec['img']}' has no CRS but its polygons '{ann}' are in "
                        f'{crs}; georeference the image or give the scene crs and bounds')
            else:
                lab = cached_raster(ann)
                check_label_grid(grid, scene_grid(lab), spec['img'], ann)
        nodata = self.nodata if self.nodata is not None else src.nodata
        factor = decimation(src.height, src.width)
        if nodata is None and not np.issubdtype(np.dtype(src.dtypes[0]), np.floating):
            valid = np.ones((-(-src.height // factor), -(-src.width // factor)), bool)
        else:
            small = read_bands(src, bands, out_shape=(-(-src.height // factor),
                                                      -(-src.width // factor)))
            valid = ~nodata_mask(small, nodata)
        cover, labels = None, None
        centring = self.oversample_share > 0 and self.mode == 'random'
        if (self.max_class_fraction or centring) and ann and self.subset != 'val':
            labels = self._decimated_labels(ann, grid, factor, valid.shape)
        if self.max_class_fraction and labels is not None:
            cover = {k: Coverage(integral(labels == k), factor, src.height, src.width)
                     for k in self.max_class_fraction}
        return _Scene(spec['img'], ann, spec.get('crs'), spec.get('bounds'), bands, nodata,
                      src.height, src.width, Coverage(integral(valid), factor, src.height,
                                                      src.width), class_cover=cover,
                      small=(labels, valid) if centring and labels is not None else None)

    def _decimated_labels(self, ann: str, grid, factor: int, shape) -> np.ndarray:
        """The scene's class indices on its decimated grid (for ``max_class_fraction``)."""
        from rasterio.transform import Affine

        if grid.crs is None and not is_vector(ann):  # same pixels: decimate by reading
            from rasterio.enums import Resampling

            lab = cached_raster(ann)
            raw = lab.read(1, out_shape=shape, resampling=Resampling.nearest,
                           out_dtype='float64')
            return to_classes(raw, nodata=lab.nodata, ignore_index=self.ignore_index,
                              classes_of=self.label_values, source=f"labels '{ann}'")
        small = Grid(grid.crs, grid.transform * Affine.scale(factor), shape[1], shape[0])
        return load_labels(ann, small, ignore_index=self.ignore_index,
                           classes_of=self.label_values, class_field=self.class_field,
                           vector_fill=self.vector_fill, footprint_class=self.footprint_class)

    def _check_band_counts(self, scenes: list[_Scene]) -> None:
        counts = {len(s.bands) for s in scenes}
        if len(counts) > 1:
            a = scenes[0]
            b = next(s for s in scenes if len(s.bands) != len(a.bands))
            raise SceneConfigError(
                f"images have different band counts: '{a.img}' has {len(a.bands)} and "
                f"'{b.img}' has {len(b.bands)}; choose the same bands for all with bands=[...]")

    def _apply_split(self, scenes: list[_Scene]) -> None:
        cfg = self.split_cfg
        by, frac, seed = cfg['by'], float(cfg.get('val_fraction', 0.2)), int(cfg.get('seed', 0))
        if by == 'scene':
            if len(scenes) < 2:
                raise SceneConfigError(
                    "split by='scene' needs at least 2 scenes; use by='block' for one scene")
            order = np.random.default_rng(seed).permutation(len(scenes))
            for i in order[:max(1, round(frac * len(scenes)))]:
                scenes[i].is_val = True
        elif by == 'block':
            size = int(cfg.get('block_size', 1024))
            if self.window_size is not None and size < max(self.window_size):
                raise SceneConfigError(
                    f'split block_size {size} is smaller than the window {self.window_size}; '
                    'training windows must fit inside the training blocks')
            for i, s in enumerate(scenes):
                rows, cols = -(-s.height // size), -(-s.width // size)
                usable = np.array([[s.coverage.fraction(r * size, c * size,
                                                        min(size, s.height - r * size),
                                                        min(size, s.width - c * size)) > 0
                                    for c in range(cols)] for r in range(rows)])
                s.split = block_split(s.height, s.width, block=size, val_fraction=frac,
                                      seed=seed + i, usable=usable,
                                      val_blocks=cfg.get('val_blocks'))

    # --- windows ------------------------------------------------------------------------
    def load_data_list(self) -> list[dict]:
        scenes = [self._resolve(spec) for spec in self.scene_specs]
        self._check_band_counts(scenes)
        if self.subset != 'all':
            self._apply_split(scenes)
        self.scenes = scenes
        if self.mode == 'grid':
            return [dict(scene=i, window=w) for i, s in enumerate(scenes)
                    for w in self._grid(s)]
        self._weights, areas = self._train_weights()
        self._find_centres()
        n = self.samples_per_epoch or max(len(scenes), int(round(
            sum(areas) / (self.window_size[0] * self.window_size[1]))))
        return [dict(scene=-1, window=None) for _ in range(n)]

    def _in_subset(self, s: _Scene) -> bool:
        if self.subset == 'all' or self.split_cfg['by'] != 'scene':
            return True
        return s.is_val == (self.subset == 'val')

    def _grid(self, s: _Scene) -> list[tuple[int, int, int, int]]:
        if not self._in_subset(s):
            return []
        size = self.window_size or (s.height, s.width)
        if s.split is None or self.subset == 'all':
            regions = [(0, 0, s.height, s.width)]
        else:
            b = s.split.block
            want = self.subset == 'val'
            regions = [(r * b, c * b, min(s.height, (r + 1) * b), min(s.width, (c + 1) * b))
                       for r, c in zip(*np.nonzero(s.split.val == want))]
        out = []
        for r0, c0, r1, c1 in regions:
            for row, col, h, w in grid_windows(r0, c0, r1, c1, size):
                if s.coverage.fraction(row, col, h, w) > 0:
                    out.append((col, row, w, h))
        return out

    def _train_weights(self) -> tuple[np.ndarray, list[float]]:
        """(probability of drawing each scene, its valid training area in pixels)."""
        areas = []
        for s in self.scenes:
            area = 0.0
            if self._in_subset(s):
                area = s.coverage.fraction(0, 0, s.height, s.width) * s.height * s.width
                if s.split is not None:
                    area *= 1 - s.split.val.mean()
            areas.append(area)
        total = sum(areas)
        if total <= 0:
            raise SceneConfigError(f'RasterSceneDataset: no valid pixels for the {self.subset} '
                                   f'subset in {len(self.scenes)} scene(s)')
        return np.asarray(areas) / total, areas

    def _find_centres(self) -> None:
        """Each drawable scene's candidate centre cells of the rare classes (``oversample``):
        valid cells whose centred windows stay on the subset's side of the split; the default
        rare classes are counted over those cells of every scene."""
        drawn = [(i, s) for i, s in enumerate(self.scenes)
                 if s.small is not None and self._weights[i] > 0]
        allowed = {}
        for i, s in drawn:
            labels, valid = s.small
            size = (min(self.window_size[0], s.height), min(self.window_size[1], s.width))
            allowed[i] = valid & centre_cells_allowed(
                labels.shape, s.coverage.factor, size, (s.height, s.width), s.split,
                val=self.subset != 'val')
        rare = self.oversample_classes
        if rare is None:
            n = len(self.metainfo['classes'])
            counts = np.zeros(n, np.int64)
            for i, s in drawn:
                kept = s.small[0][allowed[i]]
                kept = kept[(kept >= 0) & (kept < n)].astype(np.int64)
                counts += np.bincount(kept, minlength=n)
            rare = minority_classes(counts)
        for i, s in drawn:
            s.centres = class_cells(s.small[0], rare, allowed[i], seed=i)
        for s in self.scenes:
            s.small = None  # the label maps are not needed any more
        self.rare_classes = tuple(rare) if drawn else ()

    def draw_window(self, rng=np.random, tries: int = 200) -> tuple[int, tuple]:
        """A random ``(scene, (col, row, w, h))``: inside the subset's side of the split,
        with at least ``min_valid_fraction`` valid pixels (the best of ``tries`` otherwise)
        and no class above its ``max_class_fraction``; with probability
        ``oversample['share']`` every try is centred on a rare-class pixel of the scene
        (:func:`~altair.datasets.scenes.sampling.draw_centred`) instead of uniform."""
        i = int(rng.choice(len(self.scenes), p=self._weights))
        s = self.scenes[i]
        h, w = min(self.window_size[0], s.height), min(self.window_size[1], s.width)
        # the coin is tossed only when oversampling is on, so share=0 keeps the old stream
        centred = (self.oversample_share > 0 and rng.random_sample() < self.oversample_share
                   and bool(s.centres))
        best, best_frac, crowded = None, -1.0, None
        for _ in range(tries):
            if centred:
                f = s.coverage.factor
                row, col = draw_centred(rng, s.centres, grid_width=-(-s.width // f), factor=f,
                                        size=(h, w), extent=(s.height, s.width))
            else:
                row = int(rng.randint(0, s.height - h + 1))
                col = int(rng.randint(0, s.width - w + 1))
            if s.split is not None and s.split.touches(row, col, h, w,
                                                       val=self.subset != 'val'):
                continue
            frac = s.coverage.fraction(row, col, h, w)
            if s.class_cover and any(cov.fraction(row, col, h, w) > self.max_class_fraction[k]
                                     for k, cov in s.class_cover.items()):
                crowded = crowded or (col, row, w, h)  # only such windows: one of them
                continue
            if frac >= self.min_valid_fraction:
                return i, (col, row, w, h)
            if frac > best_frac:
                best, best_frac = (col, row, w, h), frac
        best = best or crowded
        if best is None:
            raise SceneConfigError(
                f"no {h}x{w} window of '{s.img}' lies inside its {self.subset} blocks; use a "
                'larger split block_size or a smaller window')
        return i, best

    def get_data_info(self, idx: int) -> dict:
        info = dict(self.data_list[idx])
        if info['scene'] < 0:
            info['scene'], info['window'] = self.draw_window()
        s = self.scenes[info['scene']]
        info.update(img_path=s.img, seg_map_path=s.ann, bands=s.bands, nodata=s.nodata,
                    crs=s.crs, bounds=s.bounds, label_values=self.label_values,
                    class_field=self.class_field, vector_fill=self.vector_fill,
                    footprint_class=self.footprint_class, reduce_zero_label=False, seg_fields=[], sample_idx=idx)
        return info
