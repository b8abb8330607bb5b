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

``--sweep`` instead measures :func:`labelavg.sweep` on a ``dask.distributed``
LocalCluster of 2 workers × 1 thread (default Dask configuration, so the
nanny's ``MALLOC_TRIM_THRESHOLD_=65536`` is in force), in one run:

- the thread CPU of one sweep task (the asymmetric half of ``--points``
  points of K = ``--sweep-k`` × ``--sweep-rounds`` rounds, the shipped
  ``_solve_task``) locally, inside a worker as shipped
  (allocator tuned, :func:`labelavg.sweep._tune_allocator`) and inside a
  worker without the tuning (the previous behaviour: the nanny's allocator
  state restored by ``mallopt`` before the task), each ``--repeat`` times;
  ratios to local;
- the wall time of the whole sweep (2 tasks) locally and on the 2 workers
  (as shipped, and untuned), alternated ``--repeat`` times; local / cluster
  (≥ 1 means the cluster is faster).

``--probe-chunks`` measures the probe's Dask path the same way: the thread CPU
of generating one ``--chunk``-row chunk (what the workers run while the
solver, in the client process, reads X chunk by chunk) locally and in a
default worker, tuned and untuned. Set ``--points``, ``--chunk`` smaller on
a loaded machine.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import warnings
import ctypes
import importlib
import resource
import time

import numpy as np

import labelavg.fixed_point as fixed_point
from labelavg.probe import SelfDistillation

sweep_module = importlib.import_module("labelavg.sweep")   # the name labelavg.sweep is the function
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


def _thread_cpu(func, *args):
    """Thread CPU seconds of ``func(*args)`` (run inside a worker or locally)."""
    start = time.thread_time()
    func(*args)
    return time.thread_time() - start


def _nanny_allocator():
    """glibc's state under the nanny's MALLOC_TRIM_THRESHOLD_=65536: fixed 64 KiB trim and
    128 KiB mmap thresholds (undoes :func:`labelavg.sweep._tune_allocator` in a worker)."""
    libc = ctypes.CDLL(None)
    libc.mallopt(sweep_module._M_TRIM_THRESHOLD, 65536)
    libc.mallopt(sweep_module._M_MMAP_THRESHOLD, 128 * 1024)


def _untuned(task, in_worker=True):
    if in_worker:
        _nanny_allocator()
    return _thread_cpu(sweep_module._solve_task, dict(task, tune_allocator=False))


def _tuned(task):
    return _thread_cpu(sweep_module._solve_task, dict(task, tune_allocator=True))


def _chunk_cpu(tune, block_id, rows, k, centres):
    if tune:
        sweep_module._tune_allocator()
    elif tune is False:
        _nanny_allocator()
    return _thread_cpu(chunk, block_id, rows, k, centres)


def _sweep_tasks(n_points, rounds, k=4):
    """The bench_sweep grid (n = 100, c = 0.4, d = 0.1, symmetric and asymmetric η)."""
    side = int(np.sqrt(n_points / 2))
    points = [(k, 100, 0.4, 0.1, lam, eta, name) for name in ("symmetric", "asymmetric")
              for eta in np.linspace(0, 0.7, side) for lam in np.logspace(-5, -1, side)]
    settings = dict(rounds=rounds, method="exact", pll_topk=2, counts="expected", tol=1e-10)
    return points, settings


def _median(values):
    return float(np.median(values))


def sweep_main(args):
    """Task CPU and sweep wall, local against a default 2-worker LocalCluster."""
    from dask.distributed import Client, LocalCluster

    points, settings = _sweep_tasks(args.points, args.sweep_rounds, args.sweep_k)
    half = len(points) // 2
    task = dict(settings, points=points[half:])
    print(f"sweep: {len(points)} points (K = {args.sweep_k}, symmetric + asymmetric) x "
          f"{args.sweep_rounds} rounds; the timed task is the asymmetric half; "
          f"2 tasks of {half} points; one BLAS thread")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, \
            Client(cluster) as client:
        env = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        print(f"worker MALLOC_TRIM_THRESHOLD_: {sorted(set(env.values()))}")
        cpu = {"local": [], "worker untuned": [], "worker tuned": []}
        wall = {"local": [], "cluster untuned": [], "cluster tuned": []}
        for _ in range(args.repeat):
            cpu["local"].append(_untuned(task, in_worker=False))
            cpu["worker untuned"].append(client.submit(_untuned, task, pure=False).result())
            cpu["worker tuned"].append(client.submit(_tuned, task, pure=False).result())
            tasks = [dict(settings, points=points[:half]), dict(settings, points=points[half:])]
            start = time.perf_counter()
            client.gather(client.map(_untuned, tasks, pure=False))
            wall["cluster untuned"].append(time.perf_counter() - start)
            start = time.perf_counter()
            sweep_module.solve_points(points, settings)
            wall["local"].append(time.perf_counter() - start)
            start = time.perf_counter()
            sweep_module.solve_points(points, settings, client=client)
            wall["cluster tuned"].append(time.perf_counter() - start)
    base = _median(cpu["local"])
    for name, values in cpu.items():
        print(f"task CPU {name:15s}: " + ", ".join(f"{v:.2f}" for v in values)
              + f" s; median {_median(values):.2f} s = {_median(values) / base:.2f} x local")
    base = _median(wall["local"])
    for name, values in wall.items():
        print(f"sweep wall {name:15s}: " + ", ".join(f"{v:.2f}" for v in values)
              + f" s; local / this = {base / _median(values):.2f}")
    pairs = [loc / tun for loc, tun in zip(wall["local"], wall["cluster tuned"])]
    print("per repeat local / cluster tuned: " + ", ".join(f"{r:.2f}" for r in pairs))


def probe_chunks_main(args):
    """Thread CPU of one chunk of X locally and in a default worker (tuned, untuned)."""
    from dask.distributed import Client, LocalCluster

    centres = np.random.default_rng(SEED).normal(size=(args.classes, D)).astype(np.float32)
    call = (0, args.chunk, args.classes, centres)
    cpu = {"local": [], "worker untuned": [], "worker tuned": []}
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True) as cluster, \
            Client(cluster) as client:
        for _ in range(args.repeat):
            cpu["local"].append(_chunk_cpu(None, *call))
            cpu["worker untuned"].append(client.submit(_chunk_cpu, False, *call,
                                                       pure=False).result())
            cpu["worker tuned"].append(client.submit(_chunk_cpu, True, *call,
                                                     pure=False).result())
    base = _median(cpu["local"])
    print(f"probe chunk: {args.chunk} x {D} float32 ({args.chunk * D * 4 / 2**20:.0f} MiB)")
    for name, values in cpu.items():
        print(f"chunk CPU {name:15s}: " + ", ".join(f"{v:.3f}" for v in values)
              + f" s; median {_median(values):.3f} s = {_median(values) / base:.2f} x local")


def main(argv=None):
    import dask

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--lam", type=float, default=1e-4)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--sweep", action="store_true", help="sweep on a 2-worker cluster")
    parser.add_argument("--probe-chunks", action="store_true",
                        help="chunk generation in a worker vs locally")
    parser.add_argument("--points", type=int, default=4096)
    parser.add_argument("--sweep-rounds", type=int, default=30)
    parser.add_argument("--sweep-k", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if args.sweep:
        warnings.simplefilter("ignore", RuntimeWarning)    # undecided margins: not timed here
        return sweep_main(args)
    if args.probe_chunks:
        return probe_chunks_main(args)
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
