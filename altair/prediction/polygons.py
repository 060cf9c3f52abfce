"""Label maps as polygons, built band by band while the prediction streams.

Each finalised band of rows is split into connected regions (4-connectivity, as GDAL's
polygonize) per class, and each region is polygonised with ``rasterio.features.shapes``.
A region that touches the band's last row may continue in the next band: it stays *open*
and is merged (shapely ``union_all``) with the regions of the next band it touches, of the
same class, across the seam. Every other region is *closed* and written at once, so memory
holds one band plus the open regions, never the whole raster.

Attributes of each feature: ``class`` (id), ``class_name``, ``area`` (pixels × pixel area,
in map units; pixels without a CRS), ``mean_prob`` (mean probability of its class over its
pixels). ``min_area`` drops smaller regions; ``simplify`` is a shapely tolerance in map
units (topology preserved).
"""
from __future__ import annotations

import contextlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from altair.errors import AltairError
from altair.fileio import commit, discard, fsync_path, partial_path
from altair.inference.postprocess import label_probability
from altair.prediction.journal import ResumeError
from altair.prediction.sinks import Band

DRIVERS = {'.gpkg': 'GPKG', '.geojson': 'GeoJSON', '.json': 'GeoJSON'}
FLUSH_EVERY = 2000  # closed features buffered before a write


class PolygonOptionError(AltairError, ValueError):
    """A polygon output path, ``min_area`` or ``simplify`` Altair cannot use."""


class NoCrsWarning(UserWarning):
    """Polygons of a raster without a CRS: coordinates are pixels."""


@dataclass
class Region:
    """A connected region of one class, possibly spread over several bands."""
    cls: int
    pixels: int = 0
    prob_sum: float = 0.0
    parts: list = field(default_factory=list)

    def absorb(self, other: 'Region') -> None:
        self.pixels += other.pixels
        self.prob_sum += other.prob_sum
        self.parts += other.parts


def band_regions(labels: np.ndarray, valid: np.ndarray | None, num_classes: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(ids (rows, W) int32 with 0 = no region, class of each id (index 0 unused)) of the
    4-connected regions of every class in a band of labels."""
    from scipy import ndimage

    ids = np.zeros(labels.shape, np.int32)
    classes = [0]
    for k in range(num_classes):
        mask = labels == k
        if valid is not None:
            mask &= valid
        comp, n = ndimage.label(mask)
        if n:
            ids[mask] = comp[mask] + len(classes) - 1
            classes += [k] * n
    return ids, np.asarray(classes, np.int64)


def _find(parent: dict, a):
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


class PolygonWriter:
    """A prediction sink writing one polygon per connected region (see the module doc).

    Args:
        path: ``.gpkg`` (GeoPackage, appended as it goes) or ``.geojson``.
        width, height, num_classes: the raster's size and K.
        transform, crs: georeferencing (``None`` CRS: pixel coordinates, with a warning).
        class_names: K names (default ``class_<k>``).
        min_area: drop regions smaller than this (map units²).
        simplify: simplification tolerance in map units (0: exact pixel outlines).
        resume_state: a :meth:`sync` result: continue the temporary file an interrupted
            writer left from that point (later features are dropped).
    """

    def __init__(self, path: str | os.PathLike, *, width: int, height: int, num_classes: int,
                 transform=None, crs=None, class_names: Sequence[str] | None = None,
                 min_area: float = 0.0, simplify: float = 0.0,
                 resume_state: dict | None = None) -> None:
        from rasterio.transform import Affine

        self.path = Path(path)
        self.driver = DRIVERS.get(self.path.suffix.lower())
        if self.driver is None:
            raise PolygonOptionError(f"polygons go to a .gpkg or .geojson file, got "
                                     f"'{self.path.name}'")
        for name, value in (('min_area', min_area), ('simplify', simplify)):
            if not (isinstance(value, (int, float)) and value >= 0):
                raise PolygonOptionError(f'{name} must be a number >= 0, got {value!r}')
        if crs is None and resume_state is None:
            warnings.warn(f"polygons for '{self.path.name}': the raster has no CRS, so their "
                          'coordinates and areas are in pixels', NoCrsWarning, stacklevel=2)
        self.width, self.height, self.num_classes = width, height, num_classes
        self.transform = transform if transform is not None else Affine.identity()
        self.crs = crs
        self.pixel_area = abs(self.transform.a * self.transform.e - self.transform.b *
                              self.transform.d)
        self.class_names = list(class_names or [f'class_{k}' for k in range(num_classes)])
        self.min_area, self.simplify = float(min_area), float(simplify)
        self.features = 0
        self._tmp = partial_path(self.path)
        if resume_state is None:
            discard(self._tmp)
        self._open: dict[int, Region] = {}  # open regions by key
        self._seam: np.ndarray | None = None  # (W,) open-region key of the last row, 0 = none
        self._next_key = 1
        self._rows = 0
        self._buffer: list[tuple] = []
        self._geojson = None
        if resume_state is not None:
            self._restore(resume_state)
        elif self.driver == 'GeoJSON':
            self._geojson = open(self._tmp, 'w')
            self._geojson.write('{"type": "FeatureCollection",\n')
            if crs is not None and crs.to_epsg() != 4326:
                self._geojson.write(f'"crs": {{"type": "name", "properties": {{"name": '
                                    f'"{_crs_urn(crs)}"}}}},\n')
            self._geojson.write('"features": [\n')

    def needs(self) -> tuple[bool, str | None]:
        """The class scores and labels of every band suffice."""
        return False, None

    def __call__(self, band: Band) -> None:
        """Add ``band``: its labels, and the probability of each pixel's label (from its
        scores)."""
        if band.row0 != self._rows:
            raise ValueError(f'bands must arrive in order: expected row {self._rows}, got '
                             f'{band.row0}')
        chosen = label_probability(band.scores, band.argmax)
        self.add_band(band.row0, band.argmax.cpu().numpy(), chosen.cpu().numpy(),
                      None if band.valid is None else band.valid.cpu().numpy())

    def add_band(self, row0: int, labels: np.ndarray, chosen: np.ndarray,
                 valid: np.ndarray | None) -> None:
        """Add (rows, W) ``labels`` with the (rows, W) probability of each pixel's label
        (``chosen``; anything where ``valid``, the data mask, is False)."""
        from rasterio.features import shapes
        from rasterio.transform import Affine
        from shapely.geometry import shape

        rows = labels.shape[0]
        ids, classes = band_regions(labels, valid, self.num_classes)
        n = len(classes)
        flat = ids.ravel()
        pixels = np.bincount(flat, minlength=n)
        prob_sum = np.bincount(flat, weights=np.nan_to_num(chosen).ravel(), minlength=n)
        regions = {i: Region(int(classes[i]), int(pixels[i]), float(prob_sum[i]))
                   for i in range(1, n)}
        # outlines in whole-raster pixel coordinates (integers: exact, so the parts of a
        # region meet exactly at a seam); mapped to the CRS when the region closes
        for geom, value in shapes(ids, mask=ids > 0, connectivity=4,
                                  transform=Affine.translation(0, row0)):
            regions[int(value)].parts.append(shape(geom))
        # union-find over this band's regions (ids) and the open ones (-key) across the seam
        parent = {i: i for i in regions}
        parent.update({-k: -k for k in self._open})
        if self._seam is not None:
            top = ids[0]
            for key, i in set(zip(self._seam.tolist(), top.tolist())):
                if key and i and self._open[key].cls == regions[i].cls:
                    a, b = _find(parent, -key), _find(parent, i)
                    if a != b:
                        parent[a] = b
        groups: dict = {}
        for node in parent:
            groups.setdefault(_find(parent, node), []).append(node)
        last = set(ids[-1].tolist()) - {0} if row0 + rows < self.height else set()
        new_open: dict[int, Region] = {}
        key_of: dict[int, int] = {}
        for members in groups.values():
            merged = None
            for node in members:
                region = regions[node] if node > 0 else self._open[-node]
                if merged is None:
                    merged = Region(region.cls)
                merged.absorb(region)
            if any(node > 0 and node in last for node in members):
                key = self._next_key
                self._next_key += 1
                new_open[key] = merged
                for node in members:
                    if node > 0:
                        key_of[node] = key
            else:
                self._close(merged)
        self._open = new_open
        if last:
            lookup = np.zeros(n, np.int64)
            for i, key in key_of.items():
                lookup[i] = key
            self._seam = lookup[ids[-1]]
        else:
            self._seam = None
        self._rows += rows
        if len(self._buffer) >= FLUSH_EVERY:
            self._flush()

    def state(self) -> dict:
        """:meth:`sync`."""
        return self.sync()

    def sync(self) -> dict:
        """Write the closed regions, fsync the file, and return the state :meth:`__init__`
        resumes from (JSON-serialisable: the open regions, their seam, the features
        written)."""
        import base64

        import shapely
        self._flush()
        offset = None
        if self._geojson is not None:
            self._geojson.flush()
            os.fsync(self._geojson.fileno())
            offset = self._geojson.tell()
        elif self._tmp.is_file():  # GeoPackage: each flush opened, appended and closed it
            fsync_path(self._tmp)
        seam = (None if self._seam is None else
                base64.b64encode(self._seam.astype('<i8').tobytes()).decode())
        return dict(rows=self._rows, features=self.features, next_key=self._next_key,
                    offset=offset, seam=seam,
                    open=[dict(key=k, cls=r.cls, pixels=r.pixels, prob_sum=r.prob_sum,
                               parts=[shapely.to_wkb(g, hex=True) for g in r.parts])
                          for k, r in self._open.items()])

    def _restore(self, state: dict) -> None:
        import base64

        import shapely
        if not self._tmp.is_file() and (state['features'] or self.driver == 'GeoJSON'):
            raise ResumeError(f"--resume: the partial output '{self._tmp}' is gone; run "
                              'without --resume to start again')
        self._rows, self.features = state['rows'], state['features']
        self._next_key = state['next_key']
        self._seam = (None if state['seam'] is None else
                      np.frombuffer(base64.b64decode(state['seam']), '<i8').astype(np.int64))
        self._open = {o['key']: Region(o['cls'], o['pixels'], o['prob_sum'],
                                       [shapely.from_wkb(g) for g in o['parts']])
                      for o in state['open']}
        if self.driver == 'GeoJSON':  # drop what was written after the checkpoint
            self._geojson = open(self._tmp, 'r+')
            self._geojson.truncate(state['offset'])
            self._geojson.seek(state['offset'])
        elif self.features:
            import sqlite3
            with contextlib.closing(sqlite3.connect(self._tmp)) as db, db:
                db.execute(f'DELETE FROM "{self.path.stem}" WHERE fid > ?', (self.features,))
                # new features continue the uninterrupted numbering
                db.execute('UPDATE sqlite_sequence SET seq = ? WHERE name = ?',
                           (self.features, self.path.stem))
        else:  # nothing was kept: features after the checkpoint go
            discard(self._tmp)

    def _close(self, region: Region) -> None:
        import shapely
        import shapely.affinity

        area = region.pixels * self.pixel_area
        if area < self.min_area:
            return
        geom = region.parts[0] if len(region.parts) == 1 else shapely.union_all(region.parts)
        t = self.transform
        geom = shapely.affinity.affine_transform(geom, [t.a, t.b, t.d, t.e, t.c, t.f])
        if self.simplify:
            geom = geom.simplify(self.simplify, preserve_topology=True)
        self._buffer.append((geom, region.cls, self.class_names[region.cls], area,
                             region.prob_sum / max(region.pixels, 1)))

    def _flush(self) -> None:
        if not self._buffer:
            return
        geoms, cls, names, areas, probs = zip(*self._buffer)
        if self._geojson is not None:
            import shapely
            for g, c, name, a, p in self._buffer:
                props = {'class': c, 'class_name': name, 'area': a, 'mean_prob': p}
                sep = ',\n' if self.features else ''
                self._geojson.write(f'{sep}{{"type": "Feature", "properties": '
                                    f'{json.dumps(props)}, "geometry": '
                                    f'{shapely.to_geojson(g)}}}')
                self.features += 1
        else:
            import pyogrio.raw
            import shapely
            with warnings.catch_warnings():  # no CRS: NoCrsWarning was given at the start
                warnings.filterwarnings('ignore', message="'crs' was not provided")
                pyogrio.raw.write(
                    self._tmp, shapely.to_wkb(np.asarray(geoms, object)),
                [np.asarray(cls, np.int32), np.asarray(names, object),
                 np.asarray(areas, np.float64), np.asarray(probs, np.float64)],
                fields=['class', 'class_name', 'area', 'mean_prob'], driver=self.driver,
                geometry_type='Polygon', promote_to_multi=False,
                crs=self.crs.to_wkt() if self.crs is not None else None,
                append=self.features > 0, layer=self.path.stem)
            self.features += len(geoms)
        self._buffer = []

    def close(self) -> dict[str, Path]:
        """Close the remaining open regions, finish the file and move it to ``path``;
        ``{'polygons': path}``."""
        if self._rows != self.height:
            self.abort()
            raise RuntimeError(f'only {self._rows} of {self.height} rows were polygonised')
        try:
            for region in self._open.values():
                self._close(region)
            self._open = {}
            self._flush()
            if self._geojson is not None:
                self._geojson.write('\n]}\n')
                self._geojson.close()
            elif self.features == 0:  # an empty layer still gets its table
                self._buffer = []
                _empty_layer(self._tmp, self.driver, self.crs, self.path.stem)
            commit(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return {'polygons': self.path}

    def abort(self, keep: bool = False) -> None:
        """Delete the temporary file (nothing appears under ``path``); ``keep`` leaves it
        for a resume."""
        if self._geojson is not None and not self._geojson.closed:
            self._geojson.close()
        if not keep:
            discard(self._tmp)

    def __enter__(self) -> 'PolygonWriter':
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def _crs_urn(crs) -> str:
    epsg = crs.to_epsg()
    return f'urn:ogc:def:crs:EPSG::{epsg}' if epsg else crs.to_wkt()


def _empty_layer(path: Path, driver: str, crs, layer: str) -> None:
    import pyogrio.raw
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message="'crs' was not provided")
        pyogrio.raw.write(path, np.array([], object),
                          [np.array([], np.int32), np.array([], object),
                           np.array([], np.float64), np.array([], np.float64)],
                          fields=['class', 'class_name', 'area', 'mean_prob'], driver=driver,
                          geometry_type='Polygon',
                          crs=crs.to_wkt() if crs is not None else None, layer=layer)
