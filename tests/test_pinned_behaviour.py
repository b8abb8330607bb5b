"""Behaviours no other test pinned (issue 20): each one survived a one-line mutant.

Symbols: K classes, n per class, N = Kn, λ ``lam``, η corruption rate, t the fit
number (t = 1 the teacher), T[c, j] = P(given j | true c) (rows = true class,
rows sum to 1), m_c = row c of the label histogram, Δ = min over noisy (c, j)
of m_c[c] − m_c[j], u = 1/K, G = Φ(Φ + KNλI)⁻¹.

Every expected value comes from outside the code under test: a hand count, an
exact fraction, the closed form of Result 1 in plain NumPy, or a recomputation
of the pipeline from the lower-level solver ``fit_probs``.
"""

from fractions import Fraction
from types import SimpleNamespace

import mpmath
import numpy as np
import pytest

from labelavg import _mp, noise
from labelavg.block import BlockModel
from labelavg.cli import _args, main
from labelavg.datasets import list_datasets, load
from labelavg.distill import _stationary_error, distill, judge_predictions
from labelavg.fixed_point import fit_probs
from labelavg.gram import spectrum as gram_spectrum
from labelavg.phase import phase_diagram
from labelavg.probe import SelfDistillation
from labelavg.simulate import simulate
from labelavg.sweep import _least_rounds
from labelavg.synthetic import gaussian_mixture
from labelavg.theorems import full_accuracy, pll_condition


# ---------------------------------------------------------------------------
# SelfDistillation.predict / predict_proba: the default round is the last fit


def _linear_closed_form(features, labels, lam, t):
    """Result 1 in plain NumPy: Y⁽ᵗ⁾ = u + (Y⁽⁰⁾ − u) Gᵗ, returned as (N, K)."""
    n_samples = features.shape[0]
    k = int(labels.max()) + 1
    phi = features @ features.T
    g = phi @ np.linalg.inv(phi + k * n_samples * lam * np.eye(n_samples))
    y0 = np.eye(k)[labels].T
    return (1 / k + (y0 - 1 / k) @ np.linalg.matrix_power(g, t)).T


def test_self_distillation_predicts_with_the_last_round_by_default():
    rng = np.random.default_rng(3)
    features = rng.standard_normal((12, 5))
    labels = np.array([0, 1, 2] * 4)
    labels[:2] = [2, 0]                       # two noisy labels
    lam, rounds = 0.05, 3
    model = SelfDistillation(lam, rounds=rounds, method="linear", pll_topk=None)
    model.fit(features, labels)
    expected = [_linear_closed_form(features, labels, lam, t) for t in range(1, rounds + 1)]
    # the rounds differ, so the default can only match the last one
    assert np.abs(expected[-1] - expected[-2]).max() > 1e-3
    np.testing.assert_allclose(model.predict_proba(features), expected[-1],
                               rtol=1e-9, atol=1e-12)
    last = expected[-1].argmax(axis=1)
    assert np.all(np.sort(expected[-1], axis=1)[:, -2] < expected[-1].max(axis=1) - 1e-6)
    np.testing.assert_array_equal(model.predict(features), last)


# ---------------------------------------------------------------------------
# simulate: test_accuracy[:, t - 1] is fit t's, pll_test_accuracy the PLL student's


def _pipeline_test_accuracies(params, seed):
    """The seed's data and fits recomputed from ``fit_probs`` (dual form)."""
    k, lam = params["n_classes"], params["lam"]
    rng = np.random.default_rng(seed)
    data = gaussian_mixture(k, params["n_per_class"], params["dim"], params["c"],
                            params["d"], n_test=None, rng=rng)
    transition = noise.symmetric(k, params["eta"])
    given = noise.assign_labels_exact(data.y_train, transition, rng)
    x = data.x_train
    phi = x @ x.T
    targets, weights = np.eye(k)[given].T, []
    for _ in range(params["rounds"]):
        fit = fit_probs(phi, targets, lam)
        weights.append(fit.coef @ x)
        targets = fit.probs
    teacher = fit_probs(phi, np.eye(k)[given].T, lam).probs
    top2 = np.argsort(teacher, axis=0)[-2:]
    q_pll = np.zeros_like(teacher)
    np.put_along_axis(q_pll, top2, 0.5, axis=0)
    weights.append(fit_probs(phi, q_pll, lam).coef @ x)
    out = []
    for w in weights:
        logits = w @ data.x_test.T
        ranked = np.sort(logits, axis=0)
        assert np.all(ranked[-1] - ranked[-2] > 1e-6)   # no margin near a tie
        out.append(float(np.mean(logits.argmax(axis=0) == data.y_test)))
    return out


def test_simulate_reports_each_fits_own_test_accuracy():
    params = dict(n_classes=3, n_per_class=6, dim=30, c=0.3, d=0.1, eta=0.5,
                  lam=1e-3, rounds=2)
    seed = 1
    expected = _pipeline_test_accuracies(params, seed)
    assert len(set(expected)) == 3            # teacher, round 2 and PLL all differ
    res = simulate(**params, seeds=(seed,), labels="exact", form="dual")
    assert res.test_accuracy[0].tolist() == expected[:-1]
    assert res.pll_test_accuracy[0] == expected[-1]


# ---------------------------------------------------------------------------
# labelavg check on a hierarchical Gram: the least round printed


def _check_rows(capsys, *flags):
    assert main(["check", "--n-classes", "4", "--superclass-size", "2", "--e", "0.02",
                 "--c", "0.4", "--d", "0.1", "--lam", "1e-3", "--max-rounds", "6",
                 *flags]) == 0
    out = capsys.readouterr().out
    return {line.split("  ")[1].strip(): line.rsplit("  ", 1)[1].strip()
            for line in out.splitlines() if line.startswith("  least rounds")}


def test_check_hierarchical_least_round_without_noise_is_the_teacher(capsys):
    # η = 0 and c > d > e: the teacher on clean labels already gets every group right
    rows = _check_rows(capsys, "--eta", "0")
    assert rows == {"least rounds, linearised t*": "1", "least rounds, exact (t ≤ 6)": "1"}


def test_check_hierarchical_least_round_counts_fits_from_one(capsys):
    rows = _check_rows(capsys, "--eta", "0.5")
    model = BlockModel(4, 100, 0.4, 0.1, superclass_size=2, e=0.02)
    transition = noise.symmetric(4, 0.5)
    for method, label in (("linear", "least rounds, linearised t*"),
                          ("exact", "least rounds, exact (t ≤ 6)")):
        flags = model.solve(transition, lam=1e-3, rounds=6, method=method,
                            pll_topk=None).all_right().tolist()
        assert flags[0] is False and True in flags      # the teacher is not enough
        assert rows[label] == str(flags.index(True) + 1)  # fits are numbered from 1


# ---------------------------------------------------------------------------
# phase_diagram solves up to the largest requested round, whatever the order


def test_phase_diagram_unsorted_rounds_axis():
    kw = dict(eta=[0.1, 0.5], lam=3e-4, c=0.4, d=0.1, n_classes=4, n_per_class=100,
              pll_topk=None)
    shuffled = phase_diagram(rounds=[3, 1, 2], **kw)
    ordered = phase_diagram(rounds=[1, 2, 3], **kw)
    assert shuffled.params["max_rounds"] == 3               # hand count: max of {3, 1, 2}
    for name, value in ordered.values.items():
        np.testing.assert_array_equal(shuffled.values[name], value[:, [2, 0, 1]])
    # t* at η = 0.5, K = 4: Δ = 1 − ηK/(K − 1) = 1/3, the closed form of Result 3
    mu1, mu2 = 1 - 0.4, 1 - 0.4 + 100 * (0.4 - 0.1)
    shift = 4 * 400 * 3e-4
    theta, phi = mu1 / (mu1 + shift), mu2 / (mu2 + shift)
    t_star = int(np.floor(np.log1p(3) / np.log(phi / theta))) + 1
    assert t_star == 3          # so a solve stopping at the last listed round (2) misses it
    assert shuffled.boundary["t_star"][1].tolist() == [t_star] * 3
    least = shuffled.boundary["least_round"][1, 0]
    assert 2 <= least <= 3            # found within the 3 fits solved


# ---------------------------------------------------------------------------
# sweep: the least round is NaN when an undecided round comes first


@pytest.mark.parametrize("right, undecided, expected", [
    ([[0, 1, 1]], [[0, 0, 0]], [2.0]),
    ([[0, 0, 1]], [[0, 2, 0]], [np.nan]),      # round 2 undecided before round 3 right
    ([[1, 0, 0]], [[0, 0, 0]], [1.0]),
    ([[0, 0, 0]], [[0, 0, 0]], [np.nan]),
    ([[0, 0, 1], [0, 1, 1]], [[1, 0, 0], [0, 0, 0]], [np.nan, 2.0]),
])
def test_sweep_least_round_hand_counts(right, undecided, expected):
    got = _least_rounds(np.array(right, bool), np.array(undecided))
    np.testing.assert_array_equal(got, np.array(expected))


# ---------------------------------------------------------------------------
# Δ for a transition matrix that is not doubly stochastic


def test_delta_normalises_each_true_class_row():
    # rows sum to 1, columns do not: m_c = T[c, :], Δ = min(0.8 − 0.2, 0.6 − 0.4)
    transition = np.array([[0.8, 0.2], [0.4, 0.6]])
    expected = min(Fraction(8, 10) - Fraction(2, 10), Fraction(6, 10) - Fraction(4, 10))
    v = full_accuracy(BlockModel(2, 50, 0.4, 0.1), transition, lam=1e-2, exact=False)
    assert v.margin == pytest.approx(float(expected), rel=1e-12)
    # K = 3, columns summing to 1.1, 1.1, 0.8: Δ = min over the five noisy pairs = 3/10
    transition = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.1, 0.3, 0.6]])
    f = [[Fraction(round(10 * x), 10) for x in row] for row in transition]
    expected = min(f[c][c] - f[c][j] for c in range(3) for j in range(3) if j != c)
    assert expected == Fraction(3, 10)
    v = full_accuracy(BlockModel(3, 50, 0.4, 0.1), transition, lam=1e-2, exact=False)
    assert v.margin == pytest.approx(float(expected), rel=1e-12)


# ---------------------------------------------------------------------------
# the shipped sets' test features: float32 upcast of the stored float16


@pytest.mark.parametrize("name", list_datasets())
def test_shipped_test_features_are_float32(name):
    fs = load(name)
    assert fs.x_train.dtype == np.float32 and fs.x_test.dtype == np.float32
    with np.load(fs_path(name)) as stored:
        assert stored["x_test"].dtype == np.float16
        # float16 → float32 is exact: the values are the stored ones
        np.testing.assert_array_equal(fs.x_test[:50], stored["x_test"][:50].astype(np.float32))


def fs_path(name):
    from labelavg.datasets import DATA_DIR, _SHIPPED
    return DATA_DIR / _SHIPPED[name][1]


# ---------------------------------------------------------------------------
# distill: the non-convex PLL student's error estimate is 10× its residual (the
# convex fits carry the proven chain bound, tests/test_chain_bound.py); a margin is
# decided at 2× error


def test_stationary_error_is_ten_residuals_at_least_rounding():
    probs = np.full((3, 2), 1 / 3)
    fit = SimpleNamespace(residual=1e-6, probs=probs)
    np.testing.assert_allclose(_stationary_error(fit), [1e-5, 1e-5], rtol=1e-15)
    tiny = SimpleNamespace(residual=0.0, probs=probs)
    assert np.all(_stationary_error(tiny) > 0)       # never below rounding


def test_margin_is_decided_against_twice_the_error():
    error = 1e-3
    # margins 1.9e-3 (< 2·error: undecided), 2.1e-3 (> 2·error: right), −2.1e-3 (wrong)
    scores = np.array([[0.5 + 1.9e-3, 0.5 + 2.1e-3, 0.5 - 2.1e-3],
                       [0.5, 0.5, 0.5]])
    right, undecided = judge_predictions(scores, [0, 0, 0], error)
    assert right.tolist() == [False, True, False]
    assert undecided.tolist() == [True, False, False]


# ---------------------------------------------------------------------------
# the mpmath certificate: tie threshold 10^-(digits // 2), the "index" tie rule


@pytest.mark.parametrize("digits, exponent", [(30, 15), (31, 15), (40, 20)])
def test_mp_tie_threshold(digits, exponent):
    gram = np.array([[0.5, 0.1], [0.1, 0.5]])
    counts = np.array([[3.0, 1.0], [1.0, 3.0]])
    path = _mp.solve_mp(gram, counts, n_lam=0.08, self_coef=0.5, rounds=1, digits=digits)
    assert path.tie == float(Fraction(1, 10 ** exponent))


def _partial(p, k, ties, digits=30):
    with mpmath.workdps(digits):
        tie = mpmath.mpf(10) ** (-(digits // 2))
        q = _mp._partial(mpmath, [mpmath.mpf(x) for x in p], k, ties, tie)
        return [Fraction(float(x)).limit_denominator(100) for x in q]


def test_mp_partial_index_rule_takes_the_first_tied_classes():
    third = Fraction(1, 2)
    # three classes tied for the top 2 places: "index" keeps the first two
    assert _partial([0.3, 0.3, 0.3, 0.1], 2, "index") == [third, third, 0, 0]
    # one class above, two tied for the one place left: the first tied one
    assert _partial([0.1, 0.25, 0.4, 0.25], 2, "index") == [0, third, third, 0]
    assert _partial([0.1, 0.25, 0.4, 0.25], 2, "split") == [0, Fraction(1, 4), third,
                                                              Fraction(1, 4)]
    assert _partial([0.1, 0.25, 0.4, 0.25], 2, "all") == [0, Fraction(1, 3),
                                                            Fraction(1, 3), Fraction(1, 3)]


def test_mp_partial_tie_window_is_tie_times_spread():
    digits = 30
    tie = 10.0 ** -(digits // 2)
    u = 0.25
    spread = 0.15                              # max |p − u| below
    for gap, tied in ((0.5 * tie * spread, True), (4 * tie * spread, False)):
        with mpmath.workdps(digits):
            p = [mpmath.mpf(u - 0.15), mpmath.mpf(u) + mpmath.mpf(gap), mpmath.mpf(u + 0.15),
                 mpmath.mpf(u)]
            q = _mp._partial(mpmath, p, 2, "split", mpmath.mpf(10) ** (-(digits // 2)))
        expect = [0, 0.25, 0.5, 0.25] if tied else [0, 0.5, 0.5, 0]
        assert [float(x) for x in q] == pytest.approx(expect, abs=1e-12)
        # the same window above the k-th value: u + gap is above it or tied with it
        with mpmath.workdps(digits):
            p = [mpmath.mpf(u) + mpmath.mpf(gap), mpmath.mpf(u), mpmath.mpf(u),
                 mpmath.mpf(u - 0.15)]
            q = _mp._partial(mpmath, p, 2, "split", mpmath.mpf(10) ** (-(digits // 2)))
        expect = [1 / 3, 1 / 3, 1 / 3, 0] if tied else [0.5, 0.25, 0.25, 0]
        assert [float(x) for x in q] == pytest.approx(expect, abs=1e-12)


# ---------------------------------------------------------------------------
# CLI validators: the boundaries are legal


def test_cli_rate_accepts_both_ends():
    assert _args.rate("1") == 1.0 and _args.rate("0") == 0.0
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        _args.rate("1.0000001")


def test_cli_correlations_accept_zero():
    assert _args.correlation("0") == 0.0
    with pytest.raises(ValueError, match="in \\[0, 1\\)"):
        _args.correlation("1")
    _args.check_block(0.5, 0.0)                # d = 0 is legal
    _args.check_block(0.5, 0.0, 0.0, 2)        # e = d = 0 is legal
    _args.check_block(0.5, 0.2, 0.2, 2)        # e = d is legal
    with pytest.raises(ValueError, match="--d: must satisfy 0 <= d < c"):
        _args.check_block(0.5, 0.5)


def test_cli_accepts_eta_one_and_d_zero(capsys):
    assert main(["check", "--eta", "1", "--d", "0", "--c", "0.4", "--n-classes", "3",
                 "--max-rounds", "2"]) == 0
    assert "margin" in capsys.readouterr().out


def test_cli_grid_pll_topk_exempts_two_classes():
    _args.check_grid_pll_topk(2, [2, 3])       # K = 2 points run no PLL student
    _args.check_grid_pll_topk(2, 2)
    _args.check_grid_pll_topk(0, [2, 3])       # k = 0: no PLL student at all
    with pytest.raises(ValueError, match="K = 3"):
        _args.check_grid_pll_topk(3, [2, 3])
    with pytest.raises(ValueError, match="K = 2"):
        _args.check_pll_topk(2, [2])


# ---------------------------------------------------------------------------
# survivors of the mutmut sample (bench/mutation.py), pinned


def test_linear_pll_student_is_one_fit_on_its_targets():
    rng = np.random.default_rng(5)
    features = rng.standard_normal((9, 4))
    labels = np.array([0, 1, 2] * 3)
    lam = 0.05
    path = distill(None, labels, lam, 2, method="linear", features=features)
    assert path.lam == lam
    # Result 1 with the PLL targets as Y⁽⁰⁾ and t = 1: u + (Q − u) G
    phi = features @ features.T
    g = phi @ np.linalg.inv(phi + 3 * 9 * lam * np.eye(9))
    expected = 1 / 3 + (path.pll_targets - 1 / 3) @ g
    np.testing.assert_allclose(path.pll_probs, expected, rtol=1e-9, atol=1e-12)


def test_spectrum_clips_rounding_negatives_of_a_singular_gram():
    ones = np.ones((7, 7)) / 3.0          # rank 1: six eigenvalues exactly 0
    spec = gram_spectrum(ones)
    assert np.all(spec.evals >= 0.0)
    np.testing.assert_allclose(np.sort(spec.evals)[-1], 7 / 3, rtol=1e-12)


def test_pll_condition_reports_the_plurality_margin():
    # symmetric η = 0.3, K = 3: T[c, c] − max_k T[c, k] = 0.7 − 0.15 = 0.55
    v = pll_condition(BlockModel(3, 50, 0.4, 0.1), noise.symmetric(3, 0.3), lam=1e-2)
    assert v.params["plurality"] == pytest.approx(0.55, rel=1e-12)
    assert v.margin == pytest.approx(0.55, rel=1e-12)


def test_lazy_submodules_resolve_to_the_modules():
    import labelavg
    import labelavg.plot

    assert labelavg.__getattr__("plot") is labelavg.plot
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        labelavg.__getattr__("nope")


def test_load_features_refuses_one_dimensional_features(tmp_path):
    from labelavg.datasets import load_features

    path = tmp_path / "flat.npz"
    np.savez(path, x_train=np.ones(6), y_train=np.array([0, 1, 0, 1, 0, 1]))
    with pytest.raises(ValueError, match="x_train"):
        load_features(path)


def test_check_prints_the_filter_rows(capsys):
    assert main(["check", "--n-classes", "3", "--eta", "0.2", "--max-rounds", "3"]) == 0
    out = capsys.readouterr().out
    for label in ("θ = g(μ₁)  within-class", "φ = g(μ₂)  class contrasts", "φ/θ"):
        assert label in out
