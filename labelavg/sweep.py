"""N-D parameter sweeps on the batched reduced solver, locally or on a Dask cluster.

Symbols: K ``n_classes``, n ``n_per_class``, N = Kn, c / d the block
correlations, λ ``lam``, η ``eta`` (corruption rate), t the number of fits
(t = 1 is the teacher; ``rounds``), T ``transition`` with **T[c, j] =
P(given label j | true class c), rows = true class, rows sum to 1**, t* the
linearised least round of Result 3 (theory/THEORY.md).

Every grid point is a block model (Result 2) solved by the reduced solver of
:mod:`labelavg.block`; points with the same K are stacked and solved together
(one stacked Newton step for the whole batch), so a sweep costs little more
than its arithmetic. With ``client=`` the batches run on the workers of a
``dask.distributed`` cluster and the table is identical.
"""

from __future__ import annotations

import ctypes
import math
import os
import warnings
from itertools import product
from types import SimpleNamespace

import numpy as np

from . import _checks, _compiled, noise as _noise
from .block import (_Batch, _certify_open, _check_memory, _check_precision, _layout_keys,
                    _memory_limit, _solve_batch, _solver_bytes, _undecided_warning,
                    planned_groups)

__all__ = ["GRID", "COLUMNS", "NOISES", "sweep"]

#: Grid parameters, in the order of the table's first columns.
GRID = ("n_classes", "n_per_class", "c", "d", "lam", "eta", "noise")

#: Columns of the table returned by :func:`sweep`.
COLUMNS = GRID + ("round", "label_correction", "label_correction_clean",
                  "label_correction_noisy", "fresh", "undecided", "t_star",
                  "least_round", "pll_label_correction", "pll_fresh")

#: Noise models a sweep accepts (see :func:`labelavg.noise.transition_matrix`).
NOISES = ("symmetric", "asymmetric", "pair", "superclass")

#: Points per batch (per task on a cluster).
BATCH_SIZE = 2048


def sweep(*, n_classes=4, n_per_class=100, c=0.4, d=0.1, lam, eta, noise="symmetric",
          rounds=10, method="exact", pll_topk="auto", counts="expected", client=None,
          batch_size=None, progress=False, tol=1e-10, superclass_size=None,
          precision=None, engine="auto"):
    """Accuracies of self-distillation over a Cartesian grid of block-model points.

    Every model or noise parameter is a scalar or a list; the lists span a
    Cartesian grid (in the order of :data:`GRID`).

    Parameters
    ----------
    n_classes : int or list of int
        K ≥ 2.
    n_per_class : float or list of float
        n ≥ 1 (an integer with ``counts="exact"``).
    c, d : float or list of float
        Block correlations, 0 ≤ d < c < 1 at **every** grid point.
    lam : float or list of float
        Ridge strength λ > 0.
    eta : float or list of float
        Corruption rate η of the noise model (its range depends on the model).
    noise : str or list of str
        ``"symmetric"``, ``"asymmetric"``, ``"pair"`` or ``"superclass"``
        (the latter needs ``superclass_size``).
    rounds : int or list of int
        An int T reports t = 1..T; a list reports those t (solved up to the
        largest).
    method : {"exact", "linear"}
        Softmax fits or the linearised closed form (Result 1).
    pll_topk : "auto", int or None
        k of the PLL student (Result 4); ``"auto"`` is min(2, K − 1) at each K
        (top-1 at K = 2); NaN PLL columns where k ≥ K, or None.
    counts : {"expected", "exact"}
        Group counts n·T or their integer rounding (:func:`labelavg.noise.count_matrix`).
    client : dask.distributed.Client, optional
        Solve the batches on the cluster's workers (``client.map``); the
        table is identical to the local one.
    batch_size : int, optional
        Points per stacked solve (and per task on a cluster); default
        :data:`BATCH_SIZE`, halved while the solver's memory estimate exceeds
        the limit (half the machine's memory).
    progress : bool or callable
        True shows a tqdm bar locally, or Dask's progress bar with ``client``;
        a callable is called as ``progress(points_done, points_total)``.
    tol : float
        Newton tolerance, relative to the targets' deviation from uniform.
    superclass_size : int, optional
        m, dividing every K: ``"superclass"`` noise flips labels within runs
        of m consecutive classes (the Gram stays the plain block model).
    precision : None, int or "auto"
        Certify the points float64 leaves undecided (exact method only): each
        such point is enclosed rigorously (see :meth:`labelavg.block.BlockModel.solve`),
        its certified verdicts replace float64's, and ``undecided`` counts what
        is still open. Needs python-flint (``pip install labelavg[certify]``).
    engine : {"auto", "numpy", "numba"}
        Who runs the exact method's Newton loop on the orbit layouts
        (symmetric noise; asymmetric and pair noise up to K = 48, beyond which
        NumPy's stacked solves are faster; expected counts): compiled
        numba code (``pip install labelavg[fast]``) or NumPy; ``"auto"`` is
        numba where it is installed (decided on each worker with ``client``).
        Other layouts, the error bound and the verdicts always run NumPy. Both
        engines take the same Newton steps up to rounding; each verdict is
        judged against the proven error bound built (by the same code) from
        that engine's own final residual, so a verdict can differ only where a
        margin lies within rounding of its bound (in none of the tested cases).

    Returns
    -------
    pandas.DataFrame
        Long form, one row per (point, round), columns :data:`COLUMNS`:
        the grid values, ``round``, ``label_correction`` (all instances),
        ``label_correction_clean``, ``label_correction_noisy`` and ``fresh``
        (NaN when a margin is undecided in float64), ``undecided`` (groups
        float64 cannot sign at that round); per point, repeated on its rows:
        ``t_star`` (linearised least round, NaN if infeasible or not within the
        solved rounds for a non-uniform label histogram), ``least_round``
        (least t at which the solved method gets every group right, NaN if
        none or an undecided round comes first), ``pll_label_correction``
        and ``pll_fresh``.

    Raises
    ------
    ValueError, TypeError
        Before any work starts, on an empty list, an unknown noise or method,
        or a value invalid at **any** grid point (e.g. d ≥ c): invalid grid
        points are refused, never skipped. The message names the parameter
        and the offending value. Also when one point of some K (or a stack of
        the given ``batch_size``) would need more memory than the limit: the
        message names ``n_classes`` (or ``batch_size``) and the memory needed.

    Examples
    --------
    >>> table = sweep(eta=[0.1, 0.5], lam=1e-3, rounds=2)
    >>> table[["eta", "round", "label_correction"]].round(6).values.tolist()
    [[0.1, 1.0, 1.0], [0.1, 2.0, 1.0], [0.5, 1.0, 0.5], [0.5, 2.0, 1.0]]
    """
    grid = _grid(dict(n_classes=n_classes, n_per_class=n_per_class, c=c, d=d, lam=lam,
                      eta=eta, noise=noise), counts, superclass_size)
    report = _report_rounds(rounds)
    _checks.choice("method", method, {"exact", "linear"})
    if pll_topk not in (None, "auto"):
        _checks.integer_at_least("pll_topk", pll_topk, 1)
    if batch_size is not None:
        batch_size = _checks.integer_at_least("batch_size", batch_size, 1)
    _check_precision(precision, method)
    _compiled.resolve(engine)
    settings = dict(rounds=max(report), method=method, pll_topk=pll_topk, counts=counts,
                    tol=tol, superclass_size=superclass_size, precision=precision,
                    engine=engine)
    points = list(product(*(grid[name] for name in GRID)))
    results = solve_points(points, settings, client=client, batch_size=batch_size,
                           progress=progress)
    return _table(points, results, report)


# ---------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------

def _values(name, value):
    if isinstance(value, (list, tuple, range, np.ndarray)):
        values = list(np.asarray(value).tolist()) if isinstance(value, np.ndarray) \
            else list(value)
        if not values:
            raise ValueError(f"{name} must be a scalar or a non-empty list, got {value!r}")
        return values
    return [value]


def _grid(params, counts, superclass_size=None):
    """Validated axis values; every grid point is checked before any work."""
    grid = {name: _values(name, params[name]) for name in GRID}
    _checks.choice("counts", counts, {"expected", "exact"})
    for k in grid["n_classes"]:
        _checks.integer_at_least("n_classes", k, 2)
    for n in grid["n_per_class"]:
        if isinstance(n, bool) or not isinstance(n, (int, float, np.number)) \
                or not math.isfinite(n) or n < 1:
            raise ValueError(f"n_per_class must be a finite number >= 1, got {n!r}")
        if counts == "exact" and float(n) != int(n):
            raise ValueError(f'counts="exact" needs integer n_per_class, got {n!r}')
    for lam in grid["lam"]:
        _checks.positive_scalar("lam", lam)
    for c in grid["c"]:
        if not isinstance(c, (int, float, np.number)) or not 0 <= c < 1:
            raise ValueError(f"c must satisfy 0 <= c < 1, got {c!r}")
    for d in grid["d"]:
        if not isinstance(d, (int, float, np.number)) or d < 0:
            raise ValueError(f"d must satisfy 0 <= d < c, got {d!r}")
        if d >= min(grid["c"]):
            raise ValueError(f"d must satisfy 0 <= d < c at every grid point, got "
                             f"d={d!r} with c={min(grid['c'])!r}")
    for name in grid["noise"]:
        _checks.choice("noise", name, set(NOISES))
    for k in grid["n_classes"]:     # every point builds T and its counts, dense K × K
        _check_memory("sweep", "n_classes", k, 4 * 8 * k * k)
    for name, k, eta in product(grid["noise"], grid["n_classes"], grid["eta"]):
        _noise.transition_matrix(name, k, eta, superclass_size)   # refuses η out of range
    return grid


def _report_rounds(rounds):
    values = _values("rounds", rounds)
    if len(values) == 1 and not isinstance(rounds, (list, tuple, range, np.ndarray)):
        top = _checks.integer_at_least("rounds", values[0], 1)
        return list(range(1, top + 1))
    return sorted({_checks.integer_at_least("rounds", t, 1) for t in values})


# ---------------------------------------------------------------------------
# solving
# ---------------------------------------------------------------------------

def solve_points(points, settings, *, client=None, batch_size=None, progress=False,
                 n_jobs=1):
    """Per-point arrays for grid points ``(K, n, c, d, λ, η, noise)`` (internal API).

    Points with the same K are cut into batches of ``batch_size``; each batch
    is one stacked solve (:func:`_solve_task`), run here, in ``n_jobs``
    processes, or on a Dask ``client``. Returns a dict of arrays with the
    points on axis 0, in the order given.
    """
    tasks, order = [], []
    ks = np.array([p[0] for p in points])
    for k in np.unique(ks):
        idx = np.flatnonzero(ks == k)
        size = _batch_size(int(k), [points[i] for i in idx], settings, batch_size)
        for start in range(0, idx.size, size):
            part = idx[start:start + size]
            tasks.append(dict(settings, points=[points[i] for i in part]))
            order.append(part)
    outputs = _run(tasks, client, progress, n_jobs)
    merged = {}
    for name in outputs[0]:
        if name == "n_points":
            continue
        arr = np.concatenate([out[name] for out in outputs])
        full = np.empty((len(points),) + arr.shape[1:], dtype=arr.dtype)
        full[np.concatenate(order)] = arr
        merged[name] = full
    if not merged["converged"].all():
        warnings.warn(f"sweep: the reduced solver did not converge at "
                      f"{int((~merged['converged']).sum())} point(s)", RuntimeWarning,
                      stacklevel=3)
    bits = int(merged["bits"].max()) if settings.get("precision") is not None else None
    _undecided_warning(int(merged["undecided"].sum() + merged["pll_undecided"].sum()),
                       "sweep", bits)
    return merged


def _planned_groups(k, noises, settings):
    """Columns of the reduced layout a batch of K classes will use (an upper bound)."""
    orbit = (settings["method"] == "exact" and settings["counts"] == "expected"
             and settings.get("precision") is None)
    return max(planned_groups(k, name, orbit=orbit,
                              superclass_size=settings.get("superclass_size"))
               for name in noises)


def _batch_size(k, points, settings, batch_size):
    """Points per stacked solve of K classes: the given size, or the default cut to fit memory.

    Raises ValueError (before any work) when the given ``batch_size``, or a
    single point, would need more than the memory limit.
    """
    groups = _planned_groups(k, {p[6] for p in points}, settings)

    def need(size):
        linear = 24 * size * groups ** 2 if settings["method"] == "linear" else 0
        return _solver_bytes(size, k, groups, settings["rounds"]) + linear

    _check_memory("sweep", "n_classes", k, need(1))
    if batch_size is not None:
        _check_memory("sweep", "batch_size", batch_size, need(min(batch_size, len(points))))
        return batch_size
    size, limit = BATCH_SIZE, _memory_limit()
    while size > 1 and need(min(size, len(points))) > limit:
        size //= 2
    return size


def _run(tasks, client, progress, n_jobs):
    if client is not None:
        tasks = [dict(task, tune_allocator=True) for task in tasks]
        futures = client.map(_solve_task, tasks, pure=False)
        if progress:
            from dask.distributed import progress as dask_progress

            dask_progress(futures)
        return client.gather(futures)
    total = sum(len(task["points"]) for task in tasks)
    report = _reporter(progress, total)
    if n_jobs > 1 and len(tasks) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            return _collect(pool.map(_solve_task, tasks), report, total)
    return _collect(map(_solve_task, tasks), report, total)


def _collect(outputs, report, total):
    done, out = 0, []
    for result in outputs:
        out.append(result)
        done += result["n_points"]
        if report is not None:
            report(done, total)
    return out


def _reporter(progress, total):
    """``report(done, total)`` in points: a callable as given, or a tqdm bar for True."""
    if progress is None or progress is False:
        return None
    if progress is not True:
        if not callable(progress):
            raise TypeError(f"progress must be a callable, True or False, got "
                            f"{type(progress).__name__}")
        return progress
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="point")

    def report(done, total_):
        bar.update(done - bar.n)
        if done == total_:
            bar.close()
    return report


#: glibc's mallopt parameters (malloc.h) and the values set in a Dask worker:
#: heap (not mmap) for blocks below 32 MiB, and the heap kept until 128 MiB
#: are free at its top.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_TRIM_BYTES, _MMAP_BYTES = 128 << 20, 32 << 20


def _tune_allocator():
    """Give glibc's malloc fixed, generous thresholds in this process; False where not glibc.

    distributed's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536``,
    which also pins glibc's mmap threshold at 128 KiB: every NumPy temporary
    above it (a (2048, 4, 16) batch array is 1 MiB) is then mmap'd and
    zero-filled on each allocation, and a sweep task costs about 4x its local
    CPU. Setting both thresholds explicitly (mallopt) restores the local
    behaviour; it is idempotent and costs microseconds, so every task on a
    cluster calls it (workers that join later included).
    """
    try:
        libc_name = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError, AttributeError):
        libc_name = None
    if not libc_name or not libc_name.startswith("glibc"):
        return False
    libc = ctypes.CDLL(None)
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_BYTES)
                and libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_BYTES))


def _solve_task(task):
    """Every point of one K, in stacks of one reduced layout; returns per-point arrays."""
    if task.get("tune_allocator"):
        _tune_allocator()
    points = task["points"]
    k = int(points[0][0])
    mats = [_counts(k, p, task["counts"], task.get("superclass_size")) for p in points]
    arr = np.array([p[1:6] for p in points], dtype=float)       # n, c, d, λ, η
    n, c, d, lam = arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3]
    eye = np.eye(k)
    batch = _Batch(np.stack([m.reshape(-1) for m in mats]),
                   d[:, None, None] + (c - d)[:, None, None] * eye,
                   1.0 - c, k * n * lam)
    if task.get("precision") is not None:
        # the certificate works on the full K² layout: no orbit reduction
        exact = [(k * p[1], p[4], p[2]) for p in points]
        out = _stack_arrays(batch, task, exact)
    else:
        orbit = task["method"] == "exact"
        keys = _layout_keys(batch, orbit)
        parts = {key: _stack_arrays(batch.take(keys == key).reduced(orbit), task)
                 for key in np.unique(keys)}
        out = {}
        for name in parts[keys[0]]:
            first = parts[keys[0]][name]
            out[name] = np.empty((len(points),) + first.shape[1:], first.dtype)
            for key, part in parts.items():
                out[name][keys == key] = part[name]
    out["n_points"] = len(points)
    out["t_star"] = _t_stars(k, points, mats, task["rounds"])
    return out


def _stack_arrays(batch, task, exact=None):
    """Per-point arrays of one stacked solve; ``exact`` data certify its open verdicts."""
    k, size = batch.n_classes, batch.size
    topk = _topk(task["pll_topk"], k)
    res = _solve_batch(batch, task["rounds"], task["method"], topk, "split", task["tol"],
                       engine=_compiled.resolve(task.get("engine", "numpy")))
    bits = np.zeros(size, int)
    if exact is not None:
        res, bits = _certify_open(res, task["precision"], topk, "split", exact, task["tol"])
    all_right = np.all((res.verdicts == 1) | ~batch.present[:, None, :], axis=-1)
    nan2 = np.full((size, 2), math.nan)
    pll = nan2 if res.pll is None else np.stack(
        [res.pll.accuracy[:, 0, 0], res.pll.fresh_accuracy[:, 0]], axis=1)
    pll_right = (np.zeros(size, bool) if res.pll is None else
                 np.all((res.pll.verdicts[:, 0] == 1) | ~batch.present, axis=-1))
    return dict(
        accuracy=res.accuracy, fresh=res.fresh_accuracy,
        undecided=res.undecided, all_right=all_right,
        least_round=_least_rounds(all_right, res.undecided),
        pll=pll, pll_all_right=pll_right,
        pll_undecided=(np.zeros(size, int) if res.pll is None
                       else res.pll.undecided[:, 0]),
        converged=res.path.converged.all(axis=1), bits=bits)


def _topk(pll_topk, k):
    """k of the PLL targets at K = ``k``: ``"auto"`` is min(2, K − 1); a k ≥ K skips the student."""
    if pll_topk == "auto":
        return min(2, k - 1)
    return pll_topk if pll_topk is not None and pll_topk < k else None


def _counts(k, point, counts, superclass_size=None):
    transition = _noise.transition_matrix(point[6], k, point[5], superclass_size)
    if counts == "exact":
        return _noise.count_matrix(int(point[1]), transition).astype(float)
    return point[1] * transition


def _least_rounds(all_right, undecided):
    """Least t with every group right; NaN if none, or if an undecided round is first."""
    out = np.full(all_right.shape[0], math.nan)
    for i, (right, open_) in enumerate(zip(all_right, undecided)):
        hits = np.flatnonzero(right | (open_ > 0))
        if hits.size and right[hits[0]]:
            out[i] = hits[0] + 1
    return out


def _t_stars(k, points, mats, rounds):
    """t* of every point (NaN if infeasible): Δ and the uniformity of m̄ stacked.

    The same arithmetic as :func:`labelavg.theorems._delta` and ``_linearised``
    (elementwise, then exact minima), in chunks of about 2²⁰ entries; where m̄
    is not uniform, the per-point linear scan.
    """
    from .block import BlockModel
    from .theorems import _UNIFORM_ATOL, _delta, _linearised, _log_ratio, _t_star

    out = np.full(len(points), math.nan)
    chunk = max(1, (1 << 20) // (k * k))
    off = ~np.eye(k, dtype=bool)
    for start in range(0, len(points), chunk):
        stack = np.stack(mats[start:start + chunk])
        m_c = stack / stack.sum(axis=2, keepdims=True)
        gap = np.diagonal(m_c, axis1=1, axis2=2)[:, :, None] - m_c
        delta = np.where((stack > 0) & off, gap, math.inf).min(axis=(1, 2))
        m_bar = stack.sum(axis=1) / stack.sum(axis=(1, 2))[:, None]
        uniform = np.max(np.abs(m_bar - 1 / k), axis=1) <= _UNIFORM_ATOL
        for i, point in enumerate(points[start:start + chunk], start):
            if uniform[i - start]:
                # the closed form reads only K, n, N, c, d: no validated BlockModel
                model = SimpleNamespace(n_classes=k, n_per_class=point[1],
                                        n_samples=k * point[1], c=point[2], d=point[3])
                least = _t_star(float(delta[i - start]), _log_ratio(model, point[4]))[0]
            else:
                least = _linearised(BlockModel(k, point[1], point[2], point[3]), point[4],
                                    mats[i], _delta(mats[i]), rounds)[0]
            out[i] = math.nan if least is None else float(least)
    return out


def _table(points, results, report):
    import pandas as pd

    n_rounds = len(report)
    idx = np.asarray(report) - 1
    grid = {name: np.repeat([p[i] for p in points], n_rounds) for i, name in enumerate(GRID)}
    per_round = {
        "round": np.tile(report, len(points)),
        "label_correction": results["accuracy"][:, idx, 0].ravel(),
        "label_correction_clean": results["accuracy"][:, idx, 1].ravel(),
        "label_correction_noisy": results["accuracy"][:, idx, 2].ravel(),
        "fresh": results["fresh"][:, idx].ravel(),
        "undecided": results["undecided"][:, idx].ravel(),
    }
    per_point = {
        "t_star": results["t_star"], "least_round": results["least_round"],
        "pll_label_correction": results["pll"][:, 0], "pll_fresh": results["pll"][:, 1],
    }
    per_point = {name: np.repeat(v, n_rounds) for name, v in per_point.items()}
    return pd.DataFrame({**grid, **per_round, **per_point}, columns=list(COLUMNS))
