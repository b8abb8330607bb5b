"""``labelavg check``: Results 3 and 4 of theory/THEORY.md at one parameter set (block model).

Symbols: K classes, n per class, c / d (/ e) block correlations, λ ridge, η
corruption rate, T[c, j] = P(given j | true c) (rows = true class), θ = g(μ₁),
φ = g(μ₂), ψ = g(μ₃) with g(μ) = μ/(μ + KNλ), Δ the Result-3 margin, t* the
linearised least number of fits (t = 1 is the teacher).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import warnings

from labelavg.cli import _args

#: Largest K that `check` certifies by default.
CERTIFY_MAX_K = 8

EXAMPLES = """examples:
  labelavg check --n-classes 4 --n-per-class 500 --c 0.4 --d 0.1 --lam 1e-5 --eta 0.5
  labelavg check --noise asymmetric --eta 0.3 --lam 0.1 --json
  labelavg check --n-classes 6 --noise superclass --superclass-size 3 --eta 0.4
  labelavg check --n-classes 6 --superclass-size 3 --e 0.05 --eta 0.4   (hierarchical Gram)

Counts are the population histogram n·T (m_c = T[c, :]). Rounds count fits:
t = 1 is the teacher. A tie for the top output counts as wrong.
"""

NOISES = _args.NOISES


def add_parser(sub):
    p = sub.add_parser("check", help="evaluate Results 3 and 4 at one parameter set",
                       description="Result 3 (when multi-round self-distillation reaches "
                                   "100% label-correction accuracy: margin Δ, θ, φ, least "
                                   "rounds linearised t* vs exact softmax and their gap) and "
                                   "Result 4 (the PLL student's plurality condition and "
                                   "whether the exact PLL student is 100% right) on the "
                                   "block Gram model.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _args.add(p, "n_classes", 4)
    _args.add(p, "n_per_class", 100, help="n, may be fractional (default 100)")
    _args.add(p, "c", 0.4)
    _args.add(p, "d", 0.1)
    _args.add(p, "lam", _args.LAM)
    p.add_argument("--noise", choices=NOISES, default="symmetric",
                   help="noise model (default symmetric); superclass needs "
                        "--superclass-size")
    _args.add(p, "eta", 0.5)
    _args.add(p, "superclass_size")
    _args.add(p, "e")
    p.add_argument("--rounds", "--max-rounds", dest="max_rounds", metavar="ROUNDS",
                   type=_args.positive_int, default=50,
                   help="fits t = 1..ROUNDS searched for the least all-right round "
                        "(default 50; --max-rounds is the old name)")
    _args.add(p, "pll_topk", "auto")
    _args.add(p, "precision", "default", help=(
        "rigorous certificate of the verdicts (python-flint ball arithmetic): auto "
        "(raise the working precision until decided, up to 2048 bits), decimal digits "
        f">= 16, or off; default auto up to K = {CERTIFY_MAX_K}, off above (the "
        "certificate's cost grows as the cube of K times the groups)"))
    p.add_argument("--json", action="store_true",
                   help="print the Verdict fields as JSON instead of a table")
    p.set_defaults(run=run)


def check_args(args):
    """Flag relations, before any work."""
    _args.check_block(args.c, args.d, args.e, args.superclass_size)
    _args.check_noise(args.noise, args.superclass_size, args.e)
    _args.check_superclass_size(args.superclass_size, args.n_classes)
    _args.check_pll_topk(args.pll_topk, [args.n_classes])
    scans = 2 if args.e is not None else 1      # the hierarchical scan runs two solvers
    if args.precision == "default":
        args.precision = "auto" if args.n_classes <= CERTIFY_MAX_K else "skipped"
    seconds = _args.check_block_solver([args.n_classes], args.max_rounds, points=scans,
                                       rounds_flag="--rounds", noise=args.noise,
                                       superclass_size=args.superclass_size)
    if args.pll_topk != 0:
        # the PLL student's top-k targets break the orbit symmetry: one round on every
        # present group (Result 4); --pll-topk 0 skips it
        seconds += _args.check_block_solver([args.n_classes], 1, rounds_flag="--rounds",
                                            superclass_size=args.superclass_size,
                                            skip="--pll-topk 0 (skip Result 4)")
    return seconds


def run(args):
    seconds = check_args(args)
    if args.precision == "skipped":
        args.precision = None
        print(f"note: no certificate at K = {args.n_classes} > {CERTIFY_MAX_K} by default "
              "(float64 verdicts, decided outside their proven error bound); pass "
              "--precision auto to certify anyway", file=sys.stderr)
    if seconds > 5:
        print(f"labelavg check: K = {args.n_classes}, up to {args.max_rounds} rounds: "
              f"this takes at least {_args._duration(seconds)}", file=sys.stderr, flush=True)
    from labelavg.block import BlockModel
    from labelavg.noise import transition_matrix
    from labelavg.theorems import full_accuracy, pll_condition

    transition = transition_matrix(args.noise, args.n_classes, args.eta,
                                   args.superclass_size)
    hierarchical = args.e is not None
    model = BlockModel(args.n_classes, args.n_per_class, args.c, args.d,
                       superclass_size=args.superclass_size if hierarchical else None,
                       e=args.e)
    if hierarchical:
        result3 = _hierarchical_scan(model, transition, args.lam, args.max_rounds,
                                     args.precision)
    else:
        result3 = full_accuracy(model, transition, lam=args.lam, max_rounds=args.max_rounds,
                                precision=args.precision)
    exact = transition_matrix(args.noise, args.n_classes, args.eta, args.superclass_size,
                              exact=True)      # plurality decided exactly (ties are ties)
    result4 = None if args.pll_topk == 0 else pll_condition(
        model, exact, lam=args.lam, pll_topk=args.pll_topk, precision=args.precision)
    if args.json:
        print(json.dumps(_json_doc(args, transition, result3, result4), indent=2))
    else:
        print(format_report(args, result3, result4))
    return 0


# ---------------------------------------------------------------------------
# hierarchical Gram: no closed form, scan both solvers


def _hierarchical_scan(model, transition, lam, max_rounds, precision=None):
    """Result 3 on a hierarchical Gram: least all-right round, linearised and exact."""
    import numpy as np

    from labelavg.theorems import Verdict

    least = {}
    for method in ("linear", "exact"):
        with warnings.catch_warnings():
            if precision is not None:    # what float64 leaves open is certified below
                warnings.simplefilter("ignore", RuntimeWarning)
            sol = model.solve(transition, lam=lam, rounds=max_rounds, method=method,
                              pll_topk=None)
        hits = np.flatnonzero(sol.all_right())
        least[method] = int(hits[0]) + 1 if hits.size else None
    if precision is not None:
        # certify up to float64's first all-right round (all rounds if it errs there)
        for rounds in dict.fromkeys((least["exact"] or max_rounds, max_rounds)):
            sol = model.solve(transition, lam=lam, rounds=rounds, pll_topk=None,
                              precision=precision)
            if sol.all_right()[-1]:
                break
        hits = np.flatnonzero(sol.all_right())
        least["exact"] = int(hits[0]) + 1 if hits.size else None
    # no all-right round: a claim only if no round before the end is undecided
    settled = least["exact"] is not None or not sol.undecided.any()
    off = (transition > 0) & ~np.eye(len(transition), dtype=bool)
    delta = float(np.min((np.diag(transition)[:, None] - transition)[off])) \
        if off.any() else math.inf
    lin, ex = least["linear"], least["exact"]
    spectrum = model.spectrum()
    shift = model.n_classes * model.n_samples * lam
    filters = {f"g[{name}]": float(mu / (mu + shift))
               for name, mu in zip(spectrum.names, spectrum.values)}
    return Verdict(
        holds=lin is not None, margin=delta, min_rounds=lin, min_rounds_exact=ex,
        gap=ex - lin if lin is not None and ex is not None else None,
        exact_holds=ex is not None if settled else None, certified=sol.certified,
        formula="least t ≤ max_rounds at which every group is right (hierarchical "
                "Gram: no closed form; linearised and exact reduced solvers scanned)",
        params=dict(K=model.n_classes, n=model.n_per_class, c=model.c, d=model.d,
                    e=model.e, m=model.superclass_size, lam=lam, delta=delta,
                    max_rounds=max_rounds, histogram="n*T", **filters),
        notes=("Result 3's t* formula is stated for the block model; this is a scan",))


# ---------------------------------------------------------------------------
# output


def _noise_text(args):
    extra = f", superclasses of {args.superclass_size}" if args.superclass_size else ""
    return f"{args.noise} noise η={args.eta:g}{extra}"


def _model_text(args):
    text = f"K={args.n_classes} n={args.n_per_class:g} c={args.c:g} d={args.d:g}"
    if args.e is not None:
        text += f" e={args.e:g} m={args.superclass_size}"
    return f"{'hierarchical' if args.e is not None else 'block'} Gram {text}"


def _num(value, digits=6):
    if value is None:
        return "—"
    if isinstance(value, float) and math.isinf(value):
        return "∞ (no noise)"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _yes(flag):
    return {True: "yes", False: "NO", None: "undecided / not computed"}[flag]


def _result3_rows(v):
    p = v.params
    rows = []
    for key, label in (("theta", "θ = g(μ₁)  within-class"),
                       ("phi", "φ = g(μ₂)  class contrasts"),
                       ("psi", "ψ = g(μ₃)  all-ones"), ("ratio", "φ/θ")):
        if key in p:
            rows.append((label, _num(float(p[key]))))
    rows += [(f"{k}", _num(float(val))) for k, val in p.items() if k.startswith("g[")]
    gap = "—" if v.gap is None else f"{v.gap:+d}"
    rows += [("margin Δ = min (T[c,c] − T[c,j])", _num(float(v.margin))),
             ("condition holds (linearised)", _yes(v.holds)),
             ("least rounds, linearised t*", _num(v.min_rounds)),
             (f"least rounds, exact (t ≤ {p['max_rounds']})", _num(v.min_rounds_exact)),
             ("gap exact − linearised", gap),
             ("exact reaches 100%", _yes(v.exact_holds)),
             ("  certified (proof, not float64)", _yes(v.certified))]
    return rows


def _result4_rows(v):
    p = v.params
    rows = [("plurality margin min(T[c,c] − max T[c,k])", _num(float(v.margin))),
            ("plurality condition (decided exactly)", v.decision),
            ("teacher label-correction accuracy", _num(p.get("teacher_accuracy"), 4)),
            (f"exact PLL student (top-{p['pll_topk']}) accuracy",
             _num(p.get("pll_accuracy"), 4)),
            ("exact PLL student 100% right", _yes(v.exact_holds)),
            ("  certified (proof, not float64)", _yes(v.certified))]
    if p.get("tied_groups"):
        ties = f"on {len(p['tied_groups'])} (true, given) groups, see note"
        rows.append(("  fails by ties", ties))
    if p.get("wrong_groups"):
        rows.append(("  plainly wrong on groups", str(p["wrong_groups"])))
    if p.get("topk_misses"):
        rows.append(("  teacher top-k misses the true class", str(p["topk_misses"])))
    return rows


def _section(title, rows, verdict):
    width = max(len(label) for label, _ in rows)
    lines = [title] + [f"  {label:<{width}}  {value}" for label, value in rows]
    lines.append(f"  formula: {verdict.formula}")
    lines += [f"  note: {note}" for note in verdict.notes]
    return lines


def format_report(args, result3, result4):
    """The two verdicts as a readable table."""
    head = (f"{_model_text(args)}, λ={args.lam:g}, {_noise_text(args)} "
            "(population histogram n·T)")
    lines = [head, ""]
    lines += _section("Result 3: multi-round self-distillation → 100% label-correction "
                      "accuracy", _result3_rows(result3), result3)
    if result4 is not None:
        lines.append("")
        lines += _section("Result 4: PLL student (teacher + one fit on top-k partial labels)",
                          _result4_rows(result4), result4)
    return "\n".join(lines)


def _plain(value):
    """JSON-ready copy: numpy scalars/arrays to Python, tuples to lists, else str."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "tolist"):        # numpy scalar or array
        return _plain(value.tolist())
    return str(value)                   # sympy expressions and the rest


def _json_doc(args, transition, result3, result4):
    inputs = {k: v for k, v in vars(args).items() if k not in ("run", "json")}
    return _plain({"inputs": inputs, "transition": transition,
                   "full_accuracy": dataclasses.asdict(result3),
                   "pll_condition": None if result4 is None else dataclasses.asdict(result4)})
