"""Simulations on Gaussian-mixture features, side by side with the block model.

Symbols: K ``n_classes``, n ``n_per_class``, N = Kn, D ``dim``, c / d (/ e)
the cosines within a class / across classes (/ across superclasses), m
``superclass_size``, η ``eta``, λ ``lam``, t the fit number (t = 1 is the
teacher, ``rounds`` fits in all), S the number of seeds, T ``transition`` with
**T[c, j] = P(given label j | true class c), rows = true class, rows sum to 1**.

Each seed draws unit-norm features whose Gram matrix is close to a block Gram
(:func:`labelavg.synthetic.gaussian_mixture`), gives them noisy labels, runs
multi-round self-distillation and the PLL student exactly
(:func:`labelavg.distill.distill`) and records

- *label-correction accuracy* (argmax of the training outputs vs the true
  training labels; all / clean / noisy instances) per round and for the PLL
  student;
- *test accuracy*: fresh instances of the same mixture, predicted by the
  fitted weights W (K, D) as argmax of W xᵀ;
- the block model's prediction (:meth:`labelavg.block.BlockModel.solve`, the
  reduced exact solver) at the **measured** (c, d, e) of that seed's training
  Gram with **the same group counts** (true class, given label).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from . import _checks, noise
from .block import BlockModel, _solver_bytes
from .distill import correct_predictions, distill
from .noise import transition_matrix
from .synthetic import gaussian_mixture

__all__ = ["ACCURACY_PARTS", "LABEL_MODES", "SimulationResult", "simulate"]

#: How noisy labels are drawn: per instance, or exact rounded counts n·T.
LABEL_MODES = ("sampled", "exact")

#: The parts of a label-correction accuracy, last axis of the accuracy arrays.
ACCURACY_PARTS = ("all", "clean", "noisy")

#: Solver forms: the dual works on the N×N Gram, the primal on K×D unknowns.
FORMS = ("auto", "dual", "primal")


@dataclass(frozen=True)
class SimulationResult:
    """Per-seed, per-round accuracies of a simulation and the block model's prediction.

    Attributes
    ----------
    seeds : tuple of int
        The S seeds, in order (axis 0 of every array).
    params : dict
        The arguments of :func:`simulate`.
    transition : ndarray (K, K)
        T[c, j] = P(given label j | true class c); rows sum to 1.
    accuracy : ndarray (S, rounds, 3)
        Label-correction accuracy per round, last axis ``ACCURACY_PARTS``
        (all, clean, noisy); NaN for an empty part.
    test_accuracy : ndarray (S, rounds)
        Accuracy of argmax W xᵀ on the fresh test instances (ties wrong).
    pll_accuracy : ndarray (S, 3)
        The PLL student's label-correction accuracy.
    pll_test_accuracy : ndarray (S,)
    measured : ndarray (S, 2) or (S, 3)
        Measured block means (c, d) (and e when hierarchical) of each
        training Gram.
    counts : ndarray (S, K, K)
        Group counts: ``counts[s, c, j]`` training instances of true class c
        carry label j.
    predicted : ndarray (S, rounds, 3)
        Block-model label-correction accuracy at the measured means and counts.
    predicted_test : ndarray (S, rounds)
        Block-model fresh-instance accuracy (fraction of classes whose fresh
        instance is right; no self-correlation term).
    predicted_pll : ndarray (S, 3)
    predicted_pll_test : ndarray (S,)
    residual : ndarray (S, rounds + 1)
        Final residual of every exact fit (rounds, then the PLL student).
    converged : bool
        Every exact fit (simulation and block model) converged.
    seconds : ndarray (S,)
        Wall time of each seed.
    """

    seeds: tuple
    params: dict
    transition: np.ndarray
    accuracy: np.ndarray
    test_accuracy: np.ndarray
    pll_accuracy: np.ndarray
    pll_test_accuracy: np.ndarray
    measured: np.ndarray
    counts: np.ndarray
    predicted: np.ndarray
    predicted_test: np.ndarray
    predicted_pll: np.ndarray
    predicted_pll_test: np.ndarray
    residual: np.ndarray
    converged: bool
    seconds: np.ndarray = field(repr=False)

    @property
    def rounds(self):
        """Number of fits t = 1..rounds."""
        return self.accuracy.shape[1]

    def mean(self, name):
        """Mean over seeds of the array attribute ``name`` (NaN-aware).

        Examples: ``mean("accuracy")`` (rounds, 3), ``mean("test_accuracy")``
        (rounds,), ``mean("measured")`` (2,).
        """
        return _nan_stat(getattr(self, name), np.mean)

    def std(self, name):
        """Standard deviation over seeds (ddof = 0, NaN-aware) of ``name``."""
        return _nan_stat(getattr(self, name), np.std)

    def gap(self):
        """``accuracy − predicted`` per seed and round (S, rounds, 3)."""
        return self.accuracy - self.predicted


def _nan_stat(values, stat):
    """``stat`` over axis 0 ignoring NaNs; NaN (no warning) where all are NaN."""
    values = np.asarray(values, dtype=float)
    mask = np.isnan(values)
    count = (~mask).sum(axis=0)
    filled = np.where(mask, 0.0, values)
    mean = filled.sum(axis=0) / np.maximum(count, 1)
    if stat is np.mean:
        out = mean
    else:
        out = np.sqrt(np.where(mask, 0.0, (values - mean) ** 2).sum(axis=0)
                      / np.maximum(count, 1))
    return np.where(count > 0, out, np.nan)


# ---------------------------------------------------------------------------
# inputs


def _check_seeds(seeds):
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds must be a sequence of ints, got {type(seeds).__name__}")
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seeds must not be empty")
    for s in seeds:
        _checks.integer_at_least("seed", s, 0)
    return tuple(int(s) for s in seeds)


#: Bytes held per feature entry (train and test features, generation temporaries).
BYTES_PER_FEATURE = 3 * 8
#: Bytes per Gram entry of the dual form (Φ = F Fᵀ and the Newton work).
BYTES_PER_ENTRY = 4 * 8


def memory_parts(n_classes, n_per_class, dim, form="auto"):
    """Bytes of the largest arrays of one seed of :func:`simulate`, by the parameter that sets them.

    Returns
    -------
    dict
        ``{"dim": features (train and test, N × D), "n_per_class": the dual
        form's N × N Gram (0 in the primal form), "n_classes": the reduced
        block solver of the prediction}``.
    """
    n_samples = n_classes * n_per_class
    dual = form == "dual" or (form == "auto" and n_samples <= dim)
    return {"dim": BYTES_PER_FEATURE * n_samples * dim,
            "n_per_class": BYTES_PER_ENTRY * n_samples ** 2 if dual else 0,
            "n_classes": _solver_bytes(1, n_classes, n_classes ** 2)}


def _check_args(params):
    """Validate the scalar arguments of :func:`simulate` (the rest is checked downstream)."""
    _checks.positive_scalar("lam", params["lam"])
    _checks.integer_at_least("rounds", params["rounds"], 1)
    _checks.integer_at_least("n_per_class", params["n_per_class"], 2)
    _checks.integer_at_least("n_classes", params["n_classes"], 2)
    _checks.integer_at_least("dim", params["dim"], 1)
    _checks.choice("labels", params["labels"], set(LABEL_MODES))
    _checks.choice("form", params["form"], set(FORMS))
    if params["progress"] is not None and not callable(params["progress"]):
        raise TypeError("progress must be callable or None")
    parts = memory_parts(params["n_classes"], params["n_per_class"], params["dim"],
                         params["form"])
    name = max(parts, key=parts.get)
    _checks.memory(name, params[name], sum(parts.values()),
                   f"simulate (features {params['n_classes'] * params['n_per_class']} × "
                   f"{params['dim']}, Gram, reduced block solver)")


# ---------------------------------------------------------------------------
# one seed


def _given_labels(true, transition, mode, rng):
    if mode == "sampled":
        return noise.sample_labels(true, transition, rng)
    return noise.assign_labels_exact(true, transition, rng)


def _group_counts(true, given, n_classes):
    counts = np.zeros((n_classes, n_classes))
    np.add.at(counts, (true, given), 1.0)
    return counts


def _run_distill(data, given, lam, rounds, form):
    """Exact path and the weights W (K, D) of every fit (rounds, then PLL).

    The dual form (N×N Gram, W = A F) is much faster than the primal (K×D
    unknowns) when N <= D; both minimise the same objective.
    """
    x = data.x_train
    use_dual = form == "dual" or (form == "auto" and x.shape[0] <= x.shape[1])
    if use_dual:
        path = distill(x @ x.T, given, lam, rounds, true_labels=data.y_train,
                       n_classes=data.means.shape[0])
        weights = [fit.coef @ x for fit in path.fits]
    else:
        path = distill(None, given, lam, rounds, features=x, true_labels=data.y_train,
                       n_classes=data.means.shape[0])
        weights = [fit.coef for fit in path.fits]
    return path, weights


def _test_accuracy(weights, data):
    if data.y_test.size == 0:
        return math.nan
    logits = weights @ data.x_test.T
    return float(np.mean(correct_predictions(logits, data.y_test)))


def _as_row(acc):
    return [acc.all, acc.clean, acc.noisy]


def _block_model(p, measured):
    """Block model at the measured means; d, e clipped to [0, c) / [0, d]."""
    c = float(measured.c)
    d = min(max(float(measured.d), 0.0), c)
    if p["superclass_size"] is None:
        return BlockModel(p["n_classes"], p["n_per_class"], c, d)
    e = min(max(float(measured.e), 0.0), d)
    return BlockModel(p["n_classes"], p["n_per_class"], c, d,
                      superclass_size=p["superclass_size"], e=e)


def _predict(p, measured, counts):
    sol = _block_model(p, measured).solve(counts=counts, lam=p["lam"],
                                          rounds=p["rounds"])
    return dict(predicted=[_as_row(a) for a in sol.accuracy],
                predicted_test=list(sol.fresh_accuracy),
                predicted_pll=_as_row(sol.pll_accuracy),
                predicted_pll_test=sol.pll_fresh_accuracy,
                block_converged=bool(np.all(sol.converged)))


def _one_seed(p, transition, seed):
    rng = np.random.default_rng(seed)
    data = gaussian_mixture(p["n_classes"], p["n_per_class"], p["dim"], p["c"], p["d"],
                            superclass_size=p["superclass_size"], e=p["e"],
                            n_test=p["n_test"], rng=rng)
    given = _given_labels(data.y_train, transition, p["labels"], rng)
    path, weights = _run_distill(data, given, p["lam"], p["rounds"], p["form"])
    counts = _group_counts(data.y_train, given, p["n_classes"])
    measured = [data.measured.c, data.measured.d]
    if p["superclass_size"] is not None:
        measured.append(data.measured.e)
    out = dict(accuracy=[_as_row(a) for a in path.accuracy],
               test_accuracy=[_test_accuracy(w, data) for w in weights[:-1]],
               pll_accuracy=_as_row(path.pll_accuracy),
               pll_test_accuracy=_test_accuracy(weights[-1], data),
               measured=measured, counts=counts,
               residual=[f.residual for f in path.fits],
               sim_converged=all(f.converged for f in path.fits))
    out.update(_predict(p, data.measured, counts))
    return out


# ---------------------------------------------------------------------------
# public


def simulate(*, n_classes, n_per_class, dim, c, d, eta, lam, rounds, noise="symmetric",
             seeds=(0, 1, 2), superclass_size=None, e=None, labels="sampled",
             n_test=None, form="auto", progress=None):
    """Self-distillation on Gaussian-mixture features, seed by seed, vs the block model.

    Parameters
    ----------
    n_classes, n_per_class, dim : int
        K >= 2, n >= 2 training instances per class, feature dimension D >= K.
    c, d : float
        Target cosines within / across classes (max(d, 0) < c < 1).
    eta : float
        Corruption rate 0 <= η <= 1.
    lam : float
        Ridge strength λ > 0.
    rounds : int
        Fits t = 1..rounds (t = 1 the teacher); the PLL student comes on top.
    noise : {"symmetric", "asymmetric", "pair", "superclass"}
        Noise model of :func:`labelavg.noise.transition_matrix`.
    seeds : sequence of int
        One run per seed; seed s drives the features and the labels
        (``numpy.random.default_rng(s)``).
    superclass_size, e : int, float, optional
        Hierarchical features (superclasses of m consecutive classes, cosine e
        across them); ``superclass_size`` also defines the clusters of
        ``"superclass"`` noise. Give both or neither.
    labels : {"sampled", "exact"}
        :func:`labelavg.noise.sample_labels` (each label drawn from its row of
        T) or :func:`labelavg.noise.assign_labels_exact` (rounded counts n·T,
        shuffled within each class).
    n_test : int, optional
        Fresh test instances per class (default n).
    form : {"auto", "dual", "primal"}
        Exact solver form: dual on Φ = F Fᵀ (W = A F afterwards), primal on
        F; ``"auto"`` takes the dual when N <= D. Both give the same fit.
    progress : callable, optional
        Called as ``progress(i, seed, seconds)`` after seed number i
        (0-based) has finished.

    Returns
    -------
    SimulationResult

    Notes
    -----
    The block model's prediction uses the reduced exact solver with Φ_ii = 1,
    c / d (/ e) the measured block means of that seed's training Gram, and the
    seed's own group counts; it differs from the simulation only through the
    spread of the Gram entries around their block means, O(1/√D) per entry.
    A negative measured d (or e) is clipped to 0 for the block model, which
    requires 0 <= e <= d < c.

    Examples
    --------
    >>> res = simulate(n_classes=3, n_per_class=10, dim=200, c=0.5, d=0.1,
    ...                eta=0.2, lam=1e-2, rounds=2, seeds=(0,))
    >>> res.accuracy.shape, res.predicted.shape
    ((1, 2, 3), (1, 2, 3))
    """
    seeds = _check_seeds(seeds)
    p = dict(n_classes=n_classes, n_per_class=n_per_class, dim=dim, c=c, d=d, eta=eta,
             lam=lam, rounds=rounds, noise=noise, superclass_size=superclass_size, e=e,
             labels=labels, n_test=n_test, form=form, progress=progress)
    _check_args(p)
    transition = transition_matrix(noise, n_classes, eta, superclass_size)
    runs, seconds = [], []
    for i, seed in enumerate(seeds):
        start = time.perf_counter()
        runs.append(_one_seed(p, transition, seed))
        seconds.append(time.perf_counter() - start)
        if progress is not None:
            progress(i, seed, seconds[-1])
    del p["progress"]
    return _collect(seeds, p, transition, runs, seconds)


def _collect(seeds, params, transition, runs, seconds):
    stack = lambda key: np.array([r[key] for r in runs], dtype=float)
    names = ("accuracy", "test_accuracy", "pll_accuracy", "pll_test_accuracy",
             "measured", "counts", "predicted", "predicted_test", "predicted_pll",
             "predicted_pll_test", "residual")
    converged = all(r["sim_converged"] and r["block_converged"] for r in runs)
    return SimulationResult(seeds=seeds, params=params, transition=transition,
                            converged=converged, seconds=np.array(seconds),
                            **{name: stack(name) for name in names})
