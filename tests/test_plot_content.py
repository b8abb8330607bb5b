"""What each :mod:`labelavg.plot` figure shows, read back from the Figure in-process:
the plotted data against hand values (closed forms, hand counts), the axis labels,
limits, scales, legends and titles a reader sees. Small inputs; nothing is rendered."""

import math

import numpy as np
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.colors import same_color

from labelavg import plot
from labelavg.phase import PhaseDiagram


def _texts(legend):
    return [t.get_text() for t in legend.get_texts()]


# --------------------------------------------------------------------------- matrices


def test_gram_heatmap_draws_the_matrix_and_class_boundaries():
    gram = np.array([[1.0, 0.5, 0.1], [0.5, 1.0, 0.1], [0.1, 0.1, 1.0]])
    fig = plot.gram_heatmap(gram, labels=[0, 0, 1])
    ax = fig.axes[0]
    assert len(fig.axes) == 2                               # the map and its colour bar
    np.testing.assert_array_equal(ax.images[0].get_array(), gram)
    assert ax.images[0].get_cmap().name == "viridis"
    assert fig.axes[1].get_ylabel() == "Φ_ij = ⟨φ(x_i), φ(x_j)⟩"
    # one class change, between instances 1 and 2: a line at 1.5 each way
    assert sorted(tuple(line.get_ydata()) for line in ax.lines) == [(0, 1), (1.5, 1.5)]
    assert sorted(tuple(line.get_xdata()) for line in ax.lines) == [(0, 1), (1.5, 1.5)]
    assert ax.get_xlabel() == "instance j (sorted by class)"
    assert ax.get_ylabel() == "instance i (sorted by class)"
    assert ax.get_title() == "Gram matrix Φ"
    bare = plot.gram_heatmap(gram, title="mine")
    assert len(bare.axes[0].lines) == 0 and bare.axes[0].get_title() == "mine"


def test_correlation_heatmap_cells_ticks_and_defaults():
    matrix = np.array([[0.5, -0.1], [0.2, 0.35]])
    fig = plot.correlation_heatmap(matrix)
    ax = fig.axes[0]
    assert ax.images[0].get_cmap().name == "RdBu_r"
    assert fig.axes[1].get_ylabel() == "correlation"
    assert ax.get_title() == "correlation matrix"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "1"]
    assert [t.get_rotation() for t in ax.get_xticklabels()] == [0, 0]
    # cells written row by row; white where |value| > 0.6 × 0.5 = 0.3
    cells = [(t.get_text(), t.get_position(), t.get_color()) for t in ax.texts]
    assert cells == [("0.50", (0, 0), "white"), ("-0.10", (1, 0), "black"),
                     ("0.20", (0, 1), "black"), ("0.35", (1, 1), "white")]
    assert plot.correlation_heatmap(np.zeros((2, 2))).axes[0].images[0].get_clim() == (-1, 1)


def test_correlation_heatmap_large_matrix_rotates_and_leaves_cells_empty():
    seven = plot.correlation_heatmap(np.eye(7), title="t").axes[0]
    assert {t.get_rotation() for t in seven.get_xticklabels()} == {90}
    assert len(seven.texts) == 49 and seven.get_title() == "t"
    assert len(plot.correlation_heatmap(np.eye(12)).axes[0].texts) == 144
    assert len(plot.correlation_heatmap(np.eye(13)).axes[0].texts) == 0


# --------------------------------------------------------------------------- label averaging


def test_eigenvalue_filter_curves_are_powers_of_g():
    # μ = 3, 1, 0 (given unsorted), K = 1, N = 3, λ = 1/3: KNλ = 1, g = 3/4, 1/2, 0
    fig = plot.eigenvalue_filter([0.0, 3.0, 1.0], lam=1 / 3, n_classes=1, rounds=(1, 2))
    ax = fig.axes[0]
    (one, two) = ax.lines
    np.testing.assert_array_equal(one.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(one.get_ydata(), [3 / 4, 1 / 2, 0], rtol=1e-15)
    np.testing.assert_allclose(two.get_ydata(), [9 / 16, 1 / 4, 0], rtol=1e-15)
    assert _texts(ax.get_legend()) == ["t = 1", "t = 2", "top K = 1"]
    band = ax.patches[0]                                     # the top-K band
    assert (band.get_x(), band.get_x() + band.get_width()) == (0.5, 1.5)
    assert ax.get_xlim() == (0.5, 3.5) and ax.get_ylim() == (0, 1.02)
    assert ax.get_xlabel() == "eigenvalue index m (μ_m descending)"
    assert ax.get_ylabel() == "g(μ_m)ᵗ, eigenvalue of Gᵗ"
    assert ax.get_title() == "label-averaging filter, λ = 0.333333"


def test_eigenvalue_filter_shows_five_k_by_default_and_top_on_request():
    evals = np.arange(30.0)
    default = plot.eigenvalue_filter(evals, lam=1e-3, n_classes=2).axes[0]
    assert [len(line.get_xdata()) for line in default.lines] == [10] * 4   # t = 1, 2, 4, 8
    assert _texts(default.get_legend())[:4] == ["t = 1", "t = 2", "t = 4", "t = 8"]
    assert default.get_xlim() == (0.5, 10.5)
    few = plot.eigenvalue_filter(evals, lam=1e-3, n_classes=2, top=4, rounds=(3,),
                                 title="x").axes[0]
    assert [len(line.get_xdata()) for line in few.lines] == [4] and few.get_title() == "x"


def test_simplex_projection_puts_one_hot_outputs_on_the_corners():
    # K = 4 corners at angles 90°, 180°, 270°, 0°: e0 top, e1 left, e2 bottom, e3 right
    one_hot = np.eye(4)
    uniform = np.full((4, 4), 0.25)
    fig = plot.simplex_projection({"teacher": one_hot, "t = 2": uniform}, [0, 1, 2, 3],
                                  title="both")
    first, second = fig.axes
    points = np.vstack([c.get_offsets() for c in first.collections])
    np.testing.assert_allclose(points, [[0, 1], [-1, 0], [0, -1], [1, 0]], atol=1e-15)
    centre = np.vstack([c.get_offsets() for c in second.collections])
    np.testing.assert_allclose(centre, np.zeros((4, 2)), atol=1e-15)
    ring = first.lines[0].get_xydata()
    assert ring.shape == (5, 2)
    np.testing.assert_allclose(ring[0], ring[-1])
    assert [a.get_text() for a in first.texts] == ["e0", "e1", "e2", "e3"]
    np.testing.assert_allclose(first.texts[1].xy, [-1.12, 0], atol=1e-15)
    assert (first.get_title(), second.get_title()) == ("teacher", "t = 2")
    assert first.get_xlim() == (-1.3, 1.3) and first.get_ylim() == (-1.3, 1.3)
    assert first.get_xticks().size == 0 and first.get_yticks().size == 0
    assert first.get_legend() is None
    assert _texts(second.get_legend()) == ["class 0", "class 1", "class 2", "class 3"]
    assert fig._suptitle.get_text() == "both"
    assert plot.simplex_projection({"a": one_hot}, [0, 1, 2, 3])._suptitle is None


def test_accuracy_vs_eta_in_percent_with_finite_edges_only():
    fig = plot.accuracy_vs_eta([0.0, 0.5], {"teacher": [1.0, 0.5], "PLL": [1.0, 0.75]},
                               edges={"teacher": 0.25, "PLL": math.inf})
    ax = fig.axes[0]
    curves, edges = ax.lines[:2], ax.lines[2:]
    np.testing.assert_allclose(curves[0].get_ydata(), [100, 50])
    np.testing.assert_allclose(curves[1].get_ydata(), [100, 75])
    assert [tuple(line.get_xdata()) for line in edges] == [(0.25, 0.25)]
    assert edges[0].get_linestyle() == ":" and same_color(edges[0].get_color(), curves[0].get_color())
    assert ax.get_xlabel() == "noise rate η"
    assert ax.get_ylabel() == "label-correction accuracy (%)"
    assert ax.get_ylim()[0] <= 40 and ax.get_ylim()[1] == 101
    assert ax.get_legend().get_title().get_text() == "dotted: linearised edge"
    assert _texts(ax.get_legend()) == ["teacher", "PLL"]
    assert ax.get_title() == "accuracy vs noise rate"
    bare = plot.accuracy_vs_eta([0.0, 0.5], {"a": [0.2, 0.1]}, ylabel="y", title="z").axes[0]
    assert bare.get_legend().get_title().get_text() == ""
    assert (bare.get_ylabel(), bare.get_title()) == ("y", "z")
    assert bare.get_ylim()[0] <= 10                      # below 40 when the data is


def test_softmax_trajectories_mean_line_and_std_band():
    fig = plot.softmax_trajectories([1, 2, 3], {"true": ([0.5, 0.6, 0.7], [0.1, 0.0, 0.2]),
                                                "other": ([0.2, 0.1, 0.1], [0, 0, 0])})
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.5, 0.6, 0.7])
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(0.4) and band.max() == pytest.approx(0.9)
    assert _texts(ax.get_legend()) == ["true", "other"]
    assert list(ax.get_xticks()) == [1, 2, 3]
    assert ax.get_xlabel() == "fits t (t = 1: teacher)" and ax.get_ylabel() == "softmax output"
    assert ax.get_title() == "softmax outputs across fits (mean ± std)"


def test_distillation_gain_bars_centred_on_their_group():
    fig = plot.distillation_gain([[1.0, 2.0, 3.0]], group_labels=["η=0.5"],
                                 model_labels=["a", "b", "c"])
    ax = fig.axes[0]
    centres = [p.get_x() + p.get_width() / 2 for p in ax.patches]
    np.testing.assert_allclose(centres, [-0.8 / 3, 0, 0.8 / 3], atol=1e-15)
    np.testing.assert_allclose([p.get_width() for p in ax.patches], [0.8 / 3] * 3)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["η=0.5"]
    assert ax.get_ylabel() == "gain over teacher (percentage points)"
    assert ax.get_title() == "distillation gain"
    assert any(tuple(line.get_ydata()) == (0, 0) for line in ax.lines)   # the zero line
    low, high = ax.get_ylim()
    assert low < 1 < 3 < high                    # margins around the bars


def test_distillation_gain_wraps_a_long_title_without_losing_words():
    words = " ".join(f"word{i}" for i in range(40))
    title = plot.distillation_gain([[1.0]], group_labels=["g"], model_labels=["m"],
                                   title=words).axes[0].get_title()
    assert "\n" in title and title.replace("\n", " ") == words
    assert max(len(line) for line in title.splitlines()) < len(words)
    short = plot.distillation_gain([[1.0]], group_labels=["g"], model_labels=["m"],
                                   title="a\nb").axes[0].get_title()
    assert short == "a\nb"


def test_gain_panels_share_one_legend_and_label():
    gains = np.arange(8.0).reshape(2, 2, 2)
    fig = plot.gain_panels(gains, np.ones_like(gains), panel_labels=["symmetric", "pair"],
                           group_labels=["η=0.2", "η=0.5"], model_labels=["t = 2", "PLL"],
                           title="all")
    first, second = fig.axes
    assert (first.get_title(), second.get_title()) == ("symmetric noise", "pair noise")
    assert [p.get_height() for p in second.patches] == [4, 6, 5, 7]     # model-major
    assert first.get_legend() is None and _texts(second.get_legend()) == ["t = 2", "PLL"]
    assert first.get_ylabel() and second.get_ylabel() == ""
    assert fig._suptitle.get_text() == "all"
    assert plot.gain_panels(gains, panel_labels=["a", "b"], group_labels=["x", "y"],
                            model_labels=["m", "n"])._suptitle is None


# --------------------------------------------------------------------------- phase diagrams


def test_log_axis_detection_and_cell_edges():
    assert plot._is_log([1e-4, 1e-3, 1e-2])
    assert not plot._is_log([1e-3, 1e-2])                 # fewer than three values
    assert not plot._is_log([1.0, 3.0, 9.0])              # a span of 9 < 20
    assert not plot._is_log([1.0, 10.0, 1000.0])          # ratios not constant
    assert not plot._is_log([0.0, 1.0, 100.0])
    np.testing.assert_allclose(plot._edges([1.0, 2.0, 4.0], False), [0.5, 1.5, 3, 5])
    np.testing.assert_allclose(plot._edges([3.0], False), [2.5, 3.5])
    np.testing.assert_allclose(plot._edges([1.0, 10.0, 100.0], True),
                               10 ** np.array([-0.5, 0.5, 1.5, 2.5]), rtol=1e-12)


def _diagram(axes, xs, ys, values, t_star, least, max_rounds=3):
    params = dict(n_classes=4, n_per_class=100, c=0.4, d=0.1, lam=1e-3, noise="symmetric",
                  max_rounds=max_rounds)
    for name in axes:
        params.pop(name, None)
    return PhaseDiagram(axes=axes, axis_values=(np.asarray(xs), np.asarray(ys)),
                        values={"label_correction": np.asarray(values)},
                        boundary={"t_star": np.asarray(t_star, dtype=float),
                                  "least_round": np.asarray(least, dtype=float)},
                        method="exact", params=params)


def test_phase_map_with_rounds_axis_draws_step_boundaries():
    values = [[0.6, 0.9, 1.0], [0.25, 0.5, 0.75]]          # η 0.1, 0.5 × t 1..3
    diagram = _diagram(("eta", "rounds"), [0.1, 0.5], [1, 2, 3], values,
                       [[2] * 3, [3] * 3], [[3] * 3, [math.nan] * 3])
    fig = plot.phase_map(diagram)
    ax = fig.axes[0]
    mesh = next(c for c in ax.collections if isinstance(c, QuadMesh))
    np.testing.assert_allclose(np.asarray(mesh.get_array()).ravel(),
                               100 * np.asarray(values).T.ravel())
    assert mesh.get_clim() == (25, 100)                   # min(data, 50), 100
    assert fig.axes[1].get_ylabel() == "label-correction accuracy (%)"
    assert ax.get_xscale() == "linear" and ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "noise rate η" and ax.get_ylabel() == "fits t (t = 1: teacher)"
    assert ax.get_title() == "exact fits; K=4, n=100, c=0.4, d=0.1, λ=0.001, symmetric noise"
    t_star, least = ax.lines
    np.testing.assert_allclose(t_star.get_ydata(), [1.5, 2.5])   # t* − 0.5: below row t*
    np.testing.assert_allclose(least.get_ydata()[:1], [2.5])
    assert _texts(ax.get_legend()) == ["linearised t* (Result 3)", "exact least round"]
    np.testing.assert_allclose(ax.get_xlim(), (-0.1, 0.7))
    np.testing.assert_allclose(ax.get_ylim(), (0.5, 3.5))
    plain = plot.phase_map(diagram, boundaries=False, title="mine").axes[0]
    assert len(plain.lines) == 0 and plain.get_legend() is None and plain.get_title() == "mine"
    high = _diagram(("eta", "rounds"), [0.1, 0.5], [1, 2, 3], np.full((2, 3), 0.8),
                    np.ones((2, 3)), np.ones((2, 3)))
    assert plot.phase_map(high).axes[0].collections[0].get_clim() == (50, 100)


def test_phase_map_rounds_on_x_and_log_lambda():
    diagram = _diagram(("rounds", "lam"), [1, 2], [1e-4, 1e-3, 1e-2], np.ones((2, 3)),
                       [[2, 1, 1]] * 2, [[2, 2, 1]] * 2)
    ax = plot.phase_map(diagram).axes[0]
    assert ax.get_xscale() == "linear" and ax.get_yscale() == "log"
    assert ax.get_ylabel() == "ridge λ" and ax.get_xlabel() == "fits t (t = 1: teacher)"
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1.5, 0.5, 0.5])
    np.testing.assert_allclose(ax.get_ylim(), (10 ** -4.5, 10 ** -1.5), rtol=1e-12)


def test_phase_map_without_rounds_axis_draws_regions_reached():
    diagram = _diagram(("eta", "c"), [0.1, 0.3, 0.5], [0.3, 0.5], np.ones((3, 2)),
                       [[1, 2], [3, 4], [5, 6]], [[1, 1], [2, 3], [4, math.nan]])
    ax = plot.phase_map(diagram).axes[0]
    assert _texts(ax.get_legend()) == ["linearised t* (Result 3) ≤ 3", "exact least round ≤ 3"]
    assert ax.get_ylabel() == "within-class correlation c"
    assert ax.get_title() == "exact fits; K=4, n=100, d=0.1, λ=0.001, symmetric noise"
