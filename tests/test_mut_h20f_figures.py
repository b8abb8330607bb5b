"""What each figure script of :mod:`labelavg.figures` shows, read back from its Figure.

Each script's ``main(out_dir, quick)`` is run in-process with :func:`labelavg.plot.save`
replaced by a recorder (nothing is rendered or written), and the plotted data, titles,
legends and axes are checked against the recipe in the script's docstring, recomputed
here with numpy (Gram matrices, eigenvalues, argmax accuracies, projections) or by hand.
Where the full-size figure would take too long, the call that computes it is recorded
instead and the run stopped there.
"""

import importlib
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from labelavg import noise, plot
from labelavg.synthetic import gaussian_mixture


class _Stop(Exception):
    """Raised by a recording stand-in to stop a full-size figure run early."""


@pytest.fixture
def shown(monkeypatch, tmp_path):
    """``shown(name, quick=True)`` → (figure, stem) that the script would have saved."""
    def run(name, **kwargs):
        saved = []
        monkeypatch.setattr(plot, "save",
                            lambda fig, stem: saved.append((fig, Path(stem))) or f"{stem}.png")
        module = importlib.import_module(f"labelavg.figures.{name}")
        png = module.main(tmp_path, **kwargs)
        (fig, stem), = saved
        assert stem == tmp_path / name and png == f"{tmp_path / name}.png"
        return fig
    return run


def _texts(legend):
    return [t.get_text() for t in legend.get_texts()]


# --------------------------------------------------------------------------- fig1


def _block_mean_cosines(gram, labels):
    same = labels[:, None] == labels[None, :]
    off = ~np.eye(labels.size, dtype=bool)
    return gram[same & off].mean(), gram[~same].mean()


def test_fig1_shows_the_gram_of_the_documented_mixture(shown):
    """fig1 (quick): the heat map is Φ = F Fᵀ of gaussian_mixture(K=4, n=25, D=512,
    c=0.4, d=0.1, seed 0): 100 × 100, unit diagonal, white class boundaries after every
    25 instances, and a title stating the within/across mean cosines of that matrix."""
    fig = shown("fig1_gram", quick=True)
    ax = fig.axes[0]
    image = np.asarray(ax.images[0].get_array())
    data = gaussian_mixture(4, 25, 512, 0.4, 0.1, rng=0)
    np.testing.assert_allclose(image, data.x_train @ data.x_train.T, rtol=0, atol=1e-12)
    assert image.shape == (100, 100)
    np.testing.assert_allclose(np.diag(image), 1.0, atol=1e-12)
    labels = np.repeat(np.arange(4), 25)
    within, across = _block_mean_cosines(image, labels)
    assert abs(within - 0.4) < 0.05 and abs(across - 0.1) < 0.05
    assert ax.get_title() == ("Gram matrix Φ, Gaussian mixture K = 4, D = 512\n"
                              f"mean cosine: within class {within:.2f}, across {across:.2f}")
    edges = sorted({line.get_ydata()[0] for line in ax.lines if line.get_ydata()[0]
                    == line.get_ydata()[1]})
    assert edges == [24.5, 49.5, 74.5]


def test_fig1_full_size_has_sixty_per_class(shown):
    """fig1 (default, not quick): 4 classes of 60, a 240 × 240 Gram from seed 0."""
    fig = shown("fig1_gram")
    image = np.asarray(fig.axes[0].images[0].get_array())
    data = gaussian_mixture(4, 60, 512, 0.4, 0.1, rng=0)
    np.testing.assert_allclose(image, data.x_train @ data.x_train.T, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- fig2a


@pytest.mark.parametrize("quick, n_per_class", [(True, 30), (False, 100)])
def test_fig2a_curves_are_powers_of_g_of_the_mixture_gram(shown, quick, n_per_class):
    """fig2a: for the Gram of gaussian_mixture(K=4, n, D=512, c=0.4, d=0.1, seed 0)
    (n = 30 quick, 100 by default), curves g(μ_m)ᵗ, g = μ/(μ + KNλ), λ = 2e-4, for
    t = 1, 2, 4, 8, 16 over the top 5K = 20 eigenvalues (numpy's eigvalsh), and a title
    naming K, N and λ."""
    fig = shown("fig2a_eigenvalues", **({"quick": True} if quick else {}))
    ax = fig.axes[0]
    data = gaussian_mixture(4, n_per_class, 512, 0.4, 0.1, rng=0)
    mu = np.sort(np.linalg.eigvalsh(data.x_train @ data.x_train.T))[::-1]
    n_total = 4 * n_per_class
    g = mu / (mu + 4 * n_total * 2e-4)
    rounds = (1, 2, 4, 8, 16)
    assert len(ax.lines) == len(rounds)
    for line, t in zip(ax.lines, rounds):
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 21))
        np.testing.assert_allclose(line.get_ydata(), g[:20] ** t, rtol=1e-9, atol=1e-12)
    assert _texts(ax.get_legend()) == ["t = 1", "t = 2", "t = 4", "t = 8", "t = 16",
                                       "top K = 4"]
    band = ax.patches[0]
    assert (band.get_x(), band.get_x() + band.get_width()) == (0.5, 4.5)
    assert ax.get_title() == ("eigenvalues of Gᵗ = (Φ(Φ + KNλI)⁻¹)ᵗ\n"
                              f"Gaussian mixture K = 4, N = {n_total}, λ = 0.0002")


# --------------------------------------------------------------------------- fig2b


def test_fig2b_panels_show_fits_1_2_4_6_of_the_documented_run(shown):
    """fig2b (quick): mixture K=4, n=30, D=256, c=0.4, d=0.1 (seed 1), symmetric η=0.5
    in exact counts (seed 1: 15 clean and 5 of each wrong label per class), λ=2e-4. Four
    panels, fits t = 1, 2, 4, 6: each point is p ↦ (p₃ − p₁, p₀ − p₂) (corners of the
    square), coloured by true class, and the panel title gives the fit's label-correction
    accuracy, recomputed here as the fraction whose argmax is the true class."""
    from labelavg.distill import distill

    fig = shown("fig2b_simplex", quick=True)
    data = gaussian_mixture(4, 30, 256, 0.4, 0.1, rng=1)
    true = data.y_train
    given = noise.assign_labels_exact(true, noise.symmetric(4, 0.5), rng=1)
    counts = np.zeros((4, 4), dtype=int)
    np.add.at(counts, (true, given), 1)
    np.testing.assert_array_equal(counts, np.full((4, 4), 5) + 10 * np.eye(4, dtype=int))
    path = distill(None, given, 2e-4, 6, features=data.x_train, true_labels=true)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 4
    for ax, t in zip(panels, (1, 2, 4, 6)):
        p = path.probs[t - 1]
        correct = round(100 * np.mean(p.argmax(axis=0) == true))
        name = "teacher t = 1" if t == 1 else f"student t = {t}"
        assert ax.get_title() == f"{name}\nlabel correction {correct}%"
        for k, points in enumerate(c.get_offsets() for c in ax.collections):
            mine = p[:, true == k]
            np.testing.assert_allclose(points, np.stack([mine[3] - mine[1],
                                                         mine[0] - mine[2]], axis=1),
                                       atol=1e-6)
    assert fig._suptitle.get_text() == ("softmax outputs (K = 4) projected on a square; "
                                        "symmetric η = 0.5, λ = 0.0002")


# --------------------------------------------------------------------------- fig3a


def _fig3a_ratio():
    """φ/θ = g(μ₂)/g(μ₁) of the block model K=4, n=100, c=2/5, d=1/10, λ=2e-4, exactly:
    μ₁ = 1 − c (within-class directions), μ₂ = 1 − c + n(c − d) (class directions),
    g(μ) = μ/(μ + s), s = KNλ."""
    c, d, n, lam = Fraction(2, 5), Fraction(1, 10), 100, Fraction(2, 10000)
    s = 4 * 4 * n * lam
    mu1, mu2 = 1 - c, 1 - c + n * (c - d)
    return (mu2 / (mu2 + s)) / (mu1 / (mu1 + s))


def _edge(t, ratio):
    """η below which the linearised model is 100% right after t fits (Result 3)."""
    return max(Fraction(0), Fraction(3, 4) * (1 - 1 / (ratio ** t - 1)))


def test_fig3a_eta_edge_closed_form():
    """eta_edge(t, r) = max(0, (K−1)/K · (1 − 1/(rᵗ − 1))) with K = 4, against exact
    fractions: r = 3, t = 1 → 3/8; r = 2, t = 2 → 1/2; r = 3/2, t = 1 → 0 (clipped)."""
    from labelavg.figures.fig3a_accuracy_vs_eta import eta_edge

    assert eta_edge(1, 3.0) == pytest.approx(3 / 8, rel=1e-15)
    assert eta_edge(2, 2.0) == pytest.approx(1 / 2, rel=1e-15)
    assert eta_edge(3, 2.0) == pytest.approx(float(_edge(3, Fraction(2))), rel=1e-15)
    assert eta_edge(1, 1.5) == 0.0


def test_fig3a_curves_legend_and_theory_edges(shown):
    """fig3a (quick): 17 η from 0 to 0.8; curves for the teacher, students t = 2..5 and
    the PLL student, in percent, all 100% at η = 0; a dotted line per model at its
    linearised edge (exact fractions of φ/θ for K=4, n=100, c=0.4, d=0.1, λ=2e-4) in the
    model's colour, the PLL student's at (K−1)/K = 3/4."""
    from matplotlib.colors import same_color

    fig = shown("fig3a_accuracy_vs_eta", quick=True)
    ax = fig.axes[0]
    names = ["teacher t = 1", "student t = 2", "student t = 3", "student t = 4",
             "student t = 5", "PLL student"]
    assert _texts(ax.get_legend()) == names
    curves, dotted = ax.lines[:6], ax.lines[6:]
    for line in curves:
        np.testing.assert_allclose(line.get_xdata(), np.linspace(0, 0.8, 17), rtol=1e-15)
        y = np.asarray(line.get_ydata())
        assert y[0] == pytest.approx(100) and np.all((0 <= y) & (y <= 100))
    ratio = _fig3a_ratio()
    expected = [float(_edge(t, ratio)) for t in range(1, 6)] + [0.75]
    assert [line.get_linestyle() for line in dotted] == [":"] * 6
    np.testing.assert_allclose([line.get_xdata()[0] for line in dotted], expected,
                               rtol=1e-12, atol=1e-15)
    for curve, edge in zip(curves, dotted):
        assert same_color(curve.get_color(), edge.get_color())
    assert ax.get_title() == ("exact fits, block model K = 4, n = 100,\n"
                              "c = 0.4, d = 0.1, λ = 0.0002, symmetric noise")


# --------------------------------------------------------------------------- fig3b


def test_fig3b_trajectories_by_hand():
    """The four kinds of softmax value, by hand: K = 3, three instances, true labels
    (0, 1, 2), given (0, 2, 2) (instance 1 noisy); "other labels" are the entries that are
    neither the true nor the given label of their column."""
    from labelavg.figures.fig3b_softmax_trajectories import trajectories

    p = np.array([[0.7, 0.1, 0.2],
                  [0.2, 0.3, 0.1],
                  [0.1, 0.6, 0.7]])
    stats = trajectories(p[None], np.array([0, 1, 2]), np.array([0, 2, 2]))
    assert list(stats) == ["clean: true label", "noisy: given label", "noisy: true label",
                           "other labels"]
    clean = [0.7, 0.7]                         # p[0, 0], p[2, 2]
    other = [0.2, 0.1, 0.1, 0.2, 0.1]          # column 0: rows 1, 2; 1: row 0; 2: rows 0, 1
    expected = {"clean: true label": (np.mean(clean), np.std(clean)),
                "noisy: given label": (0.6, 0.0), "noisy: true label": (0.3, 0.0),
                "other labels": (np.mean(other), np.std(other))}
    for name, (mean, std) in expected.items():
        np.testing.assert_allclose(stats[name][0], [mean], rtol=1e-12)
        np.testing.assert_allclose(stats[name][1], [std], rtol=1e-12, atol=1e-15)


def test_fig3b_bands_of_the_documented_run(shown, monkeypatch):
    """fig3b (quick): mixture K=4, n=30, D=1000, c=0.4, d=0.1 (seed 2), symmetric η=0.5 in
    exact counts (seed 2), λ=2e-4, fits t = 1..5 on the Gram; each line is the mean, each
    band mean ± std, of one kind of softmax value, recomputed here with numpy masks from
    the fits the script solved (its inputs checked against the recipe)."""
    from labelavg.figures import fig3b_softmax_trajectories as fig3b

    solved, real = [], fig3b.distill

    def spy(gram, labels, lam, rounds, **kwargs):
        solved.append((gram, labels, lam, rounds, real(
            gram, labels, lam, rounds, **kwargs)))
        return solved[-1][-1]

    monkeypatch.setattr(fig3b, "distill", spy)
    fig = shown("fig3b_softmax_trajectories", quick=True)
    ax = fig.axes[0]
    data = gaussian_mixture(4, 30, 1000, 0.4, 0.1, rng=2)
    true = data.y_train
    given = noise.assign_labels_exact(true, noise.symmetric(4, 0.5), rng=2)
    (gram, labels, lam, rounds, path), = solved
    np.testing.assert_allclose(gram, data.x_train @ data.x_train.T, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(labels, given)
    assert (lam, rounds) == (2e-4, 5)
    probs = path.probs
    cols = np.arange(true.size)
    noisy = true != given
    assert noisy.sum() == 60
    rest = np.ones((4, true.size), dtype=bool)
    rest[true, cols] = False
    rest[given, cols] = False
    kinds = {"clean: true label": [p[true, cols][~noisy] for p in probs],
             "noisy: given label": [p[given, cols][noisy] for p in probs],
             "noisy: true label": [p[true, cols][noisy] for p in probs],
             "other labels": [p[rest] for p in probs]}
    assert _texts(ax.get_legend()) == list(kinds)
    for line, band, values in zip(ax.lines, ax.collections, kinds.values()):
        mean = np.array([v.mean() for v in values])
        std = np.array([v.std() for v in values])
        np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4, 5])
        np.testing.assert_allclose(line.get_ydata(), mean, rtol=1e-7)
        vertices = band.get_paths()[0].vertices
        for t in range(5):
            at = vertices[np.isclose(vertices[:, 0], t + 1), 1]
            np.testing.assert_allclose([at.min(), at.max()],
                                       [mean[t] - std[t], mean[t] + std[t]], rtol=1e-6)
    assert list(ax.get_xticks()) == [1, 2, 3, 4, 5]
    assert ax.get_title() == ("softmax outputs across fits (mean ± std)\n"
                              "Gaussian mixture K = 4, symmetric η = 0.5, λ = 0.0002")


def test_fig3b_full_size_runs_ten_fits_on_a_400_gram(shown, monkeypatch):
    """fig3b (default): n = 100 per class (a 400 × 400 Gram) and 10 fits; the solve is
    recorded and stopped (the full run takes seconds)."""
    from labelavg.figures import fig3b_softmax_trajectories as fig3b

    calls = []

    def record(gram, labels, lam, rounds, **kwargs):
        calls.append((np.shape(gram), np.shape(labels), lam, rounds))
        raise _Stop

    monkeypatch.setattr(fig3b, "distill", record)
    with pytest.raises(_Stop):
        shown("fig3b_softmax_trajectories")
    assert calls == [((400, 400), (400,), 2e-4, 10)]


# --------------------------------------------------------------------------- heldout_accuracy


def test_heldout_accuracy_on_training_rows_is_the_argmax_of_each_fit():
    """heldout_accuracy: at the fixed point P = softmax((Q − P)Φ/(Nλ)), so test rows that
    are training rows get logits whose argmax is the fit's own output argmax. On 20
    shuffled training rows of a noisy 3-class mixture (λ = 1e-2, 3 fits and the PLL
    student): the accuracy of fit t = 1, 2, 3 and of the PLL student equal the fraction
    of those rows where argmax P⁽ᵗ⁾ (resp. the PLL output) is the true class."""
    from labelavg.distill import distill
    from labelavg.figures import heldout_accuracy

    data = gaussian_mixture(3, 10, 64, 0.4, 0.2, rng=0)
    given = noise.assign_labels_exact(data.y_train, noise.symmetric(3, 0.4), rng=0)
    path = distill(None, given, 1e-2, 3, features=data.x_train, n_classes=3)
    rows = np.random.default_rng(0).permutation(30)[:20]
    y_test = data.y_train[rows]
    expected = [np.mean(p[:, rows].argmax(axis=0) == y_test)
                for p in (*path.probs, path.pll_probs)]
    assert len(set(expected)) == 4                   # every fit scores differently here
    rounds, pll = heldout_accuracy(path, data.x_train, given, data.x_train[rows], y_test,
                                   1e-2)
    np.testing.assert_allclose(rounds, expected[:3], rtol=1e-15)
    assert pll == pytest.approx(expected[3], rel=1e-15)


# --------------------------------------------------------------------------- fig4 / fig5b


def _superclass_t(n_classes, size, eta):
    """T[c, c] = 1 − η, η / (m − 1) to each other class of c's superclass, by hand."""
    t = np.zeros((n_classes, n_classes))
    for c in range(n_classes):
        group = range(c // size * size, (c // size + 1) * size)
        for j in group:
            t[c, j] = 1 - eta if j == c else eta / (size - 1)
    return t


def _hierarchical(n_classes, size, n, seed):
    return gaussian_mixture(n_classes, n, 128, 0.4, 0.25, superclass_size=size, e=0.05,
                            rng=seed)


def _bars(ax):
    """Bar heights as (groups, models): distillation_gain draws model by model."""
    n_groups = len(ax.get_xticks())
    heights = [p.get_height() for p in ax.patches]
    return np.array(heights).reshape(-1, n_groups).T


def test_fig4_bars_are_heldout_gains_over_the_teacher(shown):
    """fig4 (quick): hierarchical mixture K=6, m=3, c/d/e=0.4/0.25/0.05, D=128, n=30,
    seed 0; labels drawn with superclass noise η ∈ {0.3, 0.5} (T built by hand), λ=1e-3,
    5 fits; bars = 100 × (held-out accuracy of t = 2..5 and of the PLL student − the
    teacher's), one seed (no error bars), labels and title as documented."""
    from labelavg.distill import distill
    from labelavg.figures import heldout_accuracy

    fig = shown("fig4_distillation_gain", quick=True)
    ax = fig.axes[0]
    expected = []
    for eta in (0.3, 0.5):
        data = _hierarchical(6, 3, 30, 0)
        given = noise.sample_labels(data.y_train, _superclass_t(6, 3, eta), 0)
        path = distill(None, given, 1e-3, 5, features=data.x_train, n_classes=6)
        acc, pll = heldout_accuracy(path, data.x_train, given, data.x_test, data.y_test,
                                    1e-3)
        expected.append(100 * (np.append(acc[1:], pll) - acc[0]))
    np.testing.assert_allclose(_bars(ax), expected, rtol=1e-12, atol=1e-12)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["η = 0.3", "η = 0.5"]
    assert _texts(ax.get_legend()) == ["t = 2", "t = 3", "t = 4", "t = 5", "PLL (k = 2)"]
    assert all(c.errorbar is None for c in ax.containers)    # one seed: no error bars
    assert ax.get_title().replace("\n", " ") == (
        "test-accuracy gain over the teacher, superclass noise "
        "K = 6, m = 3, c/d/e = 0.4/0.25/0.05, D = 128, λ = 0.001, 1 seed")


def test_fig4_full_size_averages_three_seeds(shown, monkeypatch):
    """fig4 (default): η = 0.2, 0.3, 0.4, 0.5, 0.6, seeds 0, 1, 2, n = 100; bars are the
    mean over seeds and error bars their standard deviation; the title says "3 seeds".
    (gains_at is replaced by a recorder returning known gains: the full run takes long.)"""
    from labelavg.figures import fig4_distillation_gain as fig4

    calls = []

    def fake(eta, seed, n):
        calls.append((eta, seed, n))
        return np.array([1.0, 2.0, 3.0, 4.0, 5.0]) * (1 + eta) + 6 * seed

    monkeypatch.setattr(fig4, "gains_at", fake)
    ax = shown("fig4_distillation_gain").axes[0]
    etas = (0.2, 0.3, 0.4, 0.5, 0.6)
    assert calls == [(eta, seed, 100) for eta in etas for seed in range(3)]
    mean = [np.arange(1.0, 6.0) * (1 + eta) + 6 for eta in etas]     # seeds 0, 1, 2: +6
    np.testing.assert_allclose(_bars(ax), mean, rtol=1e-12)
    std = 6 * math.sqrt(2 / 3)                       # population std of 0, 6, 12
    from matplotlib.container import BarContainer

    containers = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(containers) == 5
    for container in containers:
        bars = container.errorbar.lines[2][0].get_segments()
        np.testing.assert_allclose([seg[1, 1] - seg[0, 1] for seg in bars], 2 * std,
                                   rtol=1e-12)
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"η = {eta}" for eta in etas]
    assert ax.get_title().replace("\n", " ").endswith("λ = 0.001, 3 seeds")


def test_fig5b_bars_are_pll_topk_gains(shown):
    """fig5b (quick): hierarchical mixture K=8, m=4 (c/d/e = 0.4/0.25/0.05, D=128, n=30,
    seed 0), superclass noise η ∈ {0.3, 0.6} (T by hand), λ=1e-3; bar k = 100 × (held-out
    accuracy of the PLL student on the teacher's top-k classes − the teacher's), k = 2, 3, 4."""
    from labelavg.distill import distill
    from labelavg.figures import heldout_accuracy

    fig = shown("fig5b_pll_topk", quick=True)
    ax = fig.axes[0]
    expected = []
    for eta in (0.3, 0.6):
        data = _hierarchical(8, 4, 30, 0)
        assert data.x_train.shape == (240, 128)
        given = noise.sample_labels(data.y_train, _superclass_t(8, 4, eta), 0)
        row = []
        for k in (2, 3, 4):
            path = distill(None, given, 1e-3, 1, features=data.x_train, n_classes=8,
                           pll_topk=k)
            acc, pll = heldout_accuracy(path, data.x_train, given, data.x_test,
                                        data.y_test, 1e-3)
            row.append(100 * (pll - acc[0]))
        expected.append(row)
    np.testing.assert_allclose(_bars(ax), expected, rtol=1e-12, atol=1e-12)
    assert np.any(np.abs(expected) > 1)              # gains of a few points, not all zero
    assert [t.get_text() for t in ax.get_xticklabels()] == ["η = 0.3", "η = 0.6"]
    assert _texts(ax.get_legend()) == ["PLL top-2", "PLL top-3", "PLL top-4"]
    assert ax.get_title().replace("\n", " ") == (
        "PLL student gain over the teacher with top-k targets "
        "superclass noise, K = 8, m = 4, λ = 0.001, 1 seed(s)")


# --------------------------------------------------------------------------- build_all / select


def test_select_keeps_build_order_and_names_unknown_figures():
    """select: all nine scripts by default; a subset comes back in build order whatever
    order it was asked in; an unknown name is refused with the sorted unknown names and
    the choices."""
    from labelavg import figures

    assert figures.select() == list(figures.SCRIPTS) and len(figures.SCRIPTS) == 9
    assert figures.select(["fig7_least_round", "fig1_gram"]) == ["fig1_gram",
                                                                  "fig7_least_round"]
    with pytest.raises(ValueError, match=r"unknown figure\(s\) \['fig0', 'fig99'\]; "
                                         r"choose from \['fig1_gram', "):
        figures.select(["fig99", "fig1_gram", "fig0"])


def test_build_all_runs_the_chosen_scripts_and_reports_each(monkeypatch, tmp_path):
    """build_all: calls each chosen script's main(out_dir, quick=...) in build order,
    returns [(png, seconds)] and calls report(name, png, seconds) with the same numbers
    (the scripts are replaced by recorders)."""
    from labelavg import figures
    from labelavg.figures import fig1_gram, fig6_phase_diagram

    calls = []
    for module in (fig1_gram, fig6_phase_diagram):
        monkeypatch.setattr(module, "main", lambda out_dir, quick=False, _n=module.NAME:
                            calls.append((_n, out_dir, quick)) or f"{_n}.png")
    reports = []
    done = figures.build_all(tmp_path, quick=True, only=["fig6_phase_diagram", "fig1_gram"],
                             report=lambda *args: reports.append(args))
    assert calls == [("fig1_gram", tmp_path, True), ("fig6_phase_diagram", tmp_path, True)]
    assert [png for png, _ in done] == ["fig1_gram.png", "fig6_phase_diagram.png"]
    assert all(isinstance(s, float) and 0 <= s < 1 for _, s in done)
    assert reports == [("fig1_gram", "fig1_gram.png", done[0][1]),
                       ("fig6_phase_diagram", "fig6_phase_diagram.png", done[1][1])]
    calls.clear()
    assert len(figures.build_all(tmp_path, only=["fig1_gram"])) == 1
    assert calls == [("fig1_gram", tmp_path, False)]


# --------------------------------------------------------------------------- fig6


def _t_star_symmetric(eta, lam, c=0.4, d=0.1, n=100, k=4):
    """Result 3 by hand for symmetric noise: Δ = (1 − η) − η/(K − 1), φ/θ from the block
    eigenvalues μ₁ = 1 − c, μ₂ = 1 − c + n(c − d), g(μ) = μ/(μ + KNλ);
    t* = ⌊log(1 + 1/Δ)/log(φ/θ)⌋ + 1, 1 without noise, NaN when Δ ≤ 0."""
    if eta == 0:
        return 1.0
    delta = (1 - eta) - eta / (k - 1)
    if delta <= 0:
        return math.nan
    s = k * k * n * lam
    mu1, mu2 = 1 - c, 1 - c + n * (c - d)
    ratio = (mu2 / (mu2 + s)) / (mu1 / (mu1 + s))
    return float(math.floor(math.log(1 + 1 / delta) / math.log(ratio)) + 1)


@pytest.mark.parametrize("quick, n_eta, top", [(True, 16, 8), (False, 76, 20)])
def test_fig6_map_grid_boundary_and_title(shown, quick, n_eta, top):
    """fig6: an (η, t) map of label-correction accuracy in percent, η = 0..0.75 in 16
    steps (76 by default), t = 1..8 (1..20 by default), 100% at η = 0, cell edges half a
    step around the grid; the dashed step line sits half a round below t*(η) of Result 3
    (computed here by hand) for K=4, n=100, c=0.4, d=0.1, λ=1e-4."""
    from matplotlib.collections import QuadMesh

    fig = shown("fig6_phase_diagram", **({"quick": True} if quick else {}))
    ax = fig.axes[0]
    mesh = next(c for c in ax.collections if isinstance(c, QuadMesh))
    values = np.asarray(mesh.get_array()).reshape(top, n_eta)
    np.testing.assert_allclose(values[:, 0], 100)
    assert np.all((0 <= values) & (values <= 100))
    eta = np.linspace(0, 0.75, n_eta)
    corners = mesh.get_coordinates()
    half = 0.75 / (n_eta - 1) / 2
    np.testing.assert_allclose(corners[0, :, 0], np.append(eta - half, 0.75 + half),
                               atol=1e-12)
    np.testing.assert_allclose(corners[:, 0, 1], np.arange(top + 1) + 0.5)
    t_star, _ = ax.lines
    np.testing.assert_allclose(t_star.get_xdata(), eta, atol=1e-15)
    expected = [_t_star_symmetric(e, 1e-4) - 0.5 for e in eta]
    np.testing.assert_allclose(t_star.get_ydata(), expected)
    assert fig.axes[1].get_ylabel() == "label-correction accuracy (%)"
    assert ax.get_xlabel() == "noise rate η" and ax.get_ylabel() == "fits t (t = 1: teacher)"
    assert ax.get_title() == ("label-correction accuracy, exact fits\nK = 4, n = 100, "
                              "c = 0.4, d = 0.1, λ = 0.0001, symmetric noise")


# --------------------------------------------------------------------------- fig7


def test_fig7_linearised_panel_is_t_star_by_hand(shown):
    """fig7 (quick): over η = 0.05..0.7 (6 values) and λ = 1e-5..1e-2 (4 values, log
    axis), the left panel holds t*(η, λ) of Result 3 computed here by hand (K=4, n=100,
    c=0.4, d=0.1), masked (grey) where it exceeds the 10 searched fits; the suptitle
    names the search depth and the fixed parameters."""
    from matplotlib.collections import QuadMesh

    fig = shown("fig7_least_round", quick=True)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["linearised t* (Result 3)",
                                                 "exact least round",
                                                 "exact least round − t*"]
    left = panels[0]
    mesh = next(c for c in left.collections if isinstance(c, QuadMesh))
    eta, lam = np.linspace(0.05, 0.7, 6), np.logspace(-5, -2, 4)
    hand = np.array([[_t_star_symmetric(e, l) for e in eta] for l in lam])
    shown_values = np.ma.asarray(mesh.get_array()).reshape(4, 6)
    np.testing.assert_array_equal(np.ma.getmaskarray(shown_values), hand > 10)
    assert (hand > 10).any() and (hand <= 10).any()
    np.testing.assert_array_equal(shown_values.compressed(), hand[hand <= 10])
    assert left.get_yscale() == "log" and left.get_xscale() == "linear"
    corners = mesh.get_coordinates()
    np.testing.assert_allclose(corners[:, 0, 1], 10.0 ** np.arange(-5.5, -1, 1), rtol=1e-12)
    np.testing.assert_allclose(corners[0, :, 0], np.linspace(0.05 - 0.065, 0.7 + 0.065, 7),
                               atol=1e-12)
    assert left.get_xlabel() == "noise rate η" and left.get_ylabel() == "ridge λ"
    assert fig._suptitle.get_text() == (
        "least number of fits for 100% label correction (searched up to 10; grey: not "
        "reached); K=4, n=100, c=0.4, d=0.1, symmetric noise")


def test_fig7_full_size_grid(shown, monkeypatch):
    """fig7 (default): 14 η from 0.05 to 0.7, 13 λ from 1e-5 to 1e-2 (log-spaced), searched
    up to 30 fits, block model K=4, n=100, c=0.4, d=0.1 (the solve is recorded and
    stopped: the full grid takes long)."""
    from labelavg.figures import fig7_least_round as fig7

    calls = []

    def record(**kwargs):
        calls.append(kwargs)
        raise _Stop

    monkeypatch.setattr(fig7, "phase_diagram", record)
    with pytest.raises(_Stop):
        shown("fig7_least_round")
    (kwargs,) = calls
    np.testing.assert_allclose(kwargs.pop("eta"), np.linspace(0.05, 0.7, 14), rtol=1e-15)
    np.testing.assert_allclose(kwargs.pop("lam"), 10.0 ** np.linspace(-5, -2, 13),
                               rtol=1e-13)
    assert {k: kwargs[k] for k in ("rounds", "c", "d", "n_classes", "n_per_class")} == dict(
        rounds=30, c=0.4, d=0.1, n_classes=4, n_per_class=100)
    assert kwargs.get("noise", "symmetric") == "symmetric"


def _reference_accuracy(eta, lam, rounds, c=0.4, d=0.1, n=100, k=4):
    """Label-correction accuracy of fits 1..rounds for symmetric noise with the population
    histogram n·T, from the independent mpmath solver (labelavg._reference): a group
    (true a, given j) of n·T[a, j] instances is right when its output for a beats every
    other class."""
    from labelavg._reference import reference_deviations

    counts = n * (np.full((k, k), eta / (k - 1)) + (1 - eta - eta / (k - 1)) * np.eye(k))
    class_gram = d + (c - d) * np.eye(k)
    ref = reference_deviations(class_gram, counts, k * n * lam, 1 - c, rounds, digits=30)
    assert all(ref.converged)
    weights, true = counts.reshape(-1)[ref.present], ref.present // k
    return [sum(w for g, (w, a) in enumerate(zip(weights, true))
                if dev[a, g] > max(dev[i, g] for i in range(k) if i != a)) / (k * n)
            for dev in ref.deviations]


def test_fig6_cells_match_the_mpmath_reference(shown):
    """fig6 (quick): the columns η = 0.35 and η = 0.5 of the map equal the mpmath
    reference solver's label-correction accuracy at t = 1..8 (in percent): 65% until
    t = 6 resp. 50% until t = 8, then 100%."""
    from matplotlib.collections import QuadMesh

    ax = shown("fig6_phase_diagram", quick=True).axes[0]
    mesh = next(c for c in ax.collections if isinstance(c, QuadMesh))
    values = np.asarray(mesh.get_array()).reshape(8, 16)
    for column, eta in ((7, 0.35), (10, 0.5)):
        expected = 100 * np.array(_reference_accuracy(eta, 1e-4, 8))
        np.testing.assert_allclose(values[:, column], expected, rtol=1e-9)
        assert expected.min() < 99 and expected[-1] == pytest.approx(100)


def test_fig3a_curves_match_the_mpmath_reference(shown):
    """fig3a (quick): at η = 0.35 and η = 0.55 the teacher and student curves (t = 1..5,
    in percent) equal the mpmath reference solver's label-correction accuracy for the
    block model K=4, n=100, c=0.4, d=0.1, λ=2e-4 (the teacher keeps the given labels:
    65% resp. 45%)."""
    ax = shown("fig3a_accuracy_vs_eta", quick=True).axes[0]
    for index, eta in ((7, 0.35), (11, 0.55)):
        expected = 100 * np.array(_reference_accuracy(eta, 2e-4, 5))
        np.testing.assert_allclose([line.get_ydata()[index] for line in ax.lines[:5]],
                                   expected, rtol=1e-9)
        assert expected[0] == pytest.approx(100 * (1 - eta))
