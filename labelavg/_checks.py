"""Input validation shared by the public functions.

Every check raises ``ValueError`` or ``TypeError`` naming the argument, the value
seen and what is expected. Nothing is clipped or coerced silently.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.linalg

#: Relative tolerance for symmetry and positive semi-definiteness of a Gram matrix:
#: ``|Φ - Φᵀ| <= GRAM_RTOL * max|Φ|`` and ``min eig(Φ) >= -GRAM_RTOL * max eig(Φ)``.
GRAM_RTOL = 1e-8


def finite_array(name, value, *, ndim=None, dtype=float):
    """Return ``value`` as a NumPy array, refusing NaN/inf and the wrong rank."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an array, got {type(value).__name__}")
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array: {exc}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def positive_scalar(name, value):
    """Check a strictly positive, finite real scalar (e.g. ``lam``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def integer_at_least(name, value, lower):
    """Check an integer ``>= lower`` (e.g. ``rounds``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < lower:
        raise ValueError(f"{name} must be >= {lower}, got {value}")
    return int(value)


def choice(name, value, options):
    """Check ``value`` is one of ``options``."""
    if value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return value


def gram_matrix(name, value):
    """Check a symmetric PSD Gram matrix Φ (N, N) within :data:`GRAM_RTOL`."""
    gram = finite_array(name, value, ndim=2)
    if gram.shape[0] != gram.shape[1]:
        raise ValueError(f"{name} must be square, got shape {gram.shape}")
    scale = max(float(np.max(np.abs(gram))), np.finfo(float).tiny)
    asym = _max_asymmetry(gram)
    if asym > GRAM_RTOL * scale:
        raise ValueError(f"{name} must be symmetric: max |Φ - Φᵀ| = {asym:.3g}")
    # Cholesky of a slightly shifted copy is an O(N³/3) PSD test, cheaper than eigvalsh.
    shifted = gram.copy()
    shifted.flat[::gram.shape[0] + 1] += 2 * GRAM_RTOL * scale
    try:
        scipy.linalg.cholesky(shifted, lower=True, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:
        low = float(np.linalg.eigvalsh(gram)[0])
        raise ValueError(
            f"{name} must be positive semi-definite: smallest eigenvalue {low:.3g} "
            f"< -{GRAM_RTOL:g} * max|Φ|") from None
    return gram


def _max_asymmetry(gram, tile=1024):
    """max |Φ - Φᵀ| tile by tile: a strided full transpose is several times slower."""
    n = gram.shape[0]
    worst = 0.0
    for i in range(0, n, tile):
        for j in range(i, n, tile):
            diff = gram[i:i + tile, j:j + tile] - gram[j:j + tile, i:i + tile].T
            worst = max(worst, float(np.max(np.abs(diff))))
    return worst


def labels(name, value, n_classes, n_samples=None):
    """Check an integer label vector with entries in 0..K-1 and length N."""
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValueError(f"{name} must have length {n_samples}, got {arr.shape[0]}")
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(f"{name} must lie in 0..{n_classes - 1}, "
                         f"got values in {arr.min()}..{arr.max()}")
    return arr.astype(np.intp)


def prob_columns(name, value, atol=1e-9, nonnegative=True):
    """Check a (K, N) matrix whose columns are probability vectors.

    ``nonnegative=False`` admits affine columns (summing to 1, entries of any
    sign), such as the linearised model's outputs.
    """
    arr = finite_array(name, value, ndim=2)
    if arr.shape[0] < 2:
        raise ValueError(f"{name} must have K >= 2 rows (classes), got shape {arr.shape}")
    if nonnegative and np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative; min entry {arr.min():.3g}")
    err = float(np.max(np.abs(arr.sum(axis=0) - 1))) if arr.size else 0.0
    if err > atol:
        hint = ""
        if np.max(np.abs(arr.sum(axis=1) - 1)) <= atol:
            hint = f"; its rows sum to 1, so it looks like (N, K): pass {name}.T"
        raise ValueError(f"{name} must have shape (K, N), one probability column per "
                         f"instance, and its columns must sum to 1; got shape {arr.shape}, "
                         f"max column-sum deviation {err:.3g}{hint}")
    return arr


def pll_topk(value, n_classes):
    """k of the PLL student's top-k targets for K = ``n_classes``, or None (no student).

    ``"auto"`` is min(2, K − 1): the paper's top-2 partial labels, and for K = 2
    (where a top-2 set holds every class) the teacher's top-1 prediction.
    An integer must lie in 1..K − 1; None skips the PLL student.
    """
    if value is None:
        return None
    if isinstance(value, str) and value == "auto":
        return min(2, n_classes - 1)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or not 1 <= value <= n_classes - 1:
        raise ValueError(f"pll_topk must be 'auto', None (no PLL student) or an integer "
                         f"in 1..K-1 = 1..{n_classes - 1} for K = {n_classes}, got {value!r}")
    return int(value)


def physical_memory():
    """Bytes of RAM of this machine (POSIX), or None where unknown."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def memory(name, value, nbytes, what):
    """ValueError naming ``name=value`` when ``nbytes`` exceed this machine's memory.

    ``what`` says which arrays need them (e.g. "the reduced block solver").
    """
    total = physical_memory()
    if total is not None and nbytes > total:
        raise ValueError(f"{name}={value!r}: {what} needs about {format_bytes(nbytes)} "
                         f"of memory, more than this machine's {format_bytes(total)}")


def format_bytes(nbytes):
    """``nbytes`` in binary units, e.g. ``format_bytes(3 * 2**30) == '3.0 GiB'``."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
    power = 0
    while nbytes >= 1024 ** (power + 1) and power < len(units) - 1:
        power += 1
    return f"{nbytes / 1024 ** power:.1f} {units[power]}"
