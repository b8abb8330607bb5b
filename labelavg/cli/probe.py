"""``labelavg probe``: self-distillation of a linear probe on real features with noisy labels."""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial

from labelavg.cli import _args

#: Default λ for the shipped WordNet/MiniLM set, chosen by ``bench/bench_probe.py --lam-check``.
DEFAULT_LAM = 1e-4

EXAMPLES = """examples:
  labelavg probe                                  # WordNet/MiniLM, superclass noise
  labelavg probe --noise symmetric --eta 0.2 0.5 --seeds 5 --rounds 4
  labelavg probe --dataset digits_effnet --lam 1e-3 --noise symmetric --eta 0.8
  labelavg probe --features feats.npz --lam 1e-3 --out probe_out
  labelavg probe --features x.npy --labels y.npy  # no test split: 30% held out

λ and scikit-learn: each fit minimises (1/N) Σ CE + (λ/2)||W||², the same
solution as LogisticRegression(fit_intercept=False, C=1/(N·λ)), N the number
of training rows (N = 14000 for WordNet: λ = 1e-4 is C ≈ 0.714).

default λ = 1e-4, checked on WordNet/MiniLM (one seed, superclass noise
η = 0.5; measured in the source repository): test accuracy of the clean
teacher 68.0 / 75.3 / 76.1% and of the noisy teacher 55.0 / 59.2 / 53.7% at
λ = 1e-3 / 1e-4 / 1e-5. 1e-4 gives the best noisy teacher (the fair baseline
for the students) within a point of the best clean one; smaller λ lets the
teacher fit the noise, larger λ over-smooths every student. The block-model
commands default to λ = 2e-4: a λ's effect depends on the features' scale and
N, so each set's λ is its own.

superclass noise: classes are clustered by complete linkage of 1 - mean
class correlation, cut at --cut × the largest merge distance (the paper's 0.8).
On WordNet/MiniLM the class correlations are weak and 0.8 leaves every class
alone, i.e. no label is flipped; the default --cut 0.95 gives 5 superclasses.
"""


def add_parser(sub):
    from labelavg.datasets import list_datasets

    p = sub.add_parser("probe", help="self-distillation of a linear probe on real features",
                       description="Corrupt the training labels (rates --eta, --seeds draws "
                                   "each), fit the teacher, students t = 2..rounds and the "
                                   "PLL student by exact softmax+ridge fits, and print TEST "
                                   "accuracy mean ± std over seeds (rows = model, columns = "
                                   "η). Writes the distillation-gain figure and the class-"
                                   "correlation heatmap to --out.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--features", metavar="FILE",
                   help=".npz (x_train, y_train[, x_test, y_test, class_names]) or .npy "
                        "features; default a shipped set (--dataset)")
    p.add_argument("--dataset", choices=list_datasets(), default="wordnet_minilm",
                   help="shipped feature set used without --features (default "
                        "wordnet_minilm; λ = 1e-4 was checked on it, see below)")
    p.add_argument("--labels", metavar="FILE", help=".npy labels for a .npy feature file")
    p.add_argument("--noise", choices=_args.NOISES, default="superclass",
                   help="label-noise model (default superclass: clusters of confusable "
                        "classes, see --cut)")
    _args.add(p, "eta", [0.5, 0.8], nargs="+", help="corruption rates η (default 0.5 0.8)")
    _args.add(p, "seeds", 3, help="label draws per η (default 3)")
    _args.add(p, "rounds", 5)
    _args.add(p, "lam", DEFAULT_LAM,
              help=f"ridge λ (default {DEFAULT_LAM:g}); scikit-learn C = 1/(N·λ)")
    _args.add(p, "pll_topk", "auto")
    p.add_argument("--cut", type=_args.positive, default=0.95,
                   help="superclass dendrogram cut, × largest merge distance (default 0.95)")
    p.add_argument("--method", choices=("exact", "linear"), default="exact",
                   help="exact softmax fits or the linearised closed form (default exact)")
    p.add_argument("--float64", action="store_true",
                   help="compute in float64 (default: the features' precision)")
    p.add_argument("--test-fraction", type=_args.open_fraction, default=0.3,
                   help="held-out share when the file has no test split (default 0.3)")
    p.add_argument("--out", default="labelavg_probe",
                   help="folder for the figures (default ./labelavg_probe)")
    p.add_argument("--no-figure", action="store_true", help="print the table only")
    p.set_defaults(run=run)


def run(args):
    from labelavg import noise
    from labelavg.probe import (
        SelfDistillation,
        class_correlation,
        confusable_classes,
        noise_sweep,
    )

    check_args(args)
    data = _load(args)
    n, k = data.x_train.shape[0], data.n_classes
    _args.check_pll_topk(args.pll_topk, [k])
    _check_lam(args.lam, data.x_train)
    corr = class_correlation(data.x_train, data.y_train)
    transitions, note = _transitions(args, noise, k, confusable_classes, data, corr)
    print(f"{_source_name(args)}: N={n} train / {data.x_test.shape[0]} test, "
          f"D={data.n_features}, K={k}, {data.x_train.dtype}; λ={args.lam:g} "
          f"(C={1 / (n * args.lam):.4g}), {args.noise} noise{note}")
    est = SelfDistillation(args.lam, args.rounds, pll_topk=args.pll_topk or None,
                           method=args.method)
    start = time.perf_counter()
    records = []
    sweep = noise_sweep(data, transitions, est, seeds=range(args.seeds),
                        progress=partial(_progress, records))
    print(format_table(sweep))
    print(f"{sweep.test_accuracy.shape[0] * args.seeds * (args.rounds + 1)} fits in "
          f"{time.perf_counter() - start:.1f} s")
    if not args.no_figure:
        for path in _figures(args, sweep, corr, data.class_names):
            print(f"figure: {path}")
    _args.check_converged(records, "fit")
    return 0


def check_args(args):
    """Flag relations and the output folder, before any work."""
    if args.labels is not None and args.features is None:
        raise ValueError("--labels needs --features (a .npy feature file)")
    if args.features is not None and args.dataset != "wordnet_minilm":
        raise ValueError("give --features or --dataset, not both")
    if not args.no_figure:
        _args.check_out_dir(args.out)
    fits = len(args.eta) * args.seeds * (args.rounds + 1)
    flag = "--seeds" if args.seeds >= args.rounds else "--rounds"
    _args.check_time(fits * _args.SECONDS_PER_ROUND,
                     f"argument {flag}: {len(args.eta)} η × {args.seeds} seeds × "
                     f"{args.rounds + 1} fits", "--seeds, --rounds or --eta")


def _check_lam(lam, x):
    """λ at which the fits still resolve anything in the features' precision.

    N·λ must be finite, and the outputs' largest possible move away from
    uniform, ‖X‖²_F / (Nλ) (the Gram's trace over Nλ bounds every logit), must
    exceed the precision ε: otherwise every output is 1/K to rounding.
    """
    import numpy as np

    n, info = x.shape[0], np.finfo(x.dtype)
    hint = "; lower --lam" + (" or add --float64" if x.dtype != np.float64 else "")
    if not n * lam < float(info.max):
        raise ValueError(f"argument --lam: N·λ = {n * lam:.3g} overflows {x.dtype} "
                         f"(largest {float(info.max):.3g}){hint}")
    scale = float(np.sum(np.square(x, dtype=np.float64))) / (n * lam)
    if not scale > float(info.eps):
        raise ValueError(f"argument --lam: at λ = {lam:g} every output is uniform to "
                         f"{x.dtype} precision (‖X‖²/(Nλ) = {scale:.3g} < ε = "
                         f"{float(info.eps):.3g}){hint}")


def _source_name(args):
    return args.dataset if args.features is None else args.features


def _load(args):
    import numpy as np

    from labelavg import datasets

    data = datasets.load(args.dataset) if args.features is None else \
        _load_features(datasets, args.features, args.labels)
    if data.x_test is None:
        data = _split(data, args.test_fraction)
    if args.float64:
        data = _astype(data, np.float64)
    return data


def _load_features(datasets, features, labels):
    """:func:`labelavg.datasets.load_features`, its messages naming the flags."""
    flags = {"path": "argument --features", "labels": "argument --labels"}
    try:
        return datasets.load_features(features, labels)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        head, sep, rest = str(exc).partition(": ")
        if not sep or head.split(" (")[0] not in flags:
            raise
        name = head.split(" (")[0]
        raise type(exc)(f"{flags[name]}{head[len(name):]}: {rest}") from None


def _split(data, fraction):
    """Stratified held-out split (seed 0) for a file without a test split."""
    import dataclasses

    import numpy as np

    rng = np.random.default_rng(0)
    test = np.zeros(data.y_train.size, bool)
    for c in range(data.n_classes):
        rows = rng.permutation(np.flatnonzero(data.y_train == c))
        test[rows[:round(fraction * rows.size)]] = True
    return dataclasses.replace(data, x_train=data.x_train[~test], y_train=data.y_train[~test],
                               x_test=data.x_train[test], y_test=data.y_train[test])


def _astype(data, dtype):
    import dataclasses

    return dataclasses.replace(data, x_train=data.x_train.astype(dtype),
                               x_test=data.x_test.astype(dtype))


def _transitions(args, noise, k, confusable_classes, data, corr):
    """η -> T (T[c, j] = P(given j | true c)) and a note for the header line."""
    if args.noise != "superclass":
        return {eta: noise.transition_matrix(args.noise, k, eta) for eta in args.eta}, ""
    clusters = confusable_classes(data.x_train, data.y_train, args.cut, correlation=corr)
    sizes = sorted((int((clusters == c).sum()) for c in set(clusters.tolist())), reverse=True)
    note = f" (cut {args.cut:g}: {len(sizes)} superclasses, sizes {sizes})"
    if max(sizes) == 1:
        print("labelavg probe: warning: every superclass is a single class, so superclass "
              "noise flips no label; raise --cut", file=sys.stderr)
    return {eta: noise.superclass(clusters, eta) for eta in args.eta}, note


def _progress(records, eta, seed, record):
    """Collect ``record`` (for the convergence check) and print one line on stderr."""
    records.append(record)
    print(f"  η={eta:g} seed={seed} {record.name:<12} test {100 * record.test_accuracy:5.1f}%"
          f"  Newton {record.n_iter:3d}  residual {record.residual:.1e}  "
          f"{record.seconds:6.2f} s", file=sys.stderr, flush=True)


def format_table(sweep):
    """TEST accuracy (%) mean ± std over seeds: rows = model, columns = η."""
    mean = 100 * sweep.test_accuracy.mean(axis=1)
    std = 100 * sweep.test_accuracy.std(axis=1)
    width = 15      # "100.00 ± 50.00" (14 characters) keeps a space before it
    head = f"{'test acc. (%)':<14}" + "".join(f"{'η=' + format(e, 'g'):>{width}}"
                                              for e in sweep.etas)
    rows = [head, "-" * len(head)]
    for j, name in enumerate(sweep.models):
        cells = "".join(f"{f'{mean[i, j]:.2f} ± {std[i, j]:.2f}':>{width}}"
                        for i in range(len(sweep.etas)))
        rows.append(f"{name:<14}{cells}")
    flipped = "".join(f"{100 * r:>{width - 1}.1f}%" for r in sweep.noise_rate.mean(axis=1))
    rows.append(f"{'flipped labels':<14}{flipped}")
    return "\n".join(rows)


def _figures(args, sweep, corr, class_names):
    from pathlib import Path

    from labelavg import plot
    from labelavg._xp import to_numpy

    gains, errors = sweep.gains("test")
    fig = plot.distillation_gain(gains, group_labels=[f"η={e:g}" for e in sweep.etas],
                                 model_labels=list(sweep.models[1:]),
                                 errors=errors if args.seeds > 1 else None,
                                 title=f"{Path(_source_name(args)).name}: test-accuracy "
                                       f"gain over the teacher ({args.noise} noise, "
                                       f"λ={args.lam:g}, {args.seeds} seed(s))")
    yield plot.save(fig, f"{args.out}/probe_gain")
    names = [c.removeprefix("noun.") for c in class_names]
    fig = plot.correlation_heatmap(to_numpy(corr.mean), tick_labels=names,
                                   title="mean centred cosine per class pair")
    yield plot.save(fig, f"{args.out}/probe_class_correlation")
