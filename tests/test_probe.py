"""probe: primal fit vs scikit-learn and the dual, backends, SelfDistillation, statistics, CLI."""

import subprocess
import warnings
import sys

import numpy as np
import pytest
from test_xp import BACKENDS

from labelavg import distill, fit_probs, fixed_point, linear_path, noise
from labelavg._testing import FLOAT32_RTOL, assert_close
from labelavg._xp import to_numpy
from labelavg.fixed_point import _Basis, _Rows, _subspace_rank
from labelavg.probe import (
    SelfDistillation,
    class_correlation,
    confusable_classes,
    default_tol,
    noise_sweep,
)

TOL = 1e-10


def blobs(k=3, n=30, d=6, sep=1.5, seed=1, dtype=float):
    """Gaussian class blobs: labels (N,) in class order and features (N, D)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(k), n)
    x = rng.normal(size=(k * n, d)) + sep * np.eye(k, d)[y]
    return x.astype(dtype), y


def flip(y, k, fraction=0.2, seed=2):
    rng = np.random.default_rng(seed)
    given = y.copy()
    rows = rng.choice(y.size, int(fraction * y.size), replace=False)
    given[rows] = (y[rows] + 1 + rng.integers(0, k - 1, rows.size)) % k
    return given


@pytest.fixture(params=BACKENDS)
def xp(request):
    return request.param()


# ---------------------------------------------------------------------------
# the primal solver


@pytest.mark.parametrize("lam", [1e-3, 1e-2, 1e-1])
def test_primal_equals_sklearn_logistic_regression(lam):
    from sklearn.linear_model import LogisticRegression

    x, y = blobs()
    n = y.size
    fit = fit_probs(None, np.eye(3)[y].T, lam, features=x)
    clf = LogisticRegression(C=1 / (n * lam), fit_intercept=False, solver="newton-cg",
                             tol=1e-12, max_iter=10_000).fit(x, y)
    assert fit.converged
    assert_close(fit.coef, clf.coef_, 1e-6, "W vs scikit-learn coef_")
    assert_close(fit.probs.T, clf.predict_proba(x), 1e-6, "probs vs predict_proba")


@pytest.mark.parametrize(("n", "d"), [(60, 5), (12, 20)])
def test_primal_equals_dual(n, d):
    x, y = blobs(k=3, n=n // 3, d=d)
    targets = np.random.default_rng(3).dirichlet(np.ones(3), y.size).T
    for lam in (1e-4, 1e-2):
        primal = fit_probs(None, targets, lam, features=x)
        dual = fit_probs(x @ x.T, targets, lam)
        assert primal.converged and dual.converged
        assert_close(primal.probs, dual.probs, 1e-8, "primal vs dual probs")
        assert_close(dual.coef @ x, primal.coef, 1e-6, "W = A F")


def test_kronecker_preconditioner_is_exact_at_equal_jacobians():
    """(M ⊗ C + λI)⁻¹ inverts the Hessian exactly when every S_i is the same."""
    x, _ = blobs(k=3, n=10, d=4)
    k, d, n, lam = 3, 4, 30, 1e-2
    probs = np.tile(np.array([[0.5], [0.3], [0.2]]), (1, n))
    s = np.diag(probs[:, 0]) - np.outer(probs[:, 0], probs[:, 0])
    hessian = np.kron(s, x.T @ x / n) + lam * np.eye(k * d)   # row-major vec of W (K, D)
    r = np.random.default_rng(0).normal(size=(k, d))
    for two_level in (False, True):
        inverse = _Basis.build(np, _Rows(np, x), k).inverse(np, probs, lam, two_level)
        assert_close(inverse(r).ravel(), np.linalg.solve(hessian, r.ravel()), 1e-10, "H⁻¹ r")


def _plain_kronecker_inverse(self, xp, probs, lam, two_level=False):
    """The previous solver's preconditioner, (M ⊗ C + λI)⁻¹ (commit cc873b9)."""
    k, n = probs.shape
    coupling = xp.eye(k, dtype=probs.dtype) * xp.mean(probs, axis=1)[:, None] - probs @ probs.T / n
    m, u = xp.linalg.eigh(coupling)
    inv = 1.0 / (xp.clip(m, 0.0, None)[:, None] * self.evals[None, :] + lam)
    v = self.evecs
    return lambda r: u @ (((u.T @ r @ v) * inv) @ v.T)


def _gradient_norm(x, targets, lam, coef):
    """||∇f(W)||_F in float64 on the host, from its formula (P − Q) F / N + λW."""
    x, targets, coef = (np.asarray(to_numpy(a), dtype=float) for a in (x, targets, coef))
    z = coef @ x.T
    p = np.exp(z - z.max(axis=0))
    p /= p.sum(axis=0)
    return float(np.linalg.norm((p - targets) @ x / x.shape[0] + lam * coef))


def _assert_same_optimum(x, targets, lam, coef, reference, dtype_eps):
    """f is λ-strongly convex, so ||W − W*|| <= ||∇f(W)|| / λ for both fits; the two
    coefficient sets may differ by at most the sum (plus the round-off of W itself)."""
    coef, reference = (np.asarray(to_numpy(a), dtype=float) for a in (coef, reference))
    bound = (_gradient_norm(x, targets, lam, coef)
             + _gradient_norm(x, targets, lam, reference)) / lam
    bound += 10 * dtype_eps * np.linalg.norm(reference)
    assert np.linalg.norm(coef - reference) <= bound, (np.linalg.norm(coef - reference), bound)


def test_two_level_preconditioner_inverts_its_definition():
    """A⁻¹ r against A built densely from its definition (several argmax groups):
    (I ⊗ U_r)(Σ_c M_c ⊗ G_c)(I ⊗ U_r)ᵀ + M ⊗ V_⊥E_⊥V_⊥ᵀ + λI."""
    x, _ = blobs(k=3, n=10, d=8)
    k, d, n, lam = 3, 8, 30, 1e-2
    basis = _Basis.build(np, _Rows(np, x), k)
    rank = _subspace_rank(k, n, d)
    assert 1 <= rank < d and basis.top.shape == (rank, n)   # both blocks in use
    probs = np.random.default_rng(4).dirichlet(np.ones(k), size=n).T
    evals, evecs = np.linalg.eigh(x.T @ x / n)
    top, rest = evecs[:, d - rank:], evecs[:, :d - rank]
    jac = [np.diag(p) - np.outer(p, p) for p in probs.T]
    groups = probs.argmax(axis=0)
    block = sum(np.kron(sum(jac[i] for i in np.flatnonzero(groups == c)) / n,
                        (x[groups == c] @ top).T @ (x[groups == c] @ top) / np.sum(groups == c))
                for c in np.unique(groups))
    lift = np.kron(np.eye(k), top)
    a = (lift @ block @ lift.T + np.kron(sum(jac) / n, rest @ np.diag(evals[:d - rank]) @ rest.T)
         + lam * np.eye(k * d))
    r = np.random.default_rng(0).normal(size=(k, d))
    assert_close(basis.inverse(np, probs, lam)(r).ravel(), np.linalg.solve(a, r.ravel()), 1e-9,
                 "A⁻¹ r")


def test_two_level_preconditioner_is_symmetric_positive_definite():
    """CG needs a fixed SPD preconditioner: its matrix, column by column, is SPD."""
    x, y = blobs(k=4, n=8, d=5)
    k, d = 4, 5
    probs = np.random.default_rng(3).dirichlet(np.ones(k) * 0.3, size=x.shape[0]).T
    inverse = _Basis.build(np, _Rows(np, x), k).inverse(np, probs, 1e-3)
    matrix = np.stack([inverse(e.reshape(k, d)).ravel() for e in np.eye(k * d)], axis=1)
    assert_close(matrix, matrix.T, 1e-10, "symmetry")
    assert np.linalg.eigvalsh((matrix + matrix.T) / 2).min() > 0


@pytest.mark.parametrize("k, n, d, rounds", [(2, 3, 2, 1), (2, 10, 3, 2), (4, 12, 6, 3)])
def test_fits_agree_with_the_previous_preconditioner(xp, monkeypatch, k, n, d, rounds):
    """Teacher, students and the PLL student reach the previous solver's optimum, within
    what the two fits' gradient norms allow, on every backend; the smallest case is
    K = 2, N = 6, one round, default arguments."""
    x, y = blobs(k=k, n=n, d=d, sep=1.0)
    given = flip(y, k, 0.2)
    for dtype, eps in ((xp.float64, 2.2e-16), (xp.float32, 1.2e-7)):
        features, labels = xp.asarray(x, dtype=dtype), xp.asarray(given)
        with monkeypatch.context() as patch:   # two-level from the second Newton step on
            patch.setattr(fixed_point, "_PLAIN_CG_STEPS", 0)
            new = SelfDistillation(1e-2, rounds).fit(features, labels)
        with monkeypatch.context() as patch:
            patch.setattr(_Basis, "inverse", _plain_kronecker_inverse)
            old = SelfDistillation(1e-2, rounds).fit(features, labels)
        assert all(r.converged for r in new.history_ + old.history_)
        targets = np.eye(k)[given].T
        for t in range(rounds):
            _assert_same_optimum(x, targets, 1e-2, new.coef_[t, ...], old.coef_[t, ...], eps)
            targets = to_numpy(old.probs_[t, ...])
        _assert_same_optimum(x, to_numpy(old.pll_targets_), 1e-2, new.pll_coef_, old.pll_coef_,
                             eps)


@pytest.mark.parametrize("loss", ["gce", "partial_ll"])
def test_non_convex_pll_losses_are_unchanged(noisy, loss):
    """gce / partial_ll students run their own trust-region fit: only the teacher they
    start from went through the new preconditioner, and it is the same optimum."""
    x, given, *_ = noisy
    model = SelfDistillation(1e-2, 1, pll_loss=loss).fit(x, given)
    assert model.history_[-1].converged


def test_primal_runs_on_every_backend(xp):
    x, y = blobs()
    given = flip(y, 3)
    ref = fit_probs(None, np.eye(3)[given].T, 1e-2, features=x)
    for dtype, tol, rtol in ((xp.float64, TOL, 1e-8), (xp.float32, 1e-5, FLOAT32_RTOL)):
        fit = fit_probs(None, xp.asarray(np.eye(3)[given].T, dtype=dtype), 1e-2,
                        features=xp.asarray(x, dtype=dtype), tol=tol)
        assert fit.converged, (dtype, fit.residual)
        assert fit.probs.dtype == dtype and fit.coef.dtype == dtype
        assert_close(to_numpy(fit.probs), ref.probs, rtol, f"probs in {dtype}")
        assert_close(to_numpy(fit.coef), ref.coef, rtol, f"W in {dtype}")


def test_primal_warm_start_reaches_the_same_solution():
    x, y = blobs()
    targets = np.eye(3)[flip(y, 3)].T
    cold = fit_probs(None, targets, 1e-2, features=x)
    student = fit_probs(None, cold.probs, 1e-2, features=x)
    warm = fit_probs(None, cold.probs, 1e-2, features=x, init=cold.coef)
    assert warm.converged
    assert_close(warm.coef, student.coef, 1e-8, "warm vs cold start")


# ---------------------------------------------------------------------------
# SelfDistillation


@pytest.fixture(scope="module")
def noisy():
    x, y = blobs(k=4, n=25, d=5, sep=2.0)
    xt, yt = blobs(k=4, n=10, d=5, sep=2.0, seed=7)
    return x, flip(y, 4, 0.3), y, xt, yt


def test_history_predict_score(noisy):
    x, given, y, xt, yt = noisy
    seen = []
    model = SelfDistillation(1e-2, 3, progress=seen.append).fit(
        x, given, y_true=y, eval_set=(xt, yt))
    assert [r.round for r in model.history_] == [1, 2, 3, "pll"]
    assert [r.name for r in model.history_] == ["teacher", "student t=2", "student t=3", "PLL"]
    assert seen == list(model.history_)
    assert model.coef_.shape == (3, 4, 5) and model.probs_.shape == (3, 4, 100)
    for rec, rnd in zip(model.history_, [1, 2, 3, "pll"]):
        assert rec.converged and rec.residual <= TOL and rec.n_iter >= 1 and rec.seconds >= 0
        assert rec.test_accuracy == pytest.approx(model.score(xt, yt, round=rnd))
        assert 0 <= rec.train_accuracy.all <= 1
        assert np.array_equal(model.predict(xt, round=rnd),
                              model.predict_proba(xt, round=rnd).argmax(axis=1))
    assert np.array_equal(model.predict(xt), model.predict(xt, round=3))
    np.testing.assert_allclose(model.predict_proba(xt).sum(axis=1), 1.0)


def test_matches_distill_pipeline(noisy):
    """Same fits as distill(features=...): rounds warm-started, PLL from the teacher."""
    x, given, y, _, _ = noisy
    model = SelfDistillation(1e-2, 3).fit(x, given, y_true=y)
    path = distill(None, given, 1e-2, 3, features=x, true_labels=y)
    assert_close(model.probs_, path.probs, 1e-8, "round outputs")
    assert_close(model.pll_probs_, path.pll_probs, 1e-8, "PLL outputs")
    assert [r.train_accuracy for r in model.history_] == list(path.accuracy) + [path.pll_accuracy]


def test_linear_method(noisy):
    x, given, y, xt, _ = noisy
    lam, n = 1e-2, x.shape[0]
    model = SelfDistillation(lam, 3, method="linear").fit(x, given, y_true=y)
    expected = linear_path(None, np.eye(4)[given].T, lam, 3, features=x)
    assert_close(model.probs_, expected, 1e-10, "linear outputs vs linear_path")
    targets = np.concatenate([np.eye(4)[given].T[None], model.probs_[:-1]])
    for t in range(3):
        w = (targets[t] - model.probs_[t]) @ x / (n * lam)
        assert_close(model.coef_[t], w, 1e-10, f"W of round {t + 1}")
    # on the training rows, the linearised probabilities are the linear outputs
    assert_close(model.predict_proba(x, round=2).T, model.probs_[1], 1e-8, "u + z/K")
    assert all(r.n_iter == 0 and r.residual == 0 for r in model.history_)
    assert model.predict(xt, round="pll").shape == (xt.shape[0],)


def test_float32_agrees_with_float64_and_float16_upcasts(noisy):
    x, given, _y, _, _ = noisy
    ref = SelfDistillation(1e-2, 2).fit(x, given)
    single = SelfDistillation(1e-2, 2).fit(x.astype(np.float32), given)
    assert single.coef_.dtype == np.float32
    assert all(r.residual <= default_tol("float32") for r in single.history_)
    assert_close(single.probs_, ref.probs_, FLOAT32_RTOL, "float32 vs float64 outputs")
    half = SelfDistillation(1e-2, 1).fit(x.astype(np.float16), given)
    assert half.coef_.dtype == np.float32
    assert default_tol("float64") == 1e-10 and default_tol(np.float32) == 1e-4


def test_self_distillation_on_every_backend(xp, noisy):
    x, given, y, xt, yt = noisy
    ref = SelfDistillation(1e-2, 2).fit(x, given, y_true=y, eval_set=(xt, yt))
    model = SelfDistillation(1e-2, 2).fit(xp.asarray(x), xp.asarray(given),
                                          y_true=xp.asarray(y),
                                          eval_set=(xp.asarray(xt), xp.asarray(yt)))
    assert_close(to_numpy(model.coef_), ref.coef_, 1e-8, "coef_ across backends")
    assert [r.test_accuracy for r in model.history_] == [r.test_accuracy for r in ref.history_]
    assert model.score(xp.asarray(xt), xp.asarray(yt), round="pll") == ref.score(xt, yt, "pll")
    lin = SelfDistillation(1e-2, 2, method="linear").fit(xp.asarray(x), xp.asarray(given))
    ref_lin = SelfDistillation(1e-2, 2, method="linear").fit(x, given)
    assert_close(to_numpy(lin.coef_), ref_lin.coef_, 1e-8, "linear coef_ across backends")


def test_host_labels_with_device_features(xp, noisy):
    """Features on any backend with labels left on the host (a list, NumPy): the
    labels are read on the host, so this is the same fit as all-device inputs."""
    x, given, y, xt, yt = noisy
    ref = SelfDistillation(1e-2, 1).fit(x, given, eval_set=(xt, yt))
    model = SelfDistillation(1e-2, 1).fit(xp.asarray(x), given.tolist(),
                                          y_true=y, eval_set=(xp.asarray(xt), yt))
    assert_close(to_numpy(model.coef_), ref.coef_, 1e-8, "coef_ with host labels")
    assert [r.test_accuracy for r in model.history_] == [r.test_accuracy for r in ref.history_]


@pytest.mark.parametrize("bad", [0, 4, -1, "last", 1.0, True])
def test_round_validation(noisy, bad):
    x, given, _, _, _ = noisy
    model = SelfDistillation(1e-2, 3).fit(x, given)
    with pytest.raises(ValueError, match="round"):
        model.predict(x, round=bad)


def test_predict_before_fit_raises():
    with pytest.raises(ValueError, match="not fitted"):
        SelfDistillation(1e-2, 2).predict(np.ones((2, 3)))


@pytest.mark.parametrize(("mutate", "error", "match"), [
    (lambda x, y: (np.where(np.arange(x.size).reshape(x.shape) == 3, np.nan, x), y),
     ValueError, "X contains NaN"),
    (lambda x, y: (np.where(np.arange(x.size).reshape(x.shape) == 3, np.inf, x), y),
     ValueError, "X contains NaN or inf"),
    (lambda x, y: (x, y[:-1]), ValueError, "y must have length"),
    (lambda x, y: (x, np.where(np.arange(y.size) == 0, 0.5, y)), ValueError,
     "Unknown label type"),
    (lambda x, y: (x, np.where(np.arange(y.size) == 0, 9, y)), ValueError, "class 9 has 1"),
    (lambda x, y: (x, np.zeros_like(y)), ValueError, "y has 1 class"),
    (lambda x, y: (x[:, 0], y), ValueError, "X must be 2-dimensional"),
])
def test_input_validation(noisy, mutate, error, match):
    x, given, _, _, _ = noisy
    x, given = mutate(x, given)
    with pytest.raises(error, match=match):
        SelfDistillation(1e-2, 1).fit(x, given)


def test_singleton_class_and_eval_set_checks(noisy):
    x, given, y, xt, yt = noisy
    one = given.copy()
    one[np.flatnonzero(one == 3)[1:]] = 0          # class 3 keeps one instance
    with pytest.raises(ValueError, match="class 3 has 1"):
        SelfDistillation(1e-2, 1).fit(x, one)
    with pytest.raises(ValueError, match="eval_set"):
        SelfDistillation(1e-2, 1).fit(x, given, eval_set=(xt, yt + 4))
    with pytest.raises(ValueError, match="eval_set"):
        SelfDistillation(1e-2, 1).fit(x, given, eval_set=(xt[:, :2], yt))
    with pytest.raises(ValueError, match="y_true must have length"):
        SelfDistillation(1e-2, 1).fit(x, given, y_true=y[:5])


def test_mixed_namespaces_raise_type_error(noisy):
    import array_api_strict as strict

    x, given, _, xt, yt = noisy
    with pytest.raises(TypeError, match="mix array libraries"):   # X and X_test
        SelfDistillation(1e-2, 1).fit(strict.asarray(x), given, eval_set=(xt, yt))
    model = SelfDistillation(1e-2, 1).fit(x, given)
    with pytest.raises(TypeError, match="mix array libraries"):
        model.predict(strict.asarray(xt))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"lam": 0.0}, "lam"), ({"rounds": 0}, "rounds"), ({"method": "svd"}, "method"),
    ({"ties": "random"}, "ties"), ({"pll_topk": 4}, "pll_topk"), ({"tol": -1.0}, "tol"),
    ({"max_iter": 0}, "max_iter")])
def test_parameter_validation(noisy, kwargs, match):
    x, given, _, _, _ = noisy
    params = {"lam": 1e-2, "rounds": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        SelfDistillation(params.pop("lam"), params.pop("rounds"), **params).fit(x, given)


# ---------------------------------------------------------------------------
# class statistics


def brute_force_correlation(x, y):
    c = x - x.mean(axis=0)
    norms = np.linalg.norm(c, axis=1, keepdims=True)
    u = c / np.where(norms > 0, norms, 1.0)
    cos = u @ u.T
    k = y.max() + 1
    mean, std = np.zeros((k, k)), np.zeros((k, k))
    for a in range(k):
        for b in range(k):
            block = cos[np.ix_(y == a, y == b)]
            if a == b:
                block = block[~np.eye(block.shape[0], dtype=bool)]
            mean[a, b], std[a, b] = block.mean(), block.std()
    return mean, std


def test_class_correlation_equals_brute_force(xp):
    x, y = blobs(k=4, n=7, d=5, seed=5)
    corr = class_correlation(xp.asarray(x), xp.asarray(y))
    mean, std = brute_force_correlation(x, y)
    assert_close(to_numpy(corr.mean), mean, 1e-10, "mean cosines")
    assert_close(to_numpy(corr.std), std, 1e-7, "std of cosines")
    assert corr.counts.tolist() == [7, 7, 7, 7]


def test_confusable_classes_recovers_superclasses():
    rng = np.random.default_rng(0)
    superclass_of = np.array([1, 0, 1, 2, 0, 2, 1])   # 3 superclasses of 7 classes
    centres = 6 * np.eye(3, 8)[superclass_of] + rng.normal(size=(7, 8))
    y = np.repeat(np.arange(7), 40)
    x = centres[y] + 0.3 * rng.normal(size=(y.size, 8))
    ids = confusable_classes(x, y)
    assert ids.tolist() == [0, 1, 0, 2, 1, 2, 0]
    transition = noise.superclass(ids, 0.5)
    assert transition[0, 2] == transition[0, 6] == 0.25 and transition[0, 1] == 0
    with pytest.raises(ValueError, match="cut"):
        confusable_classes(x, y, cut=1.5)


def test_noise_sweep_shapes_and_gains():
    from labelavg.datasets import FeatureSet

    x, y = blobs(k=3, n=20, d=4, sep=2.0)
    xt, yt = blobs(k=3, n=10, d=4, sep=2.0, seed=9)
    data = FeatureSet(x, y, xt, yt, ("a", "b", "c"))
    sweep = noise_sweep(data, {0.0: noise.symmetric(3, 0.0), 0.4: noise.symmetric(3, 0.4)},
                        SelfDistillation(1e-2, 2), seeds=(0, 1))
    assert sweep.models == ("teacher", "student t=2", "PLL")
    assert sweep.test_accuracy.shape == (2, 2, 3) == sweep.label_accuracy.shape
    assert np.all(sweep.noise_rate[0] == 0) and np.all(sweep.noise_rate[1] > 0)
    mean, std = sweep.gains()
    assert mean.shape == std.shape == (2, 2)


# ---------------------------------------------------------------------------
# command line


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "labelavg", "probe", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)


def test_cli_on_the_committed_set(tmp_path):
    """One η, one seed, two rounds on WordNet/MiniLM: the table and both figures."""
    out = _cli("--eta", "0.5", "--seeds", "1", "--rounds", "2", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("teacher") and "±" in line for line in lines)
    assert any(line.startswith("student t=2") for line in lines)
    assert any(line.startswith("PLL") for line in lines)
    assert "η=0.5" in out.stdout and "superclasses" in out.stdout
    assert "seed=0 teacher" in out.stderr                      # progress per fit
    for stem in ("probe_gain", "probe_class_correlation"):
        assert (tmp_path / f"{stem}.png").stat().st_size > 0
        assert (tmp_path / f"{stem}.pdf").stat().st_size > 0


def test_cli_on_npy_features_without_test_split(tmp_path):
    x, y = blobs(k=3, n=30, d=4, sep=2.0)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    out = _cli("--features", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy"),
               "--noise", "symmetric", "--eta", "0.2", "0.4", "--seeds", "2", "--rounds", "3",
               "--lam", "1e-2", "--no-figure", "--float64")
    assert out.returncode == 0, out.stderr
    assert "N=63 train / 27 test" in out.stdout
    assert "η=0.2" in out.stdout and "η=0.4" in out.stdout and "student t=3" in out.stdout


@pytest.mark.parametrize(("args", "match"), [
    (["--seeds", "0"], "--seeds"), (["--lam", "-1"], "--lam"),
    (["--features", "missing.npz"], "no such file"),
    (["--labels", "y.npy"], "--labels needs --features")])
def test_cli_errors_exit_2(tmp_path, args, match):
    out = _cli(*args, "--no-figure", cwd=tmp_path)
    assert out.returncode == 2
    assert match in out.stderr and "Traceback" not in out.stderr


def test_float32_fits_converge_at_the_default_tolerance():
    """float32 round-off floors the residual near 1e-5 here: the default must be reachable."""
    rng = np.random.default_rng(0)
    true = rng.integers(0, 5, 2000)
    x = rng.normal(size=(2000, 50)).astype(np.float32) + np.eye(5, 50, dtype=np.float32)[true]
    given = noise.sample_labels(true, noise.symmetric(5, 0.4), rng)
    model = SelfDistillation(1e-4, 3).fit(x, given)
    assert all(r.converged and r.n_iter < 20 for r in model.history_)


# ---------------------------------------------------------------------------
# scikit-learn protocol


def test_check_estimator():
    """scikit-learn's own estimator checks with default parameters (about 3 s): binary
    data, a column-vector y (DataConversionWarning, ravelled), DataFrame feature names."""
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "does not inherit from BaseEstimator"
        results = check_estimator(SelfDistillation(1e-2, 2), on_fail=None)
    bad = [(r["check_name"], repr(r["exception"])) for r in results
           if r["status"] == "failed"]
    assert not bad
    assert {"check_supervised_y_2d", "check_classifiers_train"} <= {
        r["check_name"] for r in results if r["status"] == "passed"}


def test_sklearn_feature_name_checks():
    """scikit-learn's DataFrame column-name check (not part of check_estimator's list)."""
    from sklearn.utils.estimator_checks import check_dataframe_column_names_consistency

    check_dataframe_column_names_consistency("SelfDistillation", SelfDistillation(1e-2, 2))


@pytest.mark.parametrize("method", ["exact", "linear"])
def test_two_classes_with_defaults(method):
    """K = 2: pll_topk="auto" is k = 1, the teacher's top-1 prediction."""
    x, y = blobs(k=2)
    model = SelfDistillation(1e-2, 2, method=method).fit(x, y)
    assert model.pll_topk_ == 1 and [r.round for r in model.history_] == [1, 2, "pll"]
    teacher = to_numpy(model.probs_[0])
    assert_close(model.pll_targets_, np.eye(2)[teacher.argmax(axis=0)].T, 0.0, "top-1")
    assert SelfDistillation(1e-2, 2).fit(*blobs(k=3)).pll_topk_ == 2
    with pytest.raises(ValueError, match=r"pll_topk .* 1\.\.1 for K = 2, got 2"):
        SelfDistillation(1e-2, 2, pll_topk=2).fit(x, y)


def test_column_vector_y_is_ravelled_with_a_warning():
    x, y = blobs()
    ref = SelfDistillation(1e-2, 1).fit(x, y)
    with pytest.warns(UserWarning, match="A column-vector y was passed when a 1d array"):
        model = SelfDistillation(1e-2, 1).fit(x, y[:, None])
    assert_close(model.coef_, ref.coef_, 0.0, "same fit")


@pytest.mark.parametrize("labels, error, match", [
    ([0, 1, None, 1, 0, 1], ValueError, "y contains None .first at index 2."),
    ([0, 1, "a", 1, 0, "a"], TypeError, "y must hold labels of one sortable type"),
])
def test_unusable_labels_name_y(labels, error, match):
    x = np.arange(12.0).reshape(6, 2)
    with pytest.raises(error, match=match):
        SelfDistillation(1e-2, 1).fit(x, np.array(labels, dtype=object))


def test_feature_names_from_a_dataframe():
    pd = pytest.importorskip("pandas")
    x, y = blobs()
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    model = SelfDistillation(1e-2, 1).fit(frame, y)
    assert model.feature_names_in_.tolist() == list(frame.columns)
    assert model.feature_names_in_.dtype == object
    assert np.array_equal(model.predict(frame), model.predict(x[:, :]))
    with pytest.raises(ValueError, match="must be in the same order"):
        model.predict(frame[frame.columns[::-1]])
    with pytest.warns(UserWarning, match="fitted with feature names"):
        model.predict(x)
    assert not hasattr(SelfDistillation(1e-2, 1).fit(frame.to_numpy(), y), "feature_names_in_")
    refit = model.fit(pd.DataFrame(x), y)           # integer column names: no names kept
    assert refit is model and not hasattr(model, "feature_names_in_")


def test_params_clone_and_repr():
    from sklearn.base import clone

    model = SelfDistillation(1e-2, 3, ties="all", tol=1e-8)
    params = model.get_params()
    assert params == {"lam": 1e-2, "rounds": 3, "pll_topk": "auto", "ties": "all",
                      "pll_loss": "two_hot", "pll_q": 0.7,
                      "method": "exact", "tol": 1e-8, "max_iter": 100, "progress": None}
    assert repr(model) == "SelfDistillation(lam=0.01, rounds=3, ties='all', tol=1e-08)"
    copy = clone(model)
    assert copy is not model and copy.get_params() == params
    assert model.set_params(lam=-1.0, rounds=2) is model and model.lam == -1.0
    with pytest.raises(ValueError, match="unknown parameter 'alpha'"):
        model.set_params(alpha=1.0)
    with pytest.raises(ValueError, match="lam"):   # validation happens in fit
        model.fit(*blobs())


def test_pipeline_grid_search_and_cross_val_score(noisy):
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, given, y, _, _ = noisy
    pipe = make_pipeline(StandardScaler(), SelfDistillation(1e-2, 2))
    scores = cross_val_score(pipe, x, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)
    grid = GridSearchCV(SelfDistillation(1e-2, 1, pll_topk=None),
                        {"lam": [1e-3, 1e-1], "rounds": [1, 2]}, cv=3).fit(x, given)
    assert grid.best_params_["lam"] in (1e-3, 1e-1)
    assert grid.best_estimator_.predict(x).shape == y.shape


def test_any_labels_round_trip(noisy):
    """String and non-contiguous integer labels: classes_ sorted, predict returns them."""
    x, given, y, xt, yt = noisy
    ref = SelfDistillation(1e-2, 2).fit(x, given, y_true=y)
    for names in (np.array(["cat", "dog", "eel", "fox"]), np.array([-5, 3, 10, 11])):
        model = SelfDistillation(1e-2, 2).fit(x, names[given], y_true=names[y],
                                              eval_set=(xt, names[yt]))
        assert np.array_equal(model.classes_, np.sort(names))
        assert_close(model.probs_, ref.probs_, 1e-12, "same fit under relabelling")
        assert np.array_equal(model.predict(xt), names[ref.predict(xt)])
        assert model.score(xt, names[yt]) == ref.score(xt, yt)
        assert model.predict_proba(xt).shape == (xt.shape[0], 4)
        assert model.n_features_in_ == x.shape[1]
        with pytest.raises(ValueError, match="y_true must take values among"):
            SelfDistillation(1e-2, 1).fit(x, names[given], y_true=np.full(y.size, 99))


def test_pll_student_is_optional(noisy):
    x, given, _, _, _ = noisy
    model = SelfDistillation(1e-2, 1, pll_topk=None).fit(x, given)
    assert [r.round for r in model.history_] == [1] and model.pll_coef_ is None
    with pytest.raises(ValueError, match="pll_topk=None"):
        model.predict(x, round="pll")
    with_pll = SelfDistillation(1e-2, 1).fit(x, given)
    assert_close(model.coef_, with_pll.coef_, 1e-12, "teacher unchanged")


# ---------------------------------------------------------------------------
# out of core: Dask arrays


def test_dask_chunked_fit_equals_numpy(noisy):
    """The fit over row chunks of a Dask X gives the NumPy fit (float64 and float32)."""
    da = pytest.importorskip("dask.array")
    x, given, y, xt, yt = noisy
    for dtype, rtol in ((np.float64, 1e-8), (np.float32, FLOAT32_RTOL)):
        ref = SelfDistillation(1e-2, 2).fit(x.astype(dtype), given, y_true=y)
        chunked = da.from_array(x.astype(dtype), chunks=(17, 5))   # uneven row chunks
        model = SelfDistillation(1e-2, 2).fit(chunked, given, y_true=y, eval_set=(xt, yt))
        assert model.coef_.dtype == dtype
        assert all(r.converged for r in model.history_)
        assert_close(model.probs_, ref.probs_, rtol, f"chunked vs in-memory outputs {dtype}")
        assert_close(model.pll_probs_, ref.pll_probs_, rtol, "chunked vs in-memory PLL")
        assert np.array_equal(model.predict(da.from_array(xt, chunks=7)), ref.predict(xt))
    with pytest.raises(ValueError, match="features contains NaN or inf"):   # checked by chunk
        SelfDistillation(1e-2, 1).fit(da.from_array(np.where(x > 2, np.nan, x), chunks=20),
                                      given)
    with pytest.raises(ValueError, match="method='linear' needs X in memory"):
        SelfDistillation(1e-2, 1, method="linear").fit(da.from_array(x, chunks=(20, -1)),
                                                       given)


@pytest.mark.parametrize("method", ["exact", "linear"])
def test_dask_x_in_one_row_chunk_is_fitted_in_memory(noisy, method, monkeypatch):
    """One row chunk holds all of X anyway: it is computed once and fitted as NumPy
    (the very same arithmetic), not re-read on every solver pass."""
    da = pytest.importorskip("dask.array")
    from labelavg import fixed_point

    x, given, y, xt, yt = noisy
    ref = SelfDistillation(1e-2, 2, method=method).fit(x, given, eval_set=(xt, yt))
    monkeypatch.setattr(fixed_point._RowChunks, "build", None)   # no chunked solver pass
    model = SelfDistillation(1e-2, 2, method=method).fit(
        da.from_array(x, chunks=(10_000, 3)), given,
        eval_set=(da.from_array(xt, chunks=(10_000, -1)), yt))
    assert isinstance(model.coef_, np.ndarray) and np.array_equal(model.coef_, ref.coef_)
    assert [r.test_accuracy for r in model.history_] == [r.test_accuracy for r in ref.history_]


def test_dask_fit_probs_equals_numpy():
    da = pytest.importorskip("dask.array")
    x, y = blobs(k=3, n=40, d=7)
    targets = np.random.default_rng(4).dirichlet(np.ones(3), y.size).T
    ref = fit_probs(None, targets, 1e-3, features=x)
    fit = fit_probs(None, targets, 1e-3, features=da.from_array(x, chunks=(25, 3)))
    assert fit.converged and isinstance(fit.probs, np.ndarray)
    assert_close(fit.probs, ref.probs, 1e-8, "fit_probs on Dask vs NumPy")


def test_lam_beyond_the_float_range_of_x_is_refused():
    """λ = 1e300 overflows float32 (NumPy warnings, then NaN): refused before the fit;
    float64 features hold it and give W ≈ 0, uniform outputs (the teacher; the PLL
    student's Newton steps still overflow in float64 this close to its limit)."""
    x, y = blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"lam=1e\+300 exceeds .* float32"):
            SelfDistillation(1e300, 1).fit(x.astype(np.float32), y)
        model = SelfDistillation(1e300, 1, pll_topk=None).fit(x, y)
    assert all(r.converged for r in model.history_)
    assert_close(model.probs_, np.full_like(model.probs_, 1 / 3), 1e-12, "uniform")
