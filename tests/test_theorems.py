"""Tests of labelavg.theorems: Result 3 (t*), Result 4 (PLL), sympy forms.

Symbols: K classes, n per class, c/d correlations, λ, η corruption rate,
T[c, j] = P(given j | true c), θ = g(μ₁), φ = g(μ₂), Δ the noisy margin.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from labelavg.block import BlockModel
from labelavg.noise import asymmetric, exact_counts, symmetric
from labelavg.theorems import (Verdict, full_accuracy, linear_margins, pll_condition,
                               symbolic_forms)


def _exact_counts(n, transition):
    return np.stack([exact_counts(n, row, c) for c, row in enumerate(transition)])


# ---------------------------------------------------------------------------
# theory/THEORY.md's measured reference values (an independent check)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("lam, eta, formula, exact", [
    (1e-3, 0.5, 2, 2),
    (2e-4, 0.5, 4, 4),
    (2e-4, 0.7, 7, 8),
])
@pytest.mark.parametrize("histogram", ["n*T", "counts"])
def test_theory_reference_values(lam, eta, formula, exact, histogram):
    model = BlockModel(4, 100, 0.4, 0.1)
    transition = symmetric(4, eta)
    if histogram == "n*T":
        verdict = full_accuracy(model, transition, lam=lam)
    else:
        verdict = full_accuracy(model, lam=lam, counts=_exact_counts(100, transition))
    assert verdict.holds and verdict.exact_holds
    assert verdict.min_rounds == formula
    assert verdict.min_rounds_exact == exact
    assert verdict.gap == exact - formula


# ---------------------------------------------------------------------------
# the linearised condition is exact for the linearised model
# ---------------------------------------------------------------------------

def _boundary_distance(verdict, t):
    """Linearised probability margin (φᵗ − θᵗ)Δ − θᵗ of the worst noisy instance."""
    p = verdict.params
    return (p["phi"] ** t - p["theta"] ** t) * p["delta"] - p["theta"] ** t


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(k=st.integers(2, 6), n=st.integers(2, 300), c=st.floats(0.05, 0.95),
       frac_d=st.floats(0, 0.95), log_lam=st.floats(-6, 0), frac_eta=st.floats(0, 0.999),
       kind=st.sampled_from(["symmetric", "asymmetric"]))
@example(k=2, n=10, c=0.5, frac_d=0.2, log_lam=-3, frac_eta=0.0, kind="symmetric")
@example(k=4, n=100, c=0.4, frac_d=0.25, log_lam=-3, frac_eta=0.9, kind="symmetric")
@example(k=2, n=2, c=0.5, frac_d=0.0, log_lam=-1, frac_eta=1e-300, kind="symmetric")
def test_linear_condition_predicts_linear_model(k, n, c, frac_d, log_lam, frac_eta, kind):
    eta = frac_eta * (k - 1) / k
    transition = (symmetric if kind == "symmetric" else asymmetric)(k, eta)
    model, lam = BlockModel(k, n, c, c * frac_d), 10.0 ** log_lam
    verdict = full_accuracy(model, transition, lam=lam, exact=False)
    assert verdict.exact_holds is None and verdict.params["m_bar_uniform"]
    t_star = verdict.min_rounds
    rounds = 12 if t_star is None else min(t_star + 2, 40)
    if verdict.margin != math.inf:
        assume(abs(verdict.margin) > 1e-9)
        assume(all(abs(_boundary_distance(verdict, t)) > 1e-8
                   for t in range(1, rounds + 1)))
    sol = model.solve(transition, lam=lam, rounds=rounds, method="linear", pll_topk=None)
    full = sol.all_right().tolist()
    predicted = [t_star is not None and t >= t_star for t in range(1, rounds + 1)]
    assert full == predicted


def test_linear_margins_cover_non_uniform_histogram():
    # not doubly stochastic: m̄ is not uniform, the ψ term enters
    transition = np.array([[0.6, 0.3, 0.1], [0.05, 0.8, 0.15], [0.25, 0.1, 0.65]])
    model, lam = BlockModel(3, 50, 0.5, 0.2), 3e-4
    verdict = full_accuracy(model, transition, lam=lam, max_rounds=30)
    assert not verdict.params["m_bar_uniform"] and verdict.notes
    sol = model.solve(transition, lam=lam, rounds=30, method="linear")
    for t in range(1, 31):
        margin = linear_margins(model, lam, 50 * transition, t)
        assert (margin > 0) == (sol.accuracy[t - 1].all == 1.0)
    first = next(t for t in range(1, 31) if sol.accuracy[t - 1].all == 1.0)
    assert verdict.min_rounds == first


def test_infeasible_and_noise_free():
    model = BlockModel(4, 100, 0.4, 0.1)
    bad = full_accuracy(model, symmetric(4, 0.75), lam=1e-3, max_rounds=10)
    assert not bad.holds and bad.min_rounds is None and bad.margin == pytest.approx(0)
    assert bad.min_rounds_exact is None and bad.exact_holds is False
    clean = full_accuracy(model, np.eye(4), lam=1e-3)
    assert clean.min_rounds == 1 and clean.min_rounds_exact == 1 and clean.gap == 0


def test_full_accuracy_rejects_bad_input():
    model = BlockModel(4, 10, 0.4, 0.1)
    with pytest.raises(ValueError, match="lam"):
        full_accuracy(model, symmetric(4, 0.2), lam=-1.0)
    with pytest.raises(ValueError, match="block model"):
        full_accuracy(BlockModel(4, 10, 0.4, 0.1, superclass_size=2, e=0.0),
                      symmetric(4, 0.2), lam=1e-3)
    with pytest.raises(ValueError, match="transition"):
        full_accuracy(model, np.ones((4, 4)), lam=1e-3)


def test_swapped_model_and_transition_is_a_clear_type_error():
    model, transition = BlockModel(4, 10, 0.4, 0.1), symmetric(4, 0.2)
    for fn in (full_accuracy, pll_condition):
        with pytest.raises(TypeError, match="model must be a BlockModel.*swap"):
            fn(transition, model, lam=1e-3)
    with pytest.raises(TypeError, match="positional"):
        full_accuracy(model, transition, 1e-3)          # λ is keyword-only


def test_verdict_is_frozen():
    verdict = full_accuracy(BlockModel(2, 10, 0.4, 0.1), symmetric(2, 0.1), lam=1e-2)
    assert isinstance(verdict, Verdict)
    with pytest.raises(AttributeError):
        verdict.holds = False


# ---------------------------------------------------------------------------
# sympy forms
# ---------------------------------------------------------------------------

def test_symbolic_t_star_matches_numeric():
    import sympy as sp

    forms = symbolic_forms()
    s = forms.symbols
    args = (s["n"], s["K"], s["c"], s["d"], s["lam"], s["eta"])
    delta = forms.delta_symmetric
    t_star = sp.lambdify(args, forms.t_star.subs(s["Delta"], delta))
    for lam, eta in [(1e-3, 0.5), (2e-4, 0.5), (2e-4, 0.7), (1e-5, 0.3)]:
        verdict = full_accuracy(BlockModel(4, 100, 0.4, 0.1), symmetric(4, eta), lam=lam,
                                exact=False)
        assert int(t_star(100, 4, 0.4, 0.1, lam, eta)) == verdict.min_rounds


def test_symbolic_noisy_margin_sign_and_derivative():
    import sympy as sp

    forms = symbolic_forms()
    s = forms.symbols
    vals = {s["n"]: 100, s["K"]: 4, s["c"]: sp.Rational(2, 5), s["d"]: sp.Rational(1, 10),
            s["lam"]: sp.Rational(1, 1000), s["T_cc"]: sp.Rational(1, 2),
            s["T_cj"]: sp.Rational(1, 6)}
    assert forms.noisy_margin.subs(vals).subs(s["t"], 1) < 0     # teacher wrong
    assert forms.noisy_margin.subs(vals).subs(s["t"], 2) > 0     # first student right
    # more ridge, smaller filter: dθ/dλ < 0
    assert sp.diff(forms.theta, s["lam"]).subs(vals) < 0


# ---------------------------------------------------------------------------
# Result 4: the PLL student
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("lam", [1e-5, 1e-3, 1e-1])
def test_pll_reaches_full_accuracy_under_plurality(lam):
    model = BlockModel(4, 100, 0.4, 0.1)
    verdict = pll_condition(model, symmetric(4, 0.7), lam=lam)
    assert verdict.holds and verdict.exact_holds
    assert verdict.min_rounds == verdict.min_rounds_exact == 2
    if lam < 1e-2:                           # a strong ridge makes the teacher right
        assert verdict.params["teacher_accuracy"] < 1.0


def test_pll_fails_without_plurality():
    transition = asymmetric(4, 0.7)          # T[c,c] = 0.3 < T[c,c+1] = 0.35
    verdict = pll_condition(BlockModel(4, 100, 0.4, 0.1), transition, lam=1e-3)
    assert not verdict.holds and verdict.margin < 0
    assert verdict.exact_holds is False and verdict.params["wrong_groups"]


def test_pll_tie_failure_is_reported():
    # asymmetric noise, strong ridge: all of class c gets {c, c + 1} -> exact ties
    model = BlockModel(4, 100, 0.4, 0.1)
    with pytest.warns(RuntimeWarning, match="undecided"):
        open_ = pll_condition(model, asymmetric(4, 0.3), lam=0.1)
    # float64 cannot tell the exact tie from a tiny margin: no claim, 16 open groups
    assert open_.exact_holds is None and not open_.certified
    assert len(open_.params["tied_groups"]) == 16
    verdict = pll_condition(model, asymmetric(4, 0.3), lam=0.1, precision=30)
    assert verdict.certified
    assert verdict.holds and verdict.exact_holds is False
    assert verdict.params["teacher_accuracy"] == 1.0
    assert len(verdict.params["tied_groups"]) == 16 and not verdict.params["wrong_groups"]
    assert any("tie" in note for note in verdict.notes)


def test_top2_covers_true_class_without_plurality():
    # the converse of Result 4's first step fails (see theory/README.md)
    verdict = pll_condition(BlockModel(4, 100, 0.4, 0.1), asymmetric(4, 0.7), lam=0.1,
                            precision=30)         # exact ties: certify them
    assert not verdict.holds and not verdict.params["topk_misses"]
    assert verdict.exact_holds is False


def test_pll_condition_without_model_is_plurality_only():
    verdict = pll_condition(None, symmetric(5, 0.75))
    assert verdict.holds and verdict.exact_holds is None
    assert verdict.margin == pytest.approx(0.25 - 0.75 / 4)
    with pytest.raises(ValueError, match="transition"):
        pll_condition(None, np.ones((3, 3)))


def test_plurality_tie_is_a_tie_with_exact_t_and_undecided_with_float_t():
    """Superclass clusters {0, 1}, {2, 3, 4} at η = 1/2, counted by hand:
    rows 0, 1 are (1/2, 1/2, 0, 0, 0) — T[c,c] − max_k T[c,k] = 0, a tie;
    rows 2–4 are 1/2 on the diagonal, 1/4 beside it — gap 1/4."""
    from fractions import Fraction

    from labelavg.noise import superclass

    exact = superclass([[0, 1], [2, 3, 4]], 0.5, exact=True)
    assert exact[0].tolist() == [Fraction(1, 2)] * 2 + [0] * 3
    assert exact[2].tolist() == [0, 0, Fraction(1, 2), Fraction(1, 4), Fraction(1, 4)]
    verdict = pll_condition(transition=exact)
    assert verdict.decision == "tie" and verdict.margin == 0.0
    assert not verdict.holds and verdict.min_rounds is None
    floats = pll_condition(transition=superclass([[0, 1], [2, 3, 4]], 0.5))
    assert floats.decision == "undecided" and not floats.holds
    assert any("undecided" in note for note in floats.notes)
    # η = 0.3: gaps 0.7 − 0.3 = 0.4 (rows 0, 1) and 0.7 − 0.15 = 0.55 (rows 2–4)
    verdict = pll_condition(transition=superclass([[0, 1], [2, 3, 4]], 0.3, exact=True))
    assert verdict.decision == "holds" and verdict.margin == 0.4
    # η = 0.7: rows 0, 1 are (0.3, 0.7) — fails, whatever the other rows do
    verdict = pll_condition(transition=superclass([[0, 1], [2, 3, 4]], 0.7, exact=True))
    assert verdict.decision == "fails" and verdict.margin == pytest.approx(-0.4, rel=1e-15)


def test_plurality_float_rounding_does_not_decide_a_tie():
    # symmetric K = 10 at η = 0.9: 1 − η = η/9 = 1/10 exactly, but in float64
    # 1 − 0.9 < 0.9/9 by 2.8e-17: "fails" would be a rounding artefact
    floats = pll_condition(transition=symmetric(10, 0.9))
    assert floats.margin < 0 and floats.decision == "undecided"
    assert pll_condition(transition=symmetric(10, 0.9, exact=True)).decision == "tie"
    # a margin far above the rounding error is decided from floats
    assert pll_condition(transition=symmetric(10, 0.9 - 2 ** -30)).decision == "holds"
    assert pll_condition(transition=symmetric(10, 0.9 + 2 ** -30)).decision == "fails"


def test_plurality_from_integer_counts_is_exact():
    # counts (true class × given label), rows sum to n = 10: row 0 ties 5 = 5
    model = BlockModel(2, 10, 0.4, 0.1)
    verdict = pll_condition(model, counts=np.array([[5, 5], [2, 8]]))
    assert verdict.decision == "tie" and verdict.margin == 0.0
    assert pll_condition(model, counts=np.array([[6, 4], [2, 8]])).decision == "holds"


def test_exact_transition_rows_must_sum_to_exactly_one():
    from fractions import Fraction

    third = Fraction(1, 3)
    bad = np.array([[third, third, third + Fraction(1, 10**12)],
                    [third, third, third], [third, third, third]], dtype=object)
    with pytest.raises(ValueError, match="sum to exactly 1"):
        pll_condition(transition=bad)


def test_certificate_settles_rounds_float64_leaves_open():
    # asymmetric noise past its plurality limit (η = 0.675 > 2/3: T[c,c] < T[c,c+1])
    # with a strong ridge: outputs approach uniform and the noisy margins shrink
    # below float64's error bound; Result 3 says 100% is never reached
    model, transition = BlockModel(4, 100, 0.4, 0.1), asymmetric(4, 0.675)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        plain = full_accuracy(model, transition, lam=1.0, max_rounds=30)
    assert plain.exact_holds in (None, False) and not plain.certified
    sure = full_accuracy(model, transition, lam=1.0, max_rounds=30, precision=40)
    assert sure.certified and sure.exact_holds is False and not sure.holds
    assert sure.params["undecided_round"] is None


def test_two_classes_with_defaults():
    """K = 2: the block model and both checks run with default arguments; the PLL
    student is top-1 there, outside Result 4, so plurality claims nothing about it."""
    model = BlockModel(2, 100, 0.4, 0.1)
    sol = model.solve(symmetric(2, 0.3), lam=1e-3, rounds=3)
    assert sol.pll_topk == 1 and sol.pll_accuracy is not None
    assert full_accuracy(model, symmetric(2, 0.3), lam=1e-3).holds is not None
    for lam in (1e-3, 1e-1):
        verdict = pll_condition(model, symmetric(2, 0.3), lam=lam)
        assert verdict.holds and verdict.params["pll_topk"] == 1
        assert verdict.min_rounds is None and verdict.gap is None
        assert "Result 4 (top-2 sets) does not apply" in verdict.notes[0]
    # small λ: the teacher memorises the flipped labels and the top-1 student copies it
    assert verdict.exact_holds is True
    copied = pll_condition(model, symmetric(2, 0.3), lam=1e-3)
    assert copied.exact_holds is False and copied.params["teacher_accuracy"] < 1
    assert pll_condition(None, symmetric(3, 0.3)).min_rounds == 2


def test_pll_plainly_wrong_under_plurality_without_uniform_histogram():
    """Result 4 needs a uniform overall target histogram (issue 16's counterexample).

    Row-stochastic, not doubly stochastic T: plurality holds, the teacher's
    top-2 covers every true class, yet the student's margins are clearly
    negative (far outside their error bound), not ties.
    """
    transition = np.array([[.7, .3, 0, 0], [.3, .7, 0, 0], [.3, 0, .7, 0], [.3, 0, 0, .7]])
    model = BlockModel(4, 100, 0.4, 0.1)
    verdict = pll_condition(model, transition, lam=1e-3)
    assert verdict.holds and not verdict.params["topk_misses"]
    assert verdict.exact_holds is False and not verdict.params["tied_groups"]
    sol = model.solve(transition, lam=1e-3, rounds=1)
    dev, true = sol.pll_probs - 0.25, sol.groups[:, 0]
    cols = np.arange(true.size)
    others = dev.copy()
    others[true, cols] = -np.inf
    margins = dev[true, cols] - others.max(axis=0)
    wrong = margins[sol.pll_verdicts == -1]
    assert wrong.size == 6 and np.all(wrong < -0.01)
    assert np.all(np.abs(wrong) > 1e6 * sol.error[0])


def test_t_star_with_c_and_d_one_ulp_apart():
    """φ and θ round to one float, yet φ > θ: t* from log1p(sx/(μ₁(μ₂+s))), checked in mpmath."""
    import mpmath

    c = 0.4
    d = float(np.nextafter(c, 0.0))
    model, lam = BlockModel(4, 1, c, d), 1e-3
    verdict = full_accuracy(model, symmetric(4, 0.3), lam=lam, max_rounds=3)
    assert verdict.params["phi"] == verdict.params["theta"]      # float64 cannot split them
    assert verdict.holds and verdict.margin == pytest.approx(0.6)
    with mpmath.workdps(50):
        c_, d_, lam_ = mpmath.mpf(c), mpmath.mpf(d), mpmath.mpf(lam)
        shift = 4 * 4 * lam_
        theta = (1 - c_) / (1 - c_ + shift)
        phi = (1 - c_ + (c_ - d_)) / (1 - c_ + (c_ - d_) + shift)
        ratio = mpmath.log1p(1 / mpmath.mpf(verdict.margin)) / mpmath.log(phi / theta)
        t_star = int(mpmath.floor(ratio)) + 1
    assert t_star > 2 ** 53
    note = next(n for n in verdict.notes if "not resolved" in n)
    slack = int(note.split("within ±")[1].split()[0])
    assert abs(verdict.min_rounds - t_star) <= slack < 1e-12 * t_star
