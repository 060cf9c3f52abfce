"""Losses mmseg lacks: a softmax focal loss, and a cross-entropy whose class weights may be
computed from the training masks.

mmseg's ``FocalLoss`` is the sigmoid form; off CUDA it one-hot encodes the target and keeps one
column of it instead of all of them (``target[:, num_classes]``), so on the CPU it fails for
every multi-class input. ``SoftmaxFocalLoss`` is the multi-class form of Lin et al. (ICCV 2017),
``FL = -w_y (1 - p_y)^gamma log p_y`` per labelled pixel, with mmseg's ``class_weight``
(``'auto'`` included, see ``altair.datasets.class_weights``) as ``w``; ``gamma = 0`` is
mmseg's weighted cross-entropy.

``AutoWeightCrossEntropyLoss`` is mmseg's ``CrossEntropyLoss`` that also takes a method name
(``class_weight='auto'``, ``'median_frequency'``, ``'inverse_frequency'``). ``altair train``
replaces the name by the weights counted from the training masks before the model is built
(``altair.datasets.class_weights.resolve_class_weights``), so the run's saved config holds the
numbers. Built anywhere else (mmseg's ``init_model``, ``MODELS.build``, ``tools/train.py``)
there are no masks to count: the loss is built without class weights and warns. mmseg's
own ``CrossEntropyLoss`` would read ``'auto'`` as a file name and fail to build.

With class weights, mmseg's ``cross_entropy`` normalises the mean by ``class_weight[label]``
for every pixel, the ignore index included, so any unlabelled or nodata pixel (255) makes it
fail with an IndexError (open-mmlab/mmsegmentation#3734). ``AutoWeightCrossEntropyLoss``
computes that normaliser over the labelled pixels only, which is PyTorch's weighted mean
(``F.cross_entropy(weight=..., ignore_index=..., reduction='mean')``).
"""
from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from mmseg.models.losses import CrossEntropyLoss
from mmseg.models.losses.cross_entropy_loss import cross_entropy
from torch import Tensor, nn

from altair.config import check_weight_method, is_weight_method
from altair.registry import MODELS

logger = logging.getLogger('altair')


def split_class_weight(class_weight, owner: str) -> tuple[list[float] | str | None, str | None]:
    """``(weights, method)`` of a loss's ``class_weight``: a method name (checked) gives
    ``(None, name)`` and a warning that the loss is built without weights; anything else
    (numbers, a file name, None) is returned as the weights, with method None.

    Raises:
        ClassWeightError: an unknown method name, naming ``owner`` and the accepted ones.
    """
    if not is_weight_method(class_weight):
        return class_weight, None
    check_weight_method(class_weight, owner)
    logger.warning("%s: class_weight %r is counted from the training masks by `altair "
                   "train`; built here without class weights (inference is unchanged; to "
                   "train with them elsewhere, call altair.datasets.class_weights."
                   "resolve_class_weights(cfg) before building)", owner, class_weight)
    return None, class_weight


def softmax_focal_loss(logits: Tensor, target: Tensor, *, gamma: float = 2.0,
                       class_weight: Tensor | None = None, ignore_index: int = 255) -> Tensor:
    """Mean focal loss over the labelled pixels.

    Args:
        logits: ``(N, C, H, W)`` scores.
        target: ``(N, H, W)`` class indices, ``ignore_index`` where unlabelled.
        gamma: focusing exponent (0 = cross-entropy).
        class_weight: ``(C,)`` per-class weights; the mean is then weighted (sum of
            ``w_y * loss`` over the sum of ``w_y``), as ``F.cross_entropy`` weights.

    Returns:
        A scalar (0 when no pixel is labelled).
    """
    valid = target != ignore_index
    y = torch.where(valid, target, torch.zeros_like(target))
    logp = F.log_softmax(logits.float(), dim=1).gather(1, y[:, None])[:, 0]
    loss = -((1 - logp.exp()).clamp(min=0) ** gamma) * logp
    w = valid.to(loss.dtype)
    if class_weight is not None:
        w = w * class_weight.to(loss)[y]
    return (loss * w).sum() / w.sum().clamp(min=torch.finfo(loss.dtype).tiny)


@MODELS.register_module()
class SoftmaxFocalLoss(nn.Module):
    """``softmax_focal_loss`` as an mmseg decode-head loss (``loss_name`` ``loss_focal``)."""

    def __init__(self, *, gamma: float = 2.0, class_weight: list[float] | str | None = None,
                 loss_weight: float = 1.0, ignore_index: int = 255,
                 loss_name: str = 'loss_focal') -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f'SoftmaxFocalLoss: gamma {gamma} is negative')
        self.gamma, self.loss_weight, self.ignore_index = float(gamma), loss_weight, ignore_index
        self.class_weight, self.weight_method = split_class_weight(class_weight,
                                                                   type(self).__name__)
        self._loss_name = loss_name

    def forward(self, pred: Tensor, target: Tensor, weight=None, ignore_index: int | None = None,
                **kwargs) -> Tensor:
        cw = None if self.class_weight is None else pred.new_tensor(self.class_weight)
        index = self.ignore_index if ignore_index is None else ignore_index
        return self.loss_weight * softmax_focal_loss(pred, target, gamma=self.gamma,
                                                     class_weight=cw, ignore_index=index)

    @property
    def loss_name(self) -> str:
        return self._loss_name


def weighted_cross_entropy(pred: Tensor, label: Tensor, weight: Tensor | None = None,
                           class_weight: Tensor | None = None, reduction: str = 'mean',
                           avg_factor: float | None = None, ignore_index: int = -100,
                           avg_non_ignore: bool = False) -> Tensor:
    """mmseg's ``cross_entropy`` (same arguments), except that with ``class_weight`` and a
    mean the normaliser is the sum of the class weights of the labelled pixels only.

    Args:
        pred: ``(N, C, H, W)`` logits.
        label: ``(N, H, W)`` class indices, ``ignore_index`` where unlabelled.
    """
    if class_weight is not None and reduction == 'mean' and avg_factor is None:
        labelled = label != ignore_index
        avg_factor = class_weight[label[labelled]].sum()
    return cross_entropy(pred, label, weight, class_weight=class_weight, reduction=reduction,
                         avg_factor=avg_factor, ignore_index=ignore_index,
                         avg_non_ignore=avg_non_ignore)


@MODELS.register_module()
class AutoWeightCrossEntropyLoss(CrossEntropyLoss):
    """mmseg's ``CrossEntropyLoss`` (same arguments, same ``loss_ce`` name and numbers) whose
    ``class_weight`` may also be a method name; see the module docstring.

    Attributes:
        weight_method: the method name it was given (None for numbers, a file or None).
    """

    def __init__(self, *, class_weight: list[float] | str | None = None, **kwargs) -> None:
        weights, method = split_class_weight(class_weight, type(self).__name__)
        super().__init__(class_weight=weights, **kwargs)
        self.weight_method = method
        if self.cls_criterion is cross_entropy:  # not the sigmoid or mask forms
            self.cls_criterion = weighted_cross_entropy
