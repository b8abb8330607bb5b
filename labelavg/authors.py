"""The paper authors' real-data protocol (Hyeonsu-Jeong/SelfPLL, ``train_linear.py``), in NumPy.

Symbols: K ``n_classes``, N training rows, D feature dimension, W (K, D) a
bias-free linear model, t the fit number (t = 1 the teacher), ρ the GCE exponent,
η the corruption rate.

Their training, as read from their code (file:line at commit 4092b2d):

- model ``nn.Linear(D, K, bias=False)``, default init: W uniform in ±1/√D
  (seeded here by ``rng``); features raw (no centring or normalisation);
- SGD, momentum 0.9, weight decay ``wd`` (PyTorch's: wd·W added to the
  gradient), lr × 0.98 after every epoch, 200 epochs, batches of 128, shuffled;
- teacher: cross-entropy on the noisy labels; student t: cross-entropy to the
  softmax outputs of the previous round's chosen checkpoint, from a fresh init;
- PLL student: GCE (ρ = 0.7) on each of the teacher's top-2 classes, starting
  from the teacher's chosen weights.

The authors report the best test-set epoch and hand that checkpoint to the next
round. :func:`run_grid` runs a whole grid as one batched SGD in any array namespace
(NumPy, CuPy, ``array_api_strict``), float64: leading axis P stacks every label draw
(*cell*: noise model, η, seed) × weight decay × chain; all share the features and one
batch order per run (one host generator), and each cell's initialisations come from
its own generator, so a cell's result does not depend on the other cells or weight
decays in the batch. :func:`run_rounds` is its one-cell case. Each cell runs three
*chains* side by side, each choosing its
checkpoints by one rule, the same rule for the reported number and for the
model handed on:

- ``"oracle"``: the first epoch with the best test accuracy (what the paper reports;
  it reads the test labels);
- ``"last"``: the last epoch;
- ``"honest"``: the first epoch with the best accuracy on held-out rows against
  their *noisy* labels (what a practitioner can do).

:func:`authors_superclasses` is their superclass recipe: the square matrix
1 − mean class correlation handed to ``scipy.cluster.hierarchy.linkage``, which
reads it as K observation vectors (Euclidean distances between its rows), not
as distances; complete linkage, cut at 0.8 × the largest merge.
"""

from __future__ import annotations

from dataclasses import dataclass

import array_api_compat.numpy as _np_namespace
import numpy as np
from array_api_compat import device as _device
from array_api_compat import is_cupy_namespace

from . import _checks
from ._xp import namespace, to_numpy

__all__ = ["CHAINS", "Schedule", "ChainResult", "GridResult", "authors_superclasses",
           "memory_limit", "memory_needed", "run_grid", "run_rounds", "train"]

#: Checkpoint rules, see the module docstring.
CHAINS = ("oracle", "last", "honest")


@dataclass(frozen=True)
class Schedule:
    """The authors' SGD schedule (their defaults; ``lr`` and ``wd`` per dataset)."""

    lr: float = 0.05
    wd: float = 5e-5
    momentum: float = 0.9
    decay: float = 0.98
    epochs: int = 200
    batch: int = 128

    def __post_init__(self):
        _checks.positive_scalar("lr", self.lr)
        _check_wd("wd", self.wd)
        for name in ("epochs", "batch"):
            _checks.integer_at_least(name, getattr(self, name), 1)


def _check_wd(name, value):
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")


@dataclass(frozen=True)
class ChainResult:
    """Test accuracy and chosen epoch (1-based) of every fit, per chain.

    ``test_accuracy[c][m]`` and ``epoch[c][m]`` for chain ``CHAINS[c]`` and
    method m in ``methods`` (``"teacher"``, ``"t2"``, ..., ``"pll"``).
    """

    methods: tuple
    test_accuracy: np.ndarray
    epoch: np.ndarray


@dataclass(frozen=True)
class GridResult:
    """Every fit of a grid of label draws (cells) × weight decays × chains.

    Arrays (C, W, 3, M) for cell c, weight decay ``wds[w]``, chain ``CHAINS[r]``
    and method m of ``methods``: ``test_accuracy`` and ``validation_accuracy``
    (against the noisy labels of the held-out rows) of the chosen checkpoint,
    and its ``epoch`` (1-based). ``dtype`` is the floating dtype computed in.
    """

    methods: tuple
    wds: tuple
    test_accuracy: np.ndarray
    validation_accuracy: np.ndarray
    epoch: np.ndarray
    dtype: str


def default_init(n_classes, n_features, rng):
    """W (K, D) uniform in ±1/√D, as PyTorch's ``nn.Linear`` default (kaiming_uniform, a=√5)."""
    bound = 1.0 / np.sqrt(n_features)
    return rng.uniform(-bound, bound, size=(n_classes, n_features))


def train(X, targets, init, wd, schedule, rng, *, loss="ce", rho=0.7, evaluate=None,
          progress=None):
    """SGD on P weight matrices at once, in the array namespace of ``X``.

    Parameters
    ----------
    X : array (N, D)
    targets : array (N, P, K)
        One target per row and trajectory: probabilities (``loss="ce"``: soft
        cross-entropy, one-hot for hard labels) or PLL targets (``loss="gce"``).
    init : array (P, K, D)
    wd : array (P,)
        Weight decay of each trajectory.
    schedule : Schedule
        ``lr``, ``momentum``, ``decay``, ``epochs``, ``batch`` (its ``wd`` is unused).
    rng : numpy.random.Generator
        Draws the batch order on the host (one permutation per epoch, shared by
        every trajectory, moved to the device once per epoch).
    loss : {"ce", "gce"}
    rho : float
        GCE exponent.
    evaluate, progress : callable, optional
        ``evaluate(epoch, W)`` with W (P, K, D) and ``progress()`` after every epoch.

    Returns
    -------
    array (P, K, D): the weights after the last epoch.

    Notes
    -----
    PyTorch's SGD: g = ∇(mean batch loss) + wd W; b ← μ b + g (b = g at the first
    step); W ← W − lr b; lr ← 0.98 lr after every epoch. Per batch two matrix
    products over all P trajectories: logits (B, P·K) = X_B Wᵀ and the gradient
    (P·K, D) = Gᵀ X_B.
    """
    xp = namespace(X, targets, init)
    W = init
    buf = xp.zeros_like(W)
    decay = xp.reshape(xp.asarray(wd, dtype=W.dtype, device=_device(X)), (-1, 1, 1))
    lr, (n, dim), shape = schedule.lr, X.shape, W.shape
    for epoch in range(1, schedule.epochs + 1):
        order = xp.asarray(rng.permutation(n), device=_device(X))
        for start in range(0, n, schedule.batch):
            rows = order[start:start + schedule.batch]
            xb = xp.take(X, rows, axis=0)
            b = xb.shape[0]
            logits = xp.reshape(xb @ xp.reshape(W, (-1, dim)).T, (b, shape[0], shape[1]))
            grad = _logit_grad(xp, logits, xp.take(targets, rows, axis=0), loss, rho)
            g = xp.reshape(xp.reshape(grad, (b, -1)).T @ xb, shape) / b + decay * W
            buf = schedule.momentum * buf + g
            W = W - lr * buf
        lr *= schedule.decay
        if evaluate is not None:
            evaluate(epoch, W)
        if progress is not None:
            progress()
    return W


def _logit_grad(xp, logits, targets, loss, rho):
    """dL/dZ (…, K) of the per-row loss, classes on the last axis.

    ``"ce"``: P − Q. ``"gce"`` (mean over the candidates of (1 − p^ρ)/ρ, weights Q):
    −a + P Σ_k a_k with a = Q ⊙ P^ρ, as :func:`labelavg.pll.loss_and_grad`.
    """
    probs = _softmax(xp, logits)
    if loss == "ce":
        return probs - targets
    a = targets * probs ** rho
    return probs * xp.sum(a, axis=-1, keepdims=True) - a


def _softmax(xp, logits):
    z = logits - xp.max(logits, axis=-1, keepdims=True)
    e = xp.exp(z)
    return e / xp.sum(e, axis=-1, keepdims=True)


class _Data:
    """The rows of one set on the device: fit features, validation and test rows."""

    def __init__(self, xp, data, rows, given):
        fit, val = rows
        dtype = xp.float64
        X = np.asarray(data.x_train, dtype=float)
        self.xp = xp
        self.x_fit = xp.asarray(X[fit], dtype=dtype)
        self.given_fit = np.asarray(given)[:, fit]                 # (C, N) host
        self.val = (xp.asarray(X[val], dtype=dtype),
                    xp.asarray(np.asarray(given)[:, val].T.astype(np.int64)))   # (Nv, C)
        self.test = (xp.asarray(np.asarray(data.x_test, dtype=float), dtype=dtype),
                     xp.asarray(np.asarray(data.y_test, dtype=np.int64)[:, None]))  # (Nt, 1)
        self.n_classes = int(data.n_classes)


def _logits(xp, W, X):
    """Z (n, P, K) = X Wᵀ for every trajectory, one 2-D product."""
    return xp.reshape(X @ xp.reshape(W, (-1, W.shape[-1])).T, (X.shape[0], W.shape[0], W.shape[1]))


def _accuracy(xp, W, X, y):
    """Accuracy (P,) of each W on rows X; y (n, P) or (n, 1) labels."""
    hits = xp.argmax(_logits(xp, W, X), axis=-1) == y
    return xp.mean(xp.astype(hits, W.dtype), axis=0)


class _Tracker:
    """The checkpoint of each output's rule, on the device.

    Output p follows trajectory ``source[p]`` under rule ``CHAINS[rule[p]]``
    (oracle: best test accuracy, honest: best noisy-validation accuracy, last:
    every epoch); ties keep the earlier epoch.
    """

    def __init__(self, xp, data, source, rule, cells):
        self.xp, self.data = xp, data
        self.val_labels = xp.take(data.val[1], xp.asarray(np.asarray(cells, dtype=np.int64)),
                                  axis=1)                      # (N_val, trajectories)
        self.source = xp.asarray(np.asarray(source, dtype=np.int64))
        rule = np.asarray(rule)
        self.is_oracle = xp.asarray(rule == 0)
        self.is_last = xp.asarray(rule == 1)
        self.best = xp.full(rule.shape, -1.0, dtype=xp.float64)
        self.W = self.test = self.val = self.epoch = None

    def __call__(self, epoch, W):
        xp = self.xp
        test = xp.take(_accuracy(xp, W, *self.data.test), self.source, axis=0)
        val = xp.take(_accuracy(xp, W, self.data.val[0], self.val_labels), self.source, axis=0)
        W = xp.take(W, self.source, axis=0)
        score = xp.where(self.is_oracle, test, val)
        if self.W is None:
            better = xp.ones_like(self.is_last)
            self.W, self.test, self.val = W, test, val
            self.epoch = xp.full(score.shape, epoch, dtype=xp.int64)
        else:
            better = (score > self.best) | self.is_last
        self.best = xp.where(better, score, self.best)
        self.W = xp.where(better[:, None, None], W, self.W)
        self.test = xp.where(better, test, self.test)
        self.val = xp.where(better, val, self.val)
        self.epoch = xp.where(better, xp.asarray(epoch, dtype=xp.int64), self.epoch)


def run_grid(data, rows, given, schedule, init_rngs, order_rng, *, wds=None, rounds=5,
             rho=0.7, xp=None, progress=None):
    """Teacher, students t = 2..rounds and the GCE PLL student for a grid of label draws.

    Every label draw (*cell*: noise model, η, seed) × weight decay × chain is
    one trajectory of one batched SGD (leading axis P = C·W·3, in that order),
    in the array namespace ``xp`` (NumPy by default; CuPy on a GPU), float64.

    Parameters
    ----------
    data : FeatureSet
        ``x_train``, ``x_test``, ``y_test``, ``n_classes`` (host arrays).
    rows : (fit rows, validation rows)
        Indices into the training rows, shared by every cell.
    given : ndarray (C, N_train)
        Noisy labels of every training row, one row per cell (the validation
        rows' are the only labels the honest rule reads).
    schedule : Schedule
    init_rngs : sequence of C numpy.random.Generator
        Cell c's initialisations (teacher, then each student) come from
        ``init_rngs[c]`` alone, shared by its weight decays and chains.
    order_rng : numpy.random.Generator
        The batch order, one permutation per epoch shared by every trajectory.
        So a cell's result does not depend on which other cells or weight
        decays are in the batch, given the same ``order_rng`` seed.
    wds : sequence of float, optional
        Weight decays (default ``(schedule.wd,)``).
    rounds : int
    rho : float
        GCE exponent of the PLL student (the authors' 0.7).
    xp : array namespace, optional
        Where to compute (``array_api_compat.numpy`` by default).
    progress : callable, optional
        Called after every epoch of every round ((rounds + 1) · epochs calls).

    Returns
    -------
    GridResult

    Raises
    ------
    ValueError
        Bad shapes or values, or more memory needed than :func:`memory_limit` allows.
    """
    if rho != 0.7:
        raise ValueError(f"rho: only the authors' 0.7 is implemented, got {rho!r}")
    _checks.integer_at_least("rounds", rounds, 1)
    wds = (schedule.wd,) if wds is None else tuple(float(w) for w in wds)
    if not wds:
        raise ValueError("wds must hold at least one weight decay, got none")
    for wd in wds:
        _check_wd("wds", wd)
    given = np.asarray(given)
    if given.ndim != 2 or given.shape[1] != np.asarray(data.y_train).size:
        raise ValueError(f"given must be (cells, {np.asarray(data.y_train).size}) labels, "
                         f"got shape {given.shape}")
    if len(init_rngs) != given.shape[0]:
        raise ValueError(f"init_rngs must hold one generator per cell ({given.shape[0]}), "
                         f"got {len(init_rngs)}")
    xp = _np_namespace if xp is None else xp
    n_cells, n_wds, n_chains = given.shape[0], len(wds), len(CHAINS)
    n_traj = n_cells * n_wds * n_chains
    _check_memory(xp, memory_needed(n_traj, int(data.n_classes), rows,
                                    np.asarray(data.x_train).shape[1],
                                    np.asarray(data.y_test).size))
    dev = _Data(xp, data, rows, given)
    n_classes, dim = dev.n_classes, dev.x_fit.shape[1]
    # trajectory p = (c · W + w) · 3 + r; the teacher's run once per (c, w)
    wd_p = np.repeat(np.tile(wds, n_cells), n_chains)
    chain_rule = np.tile(np.arange(n_chains), n_cells * n_wds)

    def inits():
        host = np.stack([default_init(n_classes, dim, rng) for rng in init_rngs])
        return xp.asarray(np.repeat(host, n_wds * n_chains, axis=0))

    def fit(targets, init, source, wd, loss="ce"):
        cells = np.arange(init.shape[0]) * n_cells // init.shape[0]   # cell of each trajectory
        track = _Tracker(xp, dev, source, chain_rule, cells)
        train(dev.x_fit, targets, init, wd, schedule, order_rng, loss=loss, rho=rho,
              evaluate=track, progress=progress)
        return track

    first = np.arange(0, n_traj, n_chains)                         # one per (c, w)
    onehot = xp.asarray(np.eye(n_classes)[dev.given_fit[np.repeat(np.arange(n_cells), n_wds)]]
                        .transpose(1, 0, 2))                       # (N, C·W, K)
    teacher = fit(onehot, xp.take(inits(), xp.asarray(first), axis=0),
                  np.repeat(np.arange(first.size), n_chains), wd_p[first])
    del onehot
    fits, W = [teacher], teacher.W
    for _ in range(2, rounds + 1):
        init = inits()
        targets = _softmax(xp, _logits(xp, W, dev.x_fit))
        fits.append(fit(targets, init, np.arange(n_traj), wd_p))
        W = fits[-1].W
        del targets
    fits.append(fit(_top2_targets(xp, _logits(xp, teacher.W, dev.x_fit)), teacher.W,
                    np.arange(n_traj), wd_p, loss="gce"))
    shape = (n_cells, n_wds, n_chains, len(fits))

    def out(name, kind):
        return np.stack([to_numpy(getattr(f, name)) for f in fits], axis=-1).astype(kind) \
            .reshape(shape)

    methods = ("teacher",) + tuple(f"t{t}" for t in range(2, rounds + 1)) + ("pll",)
    return GridResult(methods, wds, out("test", float), out("val", float), out("epoch", int),
                      "float64")


def _top2_targets(xp, logits):
    """Q (…, K): ½ on each of the two largest logits (ties: lowest index, as torch.topk's
    and :func:`labelavg.distill.pll_targets` ``ties="index"`` without a tolerance)."""
    classes = xp.arange(logits.shape[-1])
    first = xp.argmax(logits, axis=-1)[..., None] == classes
    rest = xp.where(first, -xp.inf, logits)
    second = xp.argmax(rest, axis=-1)[..., None] == classes
    return 0.5 * xp.astype(first, logits.dtype) + 0.5 * xp.astype(second, logits.dtype)


def memory_needed(n_traj, n_classes, rows, n_features, n_test):
    """Bytes (float64) of the largest arrays :func:`run_grid` holds at once.

    Targets and the logits and softmax building them (4 × N·P·K), evaluation logits
    ((N_val + N_test)·P·K), weights, momentum, checkpoints and gradients (6 × P·K·D).
    """
    fit, val = rows
    per = n_traj * n_classes
    return 8 * per * (4 * len(fit) + len(val) + n_test + 6 * n_features)


def memory_limit(xp):
    """Bytes run_grid may plan to use: half the GPU's memory for CuPy, else half the
    machine's RAM (at most 64 GiB)."""
    if is_cupy_namespace(xp):
        import cupy

        return int(cupy.cuda.Device().mem_info[1]) // 2
    total = _checks.physical_memory() or 16 << 30
    return min(total // 2, 64 << 30)


def _check_memory(xp, need):
    limit = memory_limit(xp)
    if need > limit:
        raise ValueError(f"run_grid: the grid needs about {need / 2**30:.3g} GiB, more than the "
                         f"limit of {limit / 2**30:.3g} GiB (half the device's memory); "
                         f"use fewer cells, weight decays or rows")


def run_rounds(data, rows, given, schedule, rng, *, rounds=5, rho=0.7):
    """Teacher, students t = 2..rounds and the GCE PLL student under the three rules.

    One label draw of :func:`run_grid` at the schedule's weight decay, NumPy.

    Parameters
    ----------
    data : FeatureSet
        ``x_train``, ``y_train`` (true labels), ``x_test``, ``y_test``.
    rows : (fit rows, validation rows)
        Indices into the training rows.
    given : ndarray (N_train,)
        Noisy labels of every training row (the validation rows' are the only
        labels the honest rule reads).
    schedule : Schedule
    rng : numpy.random.Generator
        Initialisations and batch orders.
    rounds : int
    rho : float
        GCE exponent of the PLL student (the authors' 0.7).

    Returns
    -------
    ChainResult
    """
    res = run_grid(data, rows, np.asarray(given)[None], schedule, [rng], rng,
                   rounds=rounds, rho=rho)
    return ChainResult(res.methods, res.test_accuracy[0, 0], res.epoch[0, 0])


def authors_superclasses(mean_correlation, cut=0.8):
    """Cluster ids (K,) by the authors' recipe (``util.py:220-226`` at 4092b2d).

    ``linkage(1 − mean_correlation, "complete")`` with the *square* K×K matrix,
    which SciPy reads as K observations in R^K (Euclidean distances between
    rows), then ``fcluster`` at ``cut`` × the largest merge height. Ids are
    0-based in order of first appearance, as :func:`labelavg.confusable_classes`.
    """
    import warnings

    from scipy.cluster.hierarchy import fcluster, linkage

    mean = np.asarray(mean_correlation, dtype=float)
    with warnings.catch_warnings():   # SciPy warns that a square matrix looks like distances
        warnings.simplefilter("ignore")
        tree = linkage(1.0 - mean, method="complete")
    raw = fcluster(tree, cut * tree[:, 2].max(), criterion="distance")
    _, first, ids = np.unique(raw, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[ids].astype(np.intp)
