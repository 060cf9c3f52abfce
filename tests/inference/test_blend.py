import pytest
import torch

from altair.inference.blend import BlendModeError, blend_weights


@pytest.mark.parametrize('mode', ['constant', 'gaussian', 'linear'])
@pytest.mark.parametrize('window', [(1, 1), (5, 8), (64, 64)])
def test_weights_are_positive_symmetric_and_peak_at_one(mode, window):
    w = blend_weights(window, mode)
    assert w.shape == window and w.dtype == torch.float32
    assert w.min() > 0 and w.max() == 1
    torch.testing.assert_close(w, w.flip(0))
    torch.testing.assert_close(w, w.flip(1))


def test_modes_have_their_shapes():
    assert torch.all(blend_weights((4, 6), 'constant') == 1)
    lin = blend_weights((1, 6), 'linear')[0]
    torch.testing.assert_close(lin, torch.tensor([1, 2, 3, 3, 2, 1]) / 3.0)
    g = blend_weights((1, 65), 'gaussian', sigma_scale=0.125)[0].double()
    sigma = 0.125 * 65
    for d in (1, 8, 20):  # exp(-d^2 / (2 sigma^2)) relative to the centre
        assert abs(float(g[32 + d]) - float(torch.exp(torch.tensor(-0.5 * (d / sigma) ** 2)))) < 1e-6
    assert g[0] < 0.01 and g.argmax() == 32


def test_bad_mode_and_sigma():
    with pytest.raises(BlendModeError, match="unknown blend mode 'gauss'; choose one of constant, gaussian, linear"):
        blend_weights((4, 4), 'gauss')
    with pytest.raises(BlendModeError, match='sigma_scale must be > 0'):
        blend_weights((4, 4), 'gaussian', sigma_scale=0)
