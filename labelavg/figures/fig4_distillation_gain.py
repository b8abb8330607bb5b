"""Figure 4: distillation gain under superclass noise on hierarchical data.

Hierarchical Gaussian mixture: K = 6 classes in superclasses of m = 3, class-mean
cosines c = 0.4 within a class, d = 0.25 within a superclass, e = 0.05 across,
D = 128, n = 100 per class and 100 test instances per class. Labels are drawn
per instance from superclass noise (T[c, c] = 1 − η, η spread over the other
classes of c's superclass). Exact fits on the features, λ = 1e-3.

Gain = test accuracy of student t (or of the PLL student) − test accuracy of
the teacher, in percentage points, on held-out instances of the mixture
(logits (Q − P) F F_testᵀ / (Nλ), :func:`labelavg.figures.heldout_accuracy`); bars are
the mean over seeds, error bars one standard deviation.
"""

from pathlib import Path

import numpy as np

from labelavg.figures import heldout_accuracy
from labelavg import noise, plot
from labelavg.distill import distill
from labelavg.synthetic import gaussian_mixture

NAME = "fig4_distillation_gain"
K, M, C, D, E, DIM, LAM, ROUNDS = 6, 3, 0.4, 0.25, 0.05, 128, 1e-3, 5


def superclass_data(n_classes, superclass_size, n, seed):
    """Hierarchical mixture and the superclass clusters of its classes."""
    data = gaussian_mixture(n_classes, n, DIM, C, D, superclass_size=superclass_size,
                            e=E, rng=seed)
    clusters = np.arange(n_classes) // superclass_size
    return data, clusters


def gains_at(eta, seed, n):
    """Gains (ROUNDS,) in points: students t = 2..ROUNDS, then PLL."""
    data, clusters = superclass_data(K, M, n, seed)
    given = noise.sample_labels(data.y_train, noise.superclass(clusters, eta), seed)
    path = distill(None, given, LAM, ROUNDS, features=data.x_train, n_classes=K)
    acc, pll = heldout_accuracy(path, data.x_train, given, data.x_test, data.y_test, LAM)
    return 100 * (np.append(acc[1:], pll) - acc[0])


def main(out_dir, quick=False):
    """Write ``fig4_distillation_gain.png`` / ``.pdf``; return the PNG path."""
    etas = (0.3, 0.5) if quick else (0.2, 0.3, 0.4, 0.5, 0.6)
    seeds = range(1 if quick else 3)
    n = 30 if quick else 100
    gains = np.array([[gains_at(eta, seed, n) for seed in seeds] for eta in etas])
    fig = plot.distillation_gain(
        gains.mean(axis=1), errors=gains.std(axis=1) if len(seeds) > 1 else None,
        group_labels=[f"η = {eta}" for eta in etas],
        model_labels=[f"t = {t}" for t in range(2, ROUNDS + 1)] + ["PLL (k = 2)"],
        title=f"test-accuracy gain over the teacher, superclass noise\n"
              f"K = {K}, m = {M}, c/d/e = {C}/{D}/{E}, D = {DIM}, λ = {LAM:g}, "
              f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''}")
    return plot.save(fig, Path(out_dir) / NAME)
