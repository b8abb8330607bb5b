"""Figure fixes of issue 17, item 9: what each figure shows, read back from the Figure.

fig7 / least_round_map: "not reached" is grey in every panel (never the colour of
t = 1), and every panel, the difference included, has a discrete colour bar with
one colour per integer. demo_accuracy: a title naming K, η and λ, and the exact
and linearised curves both visible where they coincide. probe_gain: a title
naming the feature set and λ.
"""

import numpy as np
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.colors import BoundaryNorm

import labelavg
from labelavg import plot
from labelavg.cli import main


@pytest.fixture(scope="module")
def diagram():
    # λ down to 1e-5 at η up to 0.7: t* beyond 6 searched rounds in part of the grid
    return labelavg.phase_diagram(eta=[0.05, 0.4, 0.7], lam=[1e-5, 1e-4, 1e-2], rounds=6,
                                  c=0.4, d=0.1, n_classes=4, n_per_class=100,
                                  pll_topk=None)


def _meshes(fig):
    """The panels' meshes (colour-bar axes, which have no title, left out)."""
    return [c for ax in fig.axes if ax.get_title() for c in ax.collections
            if isinstance(c, QuadMesh)]


def test_least_round_not_reached_is_grey_in_every_panel(diagram):
    top = diagram.params["max_rounds"]
    lin = np.asarray(diagram.boundary["t_star"], dtype=float)
    assert np.any(lin > top), "the grid must hold a t* beyond the searched rounds"
    fig = plot.least_round_map(diagram)
    meshes = _meshes(fig)
    assert len(meshes) == 3
    shown = np.ma.getmaskarray(meshes[0].get_array()).reshape(lin.T.shape).T
    np.testing.assert_array_equal(shown, ~(lin <= top))      # masked = not reached
    for mesh in meshes:
        bad = mesh.cmap.get_bad()
        assert np.allclose(bad[:3], bad[0]) and bad[0] > 0.5, bad   # a light grey
        assert not np.allclose(bad, mesh.cmap(0.0))           # not the colour of the lowest t


def test_least_round_colour_bars_are_discrete_integers(diagram):
    fig = plot.least_round_map(diagram)
    for mesh in _meshes(fig):
        assert isinstance(mesh.norm, BoundaryNorm)
        edges = mesh.norm.boundaries
        np.testing.assert_allclose(np.diff(edges), 1.0)
        np.testing.assert_allclose(edges % 1, 0.5)
        assert mesh.cmap.N == len(edges) - 1                 # one colour per integer


def test_demo_figure_has_a_title_and_both_curves_visible(tmp_path, monkeypatch, capsys):
    figures = []
    monkeypatch.setattr(plot, "save", lambda fig, stem: figures.append(fig) or str(stem))
    assert main(["demo", "--n-classes", "3", "--n-per-class", "20", "--eta", "0.4",
                 "--lam", "1e-3", "--rounds", "3", "--out", str(tmp_path)]) == 0
    (fig,) = figures
    title = fig._suptitle.get_text()
    for text in ("K=3", "η=0.4", "λ=0.001"):
        assert text in title, title
    for ax in fig.axes:
        lines = {line.get_label(): line for line in ax.get_lines()}
        if "exact" in lines:
            x_exact, x_linear = lines["exact"].get_xdata(), lines["linear"].get_xdata()
            assert np.all(np.abs(np.asarray(x_exact) - np.asarray(x_linear)) > 0.1)


def test_probe_gain_title_names_the_set_and_lambda(tmp_path, monkeypatch, capsys):
    figures = []
    monkeypatch.setattr(plot, "save", lambda fig, stem: figures.append(fig) or str(stem))
    assert main(["probe", "--dataset", "digits_effnet", "--lam", "1e-2", "--noise",
                 "symmetric", "--eta", "0.5", "--seeds", "1", "--rounds", "2",
                 "--out", str(tmp_path)]) == 0
    title = figures[0].axes[0].get_title()
    assert "digits_effnet" in title and "λ=0.01" in title, title
