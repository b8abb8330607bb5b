"""Benchmark: cost of a Result 3 check as K grows, per noise family, against the old solver.

Symbols: K classes, n = 500 per class, c = 0.4, d = 0.1 (block model), λ =
1e-5, η = 0.4, T the noise's transition matrix (T[c, j] = P(given j | true
c), rows sum to 1), G the columns the reduced solver solves.

Times ``full_accuracy(BlockModel(K, 500, .4, .1), T, lam=1e-5, max_rounds=5)``
(the exact least round by the reduced solver, 5 rounds) for K = 4, 10, 30,
100, 300, 1000 and noise symmetric, asymmetric, pair and superclass (classes
in superclasses of 2), and prints a Markdown table: the layout the solver
picked (orbits of all permutations, of the cyclic shifts, or the groups with a
positive count) and its G, CPU and wall seconds (median of repeats), the
ratio to K = 4 of the same family, and, in the same run, the CPU seconds of
the solver of commit ``--baseline`` (exported with ``git archive`` into a
temporary folder and timed in a subprocess with that folder first on
``PYTHONPATH``) and the ratio old / new. The old solver is timed up to
``--old-max-k`` (its K = 100 took 644 s), each K in its own subprocess with
``--old-timeout`` seconds. A K is skipped when the previous K's time
extrapolated by (K ratio)³ exceeds ``--max-seconds``.

CPU time (``time.process_time``) is the figure to read on a shared machine;
one BLAS thread. Run from the repository root:
``python bench/bench_scaling.py [--ks 4,10,30,100,300,1000] [--old-max-k 30]``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ("symmetric", "asymmetric", "pair", "superclass")
ETA, LAM, ROUNDS, N, C, D = 0.4, 1e-5, 5, 500, 0.4, 0.1

#: Run in a subprocess (old solver) or here (new): times one (family, K), prints JSON.
TIMER = """
import json, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
import labelavg.block
from labelavg import noise
from labelavg.block import BlockModel
from labelavg.theorems import full_accuracy
family, k, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
extra = {"superclass_size": 2} if family == "superclass" else {}
T = noise.transition_matrix(family, k, %(eta)r, **extra)
cpu, wall = [], []
for _ in range(repeats):
    c0, w0 = time.process_time(), time.perf_counter()
    v = full_accuracy(BlockModel(k, %(n)r, %(c)r, %(d)r), T, lam=%(lam)r, max_rounds=%(rounds)r)
    cpu.append(time.process_time() - c0)
    wall.append(time.perf_counter() - w0)
print(json.dumps(dict(cpu=float(np.median(cpu)), wall=float(np.median(wall)),
                      least=v.min_rounds_exact, undecided=v.params["undecided_round"],
                      file=labelavg.block.__file__)))
""" % dict(eta=ETA, n=N, c=C, d=D, lam=LAM, rounds=ROUNDS)


def time_case(pythonpath, family, k, repeats, timeout):
    """(dict of cpu, wall, least, undecided) from a subprocess, or None on timeout."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    try:
        out = subprocess.run([sys.executable, "-c", TIMER, family, str(k), str(repeats)],
                             env=env, cwd=pythonpath, capture_output=True, text=True,
                             timeout=timeout,
                             check=True).stdout
    except subprocess.TimeoutExpired:
        return None
    result = json.loads(out.strip().splitlines()[-1])
    if not Path(result["file"]).resolve().is_relative_to(Path(pythonpath).resolve()):
        raise RuntimeError(f"timed {result['file']}, not the labelavg under {pythonpath}")
    return result


def layout(family, k):
    """(name, G) of the layout the reduced solver picks for this case."""
    sys.path.insert(0, str(ROOT))
    from labelavg import noise
    from labelavg.block import BlockModel, _Batch

    extra = {"superclass_size": 2} if family == "superclass" else {}
    counts = N * noise.transition_matrix(family, k, ETA, **extra)
    batch = _Batch.stack([BlockModel(k, N, C, D)], [counts], [LAM]).reduced()
    name = {"all": "orbits (all perms)", "cyclic": "orbits (cyclic)"}.get(batch.orbit,
                                                                           "counted groups")
    return name, batch.weights.shape[1]


def export(commit, folder):
    """labelavg of ``commit`` into ``folder`` (git archive)."""
    archive = subprocess.run(["git", "archive", commit, "labelavg"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)


def repeats_for(k):
    return 5 if k <= 30 else (3 if k <= 100 else 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", default="4,10,30,100,300,1000")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--baseline", default="6a64774")
    parser.add_argument("--old-max-k", type=int, default=30)
    parser.add_argument("--old-timeout", type=float, default=300)
    parser.add_argument("--max-seconds", type=float, default=120)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    ks = [int(k) for k in args.ks.split(",")]
    print(f"full_accuracy(BlockModel(K, {N}, {C}, {D}), T, lam={LAM:g}, max_rounds={ROUNDS}), "
          f"η = {ETA}; CPU s (median); old = {args.baseline}\n")
    print("| noise | K | layout | G | CPU s | wall s | CPU / K=4 | old CPU s | old / new | "
          "least t (new, old) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as old_root:
        export(args.baseline, old_root)
        for family in args.families.split(","):
            first, previous = None, None
            for k in ks:
                if previous is not None and \
                        previous[1] * (k / previous[0]) ** 3 > args.max_seconds:
                    print(f"| {family} | {k} | skipped (extrapolated > {args.max_seconds:g} s) "
                          "| | | | | | | |")
                    continue
                new = time_case(ROOT, family, k, repeats_for(k), 10 * args.max_seconds)
                if new is None:
                    print(f"| {family} | {k} | timed out | | | | | | | |")
                    previous = (k, np.inf)
                    continue
                first = new["cpu"] if first is None else first
                previous = (k, new["cpu"])
                old = (time_case(old_root, family, k, 1 if k > 10 else 3, args.old_timeout)
                       if k <= args.old_max_k else None)
                name, groups = layout(family, k)
                old_cpu = "—" if old is None else f"{old['cpu']:.3f}"
                ratio = "—" if old is None else f"{old['cpu'] / new['cpu']:.1f}"
                least = f"{new['least']}, {'—' if old is None else old['least']}"
                print(f"| {family} | {k} | {name} | {groups} | {new['cpu']:.3f} | "
                      f"{new['wall']:.3f} | {new['cpu'] / first:.1f} | {old_cpu} | {ratio} | "
                      f"{least} |", flush=True)


if __name__ == "__main__":
    main()
