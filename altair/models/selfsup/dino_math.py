"""DINO's training rules as pure functions (Caron et al., "Emerging Properties in
Self-Supervised Vision Transformers", ICCV 2021).

A student network is trained to match a teacher on different crops of one image; the teacher
is an exponential moving average (EMA) of the student and receives no gradients. Its outputs
are centred (a running mean is subtracted) and sharpened (a low temperature) to avoid
collapse. mmpretrain 1.2.0 ships DINO's forward pass only; these are the rules its training
needs, kept free of models and configs so tests check them against the paper's formulas.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def cosine_momentum(step: int, total: int, *, base: float = 0.996, final: float = 1.0
                    ) -> float:
    """Teacher EMA momentum at ``step`` of ``total``: ``final - (final - base) *
    (cos(pi * step / total) + 1) / 2``, rising from ``base`` to ``final``."""
    progress = min(max(step, 0), total) / max(total, 1)
    return final - (final - base) * (math.cos(math.pi * progress) + 1) / 2


def teacher_temperature(step: int, *, warmup_steps: int, warmup_temp: float = 0.04,
                        temp: float = 0.04) -> float:
    """Linear from ``warmup_temp`` to ``temp`` over ``warmup_steps``, then ``temp``."""
    if step >= warmup_steps or warmup_steps <= 0:
        return temp
    return warmup_temp + (temp - warmup_temp) * step / warmup_steps


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """``teacher <- momentum * teacher + (1 - momentum) * student`` for every parameter;
    buffers (e.g. BN statistics) are copied from the student."""
    for t, s in zip(teacher.parameters(), student.parameters()):
        t.mul_(momentum).add_(s.detach(), alpha=1.0 - momentum)
    for t, s in zip(teacher.buffers(), student.buffers()):
        t.copy_(s)


@torch.no_grad()
def updated_center(center: Tensor, teacher_out: Tensor, momentum: float) -> Tensor:
    """``momentum * center + (1 - momentum) * mean(teacher_out)`` over the batch (and over all
    processes when distributed), shape (1, K)."""
    mean = teacher_out.mean(dim=0, keepdim=True)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(mean)
        mean /= torch.distributed.get_world_size()
    return center * momentum + mean * (1.0 - momentum)


def dino_loss(student_out: Sequence[Tensor], teacher_out: Sequence[Tensor], center: Tensor,
              *, student_temp: float, teacher_temp: float) -> Tensor:
    """Mean cross-entropy between the centred, sharpened teacher distribution of each global
    crop and the student distribution of every *other* crop.

    Args:
        student_out: per crop (B, K) logits; the first ``len(teacher_out)`` crops are the
            global crops the teacher saw, in the same order.
        teacher_out: per global crop (B, K) logits.
        center: (1, K) running mean of teacher logits.
    """
    targets = [F.softmax((t - center) / teacher_temp, dim=-1).detach() for t in teacher_out]
    logs = [F.log_softmax(s / student_temp, dim=-1) for s in student_out]
    terms = [(-p * q).sum(dim=-1).mean() for i, p in enumerate(targets)
             for j, q in enumerate(logs) if i != j]
    return torch.stack(terms).mean()
