"""Pins of fixed_point.fit_probs behaviour (issue 20, helper h20k).

Expected values come from independent computations: a NumPy in-memory fit of the
same data, the first-order optimality condition W = (Q − P)F/(Nλ) of
theory/THEORY.md (the model), and the documented dtype policy.
"""

import numpy as np
import pytest

from labelavg.fixed_point import fit_probs


def _data(dtype):
    rng = np.random.default_rng(7)
    y = np.repeat(np.arange(3), 8)
    x = rng.normal(size=(24, 4)) + 1.5 * np.eye(3, 4)[y]
    targets = np.eye(3)[y].T
    return x.astype(dtype), targets.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dask_features_keep_their_float_dtype(dtype):
    """Dask features are fitted chunk by chunk in their own float dtype (float32 stays
    float32, as for NumPy features): probs, coef and logits all have the input's dtype,
    and the fit equals the in-memory NumPy fit of the same features."""
    da = pytest.importorskip("dask.array")
    x, targets = _data(dtype)
    lam = 0.1
    ref = fit_probs(None, targets, lam, features=x)
    fit = fit_probs(None, targets, lam, features=da.from_array(x, chunks=(12, 4)))
    assert ref.probs.dtype == dtype
    assert fit.probs.dtype == dtype and fit.coef.dtype == dtype
    assert fit.converged
    rtol = 1e-3 if dtype == np.float32 else 1e-8
    np.testing.assert_allclose(fit.probs, ref.probs, rtol=rtol, atol=rtol)
    # stationarity of the objective, recomputed in float64 here: W = (Q − P) F / (N λ)
    w = (targets.astype(float) - fit.probs.astype(float)) @ x.astype(float) / (24 * lam)
    np.testing.assert_allclose(fit.coef, w, rtol=10 * rtol, atol=10 * rtol)
