"""The measured receptive field against the arithmetic of stacked convolutions
(r_out = r_in + (k - 1) * jump, jump *= stride), and of the UNet of `altair init`."""
from __future__ import annotations

import pytest
from torch import nn

from altair.models.receptive_field import receptive_field


def _stack(*layers):
    return nn.Sequential(*layers).eval()


@pytest.mark.parametrize('n', [1, 2, 5])
def test_stacked_3x3_convolutions_see_2n_plus_1(n):
    net = _stack(*[nn.Conv2d(2, 2, 3, padding=1) for _ in range(n)])
    assert receptive_field(net, in_channels=2, size=64) == 2 * n + 1


def test_strides_and_dilations_multiply_the_step():
    # 3x3 stride 2 (3, jump 2), 3x3 dilation 2 at jump 2 (3 + 2*2*2 = 11), 5x5 (11 + 4*2 = 19)
    net = _stack(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(),
                 nn.Conv2d(4, 4, 3, dilation=2, padding=2), nn.BatchNorm2d(4), nn.ReLU(),
                 nn.Conv2d(4, 3, 5, padding=2))
    assert receptive_field(net, in_channels=1, size=64) == 19


def test_a_field_wider_than_the_probe_is_none():
    net = _stack(nn.Conv2d(1, 1, 3, padding=1), nn.AdaptiveAvgPool2d(1))  # global pooling
    assert receptive_field(net, in_channels=1, size=32) is None
    with pytest.raises(ValueError, match='size 0'):
        receptive_field(net, in_channels=1, size=0)


def test_the_init_unet_sees_about_a_hundred_pixels():
    # the arithmetic for configs/_base_/models/unet_s4-c32.py: encoder 2 convs at jump 1, 2, 4
    # and 8 with 2x2 pools between (5 + 1 + 8 + 2 + 16 + 4 + 32 = 68), decoder 2 convs at
    # jump 4, 2, 1 (+ 16 + 8 + 4) and the 3x3 head (+ 2) = 98; the bilinear upsamplings of
    # InterpConv each widen it by one step of their input, 8 + 4 + 2 = 14 at most
    from altair.api.init_models import model_receptive_field
    assert 98 <= model_receptive_field('unet') <= 98 + 14
    assert model_receptive_field('segformer') is None  # attention reaches the whole probe
