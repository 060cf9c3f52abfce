"""nnU-Net's raw dataset format, read: ``dataset.json`` (``channel_names``, ``labels``,
``file_ending``, ``numTraining``), ``imagesTr/<case>_0000<ending>``, ``_0001``, ... (one
file per channel), ``labelsTr/<case><ending>`` and the optional ``imagesTs/`` (cases to
predict). Pure reading: every file name and value of ``dataset.json`` is checked, and each
problem is one :class:`NnunetFormatError` line naming the file or key and what was expected.
``altair.datasets.inspect`` turns the cases into a layout; ``altair.datasets.nnunet`` writes
the format.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from altair.errors import DataError
from altair.raster.formats import VOLUME_SUFFIXES

CHANNEL_DIGITS = 4  # <case>_0000: nnU-Net's four-digit channel identifier


class NnunetFormatError(DataError):
    """A ``dataset.json`` or a file of an nnU-Net raw dataset outside the format."""


@dataclass(frozen=True)
class DatasetJson:
    """What ``dataset.json`` says: the channel names (in channel order), the class names
    (ordered by label value, 0..K-1), the file ending and ``numTraining`` (None if absent)."""
    channels: list[str]
    classes: list[str]
    file_ending: str
    num_training: int | None


@dataclass(frozen=True)
class RawDataset:
    """An nnU-Net raw dataset: ``training`` holds ``(case, channel files, label file)``,
    ``test`` holds ``(case, channel files)`` of ``imagesTs/``, both sorted by case."""
    root: Path
    spec: DatasetJson
    training: list[tuple[str, list[str], str]]
    test: list[tuple[str, list[str]]] = field(default_factory=list)


def is_nnunet_raw(root: Path) -> bool:
    """True where ``root`` holds ``dataset.json``, ``imagesTr/`` and ``labelsTr/``."""
    return ((root / 'dataset.json').is_file() and (root / 'imagesTr').is_dir()
            and (root / 'labelsTr').is_dir())


def read_dataset_json(path: Path) -> DatasetJson:
    """Parse and check an nnU-Net ``dataset.json`` (as data: ``json``, nothing evaluated).

    Raises:
        NnunetFormatError: unreadable JSON, or a key missing or not of the form nnU-Net
            gives it (named, with what was expected).
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NnunetFormatError(f"cannot read '{path}': {str(exc).splitlines()[0]}; expected "
                                'a JSON object with channel_names, labels and file_ending'
                                ) from None
    if not isinstance(data, dict):
        raise NnunetFormatError(f"'{path}' holds a {type(data).__name__}; expected a JSON "
                                'object with channel_names, labels and file_ending')
    channels = _channel_names(path, data.get('channel_names'))
    classes = _class_names(path, data.get('labels'))
    ending = data.get('file_ending')
    if ending not in VOLUME_SUFFIXES:
        raise NnunetFormatError(f"'{path}' key 'file_ending' is {ending!r}; expected one of "
                                f"{', '.join(repr(s) for s in VOLUME_SUFFIXES)} (the volume "
                                'formats Altair reads)')
    num = data.get('numTraining')
    if num is not None and (isinstance(num, bool) or not isinstance(num, int) or num < 0):
        raise NnunetFormatError(f"'{path}' key 'numTraining' is {num!r}; expected the number "
                                'of training cases, an integer >= 0')
    return DatasetJson(channels, classes, ending, num)


def _channel_names(path: Path, names) -> list[str]:
    expected = 'an object mapping "0", "1", ... to channel names, e.g. {"0": "T1", "1": "T2"}'
    if not isinstance(names, dict) or not names:
        raise NnunetFormatError(f"'{path}' key 'channel_names' is {_short(names)}; expected "
                                f'{expected}')
    keys = sorted(names, key=lambda k: (len(str(k)), str(k)))
    if keys != [str(i) for i in range(len(names))]:
        raise NnunetFormatError(f"'{path}' key 'channel_names' has the keys {keys[:8]}; "
                                f'expected "0".."{len(names) - 1}": {expected}')
    bad = [k for k in keys if not isinstance(names[k], str)]
    if bad:
        raise NnunetFormatError(f"'{path}' key 'channel_names' entry {bad[0]!r} is "
                                f'{_short(names[bad[0]])}; expected a name (a string)')
    return [names[k] for k in keys]


def _class_names(path: Path, labels) -> list[str]:
    if not isinstance(labels, dict) or len(labels) < 2:
        raise NnunetFormatError(f"'{path}' key 'labels' is {_short(labels)}; expected an "
                                'object of at least 2 classes mapping names to values 0..K-1, '
                                'e.g. {"background": 0, "tumour": 1}')
    for name, value in labels.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise NnunetFormatError(
                f"'{path}' key 'labels' entry {name!r} is {_short(value)}; expected an "
                'integer label value (region-based labels, lists of values, are not read)')
    values = sorted(labels.values())
    if values != list(range(len(labels))):
        bad = next(n for n, v in labels.items() if not 0 <= v < len(labels)
                   or list(labels.values()).count(v) > 1)
        raise NnunetFormatError(f"'{path}' key 'labels' entry {bad!r} is {labels[bad]}; "
                                f'expected the values 0..{len(labels) - 1}, each once')
    return [name for name, _ in sorted(labels.items(), key=lambda kv: kv[1])]


def _short(value) -> str:
    text = json.dumps(value)  # as the file writes it
    return text if len(text) <= 60 else text[:57] + '...'


def channel_files(folder: Path, spec: DatasetJson) -> dict[str, list[str]]:
    """``{case: [channel 0 file, channel 1 file, ...]}`` of ``folder`` (``imagesTr`` or
    ``imagesTs``): every file ending in ``spec.file_ending`` named ``<case>_XXXX``.

    Raises:
        NnunetFormatError: a file not named ``<case>_XXXX<ending>``, a channel number
            ``channel_names`` lacks, or a case missing a channel file (named).
    """
    ending, n = spec.file_ending, len(spec.channels)
    pattern = re.compile(rf'(.+)_(\d{{{CHANNEL_DIGITS}}}){re.escape(ending)}')
    found: dict[str, dict[int, str]] = {}
    for path in _listed(folder, ending):
        m = pattern.fullmatch(path.name)
        if m is None:
            raise NnunetFormatError(f"'{path}' is not named <case>_XXXX{ending} (XXXX the "
                                    'four-digit channel number, 0000 for the first channel)')
        channel = int(m.group(2))
        if channel >= n:
            raise NnunetFormatError(
                f"'{path}' is channel {channel} but dataset.json channel_names lists {n} "
                f"channel(s) ({_named(spec.channels)}); add the channel to it or remove the "
                'file')
        found.setdefault(m.group(1), {})[channel] = str(path)
    for case, files in found.items():
        missing = [c for c in range(n) if c not in files]
        if missing:
            c = missing[0]
            raise NnunetFormatError(
                f"case '{case}' has no channel {c} ({spec.channels[c]}): "
                f"'{folder / f'{case}_{c:0{CHANNEL_DIGITS}d}{ending}'}' is missing, while "
                f'dataset.json channel_names lists {n} channel(s) ({_named(spec.channels)})')
    return {case: [files[c] for c in range(n)] for case, files in sorted(found.items())}


def _named(channels: list[str]) -> str:
    return ', '.join(f'{i}: {c}' for i, c in enumerate(channels))


def _listed(folder: Path, ending: str) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith('.')
                  and p.name.lower().endswith(ending))


def read_raw_dataset(root: Path) -> RawDataset:
    """The cases of the nnU-Net raw dataset at ``root`` (see :func:`is_nnunet_raw`).

    Raises:
        NnunetFormatError: see :func:`read_dataset_json` and :func:`channel_files`; also a
            label file without image files, training images without a label file, or a
            ``numTraining`` other than the number of cases found.
    """
    root = Path(root)
    spec = read_dataset_json(root / 'dataset.json')
    images = channel_files(root / 'imagesTr', spec)
    n = len(spec.file_ending)
    labels = {p.name[:-n]: str(p) for p in _listed(root / 'labelsTr', spec.file_ending)}
    for case, label in labels.items():
        if case not in images:
            raise NnunetFormatError(
                f"label file '{label}' of case '{case}' has no image files (expected "
                f"'{root / 'imagesTr' / f'{case}_0000{spec.file_ending}'}'); add the "
                "case's images or remove the label file")
    for case, files in images.items():
        if case not in labels:
            raise NnunetFormatError(
                f"case '{case}' ('{files[0]}') has no label file: expected "
                f"'{root / 'labelsTr' / f'{case}{spec.file_ending}'}'; add it, or move the "
                "case's images to imagesTs/ (cases to predict)")
    if spec.num_training is not None and spec.num_training != len(images):
        raise NnunetFormatError(
            f"'{root / 'dataset.json'}' key 'numTraining' is {spec.num_training} but "
            f"'{root / 'imagesTr'}' holds {len(images)} case(s); set numTraining to "
            f'{len(images)}')
    test_dir = root / 'imagesTs'
    test = list(channel_files(test_dir, spec).items()) if test_dir.is_dir() else []
    training = [(case, files, labels[case]) for case, files in images.items()]
    return RawDataset(root, spec, training, test)
