"""Gaussian-mixture features whose normalised Gram is close to a block Gram.

Symbols: K ``n_classes``, n ``n_per_class``, N = Kn ``n_samples``, D ``dim``,
Φ ``gram`` (N, N); c the cosine within a class, d across classes (within a
superclass when hierarchical), e across superclasses, m ``superclass_size``.
Instances are ordered class by class (instance i has true class ``i // n``), as
in :func:`labelavg.gram.block_labels`; superclasses are consecutive runs of m
classes, as in :func:`labelavg.gram.hierarchical_gram`.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from . import _checks
from .gram import block_labels
from .noise import _generator

#: Eigenvalues of the class-mean Gram M above ``-_PSD_RTOL * max|eig|`` are
#: round-off and clipped to 0; anything more negative means M is not realisable.
_PSD_RTOL = 1e-10


@dataclass(frozen=True)
class BlockMeans:
    """Block means of a (cosine) Gram matrix.

    Attributes
    ----------
    c : float
        Mean cosine between distinct instances of the same class.
    d : float
        Mean cosine between instances of different classes (of different
        classes in the same superclass when hierarchical).
    e : float or None
        Mean cosine across superclasses; None when not hierarchical.
    """

    c: float
    d: float
    e: float | None = None


@dataclass(frozen=True)
class MixtureData:
    """A Gaussian-mixture data set, see :func:`gaussian_mixture`.

    Attributes
    ----------
    x_train : ndarray (N, D)
        Unit-norm training feature rows, ordered class by class.
    y_train : ndarray of int (N,)
        True training labels ``i // n``.
    x_test : ndarray (K * n_test, D)
        Unit-norm test rows from the same mixture, ordered class by class.
    y_test : ndarray of int (K * n_test,)
        True test labels.
    means : ndarray (K, D)
        Class means μ_k before normalisation, ``means @ means.T`` = M.
    requested : BlockMeans
        The (c, d, e) asked for.
    measured : BlockMeans
        :func:`block_means` of the training Gram ``x_train @ x_train.T``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    means: np.ndarray
    requested: BlockMeans
    measured: BlockMeans


def _cosine(name, value):
    """A real number strictly between -1 and 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not -1.0 < value < 1.0:
        raise ValueError(f"{name} must lie in (-1, 1), got {value!r}")
    return float(value)


def _structure(n_classes, c, d, superclass_size, e):
    """Validate (c, d, e, m); return them with e = d, m = 1 when not hierarchical."""
    c, d = _cosine("c", c), _cosine("d", d)
    if not c > max(d, 0.0):
        raise ValueError(f"c must be > max(d, 0), got c={c!r}, d={d!r}")
    if (superclass_size is None) != (e is None):
        raise ValueError(f"superclass_size and e must be given together, got "
                         f"superclass_size={superclass_size!r}, e={e!r}")
    if superclass_size is None:
        return c, d, d, 1
    m = _checks.integer_at_least("superclass_size", superclass_size, 2)
    if m >= n_classes or n_classes % m:
        raise ValueError(f"superclass_size={m} must divide n_classes={n_classes} "
                         f"and be smaller than it")
    e = _cosine("e", e)
    if e > d:
        raise ValueError(f"e must be <= d (across superclasses no closer than "
                         f"within), got d={d!r}, e={e!r}")
    return c, d, e, m


def _mean_factor(n_classes, c, d, e, m):
    """L (K, K) with L Lᵀ = M, M_kk = c, d within a superclass, e across.

    Raises ``ValueError`` when M is not PSD: no vectors have these cosines.
    """
    sup = np.arange(n_classes) // m
    target = np.where(sup[:, None] == sup[None, :], d, e)
    np.fill_diagonal(target, c)
    evals, evecs = np.linalg.eigh(target)
    if evals[0] < -_PSD_RTOL * np.max(np.abs(evals)):
        raise ValueError(
            f"(c, d, e) = ({c:g}, {d:g}, {e:g}) is not realisable for "
            f"n_classes={n_classes}: the Gram of the class means has eigenvalue "
            f"{evals[0]:.3g} < 0 (negative cosines must satisfy e.g. "
            f"c + (K - 1) d >= 0 without superclasses)")
    # Round-off negatives are clipped so the square root is real.
    return evecs * np.sqrt(np.clip(evals, 0.0, None))


def _draw(means, labels, noise_std, rng):
    """Unit-norm rows μ_{y_i} + ξ_i with ξ_i ~ N(0, noise_std² I)."""
    rows = means[labels] + rng.normal(scale=noise_std, size=(labels.size, means.shape[1]))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def gaussian_mixture(n_classes, n_per_class, dim, c, d, *, superclass_size=None,
                     e=None, n_test=None, rng):
    """Unit-norm Gaussian-mixture features with block-structured cosines.

    Parameters
    ----------
    n_classes : int
        K >= 2.
    n_per_class : int
        n >= 2 training instances per class.
    dim : int
        Feature dimension D >= K.
    c : float
        Target cosine within a class, max(d, 0) < c < 1.
    d : float
        Target cosine across classes (within a superclass when hierarchical).
    superclass_size : int, optional
        m classes per superclass (2 <= m < K, m divides K); give with ``e``.
    e : float, optional
        Target cosine across superclasses, e <= d; give with ``superclass_size``.
    n_test : int, optional
        Test instances per class (default n); 0 gives empty test arrays.
    rng : numpy.random.Generator or int
        Source of randomness (an int is a seed).

    Returns
    -------
    MixtureData
        Training rows (N, D), test rows (K * n_test, D), labels, class means and
        the requested and measured block means.

    Raises
    ------
    ValueError
        On invalid sizes, on c <= d or e > d, and when (c, d, e) is not
        realisable (the K×K Gram M of the class means is not PSD; this can only
        happen for negative d or e).

    Notes
    -----
    Class means μ_k = Q L_k with L Lᵀ = M (M_kk = c, M_kl = d or e) and Q a
    random (D, K) matrix with orthonormal columns, so ‖μ_k‖² = c and
    <μ_k, μ_l> = M_kl. Each row is μ_{y_i} + ξ_i, ξ_i ~ N(0, (1 − c)/D · I), so
    E‖x_i‖² = 1 and E<x_i, x_j> = M_{y_i y_j} for i ≠ j; rows are then
    normalised to unit norm (Φ_ii = 1). The measured block means approach
    (c, d, e) as D grows, with error O(1/√D).

    Examples
    --------
    >>> data = gaussian_mixture(3, 20, 2048, 0.5, 0.1, rng=0)
    >>> data.x_train.shape, data.y_train[:3].tolist(), data.x_test.shape
    ((60, 2048), [0, 0, 0], (60, 2048))
    >>> abs(data.measured.c - 0.5) < 0.05 and abs(data.measured.d - 0.1) < 0.05
    True
    """
    k = _checks.integer_at_least("n_classes", n_classes, 2)
    n = _checks.integer_at_least("n_per_class", n_per_class, 2)
    dim = _checks.integer_at_least("dim", dim, k)
    n_test = n if n_test is None else _checks.integer_at_least("n_test", n_test, 0)
    c, d, e, m = _structure(k, c, d, superclass_size, e)
    factor = _mean_factor(k, c, d, e, m)
    rng = _generator(rng)
    basis, _ = np.linalg.qr(rng.normal(size=(dim, k)))
    means = factor @ basis.T
    noise_std = np.sqrt((1.0 - c) / dim)
    y_train, y_test = block_labels(k, n), block_labels(k, n_test)
    x_train = _draw(means, y_train, noise_std, rng)
    x_test = _draw(means, y_test, noise_std, rng)
    hierarchical = superclass_size is not None
    return MixtureData(
        x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, means=means,
        requested=BlockMeans(c, d, e if hierarchical else None),
        measured=block_means(x_train @ x_train.T, y_train,
                             superclass_size=m if hierarchical else None))


def block_means(gram, labels, superclass_size=None):
    """Mean off-diagonal cosines of a Gram matrix, by block.

    Parameters
    ----------
    gram : array_like (N, N)
        Symmetric PSD Gram Φ with positive diagonal; it is first normalised to
        cosines Φ_ij / sqrt(Φ_ii Φ_jj) (no change when rows have unit norm).
    labels : array_like of int (N,)
        True class of each instance, in 0..K-1 with K = max(labels) + 1 (any
        order).
    superclass_size : int, optional
        m: classes ``k`` with equal ``k // m`` form a superclass (m divides K).
        If given, ``d`` is the mean over pairs of different classes in the same
        superclass and ``e`` over different superclasses.

    Returns
    -------
    BlockMeans
        Mean cosine over pairs i ≠ j in each block; NaN for a block with no
        pairs (e.g. ``c`` when every class has one instance).

    Examples
    --------
    >>> from labelavg.gram import block_gram, block_labels
    >>> means = block_means(block_gram(3, 4, 0.5, 0.1), block_labels(3, 4))
    >>> round(means.c, 12), round(means.d, 12), means.e
    (0.5, 0.1, None)
    """
    gram = _checks.gram_matrix("gram", gram)
    diag = np.diag(gram)
    if np.any(diag <= 0):
        raise ValueError(f"gram must have a positive diagonal, min {diag.min():.3g}")
    labels = _labels(labels, gram.shape[0])
    cosine = gram / np.sqrt(np.outer(diag, diag))
    same_class = labels[:, None] == labels[None, :]
    off_diag = ~np.eye(labels.size, dtype=bool)
    if superclass_size is None:
        return BlockMeans(_mean(cosine, same_class & off_diag), _mean(cosine, ~same_class))
    n_classes = int(labels.max()) + 1 if labels.size else 1
    m = _checks.integer_at_least("superclass_size", superclass_size, 1)
    if n_classes % m:
        raise ValueError(f"superclass_size={m} must divide n_classes={n_classes}")
    sup = labels // m
    same_sup = sup[:, None] == sup[None, :]
    return BlockMeans(_mean(cosine, same_class & off_diag),
                      _mean(cosine, same_sup & ~same_class), _mean(cosine, ~same_sup))


def _labels(labels, n_samples):
    """Integer labels (N,) in 0..K-1, with K inferred as max(labels) + 1."""
    arr = np.asarray(labels)
    integer = arr.size and np.issubdtype(arr.dtype, np.integer)
    n_classes = max(int(arr.max()) + 1, 1) if integer else 1
    return _checks.labels("labels", arr, n_classes, n_samples)


def _mean(values, mask):
    """Mean of ``values[mask]`` as a float, NaN when ``mask`` is empty."""
    return float(values[mask].mean()) if mask.any() else float("nan")
