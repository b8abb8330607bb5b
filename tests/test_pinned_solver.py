"""Pinned values for the mutants the former hand-written list found unguarded (issue 13).

Symbols: K classes, n per class, N = Kn, c/d block correlations, λ ``lam``, η
corruption rate, t fits (t = 1 teacher), T[c, j] = P(given j | true c) (rows =
true class), u = 1/K.

Every expected value is computed independently of the code under test: closed
forms, exact fractions, plain NumPy, or the independent mpmath solver
``labelavg._mp.solve_mp`` for block-solver behaviours.
"""

import warnings
from fractions import Fraction

import numpy as np
import pytest

from labelavg import noise
from labelavg._mp import solve_mp
from labelavg.block import BlockModel
from labelavg.distill import pll_targets
from labelavg.phase import phase_diagram
from labelavg.sweep import sweep

from test_pinned import _closed_form_outputs


# ---------------------------------------------------------------------------
# distill: the tie band reaches above the k-th value too
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("ties, expected", [
    ("split", [Fraction(1, 3)] * 3 + [0]),
    ("all", [Fraction(1, 3)] * 3 + [0]),
    ("index", [Fraction(1, 2)] * 2 + [0, 0]),
])
def test_pll_tie_band_includes_scores_just_above_the_kth(ties, expected):
    """k = 2, scores u + 1e-4, u, u − 1e-4, 0.1 with tie_tol = 1e-3: three-way tie.

    The top score is within the tolerance of the k-th, so it is not "above":
    the three tied classes share the k = 2 places (2/3 each, split evenly).
    """
    probs = np.array([[0.3 + 1e-4], [0.3], [0.3 - 1e-4], [0.1]])
    got = pll_targets(probs, 2, ties=ties, tie_tol=1e-3)
    np.testing.assert_allclose(got[:, 0], [float(x) for x in expected], rtol=1e-15, atol=0)


# ---------------------------------------------------------------------------
# sweep: every per-round column at its own round
# ---------------------------------------------------------------------------

def _closed_form_accuracies(k, n, c, d, lam, transition, t):
    """(all, clean, noisy) count-weighted accuracy of Result 2's linearised outputs."""
    hist = n * transition
    true, given = np.nonzero(hist > 0)
    outputs = _closed_form_outputs(k, n, c, d, lam, hist, t)
    cols = np.arange(true.size)
    rivals = outputs.copy()
    rivals[true, cols] = -np.inf
    margin = outputs[true, cols] - rivals.max(axis=0)
    assert np.min(np.abs(margin)) > 1e-3          # far from any tie: signs are certain
    weight, right = hist[true, given], margin > 0
    return tuple(float((weight * m * right).sum() / (weight * m).sum())
                 for m in (np.ones_like(right), true == given, true != given))


def test_sweep_columns_are_read_at_their_own_round():
    """Linear method, gapped rounds [1, 3]: each column equals Result 2 at that round.

    At η = 0.5 the noisy groups are wrong at t = 1 and right at t = 3, so a
    column read from another round changes value.
    """
    k, n, c, d, lam = 4, 100, 0.4, 0.1, 1e-3
    table = sweep(n_classes=k, n_per_class=n, c=c, d=d, lam=lam, eta=[0.3, 0.5],
                  rounds=[1, 3], method="linear", pll_topk=None)
    assert table["round"].tolist() == [1, 3, 1, 3]
    for (_, row) in table.iterrows():
        expected = _closed_form_accuracies(k, n, c, d, lam, noise.symmetric(k, row.eta),
                                           int(row["round"]))
        got = (row.label_correction, row.label_correction_clean, row.label_correction_noisy)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    noisy = table[table.eta == 0.5].label_correction_noisy.tolist()
    assert noisy == [0.0, 1.0]


# ---------------------------------------------------------------------------
# phase: margins 1e-8 of their scale are decided (Newton runs to its tolerance)
# ---------------------------------------------------------------------------

def test_phase_decides_fresh_margins_far_above_rounding():
    """Pair noise at η = 1/2 − 1e-8: a fresh instance's margin is ~1e-8 of its scale.

    That is 1e8 units of rounding, so float64 must decide it; the sign comes
    from the independent mpmath solve (40 digits). A solve stopped at a looser
    tolerance leaves an error bound of the margin's size: NaN instead.
    """
    k, n, c, d, lam, eta, rounds = 3, 50, 0.4, 0.1, 1e-2, 0.5 - 1e-8, 3
    transition = noise.pair(k, eta)
    model = BlockModel(k, n, c, d)
    ref = solve_mp(model.class_gram(), n * transition, model.n_samples * lam, 1 - c, rounds, 40)
    fresh = np.array(ref.fresh)             # (rounds, K) margins of logits of size O(1)
    assert np.all(fresh > 0) and np.all(fresh < 1e-7)              # right, but barely
    pd = phase_diagram(eta=[eta, 0.3], rounds=[1, 2, 3], lam=lam, c=c, d=d, n_classes=k,
                       n_per_class=n, noise="pair", pll_topk=None)
    np.testing.assert_array_equal(pd.values["fresh"][0], np.mean(fresh > 0, axis=1))
