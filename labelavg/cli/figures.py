"""``labelavg figures``: rebuild every figure of ``figures/`` (PNG and PDF)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labelavg.cli import _args

EXAMPLES = """examples:
  labelavg figures
  labelavg figures --quick --out /tmp/figs
  labelavg figures --only fig6_phase_diagram fig7_least_round

Needs the source checkout (the figures/ folder next to labelavg/); the same as
'python -m figures' run from the repository root.
"""


def add_parser(sub):
    p = sub.add_parser("figures", help="rebuild all figures into figures/out",
                       description="Run every figures/figNN_<name>.py script: the paper's "
                                   "synthetic figures on our model plus the phase diagram "
                                   "and least-round map; each writes <out>/figNN_<name>.png "
                                   "and .pdf.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="small grids and samples (a few seconds per figure)")
    p.add_argument("--out", default=None,
                   help="output folder (default figures/out in the checkout)")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="build only these figures, e.g. fig1_gram fig6_phase_diagram")
    p.set_defaults(run=run)


def _figures_package():
    """Import ``figures`` from the path or from the checkout holding this package."""
    try:
        import figures
    except ImportError:
        root = Path(__file__).resolve().parents[2]
        if not (root / "figures" / "__init__.py").is_file():
            raise FileNotFoundError("the figures/ scripts are not installed; run "
                                    "'labelavg figures' from a source checkout") from None
        sys.path.insert(0, str(root))
        import figures
    return figures


def run(args):
    figures = _figures_package()
    out = args.out or figures.OUT_DIR
    _args.check_out_dir(out)
    names = figures.select(args.only)
    print(f"building {len(names)} figures into {out}{' (quick)' if args.quick else ''}")
    done = figures.build_all(out, quick=args.quick,
                             report=lambda name, png, s: print(f"{s:6.1f} s  {png}"),
                             only=names)
    print(f"total {sum(s for _, s in done):.1f} s")
    return 0
