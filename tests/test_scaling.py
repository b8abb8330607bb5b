"""Tests of the reduced layouts of labelavg.block's solver and its memory refusals.

Symbols: K classes, n per class, c/d/e correlations, m superclass size, λ, G
the columns of a layout (groups, or orbit representatives), r = G/K.
The references are the dense Newton system on all K² groups and the full
layout of the same stacked solver (itself checked against the N × N solver
in test_block.py / test_sweep.py).
"""

import tracemalloc

import numpy as np
import pytest

from labelavg import noise
from labelavg.block import (BlockModel, _Batch, _direction, _expanded, _solve_batch,
                            _solver_bytes)
from labelavg.sweep import sweep


def _dense_direction(batch, probs, resid):
    """Δ of J Δ = −r from the dense (K·G) × (K·G) Jacobian, point by point."""
    out = np.zeros_like(resid)
    k, g = probs.shape[1], probs.shape[2]
    true = batch.true
    for p in range(batch.size):
        alpha, self_coef = 1 / batch.n_lam[p], batch.self_coef[p]
        jac = np.eye(k * g)
        for i in range(g):
            hess = np.diag(probs[p, :, i]) - np.outer(probs[p, :, i], probs[p, :, i])
            for j in range(g):
                coupling = batch.weights[p, j] * batch.class_gram[p, true[i], true[j]]
                coupling += self_coef if i == j else 0.0
                jac[i * k:(i + 1) * k, j * k:(j + 1) * k] += alpha * coupling * hess
        rhs = -resid[p].T.reshape(-1)
        out[p] = np.linalg.solve(jac, rhs).reshape(g, k).T
    return out * batch.present[:, None, :]


@pytest.mark.parametrize("model, transition", [
    (BlockModel(2, 1, 0.5, 0.1), noise.symmetric(2, 0.0)),
    (BlockModel(3, 4, 0.6, 0.2), noise.asymmetric(3, 0.4)),
    (BlockModel(4, 5, 0.5, 0.3, superclass_size=2, e=0.1), noise.symmetric(4, 0.3)),
    (BlockModel(6, 3, 0.7, 0.3, superclass_size=3, e=0.0), noise.pair(6, 0.2)),
])
def test_woodbury_direction_equals_the_dense_newton_system(model, transition):
    k = model.n_classes
    counts = model.n_per_class * transition
    batch = _Batch.stack([model, model], [counts, counts], [1e-2, 3e-4])
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, k, k * k))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    resid = rng.normal(size=probs.shape) * batch.present[:, None, :]
    got = _direction(batch, probs, resid)
    want = _dense_direction(batch, probs, resid)
    scale = np.abs(want).max()
    np.testing.assert_allclose(got / scale, want / scale, atol=1e-12)


def _layout(model, transition, orbit=True):
    counts = model.n_per_class * np.asarray(transition)
    return _Batch.stack([model], [counts], [1e-3]).reduced(orbit)


def test_layouts_follow_the_symmetry_of_the_noise():
    block = BlockModel(5, 10, 0.4, 0.1)
    assert _layout(block, noise.symmetric(5, 0.3)).orbit == "all"
    assert _layout(block, noise.symmetric(5, 0.3)).weights.shape == (1, 2)
    assert _layout(block, noise.symmetric(5, 0.0)).weights.shape == (1, 1)
    assert _layout(block, noise.asymmetric(5, 0.3)).orbit == "cyclic"
    assert _layout(block, noise.asymmetric(5, 0.3)).weights.shape == (1, 5)
    assert _layout(block, noise.pair(5, 0.3)).weights.shape == (1, 2)
    superclass = noise.transition_matrix("superclass", 6, 0.3, superclass_size=3)
    plain = _layout(BlockModel(6, 10, 0.4, 0.1), superclass)
    assert plain.orbit is None and plain.labels.shape == (6, 3)
    hier = _layout(BlockModel(6, 10, 0.4, 0.1, superclass_size=3, e=0.05),
                   noise.symmetric(6, 0.3))
    assert hier.orbit is None and hier.labels.shape == (6, 6)
    assert _layout(block, noise.symmetric(5, 0.3), orbit=False).orbit is None


CASES = [  # (model, transition, λ, rounds): the smallest case first
    (BlockModel(2, 1, 0.5, 0.1), noise.symmetric(2, 0.0), 1e-1, 1),
    (BlockModel(2, 3, 0.5, 0.1), noise.symmetric(2, 0.4), 1e-3, 3),
    (BlockModel(5, 7, 0.4, 0.1), noise.symmetric(5, 0.5), 1e-4, 6),
    (BlockModel(5, 7, 0.8, 0.0), noise.asymmetric(5, 0.45), 1e-3, 6),
    (BlockModel(4, 7, 0.4, 0.1), noise.pair(4, 0.3), 1e-5, 6),
    (BlockModel(6, 7, 0.4, 0.1), noise.transition_matrix("superclass", 6, 0.4,
                                                         superclass_size=2), 1e-3, 5),
    (BlockModel(6, 7, 0.5, 0.2, superclass_size=3, e=0.05), noise.symmetric(6, 0.3), 1e-3, 5),
]


@pytest.mark.parametrize("model, transition, lam, rounds", CASES)
def test_reduced_layouts_equal_the_full_layout(model, transition, lam, rounds):
    k = model.n_classes
    counts = model.n_per_class * transition
    full = _Batch.stack([model], [counts], [lam])
    want = _solve_batch(full, rounds, "exact", pll_topk=1)
    got = _expanded(_solve_batch(full.reduced(), rounds, "exact", pll_topk=1))
    keep = full.present[0]
    groups = np.stack([full.true, full.given], axis=1)[keep]
    np.testing.assert_array_equal(np.stack([got.batch.true, got.batch.given], axis=1)
                                  [got.batch.present[0]], groups)
    np.testing.assert_array_equal(got.verdicts[0][:, got.batch.present[0]],
                                  want.verdicts[0][:, keep])
    np.testing.assert_array_equal(got.undecided, want.undecided)
    np.testing.assert_array_equal(got.fresh_verdicts, want.fresh_verdicts)
    np.testing.assert_array_equal(got.path.n_iter, want.path.n_iter)
    np.testing.assert_allclose(got.accuracy, want.accuracy, rtol=1e-14)
    dev_got = got.path.deviation[0][..., got.batch.present[0]]
    dev_want = want.path.deviation[0][..., keep]
    scale = np.abs(dev_want).max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(dev_got / scale, dev_want / scale, atol=1e-12)
    np.testing.assert_allclose(got.fresh_logits, want.fresh_logits,
                               atol=1e-12 * np.abs(want.fresh_logits).max())
    np.testing.assert_array_equal(got.pll.verdicts[0][:, got.batch.present[0]],
                                  want.pll.verdicts[0][:, keep])
    assert got.path.converged.all() and np.all(got.path.residual <= 1e-10 * 2)
    assert np.all(np.isfinite(got.path.residual)) and k == got.batch.n_classes


def test_undecided_counts_every_group_of_an_orbit():
    """Uniform labels without the self term: every output is uniform, all K² groups tied."""
    k = 4
    model = BlockModel(k, 6, 0.4, 0.1)
    counts = 6 * noise.symmetric(k, (k - 1) / k)            # every row uniform
    full = _Batch.stack([model], [counts], [1e-3], self_term=False)
    want = _solve_batch(full, 2, "exact")
    got = _solve_batch(full.reduced(), 2, "exact")
    assert got.batch.orbit == "all"
    np.testing.assert_array_equal(got.undecided, want.undecided)
    assert want.undecided[0, 0] == k * k


def test_solver_bytes_bounds_the_measured_peak():
    model = BlockModel(30, 50, 0.4, 0.1)
    rng = np.random.default_rng(1)
    transition = rng.dirichlet(np.ones(30), size=30)            # no symmetry: G = K²
    batch = _Batch.stack([model], [50 * transition], [1e-3]).reduced()
    assert batch.orbit is None and batch.weights.shape == (1, 900)
    tracemalloc.start()
    _solve_batch(batch, 2, "exact")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak <= _solver_bytes(1, 30, 900, 2)
    assert _solver_bytes(2, 30, 900, 2) > _solver_bytes(1, 30, 900, 2)


def test_solve_refuses_a_model_beyond_the_memory_limit_before_work():
    k = 800
    rng = np.random.default_rng(2)
    transition = rng.dirichlet(np.ones(k), size=k)
    with pytest.raises(ValueError, match=r"n_classes=800 needs about .* GiB"):
        BlockModel(k, 10, 0.4, 0.1).solve(transition, lam=1e-3, rounds=1)


def test_sweep_refuses_beyond_the_memory_limit_before_work():
    with pytest.raises(ValueError, match=r"sweep: n_classes=2000 needs about .* GiB"):
        sweep(n_classes=2000, lam=1e-3, eta=0.3, counts="exact", rounds=1)
    with pytest.raises(ValueError, match=r"sweep: batch_size=100000 needs about .* GiB"):
        sweep(n_classes=300, noise="asymmetric", lam=list(np.logspace(-5, -1, 50)),
              eta=list(np.linspace(0, 0.5, 50)), batch_size=100000, rounds=2)


def test_orbit_layout_converges_like_the_full_one_at_large_one_over_n_lambda():
    """Nλ = 1e-4 without the self term: the orbit coupling must stay backward stable."""
    model = BlockModel(10, 10, 0.4, 0.1)
    full = _Batch.stack([model], [10 * noise.symmetric(10, 0.8)], [1e-6], self_term=False)
    want = _solve_batch(full, 2, "exact")
    got = _solve_batch(full.reduced(), 2, "exact")
    assert got.batch.orbit == "all" and got.path.converged.all()
    np.testing.assert_array_equal(got.path.n_iter, want.path.n_iter)
