"""Layer-wise learning-rate decay for fine-tuning a pretrained backbone (BEiT, Bao et al., ICLR
2022; the MAE paper's fine-tuning recipe, He et al., CVPR 2022): the head trains at the base
learning rate, the backbone's last block at ``decay`` times it, the one before at ``decay**2``,
down to the patch embedding at ``decay**(num_layers + 1)``.

mmseg's ``LearningRateDecayOptimizerConstructor`` does this only for backbones whose class name
says BEiT, MAE or ConvNeXt; this one reads the depth from the parameter names, so it takes
mmseg's ``VisionTransformer`` (``backbone.layers.<i>``) and ``ResNet`` (``backbone.layer<i>``,
one step per stage) alike::

    optim_wrapper = dict(type='AutocastOptimWrapper', optimizer=dict(type='AdamW', lr=1e-3),
                         constructor='LayerDecayOptimWrapperConstructor',
                         paramwise_cfg=dict(layer_decay=0.75))
"""
from __future__ import annotations

import re

from mmengine.optim import DefaultOptimWrapperConstructor

from altair.registry import OPTIM_WRAPPER_CONSTRUCTORS

_BLOCK = re.compile(r'^backbone\.layers?\.?(\d+)\.')
_EMBEDDING = ('backbone.patch_embed', 'backbone.pos_embed', 'backbone.cls_token',
              'backbone.mask_token', 'backbone.stem', 'backbone.conv1', 'backbone.bn1',
              'backbone.norm1')


def layer_id(name: str, num_blocks: int) -> int:
    """Depth of parameter ``name``: 0 for the embedding / stem, ``i + 1`` for block ``i``
    (``backbone.layers.i`` of a ViT; ``backbone.layer<i>`` of a ResNet counts from 1, so its
    stage ``i`` is depth ``i``), ``num_blocks + 1`` for everything after (final norm, neck,
    heads)."""
    m = _BLOCK.match(name)
    if m:
        block = int(m.group(1))
        return block if name.startswith('backbone.layer') and not name.startswith(
            'backbone.layers.') else block + 1
    if name.startswith(_EMBEDDING):
        return 0
    return num_blocks + 1


def count_blocks(names) -> int:
    """Number of backbone blocks in the parameter names (the deepest ``layer_id`` - 1)."""
    ids = [layer_id(n, 0) for n in names if _BLOCK.match(n)]
    return max(ids, default=0)


def lr_scale(depth: int, num_blocks: int, decay: float) -> float:
    """``decay ** (num_blocks + 1 - depth)``: 1 for the head, ``decay`` for the last block."""
    return float(decay) ** (num_blocks + 1 - depth)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``paramwise_cfg=dict(layer_decay=0.75)``: per-depth learning rates (see the module
    docstring); biases, norms and 1-d parameters get no weight decay, as in the MAE recipe.
    Other ``paramwise_cfg`` keys are not combined with it (refused)."""

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None) -> None:
        paramwise_cfg = dict(paramwise_cfg or {})
        decay = paramwise_cfg.pop('layer_decay', None)
        if not isinstance(decay, (int, float)) or not 0 < decay <= 1:
            raise ValueError(f'LayerDecayOptimWrapperConstructor: paramwise_cfg.layer_decay '
                             f'{decay!r} is not a number in (0, 1]')
        if paramwise_cfg:
            raise ValueError('LayerDecayOptimWrapperConstructor: paramwise_cfg keys '
                             f"{', '.join(sorted(paramwise_cfg))} are not supported beside "
                             'layer_decay')
        super().__init__(optim_wrapper_cfg, None)
        self.layer_decay = float(decay)
        self.paramwise_cfg = dict(layer_decay=self.layer_decay)  # non-empty: add_params runs

    def add_params(self, params: list[dict], module, **kwargs) -> None:
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        blocks = count_blocks(n for n, _ in named)
        groups: dict[tuple[int, bool], dict] = {}
        for name, param in named:
            depth = layer_id(name, blocks)
            no_decay = param.ndim == 1 or name.endswith(('.bias', 'pos_embed', 'cls_token'))
            group = groups.get((depth, no_decay))
            if group is None:
                scale = lr_scale(depth, blocks, self.layer_decay)
                group = groups[(depth, no_decay)] = dict(
                    params=[], lr=self.base_lr * scale, lr_scale=scale)
                if self.base_wd is not None:
                    group['weight_decay'] = 0.0 if no_decay else self.base_wd
            group['params'].append(param)
        params.extend(groups[k] for k in sorted(groups))
