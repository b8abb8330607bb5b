"""Figure 5b: gain of the PLL student with top-k partial labels, k = 2..4.

Hierarchical Gaussian mixture with K = 8 classes in superclasses of m = 4
(c = 0.4, d = 0.25, e = 0.05, D = 128, n = 100 per class), superclass noise
drawn per instance, λ = 1e-3, exact fits. Gain = test accuracy of the PLL
student trained on the teacher's top-k classes − teacher test accuracy, in
percentage points, on held-out instances (:func:`labelavg.figures.heldout_accuracy`);
mean ± std over seeds.
"""

from pathlib import Path

import numpy as np

from labelavg.figures import heldout_accuracy
from labelavg.figures.fig4_distillation_gain import LAM, superclass_data
from labelavg import noise, plot
from labelavg.distill import distill

NAME = "fig5b_pll_topk"
K, M, TOPK = 8, 4, (2, 3, 4)


def gains_at(eta, seed, n):
    """PLL gains (len(TOPK),) in points over the teacher."""
    data, clusters = superclass_data(K, M, n, seed)
    given = noise.sample_labels(data.y_train, noise.superclass(clusters, eta), seed)
    out = []
    for k in TOPK:
        path = distill(None, given, LAM, 1, features=data.x_train, n_classes=K,
                       pll_topk=k)
        acc, pll = heldout_accuracy(path, data.x_train, given, data.x_test,
                                    data.y_test, LAM)
        out.append(100 * (pll - acc[0]))
    return out


def main(out_dir, quick=False):
    """Write ``fig5b_pll_topk.png`` / ``.pdf``; return the PNG path."""
    etas = (0.3, 0.6) if quick else (0.2, 0.4, 0.6)
    seeds = range(1 if quick else 2)
    n = 30 if quick else 100
    gains = np.array([[gains_at(eta, seed, n) for seed in seeds] for eta in etas])
    fig = plot.distillation_gain(
        gains.mean(axis=1), errors=gains.std(axis=1) if len(seeds) > 1 else None,
        group_labels=[f"η = {eta}" for eta in etas],
        model_labels=[f"PLL top-{k}" for k in TOPK],
        title=f"PLL student gain over the teacher with top-k targets\n"
              f"superclass noise, K = {K}, m = {M}, λ = {LAM:g}, {len(seeds)} seed(s)")
    return plot.save(fig, Path(out_dir) / NAME)
