"""One tolerance policy for tests and self-checks.

- exact identities in float64: ``EXACT_RTOL`` relative (Frobenius);
- iterative solvers: ``10 × tol`` of the solver;
- float32 results against float64: ``FLOAT32_RTOL``;
- sampling: a bound derived from the number of draws (:func:`sampling_atol`).
"""

from __future__ import annotations

import numpy as np

EXACT_RTOL = 1e-10
FLOAT32_RTOL = 1e-3


def rel_error(actual, expected):
    """Relative Frobenius error ``||actual - expected|| / max(||expected||, tiny)``."""
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    scale = max(np.linalg.norm(expected), np.finfo(float).tiny)
    return float(np.linalg.norm(actual - expected) / scale)


def assert_close(actual, expected, rtol=EXACT_RTOL, what="arrays"):
    """Assert ``rel_error(actual, expected) <= rtol`` with a readable message."""
    err = rel_error(actual, expected)
    if not err <= rtol:
        raise AssertionError(f"{what} differ: relative error {err:.3g} > {rtol:.3g}")


def solver_rtol(tol):
    """Tolerance for comparing the output of an iterative solver run at ``tol``."""
    return 10 * tol


def sampling_atol(n_draws, z=5.0):
    """Bound on |empirical frequency - probability| for ``n_draws`` draws (z-sigma)."""
    return z * 0.5 / np.sqrt(n_draws)
