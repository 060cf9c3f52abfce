"""``slab_logits`` against the sliding-window engine run slice by slice (which
tests/inference/test_sliding.py checks against a NumPy stitcher) and MONAI's inferer."""
from __future__ import annotations

import pytest
import torch

from altair.inference.grid import WindowArgumentError
from altair.inference.slab import slab_logits
from altair.inference.sliding import sliding_window_inference


def conv_predictor(channels: int = 2, classes: int = 3):
    """A fixed 3x3 convolution: each output pixel depends on its neighbours, so windows that
    cut the context or pad differently give different logits."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(channels, classes, 3, padding=1).eval()
    return lambda x: conv(x)


@pytest.mark.parametrize('shape, window, blend', [
    ((5, 2, 20, 28), (32, 32), 'gaussian'),   # slices smaller than the window: padded
    ((3, 2, 32, 32), (32, 32), 'gaussian'),   # one window a slice
    ((4, 2, 45, 70), (32, 32), 'gaussian'),   # several windows a slice, overlapping
    ((2, 2, 45, 70), (16, 24), 'linear'),
])
@pytest.mark.parametrize('batch', [1, 3, 16])
def test_each_slice_equals_the_engine_on_that_slice(shape, window, blend, batch):
    slab = torch.rand(shape)
    predictor = conv_predictor()
    got = slab_logits(slab, predictor, window=window, overlap=0.25, num_classes=3,
                      batch_size=batch, blend=blend)
    want = torch.stack([sliding_window_inference(s, predictor, window=window, overlap=0.25,
                                                 num_classes=3, batch_size=2, blend=blend)
                        for s in slab])
    assert got.shape == (shape[0], 3, *shape[2:])
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_matches_monai_sliding_window_inference_with_constant_weights():
    from monai import inferers as monai  # a test requirement
    slab = torch.rand(3, 2, 40, 56)
    predictor = conv_predictor()
    got = slab_logits(slab, predictor, window=(32, 32), stride=(16, 24), num_classes=3,
                      batch_size=4, blend='constant')
    # MONAI: overlap 0.5 / 0.25 of 32 gives the same steps (16, 24); constant importance map
    want = monai.sliding_window_inference(slab, (32, 32), 4, predictor, overlap=(0.5, 0.25),
                                          mode='constant')
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_preprocess_and_channels_last_apply_to_every_window():
    slab = torch.rand(2, 1, 32, 40)
    seen = []

    def predictor(x):
        seen.append((x.is_contiguous(memory_format=torch.channels_last), float(x.min())))
        return torch.cat([x, -x], 1)
    out = slab_logits(slab, predictor, window=(32, 32), num_classes=2, batch_size=2,
                      preprocess=lambda x: x + 10, channels_last=True)
    assert all(cl and lo >= 10 for cl, lo in seen)
    torch.testing.assert_close(out[:, 0], slab[:, 0] + 10)


def test_extra_channels_beyond_the_classes_are_dropped():
    slab = torch.rand(2, 1, 16, 16)
    out = slab_logits(slab, lambda x: torch.cat([x, 2 * x, 3 * x], 1), window=16,
                      num_classes=2, batch_size=1)
    assert out.shape == (2, 2, 16, 16)


@pytest.mark.parametrize('kwargs, match', [
    (dict(batch_size=0), 'batch_size'),
    (dict(batch_size=True), 'batch_size'),
    (dict(overlap=1.0), 'overlap'),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(WindowArgumentError, match=match):
        slab_logits(torch.rand(1, 1, 8, 8), lambda x: x, window=8, num_classes=1,
                    **kwargs)


def test_a_slab_must_be_four_dimensional():
    with pytest.raises(WindowArgumentError, match='slab must be'):
        slab_logits(torch.rand(1, 8, 8), lambda x: x, window=8, num_classes=1)
