"""A trained segmentor as a self-describing file: safetensors weights or an ONNX graph, each
with the same JSON header (``HEADER_KEY``) holding what prediction needs besides weights.

The header: the resolved config (Python text), classes, palette, number of classes, the
normalisation (per-band mean and std, whether 3-band images are reversed), the raster options
the model was trained with (band list and order, nodata) and the training crop. The ONNX
graph maps a normalised (N, C, H, W) float32 input to (N, K, H, W) logits at the same size;
batch, height and width are dynamic.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from altair.config_data import config_from_data, literal_config_dict
from altair.errors import AltairError, first_line
from altair.fileio import file_identity
from altair.models.card import attach_card, card_of
from altair.models.segmentor import adjusted
from altair.version import __version__

HEADER_KEY = 'altair'
HEADER_FORMAT = 'altair-model/1'


class PortableModelError(AltairError, ValueError):
    """A .safetensors / .onnx file without an Altair header, or one this version cannot read."""


def model_header(model: nn.Module, cfg) -> dict:
    """The header of a loaded segmentor (``altair.api.predict.load_model``) and its config."""
    pre = model.data_preprocessor
    normalize = bool(getattr(pre, '_enable_normalize', False))
    meta = getattr(model, 'dataset_meta', None) or {}
    card = card_of(model)
    return dict(
        format=HEADER_FORMAT, altair_version=__version__, config=config_as_data(cfg),
        classes=list(meta.get('classes') or []),
        palette=[list(map(int, c)) for c in meta.get('palette') or []],
        num_classes=int(model.out_channels),
        normalization=dict(
            mean=[float(v) for v in pre.mean.flatten()] if normalize else None,
            std=[float(v) for v in pre.std.flatten()] if normalize else None,
            bgr_to_rgb=bool(getattr(pre, 'channel_conversion', False))),
        raster=dict(card.raster),
        train_crop=list(card.train_crop) if card.train_crop else None,
        input='float32 (N, C, H, W), (x - mean) / std in the band order of `raster`',
        output='float32 logits (N, K, H, W)')


def config_as_data(cfg) -> dict | str:
    """The resolved config as data for a header: a JSON-ready dict, else (a value JSON cannot
    hold, e.g. a set) mmengine's literal text, checked to read back without executing it."""
    data = cfg.to_dict()
    try:
        json.dumps(data, allow_nan=False)
        return data
    except (TypeError, ValueError):
        text = cfg.pretty_text
        literal_config_dict(text, source='the exported config')
        return text


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _ints(v, n: int | None = None) -> bool:
    return (isinstance(v, list) and (n is None or len(v) == n)
            and all(isinstance(i, int) and not isinstance(i, bool) for i in v))


def _volume_facts(v) -> bool:
    """A card's ``volume`` entry: ``axis`` 0..2 and ``normalize`` None, or one dict of
    numbers and names per channel (or one for all)."""
    def plain(d):
        return isinstance(d, dict) and all(
            isinstance(k, str) and (isinstance(x, str) or _is_num(x)) for k, x in d.items())
    norm = v.get('normalize') if isinstance(v, dict) else None
    context = v.get('context', 0) if isinstance(v, dict) else None
    return (isinstance(v, dict) and v.get('axis') in (0, 1, 2)
            and not isinstance(v.get('axis'), bool)
            and isinstance(context, int) and not isinstance(context, bool) and 0 <= context <= 8
            and (norm is None or plain(norm)
                 or (isinstance(norm, list) and all(n is None or plain(n) for n in norm))))


# header key -> (accepts the value, what was expected): every key prediction reads
_HEADER_FIELDS = {
    'config': (lambda v: isinstance(v, (dict, str)), 'a config dict or literal text'),
    'classes': (lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v),
                'a list of class names'),
    'palette': (lambda v: isinstance(v, list) and all(_ints(c, 3) for c in v),
                'a list of [r, g, b] integer triples'),
    'num_classes': (lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 < v < 65536,
                    'an integer from 1 to 65535'),
    'normalization': (lambda v: isinstance(v, dict) and all(
        v.get(k) is None or (isinstance(v[k], list) and all(map(_is_num, v[k])))
        for k in ('mean', 'std')), 'a dict with mean and std lists of numbers (or null)'),
    'raster': (lambda v: v is None or (isinstance(v, dict) and (
        v.get('bands') is None or (isinstance(v['bands'], list) and all(
            isinstance(b, (int, str)) and not isinstance(b, bool) for b in v['bands'])))
        and (v.get('nodata') is None or _is_num(v['nodata']))
        and (v.get('volume') is None or _volume_facts(v['volume']))),
        'a dict of raster options (bands: a list of indices or names, nodata: a number, '
        'volume: {axis: 0, 1 or 2, normalize: null, a dict or a list of dicts, context: '
        '0..8})'),
    'train_crop': (lambda v: v is None or _ints(v, 2), 'null or [height, width]'),
    'input_size': (lambda v: v is None or _ints(v, 2), 'null or [height, width]'),
}


def parse_header(text: str | None, path: str | os.PathLike) -> dict:
    """The header JSON of ``path``, each field checked for the type prediction reads.

    Raises:
        PortableModelError: missing, not JSON, another format, or a field of the wrong type.
    """
    if not text:
        raise PortableModelError(f"'{path}' has no Altair header (metadata key "
                                 f"'{HEADER_KEY}'): export it with `altair export`")
    try:
        header = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise PortableModelError(f"'{path}': the Altair header is not JSON "
                                 f'({str(exc)[:120]})') from None
    if not isinstance(header, dict):
        raise PortableModelError(f"'{path}': the Altair header is a {type(header).__name__}, "
                                 'expected a JSON object')
    if header.get('format') != HEADER_FORMAT:
        raise PortableModelError(f"'{path}': header format {str(header.get('format'))[:60]!r}, "
                                 f'this Altair reads {HEADER_FORMAT!r}')
    for key, (ok, expected) in _HEADER_FIELDS.items():
        optional = key in ('raster', 'train_crop', 'input_size')
        if key not in header and optional:
            continue
        if key not in header or not ok(header[key]):
            found = 'missing' if key not in header else f'{str(header[key])[:60]!r}'
            raise PortableModelError(f"'{path}': header field '{key}' is {found}; expected "
                                     f'{expected}')
    return header


def header_config(header: dict, path: str | os.PathLike = 'the header', *,
                  trust: bool | None = None):
    """The mmengine ``Config`` a header holds, read as data (:mod:`altair.config_data`)."""
    return config_from_data(header['config'], source=str(path), trust=trust)


def apply_header(model: nn.Module, header: dict, source: dict,
                 signature: str | None = None) -> nn.Module:
    """Give ``model`` the header's classes and palette and its :class:`ModelCard`."""
    model.dataset_meta = dict(classes=header['classes'], palette=header['palette'])
    return attach_card(model, train_crop=header.get('train_crop'), raster=header.get('raster'),
                       source=source, signature=signature)


class LogitsModule(nn.Module):
    """A segmentor as ``normalised (N, C, H, W) → logits (N, K, H, W)`` for export: the
    decode head's output resized to the input and its logit offsets added, as
    ``encode_decode`` does, but with the size taken from the input tensor so that it stays
    dynamic in the graph."""

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        self.segmentor = segmentor

    def forward(self, x: Tensor) -> Tensor:
        seg = self.segmentor
        logits = seg.decode_head.forward(seg.extract_feat(x))
        logits = F.interpolate(logits, size=x.shape[2:], mode='bilinear',
                               align_corners=seg.align_corners)
        return adjusted(logits, getattr(seg, 'logit_offsets', None))


class _Normalization(nn.Module):
    """What prediction reads of a data preprocessor: ``mean``/``std`` (C, 1, 1),
    ``_enable_normalize`` and ``channel_conversion``."""

    def __init__(self, spec: dict) -> None:
        super().__init__()
        self._enable_normalize = spec.get('mean') is not None
        self.channel_conversion = bool(spec.get('bgr_to_rgb'))
        if self._enable_normalize:
            self.register_buffer('mean', torch.tensor(spec['mean']).view(-1, 1, 1), False)
            self.register_buffer('std', torch.tensor(spec['std']).view(-1, 1, 1), False)


class OnnxSegmentor(nn.Module):
    """An exported ``.onnx`` model run by onnxruntime, with the interface the prediction
    engine uses of a segmentor (``encode_decode``, ``data_preprocessor``, ``out_channels``,
    ``dataset_meta``), so sliding windows, TTA, nodata and every writer work unchanged.

    Args:
        path: the ``.onnx`` file written by ``altair export --format onnx``.
        threads: onnxruntime intra-op threads (default: torch's thread count).
    """

    def __init__(self, path: str | os.PathLike, *, threads: int | None = None) -> None:
        super().__init__()
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        self.path = Path(path)
        try:
            self.session = ort.InferenceSession(str(path), options,
                                                providers=['CPUExecutionProvider'])
        except Exception as exc:  # onnxruntime's InvalidProtobuf / Fail: truncated or not ONNX
            first = first_line(exc, 160)
            raise PortableModelError(f"'{path}' cannot be read as an ONNX model ({first})"
                                     ) from None
        header = parse_header(self.session.get_modelmeta().custom_metadata_map.get(HEADER_KEY),
                              path)
        header_config(header, path)  # the config must be data, though only its digest is used
        self.header = header
        self.out_channels = int(header['num_classes'])
        self.align_corners = False
        self.data_preprocessor = _Normalization(header['normalization'])
        # a parameter for `next(model.parameters()).device` (always the CPU)
        self._anchor = nn.Parameter(torch.zeros(0), requires_grad=False)
        self._input = self.session.get_inputs()[0].name
        # the batch-size probe's cache key, from the exported config and window (the stub
        # parameter would make every ONNX model one key); read from the header, not the file
        digest = hashlib.sha1(json.dumps([header['config'], header.get('input_size')])
                              .encode()).hexdigest()[:12]
        apply_header(self, header, dict(onnx=file_identity(path)),
                     signature=f'OnnxSegmentor-{digest}')

    def encode_decode(self, inputs: Tensor, batch_img_metas=None) -> Tensor:
        """(B, C, h, w) normalised → (B, K, h, w) logits. A graph with a fixed window
        (``header['input_size']``) gets smaller inputs zero-padded (the mean, once
        normalised) at the bottom and right, and its logits cropped back."""
        h, w = inputs.shape[2:]
        fixed = self.header.get('input_size')
        if fixed:
            if h > fixed[0] or w > fixed[1]:
                raise PortableModelError(
                    f"'{self.path}' was exported with a fixed {fixed[0]}x{fixed[1]} window and "
                    f'cannot take {h}x{w}: predict with sliding windows of at most that size')
            inputs = F.pad(inputs, (0, fixed[1] - w, 0, fixed[0] - h))
        x = np.ascontiguousarray(inputs.detach().float().cpu().numpy())
        [logits] = self.session.run(None, {self._input: x})
        return torch.from_numpy(logits[:, :, :h, :w])

    def forward(self, inputs: Tensor) -> Tensor:
        return self.encode_decode(inputs)
