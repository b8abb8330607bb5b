"""Gram matrices Φ of fixed features and their spectra.

Symbols: K ``n_classes``, n ``n_per_class``, N = Kn ``n_samples``, Φ ``gram``
(N, N), F ``features`` (N, D), λ ``lam``, μ an eigenvalue of Φ, t the number of
fits. Block Grams order instances class by class (instance i has true class
``i // n``), see :func:`block_labels`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _checks


def block_labels(n_classes, n_per_class):
    """True labels ``(N,)`` of a block Gram: ``[0]*n + [1]*n + ... + [K-1]*n``."""
    return np.repeat(np.arange(n_classes), n_per_class)


def block_gram(n_classes, n_per_class, c, d):
    """Block Gram Φ (N, N): 1 on the diagonal, ``c`` within a class, ``d`` across.

    Examples
    --------
    >>> block_gram(2, 2, 0.5, 0.1)
    array([[1. , 0.5, 0.1, 0.1],
           [0.5, 1. , 0.1, 0.1],
           [0.1, 0.1, 1. , 0.5],
           [0.1, 0.1, 0.5, 1. ]])
    """
    return hierarchical_gram(n_classes, n_per_class, c, d, d, superclass_size=1)


def hierarchical_gram(n_classes, n_per_class, c, d, e, superclass_size):
    """Hierarchical Gram: ``c`` within a class, ``d`` within a superclass, ``e`` across.

    Superclasses are consecutive runs of ``superclass_size`` classes, which must
    divide ``n_classes``. The diagonal is 1.
    """
    _checks.integer_at_least("n_classes", n_classes, 2)
    _checks.integer_at_least("n_per_class", n_per_class, 1)
    _checks.integer_at_least("superclass_size", superclass_size, 1)
    n_samples = n_classes * n_per_class
    _checks.memory("n_per_class" if n_per_class >= n_classes else "n_classes",
                   n_per_class if n_per_class >= n_classes else n_classes,
                   3 * 8 * n_samples ** 2, f"the N × N Gram (N = K·n = {n_samples})")
    if n_classes % superclass_size:
        raise ValueError(f"superclass_size={superclass_size} must divide "
                         f"n_classes={n_classes}")
    true = block_labels(n_classes, n_per_class)
    sup = true // superclass_size
    gram = np.where(sup[:, None] == sup[None, :], float(d), float(e))
    gram[true[:, None] == true[None, :]] = c
    np.fill_diagonal(gram, 1.0)
    return gram


def gram_from_features(features):
    """Φ = F Fᵀ (N, N) from feature rows F (N, D)."""
    features = _checks.finite_array("features", features, ndim=2)
    return features @ features.T


def round_filter(mu, lam, n_samples, n_classes, t=1):
    """The t-round label-averaging filter g(μ)^t with g(μ) = μ / (μ + KNλ)."""
    mu = np.asarray(mu, dtype=float)
    return (mu / (mu + n_classes * n_samples * lam)) ** t


@dataclass(frozen=True)
class Spectrum:
    """Eigenpairs of a PSD Gram matrix, eigenvalues ascending.

    Attributes
    ----------
    evals : ndarray (N,)
        Eigenvalues μ, tiny negative round-off clipped to 0.
    evecs : ndarray (N, N)
        Orthonormal eigenvectors as columns.
    """

    evals: np.ndarray
    evecs: np.ndarray

    def __repr__(self):
        from ._repr import short_repr

        return short_repr(self, evals=self.evals, evecs=self.evecs,
                          min=self.evals.min(), max=self.evals.max())

    def filter(self, lam, n_classes, t=1):
        """g(μ)^t for every eigenvalue (see :func:`round_filter`)."""
        return round_filter(self.evals, lam, self.evals.size, n_classes, t)

    def apply(self, x, weights):
        """Right-multiply rows of ``x`` (K, N) by V diag(weights) Vᵀ."""
        return ((x @ self.evecs) * weights) @ self.evecs.T


def spectrum(gram):
    """Eigendecomposition of a PSD Gram matrix Φ (N, N) as a :class:`Spectrum`.

    Notes
    -----
    Φ is PSD, so negative eigenvalues are round-off: they are clipped to 0, which
    keeps g(μ) in [0, 1) and the filtered operator PSD.
    """
    gram = _checks.gram_matrix("gram", gram)
    evals, evecs = np.linalg.eigh(gram)
    return Spectrum(np.clip(evals, 0.0, None), evecs)
