"""Reusable hypothesis strategies for labelavg: Gram matrices, noise, labels.

All randomness comes from drawn seeds, so every failing example replays.
Import them in your own tests::

    from tests.strategies import psd_grams, block_params, label_vectors
"""

from __future__ import annotations

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

from labelavg import noise
from labelavg.gram import block_gram, block_labels

settings.register_profile("default", max_examples=25, deadline=None, derandomize=True)
settings.register_profile("ci", max_examples=100, deadline=None)
settings.load_profile("default")

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
def block_params(draw, n_classes=st.integers(2, 5), n_per_class=st.integers(1, 6)):
    """(K, n, c, d) with 1 > c > d >= 0: a valid block Gram model."""
    k, n = draw(n_classes), draw(n_per_class)
    c = draw(st.floats(0.05, 0.95))
    d = draw(st.floats(0.0, c * 0.95))
    return k, n, c, d


@st.composite
def block_grams(draw, **kwargs):
    """(Φ, true_labels) of a block Gram model."""
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
    """Transition T (K, K), T[c, j] = P(given j | true c), from a noise model of labelavg.noise."""
    k = draw(n_classes)
    kind = draw(st.sampled_from(["symmetric", "asymmetric", "pair"])) if kind is None else kind
    eta = draw(st.floats(0.0, (k - 1) / k if kind == "symmetric" else 0.5))
    return getattr(noise, kind)(k, eta)


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
