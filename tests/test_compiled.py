"""The compiled (numba) Newton loop of the reduced solver against the NumPy one.

Both engines must give identical sweep tables (verdicts, undecided counts,
accuracies), the same residual / converged reporting, and an error bound
that is still never below the real error (the 60-digit reference of
tests/test_bound.py). numba compiles once per installation (cache=True, about
10 s of CPU on a clean clone), so the cases are few and small.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from labelavg import _compiled, block
from labelavg.sweep import sweep
from test_bound import _real_errors, _solve

needs_numba = pytest.mark.skipif(not _compiled.numba_available(), reason="numba not installed")


def _quiet_sweep(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return sweep(**kw)


@pytest.mark.parametrize("engine", ["fast", "NUMBA", None, 1])
def test_engine_values_are_checked(engine):
    with pytest.raises(ValueError, match=r"engine must be one of 'auto', 'numpy', 'numba', got"):
        sweep(eta=0.1, lam=1e-3, rounds=1, engine=engine)


def test_engine_without_numba(monkeypatch):
    monkeypatch.setattr(_compiled, "numba_available", lambda: False)
    assert _compiled.resolve("auto") == "numpy"
    with pytest.raises(ValueError, match=r"engine='numba' needs numba"):
        sweep(eta=0.1, lam=1e-3, rounds=1, engine="numba")
    table = sweep(eta=[0.1, 0.5], lam=1e-3, rounds=2, engine="auto")
    assert table.label_correction.tolist() == [1.0, 1.0, 0.5, 1.0]


def test_auto_is_numba_where_installed():
    assert _compiled.resolve("auto") == ("numba" if _compiled.numba_available() else "numpy")
    assert _compiled.resolve("numpy") == "numpy"


def test_only_orbit_layouts_are_compiled():
    from types import SimpleNamespace

    def applies(orbit, k, engine="numba"):
        return _compiled.applies(engine, SimpleNamespace(orbit=orbit, n_classes=k))

    assert not applies(None, 4) and not applies("all", 4, "numpy")
    assert applies("all", 4) and applies("all", 1000)
    assert applies("cyclic", _compiled.CYCLIC_MAX_K)
    assert not applies("cyclic", _compiled.CYCLIC_MAX_K + 1)


CASES = {
    # smallest case: K = 2, one round, defaults
    "k2-one-round": dict(n_classes=2, eta=0.2, lam=1e-3, rounds=1),
    # the bench grid in small: symmetric K = 4, η = 0 (clean layout) to 0.7, 30 rounds
    "symmetric-k4": dict(eta=list(np.linspace(0.0, 0.7, 5)), lam=list(np.logspace(-5, -1, 4)),
                         rounds=30),
    # cyclic orbits with undecided rounds (246 undecided groups at the time of writing)
    "asymmetric-pair": dict(n_classes=[3, 5], n_per_class=100, c=0.3, d=0.087,
                            lam=[1e-1, 1e-2], eta=[0.5, 0.6], noise=["asymmetric", "pair"],
                            rounds=12),
    # deviations down to 1e-66 (tests/test_bound.py's example)
    "near-uniform": dict(n_classes=2, n_per_class=1, c=0.4, d=0.04, lam=100.0, eta=0.3,
                         rounds=25),
    # not an orbit layout: NumPy in both engines
    "superclass": dict(n_classes=4, eta=[0.2, 0.6], lam=1e-3, noise="superclass",
                       superclass_size=2, rounds=4),
}


@needs_numba
@pytest.mark.parametrize("case", sorted(CASES))
def test_tables_are_identical(case):
    numpy_table = _quiet_sweep(engine="numpy", **CASES[case])
    numba_table = _quiet_sweep(engine="numba", **CASES[case])
    pd.testing.assert_frame_equal(numpy_table, numba_table)
    if case == "asymmetric-pair":
        assert numpy_table.undecided.sum() > 0      # the case exercises undecided verdicts


def _batch(noise, k, eta, lam):
    from labelavg import noise as noise_
    from labelavg.block import BlockModel, _Batch

    models = [BlockModel(k, 100, 0.4, 0.1)] * len(lam)
    counts = [100 * noise_.transition_matrix(noise, k, e) for e in eta]
    return _Batch.stack(models, counts, lam).reduced()


@needs_numba
@pytest.mark.parametrize("noise,k", [("symmetric", 4), ("asymmetric", 5)])
def test_paths_report_the_same(noise, k):
    """Residuals, converged flags, Newton steps and error bounds of every round agree."""
    eta = np.repeat(np.linspace(0.05, 0.6, 6), 4)
    lam = np.tile(np.logspace(-5, -1, 4), 6)
    batch = _batch(noise, k, eta, lam)
    assert batch.orbit == ("all" if noise == "symmetric" else "cyclic")
    ref = block._solve_batch(batch, 10, pll_topk=2, engine="numpy")
    new = block._solve_batch(batch, 10, pll_topk=2, engine="numba")
    for a, b in ((ref, new), (ref.pll, new.pll)):
        assert np.array_equal(a.path.converged, b.path.converged) and a.path.converged.all()
        assert np.array_equal(a.path.n_iter, b.path.n_iter)
        scale = np.abs(a.path.targets).max(axis=(2, 3))
        assert np.all(b.path.residual <= 1e-10 * scale)
        np.testing.assert_allclose(b.path.deviation, a.path.deviation, rtol=0,
                                   atol=1e-12 * np.abs(a.path.deviation).max())
        # the bound starts from each round's final residual, whose value below tol is
        # partly rounding (different in the two engines: measured up to 0.6% apart);
        # the real error is checked against a 60-digit reference below
        np.testing.assert_allclose(b.path.error, a.path.error, rtol=5e-2)
        assert np.array_equal(a.verdicts, b.verdicts)
        assert np.array_equal(a.fresh_verdicts, b.fresh_verdicts)


@needs_numba
@pytest.mark.parametrize("setting", [
    (2, 1, 0.4, 0.1, -3.0, 1, "symmetric", 0.0),           # smallest case
    (4, 100, 0.3, 0.29, -1.0, 6, "symmetric", 0.74999925),   # deviations ~1e-20
    (3, 1e5, 0.9, 0.5, 0.0, 6, "asymmetric", 0.5),           # near uniform, large N
    (2, 1, 0.4, 0.1, 2.0, 25, "symmetric", 0.6),              # deviations down to 1e-66
])
def test_compiled_bound_is_never_below_the_real_error(setting):
    """tests/test_bound.py's reference check with the compiled loop behind BlockModel.solve."""
    k, n, c, frac, log_lam, rounds, noise, eta = setting
    lam = 10.0 ** log_lam
    numpy_fit = block._fit_exact

    def fit(batch, *args):
        assert _compiled.applies("numba", batch)
        return _compiled.fit_exact(batch, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(block, "_fit_exact", fit)
        sol = _solve(k, n, c, c * frac, lam, rounds, noise, eta * (k - 1) / k)
    assert block._fit_exact is numpy_fit
    real, signs = _real_errors(sol, lam)
    assert np.all(real <= sol.error), (real, sol.error)
    decided = sol.verdicts != 0
    assert np.all(np.sign(sol.verdicts[decided]) == signs[decided])


def test_import_does_not_load_numba():
    import subprocess
    import sys

    code = "import sys, labelavg, labelavg.sweep; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_stacked_t_star_is_the_per_point_one():
    """sweep's stacked t* against theorems' per-point path (BlockModel, _delta, _linearised)."""
    from labelavg.block import BlockModel
    from labelavg.sweep import _counts, _t_stars
    from labelavg.theorems import _delta, _linearised

    for k, noise, etas in [(4, "symmetric", np.linspace(0.0, 0.74, 9)),
                           (5, "asymmetric", np.linspace(0.0, 0.49, 5)),
                           (3, "pair", np.linspace(0.0, 0.49, 5))]:
        points = [(k, n, c, d, lam, eta, noise) for eta in etas for lam in (1e-5, 1e-3, 1e-1)
                  for n, c, d in ((100, 0.4, 0.1), (7.5, 0.3, 0.29))]
        mats = [_counts(k, p, "expected") for p in points]
        for rounds in (1, 30):
            want = [_linearised(BlockModel(k, *p[1:4]), p[4], m, _delta(m), rounds)[0]
                    for p, m in zip(points, mats)]
            want = np.array([np.nan if t is None else t for t in want], float)
            np.testing.assert_array_equal(_t_stars(k, points, mats, rounds), want)
            assert np.isfinite(want).any()


def test_auto_falls_back_where_numba_does_not_import(tmp_path):
    """An installed numba that refuses this NumPy (ImportError at import): "auto" is NumPy."""
    import os
    import subprocess
    import sys

    (tmp_path / "numba").mkdir()
    (tmp_path / "numba" / "__init__.py").write_text(
        "raise ImportError('Numba needs NumPy 2.3 or less')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tmp_path)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    code = ("from labelavg import _compiled, sweep\n"
            "print(_compiled.resolve('auto'))\n"
            "print(sweep(eta=0.5, lam=1e-3, rounds=2).label_correction.tolist())\n"
            "try:\n    sweep(eta=0.5, lam=1e-3, rounds=1, engine='numba')\n"
            "except ValueError as err:\n    print(err)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:2] == ["numpy", "[0.5, 1.0]"]
    assert lines[2].startswith("engine='numba' needs numba")
