"""Hand a self-supervised backbone over to segmentation: checkpoint → backbone weights with
the key names of the matching mmseg backbone."""
from __future__ import annotations

import os
import re
from pathlib import Path

import torch
from torch import Tensor

from altair.engine.checkpoint import safe_load
from altair.fileio import atomic_write


def backbone_state(state: dict[str, Tensor], prefix: str = 'backbone.') -> dict[str, Tensor]:
    """The entries of a model state dict under ``prefix``, with the prefix removed (a DINO
    teacher's ``teacher.backbone.`` is skipped: ``prefix`` is matched at the start)."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


_STEM = re.compile(r'^stem\.(\d+)\.(conv|bn)\.(.+)$')


def mmpretrain_resnet_to_mmseg(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """mmpretrain's ResNetV1c deep stem is three ``ConvModule`` (``stem.i.conv`` /
    ``stem.i.bn``); mmseg's is one ``Sequential`` of conv, BN, ReLU triples
    (``stem.3i`` / ``stem.3i+1``). Everything else has the same names."""
    out = {}
    for key, value in state.items():
        m = _STEM.match(key)
        if m:
            i, kind, rest = int(m.group(1)), m.group(2), m.group(3)
            key = f'stem.{3 * i + (kind == "bn")}.{rest}'
        out[key] = value
    return out


_VIT_ATTN = {'attn.qkv.': 'attn.attn.in_proj_', 'attn.proj.': 'attn.attn.out_proj.'}


def mmpretrain_vit_to_mmseg(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """mmpretrain's ViT (e.g. ``MAEViT``) keeps attention as ``attn.qkv`` / ``attn.proj``
    linears; mmseg's wraps ``nn.MultiheadAttention`` (``attn.attn.in_proj_weight``, packed in
    the same q, k, v order, and ``attn.attn.out_proj``). mmseg's ViT must be built with
    ``patch_bias=True`` and ``final_norm=True`` to take every tensor."""
    out = {}
    for key, value in state.items():
        for old, new in _VIT_ATTN.items():
            if f'.{old}' in key:
                head, tail = key.split(f'.{old}')
                key = f'{head}.{new}{tail}'
                break
        out[key] = value
    return out


CONVERTERS = {'mmpretrain_resnet': mmpretrain_resnet_to_mmseg,
              'mmpretrain_vit': mmpretrain_vit_to_mmseg, 'none': lambda s: dict(s)}


def export_backbone(checkpoint: str | os.PathLike, out: str | os.PathLike, *,
                    convert: str = 'mmpretrain_resnet', prefix: str = 'backbone.') -> Path:
    """Write ``{'state_dict': backbone weights}`` of ``checkpoint`` to ``out`` atomically.

    Loaded weights-only (Altair's allow-list); the result loads into the mmseg backbone with
    ``init_cfg=dict(type='Pretrained', checkpoint=out)``.

    Raises:
        KeyError: no weights under ``prefix`` or an unknown ``convert``.
    """
    if convert not in CONVERTERS:
        raise KeyError(f"unknown conversion '{convert}'; choose one of {', '.join(CONVERTERS)}")
    state = safe_load(checkpoint, map_location='cpu')
    state = state.get('state_dict', state)
    weights = backbone_state(state, prefix)
    if not weights:
        raise KeyError(f"no weights under '{prefix}' in {checkpoint}; "
                       f"its keys start with {sorted({k.split('.')[0] for k in state})}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as tmp:  # removed if the save fails
        torch.save({'state_dict': CONVERTERS[convert](weights)}, tmp)
    return out
