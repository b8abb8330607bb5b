"""``labelavg sweep``: an N-D grid of block-model points, one table row per (point, round)."""

from __future__ import annotations

import argparse
import sys

from . import _args
from .phase import VALUES_HELP, check_grid_block, check_size, parse_values

EXAMPLES = """examples:
  labelavg sweep --eta 0:0.7:8 --lam log:1e-5:1e-1:9 --rounds 30 --out sweep.csv
  labelavg sweep --c 0.2,0.4 --d 0,0.1 --eta 0.5 --lam 1e-3 --noise symmetric,pair --out s.parquet
  labelavg sweep --eta 0.3 --lam 1e-3 --scheduler tcp://10.0.0.5:8786 --out s.csv
"""

#: Parameter → (option, type of its values, default).
PARAMETERS = {"n_classes": ("--n-classes", int, "4"), "n_per_class": ("--n-per-class", float, "100"),
              "c": ("--c", float, "0.4"), "d": ("--d", float, "0.1"),
              "lam": ("--lam", float, "2e-4"), "eta": ("--eta", float, "0:0.7:8")}

#: Parameter → what its flag sets (help texts).
SYMBOLS = {"n_classes": "classes K", "n_per_class": "instances per class n",
           "c": "within-class correlation c", "d": "across-class correlation d",
           "lam": "ridge λ", "eta": "noise rate η"}


def add_parser(sub):
    p = sub.add_parser("sweep", help="accuracy over an N-D parameter grid (CSV / Parquet)",
                       description="Label-correction and fresh-instance accuracy of "
                                   "multi-round self-distillation on the block model over "
                                   "a Cartesian grid of parameters (batched reduced solver), "
                                   "written as a long table, one row per (point, round).\n\n"
                                   + VALUES_HELP.replace(
                                       "Exactly two parameters must be lists or ranges: they "
                                       "are the axes.\n", "Any parameter may be a list.\n"),
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, (option, _, default) in PARAMETERS.items():
        p.add_argument(option, dest=name, default=default, metavar="VALUES",
                       help=f"{SYMBOLS[name]} (default {default})")
    p.add_argument("--noise", default="symmetric", metavar="{" + ",".join(_args.NOISES) + "}",
                   help="noise model(s), comma separated (default symmetric); superclass "
                        "needs --superclass-size")
    _args.add(p, "superclass_size", help="m: superclass noise flips labels within runs "
                                         "of m consecutive classes")
    _args.add(p, "rounds", 10)
    p.add_argument("--method", default="exact", choices=("exact", "linear"),
                   help="softmax fits or the linearised closed form (default exact)")
    p.add_argument("--counts", default="expected", choices=("expected", "exact"),
                   help="group counts n·T or their integer rounding (default expected)")
    _args.add(p, "pll_topk", "auto")
    p.add_argument("--scheduler", default=None,
                   help="address of a dask.distributed scheduler to solve on")
    _args.add(p, "precision", "off")
    p.add_argument("--progress", action="store_true",
                   help="progress bar on stderr even when it is not a terminal (it is "
                        "shown on a terminal anyway)")
    p.add_argument("--out", default="sweep.csv",
                   help="output file, .csv or .parquet (Parquet needs pyarrow: pip "
                        "install 'labelavg[parquet]'); its folder must exist "
                        "(default sweep.csv)")
    p.set_defaults(run=run)


#: Output formats of ``--out``, by extension.
SUFFIXES = (".csv", ".parquet")


def parse_noises(text):
    """``--noise a,b``: the listed noise models, each one of :data:`_args.NOISES`."""
    names = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in names if x not in _args.NOISES]
    if bad or not names:
        raise ValueError(f"argument --noise: invalid choice {text!r} (choose from "
                         f"{', '.join(_args.NOISES)}, comma separated)")
    return names


def write_table(table, path):
    """Write ``table`` to ``path`` (CSV or Parquet by extension), atomically."""
    from labelavg._io import atomic_write

    if str(path).lower().endswith(".parquet"):
        return atomic_write(path, lambda tmp: table.to_parquet(tmp, index=False))
    return atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))


def run(args):
    import importlib.util

    from ..sweep import sweep

    grid = {name: parse_values(name, getattr(args, name), kind)
            for name, (_, kind, _) in PARAMETERS.items()}
    noises = parse_noises(args.noise)
    for name in noises:
        _args.check_noise(name, args.superclass_size if name == "superclass" else None)
    if args.superclass_size is not None and "superclass" not in noises:
        _args.check_noise(noises[0], args.superclass_size)
    for k in grid["n_classes"] if isinstance(grid["n_classes"], list) else [grid["n_classes"]]:
        _args.check_superclass_size(args.superclass_size, k)
    _args.check_grid_pll_topk(args.pll_topk, grid["n_classes"])
    check_grid_block(grid)
    _args.check_out_file(args.out, SUFFIXES)
    check_size({**grid, "rounds": args.rounds}, list(grid), noises, args.superclass_size)
    parquet = args.out.lower().endswith(".parquet")
    if parquet and importlib.util.find_spec("pyarrow") is None:
        raise ValueError(f"argument --out {args.out!r}: Parquet needs pyarrow; pip install "
                         "'labelavg[parquet]', or write .csv")
    client = None
    if args.scheduler is not None:
        from dask.distributed import Client

        client = Client(args.scheduler)
    table = sweep(**grid, noise=noises, rounds=args.rounds, method=args.method,
                  counts=args.counts, pll_topk=args.pll_topk or None, client=client,
                  superclass_size=args.superclass_size, precision=args.precision,
                  progress=args.progress or sys.stderr.isatty())
    write_table(table, args.out)
    points = len(table) // args.rounds
    print(f"{points} points x {args.rounds} rounds -> {args.out} "
          f"({int(table['undecided'].gt(0).sum())} rows with undecided margins)")
