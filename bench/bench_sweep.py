"""Benchmark: batched sweeps against the previous per-point reduced solver.

Symbols: K classes, n per class, c/d block correlations, λ ridge, η symmetric
corruption rate, t fits. Setting: K = 4, n = 100, c = 0.4, d = 0.1; grids of
(η, λ) points with η ∈ [0, 0.7] and λ ∈ [1e-5, 1e-1] (log), 30 fits + PLL.

Printed, all measured in the same run:

- the per-point cost of a 30-round exact sweep (:func:`labelavg.sweep`) at 10²,
  10³ and 10⁴ points, against the per-point solver of commit ``--baseline``
  (``BlockModel.solve`` of that commit, loaded from git, timed on
  ``--baseline-points`` points of the same grid), and their ratio;
- a 10⁵-point × 30-round sweep (``--big``; 0 skips it; target ≤ 60 s on one core);
- with ``--compare-engines``: each size swept by both engines of
  :func:`labelavg.sweep` (``engine="numpy"`` and ``"numba"``) in the same
  process, CPU time (``time.process_time``) and wall, and their ratio; and
  the numba kernels' first-call compile (or cache load) time;
- the 100 × 100 (η, t) exact phase diagram at λ = 2e-4
  (:func:`labelavg.phase_diagram`).

Every time is printed as wall and CPU seconds (the machine may be shared:
CPU ratios measured side by side are the robust numbers).

Run: ``OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python bench/bench_sweep.py
[--engine numba] [--compare-engines]`` from the repository root (needs git
for the baseline; set ``NUMBA_CACHE_DIR`` to an empty folder to time a cold
compile); it imports the labelavg of the checkout it lies in, whatever is
installed.
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
from labelavg import _compiled  # noqa: E402
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


def timed(func, *args, **kwargs):
    """(wall s, CPU s, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = func(*args, **kwargs)
    return time.perf_counter() - wall, time.process_time() - cpu, out


def sweep_seconds(size, engine):
    eta, lam = grid(size)
    return timed(sweep, eta=eta, lam=lam, rounds=ROUNDS, engine=engine)


def baseline_seconds_per_point(module, points):
    """(wall, CPU) seconds per point of the per-point solver."""
    eta, lam = grid(10_000)
    rng = np.random.default_rng(0)
    picks = [(rng.choice(eta), rng.choice(lam)) for _ in range(points)]
    model = module.BlockModel(4, 100, 0.4, 0.1)

    def run():
        for e, l in picks:
            model.solve(noise.symmetric(4, e), lam=l, rounds=ROUNDS)
    wall, cpu, _ = timed(run)
    return wall / points, cpu / points


def compile_seconds():
    """Wall and CPU of the numba kernels' first use in this process (compile or cache load)."""
    from labelavg import _compiled

    wall, cpu, _ = timed(sweep, eta=0.3, lam=1e-3, rounds=1, engine="numba")
    print(f"numba kernels, first call (compile or cache load, plus a 1-point sweep): "
          f"{wall:.2f} s wall, {cpu:.2f} s CPU ({_compiled._kernels().__file__})")


def compare_engines(size):
    """Both engines on one grid, numpy first then numba, CPU and wall."""
    times = {engine: sweep_seconds(size, engine) for engine in ("numpy", "numba")}
    (wn, cn, tn), (wb, cb, tb) = times["numpy"], times["numba"]
    same = tn.equals(tb)
    print(f"engines, {size:>7} points x {ROUNDS} rounds: numpy {cn:7.2f} s CPU ({wn:7.2f} s wall),"
          f" numba {cb:7.2f} s CPU ({wb:7.2f} s wall): numba {cn / cb:4.2f}x CPU, "
          f"{wn / wb:4.2f}x wall; tables identical: {same}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="9c77bcc", help="git commit of the per-point solver")
    parser.add_argument("--baseline-points", type=int, default=30)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1000, 10_000])
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--engine", default="auto", choices=["auto", "numpy", "numba"],
                        help="engine of the sweeps timed against the baseline")
    parser.add_argument("--compare-engines", action="store_true",
                        help="also time engine='numpy' against engine='numba' at each size")
    args = parser.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)       # undecided counts are in the table
    print(f"labelavg {labelavg.__file__}; engine {args.engine} "
          f"(resolves to {_compiled.resolve(args.engine)})")
    if _compiled.numba_available():
        compile_seconds()
    old, old_cpu = baseline_seconds_per_point(load_baseline(args.baseline), args.baseline_points)
    print(f"per-point solver of {args.baseline}: {1e3 * old:.1f} ms per point wall, "
          f"{1e3 * old_cpu:.1f} ms CPU ({ROUNDS} rounds + PLL, mean of "
          f"{args.baseline_points} points)")
    for size in args.sizes:
        wall, cpu, table = sweep_seconds(size, args.engine)
        print(f"sweep {size:>7} points x {ROUNDS} rounds: {wall:7.2f} s wall, {cpu:7.2f} s CPU; "
              f"per point {1e3 * wall / size:.3f} ms wall, {1e3 * cpu / size:.3f} ms CPU: "
              f"{old * size / wall:6.1f}x below per-point (wall), {old_cpu * size / cpu:6.1f}x "
              f"(CPU) ({int((table.undecided > 0).sum())} undecided rows)")
        if args.compare_engines:
            compare_engines(size)
    if args.big:
        wall, cpu, table = sweep_seconds(args.big, args.engine)
        print(f"sweep {args.big} points x {ROUNDS} rounds: {wall:.1f} s wall, {cpu:.1f} s CPU "
              f"(target <= 60 s; {len(table)} rows)")
    start = time.perf_counter()
    diagram = phase_diagram(eta=np.linspace(0.0, 0.75, 100), rounds=range(1, 101), lam=2e-4,
                            c=0.4, d=0.1, n_classes=4, n_per_class=100)
    seconds = time.perf_counter() - start
    print(f"100 x 100 (eta, rounds) exact diagram: {seconds:.2f} s (target <= 0.5 s; "
          f"{int(diagram.values['all_right'].sum())} points at 100%)")


if __name__ == "__main__":
    main()
