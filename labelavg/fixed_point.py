"""The exact softmax + ridge fit on fixed features (the fixed point FP).

Symbols: K ``n_classes``, N ``n_samples``, D feature dimension, λ ``lam``,
Φ ``gram`` (N, N), F ``features`` (N, D), Q ``targets`` (K, N), P ``probs`` (K, N),
A dual coefficients (K, N) with W = A F, W primal coefficients (K, D).

Each fit minimises the convex objective

    f(W) = (1/N) Σ_i CE(q_i, softmax(W φ_i)) + (λ/2) ||W||_F²,

whose stationarity condition is W = (Q − P) F / (Nλ), i.e. the fixed point

    P = softmax_columns((Q − P) Φ / (Nλ)).                             (FP)

Both forms run Newton's method with a conjugate-gradient inner solve and an
Armijo line search: the *dual* form on Φ (unknowns A, used when only Φ is
known), the *primal* form on F (unknowns W). They minimise the same objective
and return the same probs. The primal form is written against the array-API
namespace of its inputs, so it runs on NumPy, CuPy or ``array_api_strict``; F
may also be a Dask array, read one row chunk at a time (out of core).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import is_dask_array, is_numpy_namespace

from . import _checks
from ._xp import float_dtype, namespace

__all__ = ["FitResult", "default_tol", "fit_probs", "fixed_point_residual"]


@dataclass(frozen=True)
class FitResult:
    """Outcome of one exact fit.

    Attributes
    ----------
    probs : array (K, N)
        Softmax outputs P on the training instances.
    coef : array (K, N) or (K, D)
        Dual coefficients A (W = A F) for the dual form, W for the primal form.
    n_iter : int
        Newton steps taken.
    residual : float
        Relative gradient norm ``||∇f(W)|| / (||(P − Q) F / N|| + λ ||W||)``;
        the two terms of the gradient balance at the optimum, so this is the
        relative error of the logits (Q − P)Φ/(Nλ) versus W F.
    converged : bool
        ``residual <= max(tol, floor)``.
    form : str
        ``"dual"`` or ``"primal"``.
    floor : float
        Round-off scale of ``residual`` at the returned point (see
        :func:`_residual_floor`): the logits are sums of terms as large as
        ``|coef|`` times the feature norms, so float rounding perturbs them, and
        through the softmax the gradient, by eps times that scale. A residual
        below it is undecidable in the computing precision; when ``floor > tol``
        the fit stops, and counts as converged, at ``floor``. 0 where the
        residual's own denominator is lost in round-off (no scale to claim).
    """

    probs: Any
    coef: Any
    n_iter: int
    residual: float
    converged: bool
    form: str
    floor: float = 0.0

    def __repr__(self):
        from ._repr import short_repr

        return short_repr(self, form=self.form, probs=self.probs, coef=self.coef,
                          n_iter=self.n_iter, residual=self.residual,
                          converged=self.converged, floor=self.floor)


#: Default solver tolerance (relative gradient norm) per computing precision.
_DEFAULT_TOL = {"float64": 1e-10, "float32": 1e-4}


def default_tol(dtype):
    """Default ``tol`` for a computing dtype: 1e-10 for float64, 1e-4 for float32.

    float32 round-off floors the relative gradient norm between about 1e-6 and
    1e-4 depending on N and the conditioning, so 1e-4 is the tightest tolerance
    met reliably.
    """
    return _DEFAULT_TOL["float32" if "32" in str(dtype) or "16" in str(dtype) else "float64"]


def fit_probs(gram, targets, lam, *, features=None, tol=None, max_iter=100, init=None):
    """Solve the fixed point (FP) exactly by Newton's method.

    Parameters
    ----------
    gram : array (N, N) or None
        Gram matrix Φ (symmetric PSD). May be None when ``features`` is given.
    targets : array (K, N)
        Training targets Q, columns are probability vectors (hard or soft).
    lam : float
        Ridge strength λ > 0.
    features : array (N, D), optional
        Feature rows F. When given, the primal form (K×D unknowns) is solved and
        ``gram`` is ignored. A Dask array is read one row chunk at a time: each
        pass over the data (one per gradient and per Hessian-vector product)
        computes the chunks in turn, so memory holds one chunk plus the K×N
        outputs; the results are then NumPy arrays.
    tol : float, optional
        Stop when the relative gradient norm (see :class:`FitResult`) is below
        it, or below its round-off floor ``FitResult.floor`` if that is larger;
        default :func:`default_tol` of the computing dtype (1e-10 for float64,
        1e-4 for float32 features).
    max_iter : int
        Maximum Newton steps.
    init : array, optional
        Starting coefficients (A (K, N) or W (K, D)), e.g. the ``coef`` of the
        previous distillation round. Default zero (uniform probs).

    Returns
    -------
    FitResult

    Notes
    -----
    The objective is strictly convex, so the minimiser and P are unique. Newton
    converges quadratically near it; the inner conjugate-gradient solves are
    done to a relative accuracy min(0.1, sqrt(residual)) (inexact Newton). The
    softmax Jacobian diag(p) − ppᵀ is formed from P directly, so probabilities
    that underflow to 0 at tiny λ only make it singular, never NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from labelavg.gram import block_gram
    >>> gram = block_gram(2, 3, 0.5, 0.1)
    >>> targets = np.repeat(np.eye(2), 3, axis=1)
    >>> fit = fit_probs(gram, targets, 1e-2)
    >>> fit.converged, fit.probs.argmax(axis=0).tolist()
    (True, [0, 0, 0, 1, 1, 1])
    """
    lam = _checks.positive_scalar("lam", lam)
    _checks.integer_at_least("max_iter", max_iter, 1)
    if features is not None:
        problem = _Primal.build(features, targets, lam)
    elif gram is None:
        raise ValueError("gram may be None only when features are given")
    else:
        problem = _Dual.build(gram, targets, lam)
    tol = default_tol(problem.targets.dtype) if tol is None else _checks.positive_scalar("tol", tol)
    fit = _newton(problem, init, tol, max_iter)
    warn_unconverged([fit], tol, "fit_probs")
    return fit


def warn_unconverged(fits, tol, where):
    """RuntimeWarning naming the fits (1-based) that stopped above ``tol``."""
    bad = [i for i, fit in enumerate(fits, 1) if not fit.converged]
    if bad:
        worst = max(fits[i - 1].residual for i in bad)
        warnings.warn(f"{where}: fit(s) {bad} did not converge (residual up to {worst:.1e} > "
                      f"tol {tol:.1e} and above its round-off floor); raise max_iter or tol",
                      RuntimeWarning, stacklevel=3)


def fixed_point_residual(gram, targets, probs, lam):
    """max |P − softmax((Q − P) Φ / (Nλ))|: how far ``probs`` are from (FP)."""
    xp = namespace(gram, targets, probs)
    logits = (targets - probs) @ gram / (probs.shape[1] * lam)
    return float(xp.max(xp.abs(probs - _softmax(xp, logits))))


# ---------------------------------------------------------------------------
# shared numerics


def _softmax(xp, logits):
    shifted = logits - xp.max(logits, axis=0, keepdims=True)
    expz = xp.exp(shifted)
    return expz / xp.sum(expz, axis=0, keepdims=True)


def _cross_entropy_and_softmax(xp, logits, targets):
    """((1/N) Σ_i [logsumexp(z_i) − q_iᵀ z_i], softmax(Z)) from one exp of Z."""
    top = xp.max(logits, axis=0, keepdims=True)
    expz = xp.exp(logits - top)
    total = xp.sum(expz, axis=0, keepdims=True)
    lse = top + xp.log(total)
    value = float(xp.sum(lse) - xp.sum(targets * logits)) / logits.shape[1]
    return value, expz / total


def _vdot(xp, a, b):
    return float(xp.sum(a * b))


def _pcg(xp, apply_op, apply_prec, rhs, atol, max_iter, start=None, reach=None):
    """Preconditioned conjugate gradients for a symmetric PD operator.

    ``apply_op(p)`` returns ``(A p, M p)``: the operator image and a linear image
    of p that the caller needs for the solution (its logits). Both are summed
    along, so the caller gets ``(x, M x)`` without another pass over the data.
    Stops when ``||rhs − A x|| <= atol``. ``start`` is an optional
    ``(x0, A x0, M x0)`` to continue from. Returns
    ``(x, M x, converged, state)``; ``M x`` is None when no step was taken, and
    ``state`` can be passed back as ``start``. With ``reach``, CG also stops
    (unconverged) as soon as ``max |M x| > reach``: a trust region on the image
    in the manner of Steihaug's truncated CG (every CG iterate is a descent
    direction, so the caller's line search still applies).
    """
    x, ax, image = (xp.zeros_like(rhs), None, None) if start is None else start
    r = rhs if ax is None else rhs - ax
    z = apply_prec(r)
    p = z
    rz = _vdot(xp, r, z)
    stop = atol
    for _ in range(max_iter):
        if math.sqrt(_vdot(xp, r, r)) <= stop:
            return x, image, True, (x, ax, image)
        q, q_image = apply_op(p)
        curv = _vdot(xp, p, q)
        if curv <= 0:
            break
        alpha = rz / curv
        x = x + alpha * p
        ax = alpha * q if ax is None else ax + alpha * q
        image = alpha * q_image if image is None else image + alpha * q_image
        if reach is not None and float(xp.max(xp.abs(image))) > reach:
            return x, image, False, (x, ax, image)
        r = r - alpha * q
        z = apply_prec(r)
        rz, rz_old = _vdot(xp, r, z), rz
        p = z + (rz / rz_old) * p
    return x, image, math.sqrt(_vdot(xp, r, r)) <= stop, (x, ax, image)


@dataclass(frozen=True)
class _State:
    coef: Any
    logits: Any
    probs: Any
    grad: Any          # Euclidean gradient of f with respect to coef
    descent: Any       # a safe descent direction (natural gradient)
    objective: float
    residual: float
    floor: float       # round-off scale of residual (see _residual_floor)


def _newton(problem, init, tol, max_iter):
    """Newton steps until the residual is below ``tol``; or below its round-off
    floor once a step neither halves it nor lowers the objective by more than
    its round-off (the residual is then undecidable against ``tol`` in the
    computing precision, and further steps only stir round-off; stopping at
    the first step below the floor would lose the accuracy quadratic
    convergence still buys there)."""
    coef = problem.zero() if init is None else problem.check_init(init)
    state = problem.evaluate(coef, problem.logits(coef))
    n_iter, hint, progress = 0, None, True
    while state.residual > tol and n_iter < max_iter and (progress or state.residual > state.floor):
        d_coef, d_logits, hint = problem.direction(state, _forcing(state.residual, tol), hint)
        slope = _vdot(problem.xp, state.grad, d_coef)
        if d_logits is None or not slope < 0:  # inexact inner solve: fall back
            d_coef, d_logits = state.descent, problem.logits(state.descent)
            slope = _vdot(problem.xp, state.grad, d_coef)
        previous = state
        state = _line_search(problem, state, d_coef, d_logits, slope)
        progress = (state.residual < 0.5 * previous.residual
                    or state.objective < previous.objective - _slack(problem.xp, previous))
        n_iter += 1
    return FitResult(state.probs, state.coef, n_iter, state.residual,
                     state.residual <= max(tol, state.floor), problem.form, state.floor)


def _forcing(residual, tol):
    """Relative accuracy of the inner CG solve (inexact Newton).

    min(0.1, residual) keeps quadratic convergence (Eisenstat–Walker); it is
    never finer than 0.2 tol/residual, so the last step lands near ``tol``
    instead of orders of magnitude below it.
    """
    return max(min(0.1, residual), min(0.5, 0.2 * tol / residual))


def _line_search(problem, state, d_coef, d_logits, slope):
    """Armijo backtracking; differences below round-off count as no increase.

    Logits move linearly with the coefficients, so trial points cost no pass
    over the data: Z + s dZ; the accepted point's softmax is kept (one exp per
    trial point). The objective is a mean of logsumexp(z_i) − q_iᵀ z_i, terms as
    large as max |z| that cancel when outputs saturate, so its round-off is eps
    times max |z| (not times |f|): a smaller slack rejects every Newton step
    once the logits are large (tiny λ), and the fit stalls.
    """
    slack = _slack(problem.xp, state)
    step = 1.0
    for _ in range(60):
        coef = state.coef + step * d_coef
        logits = state.logits + step * d_logits
        point = problem.objective(coef, logits)
        if point[0] <= state.objective + 1e-4 * step * slope + slack:
            break
        step *= 0.5
    return problem.evaluate(coef, logits, point)


def _slack(xp, state):
    """Round-off of the objective at ``state``: 10 eps (|f| + 1 + 2 max |z|)."""
    eps = 1e-7 if state.coef.dtype == xp.float32 else 1e-15
    return 10 * eps * (abs(state.objective) + 1.0 + 2.0 * float(xp.max(xp.abs(state.logits))))


def _relative_residual(grad_norm, data_norm, reg_norm):
    return grad_norm / max(data_norm + reg_norm, 1e-300)


def _residual_floor(xp, coef, probs, row_norms, feature_norms, denominator):
    """Round-off scale of the relative gradient norm at coefficients ``coef``.

    Logit z_ki is a sum of terms coef_kj x_ji whose magnitudes add up to at most
    ||coef_k|| ||x_i|| (``row_norms`` are the ||x_i||: Gram columns in the dual
    form, feature rows in the primal), so float rounding moves column i of the
    logits by ||δz_i|| <= eps ||coef||_F ||x_i||;
    where these sums cancel to small logits (rank-deficient Φ at tiny λ: |A| ~
    1/(Nλ) while |Z| ~ 1) this is far above eps |z|. Through the softmax Jacobian
    (||S_i|| <= 2 max_k p_ki(1 − p_ki)) column i of P − Q moves by g_i ||δz_i||,
    and the gradient (P − Q) F / N by (1/N) sqrt(Σ_i (g_i ||δz_i|| ||f_i||)²),
    the root-sum-square of independent per-instance errors (||f_i|| is
    ``feature_norms``). Relative to the residual's denominator this is the
    smallest residual the computing precision can resolve.
    """
    eps = float(xp.finfo(probs.dtype).eps)
    logit_err = eps * math.sqrt(_vdot(xp, coef, coef)) * row_norms        # ||δz_i||, (N,)
    gain = 2.0 * xp.max(probs * (1.0 - probs), axis=0)                    # ||S_i|| bound
    per_instance = gain * logit_err * feature_norms
    grad_err = math.sqrt(_vdot(xp, per_instance, per_instance)) / probs.shape[1]
    floor = grad_err / max(denominator, 1e-300)
    # a floor of order 1 means the denominator itself is lost in round-off: the
    # relative residual then has no scale, and no floor is claimed
    return floor if floor < 0.5 else 0.0


# ---------------------------------------------------------------------------
# dual form: unknowns A (K, N), logits Z = A Φ


@dataclass(frozen=True)
class _Dual:
    xp: Any
    gram: Any
    targets: Any
    lam: float
    norms: Any         # (column norms of Φ, sqrt(diag Φ)) for _residual_floor
    form: str = "dual"

    @classmethod
    def build(cls, gram, targets, lam):
        gram = _checks.gram_matrix("gram", gram)
        targets = _checks.prob_columns("targets", targets)
        if targets.shape[1] != gram.shape[0]:
            raise ValueError(f"targets must have N = {gram.shape[0]} columns "
                             f"(one per row of gram), got shape {targets.shape}")
        xp = namespace(gram)
        norms = (xp.sqrt(xp.sum(gram * gram, axis=0)),
                 xp.sqrt(xp.clip(xp.linalg.diagonal(gram), 0.0, None)))
        return cls(xp, gram, targets, lam, norms)

    def zero(self):
        return self.xp.zeros_like(self.targets)

    def check_init(self, init):
        init = _checks.finite_array("init", init, ndim=2)
        if init.shape != self.targets.shape:
            raise ValueError(f"init must have shape {self.targets.shape}, got {init.shape}")
        # the optimum has zero column sums; centring keeps every iterate there
        return init - init.mean(axis=0, keepdims=True)

    def logits(self, coef):
        return self.times_gram(coef)

    def times_gram(self, x):
        """x Φ for x (K, N), computed as (Φ xᵀ)ᵀ: BLAS is several times faster
        with the N×N operand on the left when K is small."""
        return (self.gram @ x.T).T

    def objective(self, coef, logits):
        """(f, P) at coefficients A with logits Z = A Φ."""
        value, probs = _cross_entropy_and_softmax(self.xp, logits, self.targets)
        return value + 0.5 * self.lam * _vdot(self.xp, coef, logits), probs

    def evaluate(self, coef, logits, point=None):
        xp, lam, n = self.xp, self.lam, self.targets.shape[1]
        value, probs = self.objective(coef, logits) if point is None else point
        kernel_grad = (probs - self.targets) / n + lam * coef   # R; ∇_W f = R F
        grad = self.times_gram(kernel_grad)                     # ∇_A f = R Φ
        data = (probs - self.targets) / n
        data_norm = math.sqrt(max(_vdot(xp, data, grad - lam * logits), 0.0))
        reg_norm = lam * math.sqrt(max(_vdot(xp, coef, logits), 0.0))
        residual = _relative_residual(math.sqrt(max(_vdot(xp, kernel_grad, grad), 0.0)),
                                      data_norm, reg_norm)
        floor = _residual_floor(xp, coef, probs, *self.norms, data_norm + reg_norm)
        return _State(coef, logits, probs, grad, -kernel_grad, value, residual, floor)

    def direction(self, state, rtol, plain_first=None):
        """Newton step dA from S(dA Φ)/N + λ dA = −R, symmetrised with S^{1/2}.

        With L_i = S_i^{1/2} and w = L(dA Φ), the system becomes the symmetric
        PD one λ w + L((L w) Φ)/N = −L(R Φ), solved by CG; then
        dA = −(R + L w / N) / λ and dA Φ = −(R Φ + (L w) Φ / N) / λ, whose
        last term CG accumulates along. CG starts with the exact per-instance
        blocks λ + Φ_ii S_i / N as preconditioner (excellent for block Grams:
        diagonal plus low rank) and falls back to plain CG, which wins when Φ is
        (near) low rank and its diagonal overstates the operator. Once plain CG
        was needed, the returned hint makes it the first choice for the rest of
        the fit.
        """
        xp, lam, n = self.xp, self.lam, self.targets.shape[1]
        root, prec = _jacobian_root_and_prec(xp, state.probs, xp.linalg.diagonal(self.gram) / n, lam)

        def apply_op(w):
            image = self.times_gram(_blockwise(root, w))       # (L w) Φ
            return lam * w + _blockwise(root, image) / n, image

        rhs = -_blockwise(root, state.grad)
        # the Newton equation's residual is L r / (Nλ) for a CG residual r
        atol = rtol * n * lam * math.sqrt(_vdot(xp, state.descent, state.descent))
        start, done = None, False
        if not plain_first:
            w, image, done, start = _pcg(xp, apply_op, lambda r: _blockwise(prec, r), rhs,
                                         atol, _JACOBI_STEPS)
        if not done:
            w, image, _, _ = _pcg(xp, apply_op, lambda r: r, rhs, atol, 50 + 2 * n, start)
        if image is None:   # the right-hand side is below atol: w = 0 solves it
            image = xp.zeros_like(rhs)
        d_coef = (state.descent - _blockwise(root, w) / n) / lam
        return d_coef, -(state.grad + image / n) / lam, not done


#: CG steps with the block-Jacobi preconditioner before switching to plain CG.
_JACOBI_STEPS = 40


def _blockwise(mats, x):
    """Apply per-instance K×K matrices ``mats`` (N, K, K) to the columns of x (K, N)."""
    return (mats @ x.T[:, :, None])[:, :, 0].T


def _jacobian_root_and_prec(xp, probs, gram_diag_over_n, lam):
    """S_i^{1/2} and (λ + Φ_ii S_i / N)^{-1} for every instance, from one batched eigh."""
    k = probs.shape[0]
    pt = probs.T
    jac = xp.eye(k, dtype=probs.dtype) * pt[:, None, :] - pt[:, :, None] * pt[:, None, :]
    sigma, vecs = xp.linalg.eigh(jac)
    sigma = xp.clip(sigma, 0.0, None)   # S_i is PSD: negative values are round-off
    root = (vecs * xp.sqrt(sigma)[:, None, :]) @ xp.matrix_transpose(vecs)
    inv = 1.0 / (lam + gram_diag_over_n[:, None] * sigma)
    prec = (vecs * inv[:, None, :]) @ xp.matrix_transpose(vecs)
    return root, prec


# ---------------------------------------------------------------------------
# primal form: unknowns W (K, D), logits Z = W Fᵀ


@dataclass(frozen=True)
class _Primal:
    xp: Any
    features: Any      # _Rows (in memory) or _RowChunks (a Dask array, row chunk by chunk)
    targets: Any
    lam: float
    basis: Any         # _Basis: eigenpairs of FᵀF/N, shared by every fit on these features
    form: str = "primal"

    @classmethod
    def build(cls, features, targets, lam):
        if getattr(features, "ndim", None) != 2:
            raise ValueError("features must be 2-dimensional (N, D), got shape "
                             f"{getattr(features, 'shape', None)}")
        if is_dask_array(features):
            rows = _RowChunks.build(features)
            xp = namespace(targets)
            targets = xp.asarray(targets, dtype=rows.dtype)
        else:
            xp = namespace(features, targets)
            dtype = float_dtype(xp, features)
            rows = _Rows(xp, xp.astype(features, dtype))
            targets = xp.astype(targets, dtype)
        _check_primal_inputs(xp, rows, targets)
        _check_lam_range(xp, lam, rows.dtype)
        return cls(xp, rows, targets, lam, _Basis.build(xp, rows, targets.shape[0]))

    def zero(self):
        return self.xp.zeros((self.targets.shape[0], self.features.shape[1]),
                             dtype=self.targets.dtype)

    def check_init(self, init):
        xp = self.xp
        shape = (self.targets.shape[0], self.features.shape[1])
        init = xp.asarray(init, dtype=self.targets.dtype)
        if tuple(init.shape) != shape:
            raise ValueError(f"init must have shape {shape}, got {tuple(init.shape)}")
        if not bool(xp.all(xp.isfinite(init))):
            raise ValueError("init contains NaN or inf")
        return init

    def logits(self, coef):
        return self.features.logits(coef)

    def objective(self, coef, logits):
        """(f, P) at coefficients W with logits Z = W Fᵀ."""
        value, probs = _cross_entropy_and_softmax(self.xp, logits, self.targets)
        return value + 0.5 * self.lam * _vdot(self.xp, coef, coef), probs

    def evaluate(self, coef, logits, point=None):
        xp, lam, n = self.xp, self.lam, self.targets.shape[1]
        value, probs = self.objective(coef, logits) if point is None else point
        data = self.features.pull(probs - self.targets) / n
        grad = data + lam * coef
        data_norm = math.sqrt(_vdot(xp, data, data))
        reg_norm = lam * math.sqrt(_vdot(xp, coef, coef))
        residual = _relative_residual(math.sqrt(_vdot(xp, grad, grad)), data_norm, reg_norm)
        norms = self.basis.row_norms
        floor = _residual_floor(xp, coef, probs, norms, norms, data_norm + reg_norm)
        return _State(coef, logits, probs, grad, -grad, value, residual, floor)

    def direction(self, state, rtol, hint=None):
        """Newton step from (1/N) S(dW Fᵀ) F + λ dW = −∇f by preconditioned CG.

        The Hessian (1/N) Σ_i S_i ⊗ f_i f_iᵀ + λI is preconditioned by a
        two-level Kronecker approximation (:meth:`_Basis.inverse`): on the top-r
        eigenvectors of C = FᵀF/N it keeps which instances carry which class
        coupling (Σ_c M_c ⊗ G_c over the instances grouped by their argmax class),
        on the rest it is M ⊗ C + λI with M = (1/N) Σ_i S_i (K×K, the class
        coupling at the current probabilities); both are rebuilt every Newton
        step, C's eigenpairs are computed once per problem and shared by every
        distillation round. It is exact when all S_i are equal (uniform P: the
        cold start) and keeps the coupling between classes that confident or
        two-way-split outputs (PLL targets) create, and, in the top directions of
        C, where in feature space each coupling lives.
        The top-r block costs about one Hessian-vector product to build, so a fit
        starts with the plain M ⊗ C + λI and switches to the two-level form (for
        the rest of the fit, through ``hint``) once a CG solve needed more than
        :data:`_PLAIN_CG_STEPS` products.
        CG stops at the relative accuracy ``rtol`` (see :func:`_forcing`), or
        once the step moves some logit by more than :data:`_LOGIT_REACH`.
        """
        xp, lam, n = self.xp, self.lam, self.targets.shape[1]
        probs = state.probs

        passes = []

        def apply_op(v):
            passes.append(None)
            image, pulled = self.features.hessian_pass(v, probs)
            return pulled / n + lam * v, image

        apply_prec = self.basis.inverse(xp, probs, lam, two_level=bool(hint))
        atol = rtol * math.sqrt(_vdot(xp, state.grad, state.grad))
        d_coef, d_logits, _, _ = _pcg(xp, apply_op, apply_prec, -state.grad, atol, 500,
                                      reach=_LOGIT_REACH)
        hint = bool(hint) or len(passes) > _PLAIN_CG_STEPS
        return (state.descent, None, hint) if d_logits is None else (d_coef, d_logits, hint)


#: Trust region of a primal Newton step: CG stops once the step moves some logit
#: by more than this (probability ratios e^20). Far from the optimum (confident,
#: separable classes) it saves the CG steps spent on steps the line search would
#: cut; near it steps are small and it never acts.
_LOGIT_REACH = 20.0

#: Hessian-vector products one CG solve may take with the plain Kronecker
#: preconditioner before the fit switches to the two-level one.
_PLAIN_CG_STEPS = 4


@dataclass(frozen=True)
class _Rows:
    """Features F (N, D) held in memory: each pass is one or two GEMMs."""

    xp: Any
    data: Any

    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    def logits(self, coef):
        return coef @ self.data.T

    def pull(self, rows):
        """R F for R (K, N)."""
        return rows @ self.data

    def hessian_pass(self, v, probs):
        """(Z, S(Z) F) with Z = v Fᵀ for v (K, D), S the softmax Jacobian at ``probs``."""
        image = v @ self.data.T
        return image, _jacobian_apply(self.xp, probs, image) @ self.data

    def second_moment(self):
        """(FᵀF/N, D×D; the row norms ||f_i||, (N,))."""
        norms = self.xp.sqrt(self.xp.sum(self.data * self.data, axis=1))
        return self.data.T @ self.data / self.data.shape[0], norms

    def all_finite(self):
        return bool(self.xp.all(self.xp.isfinite(self.data)))


@dataclass(frozen=True)
class _RowChunks:
    """Features F given as a Dask array, read one row chunk at a time.

    Every pass computes the chunks in turn (a lazy Dask array is recomputed,
    e.g. regenerated, on every pass) and reduces over them, so memory holds
    one chunk plus the K×N arrays (logits, outputs) a fit returns anyway.
    """

    data: Any
    spans: tuple       # (start, stop) rows of each chunk
    dtype: Any

    @classmethod
    def build(cls, data):
        if len(data.chunks[1]) != 1:
            data = data.rechunk({1: -1})   # whole rows per chunk
        stops = np.cumsum(data.chunks[0])
        spans = tuple(zip((0, *stops[:-1].tolist()), stops.tolist()))
        dtype = np.float32 if data.dtype in (np.float16, np.float32) else np.float64
        return cls(data.astype(dtype), spans, dtype)

    @property
    def shape(self):
        return tuple(self.data.shape)

    def _chunks(self):
        for i, (start, stop) in enumerate(self.spans):
            yield slice(start, stop), np.asarray(self.data.blocks[i, 0].compute())

    def logits(self, coef):
        out = np.empty((coef.shape[0], self.shape[0]), dtype=self.dtype)
        for rows, block in self._chunks():
            out[:, rows] = coef @ block.T
        return out

    def pull(self, rows_k):
        out = 0
        for rows, block in self._chunks():
            out = out + rows_k[:, rows] @ block
        return out

    def hessian_pass(self, v, probs):
        image = np.empty((v.shape[0], self.shape[0]), dtype=self.dtype)
        out = 0
        for rows, block in self._chunks():
            image[:, rows] = v @ block.T
            out = out + _jacobian_apply(np, probs[:, rows], image[:, rows]) @ block
        return image, out

    def second_moment(self):
        """(FᵀF/N, the row norms ||f_i||) in one pass; raises ValueError on NaN/inf,
        so the check costs no pass of its own."""
        out, norms = 0, np.empty(self.shape[0], dtype=self.dtype)
        for rows, block in self._chunks():
            if not np.isfinite(block).all():
                raise ValueError("features contains NaN or inf")
            out = out + block.T @ block
            norms[rows] = np.sqrt(np.sum(block * block, axis=1))
        return out / self.shape[0], norms

    def all_finite(self):
        """Deferred to :meth:`second_moment`, the pass that builds the preconditioner."""
        return True


@dataclass(frozen=True)
class _Basis:
    """Eigenpairs (e, V) of C = FᵀF/N: the feature half of the preconditioner; the
    projections g_i = U_rᵀ f_i (r, N) of the rows on its top-r eigenvectors U_r;
    and the row norms ||f_i|| (for :func:`_residual_floor`)."""

    evals: Any
    evecs: Any
    row_norms: Any
    top: Any           # (r, N): U_rᵀ Fᵀ, U_r the last r columns of evecs

    @classmethod
    def build(cls, xp, rows, n_classes):
        moment, row_norms = rows.second_moment()
        evals, evecs = xp.linalg.eigh(moment)
        d = evals.shape[0]
        rank = _subspace_rank(n_classes, rows.shape[0], d)
        if isinstance(rows, _RowChunks):   # out of core: g no larger than the K×N outputs
            rank = min(rank, n_classes)
        # C is PSD: negative eigenvalues are round-off
        return cls(xp.clip(evals, 0.0, None), evecs, xp.asarray(row_norms),
                   xp.asarray(rows.logits(xp.matrix_transpose(evecs[:, d - rank:]))))

    def inverse(self, xp, probs, lam, two_level=True):
        """r ↦ A⁻¹ r for the two-level approximation A of the Hessian at ``probs``
        (``two_level=False``: for the plain Kronecker form (M ⊗ C + λI)⁻¹).

        With S_i = diag(p_i) − p_i p_iᵀ, M = (1/N) Σ_i S_i and, for the groups c of
        instances sharing an argmax class, M_c = (1/N) Σ_{i∈c} S_i and
        G_c = (1/N_c) Σ_{i∈c} g_i g_iᵀ (r×r):

            A = (I ⊗ U_r)(Σ_c M_c ⊗ G_c)(I ⊗ U_r)ᵀ + M ⊗ V_⊥E_⊥V_⊥ᵀ + λI,

        block diagonal in the eigenbasis V = [V_⊥, U_r] of C: the K·r block is one
        Cholesky (:func:`_spd_solver`), the rest two small basis changes as in the
        plain Kronecker form (M ⊗ C + λI)⁻¹. At equal S_i (uniform P) both blocks
        are exact (Σ_c (N_c/N) G_c = diag of C on U_r).
        """
        k, n = probs.shape
        d, rank = self.evals.shape[0], self.top.shape[0]
        coupling = (xp.eye(k, dtype=probs.dtype) * xp.mean(probs, axis=1)[:, None]
                    - probs @ probs.T / n)
        m, u = xp.linalg.eigh(coupling)
        v = self.evecs
        if not two_level:
            inv = 1.0 / (xp.clip(m, 0.0, None)[:, None] * self.evals[None, :] + lam)
            return lambda r: u @ (((u.T @ r @ v) * inv) @ xp.matrix_transpose(v))
        inv = 1.0 / (xp.clip(m, 0.0, None)[:, None] * self.evals[None, :d - rank] + lam)
        solve = _spd_solver(xp, _subspace_matrix(xp, probs, self.top, lam))

        def apply(r):
            y = r @ v
            rest = u @ ((u.T @ y[:, :d - rank]) * inv)
            top = xp.reshape(solve(xp.reshape(y[:, d - rank:], (k * rank,))), (k, rank))
            return xp.concat([rest, xp.astype(top, r.dtype)], axis=1) @ xp.matrix_transpose(v)

        return apply


#: Largest size K·r of the dense block of the two-level preconditioner.
_SUBSPACE_SIZE = 600


def _subspace_rank(n_classes, n_samples, d):
    """r = min(D, 4K, s // K), at least 1, with s = min(600, (6 K N D)^(1/3)): the
    Cholesky of the K·r block, (K·r)³/3 flops per Newton step, then costs at most one
    Hessian-vector product (2 K N D flops), and at most 600³/3 on large sets."""
    size = min(_SUBSPACE_SIZE, int((6.0 * n_classes * n_samples * d) ** (1 / 3)))
    return max(1, min(d, 4 * n_classes, size // n_classes))


def _subspace_matrix(xp, probs, top, lam):
    """Σ_c M_c ⊗ G_c + λI (K·r × K·r, float64), groups c by argmax class (see
    :meth:`_Basis.inverse`); rows and columns in the row-major order of (K, r)."""
    k, n = probs.shape
    rank = top.shape[0]
    groups = _coupling_groups(xp, probs)
    order = xp.argsort(groups)
    counts = [int(c) for c in xp.unique_counts(groups)[1]]
    # sums over instances in the data's dtype (no float64 copy of (K + r, N) arrays);
    # the small per-group results are combined in float64
    p_sorted, g_sorted = xp.take(probs, order, axis=1), xp.take(top, order, axis=1)
    moments, couplings, start = [], [], 0
    for count in counts:
        p, g = p_sorted[:, start:start + count], g_sorted[:, start:start + count]
        couplings.append(xp.astype(xp.eye(k, dtype=p.dtype) * xp.sum(p, axis=1)[:, None]
                                   - p @ p.T, xp.float64) / n)
        moments.append(xp.astype(g @ g.T, xp.float64) / count)
        start += count
    outer = (xp.reshape(xp.stack(couplings), (len(couplings), k * k)).T
             @ xp.reshape(xp.stack(moments), (len(moments), rank * rank)))
    block = xp.reshape(xp.permute_dims(xp.reshape(outer, (k, k, rank, rank)), (0, 2, 1, 3)),
                       (k * rank, k * rank))
    # a preconditioner need not be exact: a relative shift of float64's order keeps
    # the Cholesky of this PSD + λI matrix clear of round-off at tiny λ
    shift = lam + 1e-13 * float(xp.max(xp.linalg.diagonal(block)))
    return block + shift * xp.eye(k * rank, dtype=xp.float64)


def _coupling_groups(xp, probs):
    """The group of each instance in :func:`_subspace_matrix`: its argmax class, (N,).
    (Groups by the top-2 pair, which matches two-way split outputs better, were
    measured and did not pay: ``bench/pll_precond.py``.)"""
    return xp.argmax(probs, axis=0)


def _spd_solver(xp, a):
    """b ↦ a⁻¹ b for a symmetric PD matrix: LAPACK's Cholesky (potrf/potrs) for NumPy,
    an explicit inverse in other namespaces (the array API has no triangular solve)."""
    if is_numpy_namespace(xp):
        from scipy.linalg import lapack

        factor, info = lapack.dpotrf(a)
        if info == 0:
            return lambda b: lapack.dpotrs(factor, b)[0]
    inverse = xp.linalg.inv(a)
    return lambda b: inverse @ xp.astype(b, a.dtype)


def _jacobian_apply(xp, probs, x):
    """Apply the softmax Jacobian S_i = diag(p_i) − p_i p_iᵀ column by column."""
    px = probs * x
    return px - probs * xp.sum(px, axis=0, keepdims=True)


def _check_lam_range(xp, lam, dtype):
    """λ must be a number of the computing dtype (float32 ends at 3.4e38): beyond it
    λW overflows to inf and the fit can only return NaN."""
    top = float(xp.finfo(dtype).max)
    if lam > top:
        raise ValueError(f"lam={lam!r} exceeds the largest float of the features' dtype "
                         f"{dtype} ({top:.3g}); pass float64 features for such a lam")


def _check_primal_inputs(xp, rows, targets):
    n = rows.shape[0]
    if targets.ndim != 2 or targets.shape[1] != n:
        raise ValueError(f"targets must have shape (K, N={n}), got {targets.shape}")
    if targets.shape[0] < 2:
        raise ValueError(f"targets must have K >= 2 rows, got shape {targets.shape}")
    if not rows.all_finite():
        raise ValueError("features contains NaN or inf")
    if not bool(xp.all(xp.isfinite(targets))) or bool(xp.any(targets < 0)):
        raise ValueError("targets must be finite and non-negative")
    if float(xp.max(xp.abs(xp.sum(targets, axis=0) - 1))) > 1e-6:
        raise ValueError("targets columns must sum to 1")
