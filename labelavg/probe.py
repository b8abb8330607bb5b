"""Self-distillation of a softmax linear probe on real features, on any array backend.

Symbols: K ``n_classes``, N ``n_samples`` (training rows), D feature dimension,
λ ``lam``, t the fit number (t = 1 the teacher, t ≥ 2 the students, ``rounds``
fits in all), F ``X`` (N, D) the feature rows, W (K, D) the coefficients,
Y⁽⁰⁾ (K, N) the one-hot given labels, Y⁽ᵗ⁾ (K, N) the training outputs of fit t,
u = 1/K, η the corruption rate of the labels.

- :class:`SelfDistillation`: scikit-learn style estimator running the teacher,
  students t = 2..rounds and the PLL student (theory/THEORY.md) with the exact primal
  Newton solver (:func:`labelavg.fit_probs` with ``features=``) or the linearised
  closed form (Result 1) through one thin SVD of F.
- :func:`class_correlation`: mean and std of centred, normalised feature cosines
  per class pair (the statistics of the paper's Fig. 1), without the N×N matrix.
- :func:`confusable_classes`: superclasses by complete-linkage clustering of
  1 − mean correlation (the paper's recipe for superclass noise), which feed
  :func:`labelavg.noise.superclass`.

Arrays may come from any array-API namespace (NumPy, CuPy, ``array_api_strict``);
results stay in it. Label bookkeeping (K×N, small) and the PLL targets are done
on the host with NumPy and moved back.
"""

from __future__ import annotations

import inspect
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import array_api_compat.numpy as _np_namespace
import numpy as np
from array_api_compat import device as _device
from array_api_compat import is_array_api_obj, is_dask_array

from . import _checks
from ._xp import float_dtype, namespace, to_numpy
from .fixed_point import default_tol, warn_unconverged
from .distill import TIES, Accuracy, _accuracy, pll_targets
from .fixed_point import _newton, _Primal
from .pll import check_loss, fit_partial

__all__ = [
    "ClassCorrelation",
    "NoiseSweep",
    "RoundRecord",
    "SelfDistillation",
    "class_correlation",
    "confusable_classes",
    "default_tol",
    "noise_sweep",
]

@dataclass(frozen=True)
class RoundRecord:
    """What one fit of :class:`SelfDistillation` did.

    Attributes
    ----------
    round : int or str
        t = 1..rounds, or ``"pll"``.
    train_accuracy : Accuracy or None
        Label-correction accuracy of the training outputs against ``y_true``
        (all / clean / noisy instances); None without ``y_true``.
    test_accuracy : float or None
        Accuracy on ``eval_set``; None without it.
    residual : float
        Final relative gradient norm (0 for the linearised closed form).
    n_iter : int
        Newton steps (0 for the linearised closed form).
    converged : bool
    seconds : float
        Wall time of the fit (the linear method's SVD is counted in t = 1).
    """

    round: Any
    train_accuracy: Accuracy | None
    test_accuracy: float | None
    residual: float
    n_iter: int
    converged: bool
    seconds: float

    @property
    def name(self):
        """``"teacher"``, ``"student t=2"``, ... or ``"PLL"``."""
        if self.round == "pll":
            return "PLL"
        return "teacher" if self.round == 1 else f"student t={self.round}"


class SelfDistillation:
    """Multi-round self-distillation and the PLL student of a softmax linear probe.

    Fit 1 (the teacher) is trained on the one-hot given labels, fit t on the
    outputs Y⁽ᵗ⁻¹⁾ of fit t − 1, each minimising

        (1/N) Σ_i CE(q_i, softmax(W x_i)) + (λ/2) ||W||_F².

    The PLL student is one more fit, on targets uniform over the top-k classes
    of the teacher's outputs. scikit-learn's ``LogisticRegression(
    fit_intercept=False, C=1/(N λ))`` is the teacher on hard labels.

    Parameters
    ----------
    lam : float
        Ridge strength λ > 0 (scikit-learn's C = 1/(N λ)).
    rounds : int
        Number of fits t = 1..rounds (>= 1).
    pll_topk : "auto", int or None
        k of the PLL targets, 1 <= k <= K − 1. ``"auto"`` (default) is
        min(2, K − 1): the paper's top-2 sets, and for two classes the teacher's
        top-1 prediction (``pll_topk_`` holds the k used). None skips the PLL
        student (then ``fit`` runs exactly ``rounds`` fits).
    ties : {"split", "all", "index"}
        Tie rule at the k-th place, see :func:`labelavg.pll_targets`.
    pll_loss : {"two_hot", "gce", "partial_ll"}
        Loss of the PLL student (:mod:`labelavg.pll`): ``"two_hot"`` soft
        cross-entropy to the targets (convex, the theory's); ``"gce"``
        generalised cross-entropy on each candidate (the authors' experiments) or
        ``"partial_ll"`` −log Σ_candidates p (both non-convex: a trust-region
        Newton fit from the teacher's W, host NumPy, ``method="exact"`` only).
    pll_q : float
        ρ of ``"gce"``, 0 < ρ <= 1 (0.7 as the authors).
    method : {"exact", "linear"}
        ``"exact"``: primal Newton-CG fits, each warm-started from the previous
        round's W (the PLL student from the teacher's). ``"linear"``: the
        linearised closed form of Result 1 for all rounds from one thin SVD of F.
    tol : float, optional
        Solver tolerance (relative gradient norm); default
        :func:`default_tol` of the computing dtype (1e-10 float64, 1e-4 float32).
    max_iter : int
        Newton steps per fit.
    progress : callable, optional
        Called with each :class:`RoundRecord` as soon as its fit ends.

    Attributes
    ----------
    classes_ : ndarray (K,)
        The sorted distinct labels of ``y`` (any NumPy-sortable labels: integers,
        strings, ...); class k of every (K, ·) array below is ``classes_[k]``.
    coef_ : array (rounds, K, D)
        W of every fit; ``coef_[t - 1]`` is fit t.
    pll_coef_ : array (K, D) or None
    probs_ : array (rounds, K, N)
        Training outputs Y⁽ᵗ⁾.
    pll_targets_, pll_probs_ : array (K, N) or None
        None when ``pll_topk=None``.
    pll_topk_ : int or None
        The k the PLL student used (``"auto"`` resolved), None without one.
    history_ : tuple of RoundRecord
        One per round, then the PLL student; ``history_[0].seconds`` times the
        teacher alone.
    n_classes_ : int
    n_features_in_ : int
        D.
    feature_names_in_ : ndarray (D,) of object
        Column names of X, set only when X was a DataFrame with string column
        names; X given to ``predict`` and friends must then carry the same names.
    n_iter_ : ndarray of int
        Newton steps of every fit, in the order of ``history_``.

    Notes
    -----
    The estimator follows the scikit-learn protocol without importing
    scikit-learn: ``get_params``/``set_params`` (constructor arguments stored
    unmodified, checked in ``fit``), ``clone``, ``Pipeline``, ``GridSearchCV``
    and ``cross_val_score`` work; ``score`` is the accuracy of the last round.
    X may be a Dask array (``method="exact"``): the fit then reads it one row
    chunk at a time (see :func:`labelavg.fit_probs`).

    By default ``fit`` also runs the PLL student (``pll_topk="auto"``), one fit
    more than ``rounds``; pass ``pll_topk=None`` to skip it.

    Predictions on new rows use the logits z = W x. For ``method="linear"`` the
    linearised fit t has W⁽ᵗ⁾ = (Y⁽ᵗ⁻¹⁾ − Y⁽ᵗ⁾) F / (N λ), the stationarity
    condition of the ridge fit with P replaced by the linear outputs
    Y⁽ᵗ⁾ = u + (Y⁽ᵗ⁻¹⁾ − u) G, G = Φ(Φ + KNλI)⁻¹ (Result 1), and its
    probabilities are the linearised ones u + z/K (they sum to 1 but may leave
    [0, 1]; the argmax is that of softmax(z)).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(3), 20)
    >>> X = np.eye(3)[y] + 0.3 * rng.normal(size=(60, 3))
    >>> model = SelfDistillation(1e-2, 2).fit(X, y)
    >>> [r.round for r in model.history_]
    [1, 2, 'pll']
    >>> model.score(X, y) > 0.9
    True
    >>> SelfDistillation(1e-2, 2, pll_topk=None).fit(X, np.array(["a", "b", "c"])[y])
    SelfDistillation(lam=0.01, rounds=2, pll_topk=None)
    >>> _.predict(X[:2]).tolist()
    ['a', 'a']
    """

    _estimator_type = "classifier"   # scikit-learn < 1.6 reads this

    def __init__(self, lam, rounds, *, pll_topk="auto", ties="split", pll_loss="two_hot",
                 pll_q=0.7, method="exact", tol=None, max_iter=100,
                 progress: Callable[[RoundRecord], Any] | None = None):
        self.lam = lam
        self.rounds = rounds
        self.pll_topk = pll_topk
        self.ties = ties
        self.pll_loss = pll_loss
        self.pll_q = pll_q
        self.method = method
        self.tol = tol
        self.max_iter = max_iter
        self.progress = progress

    # ------------------------------------------------- scikit-learn protocol

    @classmethod
    def _param_names(cls):
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep=True):
        """Constructor arguments as a dict (``deep`` is accepted for scikit-learn)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set constructor arguments by name (checked in ``fit``); returns self."""
        names = self._param_names()
        for name, value in params.items():
            if name not in names:
                raise ValueError(f"set_params: unknown parameter {name!r}; "
                                 f"expected one of {names}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        defaults = {p.name: p.default for p in
                    inspect.signature(type(self).__init__).parameters.values()}
        shown = [f"{k}={v!r}" for k, v in self.get_params().items()
                 if defaults[k] is inspect.Parameter.empty or not _same(v, defaults[k])]
        return f"{type(self).__name__}({', '.join(shown)})"

    def __sklearn_tags__(self):
        """Classifier tags, read by scikit-learn only (so importing it here is lazy)."""
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(), input_tags=InputTags())

    def __sklearn_is_fitted__(self):
        return hasattr(self, "coef_")

    # ------------------------------------------------------------------ fit

    def fit(self, X, y, *, y_true=None, eval_set=None):
        """Run the teacher, the students and the PLL student.

        Parameters
        ----------
        X : array (N, D)
            Training features, any array-API namespace; float16 is upcast to
            float32, integer input computes in float64.
        y : array (N,)
            Given (possibly noisy) labels, any sortable values (integers,
            strings); the classes are their K distinct values (``classes_``),
            and every class needs at least 2 instances.
        y_true : array (N,), optional
            True labels (values among ``classes_``): enables label-correction
            accuracy in ``history_``.
        eval_set : (X_test, y_test), optional
            Held-out rows: enables test accuracy in ``history_``.

        Returns
        -------
        self

        Raises
        ------
        TypeError
            Arrays from different libraries, continuous (non-integral float) labels.
        ValueError
            NaN/inf features, lengths that disagree, fewer than 2 classes, a class
            with fewer than 2 instances, true or test labels outside ``classes_``,
            bad parameters.
        """
        params = self._check_params()
        names = _feature_names(X)
        xp, X, classes, labels, true, evals = _check_fit_inputs(X, y, y_true, eval_set)
        n_classes = classes.size
        self.pll_topk_ = _checks.pll_topk(self.pll_topk, n_classes)
        if self.pll_loss != "two_hot" and is_dask_array(X):
            raise ValueError(f"pll_loss={self.pll_loss!r} needs X in memory, got a Dask array")
        if self.method == "linear" and is_dask_array(X):
            raise ValueError("method='linear' needs X in memory (a NumPy/CuPy array), "
                             "got a Dask array; use method='exact'")
        tol = params["tol"] if params["tol"] is not None else default_tol(X.dtype)
        onehot = np.eye(n_classes)[labels].T
        run = _Run(xp, X, labels, true, evals, self.progress)
        if self.method == "linear":
            fits = _fit_linear(run, onehot, params["lam"], params["rounds"], self)
        else:
            fits = _fit_exact(run, onehot, params["lam"], params["rounds"], self, tol)
            warn_unconverged(run.history, tol, "SelfDistillation.fit")
        self._store(xp, fits, run.history)
        self.classes_, self.n_classes_, self.n_features_in_ = classes, n_classes, X.shape[1]
        if names is None:
            self.__dict__.pop("feature_names_in_", None)
        else:
            self.feature_names_in_ = names
        self.n_iter_ = np.array([r.n_iter for r in run.history])
        return self

    def _check_params(self):
        _checks.choice("method", self.method, {"exact", "linear"})
        _checks.choice("ties", self.ties, set(TIES))
        check_loss(self.pll_loss, self.pll_q)
        if self.pll_loss != "two_hot" and self.method != "exact":
            raise ValueError(f"pll_loss={self.pll_loss!r} needs method='exact', "
                             f"got method={self.method!r}")
        _checks.integer_at_least("max_iter", self.max_iter, 1)
        tol = None if self.tol is None else _checks.positive_scalar("tol", self.tol)
        return {"lam": _checks.positive_scalar("lam", self.lam),
                "rounds": _checks.integer_at_least("rounds", self.rounds, 1), "tol": tol}

    def _store(self, xp, fits, history):
        has_pll = self.pll_topk_ is not None
        rounds = fits[:-1] if has_pll else fits
        self.coef_ = xp.stack([f.coef for f in rounds])
        self.probs_ = xp.stack([f.probs for f in rounds])
        pll = fits[-1] if has_pll else _Fit(None, None, None)
        self.pll_coef_, self.pll_probs_, self.pll_targets_ = pll.coef, pll.probs, pll.targets
        self.history_ = tuple(history)

    # -------------------------------------------------------------- predict

    def decision_function(self, X, round=None):
        """Logits (n, K) of fit ``round`` for rows X (n, D) (lazy for a Dask X).

        With K = 2, as in scikit-learn, the score of ``classes_[1]``: z₁ − z₀ (n,).
        """
        z = self._logits(X, round)
        return z[:, 1] - z[:, 0] if self.n_classes_ == 2 else z

    def _logits(self, X, round):
        coef = self._coef(round)
        _check_feature_names(getattr(self, "feature_names_in_", None), _feature_names(X))
        X = _as_array(X, "X")
        if is_dask_array(X):
            return _dask_features(X, "X", coef.shape[1]) @ coef.T
        xp = namespace(X, coef)
        X = _features(xp, X, "X", expected_dim=coef.shape[1])
        return X @ xp.astype(coef, X.dtype).T

    def predict_proba(self, X, round=None):
        """Class probabilities (n, K) of fit ``round`` (rows = instances).

        ``round``: 1..rounds (default the last) or ``"pll"``. For
        ``method="linear"`` these are the linearised u + z/K (see Notes above).
        """
        z = self._logits(X, round)
        xp = _dask_or_namespace(z)
        if self.method == "linear":
            return 1.0 / self.n_classes_ + z / self.n_classes_
        z = z - xp.max(z, axis=1, keepdims=True)
        e = xp.exp(z)
        return e / xp.sum(e, axis=1, keepdims=True)

    def predict(self, X, round=None):
        """Predicted labels (n,) of fit ``round`` (1..rounds, default last, or ``"pll"``).

        A NumPy array of ``classes_`` values (host memory, whatever the backend of X).
        """
        z = self._logits(X, round)
        return self.classes_[to_numpy(_dask_or_namespace(z).argmax(z, axis=1))]

    def score(self, X, y, round=None):
        """Accuracy of fit ``round`` on rows X against labels y (a float in [0, 1])."""
        pred = self.predict(X, round)
        y = np.asarray(to_numpy(_as_array(y, "y")))
        if y.shape != pred.shape:
            raise ValueError(f"y must have shape {pred.shape} (one label per row of X), "
                             f"got {y.shape}")
        return float(np.mean(pred == y))

    def _coef(self, round):
        if not hasattr(self, "coef_"):
            raise _not_fitted()
        if isinstance(round, str) and round == "pll":
            if self.pll_coef_ is None:
                raise ValueError("round='pll' needs a PLL student; this model was fitted "
                                 "with pll_topk=None")
            return self.pll_coef_
        if round is None:
            return self.coef_[self.coef_.shape[0] - 1, ...]
        n = self.coef_.shape[0]
        if isinstance(round, bool) or not isinstance(round, (int, np.integer)) \
                or not 1 <= round <= n:
            raise ValueError(f"round must be an integer in 1..{n} or 'pll', got {round!r}")
        return self.coef_[int(round) - 1, ...]


# ---------------------------------------------------------------------------
# fitting


@dataclass(frozen=True)
class _Fit:
    coef: Any
    probs: Any
    targets: Any


class _Run:
    """Bookkeeping of one ``fit``: accuracies, timing, history, progress."""

    def __init__(self, xp, X, labels, true, evals, progress):
        self.xp, self.X, self.labels, self.true = xp, X, labels, true
        self.evals, self.progress, self.history = evals, progress, []
        self.device = None if is_dask_array(X) else _device(X)

    def to_device(self, host):
        return self.xp.asarray(host, dtype=self.X.dtype, device=self.device)

    def record(self, name, coef, probs, residual, n_iter, converged, seconds):
        train = None
        if self.true is not None:
            train = _accuracy(to_numpy(probs), self.true, self.labels)
        test = None
        if self.evals is not None:
            x_test, y_test = self.evals
            logits = x_test @ coef.T
            pred = to_numpy(_dask_or_namespace(logits).argmax(logits, axis=1))
            test = float(np.mean(pred == y_test))
        rec = RoundRecord(name, train, test, float(residual), int(n_iter), bool(converged),
                          float(seconds))
        self.history.append(rec)
        if self.progress is not None:
            self.progress(rec)


def _fit_exact(run, onehot, lam, rounds, est, tol):
    """Teacher, students (warm-started from the previous W) and PLL, by primal Newton."""
    problem = _Primal.build(run.X, run.to_device(onehot), lam)

    def fit(name, targets, init):
        start = time.perf_counter()
        res = _newton(replace(problem, targets=targets), init, tol, est.max_iter)
        run.record(name, res.coef, res.probs, res.residual, res.n_iter, res.converged,
                   time.perf_counter() - start)
        return _Fit(res.coef, res.probs, targets)

    fits = [fit(1, problem.targets, None)]
    for t in range(2, rounds + 1):
        fits.append(fit(t, fits[-1].probs, fits[-1].coef))
    if est.pll_topk_ is not None:
        teacher = fits[0]
        q_pll = run.to_device(pll_targets(to_numpy(teacher.probs), est.pll_topk_, est.ties))
        if est.pll_loss == "two_hot":
            fits.append(fit("pll", q_pll, teacher.coef))
        else:
            fits.append(_fit_partial(run, q_pll, lam, est, teacher.coef, tol))
    return fits


def _fit_partial(run, q_pll, lam, est, init, tol):
    """The PLL student on a non-convex loss (:func:`labelavg.pll.fit_partial`), on the host."""
    start = time.perf_counter()
    res = fit_partial(to_numpy(run.X), to_numpy(q_pll), lam, est.pll_loss, q=est.pll_q,
                      init=to_numpy(init), tol=tol, max_iter=est.max_iter)
    coef, probs = run.to_device(res.coef), run.to_device(res.probs)
    run.record("pll", coef, probs, res.residual, res.n_iter, res.converged,
               time.perf_counter() - start)
    return _Fit(coef, probs, q_pll)


def _fit_linear(run, onehot, lam, rounds, est):
    """All rounds of Result 1 from one thin SVD; W⁽ᵗ⁾ = (Y⁽ᵗ⁻¹⁾ − Y⁽ᵗ⁾) F / (Nλ)."""
    xp, X = run.xp, run.X
    start = time.perf_counter()
    left, sing, _ = xp.linalg.svd(X, full_matrices=False)
    n_classes, n_samples = onehot.shape
    # g(μ) = μ / (μ + KNλ) with μ = s², the eigenvalues of Φ = F Fᵀ on range(F);
    # Φ's other eigenvalues are 0 and g(0) = 0, so they drop out.
    filt = sing ** 2 / (sing ** 2 + n_classes * n_samples * lam)

    def step(name, targets, t0):
        u = 1.0 / n_classes
        probs = u + (((targets - u) @ left) * filt) @ left.T
        coef = (targets - probs) @ X / (n_samples * lam)
        run.record(name, coef, probs, 0.0, 0, True, time.perf_counter() - t0)
        return _Fit(coef, probs, targets)

    fits = [step(1, run.to_device(onehot), start)]
    for t in range(2, rounds + 1):
        fits.append(step(t, fits[-1].probs, time.perf_counter()))
    if est.pll_topk_ is not None:
        q_pll = pll_targets(to_numpy(fits[0].probs), est.pll_topk_, est.ties)
        fits.append(step("pll", run.to_device(q_pll), time.perf_counter()))
    return fits


# ---------------------------------------------------------------------------
# validation


def _check_fit_inputs(X, y, y_true, eval_set):
    """(xp, X, classes, labels, true, evals); labels are indices into classes (N,)."""
    if eval_set is not None and (not isinstance(eval_set, (tuple, list)) or len(eval_set) != 2):
        raise ValueError("eval_set must be a pair (X_test, y_test)")
    X, y = _in_memory(_as_array(X, "X")), _as_array(y, "y")
    if is_dask_array(X):   # the solver reads X chunk by chunk; the rest lives on the host
        xp, X = _np_namespace, _dask_features(X, "X")
    else:
        # labels are read on the host whatever their library: only features choose xp
        features = (X,) + tuple(eval_set or ())[:1]
        xp = namespace(*[a for a in features if _is_array(a) and not is_dask_array(a)])
        X = _features(xp, X, "X")
    classes, labels = _encode_labels(y, X.shape[0])
    true = None if y_true is None else _label_indices(y_true, "y_true", classes, X.shape[0])
    evals = None
    if eval_set is not None:
        x_test = _in_memory(_as_array(eval_set[0], "eval_set[0] (X_test)"))
        name = "eval_set[0] (X_test)"
        x_test = (_dask_features(x_test, name, X.shape[1]) if is_dask_array(x_test)
                  else _features(xp, x_test, name, expected_dim=X.shape[1]))
        x_test = x_test.astype(X.dtype) if is_dask_array(x_test) else xp.astype(x_test, X.dtype)
        y_test = _label_indices(eval_set[1], "eval_set[1] (y_test)", classes, x_test.shape[0])
        evals = (x_test, y_test)
    return xp, X, classes, labels, true, evals


def _in_memory(X):
    """A Dask X held in one row chunk, computed to NumPy: reading it chunk by chunk
    would hold the same rows in memory and rebuild the graph on every solver pass."""
    return X.compute() if is_dask_array(X) and X.ndim == 2 and X.numblocks[0] == 1 else X


def _host_labels(y, name, n_samples):
    host = np.asarray(y.compute() if is_dask_array(y) else to_numpy(y))
    if host.ndim == 2 and host.shape[1] == 1:
        _warn_column_vector(name)
        host = host.ravel()
    if host.dtype == object:
        missing = [i for i, v in enumerate(host.ravel()) if v is None]
        if missing:
            raise ValueError(f"{name} contains None (first at index {missing[0]}): every "
                             "instance needs a label")
    if host.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {host.shape}")
    if host.shape[0] != n_samples:
        raise ValueError(f"{name} must have length N = {n_samples} (one per row of X), "
                         f"got {host.shape[0]}")
    if host.dtype.kind == "f" and not np.all(np.isfinite(host) & (host == np.round(host))):
        raise ValueError(f"Unknown label type: {name} must hold class labels (integers, "
                         f"strings, integral floats), got continuous values")
    return host


def _encode_labels(y, n_samples):
    """Sorted distinct labels (K,) and the class index of every instance (N,)."""
    host = _host_labels(y, "y", n_samples)
    try:
        classes, labels = np.unique(host, return_inverse=True)
    except TypeError:   # e.g. ints mixed with strings
        kinds = ", ".join(sorted({type(v).__name__ for v in host}))
        raise TypeError(f"y must hold labels of one sortable type (all integers or all "
                        f"strings, ...), got a mix of {kinds}") from None
    if classes.size < 2:
        raise ValueError(f"y has {classes.size} class; at least 2 classes are needed")
    counts = np.bincount(labels, minlength=classes.size)
    few = np.flatnonzero(counts < 2)
    if few.size:
        raise ValueError(f"y: every class needs at least 2 instances; class "
                         f"{_plain(classes[few[0]])!r} has {int(counts[few[0]])}")
    return classes, labels.astype(np.intp)


def _label_indices(y, name, classes, n_samples):
    """Class indices (N,) of labels ``y`` that must all be among ``classes``."""
    host = _host_labels(y, name, n_samples)
    try:
        at = np.clip(np.searchsorted(classes, host), 0, classes.size - 1)
        unknown = classes[at] != host
    except TypeError:   # labels not comparable with the classes (e.g. str vs int)
        unknown = np.ones(host.shape, dtype=bool)
    if np.any(unknown):
        raise ValueError(f"{name} must take values among the classes of y "
                         f"{classes.tolist()}, got {_plain(host[np.flatnonzero(unknown)[0]])!r}")
    return at.astype(np.intp)


def _is_array(a):
    return a is not None and hasattr(a, "shape") and hasattr(a, "dtype")


def _features(xp, X, name, expected_dim=None):
    if not _is_array(X):
        raise TypeError(f"{name} must be an array, got {type(X).__name__}")
    _check_matrix_shape(X, name, expected_dim)
    if xp.isdtype(X.dtype, "complex floating"):
        raise ValueError(f"Complex data not supported: {name} must hold real numbers, "
                         f"got dtype {X.dtype}")
    if xp.isdtype(X.dtype, "bool"):
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    X = xp.astype(X, float_dtype(xp, X))
    if not bool(xp.all(xp.isfinite(X))):
        raise ValueError(f"{name} contains NaN or inf")
    return X


def _check_matrix_shape(X, name, expected_dim):
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-dimensional (N, D), got shape {tuple(X.shape)}; "
                         "Reshape your data: X.reshape(-1, 1) for one feature, "
                         "X.reshape(1, -1) for one instance")
    if expected_dim is not None and X.shape[1] != expected_dim:
        raise ValueError(f"{name} has {X.shape[1]} features, but SelfDistillation is "
                         f"expecting {expected_dim} features as input (D columns)")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got {X.shape[1]} feature(s) "
                         f"(shape={tuple(X.shape)}) while a minimum of 1 is required.")


def _as_array(X, name):
    """Array-API arrays pass; sparse matrices are refused; lists, pandas objects and
    other array-likes become NumPy."""
    if X is None:
        raise ValueError(f"{name} is None: SelfDistillation requires y to be passed, but "
                         "the target y is None" if name == "y" else f"{name} must be an array")
    module = type(X).__module__.split(".")[0]
    if module == "scipy" and hasattr(X, "toarray"):
        raise TypeError(f"{name} is a scipy sparse matrix: sparse input is not supported, "
                        f"pass a dense array ({name}.toarray())")
    return X if is_array_api_obj(X) else np.asarray(X)


def _dask_or_namespace(x):
    if is_dask_array(x):
        import dask.array

        return dask.array
    return namespace(x)


def _dask_features(X, name, expected_dim=None):
    """Shape and dtype checks of a Dask X (finiteness is checked by the solver's pass)."""
    _check_matrix_shape(X, name, expected_dim)
    if X.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    return X.astype(np.float32 if X.dtype in (np.float16, np.float32) else np.float64)


def _warn_column_vector(name):
    """scikit-learn's DataConversionWarning (when scikit-learn is in use) for a (N, 1) label array."""
    category = UserWarning
    if "sklearn" in sys.modules:
        from sklearn.exceptions import DataConversionWarning as category
    warnings.warn(f"A column-vector {name} was passed when a 1d array was expected: it is "
                  f"ravelled; pass {name} of shape (N,), e.g. {name}.ravel()", category,
                  stacklevel=6)


def _feature_names(X):
    """Column names (D,) of a DataFrame-like X when all are strings, else None."""
    columns = getattr(X, "columns", None)
    if columns is None or is_dask_array(X):
        return None
    names = np.asarray(list(columns), dtype=object)
    return names if names.size and all(isinstance(n, str) for n in names) else None


def _check_feature_names(fitted, names):
    """scikit-learn's rule: the names seen in ``fit`` must come back, in the same order."""
    if fitted is None and names is None:
        return
    if fitted is None or names is None:
        warnings.warn("X has feature names, but SelfDistillation was fitted without feature "
                      "names" if fitted is None else "X does not have valid feature names, "
                      "but SelfDistillation was fitted with feature names", UserWarning,
                      stacklevel=4)
        return
    if names.shape == fitted.shape and np.all(names == fitted):
        return
    unseen, missing = sorted(set(names) - set(fitted)), sorted(set(fitted) - set(names))
    message = "The feature names should match those that were passed during fit.\n"
    if unseen:
        message += "Feature names unseen at fit time:\n" + _name_list(unseen)
    if missing:
        message += "Feature names seen at fit time, yet now missing:\n" + _name_list(missing)
    if not unseen and not missing:
        message += "Feature names must be in the same order as they were in fit.\n"
    raise ValueError(message)


def _name_list(names, most=5):
    return "".join(f"- {n}\n" for n in names[:most]) + ("- ...\n" if len(names) > most else "")


def _not_fitted():
    """scikit-learn's NotFittedError (a ValueError) when scikit-learn is in use, else ValueError."""
    message = "this SelfDistillation is not fitted yet; call fit(X, y) first"
    if "sklearn" in sys.modules:
        from sklearn.exceptions import NotFittedError

        return NotFittedError(message)
    return ValueError(message)


def _plain(value):
    """A NumPy scalar as the Python value it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _same(value, default):
    try:
        return type(value) is type(default) and bool(value == default)
    except (TypeError, ValueError):
        return False


def _labels_host(y, name, n_samples):
    """Integer labels (N,) on the host; the range check against K happens later."""
    host = np.asarray(to_numpy(y))
    if host.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {host.shape}")
    if host.shape[0] != n_samples:
        raise ValueError(f"{name} must have length N = {n_samples} (one per row of X), "
                         f"got {host.shape[0]}")
    if host.size and not np.issubdtype(host.dtype, np.integer):
        raise TypeError(f"{name} must hold integers 0..K-1, got dtype {host.dtype}")
    if host.size and host.min() < 0:
        raise ValueError(f"{name} must lie in 0..K-1, got the value {int(host.min())}")
    return host.astype(np.intp)


def _check_counts(labels):
    counts = np.bincount(labels)
    if counts.size < 2:
        raise ValueError("y must contain at least 2 classes")
    few = np.flatnonzero(counts < 2)
    if few.size:
        raise ValueError(f"y: every class 0..{counts.size - 1} needs at least 2 instances; "
                         f"class {int(few[0])} has {int(counts[few[0]])}")


# ---------------------------------------------------------------------------
# class correlation statistics (paper Fig. 1)


class ClassCorrelation(NamedTuple):
    """Per class pair (a, b): mean and std of cos(x_i, x_j), i in a, j in b (i ≠ j).

    ``mean``, ``std`` : arrays (K, K); ``counts`` : ndarray (K,) instances per class.
    """

    mean: Any
    std: Any
    counts: np.ndarray


def class_correlation(X, y):
    """Mean and std of centred, normalised feature cosines for every class pair.

    Parameters
    ----------
    X : array (N, D)
        Features (any array-API namespace); computed in float64.
    y : int array (N,)
        Labels in 0..K−1, K = max label + 1; each class needs >= 2 instances.

    Returns
    -------
    ClassCorrelation
        ``mean[a, b]`` and ``std[a, b]`` (population std) of x̃_iᵀx̃_j over
        i in class a, j in class b, self-pairs i = j excluded on the diagonal,
        where x̃ = (x − x̄)/||x − x̄|| (x̄ the mean row; a row equal to x̄ stays 0).

    Notes
    -----
    Never forms the N×N matrix. With s_a = Σ_{i∈a} x̃_i and S_a = Σ_{i∈a} x̃_i x̃_iᵀ
    (D×D): Σ_{i∈a, j∈b} x̃_iᵀx̃_j = s_aᵀs_b and Σ (x̃_iᵀx̃_j)² = tr(S_a S_b); on the
    diagonal the self-pairs contribute Σ ||x̃_i||² and Σ ||x̃_i||⁴. Cost O(N D² + K² D²).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1., 0.], [1., .1], [-1., 0.], [-1., -.1]])
    >>> corr = class_correlation(X, np.array([0, 0, 1, 1]))
    >>> np.round(corr.mean, 2).tolist()
    [[1.0, -1.0], [-1.0, 1.0]]
    """
    xp = namespace(*[a for a in (X, y) if _is_array(a)])
    X = xp.astype(_features(xp, X, "X"), xp.float64)
    labels = _labels_host(y, "y", X.shape[0])
    _check_counts(labels)
    n_classes = int(labels.max()) + 1
    onehot = xp.asarray(np.eye(n_classes)[labels], device=_device(X))   # (N, K)
    centred = X - xp.mean(X, axis=0, keepdims=True)
    norms = xp.sqrt(xp.sum(centred ** 2, axis=1, keepdims=True))
    unit = centred / xp.where(norms > 0, norms, 1.0)
    sq = xp.sum(unit ** 2, axis=1)                                       # ||x̃_i||², 1 or 0
    sums = onehot.T @ unit                                               # s_a (K, D)
    second = _pair_trace(xp, unit, labels, n_classes)                    # tr(S_a S_b)
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    pairs = xp.asarray(np.outer(counts, counts) - np.diag(counts), device=_device(X))
    eye = xp.eye(n_classes, dtype=xp.float64)
    self1, self2 = onehot.T @ sq, onehot.T @ sq ** 2
    mean = (sums @ sums.T - eye * self1) / pairs
    mean2 = (second - eye * self2) / pairs
    std = xp.sqrt(xp.clip(mean2 - mean ** 2, 0.0, None))  # cancellation can dip below 0
    return ClassCorrelation(mean, std, counts.astype(np.intp))


def _pair_trace(xp, unit, labels, n_classes):
    """tr(S_a S_b) = <S_a, S_b>_F for all class pairs, from the K second-moment matrices."""
    d = unit.shape[1]
    flat = []
    for a in range(n_classes):
        rows = xp.asarray(np.flatnonzero(labels == a), device=_device(unit))
        block = xp.take(unit, rows, axis=0)
        flat.append(xp.reshape(block.T @ block, (d * d,)))
    flat = xp.stack(flat)
    return flat @ flat.T


def confusable_classes(X, y, cut=0.8, *, correlation=None):
    """Superclasses: complete-linkage clusters of 1 − mean class correlation.

    Parameters
    ----------
    X : array (N, D)
    y : int array (N,)
        Labels in 0..K−1.
    cut : float
        Cut the dendrogram at ``cut`` × the largest merge distance (0 < cut <= 1;
        the paper uses 0.8).
    correlation : ClassCorrelation, optional
        Reuse a :func:`class_correlation` result (X and y are then not read).

    Returns
    -------
    ndarray (K,) of intp
        Cluster id of every class, 0-based in order of first appearance; pass to
        :func:`labelavg.noise.superclass`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> centres = np.repeat(np.eye(2) * 4, 2, axis=0) + rng.normal(size=(4, 2))
    >>> y = np.repeat(np.arange(4), 30)
    >>> X = centres[y] + 0.3 * rng.normal(size=(120, 2))
    >>> confusable_classes(X, y).tolist()
    [0, 0, 1, 1]
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    cut = _checks.positive_scalar("cut", cut)
    if cut > 1:
        raise ValueError(f"cut must be in (0, 1], got {cut!r}")
    corr = class_correlation(X, y) if correlation is None else correlation
    mean = to_numpy(corr.mean)
    dist = 1.0 - (mean + mean.T) / 2
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(np.clip(dist, 0.0, None), checks=False), method="complete")
    raw = fcluster(tree, cut * tree[:, 2].max(), criterion="distance")
    _, first, ids = np.unique(raw, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))   # relabel by first appearance
    return order[ids].astype(np.intp)


# ---------------------------------------------------------------------------
# noisy-label experiment (the paper's appendix tables)


@dataclass(frozen=True)
class NoiseSweep:
    """Test and label-correction accuracy per (η, seed, model).

    Attributes
    ----------
    etas : tuple of float
    seeds : tuple of int
    models : tuple of str
        ``"teacher"``, ``"student t=2"``, ..., ``"PLL"``.
    test_accuracy, label_accuracy : ndarray (n_etas, n_seeds, n_models)
        Fractions in [0, 1]; ``label_accuracy`` is the label-correction accuracy
        of the training outputs against the true labels.
    noise_rate : ndarray (n_etas, n_seeds)
        Fraction of training labels actually flipped.
    """

    etas: tuple
    seeds: tuple
    models: tuple
    test_accuracy: np.ndarray
    label_accuracy: np.ndarray
    noise_rate: np.ndarray

    def gains(self, which="test"):
        """Mean and std over seeds of (model − teacher) accuracy, in percentage points.

        Returns two arrays (n_etas, n_models − 1), the teacher column dropped.
        """
        acc = self.test_accuracy if which == "test" else self.label_accuracy
        diff = 100 * (acc[:, :, 1:] - acc[:, :, :1])
        return diff.mean(axis=1), diff.std(axis=1)


def noise_sweep(features, transitions, estimator, *, seeds=(0,), progress=None):
    """Corrupt the training labels with each T, fit ``estimator``, collect accuracies.

    Parameters
    ----------
    features : FeatureSet
        With a test split (``x_test``, ``y_test``).
    transitions : mapping η -> array (K, K)
        T[c, j] = P(given label j | true class c); rows sum to 1.
    estimator : SelfDistillation
        Fitted once per (η, seed) (its ``progress`` is left alone).
    seeds : sequence of int
        Seeds of :func:`labelavg.noise.sample_labels`, one label draw each.
    progress : callable, optional
        Called as ``progress(eta, seed, record)`` after every fit.

    Returns
    -------
    NoiseSweep
    """
    from .noise import sample_labels

    if features.x_test is None:
        raise ValueError("features must have a test split (x_test, y_test)")
    etas, seeds = tuple(float(e) for e in transitions), tuple(int(s) for s in seeds)
    test, label, rate, models = [], [], [], None
    for eta, transition in transitions.items():
        rows = []
        for seed in seeds:
            given = sample_labels(features.y_train, transition, np.random.default_rng(seed))
            est = _with_progress(estimator, progress, eta, seed)
            est.fit(features.x_train, given, y_true=features.y_train,
                    eval_set=(features.x_test, features.y_test))
            rows.append(est.history_)
            rate.append(float(np.mean(given != features.y_train)))
        models = tuple(r.name for r in rows[0])
        test.append([[r.test_accuracy for r in h] for h in rows])
        label.append([[r.train_accuracy.all for r in h] for h in rows])
    shape = (len(etas), len(seeds))
    return NoiseSweep(etas, seeds, models, np.array(test), np.array(label),
                      np.array(rate).reshape(shape))


def _with_progress(estimator, progress, eta, seed):
    hook = None if progress is None else (lambda rec: progress(eta, seed, rec))
    return SelfDistillation(**{**estimator.get_params(), "progress": hook})
