"""Figure 2a: eigenvalues g(μ)ᵗ of Gᵗ = (Φ(Φ + KNλI)⁻¹)ᵗ as t grows.

Φ is the Gram matrix of Gaussian-mixture features (K = 4, c = 0.4, d = 0.1,
D = 512), λ = 2e-4. The top K eigenvalues (class directions) stay near 1, the
rest decay geometrically: label averaging (Result 1).
"""

from pathlib import Path

from labelavg import plot
from labelavg.gram import spectrum
from labelavg.synthetic import gaussian_mixture

NAME = "fig2a_eigenvalues"
LAM = 2e-4


def main(out_dir, quick=False):
    """Write ``fig2a_eigenvalues.png`` / ``.pdf`` into ``out_dir``; return the PNG path."""
    data = gaussian_mixture(4, 30 if quick else 100, 512, 0.4, 0.1, rng=0)
    spec = spectrum(data.x_train @ data.x_train.T)
    fig = plot.eigenvalue_filter(spec.evals, lam=LAM, n_classes=4, rounds=(1, 2, 4, 8, 16),
                                 title=f"eigenvalues of Gᵗ = (Φ(Φ + KNλI)⁻¹)ᵗ\n"
                                       f"Gaussian mixture K = 4, N = {spec.evals.size}, "
                                       f"λ = {LAM:g}")
    return plot.save(fig, Path(out_dir) / NAME)
