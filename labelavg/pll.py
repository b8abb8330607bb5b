"""Partial-label losses of the PLL student and their solver.

Symbols: K ``n_classes``, N ``n_samples``, D feature dimension, λ ``lam``,
F ``features`` (N, D), W (K, D), Z = W Fᵀ the logits (K, N), P = softmax(Z),
Q (K, N) the PLL targets of :func:`labelavg.pll_targets` (1/k on each of the
teacher's top-k classes; tied classes share, see its ``ties``), m = k Q the
candidate weights (1 on a candidate, 0 elsewhere when nothing ties).

Every loss is fitted as

    f(W) = (1/N) Σ_i L(q_i, p_i) + (λ/2) ||W||_F²

- ``"two_hot"`` (the theory's and the paper's §5 construction): L = CE(q, p), soft
  cross-entropy to the (½, ½) target. Convex in W; solved by the exact Newton
  solver of :func:`labelavg.fit_probs`, not here.
- ``"gce"`` (the authors' experiments, ``partial_loss`` of their ``util.py``):
  generalised cross-entropy on each candidate, L = Σ_c q_c (1 − p_c^ρ)/ρ, the mean
  over the k candidates of (1 − p_c^ρ)/ρ; ρ = ``pll_q`` (0.7 as the authors).
  Not convex in W: L is bounded (0 <= L <= 1/ρ) and not constant along a line of
  logits, which no convex function is.
- ``"partial_ll"``: the partial-label log-likelihood L = −log Σ_c m_c p_c
  = −log Σ_{candidates} p. Convex in P but **not** in W: with K = 3 and candidates
  {0, 1}, along z = (a, −a, 0) it is log(1 + 1/(e^a + e^−a)), which rises from 0
  to log 1.5 and falls again (see the tests).

The two non-convex losses are solved by :func:`fit_partial`: a Newton trust-region
method with truncated CG (SciPy's ``trust-ncg``, exact Hessian-vector products)
from a given start (the teacher's W, as the authors), which converges to a
stationary point, not necessarily the global minimum. Its residual is the same
relative gradient norm as :func:`labelavg.fit_probs` reports.
"""

from __future__ import annotations

import math

import numpy as np

from . import _checks
from .fixed_point import FitResult

__all__ = ["PLL_LOSSES", "fit_partial", "loss_and_grad"]

#: The PLL losses, see the module docstring.
PLL_LOSSES = ("two_hot", "gce", "partial_ll")


def check_loss(pll_loss, pll_q):
    """Validate ``pll_loss`` and ``pll_q`` (ρ > 0, <= 1); return ρ as a float."""
    _checks.choice("pll_loss", pll_loss, set(PLL_LOSSES))
    q = _checks.positive_scalar("pll_q", pll_q)
    if q > 1:
        raise ValueError(f"pll_q must be in (0, 1], got {pll_q!r}")
    return q


def _softmax(logits):
    z = logits - logits.max(axis=0, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=0, keepdims=True)


def loss_and_grad(logits, targets, loss, q=0.7):
    """Per-instance loss (N,) and its gradient in the logits (K, N).

    Parameters
    ----------
    logits : ndarray (K, N)
    targets : ndarray (K, N)
        PLL targets Q (columns sum to 1, support = the candidates).
    loss : {"two_hot", "gce", "partial_ll"}
    q : float
        ρ of ``"gce"``.

    Returns
    -------
    value : ndarray (N,)
    grad : ndarray (K, N)
        dL/dZ: Q-weighted (P − Q) for ``"two_hot"``, −a + P Σ_c a_c with
        a = Q ⊙ P^ρ for ``"gce"``, P − R with R = m ⊙ P / (m·P) for ``"partial_ll"``.
    """
    probs = _softmax(logits)
    if loss == "two_hot":
        shifted = logits - logits.max(axis=0)
        logp = shifted - np.log(np.exp(shifted).sum(axis=0))
        return -(targets * logp).sum(axis=0), probs - targets
    if loss == "gce":
        powered = probs ** q
        a = targets * powered
        return (targets * (1.0 - powered)).sum(axis=0) / q, -a + probs * a.sum(axis=0)
    # −log Σ m p = logsumexp(z) − log Σ m e^z, each shifted by its own largest logit
    posterior, log_mass = _posterior(logits, _candidate_weights(targets))
    top = logits.max(axis=0)
    value = np.log(np.exp(logits - top).sum(axis=0)) + top - log_mass
    return value, probs - posterior


def _candidate_weights(targets):
    """m = k Q: 1 on each of the k candidates (the ``ties`` share when they tie)."""
    k = np.round(1.0 / targets.max(axis=0))   # the largest target is 1/k unless all tie
    return targets * np.maximum(k, 1.0)


def _posterior(logits, weights):
    """R = m ⊙ e^z / Σ m e^z (K, N) and log Σ m e^z (N,), shifted by the largest
    candidate logit: finite even where every candidate's p underflows to 0."""
    candidate = weights > 0
    top = np.max(np.where(candidate, logits, -np.inf), axis=0)
    scaled = weights * np.exp(np.where(candidate, logits - top, -np.inf))
    total = scaled.sum(axis=0)
    return scaled / total, np.log(total) + top


def _hess_logits(logits, targets, loss, q, v):
    """d(grad)/dZ at logits Z applied to a direction v (K, N), column by column."""
    probs = _softmax(logits)
    pv = (probs * v).sum(axis=0)
    dp = probs * (v - pv)
    if loss == "gce":
        a = targets * probs ** q
        total = a.sum(axis=0)
        return -q * a * (v - pv) + q * ((a * v).sum(axis=0) - total * pv) * probs + total * dp
    r = _posterior(logits, _candidate_weights(targets))[0]
    return dp - r * (v - (r * v).sum(axis=0))


def fit_partial(features, targets, lam, loss, *, q=0.7, init=None, tol=1e-10,
                max_iter=200):
    """Fit a non-convex PLL loss (``"gce"`` or ``"partial_ll"``) from ``init``.

    Parameters
    ----------
    features : array (N, D)
        Feature rows F (copied to the host as float64).
    targets : array (K, N)
        PLL targets Q (:func:`labelavg.pll_targets`).
    lam : float
        λ > 0.
    loss : {"gce", "partial_ll"}
    q : float
        ρ of ``"gce"`` (0 < ρ <= 1).
    init : array (K, D), optional
        Starting W (the teacher's, as the authors); default zeros.
    tol : float
        Relative gradient norm to reach, ||∇f|| / (||G F / N|| + λ ||W||) with G = dL/dZ.
    max_iter : int
        Trust-region iterations in all.

    Returns
    -------
    FitResult
        ``form="primal"``; ``converged`` iff the residual is <= ``tol``. The point
        is a stationary point of a non-convex objective: another start may
        reach another one.

    Notes
    -----
    SciPy's ``trust-ncg`` with the exact Hessian-vector product
    (1/N) H_Z(V Fᵀ) F + λ V, H_Z the per-column Hessian of L in the logits.
    It runs on V with W = V S, S = (FᵀF/(NK) + λI)^(-1/2) (a fixed preconditioner:
    the Hessian is near the identity in V). Its stopping rule is an absolute
    gradient norm; it is set from ``tol`` × the current denominator and the
    solve restarted (at most 5 times) until the relative residual is met or
    stops halving.
    """
    from scipy.optimize import minimize

    if loss not in ("gce", "partial_ll"):
        raise ValueError(f"loss must be 'gce' or 'partial_ll', got {loss!r}")
    q = check_loss(loss, q)
    lam = _checks.positive_scalar("lam", lam)
    X = np.asarray(features, dtype=float)
    Q = np.asarray(targets, dtype=float)
    n_classes, n_samples = Q.shape
    shape = (n_classes, X.shape[1])
    coef = np.zeros(shape) if init is None else np.array(init, dtype=float).reshape(shape)

    # preconditioning by the change of variables W = V S, S = (C/K + λI)^(-1/2),
    # C = FᵀF/N: the Hessian in W is close to (1/N) Σ_i S_i ⊗ f_i f_iᵀ + λI with
    # S_i of size ~1/K, so in V it is near the identity and CG needs few steps
    evals, evecs = np.linalg.eigh(X.T @ X / n_samples)
    root = np.sqrt(np.clip(evals, 0.0, None) / n_classes + lam)
    precond, inverse = (evecs / root) @ evecs.T, (evecs * root) @ evecs.T

    def fun(v):
        W = v.reshape(shape) @ precond
        value, grad = loss_and_grad(W @ X.T, Q, loss, q)
        gradient = (grad @ X / n_samples + lam * W) @ precond
        return value.mean() + 0.5 * lam * np.vdot(W, W), gradient.ravel()

    def hessp(v, u):
        W, U = v.reshape(shape) @ precond, u.reshape(shape) @ precond
        return ((_hess_logits(W @ X.T, Q, loss, q, U @ X.T) @ X / n_samples + lam * U)
                @ precond).ravel()

    n_iter = 0
    residual, scale = _residual(X, Q, coef, lam, loss, q)
    for _ in range(5):
        if residual <= tol or n_iter >= max_iter:
            break
        # ||∇_W f|| <= ||∇_V f|| max(root): this gtol in V meets tol × scale in W
        res = minimize(fun, (coef @ inverse).ravel(), jac=True, hessp=hessp,
                       method="trust-ncg",
                       options=dict(gtol=tol * scale / root.max(), maxiter=max_iter - n_iter))
        n_iter += int(res.nit)
        coef = res.x.reshape(shape) @ precond
        previous = residual
        residual, scale = _residual(X, Q, coef, lam, loss, q)
        if residual > 0.5 * previous:   # no progress: polish below
            break
    coef, residual, n_iter = _polish(fun, hessp, coef, inverse, precond, residual, n_iter,
                                     lambda w: _residual(X, Q, w, lam, loss, q)[0], tol)
    return FitResult(_softmax(coef @ X.T), coef, n_iter, residual, residual <= tol, "primal")


def _polish(fun, hessp, coef, inverse, precond, residual, n_iter, measure, tol, steps=5):
    """Full Newton steps accepted while they shrink the residual.

    The trust region judges a step by the decrease of f, which round-off hides
    once the gradient is ~1e-8 of its scale; near a minimum the Newton step
    still shrinks the gradient quadratically, so it is judged by the residual.
    """
    from scipy.sparse.linalg import LinearOperator, cg

    for _ in range(steps):
        if residual <= tol:
            break
        v = (coef @ inverse).ravel()
        grad = fun(v)[1]
        op = LinearOperator((v.size, v.size), matvec=lambda u: hessp(v, u))
        step, info = cg(op, -grad, rtol=1e-3, maxiter=200)
        trial = (v + step).reshape(coef.shape) @ precond
        new = measure(trial)
        n_iter += 1
        if info < 0 or not new < residual:
            break
        coef, residual = trial, new
    return coef, residual, n_iter


def _residual(X, Q, coef, lam, loss, q):
    """(relative gradient norm, its denominator) at W = ``coef``."""
    _, grad = loss_and_grad(coef @ X.T, Q, loss, q)
    data = grad @ X / Q.shape[1]
    denominator = max(np.linalg.norm(data) + lam * np.linalg.norm(coef), 1e-300)
    return float(np.linalg.norm(data + lam * coef) / denominator), denominator
