"""Figure 6 (new): (η, t) phase diagram of label-correction accuracy.

Block model K = 4, n = 100, c = 0.4, d = 0.1, λ = 1e-4, symmetric noise with
the population histogram n·T, exact softmax fits by the reduced solver.
Overlaid: the linearised least round t*(η) of Result 3 and the least round at
which the exact solution is 100% right; they differ at this small λ.
"""

from pathlib import Path

import numpy as np

from labelavg import plot
from labelavg.phase import phase_diagram

NAME = "fig6_phase_diagram"
LAM = 1e-4


def main(out_dir, quick=False):
    """Write ``fig6_phase_diagram.png`` / ``.pdf``; return the PNG path."""
    eta = np.linspace(0, 0.75, 16 if quick else 76)
    rounds = range(1, 9 if quick else 21)
    diagram = phase_diagram(eta=eta, rounds=list(rounds), lam=LAM, c=0.4, d=0.1,
                            n_classes=4, n_per_class=100)
    fig = plot.phase_map(diagram, "label_correction",
                         title=f"label-correction accuracy, exact fits\nK = 4, n = 100, "
                               f"c = 0.4, d = 0.1, λ = {LAM:g}, symmetric noise")
    return plot.save(fig, Path(out_dir) / NAME)
