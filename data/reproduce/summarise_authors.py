"""README tallies of the full-size authors'-protocol run (``authors_full/<set>/results.csv``).

Usage: ``python data/reproduce/summarise_authors.py`` (from the repository root).
Per checkpoint rule: PLL vs teacher, PLL vs the best student (best mean in the cell),
students t = 2..5 vs teacher, as above / within / below, where a paired difference over
the label draws is above (below) when its mean exceeds 2·std/√n above (below) 0; and how
many PLL runs chose their first epoch.
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent / "authors_full"
STUDENTS = ("t2", "t3", "t4", "t5")


def verdict(wide, a, b):
    diff = 100 * (wide[a] - wide[b]).to_numpy()
    half = 2 * diff.std(ddof=1) / np.sqrt(diff.size)
    return "above" if diff.mean() > half else "below" if diff.mean() < -half else "within"


def tally(part):
    counts = {k: dict(above=0, within=0, below=0) for k in ("pll-teacher", "pll-best", "t-teacher")}
    first = runs = 0
    for _, cell in part.groupby(["dataset", "noise", "eta"]):
        wide = cell.pivot(index="seed", columns="method", values="test_accuracy")
        epoch = cell.pivot(index="seed", columns="method", values="epoch")
        first, runs = first + int((epoch["pll"] == 1).sum()), runs + len(epoch)
        best = max(STUDENTS, key=lambda t: wide[t].mean())
        counts["pll-teacher"][verdict(wide, "pll", "teacher")] += 1
        counts["pll-best"][verdict(wide, "pll", best)] += 1
        for t in STUDENTS:
            counts["t-teacher"][verdict(wide, t, "teacher")] += 1
    return counts, first, runs


def main():
    res = pd.concat([pd.read_csv(f) for f in sorted(HERE.glob("*/results.csv"))])
    res = res[res.chosen]
    for rule in ("oracle", "honest", "last"):
        counts, first, runs = tally(res[res.rule == rule])
        cells = " | ".join(f"{c['above']} / {c['within']} / {c['below']}" for c in counts.values())
        print(f"| {rule} | {cells} | {first} of {runs} |")


if __name__ == "__main__":
    main()
