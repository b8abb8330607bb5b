"""Pins of sweep behaviour (issue 20, helper h20k).

Expected values: theory/THEORY.md Result 3 reference values (K = 4, n = 100,
c = 0.4, d = 0.1, symmetric noise, λ = 1e-3, η = 0.5: t* = 2 and exact least
round 2), hand counts of the clean fraction, and the documented column rules.
"""

import math
import sys

import numpy as np
import pytest

from labelavg.sweep import sweep


def test_certified_sweep_without_pll_student():
    """precision= with pll_topk=None (no PLL student to certify): theory/THEORY.md's
    reference point gives t* = 2 and exact least round 2; at t = 1 the teacher
    copies the labels, so accuracy is the clean fraction 1 − η = 0.5 (clean 1.0,
    noisy 0.0), at t = 2 it is 1.0; nothing is undecided; the PLL columns are NaN."""
    pytest.importorskip("flint")
    table = sweep(eta=0.5, lam=1e-3, rounds=2, pll_topk=None, precision=20)
    assert table["round"].tolist() == [1, 2]
    assert table["label_correction"].tolist() == pytest.approx([0.5, 1.0], rel=1e-12)
    assert table["label_correction_clean"].tolist() == [1.0, 1.0]
    assert table["label_correction_noisy"].tolist() == [0.0, 1.0]
    assert table["undecided"].tolist() == [0, 0]
    assert table["t_star"].tolist() == [2.0, 2.0]
    assert table["least_round"].tolist() == [2.0, 2.0]
    assert np.isnan(table["pll_label_correction"]).all()
    assert np.isnan(table["pll_fresh"]).all()


def test_grid_memory_check_counts_four_dense_k_by_k_arrays(monkeypatch):
    """Before any work, every K of the grid is checked for the dense K × K float64
    arrays each point builds (T, its counts, ...), estimated as 4 of them:
    4 · 8 · K² bytes = 1152 B at K = 6, refused against a 1000 B limit with the
    documented message (GiB to 3 significant digits)."""
    monkeypatch.setattr(sys.modules["labelavg.block"], "_memory_limit", lambda: 1000)

    def no_work(task):
        raise AssertionError("solved before validating")

    monkeypatch.setattr(sys.modules["labelavg.sweep"], "_solve_task", no_work)
    need, limit = 4 * 8 * 6 * 6 / 2 ** 30, 1000 / 2 ** 30
    message = (f"sweep: n_classes=6 needs about {need:.3g} GiB of memory for the reduced "
               f"solver, more than the limit of {limit:.3g} GiB (half this machine's memory)")
    with pytest.raises(ValueError) as info:
        sweep(n_classes=6, eta=0.1, lam=1e-3, rounds=1)
    assert str(info.value) == message
