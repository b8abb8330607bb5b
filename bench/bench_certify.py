"""Benchmark: cost of the rigorous certificate (``precision="auto"``) against float64.

Symbols: K classes, n = 100 per class, c/d block correlations, λ ridge, η
symmetric corruption rate, 30 fits. Settings: the issue-16 example (K = 4,
c = 0.3, d = 0.29, λ = 0.1, η = 0.74999925: Δ = 1e-6, float64 leaves rounds
7..30 undecided) and K = 4 / K = 6 at c = 0.4, d = 0.1, λ = 0.05, η = 0.3.

Prints, per setting, the float64 solve's and the certified solve's wall and
CPU seconds (CPU is what a loaded machine does not inflate), their ratio, the
working precision reached and whether every verdict is certified. Run:
``python bench/bench_certify.py [--rounds R]``.
"""

import argparse
import time
import warnings

from labelavg.block import BlockModel
from labelavg.noise import symmetric

SETTINGS = ((4, 0.3, 0.29, 0.1, 0.74999925), (4, 0.4, 0.1, 5e-2, 0.3),
            (6, 0.4, 0.1, 5e-2, 0.3))


def _timed(call):
    wall, cpu = time.perf_counter(), time.process_time()
    out = call()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    for k, c, d, lam, eta in SETTINGS:
        model, transition = BlockModel(k, 100, c, d), symmetric(k, eta)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            _, wall0, cpu0 = _timed(lambda: model.solve(transition, lam=lam,
                                                        rounds=args.rounds))
            sol, wall1, cpu1 = _timed(lambda: model.solve(transition, lam=lam,
                                                          rounds=args.rounds,
                                                          precision="auto"))
        print(f"K={k} c={c} d={d} λ={lam} η={eta}, {args.rounds} rounds: float64 "
              f"{wall0:.2f} s wall / {cpu0:.2f} s CPU; certified={sol.certified} at "
              f"{sol.bits} bits {wall1:.2f} s wall / {cpu1:.2f} s CPU "
              f"(CPU ratio {cpu1 / cpu0:.0f}x)")


if __name__ == "__main__":
    main()
