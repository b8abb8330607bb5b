"""Benchmark: reduced block solver (cost independent of n) vs the full exact solver.

Symbols: K classes, n per class, N = Kn, c/d block correlations, λ ridge,
η symmetric corruption rate. Setting: K = 4, c = 0.4, d = 0.1, η = 0.3,
λ = 1e-5.

- reduced: ``BlockModel(K, n, c, d).solve(n·T, ...)`` for n = 10², …, 10⁹
  (n·T fractional counts beyond the exact-count sizes), time per fit;
- full: ``labelavg.distill.distill`` on the materialised Gram (N × N) with
  exact integer labels, for n = 100, 500, 2000; time per fit, and the
  reduced solver on the same exact counts, with the largest difference of
  their outputs.

Fits per call are rounds + 1 (the PLL student). Run:
``python bench/bench_block.py [--rounds R] [--full-n 100 500 2000] [--threads T]``.
BLAS threads are limited to ``--threads`` (default 1) for both solvers
through threadpoolctl when it is installed.
"""

import argparse
import time

import numpy as np

from labelavg.block import BlockModel, labels_from_counts
from labelavg.noise import count_matrix, symmetric

K, C, D, ETA, LAM = 4, 0.4, 0.1, 0.3, 1e-5


def _timed(fn, repeats):
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def reduced_times(rounds, repeats=5):
    """(n, seconds per fit, Newton steps) for n = 10², …, 10⁹."""
    rows = []
    for exp in range(2, 10):
        model = BlockModel(K, 10 ** exp, C, D)
        secs, sol = _timed(lambda: model.solve(symmetric(K, ETA), lam=LAM, rounds=rounds),
                           repeats)
        assert sol.converged.all()
        rows.append((10 ** exp, secs / (rounds + 1), int(sol.n_iter.sum())))
    return rows


def full_times(ns, rounds):
    """(n, full s/fit, reduced s/fit on the same counts, max |Δprobs|)."""
    from labelavg.distill import distill

    rows = []
    for n in ns:
        transition = symmetric(K, ETA)
        counts = count_matrix(n, transition)
        model = BlockModel(K, n, C, D)
        gram, labels = model.gram(), labels_from_counts(counts)
        full_s, path = _timed(lambda: distill(gram, labels, LAM, rounds, n_classes=K), 1)
        red_s, sol = _timed(lambda: model.solve(counts=counts, lam=LAM, rounds=rounds), 3)
        diff = float(np.max(np.abs(sol.expand(sol.probs) - path.probs)))
        rows.append((n, full_s / (rounds + 1), red_s / (rounds + 1), diff))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--full-n", type=int, nargs="*", default=[100, 500, 2000])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads)
    except ImportError:
        pass
    print(f"K={K} c={C} d={D} symmetric η={ETA} λ={LAM:g}, {args.rounds} rounds + PLL, "
          f"BLAS threads {args.threads}")
    print("\nreduced exact solver (n·T counts)\n     n      ms/fit   Newton steps")
    for n, secs, steps in reduced_times(args.rounds):
        print(f"{n:>10.0e}  {1e3 * secs:8.2f}  {steps:6d}")
    if not args.full_n:
        return
    print("\nfull exact solver (distill on the N×N Gram) vs reduced, exact counts")
    print("     n      N   full s/fit  reduced ms/fit     ratio   max|Δp|")
    rows = full_times(args.full_n, args.rounds)
    for n, full_s, red_s, diff in rows:
        print(f"{n:>6d} {K * n:>6d}  {full_s:10.3f}  {1e3 * red_s:13.2f}  "
              f"{full_s / red_s:9.0f}  {diff:.1e}")
    n, full_s, red_s, _ = rows[-1]
    print(f"\nratio full/reduced at n = {n}: {full_s / red_s:.0f}x")


if __name__ == "__main__":
    main()
