"""Tests that pin values, not shapes (issue 13).

Symbols: K classes, n per class, N = Kn, c/d block correlations, λ ``lam``, η
corruption rate, t fits (t = 1 teacher), T[c, j] = P(given j | true c) (rows =
true class), Q targets, P probs, A dual coefficients (W = A F), g(μ) =
μ/(μ + KNλ), θ = g(1 − c), φ = g(1 − c + n(c − d)), ψ = g(μ₂ + Knd), m_c the
label histogram of class c, m̄ the overall one, u = 1/K, Δ the smallest noisy
margin m_c[c] − m_c[j].

Every expected value here is computed independently of the code under test
(closed forms from theory/THEORY.md, exact rationals, plain NumPy), never copied from
a run of it.
"""

import csv
import math
import os
import subprocess
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from labelavg import noise
from labelavg.block import BlockModel
from labelavg.distill import pll_targets
from labelavg.fixed_point import fit_probs
from labelavg.phase import phase_diagram
from labelavg.theorems import full_accuracy, linear_margins, pll_condition

from strategies import block_problems, seeds

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------
# independent helpers
# ---------------------------------------------------------------------------

def _softmax(z):
    e = np.exp(z - z.max(axis=0))
    return e / e.sum(axis=0)


def _filters(k, n, c, d, lam):
    """θ, φ, ψ from the eigenvalues of theory/THEORY.md, Result 2 (plain floats)."""
    mu1 = 1 - c
    mu2 = mu1 + n * (c - d)
    mu3 = mu2 + k * n * d
    shift = k * (k * n) * lam
    return tuple(mu / (mu + shift) for mu in (mu1, mu2, mu3))


def _closed_form_outputs(k, n, c, d, lam, hist, t):
    """y_g⁽ᵗ⁾ (K, G) of theory/THEORY.md Result 2 for the groups with positive count.

    y = u + θᵗ(e(ŷ) − u) + (φᵗ − θᵗ)(m_c − u) + (ψᵗ − φᵗ)(m̄ − u), with m_c =
    row c of the histogram / its sum and m̄ the column mean of the rows m_c
    (every class has n instances, so this is the overall label histogram).
    """
    theta, phi, psi = _filters(k, n, c, d, lam)
    hist = np.asarray(hist, dtype=float)
    m_c = hist / hist.sum(axis=1, keepdims=True)
    m_bar = m_c.mean(axis=0)
    u = np.full(k, 1.0 / k)
    cols = []
    for true, label in zip(*np.nonzero(hist > 0)):
        cols.append(u + theta ** t * (np.eye(k)[label] - u)
                    + (phi ** t - theta ** t) * (m_c[true] - u)
                    + (psi ** t - phi ** t) * (m_bar - u))
    return np.stack(cols, axis=1)


def _min_margin(outputs, true):
    """min over groups of y_g[c] − max_{k≠c} y_g[k]."""
    own = outputs[true, np.arange(true.size)]
    rivals = outputs.copy()
    rivals[true, np.arange(true.size)] = -np.inf
    return float(np.min(own - rivals.max(axis=0)))


def _features(n_samples, dim, k, seed):
    rng = np.random.default_rng(seed)
    true = np.arange(n_samples) % k
    means = 1.5 * rng.standard_normal((k, dim))
    return means[true] + rng.standard_normal((n_samples, dim)), true


def _onehot(labels, k):
    return np.eye(k)[labels].T


# ---------------------------------------------------------------------------
# fixed_point: the reported residual and the dual init
# ---------------------------------------------------------------------------

def _unconverged_fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fit_probs(*args, **kwargs)


@pytest.mark.parametrize("max_iter", [1, 2, 3])
@pytest.mark.parametrize("lam", [1e-3, 1e-1])
def test_dual_residual_is_the_documented_formula(max_iter, lam):
    """residual = ‖∇f(W)‖ / (‖(P − Q)F/N‖ + λ‖W‖), with W = A F, from probs/coef alone.

    Stopped after a few Newton steps, so the residual is far above round-off and
    the two denominator terms differ (dropping λ‖W‖ changes it by a factor).
    """
    k, n_samples = 3, 30
    feats, true = _features(n_samples, 5, k, seed=1)
    gram = feats @ feats.T
    targets = _onehot((true + (np.arange(n_samples) % 4 == 0)) % k, k)
    fit = _unconverged_fit(gram, targets, lam, max_iter=max_iter, tol=1e-14)
    assert fit.form == "dual" and fit.n_iter == max_iter
    w = fit.coef @ feats
    # the returned probs are the softmax of the returned coefficients' logits (the
    # solver updates logits incrementally, Z + s dZ: round-off of order 1e-13)
    np.testing.assert_allclose(fit.probs, _softmax(w @ feats.T), rtol=0, atol=1e-10)
    data = (fit.probs - targets) @ feats / n_samples
    grad = data + lam * w
    expected = np.linalg.norm(grad) / (np.linalg.norm(data) + lam * np.linalg.norm(w))
    assert fit.residual == pytest.approx(expected, rel=1e-8)
    assert fit.converged is (fit.residual <= 1e-14)


@pytest.mark.parametrize("max_iter", [1, 2])
def test_primal_residual_is_the_documented_formula(max_iter):
    k, n_samples, lam = 3, 30, 1e-2
    feats, true = _features(n_samples, 5, k, seed=2)
    targets = _onehot((true + (np.arange(n_samples) % 3 == 0)) % k, k)
    fit = _unconverged_fit(None, targets, lam, features=feats, max_iter=max_iter, tol=1e-14)
    assert fit.form == "primal"
    w = fit.coef
    np.testing.assert_allclose(fit.probs, _softmax(w @ feats.T), rtol=0, atol=1e-10)
    data = (fit.probs - targets) @ feats / n_samples
    expected = (np.linalg.norm(data + lam * w)
                / (np.linalg.norm(data) + lam * np.linalg.norm(w)))
    assert fit.residual == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize("shift", ["constant", "per-column"])
def test_dual_init_shifted_per_column_is_the_same_point(shift):
    """A + 1 sᵀ has logits A Φ + 1 (sᵀΦ): the same softmax, the same minimiser."""
    k, n_samples, lam = 4, 24, 1e-2
    feats, true = _features(n_samples, 6, k, seed=3)
    gram = feats @ feats.T
    targets = _onehot(true, k)
    cold = fit_probs(gram, targets, lam)
    assert cold.converged and cold.n_iter > 0
    offset = 5.0 if shift == "constant" else np.random.default_rng(0).normal(0, 5, n_samples)
    warm = fit_probs(gram, targets, lam, init=cold.coef + offset)
    assert warm.n_iter == 0 and warm.converged
    np.testing.assert_allclose(warm.probs, cold.probs, rtol=0, atol=1e-12)
    assert warm.residual <= 1e-10


# ---------------------------------------------------------------------------
# theorems: t* at the exact boundary, a zero plurality margin, the ψ term
# ---------------------------------------------------------------------------

def _boundary_case():
    """K = 2, n = 16, c = 1/2, d = 1/4, λ = 3/128, counts [[9, 7], [7, 9]].

    μ₁ = 1/2, μ₂ = 9/2, KNλ = 3/2: θ = 1/4, φ = 3/4, φ/θ = 3; Δ = 9/16 − 7/16 = 1/8,
    so (φ/θ)² = 9 = 1 + 1/Δ exactly. Every number is a dyadic rational (exact in
    float64) and log1p(8)/log(3) evaluates to exactly 2.0.
    """
    model = BlockModel(2, 16, 0.5, 0.25)
    return model, np.array([[9, 7], [7, 9]]), 3 / 128


def test_boundary_case_is_exact():
    """The noisy margin (φᵗ − θᵗ)Δ − θᵗ is exactly 0 at t = 2 and > 0 at t = 3."""
    theta, phi, delta = Fraction(1, 4), Fraction(3, 4), Fraction(1, 8)
    mu1, mu2 = Fraction(1, 2), Fraction(1, 2) + 16 * (Fraction(1, 2) - Fraction(1, 4))
    shift = 2 * 32 * Fraction(3, 128)
    assert (mu1 / (mu1 + shift), mu2 / (mu2 + shift)) == (theta, phi)
    margin = [(phi ** t - theta ** t) * delta - theta ** t for t in (1, 2, 3)]
    assert margin[0] < 0 and margin[1] == 0 and margin[2] > 0
    model, counts, lam = _boundary_case()
    assert _filters(2, 16, 0.5, 0.25, lam)[:2] == (0.25, 0.75)
    assert math.log1p(8.0) / math.log(3.0) == 2.0


def test_t_star_at_the_exact_boundary_is_the_next_round():
    """(φ/θ)ᵗ = 1 + 1/Δ exactly at t = 2: the strict condition first holds at t = 3."""
    model, counts, lam = _boundary_case()
    verdict = full_accuracy(model, counts=counts, lam=lam, max_rounds=6, exact=False)
    assert verdict.holds and verdict.margin == 0.125
    assert verdict.min_rounds == 3


def test_plurality_margin_is_the_smallest_over_classes():
    """Per-class margins 0.4, 0.1 and −0.1 (class 2 prefers label 0): Δ_plurality = −0.1."""
    transition = np.array([[0.6, 0.2, 0.2], [0.3, 0.4, 0.3], [0.45, 0.2, 0.35]])
    verdict = pll_condition(transition=transition)
    assert verdict.margin == pytest.approx(-0.1, abs=1e-15) and not verdict.holds
    fixed = transition.copy()
    fixed[2] = [0.25, 0.2, 0.55]
    assert pll_condition(transition=fixed).margin == pytest.approx(0.1, abs=1e-15)


def test_plurality_margin_exactly_zero_does_not_hold():
    """Pair noise at η = 0.5: T[c, c] = T[c, c + 1] = 1/2, margin exactly 0."""
    for k in (2, 3, 5):
        verdict = pll_condition(transition=noise.pair(k, 0.5))
        assert verdict.margin == 0.0
        assert not verdict.holds and verdict.min_rounds is None
    just_inside = pll_condition(transition=noise.pair(3, 0.5 - 2 ** -20))
    assert just_inside.holds and just_inside.margin == pytest.approx(2 ** -19, rel=1e-12)


NOT_DOUBLY_STOCHASTIC = np.array([[0.7, 0.2, 0.1],
                                  [0.1, 0.8, 0.1],
                                  [0.5, 0.1, 0.4]])


@pytest.mark.parametrize("lam", [1e-3, 1e-2])
def test_linear_solution_and_margins_with_a_non_uniform_histogram(lam):
    """ψ enters through m̄ = column mean of T (0.433, 0.367, 0.2), not its row mean."""
    k, n, c, d = 3, 50, 0.4, 0.1
    transition = NOT_DOUBLY_STOCHASTIC
    assert not np.allclose(transition.sum(axis=0), 1)
    model = BlockModel(k, n, c, d)
    sol = model.solve(transition=transition, lam=lam, rounds=6, method="linear", pll_topk=None)
    true = sol.groups[:, 0]
    for t in range(1, 7):
        expected = _closed_form_outputs(k, n, c, d, lam, n * transition, t)
        np.testing.assert_allclose(sol.probs[t - 1], expected, rtol=1e-10, atol=1e-12)
        margin = linear_margins(model, lam=lam, histograms=n * transition, t=t)
        assert margin == pytest.approx(_min_margin(expected, true), rel=1e-9, abs=1e-13)


def test_full_accuracy_scans_the_psi_margin_for_a_non_uniform_histogram():
    """m̄ = (0.47, 0.27, 0.27): the ψ term moves the least round from the t* formula's 6 to 7."""
    k, n, c, d, lam = 3, 50, 0.4, 0.1, 1e-3
    transition = np.array([[0.9, 0.05, 0.05], [0.05, 0.7, 0.25], [0.45, 0.05, 0.5]])
    true = np.nonzero(transition > 0)[0]
    margins = [_min_margin(_closed_form_outputs(k, n, c, d, lam, n * transition, t), true)
               for t in range(1, 31)]
    expected = next((t for t, m in enumerate(margins, 1) if m > 1e-12), None)
    model = BlockModel(k, n, c, d)
    # the uniform-m̄ formula would say otherwise: the ψ term decides this case
    assert expected is not None and expected != _t_star_formula(model, transition, lam)
    verdict = full_accuracy(model, transition=transition, lam=lam, max_rounds=30,
                            exact=False)
    assert verdict.min_rounds == expected and verdict.holds


# ---------------------------------------------------------------------------
# block: convergence flags and a huge n
# ---------------------------------------------------------------------------

def test_reduced_solver_reports_non_convergence():
    model = BlockModel(4, 100, 0.4, 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sol = model.solve(transition=noise.symmetric(4, 0.5), lam=1e-6, rounds=2, max_iter=1,
                          pll_topk=None)
    assert not sol.converged.any()
    assert np.all(sol.residual > 1e-10) and np.all(sol.n_iter <= 1)
    full = model.solve(transition=noise.symmetric(4, 0.5), lam=1e-6, rounds=2, pll_topk=None)
    assert full.converged.all() and np.all(full.n_iter > 1)


def test_huge_n_matches_the_large_n_limit():
    """n = 1e9: the self term (1 − c)(q − p)/(Nλ) is O(1/n) of the class terms.

    Without it the outputs depend on the counts only through proportions, so
    the n = 1e9 solution equals the n = 10 one without the self term, up to the
    dropped term's effect: logits move by (1 − c)/(Nλ) · |q − p| ≤ 6e-5.
    """
    transition = noise.symmetric(10, 0.8)
    huge = BlockModel(10, 1e9, 0.4, 0.1).solve(transition=transition, lam=1e-6, rounds=2)
    limit = BlockModel(10, 10, 0.4, 0.1).solve(transition=transition, lam=1e-6, rounds=2,
                                               self_term=False)
    assert huge.converged.all() and limit.converged.all()
    np.testing.assert_array_equal(huge.groups, limit.groups)
    np.testing.assert_allclose(huge.probs, limit.probs, rtol=0, atol=6e-5)
    assert [a.all for a in huge.accuracy] == [a.all for a in limit.accuracy]
    # the linearised margin at n = 1e9 is far from 0 (θ ≈ 6e-6, φ ≈ 1): every group right
    true = huge.groups[:, 0]
    for t in (1, 2):
        outputs = _closed_form_outputs(10, 1e9, 0.4, 0.1, 1e-6, 1e9 * transition, t)
        assert _min_margin(outputs, true) > 0.01
    assert huge.all_right().all() and [a.all for a in huge.accuracy] == [1.0, 1.0]


def test_no_self_term_depends_on_proportions_only():
    transition = noise.asymmetric(4, 0.3)
    kwargs = dict(transition=transition, lam=1e-3, rounds=3, self_term=False)
    a = BlockModel(4, 7, 0.4, 0.1).solve(**kwargs)
    b = BlockModel(4, 7e6, 0.4, 0.1).solve(**kwargs)
    np.testing.assert_allclose(a.probs, b.probs, rtol=0, atol=1e-9)


@settings(max_examples=15)
@given(block_problems(), st.floats(-4, -1))
def test_reduced_exact_solution_satisfies_the_fixed_point(problem, log_lam):
    """The returned group outputs solve the reduced (FP) of labelavg/block.py's notes.

    z_g = (1/(Nλ)) [Σ_h n_h (q_h − p_h) Φ(a(g), a(h)) + (1 − c)(q_g − p_g)],
    p_g = softmax(z_g), recomputed here with plain NumPy for round 1.
    """
    (k, n, c, d), transition = problem
    lam = 10.0 ** log_lam
    sol = BlockModel(k, n, c, d).solve(transition=transition, lam=lam, rounds=1, pll_topk=None)
    assert sol.converged.all()
    true, label = sol.groups[:, 0], sol.groups[:, 1]
    counts = n * transition[true, label]
    np.testing.assert_allclose(sol.counts, counts, rtol=1e-12)
    cls = np.where(np.eye(k, dtype=bool), c, d)
    b = np.eye(k)[:, label] - sol.probs[0]
    big_n = k * n
    z = ((b * counts) @ cls[true][:, true] + (1 - c) * b) / (big_n * lam)
    # the solver's tolerance is on Nλ A − (Q − P) (max-abs 1e-10): in logits that
    # is at most 1e-10 (Σ_h n_h + 1)/(Nλ) ≤ 2e-10/λ
    bound = 2e-10 / lam * 10 + 1e-12
    np.testing.assert_allclose(sol.probs[0], _softmax(z), rtol=0, atol=bound)


# ---------------------------------------------------------------------------
# noise: exact CDF breakpoints
# ---------------------------------------------------------------------------

class _FixedUniforms(np.random.Generator):
    """A Generator whose ``random`` returns prescribed uniforms (in instance order)."""

    def __init__(self, uniforms):
        super().__init__(np.random.PCG64(0))
        self.uniforms = np.asarray(uniforms, dtype=float)

    def random(self, size=None, dtype=np.float64, out=None):
        assert int(np.prod(size)) == self.uniforms.size   # one uniform per instance
        return self.uniforms.copy().reshape(size)


def _breakpoints(row):
    """Every cumulative sum of the row, its float neighbours, 0 and the largest u < 1."""
    cdf = np.cumsum(row)
    pts = np.concatenate([cdf, np.nextafter(cdf, 0), np.nextafter(cdf, 2),
                          [0.0, np.nextafter(1.0, 0)]])
    return np.unique(pts[(pts >= 0) & (pts < 1)])


@pytest.mark.parametrize("row", [
    [0.0, 0.5, 0.5],              # u = 0 must skip the leading zero class
    [0.5, 0.0, 0.5],              # u = 0.5 sits on a flat step
    [0.25, 0.0, 0.0, 0.75],
    [0.1, 0.2, 0.7, 0.0],         # cumsum 0.1 + 0.2 + 0.7 rounds below 1
    [0.3, 0.3, 0.3, 0.1, 0.0, 0.0],
])
def test_sample_labels_never_picks_a_zero_probability_class(row):
    row = np.asarray(row)
    k = row.size
    transition = np.roll(np.eye(k), 1, axis=1)
    transition[0] = row
    uniforms = _breakpoints(row)
    true = np.zeros(uniforms.size, dtype=int)
    given = noise.sample_labels(true, transition, _FixedUniforms(uniforms))
    assert np.all(row[given] > 0), list(zip(uniforms.tolist(), given.tolist()))
    # inverse CDF: label j iff cdf[j-1] <= u < cdf[j] (exact where the sums are)
    if row.tolist() == [0.0, 0.5, 0.5]:
        assert given[uniforms == 0.0].tolist() == [1]
        assert given[uniforms == 0.5].tolist() == [2]


@settings(max_examples=40)
@given(st.integers(2, 8), seeds)
def test_sample_labels_breakpoints_property(k, seed):
    rng = np.random.default_rng(seed)
    row = rng.dirichlet(np.ones(k))
    row[rng.random(k) < 0.4] = 0.0
    if row.sum() == 0:
        row[rng.integers(k)] = 1.0
    row /= row.sum()
    transition = np.tile(row, (k, 1))
    uniforms = _breakpoints(row)
    given = noise.sample_labels(np.zeros(uniforms.size, int), transition,
                                _FixedUniforms(uniforms))
    assert np.all(row[given] > 0)


# ---------------------------------------------------------------------------
# phase: gapped rounds axis, values of a grid
# ---------------------------------------------------------------------------

BASE = dict(lam=2e-4, c=0.4, d=0.1, n_classes=4, n_per_class=100)


def _assert_same(a, b, name):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)


def test_gapped_rounds_axis_equals_the_matching_columns():
    eta = [0.0, 0.2, 0.5, 0.7]
    gapped = phase_diagram(eta=eta, rounds=[1, 3, 4, 6], **BASE)
    full = phase_diagram(eta=eta, rounds=list(range(1, 7)), **BASE)
    cols = [0, 2, 3, 5]
    assert set(gapped.values) == set(full.values)
    for name in gapped.values:
        _assert_same(gapped.values[name], full.values[name][:, cols], name)
    for name in gapped.boundary:
        _assert_same(gapped.boundary[name], full.boundary[name][:, cols], name)
    # rounds vary along the axis: the accuracies are not constant across it
    assert len({tuple(col) for col in full.values["label_correction"].T}) > 1


def test_phase_values_match_direct_solves():
    """Every cell of an (η, t) grid equals the reduced solve at that η, read at round t."""
    eta, rounds = [0.0, 0.2, 0.5, 0.8], [1, 3, 4, 6]
    pd = phase_diagram(eta=eta, rounds=rounds, **BASE)
    model = BlockModel(4, 100, 0.4, 0.1)
    for i, e in enumerate(eta):
        transition = noise.symmetric(4, e)
        sol = model.solve(transition=transition, lam=2e-4, rounds=6)
        right = sol.all_right()
        least = next((t for t in range(1, 7) if right[t - 1]), math.nan)
        t_star = _t_star_formula(model, transition, 2e-4)
        for j, t in enumerate(rounds):
            acc = sol.accuracy[t - 1]
            assert pd.values["label_correction"][i, j] == acc.all
            _assert_same(pd.values["label_correction_noisy"][i, j], acc.noisy, "noisy")
            _assert_same(pd.values["label_correction_clean"][i, j], acc.clean, "clean")
            assert pd.values["fresh"][i, j] == sol.fresh_accuracy[t - 1]
            assert pd.values["all_right"][i, j] == right[t - 1]
            assert pd.values["teacher_label_correction"][i, j] == sol.accuracy[0].all
            assert pd.values["teacher_fresh"][i, j] == sol.fresh_accuracy[0]
            assert pd.values["pll_label_correction"][i, j] == sol.pll_accuracy.all
            assert pd.values["pll_fresh"][i, j] == sol.pll_fresh_accuracy
            assert pd.values["pll_all_right"][i, j] == sol.all_right(pll=True)
            _assert_same(pd.boundary["least_round"][i, j], least, "least_round")
            _assert_same(pd.boundary["t_star"][i, j], t_star, "t_star")
    # η = 0: the teacher is already right; η = 0.5 needs more than one fit
    assert pd.values["label_correction"][2, 0] < pd.values["label_correction_clean"][2, 0]
    # η = 0.8 > (K − 1)/K: infeasible; the PLL student's two accuracies differ there
    assert math.isnan(pd.boundary["t_star"][3, 0])
    assert pd.values["pll_fresh"][3, 0] != pd.values["pll_label_correction"][3, 0]
    assert pd.boundary["least_round"][0, 0] == 1 and pd.boundary["least_round"][2, 0] > 1


def _t_star_formula(model, transition, lam):
    theta, phi, _ = _filters(model.n_classes, model.n_per_class, model.c, model.d, lam)
    noisy = (transition > 0) & ~np.eye(model.n_classes, dtype=bool)
    if not noisy.any():
        return 1.0
    delta = float(np.min((np.diag(transition)[:, None] - transition)[noisy]))
    if delta <= 0:
        return math.nan
    return float(math.floor(math.log1p(1 / delta) / math.log(phi / theta)) + 1)


def _labelavg(*args, cwd):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "labelavg", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_cli_phase_csv_least_round_values(tmp_path):
    """The CLI's lambda map: least_round of the linear method is t* of Result 3 (or NaN > 5)."""
    res = _labelavg("phase", "--eta", "0.2,0.5", "--lam", "log:1e-3:1e-1:3", "--rounds",
                    "5", "--method", "linear", "--no-figure", "--out", str(tmp_path),
                    cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    with open(tmp_path / "phase.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6
    model = BlockModel(4, 100, 0.4, 0.1)
    seen = set()
    for row in rows:
        eta, lam = float(row["eta"]), float(row["lam"])
        seen.add((eta, round(math.log10(lam), 9)))
        t_star = _t_star_formula(model, noise.symmetric(4, eta), lam)
        assert float(row["t_star"]) == t_star
        expected = t_star if t_star <= 5 else math.nan
        got = float(row["least_round"])
        assert got == expected or (math.isnan(got) and math.isnan(expected)), row
    assert seen == {(e, x) for e in (0.2, 0.5) for x in (-3.0, -2.0, -1.0)}
    finite = [float(r["least_round"]) for r in rows if r["least_round"] != "nan"]
    assert len(set(finite)) > 1   # the map is not constant


# ---------------------------------------------------------------------------
# probe: noise_sweep values
# ---------------------------------------------------------------------------

def _blobs(k, n, dim, seed, scale=2.0):
    rng = np.random.default_rng(seed)
    centres = scale * rng.standard_normal((k, dim))
    y = np.repeat(np.arange(k), n)
    return centres[y] + rng.standard_normal((k * n, dim)), y


def test_noise_sweep_values_recomputed_independently():
    from labelavg.datasets import FeatureSet
    from labelavg.probe import SelfDistillation, noise_sweep

    k, lam = 3, 1e-2
    # overlapping classes: the three models' accuracies differ (gains are not all 0)
    x, y = _blobs(k, 20, 4, seed=5, scale=1.0)
    xt, yt = _blobs(k, 30, 4, seed=5, scale=1.0)
    xt = xt + np.random.default_rng(9).standard_normal(xt.shape)
    data = FeatureSet(x, y, xt, yt, ("a", "b", "c"))
    transitions = {0.0: noise.symmetric(k, 0.0), 0.4: noise.symmetric(k, 0.4)}
    sweep = noise_sweep(data, transitions, SelfDistillation(lam, 2), seeds=(3, 11))
    assert sweep.etas == (0.0, 0.4) and sweep.seeds == (3, 11)
    assert sweep.models == ("teacher", "student t=2", "PLL")
    for i, (eta, transition) in enumerate(transitions.items()):
        for s, seed in enumerate((3, 11)):
            labels = noise.sample_labels(y, transition, np.random.default_rng(seed))
            assert sweep.noise_rate[i, s] == np.mean(labels != y)
            teacher = fit_probs(None, _onehot(labels, k), lam, features=x)
            student = fit_probs(None, teacher.probs, lam, features=x)
            pll = fit_probs(None, np.asarray(pll_targets(teacher.probs, k=2)), lam,
                            features=x)
            for m, fit in enumerate((teacher, student, pll)):
                test_acc = np.mean(np.argmax(fit.coef @ xt.T, axis=0) == yt)
                label_acc = np.mean(np.argmax(fit.probs, axis=0) == y)
                assert sweep.test_accuracy[i, s, m] == pytest.approx(test_acc, abs=1e-12)
                assert sweep.label_accuracy[i, s, m] == pytest.approx(label_acc, abs=1e-12)
    assert np.all(sweep.noise_rate[0] == 0)
    assert sweep.noise_rate[1, 0] != sweep.noise_rate[1, 1] or not np.array_equal(
        sweep.test_accuracy[1, 0], sweep.test_accuracy[1, 1])
    mean, std = sweep.gains()
    assert np.any(mean != 0) and np.any(std != 0)   # the checks below can fail
    diff = 100 * (sweep.test_accuracy[:, :, 1:] - sweep.test_accuracy[:, :, :1])
    np.testing.assert_allclose(mean, diff.mean(axis=1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(std, diff.std(axis=1), rtol=0, atol=1e-12)
    lmean, _ = sweep.gains("label")
    ldiff = 100 * (sweep.label_accuracy[:, :, 1:] - sweep.label_accuracy[:, :, :1])
    np.testing.assert_allclose(lmean, ldiff.mean(axis=1), rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------
# widened strategies: linear closed form on any histogram
# ---------------------------------------------------------------------------

@given(block_problems(), st.floats(-5, 0), st.integers(1, 8))
@example(((2, 1, 0.5, 0.0), np.eye(2)), 0.0, 1)
@example(((8, 2000, 0.9, 0.0), noise.pair(8, 0.5)), -5.0, 8)
def test_linear_solve_is_the_closed_form(problem, log_lam, t):
    """BlockModel.solve(method="linear") = theory/THEORY.md's closed form, any T (ψ term included)."""
    (k, n, c, d), transition = problem
    lam = 10.0 ** log_lam
    sol = BlockModel(k, n, c, d).solve(transition=transition, lam=lam, rounds=t, method="linear",
                                       pll_topk=None)
    expected = _closed_form_outputs(k, n, c, d, lam, n * transition, t)
    scale = np.abs(expected - 1.0 / k).max() + 1e-300
    err = np.abs(sol.probs[-1] - expected).max()
    assert err <= 1e-9 * scale + 1e-13


# ---------------------------------------------------------------------------
# found by the former hand-written mutant list (issue 13): behaviours no other test pinned
# ---------------------------------------------------------------------------

def test_default_tolerance_per_dtype_and_float32_fits_reach_it():
    """Documented defaults: 1e-10 (float64), 1e-4 (float32, its round-off floor)."""
    from labelavg.fixed_point import default_tol

    assert default_tol(np.float64) == 1e-10 and default_tol("float64") == 1e-10
    assert default_tol(np.float32) == 1e-4 and default_tol("float32") == 1e-4
    feats, true = _features(200, 8, 4, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)   # an unconverged fit warns
        fit = fit_probs(None, _onehot(true, 4).astype(np.float32), 1e-3,
                        features=feats.astype(np.float32))
    assert fit.probs.dtype == np.float32 and fit.converged and fit.residual <= 1e-4


def test_pll_student_is_built_from_the_teacher_not_the_last_round():
    from labelavg.distill import distill
    from labelavg.gram import block_gram, block_labels

    rng = np.random.default_rng(1)
    true = block_labels(3, 4)
    labels = noise.sample_labels(true, noise.symmetric(3, 0.5), rng)
    gram = block_gram(3, 4, 0.5, 0.1) + 0.05 * np.diag(rng.random(12))
    path = distill(gram, labels, 10 ** rng.uniform(-3, -1), 4, true_labels=true)
    from_teacher = pll_targets(path.probs[0], 2)
    assert not np.allclose(from_teacher, pll_targets(path.probs[-1], 2))  # not trivial
    np.testing.assert_allclose(path.pll_targets, from_teacher, rtol=0, atol=1e-15)
    student = fit_probs(gram, from_teacher, path.lam)
    np.testing.assert_allclose(path.pll_probs, student.probs, rtol=0, atol=1e-8)


@pytest.mark.parametrize("ties", ["split", "all", "index"])
def test_pll_targets_with_zero_tie_tolerance(ties):
    """tie_tol = 0: only exactly equal values tie; the k-th class itself is always kept."""
    probs = np.array([[0.5, 0.25, 0.4], [0.3, 0.25, 0.4], [0.2, 0.5, 0.2]])
    got = pll_targets(probs, 2, ties=ties, tie_tol=0.0)
    expected = np.array([[0.5, 0.25, 0.5], [0.5, 0.25, 0.5], [0.0, 0.5, 0.0]])
    if ties == "all":
        expected[:, 1] = [1 / 3, 1 / 3, 1 / 3]
    if ties == "index":
        expected[:, 1] = [0.5, 0.0, 0.5]
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("method", ["exact", "linear"])
def test_fresh_instance_outputs_from_their_formula(method):
    """z_a = (1/(Nλ)) Σ_h n_h (q_h − p_h) Φ(a, a(h)); probs softmax(z) or (1 + z)/K."""
    k, n, c, d, lam = 3, 40, 0.4, 0.1, 1e-2
    transition = NOT_DOUBLY_STOCHASTIC
    sol = BlockModel(k, n, c, d).solve(transition=transition, lam=lam, rounds=3, method=method)
    true, label = sol.groups[:, 0], sol.groups[:, 1]
    counts = n * transition[true, label]
    cls = np.where(np.eye(k, dtype=bool), c, d)
    targets = [np.eye(k)[:, label]] + [sol.probs[t] for t in range(2)]
    for t in range(3):
        z = ((targets[t] - sol.probs[t]) * counts) @ cls[true] / (k * n * lam)
        np.testing.assert_allclose(sol.fresh_logits[t], z, rtol=1e-9, atol=1e-12)
        probs = _softmax(z) if method == "exact" else (1 + z) / k
        np.testing.assert_allclose(sol.fresh_probs[t], probs, rtol=1e-9, atol=1e-12)
        assert sol.fresh_accuracy[t] == np.mean(np.argmax(z, axis=0) == np.arange(k))
