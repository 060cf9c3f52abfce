"""DINO trains: loss finite and falling on a fixed batch, gradients reach the backbone, the
teacher is the EMA of the student by the formula and receives no gradients."""
from __future__ import annotations

import copy

import torch
from mmengine.registry import DefaultScope

from altair.models.selfsup.dino_math import cosine_momentum
from altair.registry import MODELS


def _dino(total_steps: int = 10):
    # Altair's scope; mmpretrain's parts by scoped name (how a selfsup config will name them)
    cfg = dict(type='DINO',
               backbone=dict(type='mmpretrain.ResNet', depth=18, stem_channels=8,
                             base_channels=8, out_indices=(3,)),
               neck=dict(type='mmpretrain.GlobalAveragePooling'),
               head_cfg=dict(in_dim=64, hidden_dim=32, bottleneck_dim=16, out_dim=32),
               total_steps=total_steps, base_momentum=0.9,
               data_preprocessor=dict(type='mmpretrain.SelfSupDataPreprocessor',
                                      mean=[0, 0, 0], std=[1, 1, 1]))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(cfg)
    model.init_weights()
    return model


def _views():
    g = torch.Generator().manual_seed(1)
    return [torch.randn(4, 3, 32, 32, generator=g) for _ in range(2)] + \
           [torch.randn(4, 3, 16, 16, generator=g) for _ in range(2)]


def test_teacher_starts_equal_and_gets_no_gradients():
    model = _dino()
    for t, s in zip(model.teacher['backbone'].parameters(), model.backbone.parameters()):
        assert torch.equal(t, s) and not t.requires_grad
    loss = model.loss(_views())['loss']
    loss.backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    grads = [p.grad for p in model.backbone.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0


def test_loss_falls_and_the_teacher_follows_the_student_by_the_formula():
    model = _dino(total_steps=10)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05)
    views, losses = _views(), []
    for step in range(6):
        teacher_before = [p.clone() for p in model.teacher['backbone'].parameters()]
        student_now = [p.detach().clone() for p in model.backbone.parameters()]
        center_before = model.center.clone()
        loss = model.loss(views)['loss']
        if step > 0:  # this call moved the teacher towards the student of the last update
            m = cosine_momentum(step, 10, base=0.9)
            for t, b, s in zip(model.teacher['backbone'].parameters(), teacher_before,
                               student_now):
                torch.testing.assert_close(t, m * b + (1 - m) * s)
        assert not torch.equal(model.center, center_before)  # centring moved
        assert torch.isfinite(loss)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert losses[-1] < losses[0], losses


def test_center_is_the_running_mean_of_teacher_outputs():
    model = _dino()
    views = _views()
    with torch.no_grad():
        teacher = copy.deepcopy(model.teacher)
        outs = torch.cat([model._embed(teacher, v) for v in views[:2]])
    model.loss(views)
    torch.testing.assert_close(model.center, 0.1 * outs.mean(0, keepdim=True))


def test_parts_are_mmpretrains():
    model = _dino()
    assert type(model.backbone).__module__.startswith('mmpretrain')
    assert type(model.data_preprocessor).__name__ == 'SelfSupDataPreprocessor'
