"""``labelavg reproduce``: the paper's noisy-label experiment on shipped feature sets.

Grid: each set × noise (symmetric; asymmetric; superclass from ``confusable_classes``;
``superclass_authors``, the authors' clustering recipe) × η ∈ {0.2, 0.5, 0.8} × seeds.
Each cell fits the teacher (t = 1), the students t = 2..5 and the PLL student (top-2),
under one of two protocols (``--protocol``):

- ``exact`` (default, the theory's): every fit is the converged softmax+ridge
  optimum (Newton, residual reported). PLL twice: ``pll`` (soft cross-entropy to the
  two-hot target, the theory's) and ``pll_gce`` (the authors' GCE loss, ρ = 0.7,
  from the teacher's W). λ is chosen **per method and per (noise, η)** on held-out
  rows against their *noisy* labels: each λ of the method's grid (``--lams`` for
  the teacher, students and ``pll``; ``--gce-lams`` for ``pll_gce``, whose teacher is
  fitted at the same λ) runs every seed, the λ with the best mean validation
  accuracy wins (ties: the larger λ). A λ chosen at its grid's edge is marked in
  ``gains.csv`` (``lam_edge``) and in the printed table.
- ``authors``: the authors' finite SGD (``labelavg.authors``: raw features,
  PyTorch-default init, SGD momentum 0.9, weight decay from ``--wds``, lr ``--lr`` × 0.98
  per epoch, ``--epochs`` 200, batch 128; students from fresh inits; PLL = GCE
  ρ = 0.7 on the teacher's top-2 from the teacher's weights), reported under three
  checkpoint rules side by side: ``oracle`` (best test epoch, what the paper
  reports), ``last`` and ``honest`` (best epoch on held-out rows against their
  noisy labels); each rule also picks the checkpoint handed to the next round.
  One batched run per set (``labelavg.authors.run_grid``: every noise × η × seed ×
  weight decay × rule at once, float64, on ``--device`` cpu or cupy). The weight decay
  is chosen **per method and per (noise, η)**: the one whose honest-rule checkpoint has
  the best mean noisy-validation accuracy over seeds (ties: the larger), with the
  method's whole chain (teacher, earlier students) at that weight decay; the three
  rules are reported at the chosen weight decay. Inits of seed s come from their own
  generator (10000 + s), the batch order from one generator per set (seed 20000).

Split: a fixed 20 % of the training rows (random, seed 0) is held out for validation
and never fitted; test accuracy is on the untouched test split.

Superclasses: ``superclass`` clusters 1 − mean class correlation (``class_correlation``
of the fitted rows, true labels) as distances, complete linkage, cut at ``--cut`` ×
the largest merge (raised by 0.05 until some classes merge); ``superclass_authors``
hands the square matrix to ``linkage`` as observations, as the authors' code does
(``labelavg.authors.authors_superclasses``), cut at ``--cut``.

Outputs in ``--out``: ``results.csv`` (long: dataset, protocol, rule, noise, eta,
method, seed, lam, epoch, validation_accuracy, test_accuracy, chosen), ``gains.csv``
(mean ± std gain over the teacher in points per set, rule, noise, η, method; the
plurality verdict of T, decided exactly: holds / tie / fails; ``lam_edge``),
``sets.csv``, and per set and rule ``<set>_<rule>_gain.png`` (Fig. 4-like) and
``<set>_class_correlation.png`` (Fig. 1-like). The authors' protocol
also writes ``wd_selection.csv`` (mean ± std honest noisy-validation accuracy per set,
noise, η, method and weight decay, and the one chosen) and records ``device``, ``dtype``
and ``seconds`` per set in ``sets.csv``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from labelavg.cli import _args

NOISES = ("symmetric", "asymmetric", "superclass", "superclass_authors")
ETAS = (0.2, 0.5, 0.8)
ROUNDS = 5
METHODS = {"exact": ("teacher", "t2", "t3", "t4", "t5", "pll", "pll_gce"),
           "authors": ("teacher", "t2", "t3", "t4", "t5", "pll")}
RULES = {"exact": ("converged",), "authors": ("oracle", "last", "honest")}
LAMS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
GCE_LAMS = (1e-3, 1e-4, 1e-5, 1e-6)
WDS = (5e-4, 5e-5, 5e-6)
ORDER_SEED = 20_000
INIT_SEED = 10_000
VALIDATION_FRACTION = 0.2
SPLIT_SEED = 0
QUICK_NOTE = ("--quick is a smoke run (2 seeds, <= 1500 training rows, fewer λ or epochs): "
              "its signs may differ from the full table's")

EXAMPLES = """examples:
  labelavg reproduce                       # exact protocol, all sets, 5 seeds (long)
  labelavg reproduce --protocol authors    # the authors' SGD protocol, three rules
  labelavg reproduce --quick               # smoke run: 2 seeds, <= 1500 training rows
  labelavg reproduce --datasets digits_effnet --seeds 10 --out repro_digits
"""


def add_parser(sub):
    p = sub.add_parser("reproduce", help="the paper's noisy-label grid on the shipped sets",
                       description=__doc__.split("\n\n")[1].replace("\n", " "),
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocol", choices=("exact", "authors"), default="exact",
                   help="exact converged fits with λ per method (default) or the "
                        "authors' SGD protocol")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2 seeds, at most 1500 training and 1000 test rows, "
                        "λ from {1e-2, 1e-3, 1e-4} (GCE {1e-3, 1e-4, 1e-5}), 50 epochs")
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
    p.add_argument("--etas", type=float, nargs="+",
                   help="noise rates η (default 0.2 0.5 0.8)")
    p.add_argument("--lams", type=float, nargs="+",
                   help="exact: λ candidates of the teacher, students and two-hot PLL "
                        "(default 1e-2 1e-3 1e-4 1e-5 1e-6)")
    p.add_argument("--gce-lams", type=float, nargs="+",
                   help="exact: λ candidates of the GCE PLL (default 1e-3 1e-4 1e-5 1e-6)")
    p.add_argument("--lr", type=float, default=0.5,
                   help="authors: initial learning rate (default 0.5, for unit-norm features)")
    p.add_argument("--wds", type=float, nargs="+", default=list(WDS),
                   help="authors: weight decay candidates, chosen per method on noisy "
                        "validation (default 5e-4 5e-5 5e-6; the authors used 5e-5, 5e-4)")
    p.add_argument("--device", choices=("cpu", "cupy"), default="cpu",
                   help="authors: compute with NumPy on the CPU (default) or CuPy on a GPU")
    p.add_argument("--epochs", type=int, help="authors: epochs (default 200; quick 50)")
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
    if args.quick:
        print(QUICK_NOTE)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows, gains, sets = [], [], []
    bar = _bar(args, len(names))
    for name in names:
        result = reproduce_set(name, args, bar)
        rows += result["rows"]
        sets.append(result["set"])
        gains += _gain_rows(result)
        if not args.no_figure:
            _figures(out, name, result, args.protocol)
    bar.close()
    tables = _write(out, rows, gains, sets)
    if args.protocol == "authors":
        _write_selection(out, tables["results"])
    print(format_gains(tables["gains"]))
    seconds = time.perf_counter() - start
    print(f"{len(rows)} test accuracies ({args.protocol} protocol) in {seconds:.1f} s; "
          f"wrote {out}/results.csv, gains.csv, sets.csv"
          + (", wd_selection.csv" if args.protocol == "authors" else "")
          + ("" if args.no_figure else " and figures"))
    if args.quick:
        print(QUICK_NOTE)
    return 0


def _check_args(args):
    out = Path(args.out)
    _args.check_out_dir(out)
    if args.quick:
        args.seeds = 2 if args.seeds is None else args.seeds
        args.max_train = 1500 if args.max_train is None else args.max_train
        args.max_test = 1000 if args.max_test is None else args.max_test
        args.lams = list(LAMS[:3]) if args.lams is None else args.lams
        args.gce_lams = list(GCE_LAMS[:3]) if args.gce_lams is None else args.gce_lams
        args.epochs = 50 if args.epochs is None else args.epochs
    args.seeds = 5 if args.seeds is None else args.seeds
    args.lams = list(LAMS) if args.lams is None else args.lams
    args.gce_lams = list(GCE_LAMS) if args.gce_lams is None else args.gce_lams
    args.epochs = 200 if args.epochs is None else args.epochs
    args.etas = list(ETAS) if args.etas is None else args.etas
    if not all(0 <= eta < 1 for eta in args.etas):
        raise ValueError(f"--etas must all be in [0, 1), got {args.etas}")
    if args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
    for flag, value in (("--max-train", args.max_train), ("--max-test", args.max_test)):
        if value is not None and value < 50:
            raise ValueError(f"{flag} must be >= 50, got {value}")
    for flag, lams in (("--lams", args.lams), ("--gce-lams", args.gce_lams)):
        if not all(lam > 0 for lam in lams):
            raise ValueError(f"{flag} must all be > 0, got {lams}")
    if not 0 < args.cut <= 1:
        raise ValueError(f"--cut must be in (0, 1], got {args.cut}")
    if not args.lr > 0 or not all(wd >= 0 for wd in args.wds) or args.epochs < 1:
        raise ValueError(f"--lr must be > 0, --wds all >= 0 and --epochs >= 1, got "
                         f"{args.lr}, {args.wds}, {args.epochs}")
    _check_device(args)
    return out


def _check_device(args):
    from labelavg._xp import cupy_available

    if args.device == "cupy" and args.protocol != "authors":
        raise ValueError("--device cupy: only --protocol authors runs on a GPU")
    if args.device == "cupy" and not cupy_available():
        raise ValueError("--device cupy: CuPy with a usable CUDA device is not available "
                         "here; use --device cpu")


class _NoBar:
    def update(self, n=1):
        pass

    def close(self):
        pass


def _bar(args, n_sets):
    if args.no_progress:
        return _NoBar()
    from tqdm import tqdm

    if args.protocol == "authors":     # one batched run per set, updated every epoch
        return tqdm(total=n_sets * (ROUNDS + 1) * args.epochs, desc="reproduce (authors)",
                    unit="epoch", file=sys.stderr, smoothing=0.05)
    total = n_sets * len(NOISES) * len(args.etas) * args.seeds * len(_all_lams(args))
    return tqdm(total=total, desc=f"reproduce ({args.protocol})", unit="draw",
                file=sys.stderr, smoothing=0.05)


# --------------------------------------------------------------------------- one set


def reproduce_set(name, args, bar):
    """Everything for one set: split, both superclass recipes, the noise grid."""
    import numpy as np

    from labelavg import datasets
    from labelavg.authors import authors_superclasses
    from labelavg.probe import class_correlation

    data = _subsample(datasets.load(name), args.max_train, args.max_test)
    fit_rows, val_rows = _validation_split(data.y_train.size)
    corr = class_correlation(data.x_train[fit_rows], data.y_train[fit_rows])
    clusters, cut = _superclasses(corr, args.cut)
    from labelavg._xp import to_numpy

    authors = authors_superclasses(to_numpy(corr.mean), args.cut)
    recipes = {"superclass": clusters, "superclass_authors": authors}
    transitions = {(noise, eta): _transition(noise, data.n_classes, eta, recipes.get(noise))
                   for noise in NOISES for eta in args.etas}
    start = time.perf_counter()
    if args.protocol == "authors":
        rows, extra = _authors_set(name, data, (fit_rows, val_rows), transitions, args, bar)
    else:
        rows, extra = [], {}
        for (noise, eta), transition in transitions.items():
            draws = []
            for seed in range(args.seeds):
                draws += _exact_cell(data, (fit_rows, val_rows), transition, seed, args, bar)
            rows += [dict(dataset=name, protocol=args.protocol, noise=noise, eta=eta, **r)
                     for r in _choose(draws)]
    extra["seconds"] = round(time.perf_counter() - start, 3)
    info = dict(dataset=name, modality=data.modality, n_train=int(fit_rows.size),
                n_validation=int(val_rows.size), n_test=int(data.y_test.size),
                n_features=data.n_features, n_classes=data.n_classes, cut=cut,
                superclasses=_cluster_names(clusters, data.class_names),
                superclasses_authors=_cluster_names(authors, data.class_names),
                **_correlation_summary(corr), **extra)
    plurality = {(noise, eta): _plurality(noise, data.n_classes, eta, recipes.get(noise))
                 for noise, eta in transitions}
    return dict(rows=rows, set=info, corr=corr, data=data, transitions=transitions,
                plurality=plurality)


def _plurality(noise, n_classes, eta, clusters):
    """Result 4's plurality verdict of T, decided exactly (ties are ties)."""
    from labelavg.theorems import pll_condition

    return pll_condition(transition=_transition(noise, n_classes, eta, clusters, exact=True))


def _cluster_names(clusters, class_names):
    import numpy as np

    sizes = np.bincount(clusters)
    return " | ".join("+".join(class_names[k] for k in np.flatnonzero(clusters == c))
                      for c in range(sizes.size) if sizes[c] > 1)


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


def _transition(noise, n_classes, eta, clusters, exact=False):
    """T[c, j] = P(given j | true c) of one noise model (rows = true class).

    ``exact``: in Fractions (η as written), for the plurality verdict; the labels
    are drawn from the float T.
    """
    from labelavg import noise as noise_models

    if noise.startswith("superclass"):
        return noise_models.superclass(clusters, eta, exact=exact)
    return noise_models.transition_matrix(noise, n_classes, eta, exact=exact)


def _all_lams(args):
    """Every λ of either grid, largest first."""
    return sorted(set(args.lams) | set(args.gce_lams), reverse=True)


def _exact_cell(data, rows, transition, seed, args, bar):
    """One label draw, every λ: noisy-validation and test accuracy of every method.

    At a λ of ``--gce-lams`` only, the teacher is fitted (the GCE PLL's start and
    candidates) but only ``pll_gce`` is scored; at a λ of ``--lams`` only, no GCE fit.
    """
    import numpy as np

    from labelavg._xp import to_numpy
    from labelavg.distill import pll_targets
    from labelavg.fixed_point import default_tol
    from labelavg.noise import sample_labels
    from labelavg.pll import fit_partial
    from labelavg.probe import SelfDistillation

    fit, val = rows
    given = sample_labels(data.y_train, transition, np.random.default_rng(seed))
    x_fit = data.x_train[fit]
    out = []
    for lam in _all_lams(args):
        chain = lam in args.lams
        est = (SelfDistillation(lam, ROUNDS) if chain
               else SelfDistillation(lam, 1, pll_topk=None)).fit(x_fit, given[fit])
        fits = {}
        if chain:
            fits = {m: (est.coef_[t], est.history_[t])
                    for t, m in enumerate(METHODS["exact"][:ROUNDS])}
            fits["pll"] = (est.pll_coef_, est.history_[ROUNDS])
        if lam in args.gce_lams:
            gce = fit_partial(x_fit, pll_targets(to_numpy(est.probs_[0]), 2), lam, "gce",
                              init=to_numpy(est.coef_[0]), tol=default_tol(x_fit.dtype))
            fits["pll_gce"] = (gce.coef, gce)
        for method, (coef, fitted) in fits.items():
            out.append(dict(rule="converged", method=method, seed=seed, lam=lam, epoch=None,
                            validation_accuracy=_score(est, coef, data.x_train[val],
                                                       given[val]),
                            test_accuracy=_score(est, coef, data.x_test, data.y_test),
                            residual=fitted.residual, converged=fitted.converged))
        bar.update(1)
    return out


def _score(est, coef, X, y):
    """Accuracy of coefficients ``coef`` (K, D) (classes ``est.classes_``) on rows X."""
    import numpy as np

    from labelavg._xp import to_numpy

    pred = est.classes_[np.argmax(to_numpy(X) @ np.asarray(to_numpy(coef)).T, axis=1)]
    return float(np.mean(pred == to_numpy(y)))


def _choose(draws):
    """Mark, per method, the λ with the best mean noisy-validation accuracy (ties: larger λ)."""
    import numpy as np

    for method in {d["method"] for d in draws}:
        mine = [d for d in draws if d["method"] == method]
        lams = sorted({d["lam"] for d in mine}, reverse=True)
        mean = {lam: np.mean([d["validation_accuracy"] for d in mine if d["lam"] == lam])
                for lam in lams}
        best = max(lams, key=lambda lam: mean[lam])     # first maximum: the larger λ
        for d in mine:
            d["chosen"] = d["lam"] == best
    return draws


def _authors_set(name, data, rows, transitions, args, bar):
    """Every (noise, η, seed) × weight decay of one set as one batched SGD run.

    Returns the long rows (``chosen`` marks each method's weight decay per (noise, η))
    and the set's ``device`` and ``dtype``.
    """
    import numpy as np

    from labelavg.authors import CHAINS, Schedule, run_grid
    from labelavg.noise import sample_labels

    cells = [(noise, eta, seed) for (noise, eta) in transitions for seed in range(args.seeds)]
    given = np.stack([sample_labels(data.y_train, transitions[(noise, eta)],
                                    np.random.default_rng(seed))
                      for noise, eta, seed in cells])
    res = run_grid(data, rows, given, Schedule(lr=args.lr, epochs=args.epochs),
                   [np.random.default_rng(INIT_SEED + seed) for *_, seed in cells],
                   np.random.default_rng(ORDER_SEED), wds=args.wds, rounds=ROUNDS,
                   xp=_namespace(args.device), progress=bar.update)
    out = []
    for c, (noise, eta, seed) in enumerate(cells):
        out += [dict(dataset=name, protocol="authors", noise=noise, eta=eta, rule=rule,
                     method=method, seed=seed, lam=wd, epoch=int(res.epoch[c, w, r, m]),
                     validation_accuracy=float(res.validation_accuracy[c, w, r, m]),
                     test_accuracy=float(res.test_accuracy[c, w, r, m]), residual=None,
                     converged=None)
                for w, wd in enumerate(res.wds) for r, rule in enumerate(CHAINS)
                for m, method in enumerate(res.methods)]
    for key in transitions:
        _choose_wd([r for r in out if (r["noise"], r["eta"]) == key])
    return out, dict(device=args.device, dtype=res.dtype)


def _namespace(device):
    """The array namespace of ``--device``."""
    if device == "cupy":
        import array_api_compat.cupy as xp

        return xp
    import array_api_compat.numpy as xp

    return xp


def _choose_wd(draws):
    """Mark, per method, the weight decay whose honest-rule checkpoints have the best mean
    noisy-validation accuracy over seeds (ties: the larger), for all three rules."""
    best = {d["method"]: d["lam"] for d in _choose([d for d in draws if d["rule"] == "honest"])
            if d["chosen"]}
    for d in draws:
        d["chosen"] = d["lam"] == best[d["method"]]
    return draws


def _write_selection(out, results):
    from functools import partial

    from labelavg._io import atomic_write

    atomic_write(out / "wd_selection.csv", partial(_wd_selection(results).to_csv, index=False))


def _wd_selection(results):
    """Mean ± std over seeds of the honest noisy-validation accuracy per weight decay."""
    honest = results[(results.protocol == "authors") & (results.rule == "honest")]
    keys = ["dataset", "noise", "eta", "method", "lam"]
    table = honest.groupby(keys, sort=False).agg(
        validation_mean=("validation_accuracy", "mean"),
        validation_std=("validation_accuracy", "std"),
        n_seeds=("seed", "nunique"), chosen=("chosen", "all")).reset_index()
    return table.rename(columns={"lam": "wd"})


def _correlation_summary(corr):
    """Mean within-class and across-class correlation, and the largest across-class one."""
    import numpy as np

    from labelavg._xp import to_numpy

    mean = to_numpy(corr.mean)
    off = mean[~np.eye(mean.shape[0], dtype=bool)]
    return dict(corr_within=float(np.mean(np.diag(mean))), corr_across=float(off.mean()),
                corr_across_max=float(off.max()))


def _gain_rows(result):
    """Mean and std over seeds of (method − teacher) in points, per rule, with T's plurality."""
    import numpy as np

    rows = []
    by_cell, grids = {}, {}
    for r in result["rows"]:
        grids.setdefault(r["method"], set()).add(r["lam"])
        if r["chosen"]:
            key = (r["protocol"], r["rule"], r["noise"], r["eta"])
            by_cell.setdefault(key, {}).setdefault(r["method"], []).append(r)
    for (protocol, rule, noise, eta), cell in by_cell.items():
        verdict = result["plurality"][(noise, eta)]
        teacher = np.array([r["test_accuracy"] for r in sorted(cell["teacher"],
                                                                key=lambda r: r["seed"])])
        for method in METHODS[protocol][1:]:
            mine = sorted(cell[method], key=lambda r: r["seed"])
            diff = 100 * (np.array([r["test_accuracy"] for r in mine]) - teacher)
            rows.append(dict(dataset=result["set"]["dataset"], protocol=protocol, rule=rule,
                             noise=noise, eta=eta, method=method, lam=mine[0]["lam"],
                             lam_edge=_edge(mine[0]["lam"], grids[method]),
                             teacher_lam=cell["teacher"][0]["lam"],
                             teacher_lam_edge=_edge(cell["teacher"][0]["lam"], grids["teacher"]),
                             gain_mean=float(diff.mean()),
                             gain_std=float(diff.std(ddof=1)) if diff.size > 1 else 0.0,
                             n_seeds=int(diff.size),
                             teacher_accuracy=float(teacher.mean()),
                             plurality=verdict.decision,
                             plurality_margin=float(verdict.margin)))
    return rows


def _edge(lam, grid):
    """"smallest" / "largest" when the chosen λ is an end of a grid of >= 2 values, else ""."""
    if len(grid) < 2:
        return ""
    return "smallest" if lam == min(grid) else "largest" if lam == max(grid) else ""


# --------------------------------------------------------------------------- output


def _write(out, rows, gains, sets):
    """The tables as CSV, each written to a temporary name and renamed."""
    from functools import partial

    import pandas as pd

    from labelavg._io import atomic_write

    tables = {"results": pd.DataFrame(rows), "gains": pd.DataFrame(gains),
              "sets": pd.DataFrame(sets)}
    for key, frame in tables.items():
        atomic_write(out / f"{key}.csv", partial(frame.to_csv, index=False))
    return tables


_EDGE_MARK = {"smallest": "<", "largest": ">"}


def format_gains(gains):
    """Gain over the teacher (points), mean ± std over seeds: one row per set, rule, noise, η.

    The last column is T's plurality condition, decided exactly: holds, tie or fails.

    A method whose λ was chosen at its grid's smallest (largest) value is marked ``<``
    (``>``) after its cell; the teacher's mark follows its accuracy.
    """
    lines = []
    for (protocol, rule), part in gains.groupby(["protocol", "rule"], sort=False):
        methods = list(dict.fromkeys(part.method))
        head = (f"{'dataset':<22}{'noise':<20}{'η':>5}{'teacher %':>11} "
                + "".join(f"{m:>15}" for m in methods) + "  plurality")
        lines += [f"{protocol} protocol, rule {rule}:", head, "-" * len(head)]
        for (name, noise, eta), cell in part.groupby(["dataset", "noise", "eta"], sort=False):
            cells = "".join(f"{f'{r.gain_mean:+.2f} ± {r.gain_std:.2f}':>14}"
                            f"{_mark(r.lam_edge)}" for r in cell.itertuples())
            first = cell.iloc[0]
            lines.append(f"{name:<22}{noise:<20}{eta:>5g}{100 * first.teacher_accuracy:>11.2f}"
                         f"{_mark(first.teacher_lam_edge)}{cells}  "
                         f"{first.plurality}")
    if (gains.lam_edge.map(_mark) != " ").any() or (gains.teacher_lam_edge.map(_mark) != " ").any():
        lines.append("< / >: λ chosen at the smallest / largest value of its grid "
                     "(a wider grid might choose beyond it)")
    return "\n".join(lines)


def _mark(edge):
    return _EDGE_MARK.get(edge, " ") if isinstance(edge, str) else " "


_LABELS = {"t2": "t = 2", "t3": "t = 3", "t4": "t = 4", "t5": "t = 5",
           "pll": "PLL", "pll_gce": "PLL (GCE)"}


def _figures(out, name, result, protocol):
    import numpy as np
    import pandas as pd

    from labelavg import plot
    from labelavg._xp import to_numpy

    gains = pd.DataFrame(_gain_rows(result))
    methods = list(METHODS[protocol][1:])
    labels = [_LABELS[m] for m in methods]
    if protocol == "authors":
        labels[-1] = "PLL (GCE)"
    seeds, etas = gains.n_seeds.max(), sorted(set(gains.eta))
    for rule in RULES[protocol]:
        part = gains[gains.rule == rule]
        pick = [[part[(part.noise == nz) & (part.eta == eta)].set_index("method").loc[methods]
                 for eta in etas] for nz in NOISES]
        mean = np.array([[c.gain_mean.to_numpy() for c in row] for row in pick])
        std = np.array([[c.gain_std.to_numpy() for c in row] for row in pick])
        fig = plot.gain_panels(mean, std, panel_labels=NOISES,
                               group_labels=[f"η={e:g}" for e in etas], model_labels=labels,
                               title=f"{name}: test-accuracy gain over the teacher, {protocol} "
                                     f"protocol, rule {rule} ({seeds} seeds, mean ± std)")
        plot.save(fig, out / f"{name}_{rule}_gain")
    names = [c.removeprefix("noun.") for c in result["data"].class_names]
    fig = plot.correlation_heatmap(to_numpy(result["corr"].mean), tick_labels=names,
                                   title=f"{name}: mean centred cosine per class pair")
    plot.save(fig, out / f"{name}_class_correlation")
