"""Figure scripts: one module per figure; ``labelavg figures`` rebuilds them all.

Symbols: K classes, n per class, N = Kn, c / d (/ e) block correlations, m
superclass size, λ ``lam``, η ``eta``, t the number of fits (t = 1 is the
teacher), T[c, j] = P(given j | true c) (rows = true class, rows sum to 1).

Each ``labelavg/figures/figNN_<name>.py`` has ``main(out_dir, quick=False)`` writing
``<out_dir>/figNN_<name>.png`` and ``.pdf`` and returning the PNG path;
``quick=True`` shrinks grids and sample sizes for tests. Computing is done by
:mod:`labelavg`, drawing by :mod:`labelavg.plot`. They ship with the package,
so ``labelavg figures`` works from any install; in a source checkout
``python -m figures`` runs the same scripts into ``figures/out``.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import numpy as np

#: Figure modules in build order.
SCRIPTS = ("fig1_gram", "fig2a_eigenvalues", "fig2b_simplex", "fig3a_accuracy_vs_eta",
           "fig3b_softmax_trajectories", "fig4_distillation_gain", "fig5b_pll_topk",
           "fig6_phase_diagram", "fig7_least_round")

def select(only=None):
    """The names of :data:`SCRIPTS` to build, in build order (all when ``only`` is None).

    Raises
    ------
    ValueError
        On a name in ``only`` that is not a figure script.
    """
    unknown = sorted(set(only or ()) - set(SCRIPTS))
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; choose from {list(SCRIPTS)}")
    return [name for name in SCRIPTS if only is None or name in only]


def build_all(out_dir, quick=False, report=None, only=None):
    """Run the figure scripts; return ``[(png path, seconds), ...]``.

    Parameters
    ----------
    out_dir : str or Path
    quick : bool
        Small grids (a few seconds per figure).
    report : callable, optional
        ``report(name, png_path, seconds)`` after each figure.
    only : sequence of str, optional
        Names from :data:`SCRIPTS` to build (default all).

    Raises
    ------
    ValueError
        On a name in ``only`` that is not a figure script.
    """
    done = []
    for name in select(only):
        start = time.perf_counter()
        png = importlib.import_module(f"{__name__}.{name}").main(out_dir, quick=quick)
        seconds = time.perf_counter() - start
        done.append((png, seconds))
        if report is not None:
            report(name, png, seconds)
    return done


def heldout_accuracy(path, features, labels, x_test, y_test, lam):
    """Test accuracy of every fit of a feature-based :class:`labelavg.DistillPath`.

    Parameters
    ----------
    path : labelavg.DistillPath
        From ``distill(None, labels, lam, rounds, features=features)``.
    features : array (N, D)
        Training rows F.
    labels : int array (N,)
        The given labels the teacher was trained on.
    x_test : array (M, D)
    y_test : int array (M,)
    lam : float

    Returns
    -------
    rounds : ndarray (rounds,)
        Test accuracy of fit t = 1..rounds.
    pll : float
        Test accuracy of the PLL student.

    Notes
    -----
    Fit t has coefficients W = A F with A = (Q − P)/(Nλ), Q its targets
    (one-hot labels for t = 1, Y⁽ᵗ⁻¹⁾ after) and P its outputs, so the test
    logits are (Q − P) F F_testᵀ / (Nλ).
    """
    n_classes, n_samples = path.probs.shape[1:]
    cross = features @ x_test.T / (n_samples * lam)
    targets = [np.eye(n_classes)[labels].T, *path.probs[:-1], path.pll_targets]
    outputs = [*path.probs, path.pll_probs]
    acc = np.array([np.mean(((q - p) @ cross).argmax(axis=0) == y_test)
                    for q, p in zip(targets, outputs)])
    return acc[:-1], float(acc[-1])
