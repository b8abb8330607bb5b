"""Figure 2b: K = 4 softmax outputs projected to 2-D, teacher and later students.

Gaussian-mixture features (c = 0.4, d = 0.1, D = 256), symmetric noise η = 0.5
assigned in exact counts, λ = 2e-4, exact softmax fits
(:func:`labelavg.distill.distill`). Each output p is drawn at Σ_k p_k v_k with
v_k the corners of a square; colour = true class. Noisy instances start near
their given label's corner and move to their class's cluster over the fits.
"""

from pathlib import Path

from labelavg import noise, plot
from labelavg.distill import distill
from labelavg.synthetic import gaussian_mixture

NAME = "fig2b_simplex"
LAM, ETA, SHOWN = 2e-4, 0.5, (1, 2, 4, 6)


def main(out_dir, quick=False):
    """Write ``fig2b_simplex.png`` / ``.pdf`` into ``out_dir``; return the PNG path."""
    data = gaussian_mixture(4, 30 if quick else 100, 256, 0.4, 0.1, rng=1)
    given = noise.assign_labels_exact(data.y_train, noise.symmetric(4, ETA), rng=1)
    path = distill(None, given, LAM, max(SHOWN), features=data.x_train,
                   true_labels=data.y_train)
    panels = {("teacher t = 1" if t == 1 else f"student t = {t}") +
              f"\nlabel correction {100 * path.accuracy[t - 1].all:.0f}%": path.probs[t - 1]
              for t in SHOWN}
    fig = plot.simplex_projection(panels, data.y_train,
                                  title=f"softmax outputs (K = 4) projected on a square; "
                                        f"symmetric η = {ETA}, λ = {LAM:g}")
    return plot.save(fig, Path(out_dir) / NAME)
