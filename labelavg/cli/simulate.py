"""``labelavg simulate``: self-distillation on Gaussian-mixture features vs the block model.

Symbols: K classes, n per class, D feature dimension, c / d block cosines, η
corruption rate, λ ridge, t the fit number (t = 1 is the teacher).
"""

from __future__ import annotations

import argparse
import sys
import time

from labelavg.cli import _args

EXAMPLES = """examples:
  labelavg simulate --n-classes 4 --n-per-class 100 --dim 2000 --c 0.4 --d 0.1 \\
      --eta 0.5 --lam 2e-4 --rounds 6 --seeds 3
  labelavg simulate --noise asymmetric --eta 0.3 --labels exact --dim 20000

Label-correction accuracy: argmax of the training outputs vs the true labels
(all / clean / noisy instances). Test accuracy: fresh instances of the same
mixture, argmax W x. "block" columns: the block model (reduced exact solver) at
each seed's measured (c, d) and group counts; its test column is the fraction
of classes whose fresh instance is right. Values are mean ± std over seeds.
"""


def add_parser(sub):
    p = sub.add_parser("simulate", help="Gaussian-mixture simulation vs the block model",
                       description="Multi-round self-distillation and the PLL student "
                                   "on unit-norm Gaussian-mixture features whose Gram is "
                                   "close to a block Gram, seed by seed, side by side "
                                   "with the block model's prediction.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _args.add(p, "n_classes", 4)
    _args.add(p, "n_per_class", 100)
    p.add_argument("--dim", type=_args.positive_int, default=2000,
                   help="feature dimension D (default 2000)")
    _args.add(p, "c", 0.4, help="within-class cosine c (default 0.4)")
    _args.add(p, "d", 0.1, help="across-class cosine d, 0 <= d < c (default 0.1)")
    _args.add(p, "eta", 0.5)
    _args.add(p, "lam", _args.LAM)
    _args.add(p, "rounds", 6)
    p.add_argument("--noise", default="symmetric",
                   choices=("symmetric", "asymmetric", "pair", "superclass"),
                   help="noise model (default symmetric); superclass needs "
                        "--superclass-size")
    p.add_argument("--labels", default="sampled", choices=("sampled", "exact"),
                   help="draw each label from T, or exact rounded counts n·T (default sampled)")
    _args.add(p, "seeds", 3, help="number of seeds 0..S-1 (default 3)")
    _args.add(p, "superclass_size")
    _args.add(p, "e", help="across-superclass cosine e <= d: hierarchical features "
                           "(needs --superclass-size; default e = d, no hierarchy)")
    p.set_defaults(run=run)


#: Flags that set each part of :func:`labelavg.simulate.memory_parts`.
MEMORY_FLAGS = {"dim": "--dim or --n-per-class", "n_per_class": "--n-per-class",
                "n_classes": "--n-classes"}


def check_args(args):
    """Flag relations, memory and time, before any work."""
    from labelavg.simulate import memory_parts

    _args.check_block(args.c, args.d, args.e, args.superclass_size)
    _args.check_noise(args.noise, args.superclass_size, args.e)
    _args.check_superclass_size(args.superclass_size, args.n_classes)
    _args.check_integer_n(args.n_per_class, "simulate draws instances and")
    if args.n_per_class < 2:
        raise ValueError(f"argument --n-per-class: simulate needs >= 2, got "
                         f"{args.n_per_class:g}")
    n_samples = args.n_classes * args.n_per_class
    parts = memory_parts(args.n_classes, args.n_per_class, args.dim)
    flags = MEMORY_FLAGS[max(parts, key=parts.get)]
    _args.check_memory(sum(parts.values()), f"argument {flags.split()[0]}: simulate at "
                       f"K = {args.n_classes}, N = {n_samples}, D = {args.dim}", flags)
    _args.check_block_solver([args.n_classes], args.rounds, points=args.seeds,
                             points_flags=("--seeds",))


def run(args):
    check_args(args)
    from labelavg.simulate import simulate

    # Superclasses without --e: e = d, the plain block structure.
    e = args.d if args.superclass_size is not None and args.e is None else args.e
    start = time.perf_counter()
    result = simulate(n_classes=args.n_classes, n_per_class=args.n_per_class,
                      dim=args.dim, c=args.c, d=args.d, eta=args.eta, lam=args.lam,
                      rounds=args.rounds, noise=args.noise, labels=args.labels,
                      seeds=tuple(range(args.seeds)),
                      superclass_size=args.superclass_size, e=e,
                      progress=_progress(args.seeds))
    print(_header(args, result))
    print(format_table(result))
    print(f"{len(result.seeds)} seeds in {time.perf_counter() - start:.1f} s; "
          f"max residual {result.residual.max():.1e}, all converged: {result.converged}")
    if not result.converged:
        raise RuntimeError(f"some fits did not converge (max residual "
                           f"{result.residual.max():.1e}): the results above are not exact")
    return 0


def _progress(total):
    def report(i, seed, seconds):
        print(f"seed {seed} done ({i + 1}/{total}) in {seconds:.1f} s", file=sys.stderr,
              flush=True)
    return report


def _header(args, result):
    mean, std = result.mean("measured"), result.std("measured")
    measured = ", ".join(f"{name}={m:.4f}±{s:.4f}"
                         for name, m, s in zip("cde", mean, std))
    return (f"Gaussian mixture K={args.n_classes} n={args.n_per_class} D={args.dim} "
            f"(requested c={args.c:g} d={args.d:g}; measured {measured}), "
            f"{args.noise} η={args.eta:g} ({args.labels} labels), λ={args.lam:g}")


def _pm(mean, std):
    return f"{mean:.3f}±{std:.3f}"


def format_table(result):
    """Per-round accuracies (mean ± std over seeds) next to the block model's."""
    head = (f"{'fit':>4} | {'label-corr all':>14} {'clean':>11} {'noisy':>11} | "
            f"{'test':>11} || {'block all':>11} {'clean':>11} {'noisy':>11} | "
            f"{'test':>11}")
    rows = [head, "-" * len(head)]
    sim, sim_sd = result.mean("accuracy"), result.std("accuracy")
    test, test_sd = result.mean("test_accuracy"), result.std("test_accuracy")
    blk, blk_sd = result.mean("predicted"), result.std("predicted")
    btest, btest_sd = result.mean("predicted_test"), result.std("predicted_test")
    for t in range(result.rounds):
        rows.append(_row(f"t={t + 1}", sim[t], sim_sd[t], test[t], test_sd[t],
                         blk[t], blk_sd[t], btest[t], btest_sd[t]))
    rows.append(_row("PLL", result.mean("pll_accuracy"), result.std("pll_accuracy"),
                     result.mean("pll_test_accuracy"), result.std("pll_test_accuracy"),
                     result.mean("predicted_pll"), result.std("predicted_pll"),
                     result.mean("predicted_pll_test"), result.std("predicted_pll_test")))
    return "\n".join(rows)


def _row(name, acc, acc_sd, test, test_sd, blk, blk_sd, btest, btest_sd):
    sim = " ".join(f"{_pm(m, s):>{w}}" for m, s, w in zip(acc, acc_sd, (14, 11, 11)))
    block = " ".join(f"{_pm(m, s):>11}" for m, s in zip(blk, blk_sd))
    return (f"{name:>4} | {sim} | {_pm(test, test_sd):>11} || {block} | "
            f"{_pm(btest, btest_sd):>11}")
