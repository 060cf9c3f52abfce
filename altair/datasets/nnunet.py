"""An Altair volumes folder written in nnU-Net's raw dataset format: ``imagesTr/<case>_0000
<ending>``, ``labelsTr/<case><ending>`` and ``dataset.json``. ``altair init`` reads the
result back (``altair.datasets.nnunet_raw``) with the same classes, volumes and split."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np

from altair.datasets.inspect import detect_layout
from altair.datasets.label_stats import infer_classes
from altair.datasets.nnunet_raw import CHANNEL_DIGITS, NnunetFormatError
from altair.errors import DataError
from altair.fileio import atomic_write, write_json
from altair.raster.formats import VOLUME_SUFFIXES
from altair.raster.volume import chunks, open_volume, volume_stem

# the endings nnU-Net's NIfTI readers take (it reads no .npy)
NIFTI_ENDINGS = ('.nii.gz', '.nii')


def write_nnunet(src: str | os.PathLike, dst: str | os.PathLike, *,
                 channel_names: Sequence[str] | None = None, link: bool = False) -> Path:
    """Write the volumes folder ``src`` (a folder ``altair init`` reads as volumes: image
    and label volumes, one channel) as the nnU-Net raw dataset ``dst``: each image becomes
    ``imagesTr/<stem>_0000<ending>``, its labels ``labelsTr/<stem><ending>``, copied byte
    for byte (``link``: symbolic links to the absolute source paths instead). The classes
    are ``src``'s ``classes.json`` (values 0..K-1) or ``class_0, ...`` of the label values.

    Args:
        channel_names: the name of the one channel (default ``['image']``); ``['CT']``
            makes ``altair init`` normalise it by a dataset-wide window.

    Returns:
        ``dst``.

    Raises:
        DataError: ``dst`` not empty, ``src`` not a single-channel volumes folder, files of
            mixed or non-NIfTI endings, two images of one stem, or label values other than
            0..K-1 (each one line, naming the file or value).
    """
    src, dst = Path(src), Path(dst)
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise DataError(f"nnU-Net output folder '{dst}' exists and is not empty; give a new "
                        'or empty folder')
    names = list(channel_names) if channel_names is not None else ['image']
    if len(names) != 1 or not all(isinstance(n, str) and n for n in names):
        raise DataError(f'channel_names {names!r}: the volumes have one channel, give one '
                        "name, e.g. ['CT'] or ['T1']")
    layout = detect_layout(src)
    if layout.kind != 'volumes' or any(not isinstance(p.img, str) for p in layout.pairs):
        raise DataError(f"'{src}' is not a folder of single-channel image and label volumes "
                        f'({layout.title}); see `altair init` for the layouts')
    ending = _ending([f for p in layout.pairs for f in (p.img, p.ann)])
    cases = _cases(layout.pairs)
    classes = infer_classes(_label_values(p.ann for p in layout.pairs), layout.sidecar)
    if classes.mapping() is not None:
        raise DataError(f'nnU-Net labels are the values 0..{len(classes.values) - 1}; the '
                        f"labels of '{src}' are {classes.values}: relabel them")
    if len(set(classes.names)) != len(classes.names):
        raise DataError(f'class names {classes.names} repeat; dataset.json labels maps each '
                        'name to one value, so give every class its own name')
    for sub in ('imagesTr', 'labelsTr'):
        (dst / sub).mkdir(parents=True, exist_ok=True)
    for case, pair in cases.items():
        _place(pair.img, dst / 'imagesTr' / f'{case}_{0:0{CHANNEL_DIGITS}d}{ending}', link)
        _place(pair.ann, dst / 'labelsTr' / f'{case}{ending}', link)
    write_json(dst / 'dataset.json', {
        'channel_names': {str(i): n for i, n in enumerate(names)},
        'labels': {n: i for i, n in enumerate(classes.names)},
        'numTraining': len(cases), 'file_ending': ending, 'name': src.name,
        'description': f'written by Altair (write_nnunet) from {src.name}'})
    return dst


def _ending(files: list[str]) -> str:
    """The one file ending of ``files``, a NIfTI one."""
    endings = {}
    for f in files:
        suffix = next(s for s in VOLUME_SUFFIXES if f.lower().endswith(s))
        if suffix not in NIFTI_ENDINGS:
            raise NnunetFormatError(f"'{f}' is a {suffix} volume; nnU-Net reads NIfTI "
                                    '(.nii.gz, .nii): convert the volumes first')
        endings.setdefault(suffix, f)
    if len(endings) > 1:
        a, b = list(endings.values())[:2]
        raise NnunetFormatError(f"the volumes mix endings ('{a}', '{b}'); nnU-Net's "
                                'dataset.json gives one file_ending: store all as .nii.gz or '
                                'all as .nii')
    return next(iter(endings))


def _cases(pairs) -> dict:
    """``{case: pair}``: each pair under its image's stem, sorted by it."""
    cases = {}
    for pair in pairs:
        case = volume_stem(pair.img)
        if case in cases:
            raise NnunetFormatError(f"images '{cases[case].img}' and '{pair.img}' have the "
                                    f"same stem '{case}': nnU-Net names a case by it; rename "
                                    'one of them')
        cases[case] = pair
    return dict(sorted(cases.items()))


def _label_values(paths) -> dict:
    """``{label value: 1}`` of every value the label volumes hold (read slab by slab)."""
    found = set()
    for path in paths:
        for _, _, block in chunks(open_volume(path, role='label volume')):
            found.update(np.unique(block).tolist())
    return {int(v) if float(v).is_integer() else v: 1 for v in found}


def _place(source: str, target: Path, link: bool) -> None:
    if link:
        os.symlink(os.path.abspath(source), target)
        return
    with atomic_write(target) as tmp:
        shutil.copyfile(source, tmp)
