"""The ``labelavg`` command in-process (``main([...])``): behaviours that sampled mutmut
mutants of ``labelavg/cli`` changed without any test failing (issue 20).

Each test pins what a user sees -- an exit status, a message, a printed number, a file --
against a hand count, a closed form or the library API called directly. Problem sizes are
tiny (K = 2..4, one or two rounds), so every test takes well under a second.
"""

import errno
import importlib.metadata
import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import labelavg
from labelavg import _checks
from labelavg.cli import main

ROOT = Path(__file__).resolve().parents[1]
GIB = 2 ** 30


def _run(capsys, *argv):
    """(exit status, stdout, stderr) of ``labelavg ARGV`` run in-process."""
    try:
        status = main(list(argv))
    except SystemExit as stop:          # argparse: --help, bad flags
        status = stop.code
    out, err = capsys.readouterr()
    return status, out, err


def _row(out, label):
    """The value printed after ``label`` in a ``check`` table."""
    return re.search(re.escape(label) + r"\s+(.+)$", out, re.M).group(1).strip()


@pytest.fixture
def memory_16gib(monkeypatch):
    """This machine has 16 GiB, so that refusals do not depend on the test machine."""
    monkeypatch.setattr(_checks, "physical_memory", lambda: 16 * GIB)


# --------------------------------------------------------------------------- labelavg.cli


def test_broken_pipe_exits_1_and_silences_stdout(monkeypatch, tmp_path):
    """Standard output closed early (``labelavg check | head``): exit status 1, and stdout
    is pointed at /dev/null so that the flush at exit does not fail again -- a later write
    to the old descriptor lands nowhere."""
    import labelavg.cli.demo as demo

    def reader_went_away(args):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    target = tmp_path / "stdout.txt"
    with open(target, "w") as stdout:
        monkeypatch.setattr(demo, "run", reader_went_away)
        monkeypatch.setattr("sys.stdout", stdout)
        assert main(["demo"]) == 1
        os.write(stdout.fileno(), b"after the pipe closed\n")
    assert target.read_text() == ""


def test_out_of_memory_is_one_line_on_stderr(monkeypatch, capsys):
    """A MemoryError in the work: exit status 1 and one line on stderr, nothing on stdout."""
    import labelavg.cli.demo as demo

    def too_big(args):
        raise MemoryError
    monkeypatch.setattr(demo, "run", too_big)
    status, out, err = _run(capsys, "demo")
    assert (status, out, err) == (1, "", "labelavg demo: failed: out of memory\n")


def _source_version():
    text = (ROOT / "labelavg" / "_version.py").read_text()
    return re.search(r'__version__ = "([^"]+)"', text).group(1)


def test_version_is_the_package_version_even_if_metadata_differs(monkeypatch, capsys):
    """``labelavg --version`` reports ``labelavg.__version__`` (the single source,
    labelavg/_version.py), not stale installed metadata of a development checkout."""
    from labelavg.cli import version

    monkeypatch.setattr(importlib.metadata, "version", lambda name: "9.9.9.stale")
    assert version() == _source_version()
    status, out, _ = _run(capsys, "--version")
    assert status == 0 and out == f"labelavg {_source_version()}\n"


def test_version_falls_back_to_installed_metadata(monkeypatch):
    """Without ``labelavg.__version__`` the version comes from the installed distribution
    named ``labelavg``; with none installed it is ``unknown``."""
    from labelavg.cli import version

    installed = importlib.metadata.version("labelavg")
    monkeypatch.delattr(labelavg, "__version__")
    assert version() == installed

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert version() == "unknown"


# --------------------------------------------------------------------------- labelavg.cli._args


def test_time_refusal_in_days_names_seeds_first(capsys, memory_16gib):
    """``simulate --seeds 3e8``: at least 1 ms per round and seed (the documented lower
    bound), 3e8 × 1 × 1e-3 s = 3e5 s = 3.47 days > the 24 h limit; the seeds outnumber
    the rounds, so --seeds is named first, then --rounds; K = 4 costs only the 1 ms floor
    per round, so --n-classes comes last."""
    status, out, err = _run(capsys, "simulate", "--seeds", "300000000", "--rounds", "1")
    days = 300000000 * 1 * 1e-3 / 86400
    assert status == 2 and out == ""
    assert err == (f"labelavg simulate: error: argument --seeds: 300000000 point(s) × "
                   f"1 round(s) at K = 4 needs at least {days:.3g} days, more than the "
                   "24 h this command starts; lower --seeds or --rounds or --n-classes\n")


def test_time_refusal_of_a_phase_grid_names_its_axes_first(capsys, tmp_path, memory_16gib):
    """A phase grid of 10⁴ × 10⁴ = 10⁸ points read at one round: 10⁸ × 1e-3 s = 27.8 h
    > 24 h. The grid's axes set the points, which outnumber the rounds: the message
    blames --eta and offers --lam, then --rounds; K = 4 (1 ms floor per round) last."""
    status, out, err = _run(capsys, "phase", "--eta", "0:0.5:10000",
                            "--lam", "log:1e-5:1e-2:10000", "--rounds", "1", "--no-figure",
                            "--out", str(tmp_path / "ph"))
    hours = 10 ** 8 * 1e-3 / 3600
    assert status == 2 and out == ""
    assert err == (f"labelavg phase: error: argument --eta: 100000000 point(s) × "
                   f"1 round(s) at K = 4 needs at least {hours:.3g} h, more than the 24 h "
                   "this command starts; lower --eta or --lam or --rounds or --n-classes\n")
    assert not (tmp_path / "ph").exists()


def test_memory_refusal_of_result_3_ends_with_the_flag(capsys, memory_16gib):
    """``check --n-classes 100000`` on 16 GiB: Result 3's solver does not fit; the one-line
    refusal ends with the flag to lower and nothing after it (only the PLL student's
    refusal offers ``--pll-topk 0``)."""
    status, out, err = _run(capsys, "check", "--n-classes", "100000")
    assert status == 2 and out == ""
    assert re.fullmatch(r"labelavg check: error: argument --n-classes: K = 100000, 50 "
                        r"round\(s\) \(reduced block solver on \d+ group\(s\)\) needs about "
                        r"\S+ \S+ of memory, more than this machine's 16\.0 GiB; lower "
                        r"--n-classes\n", err), err


def test_grid_pll_topk_exempts_k2_points_of_a_k_list(capsys, tmp_path):
    """``sweep --n-classes 2,3 --pll-topk 2``: legal (K = 2 points skip the PLL student,
    K = 3 needs k <= 2); the table equals the library sweep, with NaN PLL columns at K = 2
    only. ``--pll-topk 3`` is refused for the K = 3 points."""
    from labelavg.sweep import sweep

    path = tmp_path / "s.csv"
    status, out, err = _run(capsys, "sweep", "--n-classes", "2,3", "--pll-topk", "2",
                            "--eta", "0.2", "--lam", "1e-2", "--rounds", "2",
                            "--method", "linear", "--out", str(path))
    assert status == 0, err
    assert out.startswith(f"2 points x 2 rounds -> {path}")
    table = pd.read_csv(path)
    direct = sweep(n_classes=[2, 3], n_per_class=100, c=0.4, d=0.1, lam=1e-2, eta=0.2,
                   noise=["symmetric"], rounds=2, method="linear", pll_topk=2)
    np.testing.assert_allclose(table["pll_fresh"].to_numpy(float),
                               direct["pll_fresh"].to_numpy(float), rtol=1e-12)
    assert list(table["pll_fresh"].isna()) == [True, True, False, False]
    status, out, err = _run(capsys, "sweep", "--n-classes", "2,3", "--pll-topk", "3",
                            "--eta", "0.2", "--rounds", "2", "--out", str(path))
    assert status == 2
    assert err == ("labelavg sweep: error: argument --pll-topk: must be in 1..K-1 = 1..2 "
                   "for K = 3, got 3\n")


def test_precision_auto_spelled_out_is_the_check_default(capsys):
    """``check --precision auto`` is accepted and, at K <= 8, prints exactly what the
    default (auto up to K = 8) prints."""
    argv = ["check", "--n-classes", "3", "--rounds", "2", "--eta", "0.2"]
    status, default, err = _run(capsys, *argv)
    assert status == 0, err
    status, auto, err = _run(capsys, *argv, "--precision", "auto")
    assert status == 0, err
    assert auto == default and "certified (proof, not float64)  yes" in auto


# --------------------------------------------------------------------------- labelavg.cli.check


def test_hierarchical_check_with_the_wrong_plurality_never_reaches_100(capsys):
    """Hierarchical Gram (K = 4, m = 2, e = 0.05), symmetric η = 0.8: T[c, c] = 0.2 is
    below T[c, j] = 0.8/3 for every class (Δ = 0.2 − 0.8/3 < 0), so no round is all right
    and, with nothing undecided, the scan says NO (not "undecided"). The JSON names the
    counts it used, the population histogram n*T."""
    argv = ["check", "--n-classes", "4", "--superclass-size", "2", "--e", "0.05",
            "--eta", "0.8", "--rounds", "2"]
    status, out, err = _run(capsys, *argv)
    assert status == 0, err
    assert _row(out, "exact reaches 100%") == "NO"
    assert _row(out, "least rounds, exact (t ≤ 2)") == "—"
    assert float(_row(out, "margin Δ = min (T[c,c] − T[c,j])")) == pytest.approx(
        0.2 - 0.8 / 3, abs=5e-7)
    status, out, err = _run(capsys, *argv, "--json")
    assert status == 0, err
    doc = json.loads(out)["full_accuracy"]
    assert doc["exact_holds"] is False and doc["min_rounds_exact"] is None
    assert doc["params"]["histogram"] == "n*T"


def test_check_lists_the_groups_whose_teacher_top_k_misses_the_true_class(capsys):
    """K = 3, λ = 1e-6, symmetric η = 0.3, --pll-topk 1: the nearly unregularised teacher
    reproduces the given labels (label-correction accuracy 1 − η = 0.7), so its top-1 on
    every noisy group (true c, given j ≠ c) is j: all six off-diagonal groups are listed."""
    status, out, err = _run(capsys, "check", "--n-classes", "3", "--pll-topk", "1",
                            "--lam", "1e-6", "--eta", "0.3", "--rounds", "2")
    assert status == 0, err
    assert _row(out, "teacher label-correction accuracy") == "0.7"
    groups = [(c, j) for c in range(3) for j in range(3) if j != c]
    assert _row(out, "teacher top-k misses the true class") == str(groups)


# --------------------------------------------------------------------------- labelavg.cli.demo


@pytest.mark.parametrize(("k", "n", "flag"), [(4, 10, "--n-per-class"),
                                              (20, 2, "--n-classes")], ids=["n", "K"])
def test_demo_memory_refusal_names_n_and_the_larger_flag(capsys, monkeypatch, k, n, flag):
    """On a machine of 50,000 bytes, demo at N = K·n = 40 needs four float64 N×N arrays,
    4 · 8 · 40² = 51,200 bytes = 50.0 KiB (> 48.8 KiB): refused before any work, blaming
    the larger of K and n."""
    monkeypatch.setattr(_checks, "physical_memory", lambda: 50_000)
    status, out, err = _run(capsys, "demo", "--n-classes", str(k), "--n-per-class", str(n),
                            "--no-figure")
    assert status == 2 and out == ""
    assert err == (f"labelavg demo: error: argument {flag}: demo at N = K·n = 40 (N×N Gram) "
                   f"needs about {4 * 8 * 40 ** 2 / 1024:.1f} KiB of memory, more than this "
                   f"machine's {50_000 / 1024:.1f} KiB; lower --n-classes or --n-per-class\n")


# --------------------------------------------------------------------------- labelavg.cli.figures


def test_figures_help_names_the_only_values_name(capsys, monkeypatch):
    """``figures --help``: --only takes one or more figure NAMEs."""
    monkeypatch.setenv("COLUMNS", "1000")
    status, out, _ = _run(capsys, "figures", "--help")
    assert status == 0
    assert "[--only NAME [NAME ...]]" in out
    assert re.search(r"^  --only NAME \[NAME \.\.\.\]\s+build only these figures", out, re.M)


# --------------------------------------------------------------------------- labelavg.cli.phase


def test_phase_progress_bar_on_request(capsys, tmp_path):
    """A 2 × 2 grid over η and λ: ``--progress`` draws a bar on stderr up to 4/4 points
    even when stderr is not a terminal; without it stderr stays empty."""
    argv = ["phase", "--eta", "0.2,0.5", "--lam", "1e-3,1e-2", "--rounds", "2",
            "--method", "linear", "--no-figure"]
    status, out, err = _run(capsys, *argv, "--out", str(tmp_path / "a"))
    assert status == 0 and err == ""
    status, out, err = _run(capsys, *argv, "--progress", "--out", str(tmp_path / "b"))
    assert status == 0 and "4/4" in err


def test_phase_figures_are_the_quantity_map_and_the_least_round_map(capsys, tmp_path,
                                                                    monkeypatch):
    """Without --no-figure, phase saves the map of ``--quantity`` as DIR/phase_QUANTITY and,
    when t is not an axis, the least-round map as DIR/least_round, each drawn from the
    computed diagram, and prints each path. (The plotting itself is replaced by recorders:
    matplotlib takes seconds here; tests/test_plot_content.py checks the drawings.)"""
    from labelavg import plot

    saved = []
    monkeypatch.setattr(plot, "phase_map", lambda diagram, quantity: ("map", diagram, quantity))
    monkeypatch.setattr(plot, "least_round_map", lambda diagram: ("least", diagram))
    monkeypatch.setattr(plot, "save", lambda fig, stem: saved.append((fig, Path(stem)))
                        or f"{stem}.png")
    out = tmp_path / "b"
    status, text, err = _run(capsys, "phase", "--eta", "0.2,0.5", "--lam", "1e-3,1e-2",
                             "--rounds", "2", "--method", "linear", "--quantity", "fresh",
                             "--out", str(out))
    assert status == 0, err
    assert [(fig[0], fig[-1] if fig[0] == "map" else None, stem) for fig, stem in saved] == [
        ("map", "fresh", out / "phase_fresh"), ("least", None, out / "least_round")]
    diagram = saved[0][0][1]
    assert saved[1][0][1] is diagram and diagram.axes == ("eta", "lam")
    assert text.splitlines()[-2:] == [f"figure: {out / 'phase_fresh'}.png",
                                      f"figure: {out / 'least_round'}.png"]
    saved.clear()
    status, text, err = _run(capsys, "phase", "--eta", "0.2,0.5", "--rounds", "1:2",
                             "--method", "linear", "--out", str(out))
    assert status == 0, err
    assert [(fig[0], stem) for fig, stem in saved] == [("map", out / "phase_label_correction")]


# --------------------------------------------------------------------------- labelavg.cli.probe


def test_probe_feature_file_errors_name_the_flag(capsys, tmp_path, monkeypatch):
    """A bad --features / --labels file: one line naming the flag (not the library's
    parameter name), exit 2. Labels of 4 rows for features of 3 rows are refused with
    both counts."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "junk.npy").write_text("not numpy")
    np.save(tmp_path / "y.npy", np.array([0, 1, 0, 1]))
    np.save(tmp_path / "x3.npy", np.zeros((3, 2)))
    cases = [(["--features", "junk.npy", "--labels", "y.npy"],
              "argument --features: junk.npy is not a NumPy .npy/.npz file (ValueError)"),
             (["--features", "x3.npy", "--labels", "y.npy"],
              "argument --labels: y_train must have length 3, got 4"),
             (["--features", "missing.npz"], "argument --features: no such file missing.npz")]
    for extra, message in cases:
        status, out, err = _run(capsys, "probe", *extra, "--noise", "symmetric",
                                "--no-figure")
        assert (status, out, err) == (2, "", f"labelavg probe: error: {message}\n")


@pytest.mark.parametrize(("extra", "flag", "fits", "took"), [
    (["--seeds", "10000000"], "--seeds", "2 η × 10000000 seeds × 6 fits",
     f"{2 * 10_000_000 * 6 * 1e-3 / 3600:.3g} h"),
    (["--seeds", "1", "--rounds", "100000000"], "--rounds", "2 η × 1 seeds × 100000001 fits",
     f"{2 * 100_000_001 * 1e-3 / 86400:.3g} days"),
], ids=["seeds", "rounds"])
def test_probe_time_refusal(capsys, extra, flag, fits, took):
    """probe counts η × seeds × (rounds + 1) fits at >= 1 ms each (default η 0.5 0.8):
    a run over 24 h is refused before loading anything, naming the larger of --seeds and
    --rounds and the three flags that shrink it."""
    status, out, err = _run(capsys, "probe", *extra, "--no-figure")
    assert (status, out) == (2, "")
    assert err == (f"labelavg probe: error: argument {flag}: {fits} needs at least {took}, "
                   "more than the 24 h this command starts; lower --seeds, --rounds or --eta\n")


# --------------------------------------------------------------------------- labelavg.cli.reproduce


def test_reproduce_gain_rows_by_hand():
    """The rows of gains.csv for one (noise, η) cell, from hand-made results: per method the
    chosen λ's test accuracy minus the teacher's, in points, mean and sample std over the
    seeds, and T's plurality verdict with its margin -- symmetric K = 10, η = 0.8:
    T[c, c] − T[c, j] = 0.2 − 0.8/9 = 1/9 > 0, so plurality holds. (A full reproduce run
    takes seconds of eigendecompositions; this is the table it writes.)"""
    from labelavg.cli import reproduce

    teacher = {0: 0.50, 1: 0.75}                       # test accuracy per seed
    rows = []
    for method in reproduce.METHODS["exact"]:
        bonus = 0.0 if method == "teacher" else {0: 0.125, 1: 0.0}
        for seed in (0, 1):
            for lam, chosen in ((1e-2, False), (1e-3, True)):
                acc = teacher[seed] + (0 if method == "teacher" else bonus[seed])
                rows.append(dict(dataset="toy", protocol="exact", noise="symmetric", eta=0.8,
                                 rule="converged", method=method, seed=seed, lam=lam,
                                 test_accuracy=acc if chosen else 0.0, chosen=chosen))
    result = dict(rows=rows, set=dict(dataset="toy"),
                  plurality={("symmetric", 0.8): reproduce._plurality("symmetric", 10, 0.8,
                                                                      None)})
    gains = reproduce._gain_rows(result)
    assert [g["method"] for g in gains] == ["t2", "t3", "t4", "t5", "pll", "pll_gce"]
    for g in gains:
        # differences 12.5 and 0 points: mean 6.25, sample std 12.5/√2
        assert g["gain_mean"] == pytest.approx(6.25, rel=1e-12)
        assert g["gain_std"] == pytest.approx(12.5 / math.sqrt(2), rel=1e-12)
        assert (g["dataset"], g["n_seeds"], g["lam"], g["lam_edge"]) == ("toy", 2, 1e-3,
                                                                          "smallest")
        assert g["teacher_accuracy"] == pytest.approx(0.625, rel=1e-12)
        assert g["plurality"] == "holds"
        assert g["plurality_margin"] == pytest.approx(1 / 9, rel=1e-12)


# --------------------------------------------------------------------------- labelavg.cli.simulate


@pytest.mark.filterwarnings("ignore:.*undecided:RuntimeWarning")
def test_simulate_pair_noise_with_exact_labels_equals_the_library(capsys):
    """``simulate --noise pair --labels exact`` runs (both are documented choices); the
    header says so, the table's column heads are the documented ones, and the
    label-correction cells equal :func:`labelavg.simulate.simulate` called directly."""
    from labelavg.simulate import simulate

    status, out, err = _run(capsys, "simulate", "--n-classes", "3", "--n-per-class", "4",
                            "--dim", "30", "--rounds", "2", "--seeds", "2", "--noise", "pair",
                            "--eta", "0.25", "--labels", "exact", "--lam", "1e-2")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("Gaussian mixture K=3 n=4 D=30 (requested c=0.4 d=0.1; ")
    assert lines[0].endswith("pair η=0.25 (exact labels), λ=0.01")
    assert lines[1] == (" fit | label-corr all" + " " * 7 + "clean" + " " * 7 + "noisy | "
                        + " " * 7 + "test || " + "  block all" + " " * 7 + "clean"
                        + " " * 7 + "noisy | " + " " * 7 + "test")
    direct = simulate(n_classes=3, n_per_class=4, dim=30, c=0.4, d=0.1, eta=0.25, lam=1e-2,
                      rounds=2, noise="pair", labels="exact", seeds=(0, 1))
    rows = {line.split("|")[0].strip(): line for line in lines[3:6]}
    expected = {"t=1": direct.mean("accuracy")[0], "t=2": direct.mean("accuracy")[1],
                "PLL": direct.mean("pll_accuracy")}
    for name, means in expected.items():
        cells = re.findall(r"(\d\.\d{3})±", rows[name].split("|")[1])
        assert [float(x) for x in cells] == pytest.approx(list(means), abs=5e-4)


# --------------------------------------------------------------------------- labelavg.cli.sweep


def test_sweep_counts_choices(capsys, tmp_path):
    """``sweep --counts`` takes expected or exact: exact equals the library sweep with
    integer-rounded counts; any other value is an argparse error naming both choices."""
    from labelavg.sweep import sweep

    path = tmp_path / "s.csv"
    status, out, err = _run(capsys, "sweep", "--counts", "exact", "--n-per-class", "10",
                            "--eta", "0.25", "--lam", "1e-2", "--rounds", "2",
                            "--method", "linear", "--out", str(path))
    assert status == 0, err
    direct = sweep(n_classes=4, n_per_class=10, c=0.4, d=0.1, lam=1e-2, eta=0.25,
                   noise=["symmetric"], rounds=2, method="linear", counts="exact")
    np.testing.assert_allclose(pd.read_csv(path)["label_correction"].to_numpy(float),
                               direct["label_correction"].to_numpy(float), rtol=1e-12)
    status, out, err = _run(capsys, "sweep", "--counts", "rounded", "--out", str(path))
    assert (status, out) == (2, "")
    assert err == ("labelavg sweep: error: argument --counts: invalid choice: "
                   "'rounded' (choose from 'expected', 'exact')\n")


def test_reproduce_authors_superclasses_use_the_cut(capsys, tmp_path):
    """``reproduce --cut 0.5``: sets.csv's ``superclasses_authors`` is the authors' recipe
    (:func:`labelavg.authors.authors_superclasses`) on the fitted rows' mean class
    correlation cut at 0.5 -- not at the default 0.8, which merges differently here.
    (One epoch of the authors' SGD on 100 rows: about a second.)"""
    from labelavg import datasets
    from labelavg.authors import authors_superclasses
    from labelavg.cli import reproduce
    from labelavg.probe import class_correlation

    out = tmp_path / "o"
    status, text, err = _run(capsys, "reproduce", "--protocol", "authors", "--epochs", "1",
                             "--datasets", "digits_effnet", "--seeds", "1", "--max-train",
                             "100", "--max-test", "50", "--etas", "0.8", "--wds", "5e-4",
                             "--cut", "0.5", "--no-progress", "--no-figure", "--out", str(out))
    assert status == 0, err
    data = reproduce._subsample(datasets.load("digits_effnet"), 100, 50)
    fit, _ = reproduce._validation_split(data.y_train.size)
    mean = np.asarray(class_correlation(data.x_train[fit], data.y_train[fit]).mean)

    def names(cut):
        ids = authors_superclasses(mean, cut)
        groups = ["+".join(data.class_names[k] for k in np.flatnonzero(ids == c))
                  for c in range(ids.max() + 1)]
        return " | ".join(g for g in groups if "+" in g)
    sets = pd.read_csv(out / "sets.csv")
    assert names(0.5) != names(0.8)
    assert sets["superclasses_authors"].item() == names(0.5)
    # the 20 % validation split (rounded) of the subsampled train rows, counted apart
    assert sets["n_validation"].item() == round(0.2 * data.y_train.size)
    assert sets["n_train"].item() == data.y_train.size - round(0.2 * data.y_train.size)


def test_time_refusal_blames_k_first_where_its_solve_costs_more_than_the_floor(monkeypatch):
    """At K = 1000 on the dense layout one round costs about a minute (10 flops per
    element of the solver's work arrays at 1e12 flop/s, far above the 1 ms floor):
    2 points × 1000 rounds exceed 24 h, and the refusal names --n-classes first, then
    the larger of rounds and points. At K = 4 the floor rules and K comes last."""
    from labelavg.block import _solver_bytes, planned_groups
    from labelavg.cli import _args

    monkeypatch.setattr(_checks, "physical_memory", lambda: 2 ** 80)
    per_round = 10 * _solver_bytes(1, 1000, planned_groups(1000, None), 1) / 8 / 1e12
    assert per_round > 1e-3
    with pytest.raises(ValueError) as refused:
        _args.check_block_solver([1000], 1000, points=2, points_flags=["--seeds"])
    assert str(refused.value).startswith("argument --n-classes: 2 point(s) × 1000 round(s) "
                                         "at K = 1000 needs at least ")
    assert str(refused.value).endswith("; lower --n-classes or --rounds or --seeds")
    with pytest.raises(ValueError) as refused:
        _args.check_block_solver([4], 10 ** 8, points=3, points_flags=["--seeds"])
    assert str(refused.value) == ("argument --rounds: 3 point(s) × 100000000 round(s) at "
                                  f"K = 4 needs at least {3e8 * 1e-3 / 86400:.3g} days, more "
                                  "than the 24 h this command starts; lower --rounds or "
                                  "--seeds or --n-classes")


def test_phase_log_grid_of_an_integer_axis_reads_integers(capsys, tmp_path):
    """``--n-classes log:2:8:3`` is K = 2, 4, 8 (geomspace gives 3.999999999999999 for 4:
    round-off, read as the integer); ``log:2:10:3`` (2, 4.47, 10) is refused."""
    out = tmp_path / "ph"
    status, _, err = _run(capsys, "phase", "--axes", "n_classes", "eta", "--n-classes",
                          "log:2:8:3", "--eta", "0.1,0.2", "--rounds", "1", "--no-figure",
                          "--out", str(out))
    assert status == 0, err
    table = pd.read_csv(out / "phase.csv")
    assert table["n_classes"].tolist() == [2, 2, 4, 4, 8, 8]
    assert table["n_classes"].dtype.kind == "i"
    status, _, err = _run(capsys, "phase", "--n-classes", "log:2:10:3", "--no-figure",
                          "--out", str(tmp_path / "no"))
    assert status == 2
    assert err == ("labelavg phase: error: --n-classes 'log:2:10:3': this parameter needs "
                   "integer values (forms: X, X,Y,..., A:B, A:B:N, log:A:B:N; see --help)\n")


def test_phase_help_keeps_the_examples_lines(capsys):
    """``labelavg phase --help`` prints its examples one command per line, as written
    (argparse's default formatter would re-wrap them into one paragraph)."""
    from labelavg.cli import phase

    status, out, _ = _run(capsys, "phase", "--help")
    assert status == 0
    assert phase.EXAMPLES.strip() in out
    assert "\n  labelavg phase --eta 0.5 --rounds 1:10 --c 0.2,0.3,0.4,0.6 --method linear\n" \
        in out


def test_phase_superclass_memory_refusal_counts_k_times_m_groups(capsys, tmp_path, monkeypatch):
    """Superclass noise with superclasses of m = 2 at K = 4 is planned on K·m = 8 groups
    (block.planned_groups' docstring), not the dense K² = 16: the memory refusal on a
    1 KiB machine says so."""
    monkeypatch.setattr(_checks, "physical_memory", lambda: 1024)
    status, out, err = _run(capsys, "phase", "--noise", "superclass", "--superclass-size",
                            "2", "--no-figure", "--out", str(tmp_path / "ph"))
    assert (status, out) == (2, "")
    assert "(reduced block solver on 8 group(s))" in err, err


def test_memory_refusal_blames_rounds_where_one_round_fits(monkeypatch):
    """When one round's work arrays fit in memory but all rounds' do not, the refusal
    blames --rounds; when not even one round fits, it blames --n-classes."""
    from labelavg.block import _solver_bytes, planned_groups
    from labelavg.cli import _args

    groups = planned_groups(4, None)
    one, two = _solver_bytes(1, 4, groups, 1), _solver_bytes(1, 4, groups, 2)
    assert one < two
    monkeypatch.setattr(_checks, "physical_memory", lambda: one)
    with pytest.raises(ValueError, match=r"^argument --rounds: K = 4, 5 round\(s\) "
                                         r".*; lower --rounds$"):
        _args.check_block_solver([4], 5)
    monkeypatch.setattr(_checks, "physical_memory", lambda: one - 1)
    with pytest.raises(ValueError, match=r"^argument --n-classes: K = 4, 5 round\(s\) "
                                         r".*; lower --n-classes$"):
        _args.check_block_solver([4], 5)


def test_block_solver_time_estimate_is_per_round(monkeypatch):
    """The time estimate is points × rounds × one round's cost, one round costing 10 flops
    per element of ONE round's work arrays at 1e12 flop/s (K = 1000, dense layout: above
    the 1 ms floor)."""
    from labelavg.block import _solver_bytes, planned_groups
    from labelavg.cli import _args

    monkeypatch.setattr(_checks, "physical_memory", lambda: 2 ** 80)
    per_round = 10 * (_solver_bytes(1, 1000, planned_groups(1000, None), 1) / 8) / 1e12
    assert _args.check_block_solver([1000], 3, points=2) == pytest.approx(6 * per_round,
                                                                           rel=1e-12)


def test_phase_grid_of_one_value_is_legal_and_of_none_refused():
    """``A:B:N`` and ``log:A:B:N`` take N >= 1: N = 1 is the one value A (as numpy's
    linspace/geomspace define it), N = 0 is refused with the count in the message."""
    from labelavg.cli import phase

    assert phase._parse("0.3:0.7:1", float) == [0.3]
    assert phase._parse("log:1e-3:1e-1:1", float) == [1e-3]
    assert phase._parse("2:8:1", int) == [2]
    with pytest.raises(ValueError, match=r"^the number of values must be >= 1, got 0$"):
        phase._parse("0.3:0.7:0", float)


def test_phase_quantity_choices_and_out_default(capsys):
    """Every ``--quantity`` the help lists parses to itself (default label_correction);
    ``--out`` defaults to ./labelavg_phase, as its help says."""
    from labelavg.cli import build_parser

    parser = build_parser()
    for quantity in ("label_correction", "fresh", "pll_label_correction", "pll_fresh"):
        assert parser.parse_args(["phase", "--quantity", quantity]).quantity == quantity
    args = parser.parse_args(["phase"])
    assert (args.quantity, args.out) == ("label_correction", "labelavg_phase")
    status, out, _ = _run(capsys, "phase", "--help")
    assert status == 0 and "output folder (default ./labelavg_phase)" in out
