"""Benchmark: a 100 × 100 (η, t) phase diagram with the exact reduced solver.

Symbols: K classes, n per class, c/d block correlations, λ ridge, η symmetric
corruption rate, t fits. Setting: K = 4, n = 100, c = 0.4, d = 0.1, λ = 2e-4,
η ∈ linspace(0, 0.75, 100), t = 1..100.

With t as an axis, :func:`labelavg.phase.phase_diagram` stacks the 100 η
points into one batched solve of 100 fits (plus the PLL student) and reads
every t from it. Printed: seconds for the exact and linearised grids with
``n_jobs`` = 1 and the given ``--jobs`` (batches per process), and the cost
per point-round. Run: ``python bench/bench_phase.py [--size 100] [--jobs 2]``
(set ``OPENBLAS_NUM_THREADS=1`` on a shared machine).
"""

import argparse
import time

import numpy as np

from labelavg.phase import phase_diagram


def grid_seconds(size, method, n_jobs):
    """Wall seconds for a size × size (η, t) grid, and the diagram."""
    start = time.perf_counter()
    diagram = phase_diagram(eta=np.linspace(0.0, 0.75, size), rounds=range(1, size + 1),
                            lam=2e-4, c=0.4, d=0.1, n_classes=4, n_per_class=100,
                            method=method, n_jobs=n_jobs)
    return time.perf_counter() - start, diagram


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100, help="grid points per axis")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    args = parser.parse_args()
    size = args.size
    print(f"(eta, rounds) grid {size} x {size} = {size * size} cells, "
          f"{size} points x {size} rounds + PLL in one stack")
    for method in ("exact", "linear"):
        for jobs in sorted({1, args.jobs}):
            seconds, diagram = grid_seconds(size, method, jobs)
            per_round = seconds / (size * (size + 1))
            print(f"{method:>6}  n_jobs={jobs}: {seconds:6.2f} s  "
                  f"({1e3 * per_round:.3f} ms per point-round, "
                  f"{int(diagram.values['all_right'].sum())} points at 100%)")


if __name__ == "__main__":
    main()
