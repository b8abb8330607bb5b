"""``labelavg reproduce``: the paper's noisy-label experiment on every shipped feature set.

Grid: each set × noise (symmetric; asymmetric; superclass, from ``confusable_classes``)
× η ∈ {0.2, 0.5, 0.8} × seeds. Each cell fits the teacher (t = 1), the students
t = 2..5 and the PLL student (top-2) by exact softmax+ridge fits and records their test
accuracy.

How λ is chosen, once per set (never on the test split): a fixed 20 % of the training
rows (random, seed 0) is held out as a validation split and never fitted. For each λ of
``--lams`` the teacher is fitted on the other 80 % with noisy labels (η = 0.5, each of
the three noise models, one label draw with seed 1000, which no evaluated cell uses) and
scored against the *noisy* labels of the validation rows, the only labels a practitioner
has. The λ with the best mean validation accuracy wins (ties: the larger λ). Every cell
then fits on the same 80 %, so the students and the teacher share λ and data; λ is
chosen for the teacher, the baseline every gain is measured against.

Superclasses: complete linkage of 1 − mean class correlation (``class_correlation`` of
the fitted rows, true labels), cut at ``--cut`` (the paper's 0.8) × the largest merge
distance; if that leaves every class alone the cut is raised in steps of 0.05 until
some class pair merges (the used cut is written to ``sets.csv``).

Outputs in ``--out``: ``results.csv`` (long: dataset, noise, eta, method, seed, lam,
test_accuracy), ``gains.csv`` (mean ± std gain over the teacher in points, per set,
noise, η, method, with the plurality verdict of T), ``lam_selection.csv``, ``sets.csv``,
and per set ``<set>_gain.png`` (Fig. 4-like) and ``<set>_class_correlation.png``
(Fig. 1-like).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from labelavg.cli import _args

NOISES = ("symmetric", "asymmetric", "superclass")
ETAS = (0.2, 0.5, 0.8)
ROUNDS = 5
METHODS = ("teacher", "t2", "t3", "t4", "t5", "pll")
LAMS = (1e-2, 1e-3, 1e-4, 1e-5)
VALIDATION_FRACTION = 0.2
SPLIT_SEED = 0
SELECT_SEED = 1000
SELECT_ETA = 0.5

EXAMPLES = """examples:
  labelavg reproduce                       # all sets, 5 seeds (long: progress bar)
  labelavg reproduce --quick               # 2 seeds, <= 1500 training rows per set
  labelavg reproduce --datasets digits_effnet --seeds 10 --out repro_digits
"""


def add_parser(sub):
    p = sub.add_parser("reproduce", help="the paper's noisy-label grid on the shipped sets",
                       description=__doc__.split("\n\n")[1].replace("\n", " "),
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="2 seeds, at most 1500 training and 1000 test rows per set, "
                        "λ from {1e-2, 1e-3, 1e-4}")
    p.add_argument("--datasets", nargs="+", metavar="NAME",
                   help="shipped sets (default all: labelavg.datasets.list_datasets())")
    p.add_argument("--out", default="labelavg_reproduce",
                   help="output folder (default ./labelavg_reproduce)")
    p.add_argument("--seeds", type=int, help="label draws per cell (default 5; quick 2)")
    p.add_argument("--max-train", type=int,
                   help="subsample the training rows (stratified, seed 0) before the "
                        "validation split (default all; quick 1500)")
    p.add_argument("--max-test", type=int,
                   help="subsample the test rows (default all; quick 1000)")
    p.add_argument("--lams", type=float, nargs="+",
                   help="λ candidates (default 1e-2 1e-3 1e-4 1e-5)")
    p.add_argument("--cut", type=float, default=0.8,
                   help="superclass dendrogram cut, × largest merge distance (default 0.8)")
    p.add_argument("--no-figure", action="store_true", help="tables only")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args):
    from labelavg import datasets

    out = _check_args(args)
    names = args.datasets or list(datasets.list_datasets())
    for name in names:
        if name not in datasets.list_datasets():
            raise ValueError(f"--datasets: unknown set {name!r}; "
                             f"expected some of {list(datasets.list_datasets())}")
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows, gains, selection, sets = [], [], [], []
    bar = _bar(args, len(names))
    for name in names:
        result = reproduce_set(name, args, bar)
        rows += result["rows"]
        selection += result["selection"]
        sets.append(result["set"])
        gains += _gain_rows(result)
        if not args.no_figure:
            _figures(out, name, result)
    bar.close()
    tables = _write(out, rows, gains, selection, sets)
    print(format_gains(tables["gains"]))
    print(f"{len(rows)} test accuracies in {time.perf_counter() - start:.1f} s; "
          f"wrote {out}/results.csv, gains.csv, lam_selection.csv, sets.csv"
          + ("" if args.no_figure else " and figures"))
    return 0


def _check_args(args):
    out = Path(args.out)
    _args.check_out_dir(out)
    if args.quick:
        args.seeds = 2 if args.seeds is None else args.seeds
        args.max_train = 1500 if args.max_train is None else args.max_train
        args.max_test = 1000 if args.max_test is None else args.max_test
        args.lams = list(LAMS[:3]) if args.lams is None else args.lams
    args.seeds = 5 if args.seeds is None else args.seeds
    args.lams = list(LAMS) if args.lams is None else args.lams
    if args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
    for flag, value in (("--max-train", args.max_train), ("--max-test", args.max_test)):
        if value is not None and value < 50:
            raise ValueError(f"{flag} must be >= 50, got {value}")
    if not all(lam > 0 for lam in args.lams):
        raise ValueError(f"--lams must all be > 0, got {args.lams}")
    if not 0 < args.cut <= 1:
        raise ValueError(f"--cut must be in (0, 1], got {args.cut}")
    return out


class _NoBar:
    def update(self, n=1):
        pass

    def close(self):
        pass


def _bar(args, n_sets):
    if args.no_progress:
        return _NoBar()
    from tqdm import tqdm

    fits = n_sets * (len(NOISES) * (len(ETAS) * args.seeds * (ROUNDS + 1))
                     + len(NOISES) * len(args.lams) * 2)
    return tqdm(total=fits, desc="reproduce", unit="fit", file=sys.stderr, smoothing=0.05)


# --------------------------------------------------------------------------- one set


def reproduce_set(name, args, bar):
    """Everything for one set: split, superclasses, λ selection, the noise grid."""
    import numpy as np

    from labelavg import datasets
    from labelavg.probe import class_correlation

    data = _subsample(datasets.load(name), args.max_train, args.max_test)
    fit_rows, val_rows = _validation_split(data.y_train.size)
    corr = class_correlation(data.x_train[fit_rows], data.y_train[fit_rows])
    clusters, cut = _superclasses(corr, args.cut)
    transitions = {(noise, eta): _transition(noise, data.n_classes, eta, clusters)
                   for noise in NOISES for eta in ETAS}
    lam, selection = _select_lam(name, data, fit_rows, val_rows, transitions, args.lams, bar)
    rows = []
    for (noise, eta), transition in transitions.items():
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            accs = _fit_cell(data, fit_rows, transition, lam, rng, bar)
            rows += [dict(dataset=name, noise=noise, eta=eta, method=m, seed=seed, lam=lam,
                          test_accuracy=a) for m, a in zip(METHODS, accs)]
    sizes = np.bincount(clusters)
    info = dict(dataset=name, modality=data.modality, n_train=int(fit_rows.size),
                n_validation=int(val_rows.size), n_test=int(data.y_test.size),
                n_features=data.n_features, n_classes=data.n_classes, lam=lam, cut=cut,
                superclasses=" | ".join("+".join(data.class_names[k]
                                                 for k in np.flatnonzero(clusters == c))
                                        for c in range(sizes.size) if sizes[c] > 1),
                **_correlation_summary(corr))
    return dict(rows=rows, selection=selection, set=info, corr=corr, data=data,
                transitions=transitions)


def _subsample(data, max_train, max_test):
    """Stratified subsample (seed 0) of the train and/or test rows."""
    import dataclasses

    import numpy as np

    def pick(y, limit):
        if limit is None or y.size <= limit:
            return np.arange(y.size)
        rng = np.random.default_rng(SPLIT_SEED)
        keep = [rng.permutation(np.flatnonzero(y == c))[:max(2, round(limit * np.mean(y == c)))]
                for c in range(int(y.max()) + 1)]
        return np.sort(np.concatenate(keep))

    tr, te = pick(data.y_train, max_train), pick(data.y_test, max_test)
    return dataclasses.replace(data, x_train=data.x_train[tr], y_train=data.y_train[tr],
                               x_test=data.x_test[te], y_test=data.y_test[te])


def _validation_split(n_rows):
    """(fit rows, validation rows): a random 20 % (seed 0) held out, sorted indices."""
    import numpy as np

    perm = np.random.default_rng(SPLIT_SEED).permutation(n_rows)
    n_val = round(VALIDATION_FRACTION * n_rows)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _superclasses(corr, cut):
    """Cluster ids (K,) and the cut used: raised by 0.05 until some classes merge."""
    import numpy as np

    from labelavg.probe import confusable_classes

    while True:
        clusters = confusable_classes(None, None, cut, correlation=corr)
        if np.bincount(clusters).max() > 1 or cut >= 1:
            return clusters, cut
        cut = min(1.0, round(cut + 0.05, 2))


def _transition(noise, n_classes, eta, clusters):
    """T[c, j] = P(given j | true c) of one noise model (rows = true class)."""
    from labelavg import noise as noise_models

    if noise == "superclass":
        return noise_models.superclass(clusters, eta)
    return noise_models.transition_matrix(noise, n_classes, eta)


def _select_lam(name, data, fit_rows, val_rows, transitions, lams, bar):
    """λ with the best teacher accuracy on the noisy validation labels (see module doc)."""
    import numpy as np

    from labelavg.noise import sample_labels
    from labelavg.probe import SelfDistillation

    records = []
    for noise in NOISES:
        given = sample_labels(data.y_train, transitions[(noise, SELECT_ETA)],
                              np.random.default_rng(SELECT_SEED))
        for lam in lams:
            est = SelfDistillation(lam, 1).fit(data.x_train[fit_rows], given[fit_rows])
            bar.update(2)   # the teacher and, in today's SelfDistillation, its PLL student
            records.append(dict(dataset=name, noise=noise, eta=SELECT_ETA, lam=lam,
                                validation_accuracy=est.score(data.x_train[val_rows],
                                                              given[val_rows], round=1)))
    mean = {lam: np.mean([r["validation_accuracy"] for r in records if r["lam"] == lam])
            for lam in lams}
    best = max(sorted(lams, reverse=True), key=lambda lam: mean[lam])  # ties: larger λ
    for r in records:
        r["chosen"] = r["lam"] == best
    return best, records


def _fit_cell(data, fit_rows, transition, lam, rng, bar):
    """Test accuracies of the teacher, t = 2..ROUNDS and PLL for one label draw."""
    from labelavg.noise import sample_labels
    from labelavg.probe import SelfDistillation

    given = sample_labels(data.y_train, transition, rng)[fit_rows]
    est = SelfDistillation(lam, ROUNDS, progress=lambda record: bar.update(1))
    est.fit(data.x_train[fit_rows], given)
    rounds = [est.score(data.x_test, data.y_test, round=t) for t in range(1, ROUNDS + 1)]
    return rounds + [est.score(data.x_test, data.y_test, round="pll")]


def _correlation_summary(corr):
    """Mean within-class and across-class correlation, and the largest across-class one."""
    import numpy as np

    from labelavg._xp import to_numpy

    mean = to_numpy(corr.mean)
    off = mean[~np.eye(mean.shape[0], dtype=bool)]
    return dict(corr_within=float(np.mean(np.diag(mean))), corr_across=float(off.mean()),
                corr_across_max=float(off.max()))


def _gain_rows(result):
    """Mean and std over seeds of (method − teacher) in points, with T's plurality verdict."""
    import numpy as np

    from labelavg.theorems import pll_condition

    rows = []
    by_cell = {}
    for r in result["rows"]:
        by_cell.setdefault((r["noise"], r["eta"]), {}).setdefault(r["method"], []).append(
            r["test_accuracy"])
    for (noise, eta), accs in by_cell.items():
        verdict = pll_condition(transition=result["transitions"][(noise, eta)])
        teacher = np.array(accs["teacher"])
        for method in METHODS[1:]:
            diff = 100 * (np.array(accs[method]) - teacher)
            rows.append(dict(dataset=result["set"]["dataset"], noise=noise, eta=eta,
                             method=method, gain_mean=float(diff.mean()),
                             gain_std=float(diff.std(ddof=1)) if diff.size > 1 else 0.0,
                             n_seeds=int(diff.size),
                             teacher_accuracy=float(teacher.mean()),
                             plurality=bool(verdict.holds),
                             plurality_margin=float(verdict.margin)))
    return rows


# --------------------------------------------------------------------------- output


def _write(out, rows, gains, selection, sets):
    from functools import partial

    import pandas as pd

    from labelavg._io import atomic_write

    tables = {"results": pd.DataFrame(rows), "gains": pd.DataFrame(gains),
              "lam_selection": pd.DataFrame(selection), "sets": pd.DataFrame(sets)}
    for key, frame in tables.items():
        atomic_write(out / f"{key}.csv", partial(frame.to_csv, index=False))
    return tables


def format_gains(gains):
    """Gain over the teacher (points), mean ± std over seeds: one row per set, noise, η."""
    head = f"{'dataset':<22}{'noise':<12}{'η':>5}{'teacher %':>11}" + "".join(
        f"{m:>14}" for m in METHODS[1:]) + "  plurality"
    lines = [head, "-" * len(head)]
    for (name, noise, eta), cell in gains.groupby(["dataset", "noise", "eta"], sort=False):
        cells = "".join(f"{f'{r.gain_mean:+.2f} ± {r.gain_std:.2f}':>14}"
                        for r in cell.itertuples())
        first = cell.iloc[0]
        lines.append(f"{name:<22}{noise:<12}{eta:>5g}{100 * first.teacher_accuracy:>11.2f}"
                     f"{cells}  {'holds' if first.plurality else 'fails'}")
    return "\n".join(lines)


def _figures(out, name, result):
    import numpy as np

    from labelavg import plot
    from labelavg._xp import to_numpy

    import pandas as pd

    gains = pd.DataFrame(_gain_rows(result))
    mean = np.array([[gains[(gains.noise == nz) & (gains.eta == eta)].gain_mean.to_numpy()
                      for eta in ETAS] for nz in NOISES])
    std = np.array([[gains[(gains.noise == nz) & (gains.eta == eta)].gain_std.to_numpy()
                     for eta in ETAS] for nz in NOISES])
    info = result["set"]
    fig = plot.gain_panels(mean, std, panel_labels=NOISES,
                           group_labels=[f"η={e:g}" for e in ETAS],
                           model_labels=["t = 2", "t = 3", "t = 4", "t = 5", "PLL"],
                           title=f"{name}: test-accuracy gain over the teacher "
                                 f"(λ = {info['lam']:g}, {result['rows'][-1]['seed'] + 1} "
                                 f"seeds, mean ± std)")
    plot.save(fig, out / f"{name}_gain")
    names = [c.removeprefix("noun.") for c in result["data"].class_names]
    fig = plot.correlation_heatmap(to_numpy(result["corr"].mean), tick_labels=names,
                                   title=f"{name}: mean centred cosine per class pair")
    plot.save(fig, out / f"{name}_class_correlation")
