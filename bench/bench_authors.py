"""Speed of the authors' protocol as one batched run per set against a per-cell loop.

``python bench/bench_authors.py`` runs one reduced grid of ``labelavg reproduce
--protocol authors`` (default: digits_effnet, ``--max-train 800 --max-test 800
--seeds 2 --etas 0.5 0.8 --epochs 20``, the four noise models, the default weight
decays) twice on the CPU:

- *per cell*: ``labelavg.authors.run_grid`` once per (noise, η, seed) and weight
  decay, one label draw at a time (the loop the CLI ran before the batched engine);
- *batched*: one ``run_grid`` call holding every cell and weight decay.

It prints both times, their ratio and the largest difference of the accuracies
(the batch-order generator is reseeded for every call, so both see the same
batches; differences can only come from argmax ties in float rounding). When CuPy
with a CUDA device is available it also times the batched grid on the GPU
(``--device cupy`` path) and prints the NumPy/CuPy ratio.

Runs on one BLAS thread (set here unless OPENBLAS_NUM_THREADS is set): on a shared
machine multi-threaded BLAS spin-waits and timings lose all meaning.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from labelavg import datasets  # noqa: E402
from labelavg._xp import cupy_available  # noqa: E402
from labelavg.authors import Schedule, run_grid  # noqa: E402
from labelavg.cli import reproduce as cli  # noqa: E402
from labelavg.noise import sample_labels  # noqa: E402
from labelavg.probe import class_correlation  # noqa: E402


def _grid(args):
    """The set, rows, labels (C, N) and seeds of every cell, as the CLI builds them."""
    from labelavg.authors import authors_superclasses
    from labelavg._xp import to_numpy

    data = cli._subsample(datasets.load(args.dataset), args.max_train, args.max_test)
    rows = cli._validation_split(data.y_train.size)
    corr = class_correlation(data.x_train[rows[0]], data.y_train[rows[0]])
    recipes = {"superclass": cli._superclasses(corr, 0.8)[0],
               "superclass_authors": authors_superclasses(to_numpy(corr.mean), 0.8)}
    cells = [(noise, eta, seed) for noise in cli.NOISES for eta in args.etas
             for seed in range(args.seeds)]
    given = np.stack([sample_labels(data.y_train, cli._transition(
        noise, data.n_classes, eta, recipes.get(noise)), np.random.default_rng(seed))
        for noise, eta, seed in cells])
    return data, rows, given, [seed for *_, seed in cells]


def _run(data, rows, given, seeds, wds, schedule, xp=None):
    return run_grid(data, rows, given, schedule,
                    [np.random.default_rng(cli.INIT_SEED + s) for s in seeds],
                    np.random.default_rng(cli.ORDER_SEED), wds=wds, rounds=cli.ROUNDS, xp=xp)


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="digits_effnet")
    p.add_argument("--max-train", type=int, default=800)
    p.add_argument("--max-test", type=int, default=800)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--etas", type=float, nargs="+", default=[0.5, 0.8])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--wds", type=float, nargs="+", default=list(cli.WDS))
    p.add_argument("--skip-loop", action="store_true", help="batched (and CuPy) only")
    args = p.parse_args()
    data, rows, given, seeds = _grid(args)
    schedule = Schedule(lr=0.5, epochs=args.epochs)
    print(f"{args.dataset}: {len(seeds)} cells x {len(args.wds)} weight decays x 3 rules, "
          f"N_fit = {rows[0].size}, K = {data.n_classes}, D = {data.n_features}, "
          f"{args.epochs} epochs, {cli.ROUNDS + 1} fits per chain")
    batched, t_batch = _timed(lambda: _run(data, rows, given, seeds, args.wds, schedule))
    print(f"batched (numpy): {t_batch:.2f} s")
    if not args.skip_loop:
        def loop():
            return [[_run(data, rows, given[c:c + 1], seeds[c:c + 1], (wd,), schedule)
                     for wd in args.wds] for c in range(len(seeds))]

        cells, t_loop = _timed(loop)
        acc = np.array([[r.test_accuracy[0, 0] for r in row] for row in cells])
        diff = np.max(np.abs(acc - batched.test_accuracy))
        print(f"per cell (numpy): {t_loop:.2f} s; per-cell / batched = {t_loop / t_batch:.2f}; "
              f"largest accuracy difference {diff:.3g}")
    if cupy_available():
        import array_api_compat.cupy as xp

        _run(data, rows, given[:1], seeds[:1], args.wds[:1], Schedule(lr=0.5, epochs=1), xp)
        gpu, t_gpu = _timed(lambda: _run(data, rows, given, seeds, args.wds, schedule, xp))
        diff = np.max(np.abs(gpu.test_accuracy - batched.test_accuracy))
        print(f"batched (cupy): {t_gpu:.2f} s; numpy / cupy = {t_batch / t_gpu:.2f}; "
              f"largest accuracy difference {diff:.3g}")
    else:
        print("cupy: not available here (no CuPy with a CUDA device); GPU timing skipped")


if __name__ == "__main__":
    main()
