"""The ``labelavg`` command: one subcommand per module of this package.

Each subcommand module defines ``add_parser(subparsers)`` (which registers its
parser with ``set_defaults(run=...)``) and does its imports lazily, so
``labelavg --help`` stays fast. Bad arguments and invalid values give a
one-line message and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from functools import partial

SUBCOMMANDS = ("demo", "check", "simulate", "phase", "probe", "reproduce", "figures")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    """The top-level parser with every subcommand registered."""
    parser = _Parser(prog="labelavg", description=__doc__.splitlines()[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in SUBCOMMANDS:
        importlib.import_module(f"labelavg.cli.{name}").add_parser(sub)
    return parser


def main(argv=None):
    """Entry point of the ``labelavg`` console script.

    Exit status: 0 success, 2 bad arguments or input, 1 a computation that
    failed (e.g. a solver that did not converge). Warnings print as one line.
    """
    args = build_parser().parse_args(argv)
    warnings.showwarning = partial(_one_line_warning, args.command)
    try:
        return args.run(args) or 0
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"labelavg {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, ArithmeticError) as exc:
        print(f"labelavg {args.command}: failed: {exc}", file=sys.stderr)
        return 1


def _one_line_warning(command, message, category, filename, lineno, file=None, line=None):
    print(f"labelavg {command}: warning: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
