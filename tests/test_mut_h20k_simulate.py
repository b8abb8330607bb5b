"""Pins of simulate's argument rules and solver form (issue 20, helper h20k).

Expected values: the documented rules (rounds >= 1, D >= K, form="auto" is the dual
when N <= D), hand counts of assign_labels_exact (largest-remainder n·T).
"""

import numpy as np
import pytest

from labelavg.simulate import simulate

TINY = dict(n_classes=2, n_per_class=5, dim=20, c=0.5, d=0.1, eta=0.2, lam=1e-2,
            rounds=1, seeds=(0,), labels="exact")


def test_one_round_is_the_teacher_alone():
    """rounds = 1 is legal (t = 1, the teacher): arrays have one round; the exact
    labels of n·T = 5·(0.8, 0.2) = (4, 1) per class give counts [[4, 1], [1, 4]]
    (hand count), clean fraction 8/10; plus the PLL student's residual."""
    res = simulate(**TINY)
    assert res.rounds == 1
    assert res.accuracy.shape == (1, 1, 3) and res.predicted.shape == (1, 1, 3)
    assert res.test_accuracy.shape == (1, 1) and res.residual.shape == (1, 2)
    assert res.counts[0].tolist() == [[4.0, 1.0], [1.0, 4.0]]


def test_auto_form_is_dual_iff_n_at_most_d():
    """form="auto" takes the dual (Gram) form when N <= D and the primal otherwise
    (documented): the run is then bit-identical to the named form, residuals included."""
    small_n = {f: simulate(**TINY, form=f) for f in ("auto", "dual")}     # N = 10 <= D = 20
    np.testing.assert_array_equal(small_n["auto"].residual, small_n["dual"].residual)
    np.testing.assert_array_equal(small_n["auto"].accuracy, small_n["dual"].accuracy)
    wide = {**TINY, "dim": 6}                                             # N = 10 > D = 6
    big_n = {f: simulate(**wide, form=f) for f in ("auto", "primal")}
    np.testing.assert_array_equal(big_n["auto"].residual, big_n["primal"].residual)


def test_primal_form_is_primal_even_when_n_at_most_d():
    """form="primal" is honoured when N <= D: it differs from the dual run in its final
    residuals (another form, other round-off) but not in any accuracy."""
    dual, primal = (simulate(**TINY, form=f) for f in ("dual", "primal"))
    assert not np.array_equal(dual.residual, primal.residual)
    np.testing.assert_array_equal(dual.accuracy, primal.accuracy)


def test_dim_below_k_is_refused_with_the_k_bound():
    """D must be >= K: dim = 1 at K = 3 is refused, the message giving the bound K = 3."""
    with pytest.raises(ValueError, match=r"^dim must be >= 3, got 1$"):
        simulate(**{**TINY, "n_classes": 3, "dim": 1})
