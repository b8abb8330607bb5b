"""Outputs are never lost and sizes are checked before any work (issue 17, items 2 and 3).

Every file goes through :func:`labelavg._io.atomic_write` (temporary name in the
same folder, then rename): a writer that fails or is interrupted half-way leaves
the previous file intact and no stray temporary file. Every ``--out`` and every
memory / time estimate is checked before the solver is called: the tests replace
the solvers by functions that fail if called. Runs ``labelavg.cli.main``
in-process; the machine's memory is pinned to 16 GiB so that the verdicts do not
depend on the test machine.
"""

import errno
import importlib
import tomllib
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import labelavg
from labelavg import _checks, _io
from labelavg.cli import main

# the modules (``labelavg.sweep`` is also the name of a function)
block, phase, probe, sweep, theorems = (
    importlib.import_module(f"labelavg.{name}")
    for name in ("block", "phase", "probe", "sweep", "theorems"))

ROOT = Path(__file__).resolve().parents[1]
GIB = 2 ** 30


@pytest.fixture
def no_solver(monkeypatch):
    """Every solver entry point the commands reach fails the test if called."""
    def boom(*args, **kwargs):
        raise AssertionError("the solver ran before the refusal")
    for module, name in ((block, "_solve_batch"), (sweep, "_solve_batch"),
                         (theorems, "_solve_batch"), (sweep, "sweep"),
                         (phase, "phase_diagram"), (probe, "noise_sweep"),
                         (block.BlockModel, "solve")):
        monkeypatch.setattr(module, name, boom)


@pytest.fixture
def memory_16gib(monkeypatch):
    monkeypatch.setattr(_checks, "physical_memory", lambda: 16 * GIB)


def _refused(capsys, argv, *texts):
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2, (argv, out, err)
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    for text in texts:
        assert text in err, (text, err)
    return err


# --------------------------------------------------------------------------- atomic writes


def _partial_writer(tmp):
    Path(tmp).write_text("half a ta")
    raise KeyboardInterrupt


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError(errno.ENOSPC, "No space")])
def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path, error):
    target = tmp_path / "big.csv"
    target.write_text("PREVIOUS RESULTS KEEP")

    def writer(tmp):
        Path(tmp).write_text("29,411 of 300,001 rows")
        raise error
    with pytest.raises(type(error) if isinstance(error, OSError) else error):
        _io.atomic_write(target, writer)
    assert target.read_text() == "PREVIOUS RESULTS KEEP"
    assert [p.name for p in tmp_path.iterdir()] == ["big.csv"]


def test_atomic_write_replaces_and_keeps_the_suffix(tmp_path):
    seen = []
    target = tmp_path / "fig.pdf"
    target.write_text("old")
    _io.atomic_write(target, lambda tmp: (seen.append(tmp), tmp.write_text("new")))
    assert target.read_text() == "new" and seen[0].suffix == ".pdf"
    assert seen[0].parent == tmp_path and seen[0] != target


def test_sweep_interrupted_while_writing_keeps_the_old_table(tmp_path, capsys, monkeypatch):
    import pandas as pd

    target = tmp_path / "big.csv"
    target.write_text("PREVIOUS RESULTS KEEP\n")

    def to_csv(self, path, **kwargs):
        Path(path).write_text("eta,round\n0.1,1\n")
        raise KeyboardInterrupt
    monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)
    status = main(["sweep", "--eta", "0.1", "--lam", "1e-3", "--rounds", "2",
                   "--out", str(target)])
    out, err = capsys.readouterr()
    assert status == 130
    assert err.count("\n") == 1 and "interrupted" in err and "Traceback" not in err
    assert target.read_text() == "PREVIOUS RESULTS KEEP\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]


def test_sweep_disk_full_is_one_line_and_keeps_the_old_table(tmp_path, capsys, monkeypatch):
    import pandas as pd

    target = tmp_path / "big.csv"
    target.write_text("PREVIOUS\n")

    def to_csv(self, path, **kwargs):
        Path(path).write_text("eta")
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)
    status = main(["sweep", "--eta", "0.1", "--lam", "1e-3", "--rounds", "2",
                   "--out", str(target)])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1 and "No space left" in err
    assert target.read_text() == "PREVIOUS\n"


def test_ctrl_c_during_the_work_is_one_line_and_exit_130(capsys, monkeypatch, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(sweep, "sweep", interrupted)
    status = main(["sweep", "--eta", "0.1", "--lam", "1e-3", "--out", str(tmp_path / "s.csv")])
    err = capsys.readouterr().err
    assert status == 130 and err.count("\n") == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_plot_save_interrupted_keeps_the_old_figure(tmp_path, monkeypatch):
    import matplotlib.figure

    from labelavg import plot

    (tmp_path / "f.png").write_bytes(b"OLD PNG")
    original = matplotlib.figure.Figure.savefig

    def savefig(self, fname, **kwargs):
        original(self, fname, **kwargs)          # a whole file under the temporary name
        raise KeyboardInterrupt
    fig = matplotlib.figure.Figure()
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    with pytest.raises(KeyboardInterrupt):
        plot.save(fig, tmp_path / "f")
    assert (tmp_path / "f.png").read_bytes() == b"OLD PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png"]


def test_phase_csv_is_written_atomically(tmp_path, monkeypatch):
    from labelavg.cli import phase

    calls = []
    monkeypatch.setattr(_io, "atomic_write", lambda path, write: calls.append(path) or
                        str(path))
    diagram = labelavg.phase_diagram(eta=[0.1, 0.5], rounds=[1, 2], lam=1e-3, c=0.4, d=0.1,
                                     n_classes=2, n_per_class=1, pll_topk=None)
    phase.write_csv(diagram, tmp_path)
    assert calls == [tmp_path / "phase.csv"]


# --------------------------------------------------------------------------- --out checks


@pytest.mark.parametrize("out, text", [
    ("{tmp}/no/such/dir/e.csv", "does not exist"),
    ("{tmp}", "existing folder"),
    ("{tmp}/e.xlsx", "unknown extension"),
    ("{tmp}/e.json", "unknown extension"),
    ("{tmp}/e", "unknown extension"),
    ("/proc/e.csv", "not writable"),
    ("/dev/full", "not a regular file"),
])
def test_sweep_out_refused_before_any_work(tmp_path, capsys, no_solver, out, text):
    _refused(capsys, ["sweep", "--eta", "0.1", "--lam", "1e-3", "--rounds", "3",
                      "--out", out.format(tmp=tmp_path)], "--out", text)


@pytest.mark.parametrize("command", [
    ["probe", "--dataset", "digits_effnet", "--eta", "0.5", "--seeds", "1", "--rounds", "2"],
    ["phase", "--eta", "0.1,0.5", "--rounds", "1:2"],
    ["demo"], ["reproduce", "--quick"],
])
@pytest.mark.parametrize("out", ["/proc/labelavg_out", "/dev/full"])
def test_folder_out_refused_before_any_work(capsys, no_solver, command, out):
    _refused(capsys, [*command, "--out", out], "--out")


def test_parquet_needs_an_extra(tmp_path, capsys, no_solver):
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert any(dep.startswith("pyarrow") for dep in extras["parquet"])
    pytest.importorskip("pandas")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        _refused(capsys, ["sweep", "--eta", "0.1", "--lam", "1e-3",
                          "--out", str(tmp_path / "s.parquet")], "labelavg[parquet]")


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("argv, flag", [
    (["check", "--n-classes", "100000"], "--n-classes"),
    (["check", "--n-classes", "30000"], "--n-classes"),   # K = 300 runs since the orbit solver
    (["phase", "--n-classes", "100000", "--eta", "0.1,0.5", "--rounds", "1:3"], "--n-classes"),
    (["sweep", "--n-classes", "100000", "--eta", "0.1", "--lam", "1e-3"], "--n-classes"),
    (["sweep", "--n-classes", "20000", "--eta", "0.1", "--lam", "1e-3"], "--n-classes"),
    (["simulate", "--n-classes", "100000", "--n-per-class", "2", "--dim", "10"],
     "--n-classes"),
    (["demo", "--n-classes", "1000", "--no-figure"], "--n-classes"),
    (["check", "--max-rounds", "1e9"], "--rounds"),     # --max-rounds: the old name
])
def test_memory_refused_before_any_work(capsys, no_solver, memory_16gib, tmp_path,
                                        argv, flag):
    if argv[0] in ("phase", "sweep"):
        argv = [*argv, "--out", str(tmp_path / ("s.csv" if argv[0] == "sweep" else "ph"))]
    err = _refused(capsys, argv, f"argument {flag}", "memory", "16.0 GiB")
    assert "lower --n-per-class" not in err or flag == "--n-per-class"


@pytest.mark.parametrize("argv, flag", [
    (["probe", "--seeds", "1e9", "--no-figure"], "--seeds"),
    (["simulate", "--seeds", "1e9"], "--seeds"),
])
def test_time_refused_before_any_work(capsys, no_solver, argv, flag):
    _refused(capsys, argv, f"argument {flag}", "needs at least")


def test_api_memory_errors_name_the_parameter(memory_16gib):
    from labelavg.gram import block_gram
    from labelavg.simulate import simulate

    model = labelavg.BlockModel(10 ** 6, 10, 0.4, 0.1)
    with pytest.raises(ValueError, match=r"n_classes=1000000:? .*needs about .*iB of memory"):
        model.solve(lam=1e-3, rounds=2)
    with pytest.raises(ValueError, match=r"n_classes=100000:? .*memory"):
        labelavg.sweep(n_classes=10 ** 5, lam=1e-3, eta=0.1)
    with pytest.raises(ValueError, match=r"n_classes=100000: .*memory"):
        simulate(n_classes=10 ** 5, n_per_class=2, dim=10, c=0.4, d=0.1, eta=0.1,
                 lam=1e-3, rounds=1)
    with pytest.raises(ValueError, match=r"dim=1000000: .*memory"):
        simulate(n_classes=4, n_per_class=20000, dim=10 ** 6, c=0.4, d=0.1, eta=0.1,
                 lam=1e-3, rounds=1)
    with pytest.raises(ValueError, match=r"n_classes=1000: .*N × N Gram"):
        block_gram(1000, 100, 0.4, 0.1)


# the estimate against tracemalloc's peak: tests/test_scaling.py (the orbit layouts)


def test_smallest_case_passes_the_size_checks(tmp_path, capsys):
    assert main(["check", "--n-classes", "2", "--max-rounds", "1", "--pll-topk", "1"]) == 0
    assert main(["sweep", "--n-classes", "2", "--eta", "0.1", "--lam", "1e-3", "--rounds",
                 "1", "--pll-topk", "0", "--out", str(tmp_path / "s.csv")]) == 0
    assert (tmp_path / "s.csv").read_text().count("\n") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv"]


def test_check_plans_the_pll_student_on_the_dense_layout(capsys, no_solver, memory_16gib):
    """K = 1000: Result 3 fits (orbit layout), the PLL student's one dense round does not;
    refused before any work, naming the flag that skips it."""
    err = _refused(capsys, ["check", "--n-classes", "1000", "--rounds", "2"], "--n-classes")
    assert "--pll-topk 0" in err


def test_check_pll_topk_zero_skips_result_4(capsys):
    assert main(["check", "--n-classes", "3", "--rounds", "2", "--pll-topk", "0"]) == 0
    out = capsys.readouterr().out
    assert "Result 3" in out and "Result 4" not in out
