"""The engine of the reduced solver's Newton loop: NumPy, or numba where installed.

``engine="numba"`` runs each round's Newton loop (:func:`labelavg.block._fit_exact`)
point by point in compiled code (:mod:`labelavg._kernels`) on the orbit layouts
(symmetric noise; asymmetric and pair noise up to K = 48; expected counts); every other
layout, the linear method and the error bound, verdicts and fresh-instance
outputs run the NumPy code on the compiled loop's outputs. numba is an
optional extra (``pip install labelavg[fast]``), imported only when used.
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np

#: Values of the ``engine`` argument.
ENGINES = ("auto", "numpy", "numba")


@functools.lru_cache(maxsize=None)
def numba_available():
    """True where numba imports (an installed numba may refuse this NumPy version)."""
    if importlib.util.find_spec("numba") is None:
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def resolve(engine):
    """"numpy" or "numba" for an ``engine`` argument; ``"auto"`` is numba where installed.

    Raises ValueError on an unknown value, or for ``"numba"`` without numba.
    """
    if not isinstance(engine, str) or engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(map(repr, ENGINES))}, "
                         f"got {engine!r}")
    if engine == "auto":
        return "numba" if numba_available() else "numpy"
    if engine == "numba" and not numba_available():
        raise ValueError("engine='numba' needs numba, which is not installed or does not "
                         "import here (pip install 'labelavg[fast]'), or pass engine='numpy'")
    return engine


#: Largest K whose cyclic-orbit loop is compiled: its K × K coupling system is
#: solved by a plain LU per point, which LAPACK's stacked solve overtakes near
#: K = 64 (measured: numba 1.2x faster at K = 40, 0.7x at K = 100).
CYCLIC_MAX_K = 48


def applies(engine, batch):
    """The compiled loop runs this batch: engine "numba" and an orbit layout
    (all class permutations at any K, cyclic shifts up to :data:`CYCLIC_MAX_K`)."""
    if engine != "numba":
        return False
    return batch.orbit == "all" or (batch.orbit == "cyclic"
                                    and batch.n_classes <= CYCLIC_MAX_K)


@functools.lru_cache(maxsize=None)
def _kernels():
    from . import _kernels

    return _kernels


def fit_exact(batch, eps, start, tol, max_iter):
    """:func:`labelavg.block._fit_exact` of an orbit-layout batch, compiled; a ``_Fit``."""
    from .block import _Fit

    delta, _, gamma = batch.structure
    f64 = functools.partial(np.ascontiguousarray, dtype=np.float64)
    eps = f64(eps)
    size, k, g = eps.shape
    m = max(k, 2)
    dev, resid = np.empty_like(eps), np.empty_like(eps)
    n_iter, residual, converged = np.empty(size, np.int64), np.empty(size), np.empty(size, bool)
    _kernels().fit_orbit(
        f64(batch.weights), f64(delta), f64(gamma[:, 0, 0]), f64(batch.self_coef),
        f64(batch.n_lam), eps, f64(start), batch.orbit == "cyclic", float(tol), int(max_iter),
        dev, n_iter, residual, converged, resid, np.empty((5, max(m, g))), np.empty((m, m + 2)),
        np.empty((11, k, g)))
    return _Fit(dev, eps - dev, n_iter, residual, converged, resid)
