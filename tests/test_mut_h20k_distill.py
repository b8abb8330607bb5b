"""Pins of distill behaviour (issue 20, helper h20k).

Expected values: Result 1 of theory/THEORY.md (Y⁽ᵗ⁾ − J/K = (Y⁽⁰⁾ − J/K) Gᵗ,
G = Φ (Φ + KNλ I)⁻¹), recomputed here with direct linear solves (no eigh), and
the documented argument messages.
"""

import numpy as np
import pytest

from labelavg.distill import distill
from labelavg.gram import block_gram


def test_linear_method_without_pll_student_matches_result1():
    """method="linear", pll_topk=None: probs[t − 1] is Result 1's closed form after t
    fits (t = 1, 2, 3), computed here as repeated solves with Φ + KNλ I; the PLL
    fields are None (the student is skipped), also when true_labels are given."""
    k, n, lam, rounds = 2, 3, 0.05, 3
    gram = block_gram(k, n, 0.5, 0.1)
    given = np.array([0, 0, 1, 1, 1, 0])
    true = np.repeat(np.arange(k), n)
    y = np.eye(k)[given].T - 1 / k
    big_n = k * n
    expected = []
    for _ in range(rounds):
        # y G = y Φ (Φ + KNλ I)⁻¹; Φ and (Φ + KNλ I)⁻¹ commute and are symmetric
        y = np.linalg.solve(gram + k * big_n * lam * np.eye(big_n), gram @ y.T).T
        expected.append(y + 1 / k)
    for truth in (None, true):
        path = distill(gram, given, lam, rounds, method="linear", pll_topk=None,
                       true_labels=truth)
        assert path.pll_probs is None and path.pll_targets is None
        assert path.pll_accuracy is None
        assert path.method == "linear" and path.fits == ()
        np.testing.assert_allclose(path.probs, np.array(expected), rtol=1e-12, atol=1e-14)
    assert len(path.accuracy) == rounds


def test_unknown_tie_rule_is_refused_naming_ties():
    """ties must be "split", "all" or "index": the message names the argument,
    lists the sorted options and repeats the value."""
    gram = block_gram(2, 2, 0.5, 0.1)
    with pytest.raises(ValueError, match=r"^ties must be one of \['all', 'index', 'split'\], "
                                         r"got 'lowest'$"):
        distill(gram, [0, 0, 1, 1], 0.1, 1, ties="lowest")
