"""Figure 3b: softmax values across fits at η = 0.5 (mean ± std over instances).

Gaussian-mixture features (K = 4, c = 0.4, d = 0.1, D = 1000 ≥ N, so the
teacher can fit every given label and its Gram is near the block model),
symmetric noise η = 0.5 in exact counts, λ = 2e-4, exact fits (dual form on
the N×N Gram, the cheaper form when D ≥ N). Four
kinds of value: the true label of clean instances, the given (wrong) label
of noisy instances, the true label of noisy instances, and every other label.
"""

from pathlib import Path

import numpy as np

from labelavg import noise, plot
from labelavg.distill import distill
from labelavg.synthetic import gaussian_mixture

NAME = "fig3b_softmax_trajectories"
LAM, ETA = 2e-4, 0.5


def trajectories(probs, true, given):
    """Name → (mean (R,), std (R,)) of the four kinds of softmax value."""
    cols = np.arange(true.size)
    clean = true == given
    other = np.ones(probs.shape[1:], dtype=bool)
    other[true, cols] = other[given, cols] = False
    picks = {"clean: true label": lambda p: p[true, cols][clean],
             "noisy: given label": lambda p: p[given, cols][~clean],
             "noisy: true label": lambda p: p[true, cols][~clean],
             "other labels": lambda p: p[other]}
    return {name: (np.array([pick(p).mean() for p in probs]),
                   np.array([pick(p).std() for p in probs]))
            for name, pick in picks.items()}


def main(out_dir, quick=False):
    """Write ``fig3b_softmax_trajectories.png`` / ``.pdf``; return the PNG path."""
    rounds = 5 if quick else 10
    data = gaussian_mixture(4, 30 if quick else 100, 1000, 0.4, 0.1, rng=2)
    given = noise.assign_labels_exact(data.y_train, noise.symmetric(4, ETA), rng=2)
    path = distill(data.x_train @ data.x_train.T, given, LAM, rounds, pll_topk=2)
    fig = plot.softmax_trajectories(np.arange(1, rounds + 1),
                                    trajectories(path.probs, data.y_train, given),
                                    title=f"softmax outputs across fits (mean ± std)\n"
                                          f"Gaussian mixture K = 4, symmetric η = {ETA}, "
                                          f"λ = {LAM:g}")
    return plot.save(fig, Path(out_dir) / NAME)
