"""Simulation vs theory: Gaussian-mixture features against the block model (labelavg.simulate).

Tolerance (stated and derived)
------------------------------
The training Gram of unit-norm Gaussian-mixture features is a block Gram plus
a perturbation E whose entries have size O(1/√D) (σ_E ≈ 0.015 for c = 0.4 at
D = 20000). Through the fixed point, E moves every instance's softmax outputs
away from its group's block-model outputs (same true class, same given label,
same measured c, d and group counts) by an amount that also shrinks as 1/√D:
measured max over N = 200 instances and K = 4 classes, 0.058 / 0.030 / 0.014
at D = 5000 / 20000 / 80000 (asymmetric η = 0.5), i.e. ≈ 4/√D, and at most
0.035 ≈ 4.9/√D over seeds 0–5 in the regime tested here. We state the bound

    max_i |P_sim[:, i] − P_block[:, g(i)]| ≤ PROB_TOL = 6/√D

(1.2–1.5× headroom). An instance's argmax can differ from its group's only if the
group's block margin p[true] − max_{k≠true} p[k] is ≤ 2·PROB_TOL (each of the
two outputs moves by at most PROB_TOL). So the label-correction accuracy of a
part (all / clean / noisy) at round t may differ from the block prediction by
at most the share of that part held by groups with |margin| ≤ 2·PROB_TOL at
round t — :func:`_derived_tolerance` — and by nothing on the other groups.

Parameters: symmetric noise η = 0.3 (K = 4, n = 50, c = 0.4, d = 0.1,
λ = 1e-3), where the teacher gets no noisy instance right and the first
student all of them (overall 0.70 → 1.00), and every group's block margin at
every round is ≥ 0.17 > 2·PROB_TOL = 0.085 (asserted). The derived tolerance is
then 0 at every round: the simulation must agree with the block model
*exactly*, instance for instance, on which labels are corrected and when. (A
scan of K = 4, n = 50, c ∈ [0.4, 0.6], λ ∈ [1e-4, 5e-3], η ∈ [0.3, 0.6],
symmetric / asymmetric found no regime with an intermediate noisy accuracy and
all margins above 0.085: there the tolerance would be the share of the
near-boundary groups, as :func:`_derived_tolerance` computes.)
"""

import math

import numpy as np
import pytest

from labelavg import noise
from labelavg.block import BlockModel
from labelavg.distill import distill
from labelavg.simulate import SimulationResult, simulate
from labelavg.synthetic import gaussian_mixture

K, N_PER_CLASS, DIM, C, D, ETA, LAM, ROUNDS = 4, 50, 20000, 0.4, 0.1, 0.3, 1e-3, 3
PROB_TOL = 6 / math.sqrt(DIM)
SMALL = dict(n_classes=3, n_per_class=8, dim=64, c=0.5, d=0.1, eta=0.3, lam=1e-2,
             rounds=2, seeds=(0,))


def _block_solution(measured, counts, lam=LAM, rounds=ROUNDS):
    model = BlockModel(K, N_PER_CLASS, float(measured[0]), max(float(measured[1]), 0.0))
    return model.solve(counts=counts, lam=lam, rounds=rounds)


def _group_margins(probs, true):
    """p[true] − max_{k≠true} p[k] per round and group (rounds, G)."""
    cols = np.arange(true.size)
    own = probs[:, true, cols]
    rivals = probs.copy()
    rivals[:, true, cols] = -np.inf
    return own - rivals.max(axis=1)


def _derived_tolerance(sol):
    """Per round and part (rounds, 3): share of groups whose margin is ≤ 2·PROB_TOL."""
    true, given = sol.groups[:, 0], sol.groups[:, 1]
    near = np.abs(_group_margins(sol.probs, true)) <= 2 * PROB_TOL
    parts = (np.ones_like(true, bool), true == given, true != given)
    tol = np.zeros((sol.rounds, 3))
    for j, mask in enumerate(parts):
        tol[:, j] = (near[:, mask] * sol.counts[mask]).sum(axis=1) / sol.counts[mask].sum()
    return tol


@pytest.fixture(scope="module")
def result():
    return simulate(n_classes=K, n_per_class=N_PER_CLASS, dim=DIM, c=C, d=D, eta=ETA,
                    lam=LAM, rounds=ROUNDS, noise="symmetric", labels="exact",
                    seeds=(0, 1))


@pytest.mark.parametrize("seed", [0, 1])
def test_instance_outputs_within_prob_tol_of_block_model(seed):
    data = gaussian_mixture(K, N_PER_CLASS, DIM, C, D, rng=seed)
    given = noise.assign_labels_exact(data.y_train, noise.symmetric(K, ETA))
    path = distill(data.x_train @ data.x_train.T, given, LAM, ROUNDS,
                   true_labels=data.y_train)
    counts = np.zeros((K, K))
    np.add.at(counts, (data.y_train, given), 1)
    sol = _block_solution((data.measured.c, data.measured.d), counts)
    # block instance order: class by class, then by given label (stable sort)
    order = np.lexsort((given, data.y_train))
    dev = np.abs(path.probs[:, :, order] - sol.expand(sol.probs)).max()
    assert dev <= PROB_TOL, f"max |P_sim − P_block| = {dev:.3g} > 6/√D = {PROB_TOL:.3g}"


def test_accuracy_matches_block_model_within_derived_tolerance(result):
    assert result.converged
    for s in range(len(result.seeds)):
        sol = _block_solution(result.measured[s], result.counts[s])
        tol = _derived_tolerance(sol)
        gap = np.abs(np.nan_to_num(result.gap()[s]))
        assert np.all(gap <= tol + 1e-12), (s, gap, tol)

def test_regime_is_meaningful_and_tolerance_is_zero(result):
    """Accuracy changes between rounds, and every group is clear of its boundary."""
    np.testing.assert_array_equal(result.predicted[:, :, 2], [[0, 1, 1]] * 2)
    for s in range(len(result.seeds)):
        sol = _block_solution(result.measured[s], result.counts[s])
        assert np.abs(_group_margins(sol.probs, sol.groups[:, 0])).min() > 2 * PROB_TOL
        assert not _derived_tolerance(sol).any()


def test_predicted_matches_separate_block_solve(result):
    sol = _block_solution(result.measured[1], result.counts[1])
    expected = np.array([[a.all, a.clean, a.noisy] for a in sol.accuracy])
    np.testing.assert_allclose(result.predicted[1], expected)
    np.testing.assert_allclose(result.predicted_test[1], sol.fresh_accuracy)


def test_measured_means_close_to_requested(result):
    # entries deviate by O(1/√D); their mean over ~n² pairs far less
    assert np.all(np.abs(result.measured - [C, D]) <= 10 / math.sqrt(DIM))


def test_result_shapes_and_stats(result):
    s, t = len(result.seeds), ROUNDS
    assert result.accuracy.shape == (s, t, 3) and result.test_accuracy.shape == (s, t)
    assert result.pll_accuracy.shape == (s, 3) and result.counts.shape == (s, K, K)
    assert result.residual.shape == (s, t + 1)
    np.testing.assert_allclose(result.counts.sum(axis=2), N_PER_CLASS)
    np.testing.assert_allclose(result.mean("accuracy"), result.accuracy.mean(axis=0))
    np.testing.assert_allclose(result.std("test_accuracy"),
                               result.test_accuracy.std(axis=0))
    assert result.rounds == t and isinstance(result, SimulationResult)


def test_std_ignores_nan_without_warning():
    res = simulate(**{**SMALL, "eta": 0.0, "seeds": (0, 1)})
    assert np.isnan(res.mean("accuracy")[:, 2]).all()
    assert np.isnan(res.std("accuracy")[:, 2]).all()
    assert np.isfinite(res.mean("accuracy")[:, :2]).all()


def test_same_seed_same_result():
    a, b = simulate(**SMALL), simulate(**SMALL)
    for name in ("accuracy", "test_accuracy", "pll_accuracy", "measured", "counts",
                 "predicted"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = simulate(**{**SMALL, "seeds": (1,)})
    assert not np.array_equal(a.counts, c.counts) or not np.array_equal(a.measured,
                                                                       c.measured)


def test_dual_and_primal_forms_agree():
    a = simulate(**SMALL, form="dual")
    b = simulate(**SMALL, form="primal")
    np.testing.assert_array_equal(a.accuracy, b.accuracy)
    np.testing.assert_array_equal(a.test_accuracy, b.test_accuracy)


def test_progress_called_per_seed():
    calls = []
    simulate(**{**SMALL, "seeds": (3, 4)}, progress=lambda *a: calls.append(a))
    assert [c[:2] for c in calls] == [(0, 3), (1, 4)]
    assert all(c[2] >= 0 for c in calls)


def test_hierarchical_and_superclass_noise():
    res = simulate(**{**SMALL, "n_classes": 4, "seeds": (0,)}, noise="superclass",
                   superclass_size=2, e=0.0, labels="exact")
    assert res.measured.shape == (1, 3)
    assert np.all(res.counts[0][[0, 0, 2, 2], [2, 3, 0, 1]] == 0)


@pytest.mark.parametrize("bad, exc, match", [
    (dict(eta=2.0), ValueError, "eta"),
    (dict(lam=-1.0), ValueError, "lam"),
    (dict(rounds=0), ValueError, "rounds"),
    (dict(noise="uniform"), ValueError, "noise"),
    (dict(labels="poisson"), ValueError, "labels"),
    (dict(seeds=()), ValueError, "seeds"),
    (dict(seeds=(-1,)), ValueError, "seed"),
    (dict(seeds=0), TypeError, "seeds"),
    (dict(dim=2), ValueError, "dim"),
    (dict(c=0.1, d=0.5), ValueError, "c must"),
    (dict(superclass_size=2), ValueError, "superclass_size and e"),
    (dict(progress="yes"), TypeError, "progress"),
    (dict(form="svd"), ValueError, "form"),
])
def test_bad_arguments_raise(bad, exc, match):
    with pytest.raises(exc, match=match):
        simulate(**{**SMALL, **bad})
