"""The authors' SGD protocol (``labelavg.authors``): batched engine, gradient, invariance."""

import numpy as np
import pytest

from labelavg import authors
from labelavg._xp import cupy_available
from labelavg.datasets import FeatureSet
from labelavg.distill import pll_targets
from labelavg.pll import loss_and_grad


def _set(n_classes=3, n_train=60, n_test=40, dim=5, seed=0):
    """Gaussian class means, continuous features (argmax ties have probability 0)."""
    rng = np.random.default_rng(seed)
    means = 2.0 * rng.standard_normal((n_classes, dim))
    y, yt = rng.integers(0, n_classes, n_train), rng.integers(0, n_classes, n_test)
    x = means[y] + rng.standard_normal((n_train, dim))
    xt = means[yt] + rng.standard_normal((n_test, dim))
    return FeatureSet(x, y, xt, yt, tuple("abcdefgh"[:n_classes]))


def _noisy(data, n_cells, seed=1):
    rng = np.random.default_rng(seed)
    flip = rng.random((n_cells, data.y_train.size)) < 0.3
    other = rng.integers(0, data.n_classes, (n_cells, data.y_train.size))
    return np.where(flip, other, data.y_train[None])


ROWS = (np.arange(12, 60), np.arange(12))
SCHEDULE = authors.Schedule(lr=0.1, epochs=4, batch=16)


def _grid(data, given, seeds, wds, xp=None, rounds=2):
    return authors.run_grid(data, ROWS, given, SCHEDULE,
                            [np.random.default_rng(s) for s in seeds],
                            np.random.default_rng(99), wds=wds, rounds=rounds, xp=xp)


def test_gce_gradient_matches_pll_loss_and_grad_and_a_finite_difference():
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((4, 6, 3))                   # (P, N, K), classes last
    targets = authors._top2_targets(np, rng.standard_normal((4, 6, 3)))
    grad = authors._logit_grad(np, logits, targets, "gce", 0.7)
    for p in range(4):
        ref = loss_and_grad(logits[p].T, targets[p].T, "gce", 0.7)[1].T
        np.testing.assert_allclose(grad[p], ref, rtol=1e-12, atol=1e-15)
    step = 1e-6
    for k in range(3):
        bump = np.zeros(3)
        bump[k] = step
        up = loss_and_grad((logits[0] + bump).T, targets[0].T, "gce", 0.7)[0]
        down = loss_and_grad((logits[0] - bump).T, targets[0].T, "gce", 0.7)[0]
        np.testing.assert_allclose((up - down) / (2 * step), grad[0][:, k], rtol=1e-6,
                                   atol=1e-9)


def test_top2_targets_match_pll_targets_index():
    logits = np.random.default_rng(3).standard_normal((2, 7, 5))   # no ties
    mine = authors._top2_targets(np, logits)
    for p in range(2):
        np.testing.assert_array_equal(mine[p].T, pll_targets(logits[p].T, 2, "index"))


def test_one_full_batch_epoch_is_one_sgd_step():
    """Batch = N, one epoch: W₁ = W₀ − lr (∇ mean CE + wd W₀), per trajectory."""
    rng = np.random.default_rng(4)
    X, init = rng.standard_normal((8, 3)), rng.standard_normal((2, 4, 3))
    targets = authors._softmax(np, rng.standard_normal((8, 2, 4)))
    wd = np.array([0.0, 0.3])
    schedule = authors.Schedule(lr=0.2, epochs=1, batch=8)
    W = authors.train(X, targets, init, wd, schedule, np.random.default_rng(0))
    for p in range(2):
        z = init[p] @ X.T                                      # (K, N)
        probs = np.exp(z - z.max(0)) / np.exp(z - z.max(0)).sum(0)
        grad = (probs - targets[:, p].T) @ X / 8 + wd[p] * init[p]
        np.testing.assert_allclose(W[p], init[p] - 0.2 * grad, rtol=1e-12)


def test_a_cell_alone_equals_the_cell_in_a_larger_batch():
    data = _set()
    given = _noisy(data, 3)
    full = _grid(data, given, [10, 11, 12], (1e-2, 0.0))
    alone = _grid(data, given[1:2], [11], (0.0,))
    np.testing.assert_allclose(alone.test_accuracy[0, 0], full.test_accuracy[1, 1], atol=1e-12)
    np.testing.assert_allclose(alone.validation_accuracy[0, 0],
                               full.validation_accuracy[1, 1], atol=1e-12)
    np.testing.assert_array_equal(alone.epoch[0, 0], full.epoch[1, 1])
    # not trivially equal: cells and weight decays differ from one another
    assert not np.array_equal(full.test_accuracy[0], full.test_accuracy[1])


def test_grid_shapes_rules_and_teacher_shared_by_the_chains():
    data = _set()
    res = _grid(data, _noisy(data, 2), [0, 1], (1e-3,), rounds=3)
    assert res.methods == ("teacher", "t2", "t3", "pll")
    assert res.test_accuracy.shape == res.epoch.shape == (2, 1, 3, 4)
    assert np.all(res.epoch[:, :, 1] == SCHEDULE.epochs)          # "last"
    assert np.all((res.epoch >= 1) & (res.epoch <= SCHEDULE.epochs))
    # oracle's teacher has the best test accuracy of the teacher's one trajectory
    assert np.all(res.test_accuracy[:, :, :1, 0] >= res.test_accuracy[:, :, 1:, 0])
    assert np.all(res.validation_accuracy[:, :, 2:, 0] >= res.validation_accuracy[:, :, :2, 0])


def test_run_rounds_is_the_one_cell_grid():
    data = _set()
    given = _noisy(data, 1)
    rng = np.random.default_rng(5)          # one generator for inits and orders, as run_rounds
    grid = authors.run_grid(data, ROWS, given, SCHEDULE, [rng], rng, rounds=2)
    res = authors.run_rounds(data, ROWS, given[0], SCHEDULE, np.random.default_rng(5), rounds=2)
    np.testing.assert_array_equal(res.test_accuracy, grid.test_accuracy[0, 0])
    np.testing.assert_array_equal(res.epoch, grid.epoch[0, 0])


def _strict():
    import array_api_strict

    return array_api_strict


def _cupy():
    import array_api_compat.cupy

    return array_api_compat.cupy


@pytest.mark.parametrize("backend", [
    pytest.param(_strict, id="array_api_strict"),
    pytest.param(_cupy, id="cupy", marks=[
        pytest.mark.gpu,
        pytest.mark.skipif(not cupy_available(), reason="CuPy with a CUDA device needed")]),
])
def test_other_backends_give_the_numpy_result(backend):
    data = _set()
    given = _noisy(data, 2)
    ref = _grid(data, given, [0, 1], (1e-2, 0.0))
    res = _grid(data, given, [0, 1], (1e-2, 0.0), xp=backend())
    np.testing.assert_allclose(res.test_accuracy, ref.test_accuracy, atol=1e-12)
    np.testing.assert_array_equal(res.epoch, ref.epoch)


def test_smallest_case_with_defaults():
    """K = 2, one cell, one weight decay, one epoch, default schedule otherwise."""
    data = _set(n_classes=2)
    res = authors.run_grid(data, ROWS, _noisy(data, 1), authors.Schedule(epochs=1),
                           [np.random.default_rng(0)], np.random.default_rng(0))
    assert res.wds == (5e-5,) and res.dtype == "float64"
    assert res.methods == ("teacher", "t2", "t3", "t4", "t5", "pll")
    assert np.all(res.epoch == 1)
    assert np.all((res.test_accuracy >= 0) & (res.test_accuracy <= 1))
    # one epoch: the three rules keep the same checkpoint
    assert np.all(res.test_accuracy == res.test_accuracy[:, :, :1])


@pytest.mark.parametrize("kwargs, match", [
    (dict(wds=()), "wds must hold"),
    (dict(wds=(-1.0,)), "wds must be finite"),
    (dict(rounds=0), "rounds"),
    (dict(rho=0.5), "rho"),
])
def test_bad_arguments(kwargs, match):
    data = _set()
    with pytest.raises(ValueError, match=match):
        authors.run_grid(data, ROWS, _noisy(data, 1), SCHEDULE, [np.random.default_rng(0)],
                         np.random.default_rng(0), **kwargs)


def test_bad_shapes():
    data = _set()
    with pytest.raises(ValueError, match=r"given must be \(cells, 60\)"):
        authors.run_grid(data, ROWS, data.y_train, SCHEDULE, [np.random.default_rng(0)],
                         np.random.default_rng(0))
    with pytest.raises(ValueError, match="one generator per cell"):
        authors.run_grid(data, ROWS, _noisy(data, 2), SCHEDULE, [np.random.default_rng(0)],
                         np.random.default_rng(0))


def test_memory_is_checked_before_work(monkeypatch):
    data = _set()
    need = authors.memory_needed(3, 3, ROWS, 5, 40)
    assert need == 8 * 9 * (4 * 48 + 12 + 40 + 30)
    monkeypatch.setattr(authors, "memory_limit", lambda xp: need - 1)
    with pytest.raises(ValueError, match="GiB, more than the limit"):
        authors.run_grid(data, ROWS, _noisy(data, 1), SCHEDULE, [np.random.default_rng(0)],
                         np.random.default_rng(0))
