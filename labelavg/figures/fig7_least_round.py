"""Figure 7 (new): least number of fits for 100% label correction over (η, λ).

Block model K = 4, n = 100, c = 0.4, d = 0.1, symmetric noise n·T. Left: the
linearised t* of Result 3; middle: the least round of the exact softmax
solution (reduced solver, searched up to 30 fits); right: exact − linearised.
Grey: not reached within 30 fits (or infeasible, η ≥ 3/4).
"""

from pathlib import Path

import numpy as np

from labelavg import plot
from labelavg.phase import phase_diagram

NAME = "fig7_least_round"


def main(out_dir, quick=False):
    """Write ``fig7_least_round.png`` / ``.pdf``; return the PNG path."""
    eta = np.linspace(0.05, 0.7, 6 if quick else 14)
    lam = np.logspace(-5, -2, 4 if quick else 13)
    diagram = phase_diagram(eta=eta, lam=lam, rounds=10 if quick else 30, c=0.4, d=0.1,
                            n_classes=4, n_per_class=100, pll_topk=None,
                            n_jobs=1 if quick else 2)
    return plot.save(plot.least_round_map(diagram), Path(out_dir) / NAME)
