"""Benchmark: batched sweeps against the previous per-point reduced solver.

Symbols: K classes, n per class, c/d block correlations, λ ridge, η symmetric
corruption rate, t fits. Setting: K = 4, n = 100, c = 0.4, d = 0.1; grids of
(η, λ) points with η ∈ [0, 0.7] and λ ∈ [1e-5, 1e-1] (log), 30 fits + PLL.

Printed, all measured in the same run:

- the per-point cost of a 30-round exact sweep (:func:`labelavg.sweep`) at 10²,
  10³ and 10⁴ points, against the per-point solver of commit ``--baseline``
  (``BlockModel.solve`` of that commit, loaded from git, timed on
  ``--baseline-points`` points of the same grid), and their ratio;
- a 10⁵-point × 30-round sweep (``--big``; 0 skips it);
- the 100 × 100 (η, t) exact phase diagram at λ = 2e-4
  (:func:`labelavg.phase_diagram`).

Run: ``OPENBLAS_NUM_THREADS=1 python bench/bench_sweep.py`` from the
repository root (needs git for the baseline); it imports the labelavg of the
checkout it lies in, whatever is installed.
"""

import argparse
import importlib.util
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # this checkout's labelavg
import labelavg  # noqa: E402
from labelavg import noise  # noqa: E402
from labelavg.phase import phase_diagram  # noqa: E402
from labelavg.sweep import sweep  # noqa: E402

ROUNDS = 30


def load_baseline(commit):
    """labelavg/block.py of ``commit`` as a module inside the labelavg package."""
    source = subprocess.run(["git", "show", f"{commit}:labelavg/block.py"], check=True,
                            capture_output=True, text=True).stdout
    name = f"labelavg._block_{commit}"
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "labelavg"
    sys.modules[name] = module
    exec(compile(source, f"{commit}:labelavg/block.py", "exec"), module.__dict__)
    return module


def grid(size):
    """(η list, λ list) with len(η) · len(λ) = size."""
    a = int(round(np.sqrt(size)))
    while size % a:
        a -= 1
    return list(np.linspace(0.0, 0.7, a)), list(np.logspace(-5, -1, size // a))


def sweep_seconds(size):
    eta, lam = grid(size)
    start = time.perf_counter()
    table = sweep(eta=eta, lam=lam, rounds=ROUNDS)
    return time.perf_counter() - start, table


def baseline_seconds_per_point(module, points):
    eta, lam = grid(10_000)
    rng = np.random.default_rng(0)
    picks = [(rng.choice(eta), rng.choice(lam)) for _ in range(points)]
    model = module.BlockModel(4, 100, 0.4, 0.1)
    start = time.perf_counter()
    for e, l in picks:
        model.solve(noise.symmetric(4, e), lam=l, rounds=ROUNDS)
    return (time.perf_counter() - start) / points


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="9c77bcc", help="git commit of the per-point solver")
    parser.add_argument("--baseline-points", type=int, default=30)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1000, 10_000])
    parser.add_argument("--big", type=int, default=100_000)
    args = parser.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)       # undecided counts are in the table
    old = baseline_seconds_per_point(load_baseline(args.baseline), args.baseline_points)
    print(f"labelavg {labelavg.__file__}")
    print(f"per-point solver of {args.baseline}: {1e3 * old:.1f} ms per point "
          f"({ROUNDS} rounds + PLL, mean of {args.baseline_points} points)")
    for size in args.sizes:
        seconds, table = sweep_seconds(size)
        per = seconds / size
        print(f"sweep {size:>7} points x {ROUNDS} rounds: {seconds:7.2f} s, "
              f"{1e3 * per:.3f} ms per point, {old / per:6.1f}x below per-point "
              f"({int((table.undecided > 0).sum())} undecided rows)")
    if args.big:
        seconds, table = sweep_seconds(args.big)
        print(f"sweep {args.big} points x {ROUNDS} rounds: {seconds:.1f} s "
              f"(target <= 120 s; {len(table)} rows)")
    start = time.perf_counter()
    diagram = phase_diagram(eta=np.linspace(0.0, 0.75, 100), rounds=range(1, 101), lam=2e-4,
                            c=0.4, d=0.1, n_classes=4, n_per_class=100)
    seconds = time.perf_counter() - start
    print(f"100 x 100 (eta, rounds) exact diagram: {seconds:.2f} s (target <= 0.5 s; "
          f"{int(diagram.values['all_right'].sum())} points at 100%)")


if __name__ == "__main__":
    main()
