"""``labelavg phase``: a phase diagram over two parameters (CSV + figures)."""

from __future__ import annotations

import argparse
import math
import sys
import time

from labelavg.cli import _args

VALUES_HELP = """values of a parameter (every option below takes one of these forms):
  0.5              a scalar
  0.1,0.3,0.5      a list
  1:12             integers 1, 2, ..., 12 (both ends included)
  0:0.75:31        31 evenly spaced values from 0 to 0.75 (both ends included)
  log:1e-5:1e-2:13 13 log-spaced values from 1e-5 to 1e-2
Exactly two parameters must be lists or ranges: they are the axes.
"""

EXAMPLES = """examples:
  labelavg phase
  labelavg phase --axes eta rounds --eta 0:0.75:31 --rounds 1:12 --lam 2e-4 --out phase_out
  labelavg phase --axes eta lam --eta 0.05:0.7:14 --lam log:1e-5:1e-2:13 --rounds 30 --jobs 2
  labelavg phase --eta 0.5 --rounds 1:10 --c 0.2,0.3,0.4,0.6 --method linear
"""

#: Parameter → (option, type of its values, default).
PARAMETERS = {"eta": ("--eta", float, "0:0.75:31"), "rounds": ("--rounds", int, "1:12"),
              "lam": ("--lam", float, repr(_args.LAM)), "c": ("--c", float, "0.4"),
              "d": ("--d", float, "0.1"), "n_classes": ("--n-classes", int, "4"),
              "n_per_class": ("--n-per-class", float, "100")}


def add_parser(sub):
    p = sub.add_parser("phase", help="phase diagram of accuracy over two parameters",
                       description="Label-correction and fresh-instance accuracy of "
                                   "multi-round self-distillation on the block model "
                                   "(reduced solver) over a grid of two parameters, with "
                                   "the 100%-accuracy boundaries of Result 3. Writes "
                                   "DIR/phase.csv and figures.\n\n" + VALUES_HELP,
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--axes", nargs=2, metavar=("X", "Y"),
                   help="order of the two axes (x, y), e.g. 'eta rounds'; default: "
                        "the swept parameters in the order eta, rounds, lam, c, d, "
                        "n_classes, n_per_class")
    symbols = {"eta": "noise rate η", "rounds": "fits t = 1..ROUNDS, t = 1 the teacher, "
                                                 "read at t = ROUNDS; a list or range "
                                                 "(1:12) makes t an axis",
               "lam": "ridge λ", "c": "within-class correlation c",
               "d": "across-class correlation d", "n_classes": "classes K",
               "n_per_class": "instances per class n"}
    for name, (option, _, default) in PARAMETERS.items():
        p.add_argument(option, dest=name, default=default, metavar="VALUES",
                       help=f"{symbols[name]} (default {default})")
    p.add_argument("--noise", default="symmetric", choices=_args.NOISES,
                   help="noise model (default symmetric); superclass needs "
                        "--superclass-size")
    _args.add(p, "superclass_size", help="m: superclass noise flips labels within runs "
                                         "of m consecutive classes")
    p.add_argument("--method", default="exact", choices=("exact", "linear"),
                   help="softmax fits or the linearised closed form (default exact)")
    p.add_argument("--counts", default="expected", choices=("expected", "exact"),
                   help="group counts n·T or their integer rounding (default expected)")
    _args.add(p, "pll_topk", "auto")
    p.add_argument("--quantity", default="label_correction",
                   choices=("label_correction", "fresh", "pll_label_correction",
                            "pll_fresh"),
                   help="value drawn in the phase map (default label_correction)")
    p.add_argument("--jobs", type=_args.positive_int, default=1,
                   help="worker processes (default 1)")
    _args.add(p, "precision", "off")
    p.add_argument("--progress", action="store_true",
                   help="progress bar on stderr even when it is not a terminal (it is "
                        "shown on a terminal anyway)")
    p.add_argument("--out", default="labelavg_phase",
                   help="output folder (default ./labelavg_phase)")
    p.add_argument("--no-figure", action="store_true", help="write the CSV only")
    p.set_defaults(run=run)


def parse_values(name, text, kind):
    """A scalar or a list from ``text`` (see VALUES_HELP), each value checked as
    flag ``name`` is everywhere (:mod:`labelavg.cli._args`); ValueError naming it."""
    try:
        values = _parse(text, kind)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"--{name.replace('_', '-')} {text!r}: {exc} (forms: X, X,Y,..., "
                         f"A:B, A:B:N, log:A:B:N; see --help)") from None
    if isinstance(values, list):
        return [_args.check_value(name, v) for v in values]
    return _args.check_value(name, values)


def check_args(args, values):
    """Flag relations and the output folder, before any work."""
    check_axes(values, args.axes)
    check_grid_block(values)
    _args.check_noise(args.noise, args.superclass_size)
    for k in _listed(values, "n_classes"):
        _args.check_superclass_size(args.superclass_size, k)
    _args.check_grid_pll_topk(args.pll_topk, values["n_classes"])
    _args.check_out_dir(args.out)
    check_size(values, [name for name in values if name != "rounds"], (args.noise,),
               args.superclass_size)


def _listed(values, name):
    return values[name] if isinstance(values[name], list) else [values[name]]


def check_grid_block(values):
    """d < c at every grid point (``values``: parsed flags, lists or scalars)."""
    _args.check_block(min(_listed(values, "c")), max(_listed(values, "d")))


def check_size(values, grid_names, noises=("symmetric",), superclass_size=None):
    """Memory and time of the reduced solver over the grid, before any work.

    The layout is planned for the costliest of ``noises``
    (:func:`labelavg.block.planned_groups`).
    """
    from labelavg.sweep import BATCH_SIZE

    points = len(noises)
    for name in grid_names:
        points *= len(_listed(values, name))
    axes = sorted((name for name in grid_names if len(_listed(values, name)) > 1),
                  key=lambda name: -len(_listed(values, name)))
    return _args.check_block_solver(_listed(values, "n_classes"), max(_listed(values, "rounds")),
                                    batch=min(points, BATCH_SIZE), points=points,
                                    points_flags=["--" + name.replace("_", "-") for name in axes],
                                    noise=_costliest(noises, superclass_size),
                                    superclass_size=superclass_size)


def _costliest(noises, superclass_size):
    from labelavg.block import planned_groups

    return max(noises, key=lambda name: planned_groups(4, name, superclass_size=superclass_size))


def check_axes(values, axes=None):
    """Exactly two flags are lists (the axes), each of distinct values; ValueError naming flags."""
    flag = lambda name: PARAMETERS[name][0]
    swept = [name for name, value in values.items() if isinstance(value, list)]
    if len(swept) != 2:
        got = ", ".join(flag(n) for n in swept) or "none"
        raise ValueError(f"phase needs exactly two of {', '.join(map(flag, PARAMETERS))} "
                         f"as lists or ranges (the axes), got {len(swept)}: {got}")
    for name in swept:
        if len(set(values[name])) < len(values[name]) or len(values[name]) < 2:
            raise ValueError(f"argument {flag(name)}: an axis needs two or more distinct "
                             f"values, got {values[name]}")
    if axes is not None and sorted(axes) != sorted(swept):
        raise ValueError(f"argument --axes: {' '.join(axes)} must name the two swept "
                         f"parameters, {' and '.join(swept)}")


def _parse(text, kind):
    import numpy as np

    text = text.strip()
    if text.startswith("log:"):
        lo, hi, num = text[4:].split(":")
        return _typed(np.geomspace(float(lo), float(hi), _count(num)), kind)
    if ":" in text:
        parts = text.split(":")
        if len(parts) == 2:
            lo, hi = (int(p) for p in parts)
            if hi < lo:
                raise ValueError(f"integer range {lo}:{hi} is empty")
            return list(range(lo, hi + 1))
        if len(parts) == 3:
            return _typed(np.linspace(float(parts[0]), float(parts[1]), _count(parts[2])),
                          kind)
        raise ValueError("expected A:B, A:B:N or log:A:B:N")
    # Scalars and lists stay floats here; parse_values types them per flag.
    if "," in text:
        return [float(v) for v in text.split(",") if v.strip()]
    return float(text)


def _count(text):
    num = int(text)
    if num < 1:
        raise ValueError(f"the number of values must be >= 1, got {num}")
    return num


def _typed(values, kind):
    """Floats, or integers where ``kind`` is int: a grid point within the few ulps of
    round-off that linspace/geomspace leave (log:2:8:3 gives 3.999999999999999) is the
    integer; anything farther is refused."""
    if kind is int:
        if any(abs(v - round(v)) > _ULPS * math.ulp(abs(v)) for v in values):
            raise ValueError("this parameter needs integer values")
        return [int(round(v)) for v in values]
    return [float(v) for v in values]


#: Round-off of a linspace/geomspace grid point, in ulps, still read as an integer.
_ULPS = 8


def run(args):
    from labelavg.phase import phase_diagram

    values = {name: parse_values(name, getattr(args, name), kind)
              for name, (_, kind, _) in PARAMETERS.items()}
    check_args(args, values)
    import numpy as np

    start = time.perf_counter()
    diagram = phase_diagram(**values, noise=args.noise, method=args.method,
                            counts=args.counts, pll_topk=args.pll_topk or None,
                            superclass_size=args.superclass_size,
                            axes=args.axes, n_jobs=args.jobs,
                            progress=args.progress or sys.stderr.isatty(),
                            precision=args.precision)
    seconds = time.perf_counter() - start
    csv_path = write_csv(diagram, args.out)
    x, y = diagram.axes
    print(f"{args.method} phase diagram over {x} × {y} ({diagram.shape[0]} × "
          f"{diagram.shape[1]} points) in {seconds:.2f} s; "
          f"{int(diagram.values['all_right'].sum())} points at 100% label correction, "
          f"{int(np.isnan(diagram.values['label_correction']).sum())} undecided "
          f"{'after the certificate' if args.precision else 'in float64'}")
    print(f"csv: {csv_path}")
    if not args.no_figure:
        for path in write_figures(diagram, args.quantity, args.out):
            print(f"figure: {path}")
    return 0


def write_csv(diagram, out):
    """``out/phase.csv``: one row per grid point (see PhaseDiagram.rows)."""
    import csv
    from pathlib import Path

    from labelavg._io import atomic_write

    path = Path(out) / "phase.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = diagram.rows()

    def write(tmp):
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return atomic_write(path, write)


def write_figures(diagram, quantity, out):
    """The phase map, and the least-round map when t is not an axis."""
    from pathlib import Path

    from labelavg import plot

    paths = [plot.save(plot.phase_map(diagram, quantity), Path(out) / f"phase_{quantity}")]
    if "rounds" not in diagram.axes:
        paths.append(plot.save(plot.least_round_map(diagram), Path(out) / "least_round"))
    return paths
