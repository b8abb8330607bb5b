"""Pins of labelavg.noise validators and samplers (issue 20, helper h20k).

Expected values: the noise-model table of theory/THEORY.md, exact Fractions counted
by hand, and the documented messages.
"""

from fractions import Fraction

import numpy as np
import pytest

from labelavg import noise


@pytest.mark.parametrize("make", [noise.symmetric, noise.asymmetric, noise.pair])
def test_noise_models_refuse_fewer_than_two_classes_naming_n_classes(make):
    """K must be an integer >= 2: the message names n_classes, the bound and the value."""
    with pytest.raises(ValueError, match=r"^n_classes must be >= 2, got 1$"):
        make(1, 0.1)
    with pytest.raises(TypeError, match=r"^n_classes must be an integer, got float$"):
        make(3.0, 0.1)


def test_asymmetric_and_pair_by_hand_at_k3():
    """theory/THEORY.md table, K = 3, η = 3/10, exact: asymmetric has 1 − η = 7/10 on the
    diagonal, η/K = 1/10 off it, plus η/K more (2/10) to (c + 1) mod K; pair has
    1 − η and η to (c + 1) mod K. The smallest K = 2 is accepted."""
    eta = Fraction(3, 10)
    asym = noise.asymmetric(3, eta, exact=True)
    tenth = Fraction(1, 10)
    assert asym.tolist() == [[7 * tenth, 2 * tenth, tenth],
                             [tenth, 7 * tenth, 2 * tenth],
                             [2 * tenth, tenth, 7 * tenth]]
    pair = noise.pair(3, eta, exact=True)
    assert pair.tolist() == [[7 * tenth, 3 * tenth, 0], [0, 7 * tenth, 3 * tenth],
                             [3 * tenth, 0, 7 * tenth]]
    assert noise.pair(2, 0.25).tolist() == [[0.75, 0.25], [0.25, 0.75]]


def test_transition_validation_shape_rule_and_message():
    """A square row-stochastic matrix is a transition matrix; a non-square one is not,
    and count_matrix's message says why (shape named)."""
    assert noise.is_transition_matrix([[0.9, 0.1], [0.2, 0.8]])
    assert not noise.is_transition_matrix([[0.5, 0.5]])
    assert not noise.is_transition_matrix([0.5, 0.5])
    with pytest.raises(ValueError, match=r"\(T\[c, j\] = P\(given j \| true c\), rows sum "
                                         r"to 1\): it must be a square \(K, K\) matrix, "
                                         r"got shape \(1, 2\)$"):
        noise.count_matrix(4, [[0.5, 0.5]])
    # n T rounded by largest remainder: 4 · (0.9, 0.1) = (3.6, 0.4) -> (4, 0) by hand
    assert noise.count_matrix(4, [[0.9, 0.1], [0.25, 0.75]]).tolist() == [[4, 0], [1, 3]]


def test_superclass_cluster_forms_agree():
    """clusters as groups [[0, 1], [2]] or as integer ids [0, 0, 1] give the same T
    (theory/THEORY.md: η/(s − 1) to each other class of the cluster, a lone class keeps its
    labels); a float id array is refused with the documented message."""
    by_groups = noise.superclass([[0, 1], [2]], 0.3)
    by_ids = noise.superclass(np.array([0, 0, 1]), 0.3)
    expected = [[0.7, 0.3, 0.0], [0.3, 0.7, 0.0], [0.0, 0.0, 1.0]]
    np.testing.assert_allclose(by_groups, expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(by_ids, expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(noise.superclass([0, 0, 1], 0.3), expected, rtol=0, atol=1e-15)
    with pytest.raises(TypeError, match="clusters must be a list of class-index groups or an "
                                        "integer array of cluster ids"):
        noise.superclass(np.array([0.0, 0.0, 1.0]), 0.3)
