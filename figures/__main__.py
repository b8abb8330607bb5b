"""``python -m figures [--quick] [--out DIR]``: rebuild every figure (PNG and PDF)."""

import argparse
import sys

from figures import OUT_DIR, SCRIPTS, build_all


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m figures", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="small grids and samples (seconds per figure)")
    parser.add_argument("--out", default=str(OUT_DIR),
                        help=f"output folder (default {OUT_DIR})")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=SCRIPTS,
                        help="build only these figures (e.g. fig1_gram)")
    args = parser.parse_args(argv)
    print(f"building {len(args.only or SCRIPTS)} figures into {args.out}"
          f"{' (quick)' if args.quick else ''}")
    done = build_all(args.out, quick=args.quick,
                     report=lambda name, png, s: print(f"{s:6.1f} s  {png}"),
                     only=args.only)
    print(f"total {sum(s for _, s in done):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
