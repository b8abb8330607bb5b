"""Mutation testing with mutmut: a per-module sample, its kill rate and its survivors.

mutmut (``pip install mutmut==3.8.1``, configured in ``pyproject.toml``
``[tool.mutmut]``) writes every mutant of ``labelavg/`` into ``mutants/`` and
runs, for each mutant, only the tests that called the mutated function when
the suite ran once under it (its "stats"). The whole set (~15,000 mutants) is
far too many for a 2-core box, so this script:

1. lets mutmut generate the mutants (incremental: only changed files);
2. draws a seeded sample of ``--per-module`` mutants per module among those
   whose tests are estimated to take at most ``--max-test-seconds`` (mutmut's
   per-test durations summed over the tests of the mutated function): the time
   budget of a module is at most per-module × max-test-seconds. The table
   shows how many mutants this cap leaves out ("too slow"), a bias towards
   functions with few tests that the numbers carry;
3. runs ``mutmut run --max-children JOBS`` (``--jobs``, default 1) on the
   sampled mutants that have no result yet (results are cached in ``mutants/``; ``--rerun-survivors`` also
   reruns the survivors, e.g. after new tests);
4. prints per module: sampled, killed (a test failed, or the CPU-time limit
   was hit: ``timeout``, also shown apart; ``--rerun-timeouts`` reruns them),
   survived, no tests / other (no test calls the function, or mutmut gave an exit
   status it does not define: a run stopped by hand after it hung),
   equivalent (listed in ``bench/mutation_equivalent.txt`` with a reason) and
   the kill rate = killed / (sampled − equivalent − not run); then the
   surviving mutants (``--show`` prints their diffs).

Run from the repository root (not part of CI; the first run includes one pass
of the whole suite under mutmut)::

    python bench/mutation.py                      # sample, run, report
    python bench/mutation.py --report             # report the cached results only
    python bench/mutation.py --per-module 12 --max-test-seconds 30 --seed 0
    python bench/mutation.py --report --show      # with the survivors' diffs

``--module NAME`` (repeatable, e.g. ``cli._args``) restricts the run.
Exit status 0 when every module reaches ``--target`` (default 0.9), else 1.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
EQUIVALENT = ROOT / "bench" / "mutation_equivalent.txt"

#: mutmut's exit codes → what this script counts (crashes kill; a timeout kills too,
#: as in mutmut's own score, but is shown apart: on a loaded machine it can be spurious).
STATUS = {1: "killed", 3: "killed", -24: "timeout", 24: "timeout", 152: "timeout",
          255: "timeout", 36: "timeout", -9: "killed", -11: "killed",
          0: "survived", 5: "no tests", 33: "no tests", None: "not run"}
KILLS = ("killed", "timeout")


def _mutmut(*args):
    """Run the mutmut CLI from the repository root.

    mutmut puts ``mutants/`` first on the path of the test process itself; a
    test's own subprocess gets the unmutated tree (PYTHONPATH), so it neither
    kills a mutant nor trips over mutmut's tracing outside the repository.
    Dask runs its synchronous scheduler: mutmut forks each mutant's run from a
    process whose Dask thread pool does not survive the fork, so a threaded
    ``compute()`` in the child waits forever (seen as hung, sleeping runs).
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1",
               DASK_SCHEDULER="synchronous")
    env.pop("CI", None)                     # the derandomised hypothesis profile
    return subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=ROOT, env=env).returncode


def _generate():
    """Generate (or update) ``mutants/`` without running anything."""
    code = ("from mutmut.__main__ import copy_src_dir, copy_also_copy_files, "
            "setup_source_paths, create_mutants\n"
            "import os; os.makedirs('mutants', exist_ok=True)\n"
            "copy_src_dir(); copy_also_copy_files(); setup_source_paths(); create_mutants(1)\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def _results():
    """{module: {mutant name: exit code or None}} from mutmut's ``.meta`` files."""
    out = {}
    for meta in sorted((MUTANTS / "labelavg").rglob("*.py.meta")):
        rel = meta.relative_to(MUTANTS / "labelavg").with_suffix("").with_suffix("")
        module = ".".join(rel.parts)
        if module.endswith("__init__"):
            module = module[: -len("__init__")].rstrip(".") or "__init__"
        out[module] = json.loads(meta.read_text())["exit_code_by_key"]
    return out


def _costs():
    """Estimated seconds of each mangled function's tests (0 when none), from the stats."""
    path = MUTANTS / "mutmut-stats.json"
    if not path.is_file():
        return None
    stats = json.loads(path.read_text())
    durations = stats["duration_by_test"]
    return {name: sum(durations.get(t, 0.0) for t in tests)
            for name, tests in stats["tests_by_mangled_function_name"].items()}


def _sample(names, costs, per_module, max_seconds, seed, module):
    """Seeded draw of ``per_module`` mutants whose tests take <= ``max_seconds``.

    Returns the sorted sample and the number of mutants the cap left out.
    """
    order = sorted(names)
    random.Random(f"{seed}:{module}").shuffle(order)
    fast = [n for n in order if costs.get(n.partition("__mutmut_")[0], 0.0) <= max_seconds]
    return sorted(fast[:per_module]), len(order) - len(fast)


def _equivalent():
    """{mutant name: reason} from bench/mutation_equivalent.txt (``name  reason`` lines)."""
    if not EQUIVALENT.is_file():
        return {}
    out = {}
    for line in EQUIVALENT.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.strip().partition(" ")
            out[name] = reason.strip()
    return out


def _table(samples, results, equivalent, target):
    rows, ok, survivors = [], True, []
    for module, (names, slow) in samples.items():
        status = Counter()
        for name in names:
            kind = "equivalent" if name in equivalent else \
                STATUS.get(results[module].get(name), "suspicious")
            status[kind] += 1
            if kind in ("survived", "no tests", "suspicious"):
                survivors.append((name, kind))
        judged = len(names) - status["equivalent"] - status["not run"]
        killed = status["killed"] + status["timeout"]
        rate = killed / judged if judged else float("nan")
        ok &= judged > 0 and rate >= target
        rows.append((module, len(results[module]), slow, len(names), killed, status["timeout"],
                     status["survived"], status["no tests"] + status["suspicious"],
                     status["equivalent"], status["not run"], rate))
    head = ("module", "mutants", "too slow", "sampled", "killed", "of which timeout", "survived",
            "no tests / other", "equivalent", "not run", "kill rate")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(str(x) for x in row[:-1]) + f" | {row[-1]:.0%} |")
    total = [sum(r[i] for r in rows) for i in range(1, 10)]
    judged = total[2] - total[7] - total[8]
    print(f"| all | {' | '.join(map(str, total))} | "
          f"{total[3] / judged if judged else float('nan'):.0%} |")
    return ok, survivors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-module", type=int, default=8)
    parser.add_argument("--max-test-seconds", type=float, default=20.0,
                        help="leave out mutants whose tests take longer (default 20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--module", action="append", default=[])
    parser.add_argument("--report", action="store_true", help="run nothing")
    parser.add_argument("--rerun-survivors", action="store_true")
    parser.add_argument("--rerun-timeouts", action="store_true",
                        help="also rerun the mutants killed by a timeout")
    parser.add_argument("--show", action="store_true", help="print survivors' diffs")
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    args = parser.parse_args(argv)

    if not args.report:
        _generate()
    costs = _costs()
    if costs is None:
        if args.report:
            sys.exit("no mutmut stats yet: run without --report first")
        first = min(n for names in _results().values() for n in names)
        _mutmut("run", "--max-children", "1", first)   # the one full-suite stats pass
        costs = _costs()
    results = _results()
    modules = args.module or sorted(results)
    samples = {m: _sample(results[m], costs, args.per_module, args.max_test_seconds,
                          args.seed, m)
               for m in modules if results.get(m)}
    if not args.report:
        todo = [n for m, (names, _) in samples.items() for n in names
                if results[m][n] is None
                or (args.rerun_survivors and STATUS.get(results[m][n]) not in KILLS)
                or (args.rerun_timeouts and STATUS.get(results[m][n]) == "timeout")]
        if todo:
            _mutmut("run", "--max-children", str(args.jobs), *todo)
        results = _results()
    ok, survivors = _table(samples, results, _equivalent(), args.target)
    print(f"\nsurvivors ({len(survivors)}), not listed as equivalent:")
    for name, kind in survivors:
        print(f"  {name}  [{kind}]")
        if args.show:
            _mutmut("show", name)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
