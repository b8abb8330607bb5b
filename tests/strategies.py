"""Reusable hypothesis strategies for labelavg: Gram matrices, noise, labels.

All randomness comes from drawn seeds, so every failing example replays.
Import them in your own tests::

    from tests.strategies import psd_grams, block_params, label_vectors
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import Phase, settings
from hypothesis import strategies as st

from labelavg import noise
from labelavg.gram import block_gram, block_labels

settings.register_profile("default", max_examples=25, deadline=None, derandomize=True)
settings.register_profile("ci", max_examples=100, deadline=None)
#: bench/mutation.py (mutmut): the default examples, but a failure ends the test at once (no shrinking).
settings.register_profile("mutation", parent=settings.get_profile("default"),
                          phases=[Phase.explicit, Phase.generate])
#: The ``ci`` profile when the CI environment variable is set (as CI services and
#: ``.ci/run`` do); ``--hypothesis-profile=NAME`` on the command line overrides it.
settings.load_profile("ci" if os.environ.get("CI", "").lower() not in ("", "0", "false")
                      else "default")

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
    """Transition T (K, K), T[c, j] = P(given j | true c), from a noise model of labelavg.noise.

    ``kind="random"`` draws rows independently (:func:`random_transitions`): T is
    then not doubly stochastic and the overall label histogram is not uniform.
    """
    k = draw(n_classes)
    kinds = ["symmetric", "asymmetric", "pair", "random"]
    kind = draw(st.sampled_from(kinds)) if kind is None else kind
    if kind == "random":
        return draw(random_transitions(k))
    eta = draw(st.floats(0.0, (k - 1) / k if kind == "symmetric" else 0.5))
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
def block_problems(draw, n_classes=st.integers(2, 8)):
    """((K, n, c, d), T): a reduced-solver block model and a transition of any kind."""
    params = draw(population_block_params(n_classes))
    return params, draw(transition_matrices(n_classes=st.just(params[0])))


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
