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
round. :func:`run_rounds` runs three *chains* side by side, each choosing its
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

import numpy as np

from . import _checks
from .distill import pll_targets
from .pll import loss_and_grad

__all__ = ["CHAINS", "Schedule", "ChainResult", "authors_superclasses", "run_rounds", "train"]

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
        if not (np.isfinite(self.wd) and self.wd >= 0):
            raise ValueError(f"wd must be finite and >= 0, got {self.wd!r}")
        for name in ("epochs", "batch"):
            _checks.integer_at_least(name, getattr(self, name), 1)


@dataclass(frozen=True)
class ChainResult:
    """Test accuracy and chosen epoch (1-based) of every fit, per chain.

    ``test_accuracy[c][m]`` and ``epoch[c][m]`` for chain ``CHAINS[c]`` and
    method m in ``methods`` (``"teacher"``, ``"t2"``, ..., ``"pll"``).
    """

    methods: tuple
    test_accuracy: np.ndarray
    epoch: np.ndarray


def default_init(n_classes, n_features, rng):
    """W (K, D) uniform in ±1/√D, as PyTorch's ``nn.Linear`` default (kaiming_uniform, a=√5)."""
    bound = 1.0 / np.sqrt(n_features)
    return rng.uniform(-bound, bound, size=(n_classes, n_features))


def train(X, targets, init, schedule, rng, *, loss="ce", evaluate=None):
    """SGD on chains of weights at once; returns the weights after every epoch.

    Parameters
    ----------
    X : ndarray (N, D)
    targets : ndarray (C, K, N)
        One target matrix per chain: probabilities (``loss="ce"``: soft
        cross-entropy, one-hot for hard labels) or PLL targets (``loss="gce"``).
    init : ndarray (C, K, D)
    schedule : Schedule
    rng : numpy.random.Generator
        Draws the batch order (shared by the chains).
    loss : {"ce", "gce"}
    evaluate : callable, optional
        Called as ``evaluate(epoch, W)`` with W (C, K, D) after every epoch.

    Returns
    -------
    ndarray (C, K, D): the weights after the last epoch.

    Notes
    -----
    PyTorch's SGD: g = ∇(mean batch loss) + wd W; b ← μ b + g (b = g at the first
    step); W ← W − lr b; lr ← 0.98 lr after every epoch.
    """
    W = np.array(init, dtype=float)
    buf = np.zeros_like(W)
    lr, n = schedule.lr, X.shape[0]
    for epoch in range(1, schedule.epochs + 1):
        order = rng.permutation(n)
        for start in range(0, n, schedule.batch):
            rows = order[start:start + schedule.batch]
            xb = X[rows]
            logits = _logits(W, xb)                              # (C, K, B)
            grad = _logit_grad(logits, targets[:, :, rows], loss)
            g = (grad.reshape(-1, rows.size) @ xb).reshape(W.shape) / rows.size \
                + schedule.wd * W
            buf = schedule.momentum * buf + g
            W = W - lr * buf
        lr *= schedule.decay
        if evaluate is not None:
            evaluate(epoch, W)
    return W


def _logit_grad(logits, targets, loss):
    if loss == "ce":
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True) - targets
    return np.stack([loss_and_grad(z, q, "gce", 0.7)[1] for z, q in zip(logits, targets)])


class _Tracker:
    """Per chain: the checkpoint of its rule (oracle: test, honest: noisy validation)."""

    def __init__(self, x_test, y_test, x_val, y_val_noisy, n_chains):
        self.test, self.val = (x_test, y_test), (x_val, y_val_noisy)
        self.best = np.full((n_chains, 2), -1.0)   # best (test, val) accuracy so far
        self.W = [None] * n_chains
        self.epoch = np.zeros(n_chains, dtype=int)
        self.last = None

    def __call__(self, epoch, W):
        test = _accuracy(W, *self.test)
        val = _accuracy(W, *self.val)
        for c, rule in enumerate(CHAINS):
            score = {"oracle": test[c], "honest": val[c], "last": np.inf}[rule]
            if score > self.best[c, 0 if rule == "oracle" else 1] or rule == "last":
                self.best[c, 0 if rule == "oracle" else 1] = score
                self.W[c], self.epoch[c] = W[c].copy(), epoch

    def chosen(self):
        return np.stack(self.W), self.epoch.copy()


def _logits(W, X):
    """Z (C, K, n) = W X^T per chain, as one 2-D product (a stacked matmul with a
    transposed operand misses BLAS in NumPy)."""
    return (W.reshape(-1, W.shape[-1]) @ X.T).reshape(W.shape[0], W.shape[1], X.shape[0])


def _accuracy(W, X, y):
    """Accuracy (C,) of each chain's W on rows X against labels y."""
    return (_logits(W, X).argmax(axis=1) == y).mean(axis=1)


def run_rounds(data, rows, given, schedule, rng, *, rounds=5, rho=0.7):
    """Teacher, students t = 2..rounds and the GCE PLL student under the three rules.

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
    if rho != 0.7:
        raise ValueError(f"rho: only the authors' 0.7 is implemented, got {rho!r}")
    fit, val = rows
    X = np.asarray(data.x_train, dtype=float)
    x_fit, x_val = X[fit], X[val]
    x_test, y_test = np.asarray(data.x_test, dtype=float), np.asarray(data.y_test)
    n_classes, n_features, n_chains = int(data.n_classes), X.shape[1], len(CHAINS)

    def fit_chains(targets, init, loss="ce"):
        track = _Tracker(x_test, y_test, x_val, given[val], n_chains)
        train(x_fit, targets, init, schedule, rng, loss=loss, evaluate=track)
        W, epochs = track.chosen()
        return W, epochs, _accuracy(W, x_test, y_test)

    onehot = np.eye(n_classes)[given[fit]].T
    # the teacher is one run: its three checkpoints come from the same trajectory
    teacher, epochs, acc = fit_chains(np.repeat(onehot[None], n_chains, axis=0),
                                      np.repeat(default_init(n_classes, n_features, rng)[None],
                                                n_chains, axis=0))
    accs, chosen = [acc], [epochs]
    W = teacher
    for _ in range(2, rounds + 1):
        targets = _softmax(_logits(W, x_fit))
        init = np.stack([default_init(n_classes, n_features, rng)] * n_chains)
        W, epochs, acc = fit_chains(targets, init)
        accs.append(acc)
        chosen.append(epochs)
    pll = np.stack([pll_targets(z, 2, "index") for z in _logits(teacher, x_fit)])
    _, epochs, acc = fit_chains(pll, teacher, loss="gce")
    accs.append(acc)
    chosen.append(epochs)
    methods = ("teacher",) + tuple(f"t{t}" for t in range(2, rounds + 1)) + ("pll",)
    return ChainResult(methods, np.array(accs).T, np.array(chosen).T)


def _softmax(logits):
    z = logits - logits.max(axis=-2, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-2, keepdims=True)


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
