"""The hierarchical (superclass) variant of Results 1–2 in theory/THEORY.md.

Symbols: K classes, n per class, m classes per superclass (m divides K),
c within a class, d within a superclass, e across superclasses, Φ_ii = 1,
λ ridge, t fits, u = 1/K, g(μ) = μ/(μ + KNλ), m_c / m_S / m̄ the label
histograms of the class, the superclass and all instances.

Claim: the spectrum is

    μ₁ = 1 − c                                  N − K       within a class
    μ₂ = 1 − c + n(c − d)                       K − K/m     classes within a superclass
    μ₂' = 1 − c + n(c − d) + nm(d − e)          K/m − 1     superclass contrasts
    μ₃ = μ₂' + Kne                              1           all-ones

(theory/THEORY.md names μ₂' as the extra eigenvalue), and the linearised outputs are

    y⁽ᵗ⁾ = u + θᵗ(e(ŷ) − u) + (φᵗ − θᵗ)(m_c − u) + (φ'ᵗ − φᵗ)(m_S − u) + (ψᵗ − φ'ᵗ)(m̄ − u)

with θ, φ, φ', ψ = g(μ₁), g(μ₂), g(μ₂'), g(μ₃): superclasses add one more
level of label averaging. Derivation (sympy): Φ on class-constant vectors that
sum to zero inside every superclass, that are constant on superclasses and sum
to zero, and on all-ones. Numerically: eigh of materialised Gram matrices, the
closed form vs the eigen-filter, and the reduced exact solver vs the full
exact solver (``labelavg.distill.distill``) on a hierarchical Gram.

Run: ``python theory/hierarchical.py``.
"""

import numpy as np
import sympy as sp

from labelavg.block import BlockModel, labels_from_counts, symbolic_spectrum
from labelavg.gram import spectrum


def derive():
    """Derive μ₂, μ₂', μ₃ and check them against the library's symbolic spectrum."""
    spec = symbolic_spectrum(hierarchical=True)
    n, k, c, d, e, m = (spec.symbols[s] for s in ("n", "K", "c", "d", "e", "m"))
    own, sup_sum, total = sp.symbols("a_a S_sup S_all")
    # class-constant vector; at class a: own class, rest of its superclass, the others
    image = (own * (1 + (n - 1) * c) + n * d * (sup_sum - own)
             + n * e * (total - sup_sum))
    mu_class = sp.simplify(image.subs({sup_sum: 0, total: 0}) / own)
    mu_sup = sp.simplify(image.subs({sup_sum: m * own, total: 0}) / own)
    mu_all = sp.simplify(image.subs({sup_sum: m * own, total: k * own}) / own)
    for mine, lib in zip((1 - c, mu_class, mu_sup, mu_all), spec.values):
        if sp.simplify(mine - lib) != 0:
            raise AssertionError(f"derived {mine} != library {lib}")
    return mu_class, mu_sup, mu_all


def closed_form(model, lam, labels, t):
    """The four-level closed form (K, N) above (superclasses of size m, 1 < m < K)."""
    k, n, m = model.n_classes, int(model.n_per_class), model.superclass_size
    g = model.spectrum().values / (model.spectrum().values + k * model.n_samples * lam)
    theta, phi, phi_sup, psi = g ** t
    u = 1.0 / k
    onehot = np.eye(k)[:, labels]
    m_c = np.repeat(onehot.reshape(k, k, n).mean(axis=2), n, axis=1)
    m_s = np.repeat(onehot.reshape(k, k // m, m * n).mean(axis=2), m * n, axis=1)
    m_bar = onehot.mean(axis=1, keepdims=True)
    return (u + theta * (onehot - u) + (phi - theta) * (m_c - u)
            + (phi_sup - phi) * (m_s - u) + (psi - phi_sup) * (m_bar - u))


def check_numeric():
    """Max errors: spectrum vs eigh, closed form vs filter, reduced vs full solver."""
    from labelavg.distill import distill

    rng = np.random.default_rng(1)
    errs = [0.0, 0.0, 0.0]
    for k, n, m, c, d, e in [(4, 6, 2, 0.7, 0.3, 0.05), (6, 4, 3, 0.5, 0.3, 0.1)]:
        model = BlockModel(k, n, c, d, superclass_size=m, e=e)
        gram = model.gram()
        evals = np.linalg.eigvalsh(gram)
        errs[0] = max(errs[0], float(np.max(np.abs(model.spectrum().eigvals() - evals))))
        spec = spectrum(gram)
        true = np.repeat(np.arange(k), n)
        labels = np.where(rng.random(k * n) < 0.4, rng.integers(0, k, k * n), true)
        for t in (1, 3, 6):
            filt = 1 / k + spec.apply(np.eye(k)[:, labels] - 1 / k, spec.filter(1e-3, k, t))
            errs[1] = max(errs[1], float(np.max(np.abs(filt - closed_form(model, 1e-3, labels, t)))))
        counts = np.stack([rng.multinomial(n, rng.dirichlet(np.ones(k))) for _ in range(k)])
        path = distill(gram, labels_from_counts(counts), 1e-3, 3, tol=1e-12, n_classes=k)
        sol = model.solve(counts=counts, lam=1e-3, rounds=3, tol=1e-12)
        errs[2] = max(errs[2], float(np.max(np.abs(sol.expand(sol.probs) - path.probs))))
    return errs


def main():
    derived = derive()
    errs = check_numeric()
    limits = (1e-9, 1e-10, 1e-8)
    names = ("spectrum vs eigh", "closed form vs eigen-filter", "reduced vs full exact")
    for name, err, limit in zip(names, errs, limits):
        if err > limit:
            raise AssertionError(f"hierarchical {name}: error {err:.3g} > {limit:g}")
    print("Hierarchical Gram: derived μ₂, μ₂', μ₃ =", ", ".join(map(str, derived)))
    print("  " + "; ".join(f"{n} {e:.1e}" for n, e in zip(names, errs)))


if __name__ == "__main__":
    main()
