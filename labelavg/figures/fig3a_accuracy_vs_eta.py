"""Figure 3a: label-correction accuracy vs η for the teacher, students and PLL.

Block model K = 4, n = 100, c = 0.4, d = 0.1, λ = 2e-4, symmetric noise with
the population histogram n·T; exact softmax fits by the reduced solver
(:func:`labelavg.phase.phase_diagram`). Dotted lines: Result 3's linearised
edge for each t, η < (K − 1)/K · (1 − 1/((φ/θ)ᵗ − 1)), and the plurality edge
η < (K − 1)/K for the PLL student (Result 4).
"""

from pathlib import Path

import numpy as np

from labelavg import plot
from labelavg.block import BlockModel
from labelavg.noise import symmetric
from labelavg.phase import phase_diagram
from labelavg.theorems import full_accuracy

NAME = "fig3a_accuracy_vs_eta"
K, N, C, D, LAM, ROUNDS = 4, 100, 0.4, 0.1, 2e-4, 5


def eta_edge(t, ratio):
    """Largest η (symmetric noise) with 100% linearised accuracy after t fits."""
    return max(0.0, (K - 1) / K * (1 - 1 / (ratio ** t - 1)))


def main(out_dir, quick=False):
    """Write ``fig3a_accuracy_vs_eta.png`` / ``.pdf``; return the PNG path."""
    eta = np.linspace(0, 0.8, 17 if quick else 81)
    diagram = phase_diagram(eta=eta, rounds=list(range(1, ROUNDS + 1)), lam=LAM, c=C,
                            d=D, n_classes=K, n_per_class=N)
    ratio = full_accuracy(BlockModel(K, N, C, D), symmetric(K, 0.1), lam=LAM,
                          exact=False).params["ratio"]
    acc = diagram.values["label_correction"]
    curves = {("teacher t = 1" if t == 1 else f"student t = {t}"): acc[:, t - 1]
              for t in range(1, ROUNDS + 1)}
    curves["PLL student"] = diagram.values["pll_label_correction"][:, 0]
    edges = {name: eta_edge(t, ratio) for t, name in enumerate(list(curves)[:-1], 1)}
    edges["PLL student"] = (K - 1) / K
    fig = plot.accuracy_vs_eta(eta, curves, edges=edges,
                               title=f"exact fits, block model K = {K}, n = {N},\n"
                                     f"c = {C}, d = {D}, λ = {LAM:g}, symmetric noise")
    return plot.save(fig, Path(out_dir) / NAME)
