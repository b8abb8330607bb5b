"""The probe on CuPy against the same probe on NumPy, in one process.

``python bench/bench_gpu.py [--json OUT.json]`` needs CuPy with a CUDA device.

Two parts, both ``SelfDistillation(lam, rounds=3)`` (teacher, students t = 2, 3
and the top-2 PLL student) fitted on noisy labels (symmetric, η = 0.5, seed 0):

- **agreement** on every shipped feature set: the CuPy fit against the NumPy fit
  of the same data (float64): max |Δ prob| of the test outputs, the fraction of
  test rows whose argmax differs, and each fit's residual and converged flag from
  both backends;
- **speed** on synthetic Gaussian-mixture features (float32 and float64): wall
  seconds of the whole fit on NumPy (the host's BLAS, all its threads) and on
  CuPy (synchronised), and their ratio. Sizes are chosen so that one NumPy fit
  takes tens of seconds, not minutes.

Only measured numbers are printed; nothing is compared against a stored value.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import labelavg
from labelavg import noise
from labelavg._xp import cupy_available, to_numpy
from labelavg.synthetic import gaussian_mixture

LAM, ROUNDS, ETA = 1e-4, 3, 0.5


def _noisy(y, n_classes, seed=0):
    return noise.sample_labels(y, noise.symmetric(n_classes, ETA), np.random.default_rng(seed))


def _fit(xp_X, y):
    model = labelavg.SelfDistillation(LAM, ROUNDS)
    start = time.perf_counter()
    model.fit(xp_X, y)
    _sync()
    seconds = time.perf_counter() - start
    fits = [dict(round=str(r.round), residual=float(r.residual), converged=bool(r.converged),
                 n_iter=int(r.n_iter)) for r in model.history_]
    return model, seconds, fits


def _sync():
    import cupy

    cupy.cuda.Device().synchronize()


def agreement(name):
    """NumPy and CuPy fits of one shipped set, compared on its test rows."""
    import cupy

    data = labelavg.datasets.load(name)
    X, Xt = np.asarray(data.x_train, dtype=np.float64), np.asarray(data.x_test, dtype=np.float64)
    y = _noisy(np.asarray(data.y_train), int(data.n_classes))
    ref, t_np, fits_np = _fit(X, y)
    gpu, t_cp, fits_cp = _fit(cupy.asarray(X), cupy.asarray(y))
    p_np = np.stack([ref.predict_proba(Xt, round=t) for t in range(1, ROUNDS + 1)])
    p_cp = np.stack([to_numpy(gpu.predict_proba(cupy.asarray(Xt), round=t))
                     for t in range(1, ROUNDS + 1)])
    return dict(set=name, n=X.shape[0], d=X.shape[1], k=int(data.n_classes),
                numpy_s=t_np, cupy_s=t_cp,
                max_abs_dprob=float(np.abs(p_np - p_cp).max()),
                argmax_differs=float((p_np.argmax(-1) != p_cp.argmax(-1)).mean()),
                numpy_fits=fits_np, cupy_fits=fits_cp)


def speed(n_classes, n_per_class, dim, dtype):
    """Wall seconds of one fit on NumPy and on CuPy, same data and labels."""
    import cupy

    rng = np.random.default_rng(0)
    data = gaussian_mixture(n_classes, n_per_class, dim, 0.4, 0.1, rng=rng)
    X = np.asarray(data.x_train, dtype=dtype)
    true = np.asarray(data.y_train)
    y = _noisy(true, n_classes)
    Xg = cupy.asarray(X)
    step = n_per_class // 2
    _fit(Xg[::step], cupy.asarray(true[::step]))   # warm-up: CuPy compiles its kernels
    _, t_cp, fits_cp = _fit(Xg, cupy.asarray(y))
    _, t_np, fits_np = _fit(X, y)
    return dict(n=X.shape[0], d=dim, k=n_classes, dtype=np.dtype(dtype).name,
                numpy_s=t_np, cupy_s=t_cp, speedup=t_np / t_cp,
                numpy_fits=fits_np, cupy_fits=fits_cp)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--sizes", nargs="+", default=["100x500x768", "1000x20x768"],
                        metavar="KxNxD", help="K classes x n per class x D")
    args = parser.parse_args(argv)
    if not cupy_available():
        raise SystemExit("bench_gpu: CuPy with a CUDA device is needed")
    out = dict(agreement=[], speed=[])
    for name in labelavg.datasets.list_datasets():
        row = agreement(name)
        out["agreement"].append(row)
        print(f"{name}: N={row['n']} D={row['d']} K={row['k']}  max|dprob| "
              f"{row['max_abs_dprob']:.2e}  argmax differs {row['argmax_differs']:.2e}  "
              f"numpy {row['numpy_s']:.2f} s  cupy {row['cupy_s']:.2f} s", flush=True)
    for size in args.sizes:
        k, n, d = (int(v) for v in size.split("x"))
        for dtype in (np.float32, np.float64):
            row = speed(k, n, d, dtype)
            out["speed"].append(row)
            print(f"K={k} N={row['n']} D={d} {row['dtype']}: numpy {row['numpy_s']:.2f} s  "
                  f"cupy {row['cupy_s']:.2f} s  ratio {row['speedup']:.1f}x  "
                  f"converged numpy/cupy {all(f['converged'] for f in row['numpy_fits'])}/"
                  f"{all(f['converged'] for f in row['cupy_fits'])}", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
