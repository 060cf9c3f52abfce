import numpy as np
import pytest

from altair.visualization.overlay import blend, colorize


def test_colorize_uses_palette_and_ignore_colour():
    labels = np.array([[0, 1], [255, 1]], dtype=np.uint8)
    out = colorize(labels, [(10, 20, 30), (40, 50, 60)], ignore_color=(1, 2, 3))
    assert out.tolist() == [[[10, 20, 30], [40, 50, 60]], [[1, 2, 3], [40, 50, 60]]]


def test_blend_is_the_weighted_mean_and_checks_inputs():
    a = np.full((2, 2, 3), 100, np.uint8)
    b = np.full((2, 2, 3), 201, np.uint8)
    assert blend(a, b, 0.5)[0, 0].tolist() == [150, 150, 150]  # 150.5 rounds to even
    assert np.array_equal(blend(a, b, 0.0), a) and np.array_equal(blend(a, b, 1.0), b)
    with pytest.raises(ValueError, match='alpha'):
        blend(a, b, 1.5)
    with pytest.raises(ValueError, match='shape'):
        blend(a, b[:1], 0.5)
