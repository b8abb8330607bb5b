"""More ``labelavg`` subcommands in-process (``main([...])``, so mutation testing traces
them): what ``figures`` prints and writes, the one-line errors of bad input, and the key
words of each ``--help`` a user reads. Expected text is the documented wording."""

import re
from pathlib import Path

import pytest

from labelavg import figures
from labelavg.cli import main


def _status(argv):
    try:  # argparse errors exit, checks after parsing return the status
        return main(argv)
    except SystemExit as stop:
        return stop.code


def test_figures_quick_builds_one_figure_and_reports_it(capsys, tmp_path):
    assert main(["figures", "--quick", "--only", "fig1_gram", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"building 1 figures into {tmp_path} (quick)"
    assert re.fullmatch(r" *\d+\.\d s  " + re.escape(str(tmp_path / "fig1_gram.png")),
                        lines[1])
    assert re.fullmatch(r"total \d+\.\d s", lines[2]) and len(lines) == 3
    for suffix in (".png", ".pdf"):
        assert (tmp_path / f"fig1_gram{suffix}").stat().st_size > 1000


def test_figures_passes_quick_and_sums_the_seconds(capsys, tmp_path, monkeypatch):
    calls = []

    def fake(out, quick, report, only):
        calls.append((out, quick, only))
        report("a", "a.png", 1.5)
        report("b", "b.png", 2.0)
        return [("a.png", 1.5), ("b.png", 2.0)]

    monkeypatch.setattr(figures, "build_all", fake)
    out = str(tmp_path / "figs")
    assert main(["figures", "--out", out]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"building {len(figures.SCRIPTS)} figures into {out}",
        "   1.5 s  a.png", "   2.0 s  b.png", "total 3.5 s"]
    assert calls == [(out, False, list(figures.SCRIPTS))]
    assert main(["figures", "--quick", "--only", "fig7_least_round", "fig1_gram",
                 "--out", out]) == 0
    assert capsys.readouterr().out.startswith(f"building 2 figures into {out} (quick)\n")
    assert calls[-1] == (out, True, ["fig1_gram", "fig7_least_round"])   # build order


def test_figures_unknown_name_exits_2_in_one_line(capsys, tmp_path):
    assert main(["figures", "--only", "fig9_nope", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("labelavg figures: error: unknown figure(s) ['fig9_nope']")
    assert err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_figures_out_under_a_file_exits_2(capsys, tmp_path):
    (tmp_path / "f").write_text("x")
    assert main(["figures", "--only", "fig1_gram", "--out", str(tmp_path / "f" / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("labelavg figures: error: ") and "--out" in err
    assert err.count("\n") == 1


# --------------------------------------------------------------------------- phase: value forms


@pytest.mark.parametrize(("flag", "text", "values"), [
    ("--rounds", "2:4", [2, 3, 4]),                              # integers, both ends
    ("--eta", "0:0.5:3", [0.0, 0.25, 0.5]),                      # evenly spaced
    ("--lam", "log:1e-4:1e-2:3", [1e-4, 1e-3, 1e-2]),            # log-spaced
    ("--eta", "0.1,0.3,", [0.1, 0.3]),                           # a trailing comma
])
def test_phase_value_forms(capsys, tmp_path, flag, text, values):
    other = ["--eta", "0.2,0.5"] if flag != "--eta" else ["--rounds", "1,2"]
    if flag == "--lam":
        other = ["--eta", "0.2,0.5", "--rounds", "2"]
    assert main(["phase", flag, text, *other, "--method", "linear", "--no-figure",
                 "--out", str(tmp_path)]) == 0
    import pandas as pd

    column = {"--rounds": "rounds", "--eta": "eta", "--lam": "lam"}[flag]
    written = sorted(set(pd.read_csv(tmp_path / "phase.csv")[column]))
    assert written == pytest.approx(values, rel=1e-12)
    out = capsys.readouterr().out
    assert out.startswith("linear phase diagram over ")
    assert f"csv: {tmp_path / 'phase.csv'}" in out and "figure:" not in out


@pytest.mark.parametrize(("argv", "words"), [
    (["--rounds", "3:1"], ["--rounds '3:1'", "integer range 3:1 is empty"]),
    (["--eta", "0:0.5:0"], ["--eta '0:0.5:0'", "the number of values must be >= 1, got 0"]),
    (["--eta", "0:1:2:3"], ["--eta '0:1:2:3'", "expected A:B, A:B:N or log:A:B:N"]),
    (["--n-classes", "2:5:3"], ["--n-classes '2:5:3'", "this parameter needs integer values"]),
    (["--eta", "x"], ["--eta 'x'", "(forms: X, X,Y,..., A:B, A:B:N, log:A:B:N; see --help)"]),
    (["--eta", "0.1,0.2", "--c", "0.3,0.4"],
     ["phase needs exactly two of --eta, --rounds, --lam, --c, --d, --n-classes, "
      "--n-per-class as lists or ranges (the axes), got 3: --eta, --rounds, --c"]),
    (["--eta", "0.3", "--rounds", "2"], ["got 0: none"]),
    (["--eta", "0.1,0.1"], ["argument --eta: an axis needs two or more distinct values"]),
    (["--axes", "eta", "lam"],
     ["argument --axes: eta lam must name the two swept parameters, eta and rounds"]),
])
def test_phase_bad_values_exit_2_in_one_line(capsys, tmp_path, argv, words):
    assert _status(["phase", *argv, "--no-figure", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("labelavg phase: error: ") and err.count("\n") == 1, err
    for text in words:
        assert text in err, err
    assert not (tmp_path / "o").exists()
