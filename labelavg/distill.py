"""Multi-round self-distillation, its linearised closed form, and the PLL student.

Symbols: K ``n_classes``, N ``n_samples``, λ ``lam``, t the fit number
(t = 1 teacher, t ≥ 2 students; ``rounds`` fits in all), Φ ``gram`` (N, N),
F ``features`` (N, D), Y⁽ᵗ⁾ the outputs (K, N) of fit t, Y⁽⁰⁾ the one-hot given
labels, u = 1/K, G = Φ(Φ + KNλI)⁻¹.

Fit t is trained on Q = Y⁽ᵗ⁻¹⁾. The PLL student is one extra fit on the
teacher's partial labels: Q_i uniform over the top-k classes of Y⁽¹⁾_i
(k = min(2, K − 1) by default: the paper's top-2 sets, the top-1 prediction
when K = 2).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from . import _checks
from ._xp import to_numpy
from .fixed_point import _Dual, _Primal, _newton, _vdot, warn_unconverged
from .gram import Spectrum, round_filter, spectrum
from .pll import check_loss, fit_partial

__all__ = ["Accuracy", "DistillPath", "distill", "linear_path", "pll_targets",
           "correct_predictions", "judge_predictions", "rounding_error", "TIES"]

#: Tie rules for the k-th place of the PLL targets, see :func:`pll_targets`.
TIES = ("split", "all", "index")

#: Units in the last place a computed score is trusted to (rounding only).
_ULPS = 8


@dataclass(frozen=True)
class Accuracy:
    """Label-correction accuracy: argmax of training outputs vs true labels.

    ``clean`` covers instances whose given label is their true class, ``noisy``
    the others; a fraction in [0, 1], NaN when the set is empty.
    """

    all: float
    clean: float
    noisy: float


@dataclass(frozen=True)
class DistillPath:
    """Outputs of every fit of multi-round self-distillation and of the PLL student.

    Attributes
    ----------
    probs : ndarray (rounds, K, N)
        ``probs[t - 1]`` is Y⁽ᵗ⁾; ``probs[0]`` is the teacher.
    pll_targets, pll_probs : ndarray (K, N) or None
        The PLL student's targets (from the teacher) and outputs; None when
        ``pll_topk=None`` skipped the student.
    method : str
        ``"exact"`` (softmax fits) or ``"linear"`` (Result 1).
    lam : float
    fits : tuple of FitResult
        One per round, then the PLL fit (if any); empty for ``method="linear"``.
    accuracy : tuple of Accuracy or None
        Label-correction accuracy per round, when ``true_labels`` was given.
    pll_accuracy : Accuracy or None
        None without ``true_labels`` or without a PLL student.
    """

    probs: np.ndarray
    pll_targets: np.ndarray
    pll_probs: np.ndarray
    method: str
    lam: float
    fits: tuple
    accuracy: tuple | None
    pll_accuracy: Accuracy | None

    @property
    def rounds(self):
        """Number of fits t = 1..rounds."""
        return self.probs.shape[0]

    def __repr__(self):
        from ._repr import accuracies, short_repr

        fields = dict(method=self.method, rounds=self.rounds, lam=self.lam,
                      probs=self.probs)
        if self.fits:
            fields.update(converged=all(f.converged for f in self.fits),
                          residual=max(f.residual for f in self.fits))
        text = short_repr(self, **fields)
        if self.accuracy is not None:
            text = f"{text[:-1]}, accuracy=[{accuracies(a.all for a in self.accuracy)}])"
        if self.pll_accuracy is not None:
            text = f"{text[:-1]}, pll_accuracy={accuracies([self.pll_accuracy.all])})"
        return text


def distill(gram, labels, lam, rounds, *, method="exact", pll_topk="auto", ties="split",
            pll_loss="two_hot", pll_q=0.7, true_labels=None, n_classes=None, features=None,
            tol=1e-10, max_iter=100):
    """Run ``rounds`` fits of self-distillation and the PLL student.

    Parameters
    ----------
    gram : array (N, N) or None
        Gram matrix Φ; may be None when ``features`` is given.
    labels : int array (N,)
        Given (possibly noisy) labels in 0..K-1.
    lam : float
        Ridge strength λ > 0.
    rounds : int
        Number of fits (>= 1); fit 1 is the teacher.
    method : {"exact", "linear"}
        Exact softmax fits (Newton, each warm-started from the previous round's
        coefficients) or the linearised closed form (:func:`linear_path`).
    pll_topk : "auto", int or None
        k of the PLL targets, 1 <= k <= K-1. ``"auto"`` (default): min(2, K − 1),
        the paper's top-2 sets, and for K = 2 the teacher's top-1 prediction
        (a top-2 set would hold both classes). None skips the PLL student.
    ties : {"split", "all", "index"}
        Tie rule at the k-th place, see :func:`pll_targets`.
    pll_loss : {"two_hot", "gce", "partial_ll"}
        Loss of the PLL student (:mod:`labelavg.pll`): soft cross-entropy to the
        targets (convex, the theory's), or the non-convex generalised
        cross-entropy on each candidate (the authors' experiments) or −log
        Σ_candidates p, fitted from the teacher's coefficients by
        :func:`labelavg.pll.fit_partial` (primal, on F, or on F = V √μ from Φ's
        eigenpairs when only Φ is given). Non-convex losses need ``method="exact"``.
    pll_q : float
        ρ of ``"gce"`` (0 < ρ <= 1; 0.7 as the authors).
    true_labels : int array (N,), optional
        Enables label-correction accuracy per round.
    n_classes : int, optional
        K; ``labels`` and ``true_labels`` must lie in 0..K-1. Default: the largest
        label + 1, provided every class 0..K-1 occurs in ``labels`` or
        ``true_labels`` and, with ``true_labels``, no given label exceeds the
        largest true one (otherwise pass ``n_classes``: a class nobody belongs to
        is more often a mistake than an intention).
    features : array (N, D), optional
        Feature rows F; the primal solver (or thin SVD for ``"linear"``) is used.
    tol, max_iter :
        Passed to every exact fit (see :func:`labelavg.fit_probs`).

    Returns
    -------
    DistillPath

    Examples
    --------
    >>> import numpy as np
    >>> from labelavg.gram import block_gram, block_labels
    >>> true = block_labels(3, 4)
    >>> given = true.copy(); given[0] = 1
    >>> path = distill(block_gram(3, 4, 0.5, 0.1), given, 3e-2, 3, true_labels=true)
    >>> [round(a.noisy, 2) for a in path.accuracy]
    [0.0, 1.0, 1.0]
    """
    lam = _checks.positive_scalar("lam", lam)
    rounds = _checks.integer_at_least("rounds", rounds, 1)
    _checks.choice("method", method, {"exact", "linear"})
    _checks.choice("ties", ties, set(TIES))
    pll_q = check_loss(pll_loss, pll_q)
    if pll_loss != "two_hot" and method != "exact":
        raise ValueError(f"pll_loss={pll_loss!r} needs method='exact', got {method!r}")
    source, n_samples = _source(gram, features)
    n_classes = _n_classes(labels, true_labels, n_classes)
    labels = _checks.labels("labels", labels, n_classes, n_samples)
    if true_labels is not None:
        true_labels = _checks.labels("true_labels", true_labels, n_classes, n_samples)
    pll_topk = _checks.pll_topk(pll_topk, n_classes)
    onehot = np.eye(n_classes)[labels].T
    if method == "linear":
        return _distill_linear(source, onehot, lam, rounds, pll_topk, ties, true_labels)
    return _distill_exact(source, onehot, lam, rounds, (pll_topk, ties, pll_loss, pll_q),
                          true_labels, tol, max_iter)


def _source(gram, features):
    if features is not None:
        features = _checks.finite_array("features", features, ndim=2)
        return ("features", features), features.shape[0]
    if gram is None:
        raise ValueError("gram may be None only when features are given")
    gram = _checks.gram_matrix("gram", gram)
    return ("gram", gram), gram.shape[0]


def _n_classes(labels, true_labels, n_classes):
    """K: ``n_classes`` if given, else inferred from labels that leave no class empty."""
    if n_classes is not None:
        return _checks.integer_at_least("n_classes", n_classes, 2)
    seen = {name: np.asarray(x) for name, x in (("labels", labels), ("true_labels", true_labels))
            if x is not None}
    seen = {name: x for name, x in seen.items() if x.size and x.dtype.kind in "iu"}
    top = max((int(x.max()) for x in seen.values()), default=1)
    if "true_labels" in seen and top > int(seen["true_labels"].max()):
        raise ValueError(f"labels hold class {top} but true_labels stop at "
                         f"{int(seen['true_labels'].max())}; pass n_classes=K "
                         f"(labels must lie in 0..K-1)")
    present = np.zeros(max(top + 1, 2), dtype=bool)
    for x in seen.values():
        present[x[x >= 0]] = True
    if seen and min(int(x.min()) for x in seen.values()) >= 0 and not present.all():
        raise ValueError(f"labels skip class {int(np.flatnonzero(~present)[0])} of the "
                         f"0..{top} their largest value implies; pass n_classes=K "
                         f"(labels must lie in 0..K-1)")
    return max(top + 1, 2)


def _distill_exact(source, onehot, lam, rounds, pll, true, tol, max_iter):
    kind, data = source
    # validate and factor once; later fits only swap the targets
    problem = (_Primal if kind == "features" else _Dual).build(data, onehot, lam)

    def fit(targets, init):
        return _newton(replace(problem, targets=targets), init, tol, max_iter)

    fits, errors, targets, init, carry = [], [], onehot, None, _ChainError.start()
    for _ in range(rounds):
        result = fit(targets, init)
        error, carry = carry.next(replace(problem, targets=targets), result)
        fits.append(result)
        errors.append(error)
        targets, init = result.probs, result.coef
    pll_topk, ties, pll_loss, pll_q = pll
    probs = np.stack([f.probs for f in fits])
    q_pll = pll_probs = None
    if pll_topk is not None:
        q_pll = pll_targets(fits[0].probs, pll_topk, ties, tie_tol=errors[0])
        if pll_loss == "two_hot":
            pll_fit = fit(q_pll, fits[0].coef)
            errors.append(_ChainError.start().next(replace(problem, targets=q_pll), pll_fit)[0])
        else:
            pll_fit = _fit_pll_partial(kind, data, fits[0], q_pll, problem.lam, pll_loss,
                                       pll_q, tol, max_iter)
            errors.append(_stationary_error(pll_fit))
        fits.append(pll_fit)
        pll_probs = pll_fit.probs
    warn_unconverged(fits, tol, "distill")
    return _path(probs, q_pll, pll_probs, "exact", problem.lam, tuple(fits), onehot, true,
                 errors)


def _fit_pll_partial(kind, data, teacher, q_pll, lam, loss, q, tol, max_iter):
    """Non-convex PLL fit from the teacher's W (on F = V √μ when only Φ is given)."""
    if kind == "features":
        features, init = data, teacher.coef
    else:
        evals, evecs = np.linalg.eigh(data)
        # Φ is PSD: eigenvalues below 0 are round-off, clipped so that F Fᵀ = Φ
        features = evecs * np.sqrt(np.clip(evals, 0.0, None))
        init = teacher.coef @ features          # W = A F
    return fit_partial(features, q_pll, lam, loss, q=q, init=init, tol=tol, max_iter=max_iter)


def _stationary_error(fit):
    """Error estimate of a non-convex fit's probabilities: 10× its residual, at least rounding.

    An estimate, not a bound: a non-convex loss has no unique exact solution to
    bound against (the fit is a stationary point reached from the teacher).
    """
    return np.maximum(10.0 * fit.residual, rounding_error(fit.probs))


@dataclass(frozen=True)
class _ChainError:
    """Error bound of the rounds' outputs against the exact chain of fixed points.

    theory/THEORY.md, "The float64 error bound" (general Gram matrix): with
    g_t the gradient norm ‖∇f_t(W_t)‖ of round t's computed solution (its
    final residual, unscaled) and ρ the rounding of the stored outputs,
    γ_t = g_t + ‖(ρ_t + ρ_{t−1}) F‖/N + u_{t−1} bounds the round's gradient
    against the exact targets plus the propagated error, and
    u_t = x/(1 + x) γ_t with x = h tr Φ / (Nλ) the part carried to round t + 1.
    By λ-strong convexity |δz_i| ≤ sqrt(Φ_ii) γ_t / λ, and every output of
    instance i is within ρ_i + h_i |δz_i| of the exact one.
    """

    carried: float   # u_{t−1}
    rho: Any         # (N,) rounding of the previous outputs (the targets), or 0

    @classmethod
    def start(cls):
        return cls(0.0, 0.0)

    def next(self, problem, fit):
        """Per-instance bound (N,) of this fit's outputs, and the state for the next round."""
        xp, n = problem.xp, problem.targets.shape[1]
        probs = np.asarray(to_numpy(fit.probs), dtype=float)
        eps = float(np.finfo(to_numpy(fit.probs).dtype).eps)
        logit_norms, diag_root, terms = _logit_geometry(problem)
        trace = float(np.sum(diag_root ** 2))
        coef_norm = math.sqrt(_vdot(xp, fit.coef, fit.coef))
        rho = 0.5 * terms * eps * coef_norm * logit_norms + 4 * (probs.shape[0] + 2) * eps
        state = problem.evaluate(fit.coef, problem.logits(fit.coef))
        grad = math.sqrt(max(-_vdot(xp, state.descent, state.grad), 0.0))
        # rounding of the gradient's own evaluation (dot products of length N or D)
        grad += terms * eps * (math.sqrt(_vdot(xp, state.descent, state.descent))
                               * math.sqrt(trace) + grad)
        k = probs.shape[0]
        noise = (np.linalg.norm(rho) + np.linalg.norm(self.rho)) * math.sqrt(k * trace) / n
        gamma = (1 + 1e-6) * (grad + noise) + self.carried
        zeta = diag_root * gamma / problem.lam
        h = np.minimum(0.5, probs.max(axis=0) * np.exp(np.minimum(2 * zeta, 700.0)))
        x = float(h.max()) * trace / (n * problem.lam)
        return (1 + 1e-6) * (rho + h * zeta), _ChainError(x / (1 + x) * gamma, rho)


def _logit_geometry(problem):
    """(‖x_i‖ of the logits' dot products, sqrt(Φ_ii), their length) as numpy arrays."""
    if problem.form == "dual":
        cols, diag_root = (np.asarray(to_numpy(v), dtype=float) for v in problem.norms)
        return cols, diag_root, cols.size
    rows = np.asarray(to_numpy(problem.basis.row_norms), dtype=float)
    return rows, rows, problem.features.shape[1]


def _distill_linear(source, onehot, lam, rounds, pll_topk, ties, true):
    kind, data = source
    spec = _thin_spectrum(data) if kind == "features" else spectrum(data)
    probs = linear_path(None, onehot, lam, rounds, spectrum=spec)
    q_pll = pll = None
    if pll_topk is not None:
        q_pll = pll_targets(probs[0], pll_topk, ties)
        pll = linear_path(None, q_pll, lam, 1, spectrum=spec)[0]
    return _path(probs, q_pll, pll, "linear", lam, (), onehot, true)


def _path(probs, q_pll, pll_probs, method, lam, fits, onehot, true, errors=None):
    if true is None:
        return DistillPath(probs, q_pll, pll_probs, method, lam, fits, None, None)
    given = onehot.argmax(axis=0)
    errors = errors or [None] * (probs.shape[0] + 1)
    acc = tuple(_accuracy(p, true, given, e) for p, e in zip(probs, errors))
    pll_acc = None if pll_probs is None else _accuracy(pll_probs, true, given, errors[-1])
    return DistillPath(probs, q_pll, pll_probs, method, lam, fits, acc, pll_acc)


# ---------------------------------------------------------------------------
# linearised closed form (Result 1)


def _thin_spectrum(features):
    """Eigenpairs of Φ = F Fᵀ from the thin SVD of F: μ = s², v = left singular vectors.

    The remaining N − rank eigenvalues are 0 and have g(0) = 0, so they drop out
    of every filtered product.
    """
    left, sing, _ = np.linalg.svd(features, full_matrices=False)
    return Spectrum(sing ** 2, left)


def linear_path(gram, targets, lam, rounds, *, features=None, spectrum=None):
    """Linearised outputs Y⁽ᵗ⁾ for t = 1..rounds from one eigendecomposition.

    Parameters
    ----------
    gram : array (N, N) or None
        Gram matrix Φ (or give ``features`` or a precomputed ``spectrum``).
    targets : array (K, N)
        Y⁽⁰⁾: columns are probability vectors (one-hot labels or soft targets),
        or earlier linearised outputs (columns summing to 1, entries possibly
        outside [0, 1]).
    lam : float
    rounds : int
    features : array (N, D), optional
        Feature rows; their thin SVD replaces the N×N eigendecomposition.
    spectrum : Spectrum, optional
        Eigenpairs of Φ, reused across calls.

    Returns
    -------
    ndarray (rounds, K, N)

    Notes
    -----
    Result 1 of theory/THEORY.md (paper Thm 2.1/3.1): linearising the softmax at the
    uniform point u = 1/K gives Y⁽ᵗ⁾ − u = (Y⁽⁰⁾ − u) Gᵗ with
    G = Φ(Φ + KNλI)⁻¹ = Σ_m g(μ_m) v_m v_mᵀ, g(μ) = μ/(μ + KNλ): every round
    multiplies the weight on eigenvector v_m by g(μ_m).
    """
    lam = _checks.positive_scalar("lam", lam)
    rounds = _checks.integer_at_least("rounds", rounds, 1)
    targets = _checks.prob_columns("targets", targets, nonnegative=False)
    if spectrum is None:
        spectrum = _thin_spectrum(_checks.finite_array("features", features, ndim=2)) \
            if features is not None else globals()["spectrum"](gram)
    n_classes, n_samples = targets.shape
    if spectrum.evecs.shape[0] != n_samples:
        raise ValueError(f"targets must have N = {spectrum.evecs.shape[0]} columns, "
                         f"got shape {targets.shape}")
    coords = (targets - 1.0 / n_classes) @ spectrum.evecs
    filt = round_filter(spectrum.evals, lam, n_samples, n_classes)
    out = [1.0 / n_classes + (coords * filt ** t) @ spectrum.evecs.T
           for t in range(1, rounds + 1)]
    return np.stack(out)


# ---------------------------------------------------------------------------
# PLL targets and accuracy


def pll_targets(probs, k=2, ties="split", tie_tol=None):
    """Partial-label targets: each column uniform over its top-k classes.

    Parameters
    ----------
    probs : array (K, N)
        Teacher outputs Y⁽¹⁾: probabilities, or any finite scores that rank the
        classes (the linearised outputs can leave [0, 1]; deviations p − 1/K
        rank them with full relative precision near uniform).
    k : int
        Size of the partial label set, 1 <= k <= K - 1.
    ties : {"split", "all", "index"}
        What to do when classes tie (within ``tie_tol``) for the k-th place:

        - ``"split"`` (default): classes strictly above the k-th value get 1/k
          each; the classes tied at the k-th value share the remaining mass
          evenly (total mass 1, no class favoured).
        - ``"all"``: uniform over every class at or above the k-th value, so a
          column may spread over more than k classes.
        - ``"index"``: ties broken in favour of the lowest class index (exactly
          k classes, deterministic but biased).
    tie_tol : float or array (N,), optional
        Absolute error bound of the scores (per column): two scores closer
        than this are tied. Default: the rounding error of the scores
        themselves, :func:`rounding_error` (pass a solver's own error bound,
        e.g. from its residual, when the scores come from one).

    Returns
    -------
    ndarray (K, N), columns summing to 1.

    Examples
    --------
    >>> import numpy as np
    >>> pll_targets(np.array([[0.5], [0.25], [0.25]]), 2).ravel().tolist()
    [0.5, 0.25, 0.25]
    >>> pll_targets(np.array([[0.5], [0.25], [0.25]]), 2, ties="index").ravel().tolist()
    [0.5, 0.5, 0.0]
    """
    probs = _checks.finite_array("probs", probs, ndim=2)
    n_classes = probs.shape[0]
    if n_classes < 2:
        raise ValueError(f"probs must have K >= 2 rows (classes), got shape {probs.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < n_classes:
        raise ValueError(f"k must be an integer in 1..{n_classes - 1}, got {k!r}")
    _checks.choice("ties", ties, set(TIES))
    tie_tol = _tolerance("tie_tol", tie_tol, probs)
    kth = -np.sort(-probs, axis=0)[k - 1]
    above = probs > kth + 2 * tie_tol
    tied = ~above & (probs >= kth - 2 * tie_tol)
    if ties == "all":
        members = (above | tied).astype(float)
        return members / members.sum(axis=0)
    free = k - above.sum(axis=0)                 # places left for the tied classes
    if ties == "split":
        return above / k + tied * (free / (k * tied.sum(axis=0)))
    chosen = tied & (np.cumsum(tied, axis=0) <= free)
    return (above | chosen) / k


def rounding_error(scores):
    """Rounding-level error bound of each column of ``scores`` (K, N) -> (N,).

    A few units in the last place of the column's largest magnitude: what
    float64 scores carry when nothing else is known about their error.
    """
    scores = np.asarray(scores, dtype=float)
    return _ULPS * np.finfo(float).eps * np.abs(scores).max(axis=-2)


def _tolerance(name, tol, scores):
    if tol is None:
        return rounding_error(scores)
    tol = np.asarray(tol, dtype=float)
    if np.any(~np.isfinite(tol)) or np.any(tol < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {tol!r}")
    return tol


def judge_predictions(scores, true_labels, error=None):
    """Right / undecided flags of argmax predictions, decided against an error bound.

    Parameters
    ----------
    scores : array (..., K, N)
        Outputs whose argmax is the prediction: probabilities, logits, or
        deviations p − 1/K (the same order, better relative precision).
    true_labels : int array (N,)
    error : float or array broadcastable to (..., N), optional
        Absolute error bound of every score of a column; default the
        rounding error of the scores (:func:`rounding_error`).

    Returns
    -------
    right, undecided : bool arrays (..., N)
        With margin = score[true] − max of the other scores: right iff
        margin > 2·error, undecided iff |margin| ≤ 2·error (float64 cannot
        sign it; an exact tie is undecided too), wrong otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> right, undecided = judge_predictions([[0.5, 0.6, 0.3], [0.5, 0.4, 0.7]], [0, 0, 0])
    >>> right.tolist(), undecided.tolist()
    ([False, True, False], [True, False, False])
    """
    scores = np.asarray(scores, dtype=float)
    true = np.asarray(true_labels)
    cols = np.arange(true.size)
    own = scores[..., true, cols]
    others = scores.copy()
    others[..., true, cols] = -np.inf
    margin = own - others.max(axis=-2)
    bound = 2 * _tolerance("error", error, scores)
    return margin > bound, np.abs(margin) <= bound


def correct_predictions(probs, true_labels, error=None):
    """Boolean (..., N): the true class's output wins by more than the error bound.

    A tie for the largest output, or a margin float64 cannot sign
    (:func:`judge_predictions`), is *not* a correct prediction.
    """
    return judge_predictions(probs, true_labels, error)[0]


def _accuracy(probs, true, given, error=None):
    """Accuracy of each set; NaN when it is empty or holds an undecided instance."""
    right, undecided = judge_predictions(probs, true, error)
    if undecided.any():
        warnings.warn(f"{int(undecided.sum())} instance(s) have margins below their "
                      "error bound: accuracy reported as NaN (undecided)",
                      RuntimeWarning, stacklevel=4)
    clean = true == given
    return Accuracy(*(float(right[m].mean()) if m.any() and not undecided[m].any()
                      else math.nan for m in (np.ones_like(clean), clean, ~clean)))
