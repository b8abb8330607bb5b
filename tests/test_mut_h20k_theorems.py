"""Pins of theorems.pll_condition / full_accuracy behaviour (issue 20, helper h20k).

Expected values come from theory/THEORY.md (Result 4 and its counterexample), hand
counts of the transition matrices, and the documented messages.
"""

import warnings

import numpy as np
import pytest

from labelavg.block import BlockModel
from labelavg.noise import asymmetric, symmetric
from labelavg.theorems import full_accuracy, pll_condition

TOP1_NOTE = ("pll_topk = 1 (the default for K = 2): the student fits the teacher's top-1 "
             "predictions, so Result 4 (top-2 sets) does not apply and plurality implies "
             "nothing about it; see exact_holds")
UNDECIDED_NOTE = ("plurality undecided: a margin of T is within its float64 rounding "
                  "error (a tie or a tiny margin); pass T as Fractions "
                  "(labelavg.noise models with exact=True) to decide it")


def test_k2_undecided_plurality_keeps_both_notes_in_order():
    """K = 2, T = [[1/2, 1/2], [1/2, 1/2]] in floats: the gap T[c,c] − T[c,k] is 0,
    inside its rounding error, so the decision is "undecided"; auto top-k is
    min(2, K − 1) = 1. Pins both notes' full text, in order (the top-1 note is
    kept when the undecided note is added), and params["pll_topk"] == 1."""
    verdict = pll_condition(transition=np.array([[0.5, 0.5], [0.5, 0.5]]))
    assert verdict.decision == "undecided" and not verdict.holds
    assert verdict.notes == (TOP1_NOTE, UNDECIDED_NOTE)
    assert verdict.min_rounds is None
    assert verdict.params == {"K": 2, "pll_topk": 1, "ties": "split", "plurality": 0.0}


def test_pll_gap_is_none_when_student_is_wrong_under_plurality():
    """theory/THEORY.md Result 4 counterexample: row-stochastic T (not doubly stochastic),
    K = 4, n = 100, c = 0.4, d = 0.1, λ = 1e-3: plurality holds (smallest gap
    0.7 − 0.3 = 0.4 by hand), yet the student is wrong on every group of classes
    1, 2, 3 — the groups (true, given) with T > 0 are (1,0),(1,1),(2,0),(2,2),
    (3,0),(3,3). So min_rounds = 2 (plurality, no notes before the solve) but
    exact_holds is False, min_rounds_exact None and gap None (not 0)."""
    transition = np.array([[.7, .3, 0, 0], [.3, .7, 0, 0], [.3, 0, .7, 0], [.3, 0, 0, .7]])
    verdict = pll_condition(BlockModel(4, 100, 0.4, 0.1), transition, lam=1e-3)
    assert verdict.holds and verdict.margin == pytest.approx(0.4, abs=1e-15)
    assert verdict.min_rounds == 2
    assert verdict.exact_holds is False and verdict.min_rounds_exact is None
    assert verdict.gap is None
    wrong = [(1, 0), (1, 1), (2, 0), (2, 2), (3, 0), (3, 3)]
    assert verdict.params["wrong_groups"] == wrong
    assert verdict.notes == (f"plurality holds but the PLL student is wrong on groups {wrong}",)
    assert verdict.params["pll_topk"] == 2


def test_pll_uncertified_ties_note_text():
    """theory/THEORY.md item 4: asymmetric noise η = 0.3, λ = 0.1 (K = 4, n = 100, c = 0.4,
    d = 0.1) gives the student exactly tied outputs; without precision= float64
    cannot settle them, so all 16 groups (every T[c, j] > 0) are listed as open with
    the documented wording "ties or margins below the float64 error bound
    (undecided)", exact_holds is None and gap None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        verdict = pll_condition(BlockModel(4, 100, 0.4, 0.1), asymmetric(4, 0.3), lam=0.1)
    groups = [(c, j) for c in range(4) for j in range(4)]
    assert verdict.notes == (
        f"PLL student ties for the top on groups {groups}: ties or margins below the "
        "float64 error bound (undecided); ties count as wrong",)
    assert verdict.exact_holds is None and verdict.gap is None
    assert not verdict.certified


def test_full_accuracy_linear_refuses_precision_with_message():
    """exact=False is the linearised verdict only: precision= has nothing to certify,
    and the message names method='linear'."""
    with pytest.raises(ValueError, match=r"^precision= certifies the exact softmax fit; "
                                         r"method='linear' has nothing to certify$"):
        full_accuracy(BlockModel(4, 10, 0.4, 0.1), symmetric(4, 0.3), lam=1e-3,
                      exact=False, precision=20)
