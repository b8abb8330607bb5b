"""Multi-round distillation, the linearised closed form and the PLL targets."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import block_grams, feature_matrices, label_vectors, psd_grams, seeds

from labelavg import distill, linear_path, pll_targets, spectrum
from labelavg._testing import assert_close
from labelavg.distill import correct_predictions, judge_predictions
from labelavg.fixed_point import fixed_point_residual
from labelavg.gram import block_gram, block_labels


def onehot(labels, k):
    return np.eye(k)[labels].T


def iterate_linearised(gram, targets, lam, rounds):
    """Independent: solve the linearised fixed point (P − u)(I + Φ/(KNλ)) = (Q − u)Φ/(KNλ)."""
    k, n = targets.shape
    scale = k * n * lam
    out, q = [], targets
    for _ in range(rounds):
        rhs = (q - 1 / k) @ gram / scale
        p = 1 / k + np.linalg.solve((np.eye(n) + gram / scale).T, rhs.T).T
        out.append(p)
        q = p
    return np.stack(out)


@given(psd_grams(), st.floats(-4, 0).map(lambda e: 10 ** e), seeds)
def test_closed_form_equals_iterated_linearised_fixed_point(gram, lam, seed):
    targets = onehot(np.random.default_rng(seed).integers(0, 3, gram.shape[0]), 3)
    assert_close(linear_path(gram, targets, lam, 4), iterate_linearised(gram, targets, lam, 4),
                 1e-8, "closed form vs iterated")


@given(psd_grams(), st.integers(1, 6), seeds)
def test_filter_power_t_equals_t_single_rounds(gram, t, seed):
    spec = spectrum(gram)
    q = np.random.default_rng(seed).dirichlet(np.ones(3), gram.shape[0]).T
    once = 1 / 3 + spec.apply(q - 1 / 3, spec.filter(1e-2, 3, t))
    stepwise = q
    for _ in range(t):
        stepwise = linear_path(None, stepwise, 1e-2, 1, spectrum=spec)[0]
    assert_close(once, stepwise, 1e-10, "g(μ)^t vs t rounds")
    assert_close(linear_path(gram, q, 1e-2, t)[-1], once, 1e-10)


@given(feature_matrices(), seeds)
def test_linear_path_from_features_uses_thin_svd(features, seed):
    q = onehot(np.random.default_rng(seed).integers(0, 3, features.shape[0]), 3)
    assert_close(linear_path(None, q, 1e-2, 3, features=features),
                 linear_path(features @ features.T, q, 1e-2, 3), 1e-9)


@given(block_grams(), st.data())
def test_each_exact_round_is_a_fixed_point_on_the_previous_outputs(gram_true, data):
    gram, true = gram_true
    k = int(true.max()) + 1
    if k < 3:
        return
    given_labels = data.draw(label_vectors(true, k))
    path = distill(gram, given_labels, 1e-3, 3, true_labels=true, n_classes=k)
    targets = [onehot(given_labels, k)] + list(path.probs[:-1])
    for q, p, fit in zip(targets, path.probs, path.fits):
        assert fit.converged
        assert fixed_point_residual(gram, q, p, 1e-3) <= 1e-9
    assert fixed_point_residual(gram, path.pll_targets, path.pll_probs, 1e-3) <= 1e-9


def test_features_and_gram_give_the_same_path():
    rng = np.random.default_rng(3)
    features = rng.standard_normal((30, 8)) + np.repeat(rng.standard_normal((3, 8)), 10, axis=0)
    labels = rng.integers(0, 3, 30)
    a = distill(features @ features.T, labels, 1e-3, 3)
    b = distill(None, labels, 1e-3, 3, features=features)
    assert [f.form for f in b.fits] == ["primal"] * 4
    assert_close(b.probs, a.probs, 1e-8)
    assert_close(b.pll_probs, a.pll_probs, 1e-8)


def test_linear_method_matches_linear_path_and_pll_is_one_linear_fit():
    gram = block_gram(3, 5, 0.5, 0.1)
    labels = np.array([0, 0, 0, 1, 2, 1, 1, 1, 1, 0, 2, 2, 2, 2, 1])
    path = distill(gram, labels, 1e-2, 4, method="linear")
    assert path.fits == ()
    assert_close(path.probs, linear_path(gram, onehot(labels, 3), 1e-2, 4))
    assert_close(path.pll_probs, linear_path(gram, path.pll_targets, 1e-2, 1)[0])


def test_accuracy_counts_clean_and_noisy_instances():
    gram = block_gram(3, 4, 0.5, 0.1)
    true = block_labels(3, 4)
    given_labels = true.copy()
    given_labels[[0, 5]] = [1, 2]
    path = distill(gram, given_labels, 3e-2, 3, true_labels=true)
    for probs, acc in zip(path.probs, path.accuracy):
        right = probs.argmax(axis=0) == true
        noisy = true != given_labels
        assert acc.all == pytest.approx(right.mean())
        assert acc.noisy == pytest.approx(right[noisy].mean())
        assert acc.clean == pytest.approx(right[~noisy].mean())


def test_no_noise_gives_nan_noisy_accuracy():
    true = block_labels(2, 3)
    path = distill(block_gram(2, 3, 0.5, 0.1), true, 1e-2, 2, pll_topk=1, true_labels=true)
    assert np.isnan(path.accuracy[0].noisy) and path.accuracy[0].clean == 1.0


def test_rounds_warm_start_from_previous_coefficients():
    gram = block_gram(4, 20, 0.4, 0.1)
    labels = np.random.default_rng(0).integers(0, 4, 80)
    path = distill(gram, labels, 1e-4, 6)
    assert all(f.converged for f in path.fits)
    assert max(f.n_iter for f in path.fits[2:6]) < path.fits[0].n_iter


# ---------------------------------------------------------------- PLL targets

COLUMN = np.array([[0.4], [0.2], [0.2], [0.2]])


@pytest.mark.parametrize("ties, expected", [
    ("split", [0.5, 1 / 6, 1 / 6, 1 / 6]),
    ("all", [0.25, 0.25, 0.25, 0.25]),
    ("index", [0.5, 0.5, 0.0, 0.0]),
])
def test_pll_tie_rules_at_the_kth_place(ties, expected):
    assert_close(pll_targets(COLUMN, 2, ties).ravel(), expected, 1e-15)


@pytest.mark.parametrize("ties", ["split", "all", "index"])
def test_pll_without_ties_is_uniform_over_top_k(ties):
    probs = np.array([[0.1, 0.6], [0.5, 0.1], [0.3, 0.2], [0.1, 0.1]])
    expected = np.array([[0, 0.5], [0.5, 0], [0.5, 0.5], [0, 0]])
    assert_close(pll_targets(probs, 2, ties), expected, 1e-15)


def test_pll_tie_at_the_top_with_k_two_keeps_both():
    probs = np.array([[0.4], [0.4], [0.2]])
    for ties in ("split", "all", "index"):
        assert_close(pll_targets(probs, 2, ties).ravel(), [0.5, 0.5, 0.0], 1e-15)


def test_pll_ties_within_tolerance_count_as_ties():
    tol = 1e-9                                   # a solver's error bound on the scores
    probs = np.array([[0.5], [0.25 + tol / 4], [0.25 - tol / 4]])
    assert_close(pll_targets(probs, 2, tie_tol=tol).ravel(), [0.5, 0.25, 0.25], 1e-15)
    # without a stated error only rounding ties: the scores are then ranked
    assert_close(pll_targets(probs, 2).ravel(), [0.5, 0.5, 0.0], 1e-15)


def test_pll_ties_are_decided_on_the_scale_of_the_scores():
    # deviations from uniform far below any absolute tolerance still rank
    dev = np.array([[3e-17], [1e-17], [-4e-17]])
    assert_close(pll_targets(dev, 2).ravel(), [0.5, 0.5, 0.0], 1e-15)


def test_judge_predictions_separates_right_wrong_and_undecided():
    scores = np.array([[2e-17, 1e-17, 0.5], [1e-17, 2e-17, 0.5 + 1e-13]])
    right, undecided = judge_predictions(scores, np.array([0, 0, 0]))
    assert right.tolist() == [True, False, False]
    assert undecided.tolist() == [False, False, False]
    right, undecided = judge_predictions(scores, np.array([0, 0, 0]), error=1e-12)
    assert undecided.tolist() == [True, True, True] and not right.any()


@given(st.integers(3, 6), st.integers(1, 5), seeds, st.sampled_from(["split", "all", "index"]))
@example(3, 2, 0, "split")
def test_pll_targets_are_probability_columns_with_the_right_support(k, n, seed, ties):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), n).T
    probs[:, 0] = probs[::-1, 0] if n > 1 else probs[:, 0]
    probs[1:3, -1] = probs[1:3, -1].mean()  # force a tie somewhere
    for topk in range(1, k):
        q = pll_targets(probs, topk, ties)
        assert_close(q.sum(axis=0), np.ones(n), 1e-12)
        support = (q > 0).sum(axis=0)
        assert np.all(support >= topk) and (ties != "index" or np.all(support == topk))
        # every class in the support is at least as likely as every class outside it
        for j in range(n):
            inside, outside = probs[q[:, j] > 0, j], probs[q[:, j] == 0, j]
            assert outside.size == 0 or inside.min() >= outside.max() - 1e-15


def test_correct_predictions_counts_a_top_tie_as_wrong():
    probs = np.array([[0.5, 0.6], [0.5, 0.4]])
    assert correct_predictions(probs, np.array([0, 0])).tolist() == [False, True]


# ---------------------------------------------------------------- bad input

GRAM = block_gram(2, 3, 0.5, 0.1)
LABELS = block_labels(2, 3)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(labels=np.array([0, 1, 2, 0, 1, 1]), n_classes=2), ValueError, "labels must lie in 0..1"),
    (dict(labels=np.array([0, 1, 1])), ValueError, "labels must have length 6"),
    (dict(labels=np.array([0.0, 1, 1, 0, 1, 1])), TypeError, "labels must hold integers"),
    (dict(labels=np.array([-1, 1, 1, 0, 1, 1])), ValueError, "labels must lie"),
    (dict(lam=0.0), ValueError, "lam"),
    (dict(rounds=0), ValueError, "rounds must be >= 1"),
    (dict(rounds=2.5), TypeError, "rounds must be an integer"),
    (dict(method="quadratic"), ValueError, "method must be one of"),
    (dict(ties="random"), ValueError, "ties must be one of"),
    (dict(pll_topk=2), ValueError, r"pll_topk must be .* in 1\.\.K-1 = 1\.\.1 for K = 2, got 2"),
    (dict(pll_topk="top2"), ValueError, "pll_topk must be .auto."),
    (dict(pll_topk=0), ValueError, "pll_topk"),
    (dict(true_labels=np.array([0, 1])), ValueError, "true_labels must have length 6"),
    (dict(gram=np.full((6, 6), np.inf)), ValueError, "gram contains NaN or inf"),
    (dict(gram=-GRAM), ValueError, "positive semi-definite"),
    (dict(gram=None), ValueError, "gram may be None only"),
    (dict(features=np.full((6, 2), np.nan)), ValueError, "features contains NaN"),
])
def test_bad_input_names_the_argument(kwargs, error, match):
    args = dict(gram=GRAM, labels=LABELS, lam=1e-2, rounds=2, pll_topk=1)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        distill(args.pop("gram"), args.pop("labels"), args.pop("lam"), args.pop("rounds"), **args)


@pytest.mark.parametrize("probs, match", [
    (np.array([[0.5, np.nan], [0.5, 0.5]]), "NaN or inf"),
    (np.array([[1.0, 0.0]]), "K >= 2"),
    (np.array([0.5, 0.5]), "2-dimensional"),
])
def test_pll_targets_bad_input(probs, match):
    with pytest.raises(ValueError, match=match):
        pll_targets(probs, 1)


def test_pll_targets_rank_scores_outside_unit_interval():
    """Linearised outputs can be negative: the targets only depend on the ranking."""
    scores = np.array([[-0.2, 0.7], [0.9, -0.1], [0.3, 0.4]])
    assert_close(pll_targets(scores, 2), [[0, 0.5], [0.5, 0], [0.5, 0.5]], 1e-15)


def test_linear_method_on_generic_features_with_negative_outputs():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(15, 8))
    labels = np.repeat(np.arange(3), 5)
    labels[[0, 6]] = [2, 0]
    path = distill(None, labels, 1e-2, 3, method="linear", features=features)
    assert path.probs.min() < 0          # the linearisation leaves the simplex here
    assert_close(path.pll_targets.sum(axis=0), np.ones(15), 1e-12)


def test_pll_targets_bad_k():
    with pytest.raises(ValueError, match="k must be an integer in 1..2"):
        pll_targets(np.full((3, 2), 1 / 3), 3)


# ---------------------------------------------------------------------------
# two classes with default arguments; no PLL student; n_classes


@pytest.mark.parametrize("method", ["exact", "linear"])
def test_two_classes_with_defaults_use_top1_pll(method):
    """K = 2, defaults: the PLL student trains on the teacher's top-1 prediction."""
    true = block_labels(2, 15)
    given = true.copy()
    given[:3] = 1
    path = distill(block_gram(2, 15, 0.5, 0.1), given, 1e-3, 3, method=method, true_labels=true)
    assert path.probs.shape == (3, 2, 30)
    assert_close(path.pll_targets, pll_targets(path.probs[0], 1), 0.0, "top-1 targets")
    assert set(np.unique(path.pll_targets)) <= {0.0, 1.0}
    assert path.pll_accuracy is not None


@pytest.mark.parametrize("method", ["exact", "linear"])
def test_pll_topk_none_skips_the_student(method):
    labels = block_labels(3, 4)
    full = distill(block_gram(3, 4, 0.5, 0.1), labels, 3e-2, 2, method=method, true_labels=labels)
    path = distill(block_gram(3, 4, 0.5, 0.1), labels, 3e-2, 2, method=method, pll_topk=None,
                   true_labels=labels)
    assert path.pll_targets is None and path.pll_probs is None and path.pll_accuracy is None
    assert len(path.fits) == (2 if method == "exact" else 0)
    assert_close(path.probs, full.probs, 0.0, "rounds without the PLL student")
    assert "pll_accuracy" not in repr(path) and "pll_accuracy" in repr(full)


@pytest.mark.parametrize("labels, extra, match", [
    ([0, 1, 2, 3, 5, 1, 2, 3], dict(true_labels=[0, 1, 2, 3, 0, 1, 2, 3]),
     "labels hold class 5 but true_labels stop at 3; pass n_classes"),
    ([0, 1, 2, 3, 5, 1, 2, 3], {}, "labels skip class 4 .*pass n_classes"),
    ([0, 1, 2, 3, 5, 1, 2, 3], dict(n_classes=4), r"labels must lie in 0\.\.3"),
])
def test_labels_beyond_n_classes_are_refused(labels, extra, match):
    """A label 5 at K = 4 must not silently make K = 6."""
    with pytest.raises(ValueError, match=match):
        distill(np.eye(8), np.array(labels), 1e-2, 1, **{k: np.array(v) if k == "true_labels"
                                                        else v for k, v in extra.items()})


def test_n_classes_allows_an_empty_class():
    path = distill(np.eye(6), np.array([0, 1, 1, 0, 1, 0]), 1e-2, 1, n_classes=3)
    assert path.probs.shape == (1, 3, 6)
