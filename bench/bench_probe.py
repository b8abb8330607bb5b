"""Speed of labelavg's primal Newton-CG fits against scikit-learn, and of its rounds.

Every mode runs on one BLAS thread (set here unless OPENBLAS_NUM_THREADS is set):
on a shared machine, multi-threaded BLAS spin-waits and timings lose all meaning.

Modes
-----
``python bench/bench_probe.py``            speed on WordNet/MiniLM (N = 14000 train rows,
                                           D = 384, K = 24, float64, clean labels,
                                           λ in {1e-4, 1e-3}): teacher + students t = 2, 3
                                           against scikit-learn / L-BFGS
``python bench/bench_probe.py --grid``     the teacher against scikit-learn's fastest
                                           solver over N ∈ {2k, 20k}, D ∈ {32, 384},
                                           K ∈ {4, 24}, λ ∈ {1e-2, 1e-4, 1e-6}, separated
                                           and overlapping classes (48 cells);
                                           ``--quick``: the 24 cells with N = 2000; ``--sizes 20000``: the other 24
``python bench/bench_probe.py --rounds-cost`` CPU seconds of each fit of SelfDistillation
                                           (teacher, students, PLL) as ratios to the teacher
                                           on the shipped sets, float32 and float64, this
                                           solver and that of ``--baseline`` (git show)
``python bench/bench_probe.py --pll-starts`` the PLL student's CPU seconds over the
                                           teacher's with its start or preconditioner
                                           changed (two-level from the first CG solve;
                                           cold start W = 0), best of 3, shipped sets
``python bench/bench_probe.py --paper``    test-accuracy gains over the teacher under
                                           superclass noise, η = 0.5 and 0.8, 3 seeds
``python bench/bench_probe.py --lam-check`` the check behind the CLI's default λ

How the tolerances are matched
------------------------------
Both solvers minimise the same objective f(W) = (1/N) Σ CE + (λ/2)||W||² and are
judged by the same number, the relative gradient norm
r = ||∇f|| / (||(P − Q)F/N|| + λ||W||) (:class:`labelavg.FitResult`).

- Teacher: scikit-learn ``LogisticRegression(solver="lbfgs", fit_intercept=False,
  tol=1e-8)`` runs first; r_sk is the relative gradient norm of its answer. labelavg
  then runs with ``tol=r_sk``, i.e. to at least the same accuracy.
- Students (soft targets Y⁽ᵗ⁻¹⁾, which scikit-learn's estimator does not accept):
  the baseline is the loop scikit-learn's lbfgs solver runs,
  ``scipy.optimize.minimize(method="L-BFGS-B", maxls=50, ftol=64 eps)`` on the same
  loss, stopped by a callback as soon as r <= r_sk. Both solvers start from the
  previous round's W and fit the same targets (the previous round's tight solution);
  labelavg's rounds share one problem as in :class:`labelavg.probe.SelfDistillation`
  (factorisations and the last preconditioner carry over).
  The teacher row "L-BFGS-B" shows this baseline is as fast as scikit-learn itself.

Every row reports both solutions' r and the max |Δprob| between them; ratios are
measured in the same run (the machine is shared: absolute seconds drift).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import itertools
import time
import warnings
from dataclasses import replace

import numpy as np
import scipy.optimize

from labelavg import noise
from labelavg.datasets import load_wordnet_minilm
from labelavg.fixed_point import _newton, _Primal
from labelavg.probe import SelfDistillation, confusable_classes, noise_sweep

LAMS = (1e-4, 1e-3)


# ---------------------------------------------------------------------------
# shared numerics of the baselines


def softmax_rows(z):
    z = z - z.max(axis=0)
    e = np.exp(z)
    return e / e.sum(axis=0)


def relative_gradient(w, x, targets, lam):
    """(r, P): the relative gradient norm of f at W (K, D) and the outputs P (K, N)."""
    probs = softmax_rows(w @ x.T)
    data = (probs - targets) @ x / x.shape[0]
    grad = data + lam * w
    return np.linalg.norm(grad) / (np.linalg.norm(data) + lam * np.linalg.norm(w)), probs


def lbfgs(x, targets, lam, w0, target_r, max_iter=20_000):
    """scikit-learn's lbfgs loop on soft targets, stopped once r <= target_r."""
    k, n = targets.shape
    last = {}

    def fun(flat):
        w = flat.reshape(k, -1)
        z = w @ x.T
        top = z.max(axis=0)
        lse = top + np.log(np.exp(z - top).sum(axis=0))
        probs = np.exp(z - lse)
        data = (probs - targets) @ x / n
        grad = data + lam * w
        last.update(flat=flat, r=np.linalg.norm(grad)
                    / (np.linalg.norm(data) + lam * np.linalg.norm(w)))
        value = np.sum(lse - np.sum(targets * z, axis=0)) / n + 0.5 * lam * np.sum(w * w)
        return value, grad.ravel()

    def callback(intermediate_result):
        if np.array_equal(last["flat"], intermediate_result.x) and last["r"] <= target_r:
            raise StopIteration

    res = scipy.optimize.minimize(fun, w0.ravel(), jac=True, method="L-BFGS-B",
                                  callback=callback,
                                  options={"maxiter": max_iter, "maxls": 50, "gtol": 0.0,
                                           "ftol": 64 * np.finfo(float).eps})
    return res.x.reshape(k, -1), res.nit


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


# ---------------------------------------------------------------------------
# speed


def speed(lams=LAMS, rounds=3):
    from sklearn.linear_model import LogisticRegression

    data = load_wordnet_minilm()
    x, y = data.x_train.astype(np.float64), data.y_train
    n, k = x.shape[0], data.n_classes
    onehot = np.eye(k)[y].T
    print(f"WordNet/MiniLM N={n} D={x.shape[1]} K={k}, float64, clean labels; "
          f"seconds (same run), r = relative gradient norm")
    head = (f"{'λ':>6} {'fit':<9} {'baseline':<16} {'s':>7} {'r':>8} | {'labelavg s':>10} "
            f"{'r':>8} {'Newton':>6} | {'speed-up':>8} {'max|Δp|':>8} | {'labelavg to 1e-10':>17}")
    print(head)
    print("-" * len(head))
    for lam in lams:
        _speed_rows(LogisticRegression, x, y, onehot, lam, rounds)


def _speed_rows(logreg, x, y, onehot, lam, rounds):
    n = x.shape[0]
    clf, t_sk = timed(logreg(C=1 / (n * lam), fit_intercept=False, tol=1e-8,
                             max_iter=20_000).fit, x, y)
    r_sk, p_sk = relative_gradient(clf.coef_, x, onehot, lam)
    (problem, ours), t_ours = timed(_teacher, x, onehot, lam, r_sk)
    tight, t_tight = timed(_newton, problem, None, 1e-10, 100)
    _row(lam, "teacher", "scikit-learn", t_sk, r_sk, ours, t_ours, p_sk, t_tight)
    (w_lb, _), t_lb = timed(lbfgs, x, onehot, lam, np.zeros_like(clf.coef_), r_sk)
    r_lb, p_lb = relative_gradient(w_lb, x, onehot, lam)
    _row(lam, "teacher", "L-BFGS-B", t_lb, r_lb, ours, t_ours, p_lb, t_tight)
    for t in range(2, rounds + 1):
        targets, w0 = tight.probs, tight.coef
        (w_lb, _), t_lb = timed(lbfgs, x, targets, lam, w0, r_sk)
        r_lb, p_lb = relative_gradient(w_lb, x, targets, lam)
        student = replace(problem, targets=targets)   # as SelfDistillation does
        ours, t_ours = timed(_newton, student, w0, r_sk, 100)
        tight, t_tight = timed(_newton, student, w0, 1e-10, 100)
        _row(lam, f"t={t} warm", "L-BFGS-B warm", t_lb, r_lb, ours, t_ours, p_lb, t_tight)


def _teacher(x, onehot, lam, tol):
    problem = _Primal.build(x, onehot, lam)
    return problem, _newton(problem, None, tol, 100)


def _row(lam, name, base, t_base, r_base, ours, t_ours, p_base, t_tight):
    print(f"{lam:6.0e} {name:<9} {base:<16} {t_base:7.2f} {r_base:8.1e} | {t_ours:10.2f} "
          f"{ours.residual:8.1e} {ours.n_iter:6d} | {t_base / t_ours:7.1f}x "
          f"{np.abs(ours.probs - p_base).max():8.1e} | {t_tight:16.2f}s", flush=True)


# ---------------------------------------------------------------------------
# the paper's claims on real features


def paper(lam=1e-4, rounds=5, seeds=3, cut=0.95, etas=(0.5, 0.8)):
    from labelavg.cli.probe import format_table

    data = load_wordnet_minilm()
    paper_cut = confusable_classes(data.x_train, data.y_train, 0.8)
    clusters = confusable_classes(data.x_train, data.y_train, cut)
    sizes = sorted(np.bincount(clusters).tolist(), reverse=True)
    print(f"superclasses at the paper's cut 0.8: {np.bincount(paper_cut).size} "
          f"(all singletons -> superclass noise would flip nothing); at cut {cut}: "
          f"{len(sizes)} superclasses, sizes {sizes}")
    print(f"λ={lam:g}, {rounds} rounds, PLL top-2, float32, seeds 0..{seeds - 1}")
    sweep = noise_sweep(data, {eta: noise.superclass(clusters, eta) for eta in etas},
                        SelfDistillation(lam, rounds), seeds=range(seeds))
    print(format_table(sweep))
    for which in ("test", "label"):
        mean, std = sweep.gains(which)
        print(f"\ngain over the teacher, {which} accuracy (percentage points, mean ± std):")
        print(f"{'model':<14}" + "".join(f"{'η=' + format(e, 'g'):>16}" for e in sweep.etas))
        for j, name in enumerate(sweep.models[1:]):
            print(f"{name:<14}" + "".join(f"{f'{mean[i, j]:+.2f} ± {std[i, j]:.2f}':>16}"
                                          for i in range(len(sweep.etas))))


def lam_check(lams=(1e-6, 1e-5, 1e-4, 1e-3), cut=0.95, eta=0.5):
    """Clean teacher test accuracy and the t=2 student's gain under superclass noise."""
    data = load_wordnet_minilm()
    clusters = confusable_classes(data.x_train, data.y_train, cut)
    print(f"{'λ':>6} {'clean teacher':>14} {'noisy teacher':>14} {'t=2 gain':>9} {'PLL gain':>9}")
    for lam in lams:
        sweep = noise_sweep(data, {0.0: noise.superclass(clusters, 0.0),
                                   eta: noise.superclass(clusters, eta)},
                            SelfDistillation(lam, 2), seeds=(0,))
        acc = 100 * sweep.test_accuracy[:, 0, :]
        print(f"{lam:6.0e} {acc[0, 0]:13.1f}% {acc[1, 0]:13.1f}% {acc[1, 1] - acc[1, 0]:+8.1f} "
              f"{acc[1, 2] - acc[1, 0]:+8.1f}", flush=True)


# ---------------------------------------------------------------------------
# the teacher against scikit-learn over a grid of problems

#: tolerances tried, loosest first: each solver is timed at the loosest one whose
#: outputs are within PROB_MATCH of the reference
TOLS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10, 1e-12)
PROB_MATCH = 1e-6
SK_SOLVERS = ("lbfgs", "newton-cg", "newton-cholesky")
#: newton-cholesky forms the (K D)² Hessian: skipped above this many unknowns
CHOLESKY_MAX_UNKNOWNS = 2000


def gaussian_classes(n, d, k, separated, seed=0, flip=0.2):
    """Gaussian classes (unit noise) at centre distance 4 (separated) or 1 (overlapping);
    ``flip`` of the labels replaced by uniform random ones."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centres = rng.normal(size=(k, d))
    centres *= (4.0 if separated else 1.0) / np.sqrt(2 * d)
    x = centres[y] * np.sqrt(d) + rng.normal(size=(n, d))
    given = np.where(rng.random(n) < flip, rng.integers(0, k, n), y)
    return x, given


def matched_time(fit_at, reference, budget=float("inf")):
    """(seconds, tol) of the loosest tol whose probs are within PROB_MATCH.

    The ladder stops once its attempts took ``budget`` seconds in all; the solver
    then counts as taking more than ``budget`` (returned as (budget, inf)).
    """
    spent = 0.0
    for tol in TOLS:
        (probs, ok), seconds = timed(fit_at, tol)
        if ok and float(np.abs(probs - reference).max()) <= PROB_MATCH:
            return seconds, tol
        spent += seconds
        if spent > budget:
            break
    return budget, float("inf")


def grid(sizes=(2000, 20000)):
    from sklearn.linear_model import LogisticRegression

    print(f"teacher seconds / fastest scikit-learn solver's seconds (one BLAS thread); every "
          f"solver at its loosest tol in {TOLS[0]:g}..{TOLS[-1]:g} whose probs are within "
          f"{PROB_MATCH:g} of labelavg's tol 1e-12 solution; 20% of labels flipped. A "
          f"scikit-learn ladder is cut after 20x labelavg's 1e-10 time (at least 1 s): "
          f"'none' = no solver matched within it, the ratio is then an upper bound")
    head = (f"{'N':>6} {'D':>4} {'K':>3} {'λ':>6} {'classes':<11} | {'labelavg s':>10} "
            f"{'tol':>6} | {'best sk':<15} {'s':>7} {'tol':>6} | {'ratio':>6} "
            f"{'at 1e-10':>8} | lbfgs ratio")
    print(head)
    print("-" * len(head))
    ratios = []
    for n, d, k, lam, sep in itertools.product(sizes, (32, 384), (4, 24), (1e-2, 1e-4, 1e-6),
                                               (True, False)):
        ratios.append(_grid_cell(LogisticRegression, n, d, k, lam, sep))
    ratios = np.array(ratios)
    print(f"geometric mean ratio {np.exp(np.nanmean(np.log(ratios[:, 0]))):.2f} "
          f"(at 1e-10: {np.exp(np.nanmean(np.log(ratios[:, 1]))):.2f}); cells with ratio > 1: "
          f"{int(np.sum(ratios[:, 0] > 1))} of {len(ratios)}")


def _grid_cell(logreg, n, d, k, lam, separated):
    x, y = gaussian_classes(n, d, k, separated)
    onehot = np.eye(k)[y].T
    problem = _Primal.build(x, onehot, lam)
    reference = _newton(problem, None, 1e-12, 200)

    def ours(tol):
        fit = _newton(_Primal.build(x, onehot, lam), None, tol, 200)
        return fit.probs, fit.converged

    t_ours, tol_ours = matched_time(ours, reference.probs)
    _, t_tight = timed(ours, 1e-10)
    budget = max(20 * t_tight, 1.0)   # a scikit-learn ladder is cut after this many seconds
    best = (budget, "none", float("inf"))
    lbfgs_s, lbfgs_bound = budget, "<"
    for solver in SK_SOLVERS:
        if solver == "newton-cholesky" and k * d > CHOLESKY_MAX_UNKNOWNS:
            continue

        def theirs(tol, solver=solver):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # ConvergenceWarning at loose tol
                clf = logreg(C=1 / (n * lam), fit_intercept=False, solver=solver, tol=tol,
                             max_iter=10_000).fit(x, y)
            return clf.predict_proba(x).T, True

        seconds, tol = matched_time(theirs, reference.probs, budget)
        if solver == "lbfgs":
            lbfgs_s, lbfgs_bound = seconds, "<" if tol == float("inf") else " "
        if tol < float("inf") and seconds <= best[0]:
            best = (seconds, solver, tol)
    ratio, tight_ratio = t_ours / best[0], t_tight / best[0]
    bound = "<" if best[1] == "none" else " "
    print(f"{n:6d} {d:4d} {k:3d} {lam:6.0e} {'separated' if separated else 'overlapping':<11} | "
          f"{t_ours:10.3f} {tol_ours:6.0e} | {best[1]:<15} {best[0]:7.3f} {best[2]:6.0e} | "
          f"{bound}{ratio:5.2f} {bound}{tight_ratio:7.2f} | {lbfgs_bound}{t_ours / lbfgs_s:5.2f}",
          flush=True)
    return ratio, tight_ratio


# ---------------------------------------------------------------------------
# the cost of each round relative to the teacher


SHIPPED = ("digits_effnet", "fashion_mnist_effnet", "wordnet_minilm", "wordnet100_minilm")


def load_solver(commit):
    """labelavg/fixed_point.py of ``commit`` (git show) as a module inside labelavg."""
    import importlib.util
    import subprocess
    import sys

    source = subprocess.run(["git", "show", f"{commit}:labelavg/fixed_point.py"], check=True,
                            capture_output=True, text=True).stdout
    name = f"labelavg._fixed_point_{commit}"
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader=None))
    module.__package__ = "labelavg"
    sys.modules[name] = module
    exec(compile(source, f"{commit}:labelavg/fixed_point.py", "exec"), module.__dict__)
    return module


def _fits(solver, x, onehot, lam, rounds, tol):
    """SelfDistillation's exact path (teacher, warm students, PLL top-2 from the teacher's
    W) on ``solver``'s _Primal/_newton: [(name, FitResult, CPU s, HVP)]."""
    from labelavg.distill import pll_targets

    passes = [0]
    plain = solver._Rows.hessian_pass

    def counted(self, v, probs):
        passes[0] += 1
        return plain(self, v, probs)

    solver._Rows.hessian_pass = counted
    try:
        problem = solver._Primal.build(x, onehot, lam)
        out = []

        def fit(name, targets, init):
            passes[0], start = 0, time.process_time()
            res = solver._newton(replace(problem, targets=targets), init, tol, 100)
            out.append((name, res, time.process_time() - start, passes[0]))
            return res

        teacher = student = fit("teacher", problem.targets, None)
        for t in range(2, rounds + 1):
            student = fit(f"t={t}", student.probs, student.coef)
        q_pll = pll_targets(np.asarray(teacher.probs, dtype=float), 2, "split")
        fit("PLL", q_pll.astype(x.dtype), teacher.coef)
        return out
    finally:
        solver._Rows.hessian_pass = plain


def rounds_cost(rounds=3, baseline="cc873b9", sets=SHIPPED, dtypes=("float32", "float64")):
    """CPU seconds of each fit as a ratio to the teacher, this checkout's solver and the
    solver of ``baseline`` in the same run; symmetric η = 0.5 labels, λ = 1e-4."""
    from labelavg import fixed_point, noise
    from labelavg.datasets import load

    old = load_solver(baseline)
    print(f"fits of SelfDistillation(1e-4, {rounds}) (exact path, PLL top-2): CPU seconds "
          f"(time.process_time, one BLAS thread) and ratio to the teacher; new = this "
          f"checkout, old = {baseline}, same run; HVP = Hessian-vector products; "
          f"|ΔW| = max |W_new − W_old| / max |W_old|")
    for name in sets:
        data = load(name)
        given = noise.sample_labels(data.y_train, noise.symmetric(data.n_classes, 0.5),
                                    np.random.default_rng(0))
        onehot = np.eye(data.n_classes)[given].T
        for dtype in dtypes:
            x = data.x_train.astype(dtype)
            tol = fixed_point.default_tol(x.dtype)
            new = _fits(fixed_point, x, onehot, 1e-4, rounds, tol)
            prev = _fits(old, x, onehot, 1e-4, rounds, tol)
            _cost_rows(f"{name} {dtype}", new, prev)


def _cost_rows(label, new, prev):
    t_new, t_old = new[0][2], prev[0][2]
    print(f"{label}: teacher {t_new:.3f} s new / {t_old:.3f} s old", flush=True)
    for (fit, a, s_a, h_a), (_, b, s_b, h_b) in zip(new, prev):
        scale = float(np.max(np.abs(b.coef)))
        print(f"  {fit:<8} new {s_a / t_new:5.2f}x ({s_a:6.3f} s, {a.n_iter} N, {h_a:3d} HVP, "
              f"r {a.residual:.1e}{'' if a.converged else ' UNCONVERGED'}) | old "
              f"{s_b / t_old:5.2f}x ({s_b:6.3f} s, {b.n_iter} N, {h_b:3d} HVP, r {b.residual:.1e})"
              f" | new/old {s_a / s_b:4.2f} | |ΔW| {np.max(np.abs(a.coef - b.coef)) / scale:.1e}",
              flush=True)


def _pll_ratio(x, onehot, variant):
    """PLL CPU seconds / teacher CPU seconds (λ = 1e-4, default tol) and the PLL fit,
    ``variant`` "default", "two-level" (from the first CG solve) or "cold" (W = 0)."""
    from labelavg import fixed_point
    from labelavg.distill import pll_targets

    problem = fixed_point._Primal.build(x, onehot, 1e-4)
    tol = fixed_point.default_tol(x.dtype)
    start = time.process_time()
    teacher = fixed_point._newton(problem, None, tol, 100)
    t_teacher = time.process_time() - start
    q_pll = pll_targets(np.asarray(teacher.probs, dtype=float), 2, "split").astype(x.dtype)
    plain = fixed_point._PLAIN_CG_STEPS
    fixed_point._PLAIN_CG_STEPS = -1 if variant == "two-level" else plain
    try:
        start = time.process_time()
        pll = fixed_point._newton(replace(problem, targets=q_pll),
                                  None if variant == "cold" else teacher.coef, tol, 100)
        return (time.process_time() - start) / t_teacher, pll
    finally:
        fixed_point._PLAIN_CG_STEPS = plain


def pll_starts(sets=SHIPPED, repeats=3):
    """Does the PLL student get below the teacher's time with another start or
    preconditioner? Symmetric η = 0.5 labels; best of ``repeats`` interleaved runs."""
    from labelavg import noise
    from labelavg.datasets import load

    variants = ("default", "two-level", "cold")
    print("PLL CPU s / teacher CPU s (best of %d); Newton steps; max|ΔW|/max|W| vs default" % repeats)
    for name in sets:
        data = load(name)
        given = noise.sample_labels(data.y_train, noise.symmetric(data.n_classes, 0.5),
                                    np.random.default_rng(0))
        onehot = np.eye(data.n_classes)[given].T
        for dtype in ("float32", "float64"):
            x = data.x_train.astype(dtype)
            runs = {v: [_pll_ratio(x, onehot, v) for _ in range(repeats)] for v in variants}
            ref = runs["default"][0][1].coef
            cells = [f"{v} {min(r for r, _ in runs[v]):.2f}x ({runs[v][0][1].n_iter} N, "
                     f"ΔW {np.max(np.abs(runs[v][0][1].coef - ref)) / np.max(np.abs(ref)):.0e})"
                     for v in variants]
            print(f"{name} {dtype}: " + " | ".join(cells), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paper", action="store_true", help="accuracy gains (paper claims)")
    parser.add_argument("--lam-check", action="store_true", help="the default-λ check")
    parser.add_argument("--grid", action="store_true", help="teacher vs scikit-learn grid")
    parser.add_argument("--quick", action="store_true", help="--grid: only N = 2000")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000],
                        help="--grid: the N of the cells (default 2000 20000)")
    parser.add_argument("--rounds-cost", action="store_true",
                        help="each fit's seconds as a ratio to the teacher's")
    parser.add_argument("--baseline", default="cc873b9",
                        help="--rounds-cost: git commit of the solver compared against")
    parser.add_argument("--sets", nargs="+", default=list(SHIPPED),
                        help="--rounds-cost: shipped feature sets")
    parser.add_argument("--rounds", type=int, default=None,
                        help="fits: speed 3 per λ, --paper 5")
    parser.add_argument("--lam", type=float, default=1e-4, help="--paper: λ (1e-4)")
    parser.add_argument("--pll-starts", action="store_true",
                        help="the PLL student's time with other starts / preconditioners")
    args = parser.parse_args(argv)
    if args.grid:
        grid(sizes=(2000,) if args.quick else tuple(args.sizes))
    elif args.rounds_cost:
        rounds_cost(rounds=args.rounds or 3, baseline=args.baseline, sets=args.sets)
    elif args.pll_starts:
        pll_starts(sets=args.sets)
    elif args.paper:
        paper(lam=args.lam, rounds=args.rounds or 5)
    elif args.lam_check:
        lam_check()
    else:
        speed(rounds=args.rounds or 3)


if __name__ == "__main__":
    main()
