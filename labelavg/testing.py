"""Hypothesis strategies and tolerance helpers for property tests of the theory.

Symbols: K ``n_classes``, n ``n_per_class``, N = Kn, λ ``lam``, η ``eta``,
c, d the block correlations (same class, across classes), Φ ``gram`` (N, N),
F ``features`` (N, D), T (K, K) a transition matrix with
T[c, j] = P(given label j | true class c) (rows = true class, rows sum to 1).

The strategies draw small problems for :func:`hypothesis.given`: PSD and block
Grams, feature matrices, block models, transition matrices of every noise
family of :mod:`labelavg.noise`, label vectors and soft targets. All randomness
comes from drawn seeds, so hypothesis replays and shrinks every failure. The
tolerance helpers (:func:`assert_close`, :func:`rel_error`, :func:`solver_rtol`,
:func:`sampling_atol`, ``EXACT_RTOL``, ``FLOAT32_RTOL``) are the project's own
policy: exact identities at 1e-10 relative (Frobenius), iterative solvers at
10 × their tolerance, sampling at a bound derived from the number of draws.

hypothesis is needed here only (``pip install hypothesis``, or the ``test``
extra); ``import labelavg`` does not import this module.

Examples
--------
Testing a conjecture of your own: "every linearised round moves the outputs
closer to uniform", ||Y⁽ᵗ⁺¹⁾ − u|| <= ||Y⁽ᵗ⁾ − u||, for any PSD Gram, any λ
and any labels (true here: G = Φ(Φ + KNλI)⁻¹ has eigenvalues in [0, 1)).
Comparisons allow rounding relative to the numbers' own scale:

>>> import numpy as np
>>> from hypothesis import given, strategies as st
>>> from labelavg import linear_path
>>> from labelavg.testing import EXACT_RTOL, label_vectors, lams, psd_grams
>>> @given(psd_grams(), lams, st.data())
... def test_rounds_move_towards_uniform(gram, lam, data):
...     true = np.arange(gram.shape[0]) % 3
...     labels = data.draw(label_vectors(true, 3))
...     path = linear_path(gram, np.eye(3)[labels].T, lam, 4)
...     dist = np.linalg.norm(path - 1 / 3, axis=(1, 2))
...     assert np.all(np.diff(dist) <= EXACT_RTOL * dist[0])
>>> test_rounds_move_towards_uniform()

Run it under pytest like any test; a false conjecture fails with the smallest
counterexample hypothesis finds.
"""

from __future__ import annotations

try:
    from hypothesis import strategies as st
except ImportError:   # pragma: no cover - exercised in a subprocess test
    raise ImportError("labelavg.testing needs hypothesis: pip install hypothesis "
                      "(or pip install 'labelavg[test]')") from None

import numpy as np

from . import noise
from ._testing import EXACT_RTOL, FLOAT32_RTOL, assert_close, rel_error, sampling_atol, solver_rtol
from .block import BlockModel
from .gram import block_gram, block_labels

__all__ = [
    "EXACT_RTOL", "FLOAT32_RTOL", "NOISE_KINDS", "assert_close", "block_grams",
    "block_models", "block_params", "block_problems", "block_settings", "feature_matrices",
    "label_vectors", "lams", "log_lams", "population_block_params", "prob_columns",
    "psd_grams", "random_transitions", "rel_error", "sampling_atol", "seeds", "solver_rtol",
    "transition_matrices",
]

#: Kinds drawn by :func:`transition_matrices`: the noise families of
#: :mod:`labelavg.noise` and independent random rows.
NOISE_KINDS = ("symmetric", "asymmetric", "pair", "superclass", "random")

seeds = st.integers(0, 2**32 - 1)
lams = st.floats(1e-6, 10.0).map(lambda x: float(np.float64(x)))
log_lams = st.floats(-7.0, 1.0).map(lambda e: 10.0 ** e)


@st.composite
def psd_grams(draw, n_samples=st.integers(4, 24), rank=None):
    """Random PSD Gram Φ = F Fᵀ / D with unit-scale diagonal; rank ≤ D (may be singular)."""
    n = draw(n_samples)
    dim = draw(rank if rank is not None else st.integers(1, 2 * n))
    rng = np.random.default_rng(draw(seeds))
    features = rng.standard_normal((n, dim)) + draw(st.floats(0.0, 2.0)) * rng.standard_normal(dim)
    return features @ features.T / dim


@st.composite
def feature_matrices(draw, n_samples=st.integers(4, 24), dim=st.integers(1, 12)):
    """Random feature rows F (N, D) with a shared mean direction (class-like structure)."""
    n, d = draw(n_samples), draw(dim)
    rng = np.random.default_rng(draw(seeds))
    return rng.standard_normal((n, d)) / np.sqrt(d) + 0.3 * rng.standard_normal(d)


@st.composite
def block_params(draw, n_classes=st.integers(2, 8), n_per_class=st.integers(1, 6)):
    """(K, n, c, d) with 1 > c > d >= 0: a valid block Gram model (small enough to materialise)."""
    k, n = draw(n_classes), draw(n_per_class)
    c = draw(st.floats(0.05, 0.95))
    d = draw(st.floats(0.0, c * 0.95))
    return k, n, c, d


def population_block_params(n_classes=st.integers(2, 8)):
    """(K, n, c, d) for the reduced solver: n up to 2000, integer or fractional."""
    sizes = st.one_of(st.integers(1, 2000), st.floats(1.0, 2000.0))
    return block_params(n_classes=n_classes, n_per_class=sizes)


def block_models(n_classes=st.integers(2, 8)):
    """:class:`labelavg.BlockModel` (K, n, c, d) for the reduced solver (n up to 2000)."""
    return population_block_params(n_classes).map(lambda p: BlockModel(*p))


@st.composite
def block_grams(draw, **kwargs):
    """(Φ, true_labels) of a block Gram model (keyword arguments of :func:`block_params`)."""
    k, n, c, d = draw(block_params(**kwargs))
    return block_gram(k, n, c, d), block_labels(k, n)


@st.composite
def label_vectors(draw, true_labels, n_classes, max_flip=1.0):
    """Noisy given labels: each label replaced with a uniformly drawn class w.p. a drawn rate."""
    rng = np.random.default_rng(draw(seeds))
    rate = draw(st.floats(0.0, max_flip))
    flip = rng.random(true_labels.size) < rate
    given = true_labels.copy()
    given[flip] = rng.integers(0, n_classes, int(flip.sum()))
    return given


@st.composite
def transition_matrices(draw, n_classes=st.integers(2, 6), kind=None):
    """Transition T (K, K), T[c, j] = P(given j | true c), of one kind of :data:`NOISE_KINDS`.

    ``kind=None`` draws the kind. η is drawn in [0, (K − 1)/K] for symmetric
    noise and in [0, 1/2] otherwise; ``"superclass"`` draws the clusters too;
    ``"random"`` draws rows independently (:func:`random_transitions`): T is
    then not doubly stochastic and the overall label histogram is not uniform.
    """
    k = draw(n_classes)
    kind = draw(st.sampled_from(NOISE_KINDS)) if kind is None else kind
    if kind == "random":
        return draw(random_transitions(k))
    eta = draw(st.floats(0.0, (k - 1) / k if kind == "symmetric" else 0.5))
    if kind == "superclass":
        return noise.superclass(draw(st.lists(st.integers(0, k - 1), min_size=k, max_size=k)),
                                eta)
    return getattr(noise, kind)(k, eta)


@st.composite
def random_transitions(draw, n_classes):
    """T (K, K) with independent Dirichlet rows, some exact zeros, T[c, c] > 0.

    Rows = true class, rows sum to 1; columns generally do not, so the overall
    label histogram m̄ (the column mean) is not uniform.
    """
    rng = np.random.default_rng(draw(seeds))
    k = n_classes
    t = rng.dirichlet(np.full(k, 0.7), size=k) + draw(st.floats(0.0, 3.0)) * np.eye(k)
    t[(rng.random((k, k)) < 0.25) & ~np.eye(k, dtype=bool)] = 0.0
    return t / t.sum(axis=1, keepdims=True)


@st.composite
def block_problems(draw, n_classes=st.integers(2, 8), kinds=NOISE_KINDS):
    """((K, n, c, d), T): a reduced-solver block model and a transition of one of ``kinds``."""
    params = draw(population_block_params(n_classes))
    kind = draw(st.sampled_from(kinds))
    return params, draw(transition_matrices(n_classes=st.just(params[0]), kind=kind))


@st.composite
def prob_columns(draw, n_classes, n_samples, zeros=True):
    """Soft targets (K, N): random probability columns, optionally with exact zeros."""
    rng = np.random.default_rng(draw(seeds))
    q = rng.dirichlet(np.full(n_classes, 0.5), size=n_samples).T
    if zeros:
        q[rng.random(q.shape) < 0.3] = 0.0
        q[0, q.sum(axis=0) == 0] = 1.0
        q /= q.sum(axis=0)
    return q


@st.composite
def block_settings(draw, n_classes=st.integers(3, 8), max_rounds=40):
    """(K, n, c, d, λ, noise, η, rounds): a block model under symmetric or pair noise.

    n in 20..2000, λ log-uniform in 1e-6..1e-1, η up to 99% of the noise
    model's plurality limit, 1..``max_rounds`` fits.
    """
    k = draw(n_classes)
    n = draw(st.integers(20, 2000))
    c = draw(st.floats(0.05, 0.95))
    d = draw(st.floats(0.0, c * 0.95))
    lam = 10.0 ** draw(st.floats(-6.0, -1.0))
    name = draw(st.sampled_from(["symmetric", "pair"]))
    limit = (k - 1) / k if name == "symmetric" else 0.5
    eta = draw(st.floats(0.0, 0.99)) * limit
    return k, n, c, d, lam, name, eta, draw(st.integers(1, max_rounds))
