"""Behaviours that held-out mutmut mutants (seed 1 sample, issue 20) changed without a
test failing: figure recipes at full size, argument normalisation and error messages,
reprs, plot layout, NaN-aware statistics and memory estimates."""

import dataclasses

import matplotlib
import numpy as np
import pytest

from labelavg import plot
from labelavg.phase import PhaseDiagram, phase_diagram
from test_mut_h20f_figures import _texts, shown  # noqa: F401  (shown: a fixture)
from test_mut_h20f_plot import _diagram

matplotlib.use("Agg")


# --------------------------------------------------------------------------- figures


def test_fig2b_full_size_shows_one_hundred_instances_per_class(shown):
    """fig2b (default, not quick): K = 4 classes of n = 100 (the docstring's mixture), so
    each of the four panels draws 100 points per class, 400 in all."""
    fig = shown("fig2b_simplex")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 4
    for ax in panels:
        assert [len(c.get_offsets()) for c in ax.collections] == [100, 100, 100, 100]


def test_fig5b_full_size_error_bars_are_std_over_the_two_seeds(shown, monkeypatch):
    """fig5b (default): η = 0.2, 0.4, 0.6, seeds 0 and 1, n = 100; bar (η, k) is the mean
    over seeds and its error bar the population std over seeds of that same (η, k).
    gains_at is replaced by a recorder returning known gains g = (1 + η)(1, 2, 3) +
    seed·(2, 4, 6): std over seeds {0, a} is a/2, i.e. 1, 2, 3 for top-2, 3, 4."""
    from matplotlib.container import BarContainer

    from labelavg.figures import fig5b_pll_topk as fig5b

    calls = []

    def fake(eta, seed, n):
        calls.append((eta, seed, n))
        return np.array([1.0, 2.0, 3.0]) * (1 + eta) + seed * np.array([2.0, 4.0, 6.0])

    monkeypatch.setattr(fig5b, "gains_at", fake)
    ax = shown("fig5b_pll_topk").axes[0]
    etas = (0.2, 0.4, 0.6)
    assert calls == [(eta, seed, 100) for eta in etas for seed in range(2)]
    containers = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(containers) == 3
    for j, container in enumerate(containers):
        heights = [bar.get_height() for bar in container]
        np.testing.assert_allclose(heights, [(j + 1) * (1 + eta) + (j + 1) for eta in etas],
                                   rtol=1e-12)
        segments = container.errorbar.lines[2][0].get_segments()
        np.testing.assert_allclose([seg[1, 1] - seg[0, 1] for seg in segments],
                                   [2 * (j + 1)] * 3, rtol=1e-12)
    assert _texts(ax.get_legend()) == ["PLL top-2", "PLL top-3", "PLL top-4"]
    assert ax.get_title().replace("\n", " ").endswith("λ = 0.001, 2 seed(s)")


# --------------------------------------------------------------------------- gram


def test_hierarchical_gram_names_n_classes_in_its_error():
    """hierarchical_gram(K = 1, ...) says which argument is wrong, in its own name."""
    from labelavg.gram import hierarchical_gram

    with pytest.raises(ValueError, match=r"^n_classes must be >= 2, got 1$"):
        hierarchical_gram(1, 2, 0.5, 0.2, 0.1, 1)
    with pytest.raises(TypeError, match=r"^n_classes must be an integer, got float$"):
        hierarchical_gram(2.5, 2, 0.5, 0.2, 0.1, 1)


def test_spectrum_repr_gives_smallest_and_largest_eigenvalue():
    """Spectrum's repr: shapes of the arrays, then min and max eigenvalue. Φ = [[1, ½],
    [½, 1]] has eigenvalues 1 ∓ ½ = 0.5 and 1.5."""
    from labelavg.gram import spectrum

    text = repr(spectrum(np.array([[1.0, 0.5], [0.5, 1.0]])))
    assert text == ("Spectrum(evals=array(2,)[float64], evecs=array(2, 2)[float64], "
                    "min=0.5, max=1.5)")


# --------------------------------------------------------------------------- phase


def test_phase_diagram_scalar_n_classes_given_as_whole_float_counts_as_int():
    """A fixed n_classes = 3.0 is read as K = 3 (as on an axis, "3.0 counts as 3"): the same
    diagram as n_classes = 3, and params records the int 3."""
    kwargs = dict(eta=[0.1, 0.5], rounds=[1, 2], lam=1e-3, c=0.4, d=0.1, n_per_class=10)
    as_float = phase_diagram(n_classes=3.0, **kwargs)
    as_int = phase_diagram(n_classes=3, **kwargs)
    assert as_float.params["n_classes"] == 3 and type(as_float.params["n_classes"]) is int
    assert repr(as_float) == repr(as_int)
    for key, value in as_int.values.items():
        np.testing.assert_array_equal(as_float.values[key], value)


def test_phase_diagram_repr_without_all_right_has_no_summary():
    """A PhaseDiagram whose values lack "all_right" (e.g. built by hand with one quantity)
    still has a one-line repr, without the all_right count."""
    diagram = PhaseDiagram(axes=("eta", "rounds"),
                           axis_values=(np.array([0.1, 0.3]), np.array([1, 2, 3])),
                           values={"label_correction": np.ones((2, 3))},
                           boundary={"t_star": np.ones((2, 3)), "least_round": np.ones((2, 3))},
                           method="exact", params=dict(n_classes=4, max_rounds=3))
    assert repr(diagram) == ("PhaseDiagram(eta=[0.1, 0.3], rounds=[1, 2, 3], shape=(2, 3), "
                             "method='exact', n_classes=4, max_rounds=3)")


# --------------------------------------------------------------------------- plot


@pytest.mark.parametrize("axes, ys, t_star, least", [
    (("eta", "rounds"), [1, 2, 3], [[1] * 3, [2] * 3, [3] * 3], [[1] * 3, [2] * 3, [3] * 3]),
    (("eta", "c"), [0.3, 0.5, 0.7], [[1, 2, 3], [2, 3, 4], [3, 4, 5]],
     [[1, 2, 3], [2, 3, 4], [3, 4, 5]]),
])
def test_phase_map_boundary_legend_sits_in_the_upper_left_corner(axes, ys, t_star, least):
    """phase_map's boundary legend is placed in the upper-left corner of the map (with
    and without a t axis), wherever the boundaries run."""
    fig = plot.phase_map(_diagram(axes, [0.1, 0.3, 0.5], ys, t_star, least))
    ax = fig.axes[0]
    fig.canvas.draw()
    box = ax.get_legend().get_window_extent().transformed(ax.transAxes.inverted())
    assert box.x0 < 0.1 and box.y1 > 0.9


@pytest.mark.parametrize("evals, top", [([1.0, 2.0, 3.0], 3), ([1.0, 2.0], None)])
def test_eigenvalue_filter_ticks_only_whole_indices(evals, top):
    """The x axis of eigenvalue_filter is an eigenvalue index m: every tick inside the
    axis range is a whole number, even when only 2 or 3 eigenvalues are shown."""
    ax = plot.eigenvalue_filter(evals, lam=1.0, n_classes=1, top=top).axes[0]
    low, high = ax.get_xlim()
    ticks = np.asarray(ax.get_xticks())
    inside = ticks[(ticks >= low) & (ticks <= high)]
    assert inside.size >= 2
    np.testing.assert_array_equal(inside, np.round(inside))


# --------------------------------------------------------------------------- simulate

SMALL = dict(n_classes=3, n_per_class=8, dim=64, c=0.5, d=0.1, eta=0.3, lam=1e-2,
             rounds=1, seeds=(0,))


def test_std_over_seeds_skips_nan_entries():
    """SimulationResult.std: population std over seeds of the non-NaN entries only. For
    seeds giving (0.5, NaN, 1.0) the mean is 0.75 and the std √((0.25² + 0.25²)/2) = 0.25;
    (NaN, 0.2, NaN) has std 0."""
    from labelavg.simulate import simulate

    res = simulate(**SMALL)
    values = np.array([[0.5, np.nan], [np.nan, 0.2], [1.0, np.nan]])
    res = dataclasses.replace(res, seeds=(0, 1, 2), test_accuracy=values)
    np.testing.assert_allclose(res.mean("test_accuracy"), [0.75, 0.2], rtol=1e-15)
    np.testing.assert_allclose(res.std("test_accuracy"), [0.25, 0.0], rtol=1e-15, atol=0)


def test_memory_parts_gram_only_in_the_dual_form():
    """memory_parts(K = 2, n = 3, D = 100): features BYTES_PER_FEATURE × N·D (N = 6); the
    N × N Gram (BYTES_PER_ENTRY × N²) only in the dual form, or "auto" with N ≤ D."""
    from labelavg.simulate import BYTES_PER_ENTRY, BYTES_PER_FEATURE, memory_parts

    dual = memory_parts(2, 3, 100, form="dual")
    primal = memory_parts(2, 3, 100, form="primal")
    auto = memory_parts(2, 3, 100)
    assert dual["dim"] == primal["dim"] == BYTES_PER_FEATURE * 6 * 100
    assert dual["n_per_class"] == auto["n_per_class"] == BYTES_PER_ENTRY * 36
    assert primal["n_per_class"] == 0
    assert memory_parts(2, 3, 5)["n_per_class"] == 0           # auto, N = 6 > D = 5
    assert memory_parts(2, 3, 5, form="dual")["n_per_class"] == BYTES_PER_ENTRY * 36


def test_simulate_params_record_the_noise_model():
    """SimulationResult.params holds the arguments of simulate, the noise model included."""
    from labelavg.simulate import simulate

    res = simulate(**SMALL, noise="asymmetric")
    assert res.params["noise"] == "asymmetric"
    assert {k: res.params[k] for k in SMALL if k != "seeds"} == {
        k: v for k, v in SMALL.items() if k != "seeds"}


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_planned_groups_of_pair_noise_without_orbits_are_its_present_groups(n_classes):
    """Without orbits the solver plans one column per (true, given) group with non-zero
    count: for pair noise that is the non-zeros of T, two per row, 2K."""
    from labelavg.block import planned_groups
    from labelavg.noise import pair

    present = int(np.count_nonzero(np.asarray(pair(n_classes, 0.3))))
    assert present == 2 * n_classes
    assert planned_groups(n_classes, "pair", orbit=False) == present
    assert planned_groups(n_classes, "pair") == 2
