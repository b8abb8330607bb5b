"""Pinned numbers of the independent reference solvers (_reference, _mp) and the certificate.

Issue 20 (mutation testing): each test pins a value that a sampled mutmut mutant
changed unnoticed. Expected values come from closed forms solved with
mpmath.findroot on a one-group problem (K = 2), never from the code under test.

The one-group problem: K = 2, one group of n = 3 instances of class 0 labelled 0,
class Gram Φ(0, 0) = c = 1/2, self term s = 1 − c = 1/2, Nλ = 2 (α = 1/2). With
b = (β, −β) the logits are ±γβ, γ = α (n c + s) = 1, so p_0 = σ(2β) and the
fixed point p − q + b = 0 with q − 1/2 = (1/2, −1/2) reads β = 1 − σ(2β)
(theory/THEORY.md, Result 2: b = q − p at the fixed point).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

CLASS_GRAM = np.array([[0.5, 0.1], [0.1, 0.5]])
COUNTS = np.array([[3, 0], [0, 0]])                  # integer counts, one present group
N_LAM, SELF = 2.0, 0.5


def _sigmoid(x):
    return 1 / (1 + mpmath.exp(-x))


def _beta_star(dps=40):
    """Root of β = 1 − σ(2β): the one-group fixed point (round 1, one-hot targets)."""
    with mpmath.workdps(dps):
        return mpmath.findroot(lambda b: b - (1 - _sigmoid(2 * b)), 0.3)


def test_reference_one_group_round_one_matches_the_closed_form_with_integer_counts():
    """reference_deviations: integer counts are accepted, and round 1's deviation
    p_0 − 1/2 = 1/2 − β* (β* the root of β = 1 − σ(2β)) holds to 1e-30 at 50 digits."""
    from labelavg._reference import reference_deviations

    ref = reference_deviations(CLASS_GRAM, COUNTS, N_LAM, SELF, rounds=1, digits=50)
    assert list(ref.present) == [0] and ref.converged == [True]
    dev = ref.deviations[0]
    assert dev.shape == (2, 1)
    with mpmath.workdps(50):                          # compare at the working precision
        expected = mpmath.mpf("0.5") - _beta_star(50)
        assert abs(dev[0, 0] - expected) < mpmath.mpf("1e-30")
        assert abs(dev[1, 0] + expected) < mpmath.mpf("1e-30")


def test_reference_result_does_not_depend_on_newtons_start():
    """reference_deviations: `starts` only steers Newton. Started at the root of the sign-
    flipped equation β = σ(2β) − 1 (where p − q − b vanishes but p − q + b does not), the
    answer is still the fixed point 1/2 − β* to the solver's goal (digits = 20)."""
    from labelavg._reference import reference_deviations

    with mpmath.workdps(40):
        decoy = float(mpmath.findroot(lambda b: b - (_sigmoid(2 * b) - 1), -0.3))
    start = np.zeros((2, 4))
    start[:, 0] = [decoy, -decoy]
    ref = reference_deviations(CLASS_GRAM, COUNTS, N_LAM, SELF, rounds=1, digits=20,
                               starts=[start])
    assert ref.converged == [True]
    expected = float(mpmath.mpf("0.5") - _beta_star())
    assert float(ref.deviations[0][0, 0]) == pytest.approx(expected, abs=1e-10)


def test_reference_two_groups_of_one_class_match_the_closed_form():
    """reference_deviations, two groups (G = 2): class 0 with 3 instances labelled 0 and 1
    labelled 1. With b_g = (β_g, −β_g), z_g = α (c (3β_1 + β_2) + s β_g) and the fixed
    point reads β_1 = 1 − σ(2 z_1), β_2 = −σ(2 z_2); solved by mpmath.findroot, the
    deviations p_g0 − 1/2 = σ(2 z_g) − 1/2 agree to 1e-30 at 50 digits."""
    from labelavg._reference import reference_deviations

    counts = np.array([[3, 1], [0, 0]])
    ref = reference_deviations(CLASS_GRAM, counts, N_LAM, SELF, rounds=1, digits=50)
    assert list(ref.present) == [0, 1] and ref.converged == [True]
    with mpmath.workdps(50):
        alpha, c, s = mpmath.mpf(1) / 2, mpmath.mpf(1) / 2, mpmath.mpf(1) / 2

        def z(b1, b2, own):
            return alpha * (c * (3 * b1 + b2) + s * own)

        b1, b2 = mpmath.findroot(
            lambda b1, b2: (b1 - (1 - _sigmoid(2 * z(b1, b2, b1))),
                            b2 + _sigmoid(2 * z(b1, b2, b2))), (0.3, -0.3))
        dev = ref.deviations[0]
        for g, bg in enumerate((b1, b2)):
            expected = _sigmoid(2 * z(b1, b2, bg)) - mpmath.mpf(1) / 2
            assert abs(dev[0, g] - expected) < mpmath.mpf("1e-30")
            assert abs(dev[1, g] + expected) < mpmath.mpf("1e-30")


def _hand_pll_targets(k, rule):
    """Top-2 PLL targets (K, G) for symmetric noise, groups (a, j) row-major.

    A group whose label is its true class a has a on top and its K − 1 = 2 wrong labels
    tied exactly (symmetry); a group (a, j ≠ a) has a and j strictly on top (its own
    label gets the self term, the third label does not). The tie rules of
    labelavg.distill.pll_targets then give, for the tied groups: 'all' 1/3 on the three
    classes, 'split' 1/2 on a and 1/4 on each tied label, 'index' 1/2 on a and 1/2 on the
    lower-index tied label.
    """
    from fractions import Fraction as F

    out = np.zeros((k, k * k), dtype=object)
    for a in range(k):
        for j in range(k):
            col = [F(0)] * k
            if j != a:
                col[a] = col[j] = F(1, 2)
            else:
                wrong = [i for i in range(k) if i != a]
                if rule == "all":
                    col = [F(1, 3)] * k
                elif rule == "split":
                    col[a] = F(1, 2)
                    for i in wrong:
                        col[i] = F(1, 4)
                else:
                    col[a] = col[min(wrong)] = F(1, 2)
            out[:, a * k + j] = col
    return out


@pytest.mark.parametrize("ties", ["all", "split", "index"])
def test_certified_pll_targets_follow_the_tie_rule(ties):
    """certify(pll_topk=2): K = 3, symmetric noise η = 0.3, one round: the teacher's exact
    ties are proved and the certified top-2 targets follow the tie rule (hand table)."""
    from labelavg import noise
    from labelavg._certify import Problem, certify
    from labelavg.block import BlockModel

    model = BlockModel(3, 20, 0.5, 0.1)
    prob = Problem(model.class_gram(), 20 * noise.symmetric(3, 0.3), model.n_samples, 1.0, 0.5)
    cert = certify(prob, 1, "auto", pll_topk=2, ties=ties)
    assert cert.pll_targets is not None and cert.pll_targets.shape == (3, 9)
    expected = _hand_pll_targets(3, ties)
    np.testing.assert_array_equal(np.asarray(cert.pll_targets, dtype=float),
                                  expected.astype(float))


def test_float64_bound_rounding_terms_by_hand():
    """_bound._rounding: theory/THEORY.md "The float64 error bound", step 6, evaluated by hand on
    two points (K = 3, full layout, G = 9) with dense matrices: logit error
    u((2K + 5) α|M||b| + (K + 2)|z|) per group (max over classes), times
    min(½, 2.01 max p) while below 1e-3, plus 2(K + 3)u(max|y| + max|p − 1/K|) for ρ; the
    residual adds 3u(max|p − 1/K| + max|Q − 1/K| + max|B|), each max taken per group.
    The code takes u = eps = 2^-52 (twice the unit roundoff: conservative)."""
    from labelavg import noise
    from labelavg._bound import _rounding
    from labelavg.block import BlockModel, _Batch

    k = 3
    models = [BlockModel(k, 20, 0.5, 0.1), BlockModel(k, 10, 0.4, 0.2)]
    counts = [20 * noise.symmetric(k, 0.3), 10 * noise.asymmetric(k, 0.2)]
    lams = [0.1, 1.0]
    batch = _Batch.stack(models, counts, lams)
    rng = np.random.default_rng(7)
    g = k * k
    eps = rng.uniform(-0.6, 0.6, (2, k, g)) * np.array([1.0, 0.01])[:, None, None]
    eps -= eps.mean(axis=1, keepdims=True)
    dev = rng.uniform(-0.3, 0.3, (2, k, g))
    dev -= dev.mean(axis=1, keepdims=True)
    b = rng.uniform(-2.0, 2.0, (2, k, g)) * np.array([1.0, 30.0])[:, None, None]
    rho_p, rho_r = _rounding(batch, eps, dev, b)

    u = 2.0 ** -52
    for p, (model, cnt, lam) in enumerate(zip(models, counts, lams)):
        phi = model.class_gram()
        n = np.asarray(cnt, float).reshape(-1)               # n_g, g = K·a + j
        true = np.repeat(np.arange(k), k)
        s = 1.0 - model.c
        alpha = 1.0 / (model.n_samples * lam)
        m = phi[true][:, true] * n[None, :] + s * np.eye(g)  # (M x)_g = Σ_h M[g, h] x_h
        z = alpha * b[p] @ m.T                               # (K, G)
        zabs = (alpha * np.abs(b[p]) @ m.T).max(axis=0)
        zmax = np.abs(z).max(axis=0)
        ymax = np.abs(z - z.mean(axis=0)).max(axis=0)
        devmax = np.abs(dev[p]).max(axis=0)
        logit = u * ((2 * k + 5) * zabs + (k + 2) * zmax)
        gain = np.where(logit < 1e-3, np.minimum(0.5, 2.01 * (devmax + 1 / k)), 0.5)
        want_p = gain * logit + 2 * (k + 3) * u * (ymax + devmax)
        want_r = want_p + 3 * u * (devmax + np.abs(eps[p]).max(axis=0)
                                   + np.abs(b[p]).max(axis=0))
        np.testing.assert_allclose(rho_p[p], want_p, rtol=1e-12, atol=0)
        np.testing.assert_allclose(rho_r[p], want_r, rtol=1e-12, atol=0)
