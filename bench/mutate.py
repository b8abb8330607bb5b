"""Mutation testing: does the suite notice one-line mistakes in the library?

Each mutant is ``(file, exact source substring, replacement, why)``: the
substring must occur exactly once in ``labelavg/<file>``. The script copies the
repository (library, tests and what they read) to a temporary directory once,
then for each mutant rewrites that one substring, runs only the test files that
cover the module (``TESTS``) with ``pytest -x`` under a timeout, and restores
the file. A mutant is

- **killed** when the tests fail (or time out, or the module no longer imports),
- **survived** when they all pass,
- **skipped (line not found)** when the substring is not in the file (the code
  changed since the list was written; edit the list), or
  **skipped (ambiguous)** when it occurs more than once.

The kill rate is killed / (killed + survived). The working tree is never
modified. Run from the repository root::

    python bench/mutate.py                  # every mutant (5-8 min on a shared 2-core box)
    python bench/mutate.py --module theorems --module noise
    python bench/mutate.py --list           # print the mutants, run nothing
    python bench/mutate.py --tests tests/test_pinned.py   # what one test file kills
    python bench/mutate.py --timeout 300 --json mutants.json

Exit status 0 when the kill rate reaches ``--target`` (default 0.9), 1 otherwise.
Byte-code caching is off in the copy, so a restored file is never shadowed by
the mutant's stale ``.pyc``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: What the copy needs: the package, the tests and what the tests run or read.
COPY = ("labelavg", "tests", "theory", "figures", "data", "pyproject.toml")

#: Test files run for a mutant of each module (relative to the repository root).
TESTS = {
    "fixed_point": ["tests/test_fixed_point.py", "tests/test_pinned.py"],
    "distill": ["tests/test_distill.py", "tests/test_pinned.py", "tests/test_pinned_solver.py"],
    "block": ["tests/test_block.py", "tests/test_pinned.py", "tests/test_certificate.py",
              "tests/test_sweep.py", "tests/test_pinned_solver.py"],
    "theorems": ["tests/test_theorems.py", "tests/test_pinned.py"],
    "noise": ["tests/test_noise.py", "tests/test_pinned.py"],
    "phase": ["tests/test_phase.py", "tests/test_pinned.py", "tests/test_pinned_solver.py"],
    "probe": ["tests/test_probe.py", "tests/test_pinned.py"],
    "sweep": ["tests/test_sweep.py", "tests/test_phase.py", "tests/test_pinned.py",
              "tests/test_pinned_solver.py"],
    "_mp": ["tests/test_certificate.py", "tests/test_block.py", "tests/test_pinned_solver.py"],
    "_certify": ["tests/test_certify.py", "tests/test_block.py", "tests/test_theorems.py"],
    "_bound": ["tests/test_bound.py", "tests/test_block.py"],
}

#: Slow end-to-end tests left out of the per-mutant runs (the full suite runs them).
DESELECT = ["tests/test_probe.py::test_cli_on_the_committed_set"]


@dataclass(frozen=True)
class Mutant:
    file: str          # module file name under labelavg/
    find: str          # exact substring of one source line (must be unique in the file)
    replace: str
    why: str

    @property
    def module(self):
        return self.file.removesuffix(".py")


# Left out as equivalent (no input tells them apart, so no test can kill them):
# noise.exact_counts without the 1e-9 shift in floor(n_c T + 1e-9) (largest
# remainder gives the lost unit back: its remainder rounds to 1.0, the largest);
# phase's "fresh" read at the teacher (fresh accuracy is constant over rounds for
# symmetric/asymmetric/pair noise: searched K 3-4, η 0.3-0.8, λ 1e-4-1e-1).

M = Mutant
MUTANTS = [
    # -- fixed_point --------------------------------------------------------
    M("fixed_point.py", "reg_norm = lam * math.sqrt(max(_vdot(xp, coef, logits), 0.0))",
      "reg_norm = 0.0",
      "dual residual drops λ‖W‖ from its denominator"),
    M("fixed_point.py", "return init - init.mean(axis=0, keepdims=True)", "return init",
      "dual init not centred per column"),
    M("fixed_point.py", "state.residual <= max(tol, state.floor), problem.form",
      "True, problem.form",
      "converged always True"),
    M("fixed_point.py", "return expz / xp.sum(expz, axis=0, keepdims=True)",
      "return expz / xp.sum(expz, axis=1, keepdims=True)", "softmax over the wrong axis"),
    M("fixed_point.py", "grad = data + lam * coef", "grad = data + 0.5 * lam * coef",
      "primal gradient with λ/2"),
    M("fixed_point.py", "logits = (targets - probs) @ gram / (probs.shape[1] * lam)",
      "logits = (targets - probs) @ gram / lam", "fixed_point_residual without N"),
    M("fixed_point.py", "kernel_grad = (probs - self.targets) / n + lam * coef",
      "kernel_grad = (probs - self.targets) + lam * coef", "dual gradient without 1/N"),
    M("fixed_point.py", 'return _DEFAULT_TOL["float32" if "32" in str(dtype)',
      'return _DEFAULT_TOL["float64" if "32" in str(dtype)', "float32 gets the float64 tol"),
    M("fixed_point.py", "if float(xp.max(xp.abs(xp.sum(targets, axis=0) - 1))) > 1e-6:",
      "if float(xp.max(xp.abs(xp.sum(targets, axis=1) - 1))) > 1e-6:",
      "primal target check sums rows"),
    # -- distill ------------------------------------------------------------
    M("distill.py", "targets, init = result.probs, result.coef", "targets, init = onehot, result.coef",
      "every round refits the given labels"),
    M("distill.py", "q_pll = pll_targets(fits[0].probs, pll_topk, ties, tie_tol=errors[0])",
      "q_pll = pll_targets(fits[-1].probs, pll_topk, ties, tie_tol=errors[-1])",
      "PLL from the last round"),
    M("distill.py", "coords = (targets - 1.0 / n_classes) @ spectrum.evecs",
      "coords = targets @ spectrum.evecs", "linear path not centred at u"),
    M("distill.py", "filt = round_filter(spectrum.evals, lam, n_samples, n_classes)",
      "filt = round_filter(spectrum.evals, lam, n_samples, 1)", "linear filter without K"),
    M("distill.py", "tied = ~above & (probs >= kth - 2 * tie_tol)",
      "tied = ~above & (probs > kth - 2 * tie_tol)", "tie band open"),
    M("distill.py", "above = probs > kth + 2 * tie_tol", "above = probs > kth",
      "tie band ignored above the k-th value"),
    M("distill.py", "return above / k + tied * (free / (k * tied.sum(axis=0)))",
      "return above / k + tied / (k * tied.sum(axis=0))", "split ignores the free places"),
    M("distill.py", "return margin > bound, np.abs(margin) <= bound",
      "return margin >= -bound, np.abs(margin) <= bound", "ties counted right"),
    M("distill.py", "for m in (np.ones_like(clean), clean, ~clean)))",
      "for m in (np.ones_like(clean), ~clean, clean)))", "clean/noisy swapped"),
    # -- block ----------------------------------------------------------------
    # (lines outside the stacked Newton solver, whose internals change often)
    M("block.py", "np.array([(1.0 - m.c) if self_term else 0.0 for m in models]),",
      "np.array([(1.0 - m.d) if self_term else 0.0 for m in models]),", "self term with d"),
    M("block.py", "batch = _Batch.stack([self], [mat], [lam], self_term)",
      "batch = _Batch.stack([self], [mat], [lam], False)",
      "Gram map drops the self term (self_term ignored)"),
    M("block.py", "residual=result.path.residual[index], converged=result.path.converged[index],",
      "residual=result.path.residual[index], converged=result.path.converged[index] | True,",
      "reported converged always True"),
    M("block.py", "result = _solve_batch(batch, rounds, method, pll_topk, ties, tol, max_iter)",
      "result = _solve_batch(batch, rounds, method, pll_topk, ties, 1e3 * tol, max_iter)",
      "Newton stops early (relative stop rule loosened by 1e3)"),
    M("block.py", "shift = batch.n_classes * batch.n_lam[:, None, None]",
      "shift = batch.n_lam[:, None, None]", "linear operator without K"),
    M("block.py", "return mat * (n / total)", "return mat * n", "counts scaled by n again"),
    M("block.py", "out = np.where(sup[:, None] == sup[None, :], float(self.d), float(far))",
      "out = np.where(sup[:, None] == sup[None, :], float(far), float(self.d))",
      "hierarchical d/e swapped"),
    M("block.py", "mu2 = mu1 + n * (c - d)", "mu2 = mu1 + n * c", "μ₂ without d"),
    M("block.py", "else (1.0 + fresh) / k)", "else (1.0 + fresh) / (k + 1))",
      "linear fresh probs"),
    M("block.py", "w = weights * mask", "w = (weights > 0) * mask",
      "accuracy not count-weighted (mean over groups)"),
    M("_bound.py", "volume = _SLACK * (_energy(batch, r) + _energy_abs(batch, err_in)) + state.energy",
      "volume = _SLACK * (_energy(batch, r) + _energy_abs(batch, err_in))",
      "error bound not propagated over rounds"),
    M("_bound.py", "err_in = (rho_r + state.rho) * present", "err_in = 0 * present",
      "error bound without rounding"),
    M("block.py", "_SAFETY * path.error[..., None])", "0 * path.error[..., None])",
      "training verdicts ignore the error bound"),
    # -- _certify (the rigorous certificate) -----------------------------------
    M("_certify.py", "sure = [d > 0 for d in diffs]", "sure = [not d < 0 for d in diffs]",
      "an enclosure holding 0 called right"),
    M("_certify.py", "if all(s or t for s, t in zip(sure, tied)):", "if True:",
      "a tie certified without an exact proof"),
    M("_certify.py", "if all(box[i].contains_interior(new[i]) for i in range(n)):",
      "if True:", "Krawczyk inclusion never checked"),
    # -- theorems -------------------------------------------------------------
    M("theorems.py", "m_c, m_bar = counts / n, counts.sum(axis=0) / counts.sum()",
      "m_c, m_bar = counts / n, counts.sum(axis=1) / counts.sum()", "m̄ from row sums"),
    M("theorems.py", "return math.floor(math.log1p(1 / delta) / math.log(phi / theta)) + 1",
      "return math.ceil(math.log1p(1 / delta) / math.log(phi / theta))", "t* = ceil(x)"),
    M("theorems.py", "holds = margin > 0", "holds = margin >= 0", "zero plurality margin holds"),
    M("theorems.py", "shift = k * model.n_samples * lam", "shift = model.n_samples * lam",
      "filters without K"),
    M("theorems.py", "noisy = (counts > 0) & ~np.eye(k, dtype=bool)", "noisy = ~np.eye(k, dtype=bool)",
      "Δ over empty groups"),
    M("theorems.py", "return float(np.min(np.diag(m_c) - others.max(axis=1)))",
      "return float(np.max(np.diag(m_c) - others.max(axis=1)))", "plurality margin max"),
    M("theorems.py", "gap = least - linear if", "gap = linear - least if", "gap sign"),
    M("theorems.py", "if np.max(np.abs(m_bar - 1 / model.n_classes)) <= _UNIFORM_ATOL:",
      "if np.max(np.abs(m_bar - 1 / model.n_classes)) <= 1.0:", "non-uniform m̄ treated as uniform"),
    M("theorems.py", "(psi ** t - phi ** t) * m_bar)", "(psi ** t - theta ** t) * m_bar)",
      "ψ coefficient"),
    # -- noise ------------------------------------------------------------------
    M("noise.py", 'np.searchsorted(cdf[c], uniforms[mine], side="right")',
      'np.searchsorted(cdf[c], uniforms[mine], side="left")', "CDF breakpoint to the left"),
    M("noise.py", "cdf[np.arange(transition.shape[1])[None, :] >= last[:, None]] = 1.0",
      "cdf[np.arange(transition.shape[1])[None, :] > last[:, None]] = 1.0", "CDF tail not pinned"),
    M("noise.py", "transition = np.full((k, k), eta / (k - 1))", "transition = np.full((k, k), eta / k)",
      "symmetric off-diagonal η/K"),
    M("noise.py", "transition[rows, (rows + 1) % k] += eta / k",
      "transition[rows, (rows - 1) % k] += eta / k", "asymmetric flips to c − 1"),
    M("noise.py", "order = np.lexsort((cyclic, -remainder))", "order = np.lexsort((cyclic, remainder))",
      "smallest remainders rounded up"),
    M("noise.py", "np.fill_diagonal(transition, np.where(others > 0, 1.0 - eta, 1.0))",
      "np.fill_diagonal(transition, 1.0 - eta)", "singleton superclass loses mass"),
    M("noise.py", "order = np.concatenate(([c], np.delete(np.arange(k), c)))", "order = np.arange(k)",
      "exact labels not true-label first"),
    # -- phase ------------------------------------------------------------------
    M("phase.py", 'rnd = (np.asarray(grid["rounds"])[index["rounds"]] - 1 if "rounds" in names',
      'rnd = (index["rounds"] if "rounds" in names', "gapped rounds axis read by index"),
    M("phase.py", "else np.full(point.size, max_rounds - 1))", "else np.full(point.size, 0))",
      "fixed rounds read at the teacher"),
    M("phase.py", '"teacher_label_correction": cells(acc[point, 0, 0]),',
      '"teacher_label_correction": cells(acc[point, rnd, 0]),', "teacher read at t"),
    M("phase.py", '"label_correction_noisy": cells(acc[point, rnd, 2]),',
      '"label_correction_noisy": cells(acc[point, rnd, 1]),', "noisy = clean"),
    M("phase.py", '"label_correction_clean": cells(acc[point, rnd, 1]),',
      '"label_correction_clean": cells(acc[point, rnd, 0]),', "clean = all"),
    M("phase.py", '"pll_fresh": cells(pll[point, 1]),', '"pll_fresh": cells(pll[point, 0]),',
      "PLL fresh = PLL label correction"),
    M("phase.py", "settings = dict(noise=noise, method=method, counts=counts, pll_topk=pll_topk,",
      'settings = dict(noise=noise, method=method, counts="expected", pll_topk=pll_topk,',
      'counts="exact" ignored'),
    M("phase.py", 'settings["tol"] = 1e-10', 'settings["tol"] = 1e-7',
      "phase solves with a 1e3 looser Newton tolerance"),
    # -- sweep ------------------------------------------------------------------
    M("sweep.py", "out[i] = hits[0] + 1", "out[i] = hits[0]", "least round off by one"),
    M("sweep.py", "return math.nan if least is None else float(least)",
      "return 0.0 if least is None else float(least)", "infeasible t* = 0"),
    M("sweep.py", '"label_correction_noisy": results["accuracy"][:, idx, 2].ravel(),',
      '"label_correction_noisy": results["accuracy"][:, idx[::-1], 2].ravel(),',
      "a column taken from the wrong round"),
    M("sweep.py", "points = list(product(*(grid[name] for name in GRID)))",
      "points = list(zip(*(grid[name] for name in GRID)))", "grid not Cartesian"),
    M("sweep.py", "futures = client.map(_solve_task, tasks, pure=False)",
      "futures = client.map(_solve_task, tasks[::-1], pure=False)",
      "client path returns the batches in another order"),
    M("sweep.py", "1.0 - c, k * n * lam)", "1.0 - d, k * n * lam)", "sweep's self term with d"),
    M("sweep.py", "return _noise.count_matrix(int(point[1]), transition).astype(float)",
      "return point[1] * transition", 'sweep ignores counts="exact"'),
    # -- _mp (the certificate) ---------------------------------------------------
    M("_mp.py", "return [p[a] - max(x for i, x in enumerate(p) if i != a)",
      "return [max(x for i, x in enumerate(p) if i != a) - p[a]", "certificate margin sign flipped"),
    M("_mp.py", "self.self_coef = mpmath.mpf(float(self_coef))", "self.self_coef = mpmath.mpf(0)",
      "mp solve drops the self term"),
    M("_mp.py", "goal = mp.mpf(10) ** (-(mp.mp.dps - 5))", "goal = mp.mpf(10) ** (-8)",
      "mp Newton stops at 1e-8"),
    M("_mp.py", "free = k - sum(above)", "free = k", "mp split ignores the places taken above"),
    # -- probe ------------------------------------------------------------------
    M("probe.py", "given = sample_labels(features.y_train, transition, np.random.default_rng(seed))",
      "given = sample_labels(features.y_train, transition, np.random.default_rng(0))",
      "noise_sweep ignores the seed"),
    M("probe.py", "rate.append(float(np.mean(given != features.y_train)))",
      "rate.append(float(np.mean(given == features.y_train)))", "noise rate inverted"),
    M("probe.py", "diff = 100 * (acc[:, :, 1:] - acc[:, :, :1])",
      "diff = 100 * (acc[:, :, 1:] - acc[:, :, 1:2])", "gains against the first student"),
    M("probe.py", "return diff.mean(axis=1), diff.std(axis=1)",
      "return diff.mean(axis=1), diff.std(axis=1, ddof=1)", "gain std with ddof=1"),
    M("probe.py", "label.append([[r.train_accuracy.all for r in h] for h in rows])",
      "label.append([[r.train_accuracy.clean for r in h] for h in rows])", "label accuracy = clean"),
    M("probe.py", "raw = fcluster(tree, cut * tree[:, 2].max(), criterion=\"distance\")",
      "raw = fcluster(tree, tree[:, 2].max(), criterion=\"distance\")", "cut ignored"),
]


def _copy_tree(dest):
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", "out")
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / name)


def _env():
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    env.pop("CI", None)   # the fast default hypothesis profile
    return env


def _pytest(workdir, files, timeout):
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
           "--hypothesis-profile=mutation", *files, *(f"--deselect={d}" for d in DESELECT)]
    start = time.perf_counter()
    try:
        out = subprocess.run(cmd, cwd=workdir, env=_env(), capture_output=True, text=True,
                             timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - start, ""
    tail = (out.stdout + out.stderr).strip().splitlines()[-1:] or [""]
    return out.returncode, time.perf_counter() - start, tail[0]


def run_mutant(workdir, mutant, timeout, tests=None):
    """Apply one mutant in ``workdir``, run its tests, restore; return a result dict."""
    path = workdir / "labelavg" / mutant.file
    result = dict(file=mutant.file, find=mutant.find, replace=mutant.replace, why=mutant.why)
    if not path.exists():
        return {**result, "status": "skipped (file not found)"}
    source = path.read_text()
    hits = source.count(mutant.find)
    if hits != 1:
        return {**result, "status": "skipped (line not found)" if hits == 0
                else f"skipped (ambiguous: {hits} matches)"}
    path.write_text(source.replace(mutant.find, mutant.replace))
    try:
        code, seconds, tail = _pytest(workdir, tests or TESTS[mutant.module], timeout)
    finally:
        path.write_text(source)
    if code == 0:
        status = "survived"
    elif code in (1, 2, 3, "timeout"):   # failures, collection/import errors, crash
        status = "killed" if code != "timeout" else "killed (timeout)"
    else:
        status = f"error (pytest exit {code})"
    return {**result, "status": status, "seconds": round(seconds, 1), "tail": tail}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", choices=sorted(TESTS),
                        help="only mutants of this module (repeatable)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds per mutant's test run (default 120)")
    parser.add_argument("--target", type=float, default=0.9, help="kill rate to reach")
    parser.add_argument("--list", action="store_true", help="print the mutants and exit")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--tests", action="append", metavar="FILE",
                        help="run these test files for every mutant instead of the "
                             "module's list in TESTS (repeatable)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the unmutated run of the selected test files")
    args = parser.parse_args(argv)
    mutants = [m for m in MUTANTS if args.module is None or m.module in args.module]
    if args.list:
        for i, m in enumerate(mutants, 1):
            path = ROOT / "labelavg" / m.file
            hits = path.read_text().count(m.find) if path.exists() else 0
            state = "" if hits == 1 else f"  [{hits} matches: would be skipped]"
            print(f"{i:3d} {m.file:15s} {m.why}{state}")
        return 0
    with tempfile.TemporaryDirectory(prefix="labelavg-mutate-") as tmp:
        workdir = Path(tmp)
        _copy_tree(workdir)
        if not args.no_baseline:
            files = args.tests or sorted({f for m in mutants for f in TESTS[m.module]})
            code, seconds, tail = _pytest(workdir, files, 4 * args.timeout)
            print(f"baseline ({len(files)} files): exit {code} in {seconds:.0f} s: {tail}",
                  flush=True)
            if code != 0:
                print("the unmutated tests do not pass; fix that first", file=sys.stderr)
                return 2
        results = []
        for i, mutant in enumerate(mutants, 1):
            res = run_mutant(workdir, mutant, args.timeout, args.tests)
            results.append(res)
            print(f"{i:3d}/{len(mutants)} {res['status']:26s} {res.get('seconds', 0):6.1f} s  "
                  f"{mutant.file}: {mutant.why}", flush=True)
    return _report(results, args)


def _report(results, args):
    killed = sum(r["status"].startswith("killed") for r in results)
    survived = [r for r in results if r["status"] == "survived"]
    other = [r for r in results if not r["status"].startswith(("killed", "survived"))]
    rate = killed / max(killed + len(survived), 1)
    print(f"\nkilled {killed}, survived {len(survived)}, skipped/errors {len(other)}; "
          f"kill rate {rate:.1%} (target {args.target:.0%})")
    for r in survived:
        print(f"  SURVIVED {r['file']}: {r['why']}\n      {r['find']!r} -> {r['replace']!r}")
    for r in other:
        print(f"  {r['status'].upper()} {r['file']}: {r['find']!r}")
    if args.json:
        from labelavg._io import atomic_write

        text = json.dumps(dict(kill_rate=rate, results=results), indent=1)
        atomic_write(args.json, lambda tmp: tmp.write_text(text))
    return 0 if rate >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
