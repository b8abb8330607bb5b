"""Result 2 of theory/THEORY.md: the spectrum of the block Gram matrix.

Symbols: K classes, n per class, N = Kn, c within a class, d across classes,
Φ_ii = 1. Claim:

    μ₁ = 1 − c                      multiplicity N − K   (contrasts within a class)
    μ₂ = 1 − c + n(c − d)           multiplicity K − 1   (contrasts of class indicators)
    μ₃ = 1 − c + n(c − d) + Knd     multiplicity 1       (all-ones)

Derivation (sympy): Φ acting on a vector that is constant on each class, with
value a_b on class b, gives on class a the value
a_a(1 + (n − 1)c) + n d Σ_{b≠a} a_b; on a vector that sums to zero inside each
class it gives (1 − c) times the vector. The eigenvalues follow, and the
multiplicities add to N with Σ mult·μ = trace Φ = N. Numerically, the closed
form (eigenvalue multisets and eigenspace projectors) is checked against
``numpy.linalg.eigh`` of materialised Gram matrices.

Run: ``python theory/block_spectrum.py``.
"""

import numpy as np
import sympy as sp

from labelavg.block import BlockModel, symbolic_spectrum


def derive():
    """Return the derived (μ₁, μ₂, μ₃) and check them against the library's."""
    spec = symbolic_spectrum()
    n, k, c, d = (spec.symbols[s] for s in ("n", "K", "c", "d"))
    a_own, a_sum = sp.symbols("a_a S")        # S = Σ_b a_b
    # class-constant vector: value at an instance of class a
    image = a_own * (1 + (n - 1) * c) + n * d * (a_sum - a_own)
    mu_contrast = sp.simplify(image.subs(a_sum, 0) / a_own)        # Σ a_b = 0
    mu_ones = sp.simplify(image.subs(a_sum, k * a_own) / a_own)    # all a_b equal
    mu_within = 1 - c     # x_i + c Σ_{j ≠ i, same class} x_j = x_i − c x_i
    derived = (mu_within, mu_contrast, mu_ones)
    for mine, lib in zip(derived, spec.values):
        if sp.simplify(mine - lib) != 0:
            raise AssertionError(f"derived {mine} != library {lib}")
    trace = sum(m * v for m, v in zip(spec.multiplicities, spec.values))
    if sp.simplify(trace - k * n) != 0 or sp.simplify(sum(spec.multiplicities) - k * n):
        raise AssertionError("multiplicities do not add up to N / trace N")
    return derived


def check_numeric(models):
    """Largest eigenvalue / projector error over ``models`` against eigh."""
    worst = 0.0
    for model in models:
        evals, evecs = np.linalg.eigh(model.gram())
        spec = model.spectrum()
        worst = max(worst, float(np.max(np.abs(spec.eigvals() - evals))))
        for value, proj in zip(spec.values, spec.projectors()):
            vecs = evecs[:, np.abs(evals - value) <= 1e-8 * max(1.0, evals.max())]
            worst = max(worst, float(np.max(np.abs(proj - vecs @ vecs.T))))
    return worst


def main():
    derived = derive()
    models = [BlockModel(k, n, c, d) for k, n, c, d in
              [(2, 5, 0.5, 0.2), (3, 7, 0.9, 0.1), (4, 25, 0.4, 0.1), (5, 8, 0.3, 0.05)]]
    err = check_numeric(models)
    if err > 1e-9:
        raise AssertionError(f"closed-form spectrum differs from eigh by {err:.3g}")
    print("Result 2 (block spectrum): derived", ", ".join(map(str, derived)))
    print(f"  eigenvalues and eigenspace projectors match eigh on {len(models)} "
          f"Gram matrices (max error {err:.1e})")


if __name__ == "__main__":
    main()
