"""Flags shared by the subcommands: one parser and one check per flag.

Symbols: K classes (``--n-classes``), n per class (``--n-per-class``), N = Kn,
D feature dimension, c / d / e block correlations, m superclass size, λ
``--lam``, η ``--eta``, t the number of fits.

Every flag that several subcommands take is added by :func:`add`, whose
``type=`` callable is the flag's only value check, so ``--n-per-class 1e12`` or
``--eta 2`` get the same answer from every subcommand (argparse prints
``labelavg CMD: error: argument --FLAG: ...`` and exits 2). Relations between
flags (d < c, ``--e`` needs ``--superclass-size``, top-k < K, ...), output
folders and memory needs are checked by the ``check_*`` functions before any
work starts; they raise ``ValueError``, which ``labelavg`` reports as one line
with exit status 2.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path


class FlagError(argparse.ArgumentTypeError, ValueError):
    """A bad flag value: argparse reports it as ``argument --FLAG: message``."""


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise FlagError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise FlagError(f"expected a finite number, got {text}")
    return value


def _integer(text, lower):
    value = _number(text)
    if not value.is_integer():
        raise FlagError(f"expected an integer, got {text}")
    if value < lower:
        raise FlagError(f"must be >= {lower}, got {text}")
    return int(value)


def classes(text):
    """K: an integer >= 2 (``1e1`` is accepted as 10)."""
    return _integer(text, 2)


def positive_int(text):
    """An integer >= 1 (rounds, seeds, D, top-k, jobs)."""
    return _integer(text, 1)


def topk(text):
    """``auto`` (min(2, K − 1) for each K) or an integer k >= 0 (0 skips the PLL student)."""
    return "auto" if text == "auto" else _integer(text, 0)


def per_class(text):
    """n: a number >= 1; an int when integral, else a float (reduced solver only).

    Examples
    --------
    >>> per_class("1e12"), per_class("2.5")
    (1000000000000, 2.5)
    """
    value = _number(text)
    if value < 1:
        raise FlagError(f"must be >= 1, got {text}")
    return int(value) if value.is_integer() else value


def positive(text):
    """A finite number > 0 (λ, the dendrogram cut)."""
    value = _number(text)
    if value <= 0:
        raise FlagError(f"must be > 0, got {text}")
    return value


def rate(text):
    """η: a number in [0, 1]."""
    value = _number(text)
    if not 0 <= value <= 1:
        raise FlagError(f"must be in [0, 1], got {text}")
    return value


def correlation(text):
    """c, d or e: a number in [0, 1); their order is checked by :func:`check_block`."""
    value = _number(text)
    if not 0 <= value < 1:
        raise FlagError(f"must be in [0, 1), got {text}")
    return value


def open_fraction(text):
    """A number in (0, 1) (the held-out share)."""
    value = _number(text)
    if not 0 < value < 1:
        raise FlagError(f"must be in (0, 1), got {text}")
    return value


def precision(text):
    """``auto``, ``off`` / 0, or decimal digits >= 16 of the rigorous certificate."""
    if text == "default":       # the command's own default (check: auto for small K)
        return text
    if text in ("auto", "off"):
        return None if text == "off" else text
    value = _integer(text, 0)
    if 0 < value < 16:
        raise FlagError(f"must be auto, off (0) or >= 16 digits, got {text}")
    return value or None


#: λ default of the block-model commands (demo, check, simulate, phase, sweep); probe
#: and reproduce fit real features, whose λ scale is their own (see their --help).
LAM = 2e-4

#: Noise models of every command (``T`` from :func:`labelavg.noise.transition_matrix`).
NOISES = ("symmetric", "asymmetric", "pair", "superclass")

#: dest → (option, type, help); ``{default}`` in the help is filled by :func:`add`.
FLAGS = {
    "n_classes": ("--n-classes", classes, "K (default {default})"),
    "n_per_class": ("--n-per-class", per_class, "n (default {default})"),
    "c": ("--c", correlation, "within-class correlation c (default {default})"),
    "d": ("--d", correlation, "across-class correlation d, 0 <= d < c (default {default})"),
    "e": ("--e", correlation, "across-superclass correlation e <= d: makes the Gram "
                              "hierarchical (needs --superclass-size)"),
    "superclass_size": ("--superclass-size", positive_int,
                        "m: superclasses are runs of m consecutive classes (used by "
                        "--noise superclass and by --e)"),
    "eta": ("--eta", rate, "corruption rate η (default {default})"),
    "lam": ("--lam", positive, "ridge λ (default {default})"),
    "rounds": ("--rounds", positive_int, "fits t = 1..ROUNDS, t = 1 the teacher "
                                         "(default {default})"),
    "seeds": ("--seeds", positive_int, "number of seeds (default {default})"),
    "pll_topk": ("--pll-topk", topk, "k of the PLL targets, 1 <= k < K; auto = min(2, K-1), "
                                     "0 skips the PLL student (default {default})"),
    "precision": ("--precision", precision,
                  "rigorous certificate of the verdicts float64 cannot decide "
                  "(python-flint ball arithmetic): auto (raise the working precision "
                  "until decided, up to 2048 bits), a number of decimal digits >= 16, "
                  "or off (default {default})"),
}


def add(parser, name, default=None, **kwargs):
    """Register flag ``name`` of :data:`FLAGS` on ``parser``; kwargs override."""
    option, kind, text = FLAGS[name]
    kwargs.setdefault("help", text.format(default=default))
    parser.add_argument(option, dest=name, type=kind, default=default, **kwargs)


def check_value(name, value):
    """Run flag ``name``'s check on a value parsed elsewhere (``labelavg phase``)."""
    option, kind, _ = FLAGS[name]
    try:
        return kind(value)
    except FlagError as exc:
        raise ValueError(f"argument {option}: {exc}") from None


def check_block(c, d, e=None, superclass_size=None):
    """0 <= e <= d < c < 1, and ``--e`` only with ``--superclass-size``."""
    if not d < c:
        raise ValueError(f"argument --d: must satisfy 0 <= d < c, got --d {d:g} with "
                         f"--c {c:g}")
    if e is not None and superclass_size is None:
        raise ValueError("--e needs --superclass-size (the superclasses it separates)")
    if e is not None and not e <= d:
        raise ValueError(f"argument --e: must satisfy 0 <= e <= d, got --e {e:g} with "
                         f"--d {d:g}")


def check_noise(noise, superclass_size, e=None):
    """``--superclass-size`` with ``--noise superclass`` (or ``--e``), and only then."""
    if noise == "superclass" and superclass_size is None:
        raise ValueError("--noise superclass needs --superclass-size")
    if superclass_size is not None and noise != "superclass" and e is None:
        raise ValueError(f"--superclass-size is used by --noise superclass or with --e "
                         f"(hierarchical Gram), not by {noise} noise alone")


def check_superclass_size(m, n_classes):
    """``--superclass-size`` m divides ``--n-classes`` K (superclasses of m consecutive classes)."""
    if m is not None and n_classes % m:
        raise ValueError(f"argument --superclass-size: {m} must divide --n-classes "
                         f"{n_classes}")


def check_pll_topk(k, n_classes):
    """1 <= k <= K − 1 for every K in ``n_classes`` (``auto`` and 0 always pass)."""
    if k in ("auto", 0):
        return
    for K in n_classes:
        if k > K - 1:
            raise ValueError(f"argument --pll-topk: must be in 1..K-1 = 1..{K - 1} "
                             f"for K = {K}, got {k}")


def check_grid_pll_topk(k, n_classes):
    """``--pll-topk`` over a grid (``phase``, ``sweep``): k = 0 skips the PLL
    student, and so do K = 2 points; every other K needs k < K."""
    if k not in ("auto", 0):
        values = n_classes if isinstance(n_classes, list) else [n_classes]
        check_pll_topk(k, [K for K in values if K > 2])


def check_integer_n(n, why):
    """An integer ``--n-per-class`` for commands that materialise instances."""
    if not float(n).is_integer():
        raise ValueError(f"argument --n-per-class: {why} needs an integer, got {n:g}")


def check_out_dir(path, option="--out"):
    """An output folder that exists or can be created: no file in the way, writable."""
    from labelavg._io import check_writable

    out = Path(path)
    for folder in (out, *out.parents):
        if folder.exists() or folder.is_symlink():
            if not folder.is_dir():
                what = "is" if folder == out else f"has {str(folder)!r} which is"
                raise ValueError(f"argument {option}: {str(out)!r} {what} a file, "
                                 "not a folder")
            check_writable(folder, f"argument {option}", str(out))
            return


def check_out_file(path, suffixes, option="--out"):
    """An output file of a known type whose folder exists and is writable."""
    from labelavg._io import check_out_file as check

    check(path, suffixes, f"argument {option}")


def physical_memory():
    """Bytes of RAM of this machine (POSIX), or None where unknown."""
    from labelavg._checks import physical_memory

    return physical_memory()


def check_memory(nbytes, what, flags="--n-per-class"):
    """Refuse a run whose arrays alone need more than this machine's memory.

    ``flags`` names the flag(s) to lower in the message.
    """
    total = physical_memory()
    if total is not None and nbytes > total:
        raise ValueError(f"{what} needs about {_size(nbytes)} of memory, more than this "
                         f"machine's {_size(total)}; lower {flags}")


#: Longest run (seconds, a lower bound of its time) the commands start without refusing.
MAX_SECONDS = 24 * 3600


def check_time(seconds, what, flags):
    """Refuse a run whose time, estimated from below, exceeds :data:`MAX_SECONDS`."""
    if seconds > MAX_SECONDS:
        raise ValueError(f"{what} needs at least {_duration(seconds)}, more than the "
                         f"{_duration(MAX_SECONDS)} this command starts; lower {flags}")


#: Lower bounds of the block solver's time: at least this long per round and
#: point, and at most this many flop/s for the LU of its K² × K² Newton system.
SECONDS_PER_ROUND = 1e-3
FLOPS = 1e12


def check_block_solver(n_classes, rounds, *, batch=1, points=1, rounds_flag="--rounds",
                       points_flags=(), noise=None, superclass_size=None, skip=None):
    """Memory and time of the reduced block solver, for every K in ``n_classes``.

    ``batch`` points are solved at once (memory), ``points`` in all (time), each
    for ``rounds`` fits; ``points_flags`` are the flags that set ``points``
    (``--seeds``, a grid's axes); ``skip`` names a flag that avoids this solve, offered
    in the refusal beside the others; ``noise`` picks the layout
    (:func:`labelavg.block.planned_groups`). Returns an estimate of the time, in
    seconds (about 10 flops per element of the solver's work arrays per round).
    """
    from labelavg.block import _solver_bytes, planned_groups

    seconds, per_round = 0.0, SECONDS_PER_ROUND
    for k in n_classes:
        groups = planned_groups(k, noise, superclass_size=superclass_size)
        need = _solver_bytes(batch, k, groups, rounds)
        # blame the rounds when one round would fit, else K
        fits_one = _solver_bytes(batch, k, groups, 1) <= (physical_memory() or need)
        flag = rounds_flag if fits_one else "--n-classes"
        check_memory(need, f"argument {flag}: K = {k}, {rounds} round(s) "
                           f"(reduced block solver on {groups} group(s))",
                     flag + (f" or pass {skip}" if skip else ""))
        work = _solver_bytes(1, k, groups, 1) / 8
        per_round = max(per_round, 10 * work / FLOPS)
        seconds += points * rounds * max(SECONDS_PER_ROUND, 10 * work / FLOPS)
    flags = _time_flags(points, list(points_flags), rounds, rounds_flag,
                        per_round > SECONDS_PER_ROUND)
    check_time(seconds, f"argument {flags[0]}: {points} point(s) × {rounds} round(s) at "
                        f"K = {max(n_classes)}", " or ".join(flags))
    return seconds


def _time_flags(points, points_flags, rounds, rounds_flag, by_k):
    """The flags a time refusal offers, the likeliest cause first: K when its solve
    costs more than the floor per round, then points or rounds, the larger first."""
    counts = sorted([(points, points_flags), (rounds, [rounds_flag])],
                    key=lambda pair: -pair[0])
    flags = [flag for _, group in counts for flag in group if flag != "--n-classes"]
    return ["--n-classes", *flags] if by_k else [*flags, "--n-classes"]


def _duration(seconds):
    for unit, size in (("years", 365.25 * 86400), ("days", 2 * 86400), ("h", 3600)):
        if seconds >= size:
            return f"{seconds / (86400 if unit == 'days' else size):.3g} {unit}"
    return f"{seconds:.3g} s"


def _size(nbytes):
    from labelavg._checks import format_bytes

    return format_bytes(nbytes)


def check_converged(fits, what):
    """RuntimeError (exit 1) naming the fits (1-based) that stopped above their tolerance.

    ``fits`` are objects with ``converged`` and ``residual`` (FitResult, RoundRecord).
    """
    bad = [i for i, fit in enumerate(fits, 1) if not fit.converged]
    if bad:
        worst = max(fits[i - 1].residual for i in bad)
        raise RuntimeError(f"{len(bad)} of {len(fits)} {what}s did not converge (numbers "
                           f"{bad}, residual up to {worst:.1e}): the results above are "
                           "not exact")


def nonnegative_int(text):
    """An integer >= 0 (0 = off, e.g. ``phase --pll-topk 0``)."""
    return _integer(text, 0)
