"""Benchmark of the exact fit (issue: engine speed targets).

Prints, for a block Gram (K=4, c=0.4, d=0.1, symmetric noise η=0.3 assigned in
exact counts, λ=1e-5) and for a random PSD Gram Φ = F Fᵀ/D (F Gaussian N×N/2,
rank N/2, random labels) at n = 100, 500, 2000 per class (N = 400 … 8000):

- seconds per ``fit_probs`` call (input checks included: symmetry and a
  Cholesky PSD test, O(N³/3)), Newton steps and the final relative residual;
- seconds per fit inside ``distill`` (checks done once, warm starts);
- seconds for the whole linearised path (one eigendecomposition, all rounds).

Targets (2-core machine): N=2000 under 0.5 s per fit, N=8000 under 8 s,
residual <= 1e-10 everywhere. Run: ``python bench/bench_fit.py [--max-n 2000]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from labelavg import distill, fit_probs, linear_path, noise
from labelavg.gram import block_gram, block_labels

K, C, D, ETA, LAM, ROUNDS = 4, 0.4, 0.1, 0.3, 1e-5, 3


def block_case(n):
    true = block_labels(K, n)
    return block_gram(K, n, C, D), noise.assign_labels_exact(true, noise.symmetric(K, ETA))


def random_case(n):
    rng = np.random.default_rng(n)
    features = rng.standard_normal((K * n, K * n // 2))
    return features @ features.T / features.shape[1], rng.integers(0, K, K * n)


def timed(func):
    start = time.perf_counter()
    out = func()
    return out, time.perf_counter() - start


def measure(gram, labels, linear):
    targets = np.eye(K)[labels].T
    fit, fit_s = timed(lambda: fit_probs(gram, targets, LAM))
    path, path_s = timed(lambda: distill(gram, labels, LAM, ROUNDS))
    row = dict(fit_s=fit_s, steps=fit.n_iter, residual=fit.residual,
               per_fit_s=path_s / len(path.fits),
               path_residual=max(f.residual for f in path.fits),
               converged=fit.converged and all(f.converged for f in path.fits))
    if linear:
        row["linear_s"] = timed(lambda: linear_path(gram, targets, LAM, ROUNDS))[1]
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-n", type=int, default=2000, help="largest n per class")
    parser.add_argument("--linear-max-n", type=int, default=500,
                        help="largest n for the linear path (eigh is O(N³))")
    args = parser.parse_args(argv)
    print(f"K={K} λ={LAM:g} rounds={ROUNDS}; seconds on this machine")
    head = (f"{'gram':>6} {'N':>5} | {'fit s':>7} {'Newton':>6} {'residual':>9} | "
            f"{'s/fit in distill':>16} {'max resid':>9} | {'linear path s':>13} | ok")
    print(head + "\n" + "-" * len(head))
    for name, case in (("block", block_case), ("random", random_case)):
        for n in (n for n in (100, 500, 2000) if n <= args.max_n):
            gram, labels = case(n)
            r = measure(gram, labels, n <= args.linear_max_n)
            lin = f"{r['linear_s']:13.2f}" if "linear_s" in r else f"{'(skipped)':>13}"
            print(f"{name:>6} {K * n:5d} | {r['fit_s']:7.3f} {r['steps']:6d} {r['residual']:9.1e} | "
                  f"{r['per_fit_s']:16.3f} {r['path_residual']:9.1e} | {lin} | "
                  f"{'yes' if r['converged'] else 'NO'}", flush=True)


if __name__ == "__main__":
    main()
