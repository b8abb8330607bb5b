"""README numbers of the full-size exact-protocol run, from ``<set>/results.csv``.

Usage: ``python data/reproduce/exact_full/summarise.py`` (from the repository root).
Prints (1) the per-cell table: teacher accuracy, best student t = 2..5 (best mean
gain in the cell), two-hot PLL and GCE PLL, each as gain over the teacher in points,
mean ± std over the paired label draws, with a mark where the method's λ was chosen
at its grid's edge; (2) the tallies above / within / below, where a paired difference
is above (below) when its mean exceeds 2 standard errors, 2·std/√n, above (below) 0.
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
STUDENTS = ("t2", "t3", "t4", "t5")
SETS = ("digits_effnet", "fashion_mnist_effnet", "wordnet_minilm", "wordnet100_minilm")
NOISES = ("symmetric", "asymmetric", "superclass", "superclass_authors")


def load():
    res = pd.concat([pd.read_csv(f) for f in sorted(HERE.glob("*/results.csv"))])
    gains = pd.concat([pd.read_csv(f, keep_default_na=False)
                       for f in sorted(HERE.glob("*/gains.csv"))])
    return res[res.chosen], gains


def paired(wide, a, b):
    """Mean, std and verdict of 100 (a − b) over the draws."""
    diff = 100 * (wide[a] - wide[b]).to_numpy()
    mean, std = diff.mean(), diff.std(ddof=1)
    se = 2 * std / np.sqrt(diff.size)
    return mean, std, "above" if mean > se else "below" if mean < -se else "within"


def cells(res):
    order = {n: i for i, n in enumerate(SETS + NOISES)}
    res = res.sort_values(["dataset", "noise", "eta"], key=lambda col: col.map(order)
                          if col.name != "eta" else col, kind="stable")
    for (name, noise, eta), cell in res.groupby(["dataset", "noise", "eta"], sort=False):
        wide = cell.pivot(index="seed", columns="method", values="test_accuracy")
        best = max(STUDENTS, key=lambda t: wide[t].mean())
        yield name, noise, eta, wide, best


def main():
    res, gains = load()
    edge = {(r.dataset, r.noise, r.eta, r.method): {"smallest": "<", "largest": ">"}.get(
        r.lam_edge, "") for r in gains.itertuples()}
    plural = {(r.dataset, r.noise, r.eta): r.plurality for r in gains.itertuples()}
    tally = {key: {"above": 0, "within": 0, "below": 0}
             for key in ("pll-teacher", "gce-teacher", "pll-best", "gce-best", "t-teacher")}
    print("| set | noise | η | plurality | teacher % | best student (t) | two-hot PLL | GCE PLL |")
    print("|---|---|---|---|---|---|---|---|")
    for name, noise, eta, wide, best in cells(res):
        fmt = lambda m: "{:+.1f} ± {:.1f}".format(*paired(wide, m, "teacher")[:2]) + \
            edge[(name, noise, eta, m)]
        print(f"| {name} | {noise} | {eta:g} | {plural[(name, noise, eta)]} | "
              f"{100 * wide.teacher.mean():.1f} | {fmt(best)} ({best}) | {fmt('pll')} | "
              f"{fmt('pll_gce')} |")
        for key, a, b in (("pll-teacher", "pll", "teacher"), ("gce-teacher", "pll_gce", "teacher"),
                          ("pll-best", "pll", best), ("gce-best", "pll_gce", best)):
            tally[key][paired(wide, a, b)[2]] += 1
        for t in STUDENTS:
            tally["t-teacher"][paired(wide, t, "teacher")[2]] += 1
    print()
    for key, counts in tally.items():
        print(f"{key}: above {counts['above']} / within {counts['within']} / "
              f"below {counts['below']}")
    print()
    print("chosen λ at a grid edge (method: smallest / largest of its grid):")
    for m, part in gains.groupby("method"):
        print(f"  {m}: {(part.lam_edge == 'smallest').sum()} / "
              f"{(part.lam_edge == 'largest').sum()} of {len(part)} cells")
    teacher = gains.drop_duplicates(["dataset", "noise", "eta"])
    print(f"  teacher: {(teacher.teacher_lam_edge == 'smallest').sum()} / "
          f"{(teacher.teacher_lam_edge == 'largest').sum()} of {len(teacher)} cells")
    print(f"draws per cell: {sorted(set(res.groupby(['dataset', 'noise', 'eta', 'method']).size()))}")


if __name__ == "__main__":
    main()
