"""DINO's rules against the paper's formulas and a NumPy reference."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from altair.models.selfsup.dino_math import (cosine_momentum, dino_loss, ema_update,
                                             teacher_temperature, updated_center)


def test_momentum_rises_from_base_to_one_on_a_cosine():
    assert cosine_momentum(0, 100) == pytest.approx(0.996)
    assert cosine_momentum(100, 100) == pytest.approx(1.0)
    assert cosine_momentum(50, 100) == pytest.approx(0.998)
    assert cosine_momentum(25, 100) == pytest.approx(1 - 0.004 * (math.cos(math.pi / 4) + 1) / 2)
    assert cosine_momentum(150, 100) == 1.0  # clamped past the end


def test_teacher_temperature_warms_up_linearly():
    temps = [teacher_temperature(s, warmup_steps=10, warmup_temp=0.04, temp=0.07)
             for s in (0, 5, 10, 50)]
    assert temps == pytest.approx([0.04, 0.055, 0.07, 0.07])


def test_teacher_is_the_ema_of_the_student_by_the_formula():
    torch.manual_seed(0)
    student = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    teacher = copy.deepcopy(student)
    for p in teacher.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        for p in student.parameters():
            p.add_(torch.randn_like(p))
        student[1].running_mean.fill_(0.5)
    before = [p.clone() for p in teacher.parameters()]
    ema_update(teacher, student, 0.9)
    for t, b, s in zip(teacher.parameters(), before, student.parameters()):
        torch.testing.assert_close(t, 0.9 * b + 0.1 * s)
        assert not t.requires_grad
    assert torch.equal(teacher[1].running_mean, student[1].running_mean)


def test_center_update():
    center = torch.zeros(1, 3)
    out = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    new = updated_center(center, out, 0.9)
    torch.testing.assert_close(new, torch.tensor([[0.2, 0.2, 0.2]]))
    torch.testing.assert_close(updated_center(new, out, 0.5), torch.tensor([[1.1, 1.1, 1.1]]))


def _np_loss(students, teachers, center, ts, tt):
    def softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)
    total, n = 0.0, 0
    for i, t in enumerate(teachers):
        p = softmax((t - center) / tt)
        for j, s in enumerate(students):
            if i != j:
                total += (-p * np.log(softmax(s / ts))).sum(-1).mean()
                n += 1
    return total / n


def test_loss_matches_numpy_and_skips_same_crop_pairs():
    g = torch.Generator().manual_seed(0)
    students = [torch.randn(4, 6, generator=g) for _ in range(4)]  # 2 global + 2 local crops
    teachers = [torch.randn(4, 6, generator=g) for _ in range(2)]
    center = torch.randn(1, 6, generator=g)
    loss = dino_loss(students, teachers, center, student_temp=0.1, teacher_temp=0.04)
    expected = _np_loss([s.numpy() for s in students], [t.numpy() for t in teachers],
                        center.numpy(), 0.1, 0.04)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # a student identical to the teacher on the same crop is not rewarded: pairs i == j skipped
    same = dino_loss(teachers, teachers, torch.zeros(1, 6), student_temp=0.04, teacher_temp=0.04)
    swapped = dino_loss(teachers[::-1], teachers, torch.zeros(1, 6), student_temp=0.04,
                        teacher_temp=0.04)
    assert same.item() != pytest.approx(swapped.item())


def test_loss_sends_gradients_to_the_student_only():
    students = [torch.randn(2, 5, requires_grad=True) for _ in range(3)]
    teachers = [torch.randn(2, 5, requires_grad=True) for _ in range(2)]
    dino_loss(students, teachers, torch.zeros(1, 5), student_temp=0.1,
              teacher_temp=0.04).backward()
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in students)
    assert all(t.grad is None for t in teachers)
