"""Label-noise transition matrices and label samplers.

Symbols: K ``n_classes``, η ``eta`` (corruption rate), T ``transition`` (K, K),
n_c the number of instances of true class c.

Convention (used everywhere in labelavg): **T[c, j] = P(given label j | true
class c); rows are indexed by the true class and sum to 1.** (cleanlab's noise
matrices use the transpose.)

Every noise model takes ``exact=True`` to return T as an object array of
:class:`fractions.Fraction` (η read as the decimal it is written as, e.g. 0.3 →
3/10), so that ties in T (e.g. superclass clusters of 2 at η = 0.5) can be decided
exactly (:func:`labelavg.theorems.pll_condition`).

Two kinds of samplers, with different names on purpose:

- :func:`sample_labels` draws every given label independently from its row of T
  (the finite-sample noise of an experiment);
- :func:`assign_labels_exact` gives each true class exactly round(n_c T[c, :])
  labels of each kind (the "population" histogram m_c = T[c, :] of theory/THEORY.md,
  Result 3, up to rounding).
"""

from __future__ import annotations

import numbers
from fractions import Fraction

import numpy as np

from . import _checks

#: Remainders of n_c T[c, j] closer than this are treated as ties in
#: :func:`assign_labels_exact`, so that round-off in n_c T does not decide them.
_TIE_ATOL = 1e-9


# ----------------------------------------------------------------- validation


def _eta(eta, upper=1.0, exact=False):
    """Check a corruption rate 0 <= η <= ``upper``; a Fraction when ``exact``.

    Exact: a float is read as the shortest decimal that prints as it (0.3 → 3/10),
    the number as written; an int or Fraction is kept as it is.
    """
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real):
        raise TypeError(f"eta must be a real number, got {type(eta).__name__}")
    if not (0.0 <= eta <= upper):
        raise ValueError(f"eta must lie in [0, {upper:g}], got {eta!r}")
    if not exact:
        return float(eta)
    return Fraction(repr(float(eta))) if isinstance(eta, float) else Fraction(eta)


def _transition_problem(transition, atol):
    """Why ``transition`` is not a transition matrix, or ``None`` if it is one."""
    try:
        arr = np.asarray(transition, dtype=float)
    except (TypeError, ValueError):
        return "it is not a numeric array"
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        return f"it must be a square (K, K) matrix, got shape {arr.shape}"
    if arr.shape[0] < 2:
        return f"it must have K >= 2 classes, got shape {arr.shape}"
    if not np.all(np.isfinite(arr)):
        return "it contains NaN or inf"
    if np.any(arr < 0):
        return f"its entries must be >= 0, min entry {arr.min():.3g}"
    dev = float(np.max(np.abs(arr.sum(axis=1) - 1.0)))
    if dev > atol:
        return f"its rows must sum to 1, max deviation {dev:.3g}"
    return None


def _transition(transition, atol=1e-9):
    """Return ``transition`` as a float array, raising ``ValueError`` if invalid."""
    problem = _transition_problem(transition, atol)
    if problem is not None:
        raise ValueError(f"transition is not a transition matrix "
                         f"(T[c, j] = P(given j | true c), rows sum to 1): {problem}")
    return np.asarray(transition, dtype=float)


def _generator(rng, name="rng"):
    """A ``numpy.random.Generator`` from a Generator or a non-negative int seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, numbers.Integral):
        raise TypeError(f"{name} must be a numpy.random.Generator or an int seed, "
                        f"got {type(rng).__name__}")
    if rng < 0:
        raise ValueError(f"{name} seed must be >= 0, got {rng}")
    return np.random.default_rng(int(rng))


# ------------------------------------------------------------- noise models


def symmetric(n_classes, eta, *, exact=False):
    """Symmetric noise: keep the label with prob. 1 − η, else a uniform other class.

    Parameters
    ----------
    n_classes : int
        K >= 2.
    eta : float
        Corruption rate, 0 <= η <= 1.
    exact : bool
        Return Fractions (object array), η read as written (module docstring).

    Returns
    -------
    transition : ndarray (K, K)
        T[c, c] = 1 − η, T[c, j] = η / (K − 1) for j ≠ c. Convention:
        T[c, j] = P(given label j | true class c), rows sum to 1.

    Examples
    --------
    >>> symmetric(3, 0.3)
    array([[0.7 , 0.15, 0.15],
           [0.15, 0.7 , 0.15],
           [0.15, 0.15, 0.7 ]])
    """
    k = _checks.integer_at_least("n_classes", n_classes, 2)
    eta = _eta(eta, exact=exact)
    transition = np.full((k, k), eta / (k - 1), dtype=_dtype(exact))
    np.fill_diagonal(transition, 1 - eta)
    return transition


def asymmetric(n_classes, eta, *, exact=False):
    """The paper's asymmetric noise: uniform flips plus an extra flip to c + 1.

    Parameters
    ----------
    n_classes : int
        K >= 2.
    eta : float
        Corruption rate, 0 <= η <= 1.
    exact : bool
        Return Fractions (object array), η read as written (module docstring).

    Returns
    -------
    transition : ndarray (K, K)
        T[c, c] = 1 − η; T[c, j] = η / K for every j ≠ c, plus η / K more for
        j = (c + 1) mod K, so that the row sums to (1 − η) + (K − 1)η/K + η/K = 1.
        Convention: T[c, j] = P(given label j | true class c), rows sum to 1.

    Examples
    --------
    >>> asymmetric(3, 0.3)
    array([[0.7, 0.2, 0.1],
           [0.1, 0.7, 0.2],
           [0.2, 0.1, 0.7]])
    """
    k = _checks.integer_at_least("n_classes", n_classes, 2)
    eta = _eta(eta, exact=exact)
    transition = np.full((k, k), eta / k, dtype=_dtype(exact))
    rows = np.arange(k)
    transition[rows, (rows + 1) % k] += eta / k
    transition[rows, rows] = 1 - eta
    return transition


def pair(n_classes, eta, *, exact=False):
    """Pair-flip noise: class c is relabelled (c + 1) mod K with probability η.

    Parameters
    ----------
    n_classes : int
        K >= 2.
    eta : float
        Corruption rate, 0 <= η <= 1.
    exact : bool
        Return Fractions (object array), η read as written (module docstring).

    Returns
    -------
    transition : ndarray (K, K)
        T[c, c] = 1 − η, T[c, (c + 1) mod K] = η, all else 0. Convention:
        T[c, j] = P(given label j | true class c), rows sum to 1.

    Examples
    --------
    >>> pair(3, 0.25)
    array([[0.75, 0.25, 0.  ],
           [0.  , 0.75, 0.25],
           [0.25, 0.  , 0.75]])
    """
    k = _checks.integer_at_least("n_classes", n_classes, 2)
    eta = _eta(eta, exact=exact)
    rows = np.arange(k)
    transition = np.full((k, k), eta * 0, dtype=_dtype(exact))
    transition[rows, (rows + 1) % k] = eta
    transition[rows, rows] = 1 - eta
    return transition


def _int_vector(value, what):
    """``value`` as a 1-D integer array, or ``TypeError`` naming ``clusters``."""
    arr = np.asarray(value)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"clusters must be a list of class-index groups or an integer "
                        f"array of cluster ids; got {what} {value!r}")
    return arr.astype(np.intp)


def _cluster_ids(clusters):
    """Cluster id of each class (K,) from class-index groups or from an id array."""
    if isinstance(clusters, (str, bytes, numbers.Number)) or clusters is None:
        raise TypeError(f"clusters must be a list of class-index groups or an integer "
                        f"array of cluster ids, got {type(clusters).__name__}")
    items = list(clusters)
    if isinstance(clusters, np.ndarray) and clusters.ndim == 1 or (
            items and all(isinstance(g, numbers.Integral) for g in items)):
        return _int_vector(clusters, "cluster ids")
    groups = [_int_vector(g, "group") for g in items]
    flat = np.concatenate(groups) if groups else np.zeros(0, np.intp)
    if (any(g.size == 0 for g in groups)
            or not np.array_equal(np.sort(flat), np.arange(flat.size))):
        raise ValueError(f"clusters groups must be non-empty and partition 0..K-1 "
                         f"(each class exactly once), got {clusters!r}")
    ids = np.empty(flat.size, dtype=np.intp)
    for cid, group in enumerate(groups):
        ids[group] = cid
    return ids


def superclass(clusters, eta, *, exact=False):
    """Superclass noise: η spread evenly over the other classes of c's cluster.

    Parameters
    ----------
    clusters : sequence of sequences of int, or array_like of int (K,)
        Either class-index groups partitioning 0..K-1 (e.g. ``[[0, 1], [2, 3, 4]]``)
        or the cluster id of each class (e.g. ``[0, 0, 1, 1, 1]``; any integers,
        equal ids share a cluster); K >= 2.
    eta : float
        Corruption rate, 0 <= η <= 1.
    exact : bool
        Return Fractions (object array), η read as written (module docstring).

    Returns
    -------
    transition : ndarray (K, K)
        T[c, c] = 1 − η and T[c, j] = η / (s_c − 1) for the s_c − 1 other classes
        j of c's cluster, 0 outside it. Convention: T[c, j] = P(given label j |
        true class c), rows sum to 1.

    Notes
    -----
    A class alone in its cluster has nowhere to be flipped to: its row is
    e_c (T[c, c] = 1), whatever η is. The paper finds the clusters by
    hierarchical clustering of class-mean cosine similarities (theory/THEORY.md, Noise models).

    Examples
    --------
    >>> superclass([[0, 1, 2], [3]], 0.4)
    array([[0.6, 0.2, 0.2, 0. ],
           [0.2, 0.6, 0.2, 0. ],
           [0.2, 0.2, 0.6, 0. ],
           [0. , 0. , 0. , 1. ]])
    """
    ids = _cluster_ids(clusters)
    if ids.size < 2:
        raise ValueError(f"clusters must cover K >= 2 classes, got {clusters!r}")
    eta = _eta(eta, exact=exact)
    same = ids[:, None] == ids[None, :]
    others = same.sum(axis=1) - 1
    one = eta * 0 + 1                                   # 1 of η's type
    transition = np.full(same.shape, eta * 0, dtype=_dtype(exact))
    for c, j in zip(*np.nonzero(same)):
        s = int(others[c])
        transition[c, j] = eta / s if c != j else (one - eta if s else one)
    return transition


def _dtype(exact):
    """Entry type of T: Python objects (Fractions) when exact, else float64."""
    return object if exact else float


#: Named noise models (K, η) → T; "superclass" needs clusters, see
#: :func:`transition_matrix`.
NOISE_MODELS = {"symmetric": symmetric, "asymmetric": asymmetric, "pair": pair,
                "superclass": superclass}


def transition_matrix(noise_model, n_classes, eta, superclass_size=None, *, exact=False):
    """T (K, K) of a named noise model; superclasses are consecutive runs of m.

    Parameters
    ----------
    noise_model : {"symmetric", "asymmetric", "pair", "superclass"}
    n_classes : int
        K >= 2.
    eta : float
        Corruption rate 0 <= η <= 1.
    superclass_size : int, optional
        m (dividing K); required by ``"superclass"`` noise, whose clusters are
        classes {0..m-1}, {m..2m-1}, ...
    exact : bool
        Return Fractions (object array), η read as written (module docstring).

    Returns
    -------
    ndarray (K, K)
        T[c, j] = P(given label j | true class c); rows sum to 1.

    Examples
    --------
    >>> transition_matrix("superclass", 4, 0.2, superclass_size=2)[0].tolist()
    [0.8, 0.2, 0.0, 0.0]
    """
    _checks.choice("noise", noise_model, set(NOISE_MODELS))
    k = _checks.integer_at_least("n_classes", n_classes, 2)
    if noise_model != "superclass":
        return NOISE_MODELS[noise_model](k, eta, exact=exact)
    if superclass_size is None:
        raise ValueError("superclass noise needs superclass_size (classes are "
                         "grouped in consecutive runs of that size)")
    m = _checks.integer_at_least("superclass_size", superclass_size, 1)
    if k % m:
        raise ValueError(f"superclass_size={m} must divide n_classes={k}")
    return superclass([list(range(s, s + m)) for s in range(0, k, m)], eta, exact=exact)


def count_matrix(n_per_class, transition):
    """Exact label counts (K, K): row c = :func:`exact_counts` of n_c = n and T[c, :].

    T[c, j] = P(given label j | true class c); rows sum to 1. Entry [c, j] is
    the number of instances of true class c given label j; rows sum to n.
    """
    transition = _transition(transition)
    n = _checks.integer_at_least("n_per_class", n_per_class, 1)
    return np.stack([exact_counts(n, row, c) for c, row in enumerate(transition)])


def is_transition_matrix(transition, atol=1e-9):
    """Whether ``transition`` is a valid noise transition matrix.

    Parameters
    ----------
    transition : array_like (K, K)
        Candidate T, convention T[c, j] = P(given label j | true class c).
    atol : float
        Allowed deviation of each row sum from 1.

    Returns
    -------
    bool
        True iff T is square with K >= 2, finite, non-negative, and every row
        sums to 1 within ``atol``.

    Examples
    --------
    >>> is_transition_matrix([[0.9, 0.1], [0.2, 0.8]])
    True
    >>> is_transition_matrix([[0.9, 0.2], [0.1, 0.8]])  # columns sum to 1, not rows
    False
    """
    return _transition_problem(transition, atol) is None


# --------------------------------------------------------------- samplers


def _inputs(true, transition):
    """Validated (true labels (N,), T (K, K)), labels checked against K."""
    transition = _transition(transition)
    return _checks.labels("true", true, transition.shape[0]), transition


def _row_cdfs(transition):
    """Cumulative rows of T that reach exactly 1 at each row's last positive entry.

    Pinning the tail to 1 means a uniform u in [0, 1) never lands on a class of
    probability 0 through round-off in the cumulative sum.
    """
    cdf = np.cumsum(transition, axis=1)
    last = transition.shape[1] - 1 - np.argmax(transition[:, ::-1] > 0, axis=1)
    cdf[np.arange(transition.shape[1])[None, :] >= last[:, None]] = 1.0
    return cdf


def sample_labels(true, transition, rng):
    """Draw each given label independently from its row of T.

    Parameters
    ----------
    true : array_like of int (N,)
        True class of each instance, in 0..K-1.
    transition : array_like (K, K)
        T[c, j] = P(given label j | true class c); rows sum to 1.
    rng : numpy.random.Generator or int
        Source of randomness (an int is a seed).

    Returns
    -------
    given : ndarray of int (N,)
        Given (possibly noisy) labels.

    Notes
    -----
    Inverse-CDF sampling with exactly one uniform per instance, drawn in
    instance order: the same seed gives the same labels, and instance i's label
    depends only on its own uniform. The loop runs over the K classes, not over
    the instances.

    Examples
    --------
    >>> given = sample_labels([0, 0, 1, 1], pair(2, 0.0), rng=0)
    >>> given.tolist()
    [0, 0, 1, 1]
    """
    true, transition = _inputs(true, transition)
    uniforms = _generator(rng).random(true.shape[0])
    cdf = _row_cdfs(transition)
    given = np.empty_like(true)
    for c in range(transition.shape[0]):
        mine = true == c
        given[mine] = np.searchsorted(cdf[c], uniforms[mine], side="right")
    return given


def exact_counts(n_c, row, true_class):
    """Largest-remainder rounding of n_c · T[c, :] to integers summing to n_c.

    Parameters
    ----------
    n_c : int
        Number of instances of the true class c.
    row : ndarray (K,)
        T[c, :], a row of a transition matrix (T[c, j] = P(given j | true c)).
    true_class : int
        c, used to break ties.

    Returns
    -------
    counts : ndarray of int (K,)
        Each count is ⌊n_c T[c, j]⌋ or one more; the ``n_c − Σ⌊·⌋`` extra units go
        to the largest remainders. Remainders within 1e-9 are ties, broken
        cyclically starting from c: c first, then c + 1, c + 2, ... (mod K). This
        keeps cyclically symmetric T (symmetric, asymmetric, pair) cyclically
        symmetric after rounding, so the overall label histogram stays balanced.

    Examples
    --------
    >>> exact_counts(10, np.array([0.55, 0.45]), 0).tolist()
    [6, 4]
    >>> exact_counts(3, np.array([0.5, 0.5]), 1).tolist()
    [1, 2]
    """
    n_c = _checks.integer_at_least("n_c", n_c, 0)
    row = np.asarray(row, dtype=float)
    k = row.shape[0]
    scaled = n_c * row
    # The small shift stops 2.9999999999999996 from flooring to 2.
    base = np.floor(scaled + _TIE_ATOL)
    remainder = np.round((scaled - base) / _TIE_ATOL) * _TIE_ATOL
    cyclic = (np.arange(k) - true_class) % k
    order = np.lexsort((cyclic, -remainder))
    extra = int(n_c - base.sum())
    counts = base.astype(np.intp)
    counts[order[:extra]] += 1
    return counts


def assign_labels_exact(true, transition, rng=None):
    """Give each true class exactly the rounded label histogram n_c · T[c, :].

    Parameters
    ----------
    true : array_like of int (N,)
        True class of each instance, in 0..K-1 (any order).
    transition : array_like (K, K)
        T[c, j] = P(given label j | true class c); rows sum to 1.
    rng : numpy.random.Generator or int, optional
        If given, the labels within each class are shuffled with it. If None the
        assignment is deterministic (see Notes).

    Returns
    -------
    given : ndarray of int (N,)
        Given labels; among the n_c instances of true class c exactly
        ``exact_counts(n_c, T[c], c)[j]`` carry label j.

    Notes
    -----
    Counts come from :func:`exact_counts` (largest remainder). Without ``rng``,
    the instances of class c, taken in their order in ``true``, get first the
    label c (the first ones keep their true label), then the other labels in
    increasing class index. This is the exact-count / "population" histogram of
    theory/THEORY.md, Result 3.

    Examples
    --------
    >>> assign_labels_exact([0, 0, 0, 0, 1, 1, 1, 1], symmetric(2, 0.25)).tolist()
    [0, 0, 0, 1, 1, 1, 1, 0]
    """
    true, transition = _inputs(true, transition)
    generator = None if rng is None else _generator(rng)
    k = transition.shape[0]
    given = np.empty_like(true)
    for c in range(k):
        where = np.flatnonzero(true == c)
        counts = exact_counts(where.size, transition[c], c)
        order = np.concatenate(([c], np.delete(np.arange(k), c)))
        labels = np.repeat(order, counts[order])
        given[where] = labels if generator is None else generator.permutation(labels)
    return given
