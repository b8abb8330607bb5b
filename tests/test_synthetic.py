"""Tests for labelavg.synthetic: Gaussian mixtures with block-structured cosines."""

import doctest

import numpy as np
import pytest

from labelavg import synthetic
from labelavg._testing import EXACT_RTOL, assert_close
from labelavg.gram import block_gram, block_labels, hierarchical_gram
from labelavg.synthetic import BlockMeans, block_means, gaussian_mixture


def _errors(dim, seeds, **kw):
    """Mean |measured - requested| of (c, d[, e]) over seeds."""
    errs = []
    for seed in seeds:
        data = gaussian_mixture(rng=seed, dim=dim, **kw)
        req, mes = data.requested, data.measured
        pairs = [(mes.c, req.c), (mes.d, req.d)] + ([(mes.e, req.e)] if req.e is not None else [])
        errs.append([abs(a - b) for a, b in pairs])
    return np.mean(errs, axis=0)


def test_shapes_labels_and_unit_norm():
    data = gaussian_mixture(3, 5, 16, 0.5, 0.1, rng=0)
    assert data.x_train.shape == (15, 16) and data.x_test.shape == (15, 16)
    assert data.y_train.tolist() == block_labels(3, 5).tolist()
    assert data.y_test.tolist() == block_labels(3, 5).tolist()
    assert np.allclose(np.linalg.norm(data.x_train, axis=1), 1, rtol=0, atol=1e-12)
    assert np.allclose(np.linalg.norm(data.x_test, axis=1), 1, rtol=0, atol=1e-12)
    assert data.requested == BlockMeans(0.5, 0.1, None)
    assert data.measured.e is None
    other = gaussian_mixture(3, 5, 16, 0.5, 0.1, n_test=2, rng=0)
    assert other.x_test.shape == (6, 16) and other.y_test.tolist() == [0, 0, 1, 1, 2, 2]
    empty = gaussian_mixture(3, 5, 16, 0.5, 0.1, n_test=0, rng=0)
    assert empty.x_test.shape == (0, 16) and empty.y_test.shape == (0,)


@pytest.mark.parametrize("kw, target", [
    (dict(c=0.6, d=0.2), block_gram(4, 1, 0.6, 0.2)),
    (dict(c=0.6, d=0.2, superclass_size=2, e=-0.1), hierarchical_gram(4, 1, 0.6, 0.2, -0.1, 2)),
])
def test_class_means_have_the_requested_gram(kw, target):
    data = gaussian_mixture(4, 3, 32, rng=1, **kw)
    expected = target.copy()
    np.fill_diagonal(expected, kw["c"])  # ||μ_k||² = c
    assert_close(data.means @ data.means.T, expected, rtol=1e-12)


def test_same_seed_same_data():
    a = gaussian_mixture(3, 4, 8, 0.5, 0.2, rng=5)
    b = gaussian_mixture(3, 4, 8, 0.5, 0.2, rng=np.random.default_rng(5))
    c = gaussian_mixture(3, 4, 8, 0.5, 0.2, rng=6)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.x_test, b.x_test)
    assert not np.allclose(a.x_train, c.x_train)


def test_measured_means_converge_at_rate_one_over_sqrt_dim():
    kw = dict(n_classes=3, n_per_class=20, c=0.45, d=0.15, n_test=0)
    low, high = _errors(64, range(6), **kw), _errors(4096, range(6), **kw)
    # Expected ratio sqrt(64 / 4096) = 1/8; demand < 1/2.
    assert np.all(high < 0.5 * low), (low, high)
    assert np.all(high < 0.01), high


def test_hierarchical_measured_means_converge():
    kw = dict(n_classes=4, n_per_class=15, c=0.5, d=0.25, superclass_size=2, e=0.05,
              n_test=0)
    low, high = _errors(64, range(6), **kw), _errors(4096, range(6), **kw)
    assert len(high) == 3
    assert np.all(high < 0.5 * low), (low, high)
    assert np.all(high < 0.01), high


def test_negative_cosines_are_realisable_up_to_the_psd_limit():
    # Flat: M is PSD iff c + (K - 1) d >= 0.
    data = gaussian_mixture(3, 10, 2048, 0.6, -0.25, rng=0)
    assert abs(data.measured.d + 0.25) < 0.02
    with pytest.raises(ValueError, match="not realisable"):
        gaussian_mixture(3, 10, 64, 0.6, -0.35, rng=0)
    # Hierarchical K=4, m=2: last eigenvalue c - d + m (d - e) + K e = 0.4 + 1.2 - 2 < 0.
    with pytest.raises(ValueError, match="not realisable"):
        gaussian_mixture(4, 3, 64, 0.5, 0.1, superclass_size=2, e=-0.5, rng=0)


@pytest.mark.parametrize("args, kw, error, name", [
    ((3, 4, 16, 0.2, 0.2), {}, ValueError, "c must be"),
    ((3, 4, 16, 0.2, 0.3), {}, ValueError, "c must be"),
    ((3, 4, 16, 1.0, 0.3), {}, ValueError, "c must"),
    ((3, 4, 16, -0.1, -0.2), {}, ValueError, "c must"),
    ((3, 4, 16, 0.5, "0.1"), {}, TypeError, "d must"),
    ((3, 4, 16, 0.5, -1.0), {}, ValueError, "d must"),
    ((1, 4, 16, 0.5, 0.1), {}, ValueError, "n_classes"),
    ((3, 1, 16, 0.5, 0.1), {}, ValueError, "n_per_class"),
    ((3, 4, 2, 0.5, 0.1), {}, ValueError, "dim"),
    ((3, 4, 16, 0.5, 0.1), dict(n_test=-1), ValueError, "n_test"),
    ((3, 4, 16, 0.5, 0.1), dict(e=0.0), ValueError, "superclass_size and e"),
    ((4, 4, 16, 0.5, 0.1), dict(superclass_size=2), ValueError, "superclass_size and e"),
    ((4, 4, 16, 0.5, 0.1), dict(superclass_size=3, e=0.0), ValueError, "superclass_size"),
    ((4, 4, 16, 0.5, 0.1), dict(superclass_size=4, e=0.0), ValueError, "superclass_size"),
    ((4, 4, 16, 0.5, 0.1), dict(superclass_size=2, e=0.2), ValueError, "e must be <= d"),
    ((3, 4, 16, 0.5, 0.1), dict(rng=1.5), TypeError, "rng"),
])
def test_invalid_arguments_are_named(args, kw, error, name):
    kw = {"rng": 0, **kw}
    with pytest.raises(error, match=name):
        gaussian_mixture(*args, **kw)


def test_block_means_exact_on_block_grams():
    m = block_means(block_gram(3, 4, 0.5, 0.1), block_labels(3, 4))
    assert abs(m.c - 0.5) < 1e-12 and abs(m.d - 0.1) < 1e-12 and m.e is None
    h = block_means(hierarchical_gram(6, 3, 0.7, 0.3, 0.1, 3), block_labels(6, 3),
                    superclass_size=3)
    assert_close([h.c, h.d, h.e], [0.7, 0.3, 0.1], rtol=EXACT_RTOL)


def test_block_means_normalises_and_ignores_order():
    gram = hierarchical_gram(4, 3, 0.6, 0.3, 0.1, 2)
    labels = block_labels(4, 3)
    scale = np.linspace(0.5, 3.0, labels.size)
    perm = np.random.default_rng(0).permutation(labels.size)
    scaled = (gram * np.outer(scale, scale))[np.ix_(perm, perm)]
    m = block_means(scaled, labels[perm], superclass_size=2)
    assert_close([m.c, m.d, m.e], [0.6, 0.3, 0.1], rtol=EXACT_RTOL)


def test_block_means_empty_block_is_nan():
    m = block_means(np.eye(3), [0, 1, 2])
    assert np.isnan(m.c) and m.d == 0.0


@pytest.mark.parametrize("gram, labels, kw, error, name", [
    (np.eye(3), [0, 1], {}, ValueError, "labels"),
    (np.eye(3), [0, 1, -1], {}, ValueError, "labels"),
    (np.eye(3), [0.0, 1.0, 1.0], {}, TypeError, "labels"),
    (np.diag([1.0, 0.0, 1.0]), [0, 1, 1], {}, ValueError, "gram"),
    (-np.eye(2), [0, 1], {}, ValueError, "gram"),
    (np.eye(3), [0, 1, 2], dict(superclass_size=2), ValueError, "superclass_size"),
])
def test_block_means_invalid(gram, labels, kw, error, name):
    with pytest.raises(error, match=name):
        block_means(gram, labels, **kw)


def test_doctests():
    assert doctest.testmod(synthetic).failed == 0
