"""Tests of labelavg.phase and the ``labelavg phase`` command.

Symbols: K classes, n per class, c/d block correlations, λ, η corruption rate,
t fits (t = 1 teacher), T[c, j] = P(given j | true c), θ = g(μ₁), φ = g(μ₂),
g(μ) = μ/(μ + KNλ), Δ the smallest noisy margin T[c,c] − T[c,j], t* Result 3.
"""

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from labelavg import noise
from labelavg.block import BlockModel
from labelavg.phase import PhaseDiagram, phase_diagram

ROOT = Path(__file__).resolve().parents[1]
BASE = dict(lam=2e-4, c=0.4, d=0.1, n_classes=4, n_per_class=100)


def _env():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _independent_t_star(model, transition, lam):
    """t* = ⌊log(1 + 1/Δ)/log(φ/θ)⌋ + 1 from the closed-form spectrum, and log(φ/θ)."""
    mu = model.spectrum().values
    theta, phi = (m / (m + model.n_classes * model.n_samples * lam) for m in mu[:2])
    noisy = (transition > 0) & ~np.eye(model.n_classes, dtype=bool)
    delta = float(np.min((np.diag(transition)[:, None] - transition)[noisy])) \
        if noisy.any() else math.inf
    log_ratio = math.log(phi / theta)
    if delta == math.inf:
        return 1, delta, log_ratio
    if delta <= 0:
        return None, delta, log_ratio
    return math.floor(math.log1p(1 / delta) / log_ratio) + 1, delta, log_ratio


# ---------------------------------------------------------------------------
# shapes, axes, arguments
# ---------------------------------------------------------------------------

def test_shapes_axes_and_rows():
    eta, rounds = [0.0, 0.2, 0.5], [1, 3, 4, 6]
    pd = phase_diagram(eta=eta, rounds=rounds, **BASE)
    assert isinstance(pd, PhaseDiagram)
    assert pd.axes == ("eta", "rounds") and pd.shape == (3, 4)
    np.testing.assert_array_equal(pd.axis_values[1], rounds)
    for name, arr in {**pd.values, **pd.boundary}.items():
        assert arr.shape == (3, 4), name
    assert pd.params["max_rounds"] == 6 and pd.params["lam"] == 2e-4
    rows = pd.rows()
    assert len(rows) == 12 and rows[5]["eta"] == 0.2 and rows[5]["rounds"] == 3
    with pytest.raises(AttributeError):
        pd.method = "linear"


def test_axes_order_and_t_not_an_axis():
    pd = phase_diagram(eta=[0.3, 0.5], lam=[1e-3, 1e-2, 1e-1], rounds=3, c=0.4, d=0.1,
                       n_classes=4, n_per_class=100, axes=("lam", "eta"))
    assert pd.axes == ("lam", "eta") and pd.shape == (3, 2)
    swapped = phase_diagram(eta=[0.3, 0.5], lam=[1e-3, 1e-2, 1e-1], rounds=3, c=0.4,
                            d=0.1, n_classes=4, n_per_class=100)
    assert swapped.axes == ("eta", "lam")
    np.testing.assert_array_equal(pd.values["label_correction"],
                                  swapped.values["label_correction"].T)


def test_rounds_axis_solves_each_point_once(monkeypatch):
    sweep_module = sys.modules["labelavg.sweep"]      # the name labelavg.sweep is the function

    calls = []
    original = sweep_module._solve_batch

    def counting(batch, rounds, *args, **kwargs):
        calls.append((batch.size, rounds))
        return original(batch, rounds, *args, **kwargs)

    monkeypatch.setattr(sweep_module, "_solve_batch", counting)
    phase_diagram(eta=[0.1, 0.3, 0.5], rounds=list(range(1, 9)), **BASE)
    assert calls == [(3, 8)]          # one stacked solve: 3 points, 8 fits each


@pytest.mark.parametrize("kwargs, match", [
    (dict(eta=0.5, rounds=[1, 2]), "exactly two.*got 1: \\['rounds'\\]"),
    (dict(eta=0.5, rounds=3), "exactly two.*got 0"),
    (dict(eta=[0.1], rounds=[1], lam=[1e-3]), "exactly two.*got 3"),
    (dict(eta=[0.1], rounds=[1], axes=("eta", "lam")), "must name the two sequences"),
    (dict(eta=[], rounds=[1]), "eta must be a non-empty"),
    (dict(eta=[0.1], rounds=[0, 1]), "rounds must be >= 1"),
    (dict(eta=[0.1], rounds=[1], noise="uniform"), "noise must be one of"),
    (dict(eta=[0.1], rounds=[1], method="newton"), "method must be one of"),
    (dict(eta=[0.1, 1.5], rounds=[1]), "eta must lie in"),
    (dict(eta=[0.1], rounds=[1], counts="exact", n_per_class=10.5), "integer n_per_class"),
])
def test_bad_arguments_raise(kwargs, match):
    args = {**BASE, **kwargs}
    with pytest.raises(ValueError, match=match):
        phase_diagram(**args)


def test_progress_callable_and_tqdm_bar(capsys, monkeypatch):
    sweep_module = sys.modules["labelavg.sweep"]      # the name labelavg.sweep is the function

    monkeypatch.setattr(sweep_module, "BATCH_SIZE", 1)     # one point per batch
    seen = []
    phase_diagram(eta=[0.1, 0.3], lam=[1e-3, 1e-2], rounds=2, c=0.4, d=0.1,
                  n_classes=4, n_per_class=100, progress=lambda i, n: seen.append((i, n)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    phase_diagram(eta=[0.1, 0.3], rounds=[1, 2], **BASE, progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err
    with pytest.raises(TypeError, match="progress"):
        phase_diagram(eta=[0.1], rounds=[1], **BASE, progress="yes")


# ---------------------------------------------------------------------------
# against Result 3 and independent solves
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("noise_name", ["symmetric", "asymmetric"])
@pytest.mark.parametrize("lam", [1e-4, 1e-3])
def test_linear_region_matches_result3_boundary(noise_name, lam):
    """Linear method: 100% at (η, t) iff t ≥ t*, at every point away from ties."""
    eta = np.linspace(0, 0.8, 33)
    rounds = list(range(1, 13))
    pd = phase_diagram(eta=eta, rounds=rounds, method="linear", noise=noise_name,
                       **{**BASE, "lam": lam})
    model = BlockModel(4, 100, 0.4, 0.1)
    checked = 0
    for i, e in enumerate(eta):
        transition = getattr(noise, noise_name)(4, e)
        t_star, delta, log_ratio = _independent_t_star(model, transition, lam)
        assert (np.isnan(pd.boundary["t_star"][i, 0]) if t_star is None
                else pd.boundary["t_star"][i, 0] == t_star)
        if delta != math.inf and abs(delta) < 1e-9:
            continue                              # Δ = 0: outputs tie
        for j, t in enumerate(rounds):
            if delta != math.inf and delta > 0 and \
                    abs(t * log_ratio - math.log1p(1 / delta)) < 1e-9:
                continue                          # exactly on the boundary
            expected = t_star is not None and t >= t_star
            assert pd.values["all_right"][i, j] == expected, (e, t, t_star)
            checked += 1
    assert checked > 300


def test_exact_point_equals_block_solve():
    eta, lams = [0.2, 0.6], [1e-4, 1e-3]
    pd = phase_diagram(eta=eta, lam=lams, rounds=6, c=0.4, d=0.1, n_classes=4,
                       n_per_class=100, noise="asymmetric")
    for i, e in enumerate(eta):
        for j, lam in enumerate(lams):
            sol = BlockModel(4, 100, 0.4, 0.1).solve(noise.asymmetric(4, e), lam=lam,
                                                     rounds=6)
            assert pd.values["label_correction"][i, j] == sol.accuracy[-1].all
            assert pd.values["label_correction_noisy"][i, j] == sol.accuracy[-1].noisy
            assert pd.values["teacher_label_correction"][i, j] == sol.accuracy[0].all
            assert pd.values["fresh"][i, j] == sol.fresh_accuracy[-1]
            assert pd.values["pll_label_correction"][i, j] == sol.pll_accuracy.all
            assert pd.values["pll_fresh"][i, j] == sol.pll_fresh_accuracy
            right = np.flatnonzero(sol.all_right())
            least = right[0] + 1 if right.size else math.nan
            np.testing.assert_equal(pd.boundary["least_round"][i, j], least)


def test_exact_counts_match_block_solve_with_counts():
    pd = phase_diagram(eta=[0.3, 0.55], rounds=[1, 2, 3], counts="exact",
                       **{**BASE, "n_per_class": 7})
    counts = np.stack([noise.exact_counts(7, row, c)
                       for c, row in enumerate(noise.symmetric(4, 0.55))])
    sol = BlockModel(4, 7, 0.4, 0.1).solve(counts=counts, lam=2e-4, rounds=3)
    np.testing.assert_array_equal(pd.values["label_correction"][1],
                                  [a.all for a in sol.accuracy])


def test_exact_and_linear_least_rounds_where_theory_readme_says():
    """Exact least round = t* for λ ≥ 1e-2; it differs somewhere for λ ≤ 1e-4."""
    eta = np.linspace(0.05, 0.7, 8)
    kwargs = dict(eta=eta, rounds=40, c=0.4, d=0.1, n_classes=4, n_per_class=100,
                  pll_topk=None)
    big = phase_diagram(lam=[1e-2, 1e-1], **kwargs)
    np.testing.assert_array_equal(big.boundary["least_round"], big.boundary["t_star"])
    small = phase_diagram(lam=[1e-5, 1e-4], **kwargs)
    differs = ~np.isclose(small.boundary["least_round"], small.boundary["t_star"])
    assert differs.any()
    linear = phase_diagram(lam=[1e-5, 1e-4], method="linear", **kwargs)
    finite = linear.boundary["t_star"] <= 40
    np.testing.assert_array_equal(linear.boundary["least_round"][finite],
                                  linear.boundary["t_star"][finite])


def test_n_jobs_two_gives_identical_values():
    kwargs = dict(eta=[0.1, 0.4, 0.6], lam=[1e-4, 1e-3], rounds=4, c=0.4, d=0.1,
                  n_classes=4, n_per_class=100)
    one, two = phase_diagram(**kwargs), phase_diagram(**kwargs, n_jobs=2)
    for key in one.values:
        np.testing.assert_array_equal(one.values[key], two.values[key])
    for key in one.boundary:
        np.testing.assert_array_equal(one.boundary[key], two.boundary[key])


# ---------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------

def _labelavg(*args, cwd):
    return subprocess.run([sys.executable, "-m", "labelavg", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=120)


def test_cli_phase_end_to_end(tmp_path):
    out = tmp_path / "ph"
    res = _labelavg("phase", "--axes", "eta", "rounds", "--eta", "0:0.6:4",
                    "--rounds", "1:3", "--lam", "1e-3", "--out", str(out), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    with open(out / "phase.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 and {"eta", "rounds", "t_star", "least_round"} <= set(rows[0])
    assert float(rows[0]["label_correction"]) == 1.0         # η = 0
    assert (out / "phase_label_correction.png").stat().st_size > 0
    assert (out / "phase_label_correction.pdf").stat().st_size > 0


def test_cli_phase_lambda_map_writes_least_round(tmp_path):
    res = _labelavg("phase", "--eta", "0.2,0.5", "--lam", "log:1e-3:1e-1:3",
                    "--rounds", "5", "--method", "linear", "--out", str(tmp_path),
                    cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "least_round.png").stat().st_size > 0


@pytest.mark.parametrize("args", [["--eta", "0.5"], ["--lam", "-1"], ["--eta", "1:x"],
                                  ["--rounds", "5:2"], ["--noise", "nope"]])
def test_cli_phase_bad_arguments_exit_2(tmp_path, args):
    res = _labelavg("phase", *args, "--no-figure", "--out", str(tmp_path), cwd=tmp_path)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) <= 2


def test_integer_axes_refuse_fractions_and_binary_points_skip_pll():
    with pytest.raises(TypeError, match="n_classes must be an integer"):
        phase_diagram(eta=0.3, rounds=[1, 2], lam=1e-3, c=0.4, d=0.1,
                      n_classes=[3.7, 4], n_per_class=20)
    with pytest.raises(TypeError, match="n_classes must be an integer"):
        phase_diagram(eta=[0.1, 0.3], rounds=[1, 2], lam=1e-3, c=0.4, d=0.1,
                      n_classes=3.5, n_per_class=20)
    pd = phase_diagram(eta=0.3, rounds=[1, 2], lam=1e-3, c=0.4, d=0.1,
                       n_classes=[2, 3], n_per_class=20, pll_topk=2)
    pll, axis = pd.values["pll_label_correction"], pd.axes.index("n_classes")
    assert np.all(np.isnan(np.take(pll, 0, axis=axis)))      # K = 2: no top-2 PLL
    assert not np.any(np.isnan(np.take(pll, 1, axis=axis)))


def test_issue_8_example_has_no_false_collapse():
    # outputs approach uniform (margins ~1e-17 at t = 30, all positive in an
    # 80-digit solve): every round is 100% right or undecided, never 0
    pd = phase_diagram(eta=[0.1, 0.3, 0.5], rounds=range(1, 31), lam=5e-2, c=0.4,
                       d=0.1, n_classes=4, n_per_class=100)
    for key in ("label_correction", "fresh"):
        vals = pd.values[key]
        assert np.all((vals == 1.0) | np.isnan(vals)), key
