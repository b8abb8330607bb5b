"""More ``labelavg`` subcommands in-process (``main([...])``, so mutation testing traces
them): what ``figures`` prints and writes, the one-line errors of bad input, and the key
words of each ``--help`` a user reads. Expected text is the documented wording."""

import re
from pathlib import Path

import numpy as np
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


# --------------------------------------------------------------------------- probe on tiny files


def _blobs(per_class=10, n_classes=2, dtype=np.float32):
    """Well separated classes: a one-hot direction per class plus small offsets."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(n_classes), per_class)
    x = np.eye(n_classes, 4)[y] + 0.05 * rng.standard_normal((y.size, 4))
    return x.astype(dtype), y


def test_probe_format_table_by_hand():
    from types import SimpleNamespace

    from labelavg.cli.probe import format_table

    # two η × two seeds × (teacher, PLL); accuracies exact in binary
    acc = np.array([[[0.5, 0.75], [0.5, 0.25]], [[1.0, 1.0], [0.5, 1.0]]])
    sweep = SimpleNamespace(etas=(0.2, 0.5), models=("teacher", "PLL"), test_accuracy=acc,
                            noise_rate=np.array([[0.125, 0.375], [0.5, 0.5]]))
    # a cell is right-aligned in 15 characters: neighbours never run together
    assert format_table(sweep).splitlines() == [
        "test acc. (%) " + " " * 10 + "η=0.2" + " " * 10 + "η=0.5",
        "-" * 44,
        "teacher       " + "   50.00 ± 0.00" + "  75.00 ± 25.00",
        "PLL           " + "  50.00 ± 25.00" + "  100.00 ± 0.00",
        "flipped labels" + " " * 10 + "25.0%" + " " * 10 + "50.0%"]


def test_probe_npy_without_test_split_holds_out_a_stratified_share(capsys, tmp_path):
    x, y = _blobs(per_class=10)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    argv = ["probe", "--features", str(tmp_path / "x.npy"), "--labels",
            str(tmp_path / "y.npy"), "--noise", "symmetric", "--eta", "0.2", "--seeds", "1",
            "--rounds", "2", "--lam", "1e-2", "--no-figure"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    # 30% of each class of 10 held out: 3 + 3 test rows, 14 train rows; C = 1/(14·0.01)
    assert out.splitlines()[0] == (f"{tmp_path / 'x.npy'}: N=14 train / 6 test, D=4, K=2, "
                                   "float32; λ=0.01 (C=7.143), symmetric noise")
    assert "3 fits in " in out
    # one stderr line per fit (K = 2: auto top-k is 1, so the PLL student runs)
    fits = re.findall(r"^  η=0\.2 seed=0 (\S+(?: t=2)?) +test +\d+\.\d%  Newton +\d+  "
                      r"residual \d\.\de[-+]\d\d +\d+\.\d\d s$", err, re.M)
    assert fits == ["teacher", "student t=2", "PLL"]
    assert main([*argv, "--test-fraction", "0.5", "--float64"]) == 0
    assert "N=10 train / 10 test, D=4, K=2, float64;" in capsys.readouterr().out


def test_probe_superclass_note_and_singleton_warning(capsys, tmp_path):
    x, y = _blobs(per_class=6, n_classes=3)
    np.savez(tmp_path / "f.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    argv = ["probe", "--features", str(tmp_path / "f.npz"), "--eta", "0.5", "--seeds", "1",
            "--rounds", "1", "--lam", "1e-2", "--pll-topk", "0", "--no-figure"]
    # three orthogonal class means: equal distances, one merge at cut 1 joins all
    assert main([*argv, "--cut", "1"]) == 0
    out, err = capsys.readouterr()
    assert "superclass noise (cut 1: 1 superclasses, sizes [3])" in out
    assert "warning" not in err
    assert main([*argv, "--cut", "0.5"]) == 0
    out, err = capsys.readouterr()
    assert "(cut 0.5: 3 superclasses, sizes [1, 1, 1])" in out
    assert ("labelavg probe: warning: every superclass is a single class, so superclass "
            "noise flips no label; raise --cut") in err


@pytest.mark.parametrize(("extra", "words"), [
    (["--labels", "y.npy"], ["--labels needs --features (a .npy feature file)"]),
    (["--features", "f.npz", "--dataset", "digits_effnet"],
     ["give --features or --dataset, not both"]),
    (["--features", "f.npz", "--lam", "1e300"],
     ["argument --lam: N·λ = 1.2e+301 overflows float32", "; lower --lam or add --float64"]),
    (["--features", "f.npz", "--lam", "1e30"],
     ["argument --lam: at λ = 1e+30 every output is uniform to float32 precision",
      "; lower --lam or add --float64"]),
])
def test_probe_bad_input_exits_2_in_one_line(capsys, tmp_path, monkeypatch, extra, words):
    monkeypatch.chdir(tmp_path)
    x, y = _blobs(per_class=6)
    np.savez(tmp_path / "f.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    assert _status(["probe", *extra, "--noise", "symmetric", "--no-figure"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("labelavg probe: error: ") and err.count("\n") == 1, err
    for text in words:
        assert text in err, err


def test_probe_lam_message_without_float64_hint_in_float64(capsys, tmp_path):
    x, y = _blobs(per_class=6, dtype=np.float64)
    np.savez(tmp_path / "f.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    assert main(["probe", "--features", str(tmp_path / "f.npz"), "--lam", "1e300",
                 "--noise", "symmetric", "--no-figure"]) == 2
    err = capsys.readouterr().err
    assert err.rstrip().endswith("; lower --lam") and "float64" in err


# --------------------------------------------------------------------------- reproduce: the printed table


def test_reproduce_format_gains_by_hand():
    import pandas as pd

    from labelavg.cli.reproduce import format_gains

    rows = [dict(protocol="exact", rule="converged", dataset="digits_effnet", noise="symmetric",
                 eta=0.2, method=m, gain_mean=g, gain_std=s, teacher_accuracy=0.875,
                 plurality="holds", lam_edge=e, teacher_lam_edge="")
            for m, g, s, e in (("t2", 1.5, 0.25, ""), ("pll", -2.0, 0.0, "smallest"))]
    rows.append(dict(rows[0], noise="superclass", eta=0.8, gain_mean=0.0, gain_std=1.0,
                     teacher_accuracy=0.5, plurality="tie", teacher_lam_edge="largest"))
    text = format_gains(pd.DataFrame(rows)).splitlines()
    head = ("dataset" + " " * 15 + "noise" + " " * 15 + "    η" + "  teacher % "
            + " " * 13 + "t2" + " " * 12 + "pll" + "  plurality")
    assert text == ["exact protocol, rule converged:", head, "-" * len(head),
                    "digits_effnet" + " " * 9 + "symmetric" + " " * 11 + "  0.2" + "      87.50 "
                    + "  +1.50 ± 0.25 " + "  -2.00 ± 0.00<" + "  holds",
                    "digits_effnet" + " " * 9 + "superclass" + " " * 10 + "  0.8" + "      50.00>"
                    + "  +0.00 ± 1.00 " + "  tie",
                    "< / >: λ chosen at the smallest / largest value of its grid "
                    "(a wider grid might choose beyond it)"]


def test_reproduce_format_gains_one_block_per_protocol_and_rule():
    import pandas as pd

    from labelavg.cli.reproduce import format_gains

    base = dict(dataset="d", noise="symmetric", eta=0.5, method="t2", gain_mean=0.0,
                gain_std=0.0, teacher_accuracy=1.0, plurality="holds", lam_edge="",
                teacher_lam_edge="")
    gains = pd.DataFrame([dict(base, protocol="authors", rule=r) for r in ("oracle", "last")])
    text = format_gains(gains)
    assert [line for line in text.splitlines() if line.endswith(":")] == [
        "authors protocol, rule oracle:", "authors protocol, rule last:"]


@pytest.mark.parametrize(("argv", "words"), [
    (["--etas", "1"], "--etas must all be in [0, 1), got [1.0]"),
    (["--seeds", "0"], "--seeds must be >= 1, got 0"),
    (["--max-train", "49"], "--max-train must be >= 50, got 49"),
    (["--max-test", "10"], "--max-test must be >= 50, got 10"),
    (["--lams", "0"], "--lams must all be > 0, got [0.0]"),
    (["--cut", "0"], "--cut must be in (0, 1], got 0.0"),
    (["--cut", "1.5"], "--cut must be in (0, 1], got 1.5"),
    (["--lr", "0"], "--lr must be > 0, --wds all >= 0 and --epochs >= 1, got 0.0, "
                    "[0.0005, 5e-05, 5e-06], 200"),
    (["--epochs", "0"], "--lr must be > 0, --wds all >= 0 and --epochs >= 1, got 0.5, "
                        "[0.0005, 5e-05, 5e-06], 0"),
    (["--datasets", "nope"], "--datasets: unknown set 'nope'"),
])
def test_reproduce_bad_values_exit_2_in_one_line(capsys, tmp_path, argv, words):
    assert _status(["reproduce", "--no-progress", *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("labelavg reproduce: error: ") and err.count("\n") == 1, err
    assert words in err, err

