"""Array namespaces: one place that knows about NumPy, CuPy and the array API.

Library numerics take arrays of any array-API namespace; this module resolves
the namespace of the inputs (through array-api-compat) and offers the single
exit to NumPy, :func:`to_numpy`, used by plotting and I/O. CuPy is never
imported at module level.
"""

from __future__ import annotations

import importlib.util

import numpy as np
from array_api_compat import array_namespace, is_cupy_array, is_numpy_array

__all__ = ["namespace", "to_numpy", "cupy_available", "float_dtype"]


def namespace(*arrays):
    """The array-API namespace shared by ``arrays``.

    Raises
    ------
    TypeError
        When the arrays come from different libraries (e.g. NumPy and CuPy).
    """
    try:
        return array_namespace(*arrays)
    except TypeError as exc:
        kinds = sorted({type(a).__module__.split(".")[0] for a in arrays})
        raise TypeError(f"inputs mix array libraries {kinds}: {exc}") from None


def to_numpy(x):
    """Copy an array of any namespace to a NumPy array (host memory)."""
    if is_numpy_array(x):
        return x
    if is_cupy_array(x):
        return x.get()
    return np.asarray(x)


def float_dtype(xp, x):
    """The floating dtype to compute in: float32 stays, everything else is float64.

    float16 input is upcast to float32 (too coarse for the solver's tolerances).
    """
    low = (xp.float32, getattr(xp, "float16", xp.float32))  # strict has no float16
    return xp.float32 if x.dtype in low else xp.float64


def cupy_available():
    """True when CuPy is installed *and* a CUDA device can be used.

    An installed CuPy without a GPU (or without a driver) returns False rather
    than raising, so CPU-only machines never crash on the GPU path.
    """
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy

        return bool(cupy.cuda.is_available())
    except Exception:  # noqa: BLE001 - any CUDA/driver failure means "no GPU"
        return False
