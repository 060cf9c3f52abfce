"""The options of a prediction, validated once: :class:`PredictOptions`.

``alt.predict`` builds one from its keyword arguments before anything loads; the worker
processes of a many-process prediction receive it as its JSON record; a resumed prediction
compares its journal record (:meth:`PredictOptions.journal`) with the one it finds.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from altair.errors import AltairError
from altair.inference.grid import resolve_window
from altair.inference.uncertainty import check_measure

SAVE_KINDS = ('labels', 'overlay', 'probs', 'preview', 'polygons')
POLYGON_FORMATS = ('gpkg', 'geojson')
FORMATS = ('cog', 'gtiff')
BACKENDS = ('auto', 'torch', 'onnxruntime')


class PredictOptionError(AltairError, ValueError):
    """A bad ``model``, ``images``, ``save``, ``sliding_window`` or ``device`` argument."""


def _pair(value) -> tuple[int, int] | None:
    if value is None:
        return None
    return (value, value) if isinstance(value, int) else tuple(value)


@dataclass(frozen=True)
class PredictOptions:
    """Every option of ``alt.predict`` but the model and the images (see its docstring);
    ``tta`` holds the transform names (None: no test-time augmentation)."""
    tta: tuple[str, ...] | None = None
    tta_scales: tuple[float, ...] = (1.0,)
    tta_merge: str = 'soft_vote'
    sliding_window: bool | str = 'auto'
    window_size: tuple[int, int] | None = None
    overlap: float = 0.25
    stride: tuple[int, int] | None = None
    blend: str = 'gaussian'
    window_batch: int | None = None
    device: str = 'auto'
    precision: str = 'auto'
    out_dir: str | None = None
    save: tuple[str, ...] = ('labels', 'overlay')
    probs_dtype: str = 'uint8'
    return_probs: bool = False
    nodata: float | None = None
    uncertainty: str | None = None
    format: str | None = None
    polygons_format: str = 'gpkg'
    min_area: float = 0.0
    simplify: float = 0.0
    mosaic: str | None = None
    resume: bool = False
    processes: int | None = None
    gpus: int | None = None
    progress: bool = True
    backend: str = 'auto'

    def __post_init__(self) -> None:
        fix = partial_setter(self)
        fix('tta', None if self.tta is None else tuple(self.tta))
        fix('tta_scales', tuple(self.tta_scales))
        fix('save', tuple(self.save))
        fix('stride', _pair(self.stride))
        fix('out_dir', None if self.out_dir is None else str(self.out_dir))
        if isinstance(self.window_size, (list, tuple)):
            fix('window_size', tuple(self.window_size))
        self._validate()

    def _validate(self) -> None:
        if self.backend not in BACKENDS:
            raise PredictOptionError(f"unknown backend '{self.backend}'; choose one of "
                                     f"{', '.join(BACKENDS)}")
        bad = [s for s in self.save if s not in SAVE_KINDS]
        if bad:
            raise PredictOptionError(f"unknown save kind '{bad[0]}'; choose from "
                                     f"{', '.join(SAVE_KINDS)}")
        if self.format is not None and self.format not in FORMATS:
            raise PredictOptionError(f"format must be one of {', '.join(FORMATS)}, got "
                                     f"'{self.format}'")
        for name in ('min_area', 'simplify'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise PredictOptionError(f'{name} must be a number >= 0, got {value!r}')
        if self.polygons_format not in POLYGON_FORMATS:
            raise PredictOptionError(f"polygons_format must be one of "
                                     f"{', '.join(POLYGON_FORMATS)}, got '{self.polygons_format}'")
        if self.uncertainty is not None:
            check_measure(self.uncertainty, tta=self.tta is not None)
        if self.sliding_window not in (True, False, 'auto'):
            raise PredictOptionError(f"sliding_window must be True, False or 'auto', got "
                                     f'{self.sliding_window!r}')
        # checked here even where an image turns out to be predicted whole (smaller than the
        # window) and the window options go unused: a bad value is refused on every image
        resolve_window(self.window_size if self.window_size is not None else (1 << 30, 1 << 30),
                       overlap=None if self.stride else self.overlap, stride=self.stride)
        if self.window_batch is not None and (isinstance(self.window_batch, bool) or
                                              not isinstance(self.window_batch, int) or
                                              self.window_batch < 1):
            raise PredictOptionError(f'window_batch must be an int >= 1, got '
                                     f'{self.window_batch!r}')
        for name in ('processes', 'gpus'):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise PredictOptionError(f'{name} must be a number of processes >= 1, got '
                                         f'{value!r}')
        if self.processes is not None and self.gpus is not None:
            raise PredictOptionError('give processes (CPU) or gpus, not both')
        if self.mosaic is not None and (not self.mosaic or Path(self.mosaic).name != self.mosaic):
            raise PredictOptionError(f"mosaic must be a plain name for the outputs, got "
                                     f"'{self.mosaic}'")

    @classmethod
    def from_arguments(cls, *, tta: bool = False, tta_transforms: Sequence[str] | None = None,
                       **options: Any) -> 'PredictOptions':
        """From ``alt.predict``'s keywords: ``tta=True`` means ``['hflip']``, and naming
        ``tta_transforms`` turns TTA on."""
        transforms = list(tta_transforms) if tta_transforms is not None else (
            ['hflip'] if tta else None)
        return cls(tta=transforms, **options)

    def replace(self, **changes: Any) -> 'PredictOptions':
        return dataclasses.replace(self, **changes)

    def record(self) -> dict:
        """JSON-able fields (what a worker process is given)."""
        return {f.name: (list(v) if isinstance(v, tuple) else v)
                for f in dataclasses.fields(self) for v in [getattr(self, f.name)]}

    @classmethod
    def from_record(cls, record: dict) -> 'PredictOptions':
        return cls(**record)

    def journal(self, *, image: Any, model: Any, window: tuple[int, int],
                stride: tuple[int, int], blend: str, batch_size: int, device: str,
                save: Sequence[str], format: str, nodata: float | None,
                bands: Sequence | None) -> dict:
        """What a resumed prediction of one image must find unchanged: these options as
        resolved for the image (its window, stride, batch, format), the image and the
        model (``altair.prediction.journal`` stores and compares it)."""
        return dict(image=image, model=model, window=window, stride=stride, blend=blend,
                    batch_size=batch_size, precision=self.precision, device=device,
                    tta=None if self.tta is None else list(self.tta),
                    tta_scales=list(self.tta_scales), tta_merge=self.tta_merge,
                    save=sorted(save), probs_dtype=self.probs_dtype,
                    uncertainty=self.uncertainty, format=format,
                    polygons_format=self.polygons_format, min_area=self.min_area,
                    simplify=self.simplify, nodata=nodata, bands=bands)


def partial_setter(obj):
    """A setter of a frozen dataclass's fields, for its ``__post_init__`` only."""
    def set_(name: str, value: Any) -> None:
        object.__setattr__(obj, name, value)
    return set_
