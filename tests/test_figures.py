"""Tests of labelavg.plot, the figures/ scripts and ``labelavg figures``.

Every figure script runs in quick mode (one ``python -m figures --quick``
subprocess) and must write a non-empty PNG and PDF; the plot functions that
other modules call keep their signatures; ``import labelavg`` stays free of
matplotlib and seaborn.
"""

import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from labelavg import plot

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import figures  # noqa: E402  (the repository's figures/ package)


def _env():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _run(args, cwd):
    return subprocess.run([sys.executable, *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def quick_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("figures")


def _quick_build(out, name):
    """``python -m figures --quick --only NAME`` in-process, once per figure (so mutation
    testing traces each script to its own test); the installed-wheel test of
    test_datasets.py runs ``labelavg figures`` as a process."""
    from figures.__main__ import main

    if not (out / f"{name}.png").is_file():
        assert main(["--quick", "--only", name, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("name", figures.SCRIPTS)
def test_every_figure_script_writes_png_and_pdf(quick_dir, name):
    built = _quick_build(quick_dir, name)
    for suffix in (".png", ".pdf"):
        path = built / f"{name}{suffix}"
        assert path.is_file() and path.stat().st_size > 1000, path
    assert (built / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_scripts_follow_the_naming_rule():
    on_disk = sorted(p.stem for p in (ROOT / "labelavg" / "figures").glob("fig*.py"))
    assert on_disk == sorted(figures.SCRIPTS)
    for name in figures.SCRIPTS:
        module = __import__(f"labelavg.figures.{name}", fromlist=["main"])
        assert module.NAME == name
        assert list(inspect.signature(module.main).parameters) == ["out_dir", "quick"]


def test_cli_figures_quick_subset_and_error(tmp_path):
    res = _run(["-m", "labelavg", "figures", "--quick", "--only", "fig1_gram",
                "--out", str(tmp_path)], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "fig1_gram.png").stat().st_size > 0
    bad = _run(["-m", "labelavg", "figures", "--only", "fig99"], cwd=tmp_path)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr and "fig99" in bad.stderr
    assert bad.stdout == ""                 # refused before "building ... figures"


def test_import_labelavg_does_not_import_plotting():
    code = ("import sys, labelavg, labelavg.phase, labelavg.plot, labelavg.cli; "
            "bad = [m for m in ('matplotlib', 'seaborn') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = _run(["-c", code], cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr


# ---------------------------------------------------------------------------
# plot functions used elsewhere: signatures and basic content
# ---------------------------------------------------------------------------

def test_shared_signatures():
    assert str(inspect.signature(plot.distillation_gain)) == (
        "(gains, *, group_labels, model_labels, errors=None, title=None, ax=None)")
    assert str(inspect.signature(plot.correlation_heatmap)) == (
        "(matrix, *, tick_labels=None, title=None, ax=None)")


def test_distillation_gain_and_correlation_heatmap(tmp_path):
    fig = plot.distillation_gain(np.array([[1.0, -2.0], [3.0, 0.5]]),
                                 group_labels=["a", "b"], model_labels=["t = 2", "PLL"],
                                 errors=np.full((2, 2), 0.3), title="gain")
    ax = fig.axes[0]
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert heights == [-2.0, 0.5, 1.0, 3.0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["t = 2", "PLL"]
    assert Path(plot.save(fig, tmp_path / "sub" / "gain")).stat().st_size > 0
    assert (tmp_path / "sub" / "gain.pdf").is_file()
    heat = plot.correlation_heatmap(np.eye(3), tick_labels=["x", "y", "z"])
    assert [t.get_text() for t in heat.axes[0].get_xticklabels()] == ["x", "y", "z"]


def test_demo_accuracy_marks_pll(tmp_path):
    from labelavg.distill import distill
    from labelavg.gram import block_gram, block_labels

    true = block_labels(3, 6)
    given = true.copy()
    given[[0, 7]] = [1, 2]
    gram = block_gram(3, 6, 0.5, 0.1)
    paths = {m: distill(gram, given, 3e-2, 3, method=m, true_labels=true)
             for m in ("exact", "linear")}
    fig = plot.demo_accuracy(paths)
    assert len(fig.axes) == 3
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["exact", "exact PLL", "linear", "linear PLL"]
    assert fig.axes[0].get_xticklabels()[-1].get_text() == "PLL"
    assert Path(plot.save(fig, tmp_path / "demo")).stat().st_size > 0


def test_least_round_map_refuses_rounds_axis():
    from labelavg.phase import phase_diagram

    pd = phase_diagram(eta=[0.1, 0.3], rounds=[1, 2], lam=1e-3, c=0.4, d=0.1,
                       n_classes=4, n_per_class=100)
    with pytest.raises(ValueError, match="rounds axis"):
        plot.least_round_map(pd)
    assert len(plot.phase_map(pd).axes) == 2          # the map and its colour bar


# ---------------------------------------------------------------------------
# layout: nothing clipped, nothing hidden, colour scales fit the data
# ---------------------------------------------------------------------------

def _rendered(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _inside(inner, outer, slack=1.0):
    return (inner.x0 >= outer.x0 - slack and inner.y0 >= outer.y0 - slack
            and inner.x1 <= outer.x1 + slack and inner.y1 <= outer.y1 + slack)


LONG_TITLE = ("test-accuracy gain over the teacher, superclass noise\n"
              "K = 6, m = 3, c/d/e = 0.4/0.25/0.05, D = 128, λ = 0.001, 3 seeds")


@pytest.mark.parametrize("title", [LONG_TITLE, "test-accuracy gain over the teacher "
                                                "(superclass)"])
def test_distillation_gain_layout(title):
    gains = np.array([[1.2, 1.8, 2.0, 2.1, 4.5], [3.0, 5.5, 7.0, 8.0, 24.0]])
    errors = np.full(gains.shape, 0.8)
    fig = plot.distillation_gain(gains, group_labels=["η=0.5", "η=0.8"],
                                 model_labels=[f"student t={t}" for t in range(2, 6)]
                                 + ["PLL"], errors=errors, title=title)
    renderer = _rendered(fig)
    ax = fig.axes[0]
    page = fig.bbox
    legend = ax.get_legend().get_window_extent(renderer)
    assert _inside(legend, page)
    assert _inside(ax.title.get_window_extent(renderer), page)
    assert _inside(ax.get_tightbbox(renderer), page)    # tick labels, axis labels too
    assert not legend.overlaps(ax.bbox)       # beside the plot: it hides no bar
    low, high = ax.get_ylim()
    assert high > (gains + errors).max() and low <= 0    # no bar or error bar clipped


def test_correlation_heatmap_colour_scale_fits_the_data():
    rng = np.random.default_rng(0)
    matrix = rng.uniform(-0.05, 0.05, (5, 5))
    np.fill_diagonal(matrix, 0.25)
    image = plot.correlation_heatmap(matrix).axes[0].images[0]
    assert image.get_clim() == pytest.approx((-0.25, 0.25))
    negative = plot.correlation_heatmap(-np.eye(3) * 0.4).axes[0].images[0]
    assert negative.get_clim() == pytest.approx((-0.4, 0.4))


def test_fig4_quick_layout(quick_dir):
    from matplotlib.image import imread

    png = _quick_build(quick_dir, "fig4_distillation_gain") / "fig4_distillation_gain.png"
    height, width = imread(png).shape[:2]
    assert width > 1.5 * height    # the legend column sits beside the bars

