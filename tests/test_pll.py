"""PLL losses (labelavg.pll): values, gradients, Hessian products, solver, choices."""

import numpy as np
import pytest

from labelavg import SelfDistillation, distill, pll_targets
from labelavg.pll import _hess_logits, _softmax, fit_partial, loss_and_grad


def _targets(rng, n_classes=3, n=5):
    logits = rng.normal(size=(n_classes, n))
    return pll_targets(_softmax(rng.normal(size=(n_classes, n))), 2), logits


def test_values_match_the_definitions():
    rng = np.random.default_rng(0)
    q_pll, logits = _targets(rng)
    p = _softmax(logits)
    for i in range(q_pll.shape[1]):
        cand = np.flatnonzero(q_pll[:, i] > 0)
        assert cand.size == 2
        gce = np.mean([(1 - p[c, i] ** 0.7) / 0.7 for c in cand])
        pll = -np.log(p[cand, i].sum())
        ce = -np.sum(q_pll[:, i] * np.log(p[:, i]))
        for loss, expected in (("gce", gce), ("partial_ll", pll), ("two_hot", ce)):
            assert loss_and_grad(logits, q_pll, loss)[0][i] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("loss", ["two_hot", "gce", "partial_ll"])
def test_gradient_and_hessian_match_finite_differences(loss):
    rng = np.random.default_rng(1)
    q_pll, logits = _targets(rng, 4, 3)
    q_pll[:, 0] = [0.5, 0.25, 0.25, 0.0]          # a split tie at the 2nd place
    value, grad = loss_and_grad(logits, q_pll, loss, 0.7)
    v = rng.normal(size=logits.shape)
    h = 1e-6
    fd = (loss_and_grad(logits + h * v, q_pll, loss)[0]
          - loss_and_grad(logits - h * v, q_pll, loss)[0]) / (2 * h)
    np.testing.assert_allclose(fd, (grad * v).sum(axis=0), rtol=1e-6, atol=1e-9)
    if loss == "two_hot":
        return
    fd_grad = (loss_and_grad(logits + h * v, q_pll, loss)[1]
               - loss_and_grad(logits - h * v, q_pll, loss)[1]) / (2 * h)
    np.testing.assert_allclose(_hess_logits(logits, q_pll, loss, 0.7, v), fd_grad,
                               rtol=1e-5, atol=1e-8)


def test_partial_ll_is_not_convex_in_the_logits():
    # K = 3, candidates {0, 1}: along z = (a, -a, 0) it rises from ~0 to log 1.5 and falls
    q_pll = np.array([[0.5], [0.5], [0.0]])
    f = [loss_and_grad(np.array([[a], [-a], [0.0]]), q_pll, "partial_ll")[0][0]
         for a in (-8.0, 0.0, 8.0)]
    assert f[1] == pytest.approx(np.log(1.5), rel=1e-12)
    assert f[1] > (f[0] + f[2]) / 2               # violates convexity


@pytest.mark.parametrize("loss", ["gce", "partial_ll"])
def test_fit_is_stationary_with_the_ridge_term(loss):
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(3), 6)
    X = np.eye(3)[y] + 0.4 * rng.normal(size=(18, 3))
    q_pll = pll_targets(_softmax(rng.normal(size=(3, 18))), 2)
    lam = 1e-2
    res = fit_partial(X, q_pll, lam, loss, init=rng.normal(size=(3, 3)))
    assert res.converged and res.residual <= 1e-10
    # independent check: finite differences of the full objective f(W) at the fit
    def f(W):
        return loss_and_grad(W @ X.T, q_pll, loss)[0].mean() + lam / 2 * np.sum(W ** 2)
    h = 1e-6
    fd = np.array([[(f(res.coef + h * e) - f(res.coef - h * e)) / (2 * h)
                    for e in np.eye(9)[3 * k:3 * k + 3].reshape(3, 3, 3)] for k in range(3)])
    assert np.abs(fd).max() < 1e-7
    # W = −(∂L/∂Z) F / (Nλ), the stationarity condition
    grad = loss_and_grad(res.coef @ X.T, q_pll, loss)[1]
    np.testing.assert_allclose(res.coef, -grad @ X / (18 * lam), rtol=1e-8, atol=1e-12)


def test_smallest_case_partial_ll_with_one_candidate_is_the_two_hot_fit():
    # K = 2, top-1: −log p_top is cross-entropy to the one-hot top class, a convex fit
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1], 5)
    X = np.eye(2)[y] + 0.6 * rng.normal(size=(10, 2))
    a = distill(None, y, 1e-2, 1, pll_topk=1, features=X)
    b = distill(None, y, 1e-2, 1, pll_topk=1, features=X, pll_loss="partial_ll")
    assert b.fits[-1].converged
    np.testing.assert_allclose(b.pll_probs, a.pll_probs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss", ["gce", "partial_ll"])
def test_estimator_gram_and_features_agree(loss):
    rng = np.random.default_rng(4)
    y = np.repeat(np.arange(3), 8)
    X = np.eye(3)[y] + 0.5 * rng.normal(size=(24, 3))
    by_features = distill(None, y, 1e-2, 2, features=X, pll_loss=loss)
    by_gram = distill(X @ X.T, y, 1e-2, 2, pll_loss=loss)
    np.testing.assert_allclose(by_gram.pll_probs, by_features.pll_probs, atol=1e-8)
    est = SelfDistillation(1e-2, 2, pll_loss=loss).fit(X, y)
    assert est.history_[-1].converged
    np.testing.assert_allclose(est.pll_probs_, by_features.pll_probs, atol=1e-8)
    # GCE with ρ → 1 is 1 − p: a different fit from the default ρ = 0.7
    other = SelfDistillation(1e-2, 2, pll_loss="gce", pll_q=1.0).fit(X, y)
    if loss == "gce":
        assert np.abs(other.pll_probs_ - est.pll_probs_).max() > 1e-6


@pytest.mark.parametrize("kwargs, match", [
    (dict(pll_loss="ce"), "pll_loss"), (dict(pll_q=0.0), "pll_q"), (dict(pll_q=1.5), "pll_q"),
    (dict(pll_loss="gce", method="linear"), "method='exact'")])
def test_bad_choices_are_named(kwargs, match):
    X, y = np.eye(3)[[0, 0, 1, 1, 2, 2]], np.array([0, 0, 1, 1, 2, 2])
    with pytest.raises(ValueError, match=match):
        SelfDistillation(1e-2, 1, **kwargs).fit(X, y)
    with pytest.raises(ValueError, match=match):
        distill(None, y, 1e-2, 1, features=X, **{k: v for k, v in kwargs.items()})


def test_partial_ll_is_finite_where_every_candidate_underflows():
    """Logits (0, 0, 800) with candidates {0, 1}: p_0 = p_1 = e^-800 underflow to 0, yet
    −log(p_0 + p_1) = 800 + log(1 + 2e^-800) − log 2 and its gradient P − R with
    R = (½, ½, 0) are finite; a fit started there reaches the optimum it reaches from 0."""
    logits = np.array([[0.0], [0.0], [800.0]])
    targets = np.array([[0.5], [0.5], [0.0]])
    value, grad = loss_and_grad(logits, targets, "partial_ll")
    np.testing.assert_allclose(value, [800.0 - np.log(2.0)], rtol=1e-15)
    np.testing.assert_allclose(grad, [[-0.5], [-0.5], [1.0]], rtol=1e-15)
    features, q_pll, lam = np.array([[1.0], [2.0]]), np.tile(targets, (1, 2)), 1e-2
    far = fit_partial(features, q_pll, lam, "partial_ll", init=800 * np.eye(3)[:, 2:])
    near = fit_partial(features, q_pll, lam, "partial_ll")
    assert far.converged and near.converged
    np.testing.assert_allclose(far.coef, near.coef, rtol=1e-8)
    # stationarity, from the definitions: (1/N) Σ_i (p_i − r_i) f_iᵀ + λ W = 0
    p = _softmax(far.coef @ features.T)
    r = p * q_pll / (p * q_pll).sum(axis=0)
    gradient = (p - r) @ features / 2 + lam * far.coef
    assert np.linalg.norm(gradient) <= 1e-9 * np.linalg.norm(lam * far.coef)
