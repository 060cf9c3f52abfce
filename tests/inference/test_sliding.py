from __future__ import annotations

import pytest
import torch

from altair.inference.grid import WindowArgumentError, window_grid
from altair.inference.sliding import pad_to, sliding_window_inference
from tests.inference.helpers import numpy_stitch, position_dependent

K = 5


def _per_pixel(weight):
    """A per-pixel linear map: what any window sees of a pixel is the pixel itself."""
    def predictor(x):
        return torch.einsum('kc,bchw->bkhw', weight, x.float())
    return predictor


def _image(bands, height, width, dtype):
    g = torch.Generator().manual_seed(height * 1000 + width + bands)
    hi = 255 if dtype == torch.uint8 else 65535
    return torch.randint(0, hi + 1, (bands, height, width), generator=g).to(dtype)


@pytest.mark.parametrize('blend', ['constant', 'gaussian', 'linear'])
@pytest.mark.parametrize('overlap', [0.0, 0.25, 0.5, 0.9])
@pytest.mark.parametrize('bands,dtype', [(1, torch.uint8), (3, torch.uint8), (4, torch.int32)])
@pytest.mark.parametrize('size', [(1, 1), (7, 5), (37, 51), (16, 16)])
def test_stitched_equals_whole_image(blend, overlap, bands, dtype, size):
    # int32 holds uint16 values (torch has no uint16 arithmetic on every version)
    image = _image(bands, *size, torch.uint8 if dtype == torch.uint8 else torch.int32)
    if dtype != torch.uint8:
        image = image.clamp(0, 65535)
    weight = torch.randn(K, bands, generator=torch.Generator().manual_seed(bands))
    predictor = _per_pixel(weight)
    whole = predictor(image[None])[0]
    out = sliding_window_inference(image, predictor, window=(16, 12), overlap=overlap,
                                   num_classes=K, batch_size=3, blend=blend)
    assert out.shape == (K, *size) and out.dtype == torch.float32
    scale = whole.abs().max().clamp_min(1)
    torch.testing.assert_close(out / scale, whole / scale, rtol=1e-5, atol=1e-5)


def test_small_receptive_field_with_constant_padding_is_exact_inside():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, K, 3, padding=1)
    image = torch.randn(3, 40, 33)
    with torch.no_grad():
        whole = conv(image[None])[0]
        out = sliding_window_inference(image, conv, window=20, stride=10, num_classes=K,
                                       blend='constant')
    # a 3x3 conv sees one pixel past each window edge: pixels at least 1 px inside every
    # window that covers them agree exactly; check the interior of the first window
    torch.testing.assert_close(out[:, 1:9, 1:9], whole[:, 1:9, 1:9], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('blend', ['constant', 'gaussian', 'linear'])
def test_weights_sum_to_one_everywhere(blend):
    ones = sliding_window_inference(torch.zeros(2, 45, 70), lambda x: torch.ones(
        x.shape[0], 1, *x.shape[2:]), window=(16, 20), overlap=0.4, num_classes=1, blend=blend)
    torch.testing.assert_close(ones, torch.ones(1, 45, 70), rtol=0, atol=2e-7)


@pytest.mark.parametrize('blend', ['constant', 'gaussian', 'linear'])
@pytest.mark.parametrize('size,window,stride', [((45, 70), (16, 20), (10, 12)),
                                                ((33, 33), (32, 32), (1, 32)),
                                                ((64, 40), (16, 16), (16, 16))])
def test_stitched_equals_an_independent_numpy_stitcher(blend, size, window, stride):
    """Windows disagree (position-dependent logits), so only the right windows, weights and
    normalisation reproduce the NumPy reference."""
    image = torch.rand(3, *size, generator=torch.Generator().manual_seed(size[0]))
    predictor = position_dependent(torch.randn(K, 3, generator=torch.Generator().manual_seed(3)))
    out = sliding_window_inference(image, predictor, window=window, stride=stride,
                                   num_classes=K, batch_size=4, blend=blend)
    ref = numpy_stitch(image.numpy(), predictor, window, stride, blend)
    torch.testing.assert_close(out, torch.from_numpy(ref).float(), rtol=1e-5, atol=1e-4)


def test_gaussian_blend_counts_a_window_border_least():
    """Two windows (0..15 and 8..23) cover pixel column 9: at local column 9 of the first
    (near its centre) and 1 of the second (by its edge). The class-0 logit is the distance
    to the window edge, so the first window says 3 * 6 = 18 (row 7: 6 px from its bottom edge)
    and the second 3 * 1 = 3. Constant blending averages them; gaussian trusts the centre."""
    image = torch.zeros(1, 16, 24)
    predictor = position_dependent(torch.zeros(K, 1))
    kwargs = dict(window=(16, 16), stride=(16, 8), num_classes=K)
    const = sliding_window_inference(image, predictor, blend='constant', **kwargs)[0, 7, 9]
    gauss = sliding_window_inference(image, predictor, blend='gaussian', **kwargs)[0, 7, 9]
    assert float(const) == pytest.approx((3 * 6 + 3 * 1) / 2)
    assert float(gauss) > float(const) + 2  # pulled towards the centre window's 18
    assert float(gauss) == pytest.approx(
        float(numpy_stitch(image.numpy(), predictor, (16, 16), (16, 8), 'gaussian')[0, 7, 9]),
        rel=1e-5)
    # and where only one window covers a pixel, the blend cannot matter
    torch.testing.assert_close(
        sliding_window_inference(image, predictor, blend='gaussian', **kwargs)[:, :, :8],
        sliding_window_inference(image, predictor, blend='constant', **kwargs)[:, :, :8])


def test_streaming_equals_in_memory_exactly_and_is_banded():
    torch.manual_seed(1)
    image = torch.rand(3, 97, 61)
    conv = torch.nn.Conv2d(3, K, 5, padding=2)
    kwargs = dict(window=(24, 20), stride=(13, 17), num_classes=K, batch_size=5)
    full = sliding_window_inference(image, conv, **kwargs)
    bands = []
    with torch.no_grad():
        assert sliding_window_inference(image, conv, sink=lambda y, b, _: bands.append(
            (y, b.clone())), **kwargs) is None
    starts = [y for y, _ in bands]
    assert starts[0] == 0 and starts == sorted(starts) and len(bands) > 3
    assert max(b.shape[1] for _, b in bands) <= 24
    streamed = torch.cat([b for _, b in bands], 1)
    assert torch.equal(streamed, full)
    # and both equal an independent stitcher, not just each other
    with torch.no_grad():
        ref = numpy_stitch(image.numpy(), lambda w: conv(torch.from_numpy(w)[None])[0].numpy(),
                           (24, 20), (13, 17), 'gaussian')
    torch.testing.assert_close(streamed, torch.from_numpy(ref).float(), rtol=1e-5, atol=1e-5)


def test_batching_progress_and_devices():
    image = torch.rand(1, 30, 30)
    calls, done = [], []

    def predictor(x):
        calls.append(x.shape[0])
        return x.repeat(1, 2, 1, 1)
    out = sliding_window_inference(image, predictor, window=10, stride=5, num_classes=2,
                                   batch_size=4, progress=done.append,
                                   accumulate_device='cpu', device='cpu')
    n = len(window_grid(30, 30, (10, 10), (5, 5)))
    assert sum(calls) == n == sum(done) and max(calls) == 4
    torch.testing.assert_close(out, image.repeat(2, 1, 1))


def test_precision_bf16_runs_under_autocast():
    seen = []

    def predictor(x):
        y = torch.nn.functional.conv2d(x, torch.ones(2, 1, 1, 1))
        seen.append(y.dtype)
        return y
    out = sliding_window_inference(torch.rand(1, 20, 20), predictor, window=8, num_classes=2,
                                   precision='bf16', channels_last=True)
    assert seen and all(d == torch.bfloat16 for d in seen) and out.dtype == torch.float32


def test_preprocess_is_applied_per_batch():
    image = torch.full((1, 9, 9), 10.0)
    out = sliding_window_inference(image, lambda x: x, window=4, num_classes=1,
                                   preprocess=lambda x: (x - 4) / 2)
    torch.testing.assert_close(out, torch.full((1, 9, 9), 3.0), rtol=3e-7, atol=0)


def test_pad_to_reflect_and_constant():
    r = torch.tensor([[[1., 2., 3.]]])
    assert pad_to(r, (1, 8)).tolist() == [[[1, 2, 3, 2, 1, 2, 3, 2]]]
    assert pad_to(r, (2, 4), mode='constant', value=9).tolist() == [[[1, 2, 3, 9], [9, 9, 9, 9]]]
    assert pad_to(torch.tensor([[[5.]]]), (3, 2)).tolist() == [[[5, 5], [5, 5], [5, 5]]]


@pytest.mark.parametrize('kwargs,message', [
    (dict(batch_size=0), r'batch_size must be an int >= 1, got 0'),
    (dict(window=(0, 4)), r'window must be >= 1'),
    (dict(overlap=1.5), r'overlap must be in \[0, 1\)'),
    (dict(stride=20), r'stride must be in \[1, window\]'),
    (dict(pad_mode='wrap'), r"pad_mode must be one of reflect, constant, got 'wrap'"),
])
def test_invalid_arguments(kwargs, message):
    args = dict(window=8, num_classes=1)
    args.update(kwargs)
    with pytest.raises(WindowArgumentError, match=message):
        sliding_window_inference(torch.zeros(1, 10, 10), lambda x: x, **args)


def test_predictor_with_wrong_output_shape_is_reported():
    with pytest.raises(ValueError, match=r'predictor returned \(1, 3, 8, 8\)'):
        sliding_window_inference(torch.zeros(1, 8, 8), lambda x: x.repeat(1, 3, 1, 1),
                                 window=8, num_classes=2)


def test_labels_from_logits_equals_argmax_including_ties():
    from altair.inference.postprocess import labels_from_logits
    g = torch.Generator().manual_seed(3)
    logits = torch.randint(0, 4, (6, 33, 47), generator=g).float()  # many ties
    assert torch.equal(labels_from_logits(logits), logits.argmax(0))
    assert torch.equal(labels_from_logits(torch.randn(1, 3, 3)), torch.zeros(3, 3, dtype=torch.int64))


@pytest.mark.parametrize('size,n', [(10, 3), (10, 5), (10, 10), (7, 1), (4, 6)])
def test_shift_up_moves_rows_and_zeroes_the_tail(size, n):
    from altair.inference.sliding import _shift_up
    buf = torch.arange(1, size + 1, dtype=torch.float32)[None].repeat(2, 1)
    expected = torch.zeros_like(buf)
    if n < size:
        expected[:, :size - n] = buf[:, n:]
    _shift_up(buf, n, dim=1)
    assert torch.equal(buf, expected)


@pytest.mark.cuda
def test_gpu_windows_cpu_stitching_matches_cpu():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, K, 3, padding=1)
    image = torch.rand(3, 70, 90)
    kwargs = dict(window=32, overlap=0.5, num_classes=K, batch_size=4)
    cpu = sliding_window_inference(image, conv, **kwargs)
    gpu = sliding_window_inference(image, conv.cuda(), device='cuda', accumulate_device='cpu',
                                   **kwargs)
    assert gpu.device.type == 'cpu'
    torch.testing.assert_close(gpu, cpu, rtol=1e-4, atol=1e-4)
