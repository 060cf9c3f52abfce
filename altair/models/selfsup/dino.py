"""DINO self-distillation (Caron et al., ICCV 2021), trainable: mmpretrain 1.2.0 ships only
its forward pass. The rules live in :mod:`altair.models.selfsup.dino_math`."""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from torch import Tensor, nn

from altair.models.selfsup.dino_math import (cosine_momentum, dino_loss, ema_update,
                                             teacher_temperature, updated_center)
from altair.registry import MODELS


class DINOProjectionHead(nn.Module):
    """MLP (GELU) to a ``bottleneck``, L2-normalised, then a weight-normalised linear layer to
    ``out_dim`` prototypes without bias, as in the paper."""

    def __init__(self, in_dim: int, *, hidden_dim: int = 2048, bottleneck_dim: int = 256,
                 out_dim: int = 65536, num_layers: int = 3) -> None:
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [bottleneck_dim]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(dims) - 2:
                layers.append(nn.GELU())
        self.mlp = nn.Sequential(*layers)
        self.last = nn.utils.parametrizations.weight_norm(
            nn.Linear(bottleneck_dim, out_dim, bias=False))
        self.last.parametrizations.weight.original0.data.fill_(1.0)  # unit norm, as DINO

    def forward(self, x: Tensor) -> Tensor:
        return self.last(F.normalize(self.mlp(x), dim=-1))


@MODELS.register_module()
class DINO(BaseSelfSupervisor):
    """Student (backbone → ``neck`` pooling → projection head) trained to match an EMA teacher.

    Inputs are multi-crop views (mmpretrain's ``MultiView``): the first ``num_global`` are
    the global crops the teacher sees; the student sees all. Each ``loss`` call first moves the
    teacher towards the student of the previous step (``ema_update`` with a cosine momentum
    schedule over ``total_steps``), so the teacher is always the EMA of the student's updates.

    Args:
        backbone, neck: mmpretrain configs; ``neck`` must turn backbone outputs into (B, C)
            (e.g. ``GlobalAveragePooling``; ``None`` if the backbone returns (B, C) already).
        head_cfg: :class:`DINOProjectionHead` options (``in_dim`` required).
        total_steps: training length for the momentum and temperature schedules.
    """

    def __init__(self, backbone: dict, neck: dict | None = None, *, head_cfg: dict,
                 total_steps: int, num_global: int = 2, student_temp: float = 0.1,
                 teacher_temp: float = 0.04, warmup_teacher_temp: float = 0.04,
                 warmup_teacher_steps: int = 0, base_momentum: float = 0.996,
                 center_momentum: float = 0.9, data_preprocessor: dict | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(backbone=backbone, neck=neck, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.projection = DINOProjectionHead(**head_cfg)
        self.teacher = nn.ModuleDict(dict(backbone=copy.deepcopy(self.backbone),
                                          projection=copy.deepcopy(self.projection)))
        if self.with_neck:
            self.teacher['neck'] = copy.deepcopy(self.neck)
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.register_buffer('center', torch.zeros(1, head_cfg['out_dim']))
        self.register_buffer('step', torch.zeros((), dtype=torch.long))
        self.total_steps, self.num_global = total_steps, num_global
        self.student_temp, self.teacher_temp = student_temp, teacher_temp
        self.warmup_teacher_temp = warmup_teacher_temp
        self.warmup_teacher_steps = warmup_teacher_steps
        self.base_momentum, self.center_momentum = base_momentum, center_momentum

    def init_weights(self) -> None:
        super().init_weights()
        self._student_parts_to_teacher(momentum=0.0)  # start equal

    def _student_parts(self) -> nn.ModuleDict:
        parts = dict(backbone=self.backbone, projection=self.projection)
        if self.with_neck:
            parts['neck'] = self.neck
        return nn.ModuleDict(parts)

    def _student_parts_to_teacher(self, momentum: float) -> None:
        ema_update(self.teacher, self._student_parts(), momentum)

    def _embed(self, parts, x: Tensor) -> Tensor:
        feats = parts['backbone'](x)
        if 'neck' in parts:
            feats = parts['neck'](feats)
        if isinstance(feats, (tuple, list)):
            feats = feats[-1]
        return parts['projection'](feats.flatten(1))

    def loss(self, inputs: list[Tensor], data_samples=None) -> dict:
        step = int(self.step)
        if step > 0:  # the previous call's optimizer step moved the student
            self._student_parts_to_teacher(
                cosine_momentum(step, self.total_steps, base=self.base_momentum))
        with torch.no_grad():
            teacher_out = [self._embed(self.teacher, v) for v in inputs[:self.num_global]]
        student_out = [self._embed(self._student_parts(), v) for v in inputs]
        temp = teacher_temperature(step, warmup_steps=self.warmup_teacher_steps,
                                   warmup_temp=self.warmup_teacher_temp, temp=self.teacher_temp)
        loss = dino_loss(student_out, teacher_out, self.center,
                         student_temp=self.student_temp, teacher_temp=temp)
        self.center.copy_(updated_center(self.center, torch.cat(teacher_out),
                                         self.center_momentum))
        self.step += 1
        return dict(loss=loss)
