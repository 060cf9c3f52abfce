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


def test_colorize_scalar_stretches_and_blacks_out_nodata():
    from matplotlib import colormaps

    from altair.visualization.overlay import colorize_scalar
    values = np.array([[0.2, 0.6], [1.0, np.nan]], np.float32)
    rgb = colorize_scalar(values)
    cmap = colormaps['magma']
    expect = [(np.asarray(cmap(v)[:3]) * 255).round() for v in (0.0, 0.5, 1.0)]
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert np.array_equal(rgb[0, 0], expect[0]) and np.array_equal(rgb[1, 0], expect[2])
    assert np.abs(rgb[0, 1].astype(int) - expect[1]).max() <= 1
    assert (rgb[1, 1] == 0).all()
    assert np.array_equal(colorize_scalar(values, vmin=0, vmax=2)[1, 0],
                          (np.asarray(cmap(0.5)[:3]) * 255).round())


@pytest.mark.parametrize('width, rows', [(400, 1), (70, 3)])
def test_legend_shows_each_class_colour_as_a_square_beside_its_name(width, rows):
    """Each palette colour appears as one SWATCH x SWATCH square (found by its colour, not by
    the layout), dark text right of it, the rows wrapping where the width is used up."""
    from altair.visualization.overlay import ROW, SWATCH, with_legend
    rgb = np.full((30, width, 3), 128, np.uint8)
    palette = [(200, 30, 40), (20, 180, 60), (30, 60, 220)]
    out = with_legend(rgb, ['water', 'forest', 'barren'], palette)
    assert np.array_equal(out[:30], rgb) and out.shape == (30 + rows * ROW, width, 3)
    strip = out[30:]
    tops = []
    for colour in palette:
        ys, xs = np.nonzero((strip == colour).all(-1))
        assert len(ys) == SWATCH * SWATCH
        assert ys.max() - ys.min() == xs.max() - xs.min() == SWATCH - 1
        text = strip[ys.min():ys.max() + 1, xs.max() + 2:xs.max() + 40]
        assert (text.max(-1) < 100).sum() > 5  # dark text beside the square
        tops.append(ys.min())
    assert len(set(np.array(tops) // ROW)) == rows


def test_legend_names_the_classes_of_a_model_without_names():
    from altair.visualization.overlay import ROW, with_legend
    out = with_legend(np.zeros((4, 300, 3), np.uint8), None, [(255, 0, 0), (0, 0, 255)])
    assert out.shape == (4 + ROW, 300, 3)
    assert ((out[4:] == (255, 0, 0)).all(-1)).any() and ((out[4:] == (0, 0, 255)).all(-1)).any()
