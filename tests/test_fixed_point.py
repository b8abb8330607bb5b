"""The exact fit: stationarity, primal = dual, independent optimiser, limits, symmetry."""

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given
from hypothesis import strategies as st
from strategies import block_grams, feature_matrices, log_lams, psd_grams, seeds

from labelavg import fit_probs, linear_path
from labelavg._testing import assert_close, rel_error, solver_rtol
from labelavg.fixed_point import _Dual, fixed_point_residual
from labelavg.gram import block_gram, block_labels

TOL = 1e-10


def onehot(labels, k):
    return np.eye(k)[labels].T


def noisy_block(k=4, n=25, c=0.4, d=0.1, eta=0.5, seed=0):
    true = block_labels(k, n)
    rng = np.random.default_rng(seed)
    given = np.where(rng.random(true.size) < eta, rng.integers(0, k, true.size), true)
    return block_gram(k, n, c, d), onehot(given, k)


def primal_objective(w_flat, features, targets, lam):
    k, n = targets.shape
    w = w_flat.reshape(k, -1)
    z = w @ features.T
    top = z.max(axis=0)
    lse = top + np.log(np.exp(z - top).sum(axis=0))
    p = np.exp(z - lse)
    value = np.sum(lse - np.sum(targets * z, axis=0)) / n + 0.5 * lam * np.sum(w * w)
    grad = (p - targets) @ features / n + lam * w
    return value, grad.ravel()


@pytest.mark.parametrize("lam", [1e-7, 1e-5, 1e-3, 1e-1, 10.0])
def test_block_gram_converges_and_is_stationary(lam):
    gram, targets = noisy_block()
    fit = fit_probs(gram, targets, lam)
    assert fit.converged and fit.residual <= TOL
    assert fixed_point_residual(gram, targets, fit.probs, lam) <= 1e-9


def stationarity_bound(gram, targets, lam, fit):
    """1e-9, or what the fit's reported accuracy and float64 allow if larger.

    :func:`fixed_point_residual` compares P with the softmax of the logits
    (Q − P)Φ/(Nλ); the softmax moves no probability by more than half the
    largest logit error. Two sources: (1) the fit's residual is the relative
    error of its logits in the W-norm, ``||∇f|| / (||(P − Q)F/N|| + λ||W||)``,
    so logit i errs by at most residual · (that denominator / λ) · ||f_i||
    (Cauchy–Schwarz; ||f_i||² = Φ_ii; the residual is taken no smaller than its
    round-off ``floor``); (2) evaluating the logits sums N terms of magnitude
    |Q − P||Φ|/(Nλ), off by at most N eps times their sum (Higham's γ_N). At
    tiny λ, or with a rank-deficient Φ, those terms reach 1e6 while the logits
    stay O(1), and either source exceeds 1e-9: a fixed 1e-9 there would test
    round-off, not the solver.
    """
    n = gram.shape[0]
    data = fit.probs - targets
    denominator = (np.sqrt(max(np.sum(data * (data @ gram)), 0.0)) / (n * lam)
                   + np.sqrt(max(np.sum(fit.coef * (fit.coef @ gram)), 0.0)))
    solver = max(fit.residual, fit.floor) * denominator * np.sqrt(np.max(np.diag(gram)))
    terms = np.abs(data) @ np.abs(gram) / (n * lam)
    return max(1e-9, 0.5 * solver + n * np.finfo(float).eps * float(terms.max()))


def check_fit(gram, targets, lam):
    """Converged to TOL, or to the documented round-off floor where that is larger."""
    fit = fit_probs(gram, targets, lam)
    assert fit.converged and fit.residual <= max(TOL, fit.floor), (fit.n_iter, fit.residual)
    assert (fixed_point_residual(gram, targets, fit.probs, lam)
            <= stationarity_bound(gram, targets, lam, fit))
    return fit


def rank_one(gram):
    """The nearest rank-1 PSD matrix (top eigenpair): the printed Grams are rounded."""
    evals, evecs = np.linalg.eigh(np.asarray(gram))
    return evals[-1] * np.outer(evecs[:, -1], evecs[:, -1])


#: rank-1 4×4 Grams on which the hypothesis ``ci`` profile found the fit stuck
#: at 100 Newton steps at λ = 1e-7 (|A| ~ 1/(Nλ) ~ 1e6 against O(1) logits).
CI_GRAMS = [
    [[.894, 1.138, .407, .914], [1.138, 1.448, .519, 1.163],
     [.407, .519, .186, .416], [.914, 1.163, .416, .934]],
    [[4.650, 5.676, 4.617, 1.094], [5.676, 6.929, 5.636, 1.336],
     [4.617, 5.636, 4.585, 1.087], [1.094, 1.336, 1.087, 0.258]],
]


@pytest.mark.parametrize("gram, labels", [(CI_GRAMS[0], [2, 1, 1, 0]),
                                          (CI_GRAMS[1], [0, 1, 0, 2]),
                                          (CI_GRAMS[1], [2, 0, 2, 1])])
def test_rank_one_gram_at_tiny_lam_stops_at_its_floor(gram, labels):
    """Regression (ci profile): the residual stalled above tol at float64's floor.

    The dual coefficients reach 1/(Nλ) ~ 1e6 while the logits stay O(1), so
    round-off in the logits keeps the residual near 1e-10 whatever Newton does;
    before the fit reports ``floor`` and stops at it, it ran its 100 steps and
    reported not converged. The floor must be an honest scale: the residual of
    the logits recomputed exactly from A (rational arithmetic) stays below it.
    """
    from fractions import Fraction

    gram, lam = rank_one(gram), 1e-7
    targets = onehot(np.array(labels), 3)
    fit = check_fit(gram, targets, lam)
    assert fit.n_iter < 30 and fit.floor > TOL, (fit.n_iter, fit.floor)
    exact = np.array([[float(sum(Fraction(a) * Fraction(g) for a, g in zip(row, col)))
                       for col in gram.T] for row in fit.coef])
    problem = _Dual.build(gram, targets, lam)
    assert problem.evaluate(fit.coef, exact).residual <= fit.floor


@given(psd_grams(), log_lams, seeds)
def test_random_psd_gram_converges_and_is_stationary(gram, lam, seed):
    k = 3
    rng = np.random.default_rng(seed)
    check_fit(gram, onehot(rng.integers(0, k, gram.shape[0]), k), lam)


@given(feature_matrices(), log_lams, seeds)
def test_soft_targets_with_zeros(features, lam, seed):
    targets = np.random.default_rng(seed).dirichlet(np.ones(3), features.shape[0]).T
    targets[:, ::2] = np.eye(3)[:, [0]]  # exact zeros in half the columns
    gram = features @ features.T
    fit = fit_probs(gram, targets, lam)
    assert fit.converged
    assert fixed_point_residual(gram, targets, fit.probs, lam) <= 1e-9


@given(feature_matrices(), st.floats(-6, 0).map(lambda e: 10 ** e), seeds)
def test_primal_equals_dual(features, lam, seed):
    targets = np.random.default_rng(seed).dirichlet(np.ones(4), features.shape[0]).T
    dual = fit_probs(features @ features.T, targets, lam)
    primal = fit_probs(None, targets, lam, features=features)
    assert dual.form == "dual" and primal.form == "primal"
    assert primal.converged and dual.converged
    assert_close(primal.probs, dual.probs, 1e-8, "primal vs dual probs")
    # W = A F links the two coefficient sets
    assert_close(dual.coef @ features, primal.coef, 1e-6, "W = A F")


@given(feature_matrices(dim=st.integers(1, 6)), st.floats(-3, 0).map(lambda e: 10 ** e), seeds)
def test_against_scipy_minimiser(features, lam, seed):
    """An independent optimiser (L-BFGS on the primal objective) finds the same optimum."""
    k = 3
    targets = onehot(np.random.default_rng(seed).integers(0, k, features.shape[0]), k)
    x0 = np.zeros(k * features.shape[1])
    ref = scipy.optimize.minimize(primal_objective, x0, args=(features, targets, lam), jac=True,
                                  method="L-BFGS-B", options={"gtol": 1e-13, "ftol": 0,
                                                              "maxiter": 20000})
    w_ref = ref.x.reshape(k, -1)
    z = w_ref @ features.T
    p_ref = np.exp(z - z.max(axis=0)) / np.exp(z - z.max(axis=0)).sum(axis=0)
    fit = fit_probs(features @ features.T, targets, lam)
    assert np.max(np.abs(fit.probs - p_ref)) <= 1e-6


def test_large_lam_gives_uniform_at_rate_one_over_lam():
    gram, targets = noisy_block(n=10)
    dev = [np.max(np.abs(fit_probs(gram, targets, lam).probs - 0.25)) for lam in (1e2, 1e3, 1e4)]
    assert dev[-1] < 1e-3
    ratios = dev[0] / dev[1], dev[1] / dev[2]
    assert all(8 < r < 12 for r in ratios), ratios


def test_exact_and_linearised_agree_at_rate_one_over_lam():
    """|exact − linear| / |linear − u| shrinks like 1/λ: the linearisation is first order."""
    gram, targets = noisy_block(n=10)
    rel = []
    for lam in (1.0, 10.0, 100.0):
        exact = fit_probs(gram, targets, lam).probs
        lin = linear_path(gram, targets, lam, 1)[0]
        rel.append(rel_error(exact - 0.25, lin - 0.25))
    ratios = rel[0] / rel[1], rel[1] / rel[2]
    assert all(7 < r < 13 for r in ratios), (rel, ratios)


@given(block_grams(), seeds)
def test_permuting_instances_permutes_outputs(gram_true, seed):
    gram, true = gram_true
    k = true.max() + 1
    rng = np.random.default_rng(seed)
    targets = rng.dirichlet(np.ones(k), true.size).T
    perm = rng.permutation(true.size)
    base = fit_probs(gram, targets, 1e-3).probs
    moved = fit_probs(gram[np.ix_(perm, perm)], targets[:, perm], 1e-3).probs
    assert_close(moved, base[:, perm], solver_rtol(TOL) * 100, "permuted probs")


@given(block_grams(), seeds)
def test_relabelling_classes_permutes_rows(gram_true, seed):
    gram, true = gram_true
    k = true.max() + 1
    rng = np.random.default_rng(seed)
    targets = rng.dirichlet(np.ones(k), true.size).T
    perm = rng.permutation(k)
    base = fit_probs(gram, targets, 1e-3).probs
    moved = fit_probs(gram, targets[perm], 1e-3).probs
    assert_close(moved, base[perm], solver_rtol(TOL) * 100, "relabelled probs")


def test_warm_start_needs_fewer_steps_and_same_answer():
    gram, targets = noisy_block()
    cold = fit_probs(gram, targets, 1e-4)
    warm = fit_probs(gram, targets, 1e-4, init=cold.coef)
    assert warm.n_iter < cold.n_iter
    assert_close(warm.probs, cold.probs, 1e-9)


def test_max_iter_reached_reports_not_converged_and_warns():
    gram, targets = noisy_block()
    with pytest.warns(RuntimeWarning, match="did not converge"):
        fit = fit_probs(gram, targets, 1e-6, max_iter=1)
    assert fit.n_iter == 1 and not fit.converged and fit.residual > TOL


def test_saturated_init_converges_in_both_forms():
    """A start whose softmax Jacobian underflows: the Newton step is then -R/λ."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 100))
    targets = onehot(rng.integers(0, 4, 60), 4)
    ref = fit_probs(features @ features.T, targets, 1e-2)
    dual = fit_probs(features @ features.T, targets, 1e-2, init=10 * ref.coef)
    primal = fit_probs(None, targets, 1e-2, features=features, init=10 * ref.coef @ features)
    assert dual.converged and primal.converged
    assert_close(dual.probs, ref.probs, 1e-8)
    assert_close(primal.probs, ref.probs, 1e-8)


@pytest.mark.parametrize("init, error, match", [
    (np.full((3, 2), np.nan), ValueError, "init contains NaN"),
    (np.zeros((2, 2)), ValueError, "init must have shape"),
])
def test_bad_primal_init(init, error, match):
    features = np.random.default_rng(0).normal(size=(5, 2))
    with pytest.raises(error, match=match):
        fit_probs(None, onehot(np.arange(5) % 3, 3), 1e-2, features=features, init=init)


def test_primal_init_accepts_a_list():
    features = np.random.default_rng(0).normal(size=(6, 2))
    targets = onehot(np.arange(6) % 3, 3)
    ref = fit_probs(None, targets, 1e-2, features=features)
    again = fit_probs(None, targets, 1e-2, features=features, init=ref.coef.tolist())
    assert again.n_iter == 0 and again.converged


@pytest.mark.parametrize("gram, match", [
    (np.ones((3, 4)), "gram must be square"),
    (np.array([[1.0, 0.5], [0.2, 1.0]]), "gram must be symmetric"),
    (np.array([[1.0, 2.0], [2.0, 1.0]]), "gram must be positive semi-definite"),
    (np.array([[1.0, np.nan], [np.nan, 1.0]]), "gram contains NaN"),
    (np.eye(3)[0], "gram must be 2-dimensional"),
])
def test_bad_gram(gram, match):
    with pytest.raises(ValueError, match=match):
        fit_probs(gram, np.full((2, gram.shape[-1]), 0.5), 1.0)


@pytest.mark.parametrize("targets, match", [
    (np.array([[0.5, 0.7], [0.5, 0.7]]), "columns must sum to 1"),
    (np.array([[1.5, 0.5], [-0.5, 0.5]]), "non-negative"),
    (np.array([[0.5, np.inf], [0.5, 0.0]]), "NaN or inf"),
    (np.full((2, 3), 0.5), "N = 2 columns"),
])
def test_bad_targets(targets, match):
    with pytest.raises(ValueError, match=match):
        fit_probs(np.eye(2), targets, 1.0)


@pytest.mark.parametrize("lam, error", [(0.0, ValueError), (-1.0, ValueError),
                                        (np.inf, ValueError), ("1", TypeError)])
def test_bad_lam(lam, error):
    with pytest.raises(error, match="lam"):
        fit_probs(np.eye(2), np.full((2, 2), 0.5), lam)


def test_gram_none_without_features():
    with pytest.raises(ValueError, match="gram may be None only"):
        fit_probs(None, np.full((2, 2), 0.5), 1.0)


def test_pcg_stops_at_reach_with_a_descent_direction():
    """The trust region on the image stops CG early; the iterate still descends."""
    from labelavg.fixed_point import _pcg

    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 6))
    a = a @ a.T + 0.1 * np.eye(6)
    b = 100 * rng.normal(size=6)

    def op(p):
        return a @ p, p            # the "image" is the iterate itself

    full, _, done, _ = _pcg(np, op, lambda r: r, b, 1e-9, 50)
    assert done
    np.testing.assert_allclose(a @ full, b, rtol=1e-8, atol=1e-8)
    x, image, done, _ = _pcg(np, op, lambda r: r, b, 1e-9, 50, reach=1.0)
    assert not done and np.max(np.abs(image)) > 1.0
    np.testing.assert_allclose(image, x)
    assert b @ x > 0                # descent for 0.5 xᵀAx − bᵀx from 0
    assert np.max(np.abs(x)) < np.max(np.abs(full))
