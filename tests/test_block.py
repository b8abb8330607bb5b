"""Tests of labelavg.block: closed-form spectrum, reduced solver vs full solver.

Symbols: K classes, n per class, c/d/e correlations, m superclass size, λ.
"""

import math
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from labelavg._testing import assert_close
from labelavg.block import BlockModel, labels_from_counts, symbolic_spectrum
from labelavg.distill import distill
from labelavg.noise import asymmetric, symmetric



FAST = settings(max_examples=20, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------
# spectrum
# ---------------------------------------------------------------------------

def _merge_levels(values, projectors, tol):
    """Sum the projectors of closed-form levels with equal eigenvalues."""
    merged = []
    for val, proj in sorted(zip(values, projectors), key=lambda vp: vp[0]):
        if merged and abs(val - merged[-1][0]) <= tol:
            merged[-1] = (merged[-1][0], merged[-1][1] + proj)
        else:
            merged.append((val, proj))
    return merged


def _check_spectrum(model):
    gram = model.gram()
    spec = model.spectrum()
    evals, evecs = np.linalg.eigh(gram)
    scale = max(1.0, float(evals.max()))
    np.testing.assert_allclose(spec.eigvals(), evals, atol=1e-10 * scale)
    tol = 1e-8 * scale
    for value, proj in _merge_levels(spec.values, spec.projectors(), tol):
        vecs = evecs[:, np.abs(evals - value) <= tol]
        assert_close(proj, vecs @ vecs.T, rtol=1e-8, what=f"projector at μ={value}")
    total = sum(spec.projectors())
    assert_close(total, np.eye(gram.shape[0]), what="resolution of identity")


@pytest.mark.parametrize("model", [
    BlockModel(2, 1, 0.5, 0.2),
    BlockModel(3, 4, 0.6, 0.0),          # d = 0: μ₂ = μ₃ merge
    BlockModel(4, 5, 0.4, 0.1),
    BlockModel(6, 3, 0.7, 0.3, superclass_size=2, e=0.1),
    BlockModel(6, 3, 0.7, 0.3, superclass_size=3, e=0.3),   # d = e
    BlockModel(6, 2, 0.7, 0.3, superclass_size=1, e=0.1),   # m = 1: block with e
    BlockModel(4, 3, 0.7, 0.3, superclass_size=4, e=0.1),   # m = K: block with d
])
def test_spectrum_matches_eigh(model):
    _check_spectrum(model)


@FAST
@given(k=st.integers(2, 5), n=st.integers(1, 6), c=st.floats(0.05, 0.95),
       frac_d=st.floats(0, 0.99), frac_e=st.floats(0, 1), sup=st.booleans())
@example(k=2, n=1, c=0.5, frac_d=0.0, frac_e=0.0, sup=False)
def test_spectrum_matches_eigh_property(k, n, c, frac_d, frac_e, sup):
    d = c * frac_d
    m = next(m for m in (2, 1) if k % m == 0) if sup else None
    model = BlockModel(k, n, c, d, superclass_size=m, e=d * frac_e if sup else None)
    _check_spectrum(model)


def test_symbolic_spectrum_trace_and_count():
    import sympy as sp

    for hier in (False, True):
        spec = symbolic_spectrum(hier)
        s = spec.symbols
        n_total = s["K"] * s["n"]
        assert sp.simplify(sum(spec.multiplicities) - n_total) == 0
        # trace Φ = N (unit diagonal): Σ mult·μ = N
        trace = sum(m * v for m, v in zip(spec.multiplicities, spec.values))
        assert sp.simplify(trace - n_total) == 0


def test_symbolic_substitution_matches_numeric():
    model = BlockModel(6, 7, 0.5, 0.2, superclass_size=3, e=0.05)
    sym = model.symbolic_spectrum(substitute=True)
    np.testing.assert_allclose([float(v) for v in sym.values], model.spectrum().values)
    assert [int(m) for m in sym.multiplicities] == [36, 4, 1, 1]
    top = 1 - 0.5 + 7 * 0.3 + 7 * 3 * 0.15
    assert model.spectrum().values[2] == pytest.approx(top)


def test_block_values_are_result_2():
    spec = BlockModel(4, 100, 0.4, 0.1).spectrum()
    np.testing.assert_allclose(spec.values, [0.6, 0.6 + 30, 0.6 + 30 + 40])
    np.testing.assert_array_equal(spec.multiplicities, [396, 3, 1])


# ---------------------------------------------------------------------------
# reduced solver == full solver
# ---------------------------------------------------------------------------

def _random_counts(rng, k, n):
    return np.stack([rng.multinomial(n, rng.dirichlet(np.ones(k))) for _ in range(k)])


def _full_vs_reduced(model, counts, lam, rounds, method, ties="split"):
    labels = labels_from_counts(counts)
    true = np.repeat(np.arange(model.n_classes), int(model.n_per_class))
    topk = min(2, model.n_classes - 1)
    path = distill(model.gram(), labels, lam, rounds, method=method, ties=ties,
                   pll_topk=topk, true_labels=true, n_classes=model.n_classes, tol=1e-12)
    sol = model.solve(counts=counts, lam=lam, rounds=rounds, method=method, ties=ties,
                      pll_topk=topk, tol=1e-12)
    assert sol.converged.all()
    np.testing.assert_allclose(sol.expand(sol.probs), path.probs, atol=1e-8)
    np.testing.assert_allclose(sol.expand(sol.pll_targets), path.pll_targets, atol=1e-8)
    np.testing.assert_allclose(sol.expand(sol.pll_probs), path.pll_probs, atol=1e-8)
    return sol, path, true


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(k=st.integers(2, 4), n=st.integers(2, 7), c=st.floats(0.1, 0.9),
       frac_d=st.floats(0, 0.95), log_lam=st.floats(-4, 0), seed=st.integers(0, 2**16),
       method=st.sampled_from(["exact", "linear"]))
def test_reduced_equals_full_solver(k, n, c, frac_d, log_lam, seed, method):
    model = BlockModel(k, n, c, c * frac_d)
    counts = _random_counts(np.random.default_rng(seed), k, n)
    _full_vs_reduced(model, counts, 10.0 ** log_lam, 3, method)


@pytest.mark.parametrize("ties", ["split", "all", "index"])
def test_reduced_equals_full_on_symmetric_counts(ties):
    # exactly symmetric data: the teacher's second place is a K−1 way tie
    model = BlockModel(4, 6, 0.4, 0.1)
    counts = np.full((4, 4), 1) + 2 * np.eye(4, dtype=int)
    sol, path, true = _full_vs_reduced(model, counts, 1e-3, 2, "exact", ties=ties)
    if path.accuracy is not None:
        assert path.accuracy[-1].all == pytest.approx(sol.accuracy[-1].all)
        assert path.pll_accuracy.all == pytest.approx(sol.pll_accuracy.all)


def test_reduced_equals_full_hierarchical():
    model = BlockModel(4, 4, 0.6, 0.3, superclass_size=2, e=0.05)
    counts = np.array([[2, 1, 1, 0], [1, 3, 0, 0], [0, 1, 2, 1], [1, 0, 0, 3]])
    _full_vs_reduced(model, counts, 3e-3, 3, "exact")


def test_fresh_logits_match_full_model():
    model = BlockModel(3, 5, 0.5, 0.2)
    counts = np.array([[3, 2, 0], [1, 4, 0], [0, 1, 4]])
    lam, rounds = 2e-3, 3
    sol = model.solve(counts=counts, lam=lam, rounds=rounds, tol=1e-12)
    path = distill(model.gram(), labels_from_counts(counts), lam, rounds, tol=1e-12,
                   n_classes=3)
    true = np.repeat(np.arange(3), 5)
    corr = model.class_gram()[:, true].T                      # (N, K): <φ(x_a), φ_i>
    targets = np.eye(3)[:, labels_from_counts(counts)]
    for t in range(rounds):
        fresh = (targets - path.probs[t]) @ corr / (15 * lam)
        np.testing.assert_allclose(sol.fresh_logits[t], fresh, atol=1e-7)
        targets = path.probs[t]


# ---------------------------------------------------------------------------
# scaling in n
# ---------------------------------------------------------------------------

def test_no_self_term_is_exactly_scale_invariant():
    base = np.array([[7, 2, 1], [1, 8, 1], [3, 1, 6]])
    ref = BlockModel(3, 10, 0.5, 0.1).solve(counts=base, lam=1e-3, rounds=4,
                                            self_term=False)
    for scale in (10, 1000, 10 ** 6):
        sol = BlockModel(3, 10 * scale, 0.5, 0.1).solve(
            counts=base * scale, lam=1e-3, rounds=4, self_term=False)
        np.testing.assert_allclose(sol.probs, ref.probs, atol=1e-10)
        np.testing.assert_allclose(sol.pll_probs, ref.pll_probs, atol=1e-10)


def test_scaled_counts_converge_to_population_limit_at_rate_one_over_n():
    base = np.array([[7, 2, 1], [1, 8, 1], [3, 1, 6]])
    lam = 1e-3
    limit = BlockModel(3, 10, 0.5, 0.1).solve(counts=base, lam=lam, rounds=3,
                                              self_term=False).probs
    errors = []
    for scale in (10, 1000, 10 ** 6):
        sol = BlockModel(3, 10 * scale, 0.5, 0.1).solve(counts=base * scale, lam=lam,
                                                        rounds=3)
        errors.append(np.abs(sol.probs - limit).max())
    assert errors[0] > 0.1                        # the self term matters at n = 100
    # O(1/n): error × scale tends to a constant (here ≈ 4.38)
    assert errors[1] * 1000 == pytest.approx(errors[2] * 10 ** 6, rel=0.02)
    assert errors[2] < 1e-5


def test_cost_does_not_depend_on_n():
    transition = symmetric(4, 0.3)
    times, iters = [], []
    for n in (10, 10 ** 9):
        model = BlockModel(4, n, 0.4, 0.1)
        start = time.perf_counter()
        sol = model.solve(transition, lam=1e-5, rounds=3)
        times.append(time.perf_counter() - start)
        iters.append(sol.n_iter.sum())
        assert sol.converged.all()
    assert iters[1] <= 3 * iters[0] + 10
    assert times[1] < 20 * times[0] + 0.5


# ---------------------------------------------------------------------------
# accuracies, ties, inputs
# ---------------------------------------------------------------------------

def test_accuracy_splits_clean_and_noisy():
    model = BlockModel(4, 100, 0.4, 0.1)
    sol = model.solve(symmetric(4, 0.5), lam=1e-3, rounds=2)
    first, second = sol.accuracy
    assert first.clean == 1.0 and first.noisy == 0.0
    assert first.all == pytest.approx(0.5)
    assert second.all == 1.0
    assert sol.fresh_accuracy.tolist() == [1.0, 1.0]


def test_noise_free_has_nan_noisy_accuracy():
    sol = BlockModel(3, 10, 0.5, 0.1).solve(lam=1e-2, rounds=1)
    assert math.isnan(sol.accuracy[0].noisy)
    assert sol.accuracy[0].all == 1.0


def test_top_tie_is_undecided_never_right():
    # asymmetric noise, strong ridge: every instance of class c gets the partial
    # label {c, c + 1}, so the student's outputs at c and c + 1 tie exactly;
    # float64 cannot tell an exact tie from a tiny margin: undecided, not right
    with pytest.warns(RuntimeWarning, match="undecided"):
        sol = BlockModel(4, 100, 0.4, 0.1).solve(asymmetric(4, 0.3), lam=0.1, rounds=1)
    assert sol.accuracy[0].all == 1.0
    true = sol.groups[:, 0]
    cols = np.arange(true.size)
    np.testing.assert_allclose(sol.pll_probs[true, cols],
                               sol.pll_probs[(true + 1) % 4, cols], atol=1e-12)
    assert np.all(sol.pll_verdicts == 0) and not sol.all_right(pll=True)
    assert math.isnan(sol.pll_accuracy.all) and math.isnan(sol.pll_fresh_accuracy)


def test_pll_topk_range_and_skip():
    model = BlockModel(2, 5, 0.4, 0.1)
    with pytest.raises(ValueError, match="pll_topk"):
        model.solve(lam=1e-2, rounds=1, pll_topk=2)     # k = 2 = K
    assert model.solve(lam=1e-2, rounds=1).pll_topk == 1   # "auto": min(2, K - 1)
    sol = model.solve(lam=1e-2, rounds=2, pll_topk=None)
    assert sol.pll_probs is None and sol.pll_accuracy is None
    assert sol.accuracy[-1].all == 1.0


def test_linear_outputs_are_result_2_closed_form():
    model, lam = BlockModel(4, 50, 0.4, 0.1), 1e-3
    transition = asymmetric(4, 0.4)
    sol = model.solve(transition, lam=lam, rounds=3, method="linear")
    theta, phi, psi = model.spectrum().values / (model.spectrum().values
                                                 + 4 * model.n_samples * lam)
    u = 0.25
    for t in (1, 2, 3):
        for g, (c, j) in enumerate(sol.groups):
            y = (u + theta ** t * (np.eye(4)[j] - u) + (phi ** t - theta ** t)
                 * (transition[c] - u) + (psi ** t - phi ** t) * (0.25 - u))
            np.testing.assert_allclose(sol.probs[t - 1][:, g], y, atol=1e-12)


def test_huge_n_converges():
    sol = BlockModel(10, 1e9, 0.4, 0.1).solve(symmetric(10, 0.8), lam=1e-6, rounds=2)
    assert sol.converged.all() and sol.residual.max() <= 1e-10
    assert np.all(np.isfinite(sol.probs))


@pytest.mark.parametrize("kwargs, error", [
    (dict(n_classes=1, n_per_class=3, c=0.5, d=0.1), ValueError),
    (dict(n_classes=3, n_per_class=0.5, c=0.5, d=0.1), ValueError),
    (dict(n_classes=3, n_per_class=3, c=1.0, d=0.1), ValueError),
    (dict(n_classes=3, n_per_class=3, c=0.5, d=0.5), ValueError),
    (dict(n_classes=3, n_per_class=3, c=0.5, d=-0.1), ValueError),
    (dict(n_classes=3, n_per_class=3, c="0.5", d=0.1), TypeError),
    (dict(n_classes=4, n_per_class=3, c=0.5, d=0.2, superclass_size=3, e=0.1), ValueError),
    (dict(n_classes=4, n_per_class=3, c=0.5, d=0.2, superclass_size=2, e=0.3), ValueError),
    (dict(n_classes=4, n_per_class=3, c=0.5, d=0.2, superclass_size=2), ValueError),
])
def test_model_validation(kwargs, error):
    with pytest.raises(error):
        BlockModel(**kwargs)


def test_solve_validation():
    model = BlockModel(3, 4, 0.5, 0.1)
    with pytest.raises(ValueError, match="counts"):
        model.solve(counts=np.ones((3, 3)), lam=1e-3, rounds=1)      # rows sum to 3 ≠ 4
    with pytest.raises(ValueError, match="transition"):
        model.solve(np.ones((3, 3)), lam=1e-3, rounds=1)
    with pytest.raises(ValueError, match="not both"):
        model.solve(np.eye(3), counts=4 * np.eye(3), lam=1e-3, rounds=1)
    with pytest.raises(ValueError, match="method"):
        model.solve(lam=1e-3, rounds=1, method="newton")
    with pytest.raises(ValueError, match="lam"):
        model.solve(lam=0.0, rounds=1)
    with pytest.raises(ValueError, match="integer"):
        BlockModel(3, 2.5, 0.5, 0.1).gram()


def test_solution_is_frozen():
    sol = BlockModel(3, 3, 0.5, 0.1).solve(lam=1e-2, rounds=1)
    with pytest.raises(AttributeError):
        sol.lam = 1.0


def test_certificate_settles_an_exact_tie():
    sol = BlockModel(4, 100, 0.4, 0.1).solve(asymmetric(4, 0.3), lam=0.1, rounds=1,
                                             precision=30)
    assert sol.certified and np.all(sol.pll_verdicts == -2)        # certified ties
    assert sol.pll_accuracy.all == 0.0 and sol.pll_fresh_accuracy == 0.0


def test_mp_reference_margins_match_the_float_deviations():
    # independent 60-digit solve of the issue-8 example: same margins, same signs
    from labelavg._mp import solve_mp

    model, lam = BlockModel(4, 100, 0.4, 0.1), 5e-2
    transition = symmetric(4, 0.3)
    mp = solve_mp(model.class_gram(), 100 * transition, model.n_samples * lam,
                  1 - model.c, 20, 60)
    sol = model.solve(transition, lam=lam, rounds=20)
    true, cols = sol.groups[:, 0], np.arange(sol.groups.shape[0])
    dev = sol.deviations
    rival = dev.copy()
    rival[:, true, cols] = -np.inf
    margins = dev[:, true, cols] - rival.max(axis=1)
    ref = np.array(mp.margins)
    assert np.all(ref > 0) and np.all(sol.verdicts == 1)
    np.testing.assert_allclose(margins, ref, rtol=1e-6)
