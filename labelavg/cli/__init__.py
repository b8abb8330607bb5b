"""The labelavg command: one subcommand per module of this package.

Each subcommand module defines ``add_parser(subparsers)`` (which registers its
parser with ``set_defaults(run=...)``) and does its imports lazily, so
``labelavg --help`` stays fast. Flags shared by several subcommands are parsed
and checked once, in :mod:`labelavg.cli._args`. Bad arguments, invalid values
and unusable output folders give a one-line message and exit status 2 before
any work starts, never a traceback; a computation that fails or does not
converge gives exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from functools import partial

SUBCOMMANDS = ("demo", "check", "simulate", "phase", "sweep", "probe", "reproduce", "figures")

DESCRIPTION = """labelavg: self-distillation in linear probing as label averaging.

exit status: 0 success; 2 bad arguments, input or output path, or a run too
large for this machine (one line on stderr, nothing computed); 1 a computation
that failed or did not converge, a write that failed, or standard output closed
early (e.g. piped into head); 130 interrupted (Ctrl-C). Files are written
under a temporary name and renamed into place: an interrupted or failed write
leaves the previous file intact.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def version():
    """The package version: ``labelavg.__version__`` or the installed metadata."""
    import labelavg

    if hasattr(labelavg, "__version__"):
        return labelavg.__version__
    from importlib import metadata

    try:
        return metadata.version("labelavg")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser():
    """The top-level parser with every subcommand registered."""
    parser = _Parser(prog="labelavg", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"labelavg {version()}")
    sub = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND",
                                parser_class=_Parser)
    for name in SUBCOMMANDS:
        importlib.import_module(f"labelavg.cli.{name}").add_parser(sub)
    return parser


def main(argv=None):
    """Entry point of the ``labelavg`` console script.

    Exit status: 0 success, 2 bad arguments or input, 1 a computation that
    failed or did not converge (or standard output closed early). Warnings
    print as one line; the solvers' non-convergence warnings are left to the
    subcommands, which report them as a failure.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # bare ``labelavg``: the commands and what they do, as a usage error
        sys.stderr.write(parser.format_help())
        return 2
    with warnings.catch_warnings():
        warnings.showwarning = partial(_one_line_warning, args.command)
        warnings.filterwarnings("ignore", message=r".*did not converge",
                                category=RuntimeWarning)
        return _run(args)


def _run(args):
    try:
        status = args.run(args) or 0
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        # The reader went away (``labelavg check | head``): point stdout at
        # devnull so the flush at interpreter exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"labelavg {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, ArithmeticError) as exc:
        print(f"labelavg {args.command}: failed: {exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"labelavg {args.command}: failed: out of memory", file=sys.stderr)
        return 1
    except OSError as exc:
        # a write that failed after the work (disk full, ...): the old file is intact
        print(f"labelavg {args.command}: failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"labelavg {args.command}: interrupted; files already written are "
              "complete, nothing partial was left", file=sys.stderr)
        return 130


def _one_line_warning(command, message, category, filename, lineno, file=None, line=None):
    print(f"labelavg {command}: warning: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
