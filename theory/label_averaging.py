"""Result 1 of theory/THEORY.md on the block model: self-distillation is label averaging.

Symbols: K classes, n per class, N = Kn, λ ridge, t fits, u = 1/K, Φ the block
Gram (c within, d across), μ its eigenvalues, g(μ) = μ/(μ + KNλ), θ = g(μ₁),
φ = g(μ₂), ψ = g(μ₃), e(ŷ_i) the one-hot given label of instance i, m_c the
label histogram of class c, m̄ the overall histogram.

Claim: linearising softmax at the uniform point, softmax(z) ≈ (1 + z)/K, each
fit multiplies the component of Y − J/K along eigenvector v_m by g(μ_m), so

    Y⁽ᵗ⁾ − J/K = (Y⁽⁰⁾ − J/K) Gᵗ,  G = Φ(Φ + KNλ I)⁻¹,

and on the block model, instance i of true class c(i) gets

    y_i⁽ᵗ⁾ = u + θᵗ(e(ŷ_i) − u) + (φᵗ − θᵗ)(m_{c(i)} − u) + (ψᵗ − φᵗ)(m̄ − u).

Derivation (sympy): along one eigendirection with eigenvalue μ, the linearised
fixed point K p − 1 = (q − p) μ/(Nλ) solves to p − u = g(μ)(q − u). The
closed form then follows from Gᵗ = θᵗ P₁ + φᵗ P₂ + ψᵗ P₃ with the projectors
of Result 2. Numerically, the closed form is compared with (a) the eigen-filter
on the materialised Gram (``labelavg.gram.spectrum``) and (b) a direct linear
solve of each linearised round, for random (not exactly balanced) labels.

Run: ``python theory/label_averaging.py``.
"""

import numpy as np
import sympy as sp

from labelavg.block import BlockModel
from labelavg.gram import spectrum


def derive():
    """The one-direction linearised fit: p − u = g(μ)(q − u). Returns g."""
    k, n_lam, mu, q, p = sp.symbols("K N_lambda mu q p", positive=True)
    solution = sp.solve(sp.Eq(k * p - 1, (q - p) * mu / n_lam), p)[0]
    g = mu / (mu + k * n_lam)
    if sp.simplify(solution - 1 / k - g * (q - 1 / k)) != 0:
        raise AssertionError(f"linearised fit gives {solution}, not u + g(q − u)")
    return g


def closed_form(model, lam, labels, t):
    """Result 1/2 closed form (K, N) for given labels (true classes in order)."""
    k, n = model.n_classes, int(model.n_per_class)
    values = model.spectrum().values
    theta, phi, psi = values / (values + k * model.n_samples * lam)
    u = 1.0 / k
    onehot = np.eye(k)[:, labels]
    m_c = onehot.reshape(k, k, n).mean(axis=2)           # (labels, true class)
    m_bar = onehot.mean(axis=1, keepdims=True)
    return (u + theta ** t * (onehot - u) + (phi ** t - theta ** t)
            * (np.repeat(m_c, n, axis=1) - u) + (psi ** t - phi ** t) * (m_bar - u))


def filtered(gram, lam, labels, t, k):
    """Eigen-filter Y⁽ᵗ⁾ = J/K + (Y⁽⁰⁾ − J/K) V g(μ)ᵗ Vᵀ on the materialised Gram."""
    spec = spectrum(gram)
    return 1.0 / k + spec.apply(np.eye(k)[:, labels] - 1.0 / k, spec.filter(lam, k, t))


def solved(gram, lam, labels, t, k):
    """t linearised fits, each by a direct solve of K P − J = (Q − P)Φ/(Nλ)."""
    n_samples = gram.shape[0]
    targets = np.eye(k)[:, labels]
    system = k * np.eye(n_samples) + gram / (n_samples * lam)
    for _ in range(t):
        targets = np.linalg.solve(system, (1 + targets @ gram / (n_samples * lam)).T).T
    return targets


def main():
    g = derive()
    rng = np.random.default_rng(0)
    worst = 0.0
    for k, n, c, d, lam in [(4, 15, 0.4, 0.1, 1e-3), (3, 12, 0.7, 0.2, 1e-4),
                            (2, 20, 0.5, 0.0, 1e-2)]:
        model = BlockModel(k, n, c, d)
        gram = model.gram()
        true = np.repeat(np.arange(k), n)
        labels = np.where(rng.random(k * n) < 0.4, rng.integers(0, k, k * n), true)
        for t in range(1, 7):
            ref = closed_form(model, lam, labels, t)
            for other in (filtered(gram, lam, labels, t, k),
                          solved(gram, lam, labels, t, k)):
                worst = max(worst, float(np.max(np.abs(other - ref))))
    if worst > 1e-10:
        raise AssertionError(f"closed form differs from the eigen-filter by {worst:.3g}")
    print(f"Result 1 (label averaging): linearised fit along μ is g(μ) = {g}")
    print(f"  closed form θᵗ/φᵗ/ψᵗ = eigen-filter = direct solve, t = 1..6, "
          f"3 block models, max error {worst:.1e}")


if __name__ == "__main__":
    main()
