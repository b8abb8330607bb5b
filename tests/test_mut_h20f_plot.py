"""What :mod:`labelavg.plot` draws, read back from the Figure (Agg, in-process, small
inputs): colours and line widths that do not depend on the user's matplotlib style,
exact (Fraction) input, legends of every boundary layout, discrete colour scales."""

import math
from fractions import Fraction

import matplotlib
import numpy as np
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.colors import same_color

from labelavg import plot
from labelavg.phase import PhaseDiagram


def _texts(legend):
    return [t.get_text() for t in legend.get_texts()]


def test_gram_heatmap_draws_exact_fractions_as_floats():
    """gram_heatmap accepts an exact Gram (Fractions, object dtype) and draws its float
    values: 1, 1/2, 1/3 by hand."""
    third = Fraction(1, 3)
    gram = np.array([[Fraction(1), Fraction(1, 2)], [Fraction(1, 2), third]], dtype=object)
    image = plot.gram_heatmap(gram).axes[0].images[0]
    np.testing.assert_array_equal(np.asarray(image.get_array(), dtype=float),
                                  [[1.0, 0.5], [0.5, 1 / 3]])
    assert image.get_clim() == pytest.approx((1 / 3, 1.0))


def test_gram_heatmap_style_is_fixed_whatever_the_rc_settings():
    """gram_heatmap's look does not follow the user's rcParams: viridis even when
    image.cmap is 'gray', class boundaries white and 0.6 pt wide even when
    lines.linewidth is 3."""
    gram = np.eye(4)
    with matplotlib.rc_context({"image.cmap": "gray", "lines.linewidth": 3.0}):
        ax = plot.gram_heatmap(gram, labels=[0, 0, 1, 1]).axes[0]
    assert ax.images[0].get_cmap().name == "viridis"
    assert len(ax.lines) == 2
    for line in ax.lines:
        assert line.get_linewidth() == 0.6 and same_color(line.get_color(), "white")


def _diagram(axes, xs, ys, t_star, least, max_rounds=3):
    params = dict(n_classes=4, n_per_class=100, c=0.4, d=0.1, lam=1e-3, noise="symmetric",
                  max_rounds=max_rounds)
    for name in axes:
        params.pop(name, None)
    shape = (len(xs), len(ys))
    return PhaseDiagram(axes=axes, axis_values=(np.asarray(xs), np.asarray(ys)),
                        values={"label_correction": np.ones(shape)},
                        boundary={"t_star": np.asarray(t_star, dtype=float),
                                  "least_round": np.asarray(least, dtype=float)},
                        method="exact", params=params)


def test_phase_map_rounds_on_x_legend_names_both_boundaries():
    """phase_map with t on the x axis: the legend names the linearised t* and the solved
    method's least round, and both step lines sit half a round left of their t."""
    diagram = _diagram(("rounds", "eta"), [1, 2, 3], [0.1, 0.3], [[1, 2]] * 3, [[2, 3]] * 3)
    ax = plot.phase_map(diagram).axes[0]
    assert _texts(ax.get_legend()) == ["linearised t* (Result 3)", "exact least round"]
    t_star, least = ax.lines
    np.testing.assert_allclose(t_star.get_xdata(), [0.5, 1.5])
    np.testing.assert_allclose(least.get_xdata(), [1.5, 2.5])
    np.testing.assert_allclose(least.get_ydata(), [0.1, 0.3])


def test_fixed_text_symbols():
    """The fixed-parameter text of phase maps: K, n, c, d, λ, η in symbols (lower-case d
    for the across-class cosine), then the noise."""
    diagram = _diagram(("rounds", "c"), [1, 2], [0.3, 0.5], [[1, 1]] * 2, [[1, 1]] * 2)
    diagram.params["eta"] = 0.25
    assert plot._fixed_text(diagram) == "K=4, n=100, d=0.1, λ=0.001, η=0.25, symmetric noise"


def test_least_round_panels_colour_every_round_from_one():
    """least_round_map: the t* and least-round panels map each integer 1..max_rounds to
    its own colour (boundaries 0.5, 1.5, ..., max_rounds + 0.5), so t = 1 has a colour;
    the difference panel is symmetric about 0 (span = largest |gap|, here 2)."""
    diagram = _diagram(("eta", "lam"), [0.1, 0.3], [1e-4, 1e-3],
                       [[1, 2], [3, 4]], [[1, 4], [3, math.nan]], max_rounds=4)
    fig = plot.least_round_map(diagram)
    meshes = [next(c for c in ax.collections if isinstance(c, QuadMesh))
              for ax in fig.axes if ax.get_title()]
    assert len(meshes) == 3
    for mesh in meshes[:2]:
        np.testing.assert_allclose(mesh.norm.boundaries, [0.5, 1.5, 2.5, 3.5, 4.5])
        assert mesh.cmap.N == 4
    np.testing.assert_allclose(meshes[2].norm.boundaries, np.arange(-2.5, 3))
    solved = np.ma.asarray(meshes[1].get_array()).reshape(2, 2)     # rows: λ, columns: η
    np.testing.assert_array_equal(np.ma.getmaskarray(solved), [[False, False], [False, True]])
    np.testing.assert_array_equal(solved.compressed(), [1, 3, 4])
