"""Pin behaviours that held-out mutmut mutants (seed 1 sample, issue 20) changed without a
test failing."""

import math

import numpy as np
import pytest

from labelavg import SelfDistillation
from labelavg.datasets import load_features
from labelavg.pll import _polish, loss_and_grad
from labelavg.synthetic import block_means


def test_partial_ll_candidates_are_counted_per_instance():
    """partial_ll: m = k Q with each column's own k. At zero logits (p = 1/3), two
    candidates give −log(2/3) = log 1.5 and three candidates −log 1 = 0."""
    targets = np.array([[0.5, 1 / 3], [0.5, 1 / 3], [0.0, 1 / 3]])
    value, grad = loss_and_grad(np.zeros((3, 2)), targets, "partial_ll")
    np.testing.assert_allclose(value, [math.log(1.5), 0.0], atol=1e-15)
    # P − R with R = m p / (m·p): (1/3 − 1/2, 1/3 − 1/2, 1/3), then P − P = 0
    np.testing.assert_allclose(grad, [[-1 / 6, 0], [-1 / 6, 0], [1 / 3, 0]], atol=1e-15)


def test_polish_refuses_a_step_that_does_not_shrink_the_residual():
    """_polish accepts Newton steps only while they shrink the residual: a step that
    leaves it equal is refused, the start is returned and polishing stops (one step)."""
    coef = np.array([[1.0, 2.0]])
    eye = np.eye(2)
    out, residual, n_iter = _polish(lambda v: (0.5 * v @ v, v), lambda v, u: u, coef, eye,
                                    eye, 0.5, 0, lambda w: 0.5, 0.0)
    np.testing.assert_array_equal(out, [[1.0, 2.0]])
    assert residual == 0.5 and n_iter == 1


def test_feature_file_keeps_a_json_looking_string_as_stored(tmp_path):
    """Extra .npz keys go to meta as stored: only ``versions`` is parsed from JSON."""
    path = tmp_path / "f.npz"
    np.savez(path, x_train=np.eye(2), y_train=np.array([0, 1]), source=np.array("[1, 2]"),
             versions=np.array('{"numpy": "2"}'))
    meta = load_features(path).meta
    assert meta["source"] == "[1, 2]"
    assert meta["versions"] == {"numpy": "2"}


def test_feature_set_repr_without_a_test_split(tmp_path):
    """A .npy feature file has no test split, and the repr says so."""
    path = tmp_path / "x.npy"
    np.save(path, np.ones((3, 2)))
    fs = load_features(path, labels=np.array([0, 1, 1]))
    assert fs.x_test is None
    assert repr(fs) == "FeatureSet(N_train=3, no test split, d=2, K=2, dtype=float64)"


def test_non_convex_pll_student_keeps_its_weights():
    """gce PLL student: pll_coef_ is its (K, D) W, and pll_probs_ = softmax(W Fᵀ)."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 6)
    X = np.eye(3)[y] + 0.3 * rng.normal(size=(18, 3))
    model = SelfDistillation(1e-2, 1, pll_loss="gce").fit(X, y)
    W = np.asarray(model.pll_coef_)
    assert W.shape == (3, 3)
    z = W @ X.T
    p = np.exp(z - z.max(axis=0))
    np.testing.assert_allclose(np.asarray(model.pll_probs_), p / p.sum(axis=0), atol=1e-12)


def test_too_few_instances_message_names_an_object_label():
    """y of dtype object (e.g. a pandas column of strings): the class with one instance is
    named in the message as the label it is."""
    X = np.arange(10.0).reshape(5, 2)
    y = np.array(["a", "a", "b", "b", "c"], dtype=object)
    with pytest.raises(ValueError, match="class 'c' has 1"):
        SelfDistillation(1e-2, 1).fit(X, y)


def test_block_means_label_length_message():
    with pytest.raises(ValueError, match=r"^labels must have length 3, got 2"):
        block_means(np.eye(3), [0, 1])


def test_linear_pll_student_learns_the_teachers_top2():
    """method="linear", 3 rounds: the PLL targets are the top-2 of the *teacher's* outputs
    (round 1), not of a later round's, and the PLL outputs are Result 1's linear map of
    them, P = u + (Q − u) Φ (Φ + KNλ I)⁻¹ with Φ = F Fᵀ, u = 1/K (solved here directly)."""
    from labelavg.distill import pll_targets

    F = np.random.default_rng(0).normal(size=(9, 4))
    y = np.array([0, 1, 2] * 3)
    lam = 0.05
    est = SelfDistillation(lam, 3, pll_topk=2, method="linear").fit(F, y)
    q = pll_targets(np.asarray(est.probs_[0]), 2, "split")
    np.testing.assert_allclose(est.pll_targets_, q, atol=1e-12)
    gram = F @ F.T
    expected = 1 / 3 + np.linalg.solve(gram + 3 * 9 * lam * np.eye(9), gram @ (q - 1 / 3).T).T
    np.testing.assert_allclose(est.pll_probs_, expected, atol=1e-10)
    assert not np.allclose(pll_targets(np.asarray(est.probs_[1]), 2, "split"), q)
