"""``UNetPlusPlusHead``: UNet++'s nested decoder as an mmseg decode head."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from torch import Tensor, nn

from altair.registry import MODELS

from .nested import nested_nodes, node_in_channels, node_inputs


@MODELS.register_module()
class UNetPlusPlusHead(BaseDecodeHead):
    """UNet++ decoder (Zhou et al., DLMIA 2018, arXiv:1807.10165) over multi-scale features.

    Takes ``L`` backbone levels (``in_channels``/``in_index`` lists, finest first, e.g. a
    ResNet's strides 4, 8, 16, 32) and builds the ``L (L - 1) / 2`` nested nodes; each node is
    two 3x3 conv-norm-act layers. The output, node ``(0, L - 1)``, has the finest level's
    resolution (stride 4 on a ResNet); the segmentor upsamples the logits to the image.

    Args:
        level_widths: output channels of the nodes at each depth; default
            ``channels * 2**i``. ``level_widths[0]`` must equal ``channels``.
        deep_supervision: also classify nodes ``(0, 1) .. (0, L - 2)``: training averages the
            loss of all ``L - 1`` outputs, inference averages their logits (the paper's
            "accurate mode").
        **kwargs: ``BaseDecodeHead``'s (``in_channels``, ``channels``, ``num_classes``,
            ``in_index``, ``norm_cfg``, ``loss_decode``, ...). ``input_transform`` is always
            ``'multiple_select'``.
    """

    def __init__(self, *, level_widths: Sequence[int] | None = None,
                 deep_supervision: bool = False, **kwargs) -> None:
        if kwargs.pop('input_transform', 'multiple_select') != 'multiple_select':
            raise ValueError("UNetPlusPlusHead reads several levels: input_transform must be "
                             "'multiple_select'")
        super().__init__(input_transform='multiple_select', **kwargs)
        levels = len(self.in_channels)
        widths = list(level_widths) if level_widths is not None else [
            self.channels * 2 ** i for i in range(levels)]
        if len(widths) != levels or widths[0] != self.channels:
            raise ValueError(f'level_widths {widths} must have one width per level ({levels}) '
                             f'and start with channels={self.channels}')
        self.level_widths = widths
        self.deep_supervision = deep_supervision
        self.nodes = nn.ModuleDict({
            f'{i}_{j}': self._block(node_in_channels(i, j, list(self.in_channels), widths),
                                    widths[i])
            for i, j in nested_nodes(levels)})
        # conv_seg classifies the last node; these the other top-row nodes
        self.aux_segs = nn.ModuleList(
            nn.Conv2d(self.channels, self.out_channels, 1)
            for _ in range(levels - 2 if deep_supervision else 0))
        for conv in self.aux_segs:  # as BaseDecodeHead initialises conv_seg
            nn.init.normal_(conv.weight, 0, 0.01)
            nn.init.zeros_(conv.bias)

    def _block(self, in_ch: int, out_ch: int) -> nn.Sequential:
        conv = dict(kernel_size=3, padding=1, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg)
        return nn.Sequential(ConvModule(in_ch, out_ch, **conv), ConvModule(out_ch, out_ch, **conv))

    def top_row(self, inputs: Sequence[Tensor]) -> list[Tensor]:
        """Nodes ``(0, 1) .. (0, L - 1)``, each ``(N, channels, H0, W0)``."""
        feats = self._transform_inputs(inputs)
        x = {(i, 0): f for i, f in enumerate(feats)}
        for i, j in nested_nodes(len(feats)):
            same_row, below = node_inputs(i, j)
            size = x[(i, 0)].shape[2:]
            up = resize(x[below], size=size, mode='bilinear', align_corners=self.align_corners)
            x[(i, j)] = self.nodes[f'{i}_{j}'](torch.cat([x[n] for n in same_row] + [up], 1))
        return [x[(0, j)] for j in range(1, len(feats))]

    def branch_logits(self, inputs: Sequence[Tensor]) -> list[Tensor]:
        """Logits of every supervised output: ``L - 1`` with deep supervision, else one."""
        top = self.top_row(inputs)
        if not self.deep_supervision:
            return [self.cls_seg(top[-1])]
        heads = list(self.aux_segs) + [self.conv_seg]
        drop = self.dropout if self.dropout is not None else nn.Identity()
        return [head(drop(t)) for head, t in zip(heads, top)]

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        logits = self.branch_logits(inputs)
        return logits[0] if len(logits) == 1 else torch.stack(logits).mean(0)

    def loss(self, inputs, batch_data_samples, train_cfg) -> dict:
        branches = self.branch_logits(inputs)
        if len(branches) == 1:
            return self.loss_by_feat(branches[0], batch_data_samples)
        losses: dict = {}
        for j, logits in enumerate(branches, start=1):
            for key, value in self.loss_by_feat(logits, batch_data_samples).items():
                if 'loss' in key:  # average, so the total weighs as one output's loss
                    losses[f'x0{j}.{key}'] = value / len(branches)
                elif j == len(branches):
                    losses[key] = value  # accuracy of the final output
        return losses
