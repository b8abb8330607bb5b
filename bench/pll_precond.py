"""Why the PLL student's fit costs more than the teacher's: Hessian-vector products
(HVP) per fit under stronger preconditioners, and the spectrum of the preconditioned
Hessian at each optimum (issue 18, item 4).

The PLL student's two-way split outputs make its Hessian (1/N) Σ_i S_i ⊗ f_i f_iᵀ + λI
vary more from instance to instance than the teacher's; the two-level preconditioner
(:meth:`labelavg.fixed_point._Basis.inverse`) averages S_i within groups of instances.
This script measures, on the shipped sets with symmetric η = 0.5 labels, λ = 1e-4,
float64, default tol, the teacher's and the PLL's HVP counts (deterministic: no
timing) with

* ``shipped``: the default rank r of the top block, groups = argmax class;
* ``rank=D``: the top block over all D directions (Σ_c M_c ⊗ C_c exactly);
* ``rank=D pairs``: the same, groups = the unordered top-2 pair of classes (the
  grouping that matches two-way split outputs; up to K(K−1)/2 groups).

The last two cost far more than an HVP per Newton step (a K·D Cholesky): they bound
what any grouped Kronecker preconditioner can do. ``--spectrum`` also prints the
eigenvalues of A⁻¹H (A the shipped preconditioner) at the teacher's and the PLL's
optimum on one set (K·D HVPs: use a small set)::

    OPENBLAS_NUM_THREADS=1 python bench/pll_precond.py
    OPENBLAS_NUM_THREADS=1 python bench/pll_precond.py --sets digits_effnet --spectrum
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from labelavg import fixed_point, noise
from labelavg.datasets import load
from labelavg.distill import pll_targets

LAM = 1e-4


def pair_groups(xp, probs):
    """Unordered top-2 pair of classes of each instance, as one integer id."""
    k = probs.shape[0]
    top2 = np.argsort(-probs, axis=0)[:2]
    return np.minimum(top2[0], top2[1]) * k + np.maximum(top2[0], top2[1])


class counting:
    """Counts _Rows.hessian_pass calls while active; sets rank and grouping."""

    def __init__(self, rank=None, groups=None):
        self.rank, self.groups, self.count = rank, groups, 0

    def __enter__(self):
        self.saved = (fixed_point._Rows.hessian_pass, fixed_point._subspace_rank,
                      fixed_point._coupling_groups)
        plain = self.saved[0]

        def hessian_pass(rows, v, probs):
            self.count += 1
            return plain(rows, v, probs)

        fixed_point._Rows.hessian_pass = hessian_pass
        if self.rank is not None:
            fixed_point._subspace_rank = lambda k, n, d: min(self.rank, d)
        if self.groups is not None:
            fixed_point._coupling_groups = self.groups
        return self

    def __exit__(self, *exc):
        (fixed_point._Rows.hessian_pass, fixed_point._subspace_rank,
         fixed_point._coupling_groups) = self.saved


def teacher_and_pll(x, onehot):
    """(teacher fit, PLL fit, teacher HVP, PLL HVP, problem) under the active setting."""
    problem = fixed_point._Primal.build(x, onehot, LAM)
    tol = fixed_point.default_tol(x.dtype)
    with counting() as hvp:
        teacher = fixed_point._newton(problem, None, tol, 100)
        n_teacher = hvp.count
        q_pll = pll_targets(np.asarray(teacher.probs), 2, "split")
        pll = fixed_point._newton(replace(problem, targets=q_pll), teacher.coef, tol, 100)
    for fit in (teacher, pll):
        if not fit.converged:
            raise RuntimeError(f"fit did not converge (residual {fit.residual:.1e})")
    return teacher, pll, n_teacher, hvp.count - n_teacher, problem


def noisy_onehot(data):
    given = noise.sample_labels(data.y_train, noise.symmetric(data.n_classes, 0.5),
                                np.random.default_rng(0))
    return np.eye(data.n_classes)[given].T


def hvp_table(sets):
    print("HVP per fit, teacher / PLL (float64, λ = 1e-4, symmetric η = 0.5, seed 0)")
    for name in sets:
        data = load(name)
        x, onehot = data.x_train.astype(np.float64), noisy_onehot(data)
        d = x.shape[1]
        cells = []
        for label, rank, groups in (("shipped", None, None), ("rank=D", d, None),
                                    ("rank=D pairs", d, pair_groups)):
            with counting(rank, groups):
                _, _, h_t, h_p, _ = teacher_and_pll(x, onehot)
            cells.append(f"{label} {h_t} / {h_p} ({h_p / h_t:.2f}x)")
        print(f"{name} (K={data.n_classes}, D={d}): " + " | ".join(cells), flush=True)


def preconditioned_spectrum(problem, probs):
    """Eigenvalues of A⁻¹H at ``probs`` (A the shipped two-level preconditioner),
    from the K·D images of the unit vectors."""
    k, d = problem.targets.shape[0], problem.features.shape[1]
    n = problem.targets.shape[1]
    prec = problem.basis.inverse(np, probs, LAM, two_level=True)
    columns = []
    for j in range(k * d):
        unit = np.zeros(k * d)
        unit[j] = 1.0
        v = unit.reshape(k, d)
        _, pulled = problem.features.hessian_pass(v, probs)
        columns.append(prec(pulled / n + LAM * v).ravel())
    return np.sort(np.linalg.eigvals(np.array(columns).T).real)


def spectrum(name):
    data = load(name)
    teacher, pll, _, _, problem = teacher_and_pll(data.x_train.astype(np.float64),
                                                  noisy_onehot(data))
    print(f"{name}: eigenvalues of A⁻¹H at the optimum (1 = exact preconditioner)")
    for label, fit in (("teacher", teacher), ("PLL", pll)):
        ev = preconditioned_spectrum(problem, fit.probs)
        q = np.quantile(ev, [0.01, 0.05, 0.5, 0.95, 0.99])
        print(f"  {label:<7} condition {ev[-1] / ev[0]:5.2f}  min {ev[0]:.3f}  max {ev[-1]:.3f}  "
              f"quantiles 1/5/50/95/99 %: " + " ".join(f"{v:.2f}" for v in q), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+",
                        default=["digits_effnet", "fashion_mnist_effnet", "wordnet_minilm"],
                        help="shipped feature sets")
    parser.add_argument("--spectrum", action="store_true",
                        help="also the preconditioned spectrum on the first set")
    args = parser.parse_args(argv)
    hvp_table(args.sets)
    if args.spectrum:
        spectrum(args.sets[0])


if __name__ == "__main__":
    main()
