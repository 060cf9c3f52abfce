"""The volume cases a prediction is given: volume files, folders and globs of them, a case
id, or a case's channel files together, one output name each.

Channel files follow nnU-Net's naming, ``<case>_0000.nii.gz``, ``<case>_0001.nii.gz``, ...:
files of one case (same folder, same ``<case>``) are grouped into one case, channels in
index order. A case id is the path of a case without its channel part
(``imagesTs/la_003`` for ``imagesTs/la_003_0000.nii.gz``, ...).
"""
from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path

from altair.prediction.options import PredictOptionError
from altair.raster.errors import ImageNotFoundError
from altair.raster.formats import ITK_SUFFIXES, VOLUME_SUFFIXES, has_suffix
from altair.raster.itk import read_itk_geometry
from altair.raster.volume import open_volume, volume_stem

CHANNEL = re.compile(r'^(?P<case>.+)_(?P<channel>\d{4})$')


@dataclass(frozen=True)
class VolumeCase:
    """One case to predict: its output stem and its channel files, in channel order."""
    stem: str
    files: tuple[Path, ...]

    def __str__(self) -> str:  # how results are matched to inputs across processes
        return str(self.files[0])

    def spec(self) -> str | list[str]:
        """The case as ``alt.predict`` takes it (what a worker process is given)."""
        return str(self.files[0]) if len(self.files) == 1 else [str(f) for f in self.files]


def is_volume(path: str | Path) -> bool:
    return has_suffix(path, VOLUME_SUFFIXES)


def _case_id_files(text: str) -> list[Path]:
    """The channel files of case id ``text`` (``<text>_0000<suffix>``, ...), or []."""
    hits = [Path(p) for p in glob.glob(glob.escape(text) + '_[0-9][0-9][0-9][0-9]*')]
    return sorted(p for p in hits if is_volume(p)
                  and CHANNEL.match(volume_stem(str(p))) is not None
                  and CHANNEL.match(volume_stem(str(p)))['case'] == Path(text).name)


def _expand(item) -> list[Path] | None:
    """The volume files ``item`` names, or None where it names no volume (2-D images)."""
    if isinstance(item, (list, tuple)):
        found = [_expand(x) for x in item]
        return None if any(f is None for f in found) else [p for f in found for p in f]
    text = str(item)
    path = Path(text)
    if path.is_file():
        return [path] if is_volume(path) else None
    if path.is_dir():
        found = sorted(p for p in path.rglob('*') if p.is_file() and is_volume(p))
        if not found and any(p.suffix.lower() == '.dcm' for p in path.iterdir()):
            return [path]  # a DICOM series folder is one case
        return found or None
    if any(c in text for c in '*?['):
        found = sorted(Path(p) for p in glob.glob(text, recursive=True))
        volumes = [p for p in found if is_volume(p)]
        return volumes if volumes and len(volumes) == len(found) else None
    return _case_id_files(text) or None


def group_channels(files: list[Path]) -> list[VolumeCase]:
    """``files`` as cases, ordered by folder and case name: nnU-Net channel files of one
    case together, channels 0..n-1.

    Raises:
        PredictOptionError: a case whose channel indices have a gap (a file is missing).
    """
    cases: dict[tuple, dict[int, Path]] = {}
    for f in files:
        stem = volume_stem(str(f))
        m = CHANNEL.match(stem)
        key = (f.parent, m['case']) if m else (f.parent, stem, str(f))
        cases.setdefault(key, {})
        channel = int(m['channel']) if m else 0
        if channel in cases[key]:
            raise PredictOptionError(f"'{f}' and '{cases[key][channel]}' are both channel "
                                     f'{channel} of one case; give each case once')
        cases[key][channel] = f
    out = []
    for key, channels in sorted(cases.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        missing = sorted(set(range(max(channels) + 1)) - set(channels))
        if missing:
            some = channels[min(channels)]
            want = some.name.replace(f'_{min(channels):04d}', f'_{missing[0]:04d}', 1)
            raise PredictOptionError(f"case '{key[1]}' has channel files "
                                     f"{', '.join(f'_{c:04d}' for c in sorted(channels))} but "
                                     f"not '{some.parent / want}'; give every channel file "
                                     'of the case')
        out.append((key[1], tuple(channels[c] for c in sorted(channels))))
    stems = [s for s, _ in out]
    return [VolumeCase(_distinct(s, fs[0], stems), fs) for s, fs in out]


def _distinct(stem: str, first: Path, stems: list[str]) -> str:
    """``stem``, or with its folder's name where two cases share it."""
    return stem if stems.count(stem) == 1 else f'{first.parent.name}_{stem}'


def case_stem(img) -> str:
    """The output stem of the case ``img`` names: a volume path or its channel files
    (``<case>_0000.nii.gz`` -> ``<case>``), as a prediction names its outputs."""
    files = [Path(f) for f in (img if isinstance(img, (list, tuple)) else [img])]
    grouped = group_channels(files)
    return grouped[0].stem if len(grouped) == 1 else volume_stem(str(files[0]))


def check_volume(path: Path) -> None:
    """Open ``path``'s header (a DICOM folder's series): a missing file, a 4-D volume or a
    folder of several series is one :class:`VolumeError` line."""
    if path.is_dir() or has_suffix(path, ITK_SUFFIXES):
        read_itk_geometry(str(path), role='image volume')
    else:
        open_volume(str(path), role='image volume')


def volume_cases(images) -> list[tuple[str, VolumeCase]] | None:
    """``(stem, case)`` for every volume case ``images`` names (a file, folder, glob, case
    id or list of these; a list inside the list is one case's channel files), or None when
    ``images`` names 2-D images.

    Raises:
        PredictOptionError: volumes mixed with 2-D images, or a case's channel file missing.
        ImageNotFoundError: a folder or glob of volumes that holds none.
    """
    items = images if isinstance(images, (list, tuple)) else [images]
    if any(not isinstance(i, (str, Path, list, tuple)) for i in items):
        return None  # arrays are 2-D images
    found = [_expand(i) for i in items]
    if all(f is None for f in found):
        return None
    if any(f is None for f in found):
        bad = next(i for i, f in zip(items, found) if f is None)
        raise PredictOptionError(f"'{bad}' is not a volume ({', '.join(VOLUME_SUFFIXES)}); "
                                 'predict volumes and 2-D images in separate calls')
    cases: list[VolumeCase] = []
    for item, files in zip(items, found):
        for f in files:  # a bad file fails here, before any model loads
            check_volume(f)
        if not files:
            raise ImageNotFoundError(f"no volumes ({', '.join(VOLUME_SUFFIXES)}) in '{item}'")
        if isinstance(item, (list, tuple)):  # one case's channel files, in the order given
            grouped = group_channels(files)
            cases += grouped if len(grouped) == 1 else [
                VolumeCase(volume_stem(str(files[0])), tuple(files))]
        else:
            cases += group_channels(files)
    return [(c.stem, c) for c in cases]
