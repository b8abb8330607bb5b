"""How often float64 leaves a round's verdict undecided, and whether its error bound bounds.

theory/THEORY.md, "The float64 error bound": the reduced solver's per-round
bound E_t on every deviation entry of Y⁽ᵗ⁾ − 1/K. A round's verdict
("every training group is predicted right") is *decided* when no margin lies
within 2·E_t of 0 (then it is "yes" or "no"), else *undecided*.

Symbols: K classes, n per class, c / d block correlations, λ ridge, η
corruption rate, t the round (t = 1 teacher).

Distribution (issue 16): K uniform in 2..10, n log-uniform in 10..1e6, λ
log-uniform in 1e-7..1, rounds uniform in 1..40, noise symmetric / asymmetric /
pair with η uniform in [0, 0.9 (K − 1)/K), c uniform in [0.05, 0.95), d uniform
in [0, c), all from one seed. Prints

1. the fraction of (setting, round) verdicts that are undecided;
2. against an independent high-precision solve (:mod:`labelavg._reference`,
   80 digits) on a subsample: the fraction of rounds whose bound E_t is below
   the real error max |float64 − reference| (must be 0), the median ratio
   E_t / real error, and decided verdicts that contradict the reference
   (must be 0).

Run: ``python theory/undecided_rate.py [--settings 400] [--checked 60] [--seed 0]``;
``--quick`` for the test suite.
"""

import argparse
import sys
import warnings

import numpy as np

from labelavg._reference import reference_deviations
from labelavg.block import BlockModel
from labelavg.noise import asymmetric, pair, symmetric

NOISE = {"symmetric": symmetric, "asymmetric": asymmetric, "pair": pair}


def draw_setting(rng):
    """One setting of the issue-16 distribution as a dict."""
    k = int(rng.integers(2, 11))
    c = float(rng.uniform(0.05, 0.95))
    return dict(k=k, n=float(np.round(10 ** rng.uniform(1, 6))), c=c,
                d=float(rng.uniform(0, c)), lam=float(10 ** rng.uniform(-7, 0)),
                rounds=int(rng.integers(1, 41)), noise=str(rng.choice(list(NOISE))),
                eta=float(rng.uniform(0, 0.9 * (k - 1) / k)))


def solve(s):
    model = BlockModel(s["k"], s["n"], s["c"], s["d"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return model.solve(NOISE[s["noise"]](s["k"], s["eta"]), lam=s["lam"],
                           rounds=s["rounds"], pll_topk=None)


def round_verdicts(sol):
    """Per round: 1 every group right, −1 some group certainly wrong, 0 undecided."""
    wrong = np.any(sol.verdicts < 0, axis=-1)
    open_ = np.any(sol.verdicts == 0, axis=-1)
    return np.where(wrong, -1, np.where(open_, 0, 1))


def check_against_reference(s, sol, digits=80):
    """Per round: (bound, real error, decided verdicts contradicting the reference)."""
    import mpmath

    model = sol.model
    k = model.n_classes
    counts = np.zeros((k, k))
    counts[sol.groups[:, 0], sol.groups[:, 1]] = sol.counts
    n_lam = float(model.n_samples) * s["lam"]
    full = np.zeros((sol.rounds, k, k * k))
    full[..., sol.groups[:, 0] * k + sol.groups[:, 1]] = (
        _targets(sol) - sol.deviations)
    ref = reference_deviations(model.class_gram(), counts, n_lam, 1.0 - model.c,
                               sol.rounds, digits, starts=full)
    out = []
    with mpmath.workdps(digits):
        for t in range(sol.rounds):
            dev = ref.deviations[t]
            real = max(abs(mpmath.mpf(float(x)) - y)
                       for x, y in zip(sol.deviations[t].ravel(), dev.ravel()))
            margins = [_margin(dev[:, g], a) for g, a in enumerate(sol.groups[:, 0])]
            sign = np.array([1 if m > 0 else -1 for m in margins])
            decided = sol.verdicts[t] != 0
            bad = int(np.sum(decided & (np.sign(sol.verdicts[t]) != sign)))
            # a perfect bound (the real error itself) would still leave these open
            own = _float_margins(sol.deviations[t], sol.groups[:, 0])
            oracle = bool(np.any(np.abs(own) <= 2 * float(real)))
            out.append((float(sol.error[t]), float(real), bad, ref.converged[t],
                        bool(np.any(sol.verdicts[t] == 0)), oracle))
    return out


def _targets(sol):
    k = sol.model.n_classes
    onehot = np.eye(k)[:, sol.groups[:, 1]] - 1.0 / k
    return np.concatenate([onehot[None], sol.deviations[:-1]], axis=0)


def _float_margins(dev, true):
    cols = np.arange(true.size)
    others = dev.copy()
    others[true, cols] = -np.inf
    return dev[true, cols] - others.max(axis=0)


def _margin(col, a):
    return col[a] - max(x for i, x in enumerate(col) if i != a)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", type=int, default=400)
    parser.add_argument("--checked", type=int, default=60,
                        help="settings also checked against the 80-digit reference")
    parser.add_argument("--max-check-k", type=int, default=10)
    parser.add_argument("--max-check-rounds", type=int, default=40)
    parser.add_argument("--check-undecided", action="store_true",
                        help="check only settings with an undecided round")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="12 settings, the first with K <= 4 checked (the test suite)")
    args = parser.parse_args(argv)
    if args.quick:
        args.settings, args.checked, args.max_check_k, args.max_check_rounds = 12, 8, 4, 40
    rng = np.random.default_rng(args.seed)
    settings = [draw_setting(rng) for _ in range(args.settings)]
    verdicts, by_lam, checks = [], {}, []
    for s in settings:
        sol = solve(s)
        v = round_verdicts(sol)
        verdicts.append(v)
        by_lam.setdefault(int(np.floor(np.log10(s["lam"]))), []).append(v)
        if len(checks) < args.checked and s["k"] <= args.max_check_k \
                and s["rounds"] <= args.max_check_rounds \
                and (not args.check_undecided or np.any(v == 0)):
            checks.extend(check_against_reference(s, sol))
    allv = np.concatenate(verdicts)
    print(f"settings: {len(settings)}, (setting, round) verdicts: {allv.size}")
    print(f"undecided: {np.mean(allv == 0):.2%}  yes: {np.mean(allv == 1):.2%}  "
          f"no: {np.mean(allv == -1):.2%}")
    for e in sorted(by_lam):
        v = np.concatenate(by_lam[e])
        print(f"  lam in [1e{e}, 1e{e + 1}): undecided {np.mean(v == 0):6.2%} of {v.size}")
    if not checks:
        return allv
    bound, real, bad, conv, open_, oracle = (np.array(x) for x in zip(*checks))
    below = bound < real
    ratio = bound[real > 0] / real[real > 0]
    print(f"checked against 80 digits: {len(checks)} rounds "
          f"({int(np.sum(~conv))} reference solves unconverged)")
    print(f"bound < real error: {int(below.sum())} rounds ({np.mean(below):.2%}); "
          f"median bound/real {np.median(ratio):.3g}, min {ratio.min():.3g}")
    print(f"decided verdicts contradicting the reference: {int(bad.sum())}")
    print(f"on these rounds: undecided {np.mean(open_):.2%}; undecided even with the "
          f"real error as the bound: {np.mean(oracle):.2%}")
    if bad.sum() or below.sum():
        raise AssertionError("a decided verdict contradicts the reference or a bound "
                             "is below the real error")
    return allv


if __name__ == "__main__":
    main(sys.argv[1:])
