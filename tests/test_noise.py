"""Tests for labelavg.noise: transition matrices (T[c, j] = P(given j | true c)) and samplers."""

import doctest

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from labelavg import noise
from labelavg._testing import EXACT_RTOL, assert_close, sampling_atol
from labelavg.gram import block_labels
from labelavg.noise import (asymmetric, assign_labels_exact, exact_counts,
                            is_transition_matrix, pair, sample_labels, superclass,
                            symmetric)

MODELS = {"symmetric": symmetric, "asymmetric": asymmetric, "pair": pair}


def _expected(model, k, eta):
    """The documented entries, written out one by one."""
    t = np.zeros((k, k))
    for c in range(k):
        for j in range(k):
            if j == c:
                t[c, j] = 1 - eta
            elif model == "symmetric":
                t[c, j] = eta / (k - 1)
            elif model == "asymmetric":
                t[c, j] = eta / k + (eta / k if j == (c + 1) % k else 0.0)
            elif model == "pair":
                t[c, j] = eta if j == (c + 1) % k else 0.0
    return t


# ------------------------------------------------------------------ models


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("k", [2, 3, 7])
@pytest.mark.parametrize("eta", [0.0, 0.3, 0.5, 1.0])
def test_models_match_documented_entries(model, k, eta):
    t = MODELS[model](k, eta)
    assert t.shape == (k, k)
    assert is_transition_matrix(t)
    assert np.allclose(t.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert_close(t, _expected(model, k, eta), what=f"{model}({k}, {eta})")


def test_asymmetric_with_two_classes_is_a_flip_of_eta():
    assert_close(asymmetric(2, 0.3), [[0.7, 0.3], [0.3, 0.7]])


def test_superclass_entries_groups_and_ids_agree():
    groups = [[0, 3, 4], [1], [2, 5]]
    ids = [0, 1, 2, 0, 0, 2]
    t = superclass(groups, 0.4)
    assert_close(t, superclass(ids, 0.4))
    assert_close(t, superclass(np.array(ids), 0.4))
    assert_close(t, superclass([9, -1, 5, 9, 9, 5], 0.4))  # any integer ids
    assert is_transition_matrix(t)
    assert_close(t[0], [0.6, 0, 0, 0.2, 0.2, 0])
    assert_close(t[2], [0, 0, 0.6, 0, 0, 0.4])
    # A singleton cluster keeps its label whatever eta is.
    assert_close(t[1], [0, 1, 0, 0, 0, 0])
    assert_close(superclass([[0], [1]], 0.9), np.eye(2))


def test_superclass_of_one_cluster_is_symmetric():
    assert_close(superclass([list(range(5))], 0.35), symmetric(5, 0.35))


def test_is_transition_matrix_rejects_each_defect():
    assert is_transition_matrix([[1.0, 0.0], [0.5, 0.5]])
    assert is_transition_matrix([[1.0, 1e-10], [0.5, 0.5]])
    assert not is_transition_matrix([[1.0, 1e-10], [0.5, 0.5]], atol=1e-12)
    assert not is_transition_matrix([[1.0]])  # K = 1
    assert not is_transition_matrix([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])  # not square
    assert not is_transition_matrix([0.5, 0.5])
    assert not is_transition_matrix([[1.5, -0.5], [0.5, 0.5]])
    assert not is_transition_matrix([[np.nan, 1.0], [0.5, 0.5]])
    assert not is_transition_matrix([[0.9, 0.2], [0.1, 0.8]])  # column-stochastic
    assert not is_transition_matrix("ab")


# ------------------------------------------------------------ invalid input


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("eta", [-0.1, 1.0001, float("nan")])
def test_eta_out_of_range(model, eta):
    with pytest.raises(ValueError, match="eta"):
        MODELS[model](3, eta)
    with pytest.raises(ValueError, match="eta"):
        superclass([[0, 1], [2]], eta)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_bad_n_classes_and_eta_types(model):
    with pytest.raises(ValueError, match="n_classes"):
        MODELS[model](1, 0.1)
    with pytest.raises(TypeError, match="n_classes"):
        MODELS[model](2.0, 0.1)
    with pytest.raises(TypeError, match="eta"):
        MODELS[model](3, "0.1")
    with pytest.raises(TypeError, match="eta"):
        MODELS[model](3, True)


@pytest.mark.parametrize("clusters, error", [
    ([[0, 1], [1, 2]], ValueError),  # 1 twice
    ([[0, 2]], ValueError),          # 1 missing
    ([[0, 1], []], ValueError),
    ([[0]], ValueError),             # K = 1
    ([[0.5, 1]], TypeError),
    (3, TypeError),
    ("01", TypeError),
    ([5], ValueError),               # K = 1 as cluster ids
])
def test_superclass_bad_clusters(clusters, error):
    with pytest.raises(error, match="clusters"):
        superclass(clusters, 0.2)


@pytest.mark.parametrize("function", [sample_labels, assign_labels_exact])
def test_samplers_validate_arguments(function):
    t = symmetric(3, 0.2)
    with pytest.raises(ValueError, match="true"):
        function([0, 3], t, 0)
    with pytest.raises(ValueError, match="true"):
        function([0, -1], t, 0)
    with pytest.raises(TypeError, match="true"):
        function([0.0, 1.0], t, 0)
    with pytest.raises(ValueError, match="transition"):
        function([0, 1], t.T * [[1], [1], [0.5]], 0)
    with pytest.raises(ValueError, match="transition"):
        function([0, 1], np.ones((2, 3)) / 3, 0)
    with pytest.raises(TypeError, match="rng"):
        function([0, 1], t, 0.5)
    with pytest.raises(TypeError, match="rng"):
        function([0, 1], t, np.random.RandomState(0))
    with pytest.raises(ValueError, match="rng"):
        function([0, 1], t, -1)


# --------------------------------------------------------- sample_labels


def _empirical_transition(true, given, k):
    counts = np.zeros((k, k))
    np.add.at(counts, (true, given), 1)
    return counts / counts.sum(axis=1, keepdims=True)


def test_sample_labels_converges_to_transition():
    k, t = 4, asymmetric(4, 0.45)
    errors = {}
    for n in (400, 40_000):
        true = block_labels(k, n)
        errs = [np.max(np.abs(_empirical_transition(true, sample_labels(true, t, s), k) - t))
                for s in range(3)]
        assert max(errs) <= sampling_atol(n), (n, errs)
        errors[n] = np.mean(errs)
    # 100x more draws: the error should fall by about 10x; demand 3x.
    assert errors[40_000] < errors[400] / 3, errors


def test_sample_labels_never_draws_zero_probability_classes():
    k = 5
    true = block_labels(k, 2000)
    given = sample_labels(true, pair(k, 0.3), 1)
    assert np.all((given == true) | (given == (true + 1) % k))
    assert np.array_equal(sample_labels(true, np.eye(k), 2), true)
    assert np.array_equal(sample_labels(true, pair(k, 1.0), 3), (true + 1) % k)
    # Zeros at the end of a row (round-off in the cumulative sum must not reach them).
    t = np.array([[0.1, 0.2, 0.7, 0.0], [0.3, 0.3, 0.4, 0.0],
                  [1 / 3, 1 / 3, 1 / 3, 0.0], [0.0, 0.0, 0.0, 1.0]])
    given = sample_labels(np.repeat(np.arange(4), 5000), t, 4)
    assert np.all(given[:15000] != 3)


def test_sample_labels_is_reproducible_and_per_instance():
    true = np.random.default_rng(0).integers(0, 3, size=500)
    t = symmetric(3, 0.5)
    first = sample_labels(true, t, 7)
    assert first.dtype.kind == "i" and first.shape == true.shape
    assert np.array_equal(first, sample_labels(true, t, 7))
    assert np.array_equal(first, sample_labels(true, t, np.random.default_rng(7)))
    assert not np.array_equal(first, sample_labels(true, t, 8))
    # One uniform per instance, in instance order: a prefix gets the same labels.
    assert np.array_equal(first[:100], sample_labels(true[:100], t, 7))


def test_sample_labels_empty():
    assert sample_labels(np.zeros(0, int), symmetric(2, 0.1), 0).shape == (0,)


# --------------------------------------------------- assign_labels_exact


def _check_largest_remainder(counts, n_c, row):
    scaled = n_c * row
    assert counts.sum() == n_c
    assert np.all(counts >= np.floor(scaled - 1e-9)) and np.all(counts <= np.ceil(scaled + 1e-9))
    up = counts > np.floor(scaled + 1e-9)
    rem = scaled - np.floor(scaled + 1e-9)
    if up.any() and (~up).any():
        assert rem[up].min() >= rem[~up].max() - 1e-8


noise_models = st.sampled_from(["symmetric", "asymmetric", "pair", "superclass"])


@settings(max_examples=60, deadline=None)
@given(k=st.integers(2, 6), n=st.integers(0, 40), eta=st.floats(0, 1),
       model=noise_models, seed=st.integers(0, 2**16))
@example(k=2, n=3, eta=0.5, model="symmetric", seed=0)
@example(k=3, n=10, eta=0.3, model="asymmetric", seed=0)
@example(k=2, n=1, eta=0.0, model="pair", seed=0)
def test_assign_exact_counts_are_largest_remainder(k, n, eta, model, seed):
    t = superclass(np.arange(k) // 2, eta) if model == "superclass" else MODELS[model](k, eta)
    rng = np.random.default_rng(seed)
    true = rng.permutation(block_labels(k, n))  # any order
    given = assign_labels_exact(true, t, rng=None if seed % 2 else seed)
    assert given.shape == true.shape
    for c in range(k):
        counts = np.bincount(given[true == c], minlength=k)
        _check_largest_remainder(counts, n, t[c])
        assert np.array_equal(counts, exact_counts(n, t[c], c))
        assert np.all(counts[t[c] == 0] == 0)


def test_exact_counts_break_ties_cyclically_from_the_true_class():
    t = symmetric(3, 0.5)  # 10 * row = 5, 2.5, 2.5
    counts = np.array([exact_counts(10, t[c], c) for c in range(3)])
    assert np.array_equal(counts, [[5, 3, 2], [2, 5, 3], [3, 2, 5]])
    assert np.array_equal(counts.sum(axis=0), [10, 10, 10])  # balanced overall
    assert np.array_equal(exact_counts(3, np.array([0.5, 0.5]), 0), [2, 1])
    assert np.array_equal(exact_counts(3, np.array([0.5, 0.5]), 1), [1, 2])
    # Round-off in n * T (10 * 0.3 = 3.0000000000000004, 10 * 0.7 = 7.000000000000001)
    # must not create a phantom remainder.
    assert np.array_equal(exact_counts(10, np.array([0.7, 0.3]), 1), [7, 3])


def test_assign_exact_order_and_shuffle():
    true = block_labels(2, 8)
    t = np.array([[0.75, 0.25], [0.5, 0.5]])
    plain = assign_labels_exact(true, t)
    assert plain.tolist() == [0] * 6 + [1] * 2 + [1] * 4 + [0] * 4
    shuffled = assign_labels_exact(true, t, rng=3)
    assert np.array_equal(shuffled, assign_labels_exact(true, t, rng=3))
    assert np.array_equal(shuffled, assign_labels_exact(true, t, np.random.default_rng(3)))
    assert not np.array_equal(shuffled, plain)
    for c in range(2):
        assert np.array_equal(np.sort(shuffled[true == c]), np.sort(plain[true == c]))


def test_assign_exact_population_histogram():
    k, n = 5, 40
    t = asymmetric(k, 0.5)  # 40 * (0.5, 0.1, 0.2, 0.1, 0.1): all integers
    true = block_labels(k, n)
    given = assign_labels_exact(true, t)
    hist = np.array([np.bincount(given[true == c], minlength=k) for c in range(k)]) / n
    assert_close(hist, t, rtol=EXACT_RTOL)


def test_doctests():
    assert doctest.testmod(noise).failed == 0


def test_row_cdfs_reach_one_at_the_last_positive_entry():
    # 0.1 summed ten times is 0.9999999999999999: without pinning, u in that gap
    # would land on the zero-probability class 10.
    t = np.zeros((11, 11))
    t[:, :10] = 0.1
    cdf = noise._row_cdfs(t)
    assert np.all(cdf[:, 9:] == 1.0)
    assert np.all(np.diff(cdf, axis=1) >= 0)


def test_transition_matrix_by_name():
    np.testing.assert_array_equal(noise.transition_matrix("pair", 3, 0.2), pair(3, 0.2))
    np.testing.assert_array_equal(noise.transition_matrix("superclass", 4, 0.2, 2),
                                  superclass([[0, 1], [2, 3]], 0.2))
    with pytest.raises(ValueError, match="superclass_size"):
        noise.transition_matrix("superclass", 4, 0.2)
    with pytest.raises(ValueError, match="noise must be one of"):
        noise.transition_matrix("uniform", 4, 0.2)


def test_count_matrix_rows_are_exact_counts():
    t = symmetric(3, 0.5)
    counts = noise.count_matrix(7, t)
    assert counts.sum(axis=1).tolist() == [7, 7, 7]
    for c in range(3):
        assert counts[c].tolist() == exact_counts(7, t[c], c).tolist()


@pytest.mark.parametrize("model", ["symmetric", "asymmetric", "pair", "superclass"])
@pytest.mark.parametrize("eta", [0, 0.3, 0.5, 0.8, 1])
def test_exact_transition_is_the_float_one_in_fractions(model, eta):
    from fractions import Fraction

    size = 2 if model == "superclass" else None
    floats = noise.transition_matrix(model, 6, eta, superclass_size=size)
    exact = noise.transition_matrix(model, 6, eta, superclass_size=size, exact=True)
    assert exact.dtype == object and all(isinstance(x, Fraction) for x in exact.flat)
    assert all(sum(row) == 1 for row in exact)              # exactly, not within a tolerance
    # the float T is the exact one rounded (a few ulps of 1 at most)
    assert np.max(np.abs(exact.astype(float) - floats)) <= 4 * np.finfo(float).eps
    assert floats.dtype == float


def test_exact_eta_is_read_as_written():
    from fractions import Fraction

    assert noise.symmetric(3, 0.3, exact=True)[0].tolist() == [Fraction(7, 10),
                                                              Fraction(3, 20), Fraction(3, 20)]
    assert noise.superclass([[0, 1], [2]], Fraction(1, 3), exact=True)[2, 2] == 1
    assert noise.pair(2, 1, exact=True)[0].tolist() == [0, 1]
