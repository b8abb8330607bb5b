"""The ``labelavg`` command end to end (``python -m labelavg``): check, simulate, demo."""

import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from labelavg import noise
from labelavg.block import BlockModel
from labelavg.theorems import full_accuracy, pll_condition

ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def _run(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "labelavg", *args], capture_output=True,
                          text=True, env=ENV, timeout=timeout, check=False)


def _ok(*args):
    proc = _run(*args)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize("command", ["check", "simulate", "demo"])
def test_help(command):
    out = _ok(command, "--help").stdout
    assert out.startswith("usage: labelavg " + command) and "examples:" in out


def test_check_table():
    out = _ok("check", "--n-classes", "4", "--n-per-class", "500", "--c", "0.4",
              "--d", "0.1", "--lam", "1e-5", "--noise", "symmetric", "--eta", "0.5").stdout
    for text in ("Result 3", "margin Δ", "θ = g(μ₁)", "φ = g(μ₂)", "linearised t*",
                 "exact", "gap", "Result 4", "PLL student 100% right"):
        assert text in out
    verdict = full_accuracy(BlockModel(4, 500, 0.4, 0.1), noise.symmetric(4, 0.5), lam=1e-5)
    linear = re.search(r"linearised t\*\s+(\d+)", out).group(1)
    exact = re.search(r"exact \(t ≤ 50\)\s+(\d+)", out).group(1)
    assert (int(linear), int(exact)) == (verdict.min_rounds, verdict.min_rounds_exact)


def test_check_reports_pll_ties():
    out = _ok("check", "--noise", "asymmetric", "--eta", "0.3", "--lam", "0.1").stdout
    assert "fails by ties" in out and "ties count as wrong" in out


def test_check_hierarchical_and_superclass_noise():
    out = _ok("check", "--n-classes", "6", "--superclass-size", "3", "--e", "0.05",
              "--noise", "superclass", "--eta", "0.4").stdout
    assert "hierarchical Gram" in out and "g[superclass]" in out and "Result 4" in out


def _same(a, b):
    if isinstance(b, float) and math.isinf(b):
        return a == b
    if isinstance(b, (float, np.floating)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("noise_name, eta, lam", [("symmetric", 0.5, 2e-4),
                                                   ("asymmetric", 0.3, 0.1),
                                                   ("pair", 0.0, 1e-3)])
def test_check_json_agrees_with_theorems(noise_name, eta, lam):
    doc = json.loads(_ok("check", "--noise", noise_name, "--eta", str(eta), "--lam",
                         str(lam), "--json").stdout)
    model = BlockModel(4, 100, 0.4, 0.1)
    transition = getattr(noise, noise_name)(4, eta)
    np.testing.assert_array_equal(doc["transition"], transition)
    cert = dict(lam=lam, precision="auto")         # check certifies ("auto")
    for key, verdict in (("full_accuracy", full_accuracy(model, transition, **cert)),
                         ("pll_condition", pll_condition(model, transition, **cert))):
        got = doc[key]
        for field in ("holds", "margin", "min_rounds", "min_rounds_exact", "gap",
                      "exact_holds", "formula"):
            assert _same(got[field], getattr(verdict, field)), (key, field)
        assert list(got["notes"]) == list(verdict.notes)
        for name, value in verdict.params.items():
            expected = [list(g) for g in value] if isinstance(value, list) else value
            assert _same(got["params"][name], expected), (key, name)


def test_simulate_end_to_end():
    proc = _ok("simulate", "--n-per-class", "20", "--dim", "300", "--rounds", "3",
               "--seeds", "2", "--lam", "1e-3")
    lines = proc.stdout.splitlines()
    names = [line.split("|")[0].strip() for line in lines[3:7]]
    assert names == ["t=1", "t=2", "t=3", "PLL"]
    assert "block all" in lines[1] and "measured c=" in lines[0]
    assert "all converged: True" in lines[-1]
    assert [line.split(" (")[0] for line in proc.stderr.splitlines()] == [
        "seed 0 done", "seed 1 done"]


def test_demo_no_figure():
    lines = _ok("demo", "--no-figure").stdout.splitlines()
    names = [line.split("|")[0].strip() for line in lines if "|" in line][1:]
    assert names == [f"t={t}" for t in range(1, 7)] + ["PLL"]
    assert "figure:" not in "\n".join(lines)


@pytest.mark.parametrize("args, text", [
    (("check", "--eta", "2"), "eta"),
    (("check", "--lam", "-1"), "lam"),
    (("check", "--noise", "uniform"), "--noise"),
    (("check", "--noise", "superclass"), "--superclass-size"),
    (("check", "--c", "0.1", "--d", "0.4"), "argument --d: must"),
    (("check", "--n-classes", "abc"), "--n-classes"),
    (("simulate", "--eta", "2", "--seeds", "1"), "eta"),
    (("simulate", "--lam", "-1", "--seeds", "1"), "lam"),
    (("simulate", "--noise", "uniform"), "--noise"),
    (("simulate", "--seeds", "0"), "seeds"),
])
def test_errors_exit_2_with_one_line(args, text):
    proc = _run(*args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0] and "error" in lines[0], proc.stderr


def test_failed_computation_exits_1_with_one_line(monkeypatch, capsys):
    import warnings

    import labelavg.cli.demo as demo
    from labelavg.cli import main

    def failing(args):
        warnings.warn("solver struggled", RuntimeWarning)
        raise RuntimeError("did not converge")

    monkeypatch.setattr(demo, "run", failing)
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    assert main(["demo"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["labelavg demo: warning: solver struggled",
                   "labelavg demo: failed: did not converge"]


def test_closed_stdout_gives_no_traceback():
    proc = subprocess.Popen([sys.executable, "-m", "labelavg", "check"], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                     # the reader goes away, as with `| head`
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_version():
    from labelavg.cli import version

    out = _ok("--version").stdout.strip()
    assert out == f"labelavg {version()}" and re.fullmatch(r"labelavg \d+\.\d+.*", out)


@pytest.mark.parametrize("args", [(), ("check",), ("demo",), ("simulate",), ("phase",),
                                  ("probe",), ("figures",)])
def test_help_text_is_rendered(args):
    out = _ok(*args, "--help").stdout
    assert "%%" not in out and "``" not in out
    if not args:
        assert "exit status" in out and "--version" in out


def test_probe_on_a_shipped_image_set(tmp_path):
    """``probe --dataset`` loads that shipped set: its sizes and K appear in the header."""
    from labelavg.datasets import load

    data = load("digits_effnet")
    out = _ok("probe", "--dataset", "digits_effnet", "--lam", "1e-3", "--noise", "symmetric",
              "--eta", "0.5", "--seeds", "1", "--rounds", "2", "--no-figure")
    header = out.stdout.splitlines()[0]
    assert header.startswith("digits_effnet:")
    assert f"N={data.x_train.shape[0]} train / {data.x_test.shape[0]} test" in header
    assert f"K={data.n_classes}" in header


def test_probe_refuses_dataset_with_features(tmp_path):
    out = _run("probe", "--dataset", "digits_effnet", "--features", "x.npy")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "--features or --dataset" in out.stderr
