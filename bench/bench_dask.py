"""Out-of-core fit: SelfDistillation on a lazy 2,000,000 × 384 float32 Dask array.

The features are generated chunk by chunk (``dask.array.map_blocks`` with one
seeded ``numpy.random.Generator`` per chunk: Gaussian classes, unit noise), so
the whole matrix (3.1 GB) never exists in memory: every pass of the solver
regenerates each chunk, fits on it and drops it. The labels (N integers) are
drawn on the host from the same per-chunk seeds.

Prints the wall and CPU time of the fit, its Newton steps and passes over the data, and
the peak resident memory of the process (``resource.getrusage``, ru_maxrss)
next to the size of X and of one chunk. One BLAS thread, dask's synchronous
scheduler (the chunks are computed one at a time by the solver).

Run: ``python bench/bench_dask.py [--rows 2000000] [--chunk 100000] [--classes 8]``.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import resource
import time

import numpy as np

import labelavg.fixed_point as fixed_point
from labelavg.probe import SelfDistillation

D, SEED, FLIP = 384, 0, 0.2


def labels_of_chunk(block_id, rows, k):
    rng = np.random.default_rng([SEED, block_id])
    y = rng.integers(0, k, rows)
    return rng, y


def chunk(block_id, rows, k, centres):
    rng, y = labels_of_chunk(block_id, rows, k)
    return (centres[y] + rng.standard_normal((rows, D), dtype=np.float32)).astype(np.float32)


def lazy_features(n, rows, k):
    """(X lazy Dask (n, D) float32, given labels (n,) on the host)."""
    import dask
    import dask.array as da

    centres = np.random.default_rng(SEED).normal(size=(k, D)).astype(np.float32) * 0.15
    n_chunks = -(-n // rows)
    sizes = [min(rows, n - i * rows) for i in range(n_chunks)]
    blocks = [da.from_delayed(dask.delayed(chunk)(i, size, k, centres), (size, D), np.float32)
              for i, size in enumerate(sizes)]
    y = np.concatenate([labels_of_chunk(i, size, k)[1] for i, size in enumerate(sizes)])
    flips = np.random.default_rng(SEED + 1).random(n) < FLIP
    given = np.where(flips, np.random.default_rng(SEED + 2).integers(0, k, n), y)
    return da.concatenate(blocks, axis=0), given


def count_passes():
    """Wrap the chunk iterator so every full pass over X is counted."""
    counter = {"passes": 0}
    original = fixed_point._RowChunks._chunks

    def counted(self):
        counter["passes"] += 1
        return original(self)

    fixed_point._RowChunks._chunks = counted
    return counter


def main(argv=None):
    import dask

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--lam", type=float, default=1e-4)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    X, given = lazy_features(args.rows, args.chunk, args.classes)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counter = count_passes()
    with dask.config.set(scheduler="synchronous"):
        start, cpu = time.perf_counter(), time.process_time()
        model = SelfDistillation(args.lam, args.rounds, pll_topk=None).fit(X, given)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    x_mb = args.rows * D * 4 / 2**20
    print(f"X: {args.rows} x {D} float32 = {x_mb:.0f} MiB in chunks of {args.chunk} rows "
          f"({args.chunk * D * 4 / 2**20:.0f} MiB); K = {args.classes}, λ = {args.lam:g}, "
          f"{args.rounds} round(s), no PLL")
    for rec in model.history_:
        print(f"  {rec.name}: {rec.seconds:.1f} s, {rec.n_iter} Newton steps, "
              f"residual {rec.residual:.1e}, converged {rec.converged}")
    print(f"fit {seconds:.1f} s wall, {cpu:.1f} s CPU, {counter['passes']} passes over X "
          f"({seconds / max(counter['passes'], 1):.1f} s per pass, chunks regenerated each "
          f"pass); peak RSS {peak:.0f} MiB (before the fit {before:.0f} MiB) = "
          f"{peak / x_mb:.2f} x the size of X")


if __name__ == "__main__":
    main()
