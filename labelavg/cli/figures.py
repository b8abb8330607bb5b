"""``labelavg figures``: rebuild every figure of :mod:`labelavg.figures` (PNG and PDF)."""

from __future__ import annotations

import argparse

from labelavg.cli import _args

EXAMPLES = """examples:
  labelavg figures
  labelavg figures --quick --out /tmp/figs
  labelavg figures --only fig6_phase_diagram fig7_least_round

The scripts ship with the package (labelavg.figures), so this works from any
install; in a source checkout 'python -m figures' runs the same scripts into
figures/out.
"""


def add_parser(sub):
    p = sub.add_parser("figures", help="rebuild all figures (PNG + PDF) into --out",
                       description="Run every figure script of labelavg.figures: the "
                                   "paper's synthetic figures on our model plus the phase "
                                   "diagram and least-round map; each writes "
                                   "<out>/figNN_<name>.png and .pdf.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="small grids and samples (a few seconds per figure)")
    p.add_argument("--out", default="labelavg_figures",
                   help="output folder (default ./labelavg_figures)")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="build only these figures, e.g. fig1_gram fig6_phase_diagram")
    p.set_defaults(run=run)


def run(args):
    from labelavg import figures

    names = figures.select(args.only)
    _args.check_out_dir(args.out)
    print(f"building {len(names)} figures into {args.out}{' (quick)' if args.quick else ''}")
    done = figures.build_all(args.out, quick=args.quick,
                             report=lambda name, png, s: print(f"{s:6.1f} s  {png}"),
                             only=names)
    print(f"total {sum(s for _, s in done):.1f} s")
    return 0
