"""The ``labelavg`` command in-process: behaviours that held-out mutmut mutants of
``labelavg/cli`` (seed 1 sample, issue 20) changed without any test failing.

Each test pins what a user sees -- an exit status, a message, a printed number, a help
text, a written file -- against a hand count or the documented behaviour. Problem sizes
are tiny (K = 2..4, one or two rounds, 100 training rows), so each test is fast.
"""

import json
import re

import numpy as np
import pandas as pd
import pytest

from labelavg.cli import main
from test_mut_h20c import _run


def _help(capsys, monkeypatch, *argv):
    """``labelavg ARGV --help``, whitespace-normalised, one line per flag."""
    monkeypatch.setenv("COLUMNS", "1000")
    status, out, _ = _run(capsys, *argv, "--help")
    assert status == 0
    return re.sub(r"\s+", " ", out)


# --------------------------------------------------------------------------- labelavg


def test_top_level_help_keeps_the_description_lines(capsys, monkeypatch):
    """``labelavg --help`` prints its description (the exit statuses) line by line as
    written, not re-wrapped into one paragraph; bare ``labelavg`` prints the same help."""
    from labelavg.cli import DESCRIPTION

    monkeypatch.setenv("COLUMNS", "80")
    status, out, _ = _run(capsys, "--help")
    assert status == 0
    assert DESCRIPTION.strip() in out
    assert "\nexit status: 0 success; 2 bad arguments, input or output path, or a run too\n" \
        in out
    status, out, err = _run(capsys)
    assert (status, out) == (2, "")
    assert DESCRIPTION.strip() in err


# --------------------------------------------------------------------------- _args.check_time


def test_a_run_of_exactly_24_hours_is_not_refused(capsys):
    """probe's time floor is 1 ms a fit: 1 η × 1 seed × (86,399,999 + 1) fits is exactly
    86,400 s = 24 h, which is not *more* than 24 h, so the run is not refused for time (it
    goes on to the missing --features file); one round more is refused."""
    argv = ["probe", "--eta", "0.5", "--seeds", "1", "--no-figure", "--features",
            "/nonexistent/x.npy"]
    status, out, err = _run(capsys, *argv, "--rounds", "86399999")
    assert (status, out) == (2, "")
    assert err == "labelavg probe: error: argument --features: no such file /nonexistent/x.npy\n"
    status, out, err = _run(capsys, *argv, "--rounds", "86400000")
    assert (status, out) == (2, "")
    assert err.startswith("labelavg probe: error: argument --rounds: 1 η × 1 seeds × "
                          "86400001 fits needs at least ")
    assert err.endswith("more than the 24 h this command starts; lower --seeds, --rounds "
                        "or --eta\n")


# --------------------------------------------------------------------------- check


def _hierarchical_json(capsys):
    status, out, err = _run(capsys, "check", "--n-classes", "4", "--superclass-size", "2",
                            "--e", "0.02", "--eta", "0", "--lam", "1e-3", "--rounds", "2",
                            "--pll-topk", "0", "--json")
    assert status == 0, err
    return json.loads(out)["full_accuracy"]


def test_hierarchical_check_json_names_lam_like_the_block_check(capsys):
    """The hierarchical scan's JSON params carry λ under ``lam``, the key the block
    model's Result 3 uses, with the value of --lam."""
    doc = _hierarchical_json(capsys)
    assert doc["params"]["lam"] == 1e-3
    status, out, err = _run(capsys, "check", "--n-classes", "4", "--lam", "1e-3",
                            "--rounds", "2", "--pll-topk", "0", "--json")
    assert status == 0, err
    assert json.loads(out)["full_accuracy"]["params"]["lam"] == 1e-3


def test_hierarchical_check_certifies_its_exact_verdict_by_default(capsys):
    """At K = 4 <= 8 the default --precision is auto: the hierarchical scan's exact verdict
    (η = 0: the teacher is already all right) is certified, not a float64 claim."""
    doc = _hierarchical_json(capsys)
    assert doc["min_rounds_exact"] == 1 and doc["exact_holds"] is True
    assert doc["certified"] is True
    status, out, err = _run(capsys, "check", "--n-classes", "4", "--superclass-size", "2",
                            "--e", "0.02", "--eta", "0", "--lam", "1e-3", "--rounds", "2",
                            "--pll-topk", "0")
    assert status == 0, err
    assert re.search(r"^ +certified \(proof, not float64\) +yes$", out, re.M)


# --------------------------------------------------------------------------- demo


def test_demo_writes_its_figure_to_labelavg_demo_by_default(capsys, tmp_path, monkeypatch):
    """Without --out, demo's figure goes to ./labelavg_demo/demo_accuracy.png (and .pdf)."""
    monkeypatch.chdir(tmp_path)
    status, out, err = _run(capsys, "demo", "--n-classes", "2", "--n-per-class", "2",
                            "--rounds", "1")
    assert status == 0, err
    assert out.splitlines()[-1] == "figure: labelavg_demo/demo_accuracy.png"
    assert (tmp_path / "labelavg_demo" / "demo_accuracy.png").stat().st_size > 0
    assert (tmp_path / "labelavg_demo" / "demo_accuracy.pdf").stat().st_size > 0


def test_demo_table_header_names_its_columns(capsys):
    """The demo table's header: fit | exact all, clean, noisy | linear all, clean, noisy |
    residual, Newton."""
    status, out, err = _run(capsys, "demo", "--n-classes", "2", "--n-per-class", "2",
                            "--rounds", "1", "--no-figure")
    assert status == 0, err
    head = out.splitlines()[1]
    assert re.fullmatch(r" +fit \| exact all +clean +noisy \| linear all +clean +noisy \| "
                        r"residual +Newton", head), head


# --------------------------------------------------------------------------- phase


def test_phase_help_shows_the_axes_metavars(capsys, monkeypatch):
    """``labelavg phase --help`` shows --axes as taking two values, X and Y."""
    text = _help(capsys, monkeypatch, "phase")
    assert "[--axes X Y]" in text
    assert " --axes X Y order of the two axes (x, y)" in text


# --------------------------------------------------------------------------- probe


def test_probe_counts_every_fit(capsys, tmp_path):
    """2 η × 2 seeds × (teacher, student t=2, PLL) = 12 fits: the summary line says 12,
    and stderr has one progress line per fit."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(2), 10)
    x = (np.eye(2, 4)[y] + 0.05 * rng.standard_normal((y.size, 4))).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    status, out, err = _run(capsys, "probe", "--features", str(tmp_path / "x.npy"),
                            "--labels", str(tmp_path / "y.npy"), "--noise", "symmetric",
                            "--eta", "0.2", "0.4", "--seeds", "2", "--rounds", "2",
                            "--lam", "1e-2", "--no-figure")
    assert status == 0, err
    assert re.search(r"^(\S+) fits in \d+\.\d s$", out, re.M).group(1) == "12"
    assert len(re.findall(r"^  η=0\.[24] seed=[01] ", err, re.M)) == 12


# --------------------------------------------------------------------------- reproduce


def test_reproduce_quick_keeps_an_explicit_seed_count(tmp_path):
    """``reproduce --quick --seeds 1`` on 100 training rows of digits_effnet: --quick
    defaults to 2 seeds, but an explicit --seeds 1 wins (one label draw), and the gain's
    std over that one seed is reported as 0, not NaN. (One test, not a module-scoped
    fixture: mutmut attributes a fixture's calls to the first test that uses it.)"""
    out = tmp_path / "out"
    assert main(["reproduce", "--quick", "--datasets", "digits_effnet", "--seeds", "1",
                 "--max-train", "100", "--max-test", "50", "--lams", "1e-2", "--gce-lams",
                 "1e-2", "--etas", "0.8", "--no-progress", "--no-figure",
                 "--out", str(out)]) == 0
    assert set(pd.read_csv(out / "results.csv").seed) == {0}
    gains = pd.read_csv(out / "gains.csv")
    assert set(gains.n_seeds) == {1}
    assert len(gains) == 4 * 6                  # 4 noises × 1 η × 6 methods vs the teacher
    assert (gains.gain_std == 0.0).all()


def test_reproduce_authors_sets_csv_records_device_dtype_and_seconds(tmp_path, capsys):
    """The authors' protocol records device, dtype and seconds per set in sets.csv (the
    command's documentation); the exact protocol records seconds too."""
    out = tmp_path / "a"
    status, _, err = _run(capsys, "reproduce", "--protocol", "authors", "--epochs", "1",
                          "--datasets", "digits_effnet", "--seeds", "1", "--max-train", "100",
                          "--max-test", "50", "--etas", "0.8", "--wds", "5e-4",
                          "--no-progress", "--no-figure", "--out", str(out))
    assert status == 0, err
    sets = pd.read_csv(out / "sets.csv")
    assert (sets.device.item(), sets.dtype.item()) == ("cpu", "float64")
    assert sets.seconds.item() >= 0


def test_reproduce_help_describes_no_progress(capsys, monkeypatch):
    text = _help(capsys, monkeypatch, "reproduce")
    assert " --no-progress no progress bar" in text


# --------------------------------------------------------------------------- simulate


def test_simulate_fractional_n_is_refused_naming_why(capsys):
    """simulate draws n instances per class, so --n-per-class 2.5 (legal for check) is
    refused with exit status 2 and a message saying why."""
    status, out, err = _run(capsys, "simulate", "--n-per-class", "2.5", "--rounds", "1")
    assert (status, out) == (2, "")
    assert err == ("labelavg simulate: error: argument --n-per-class: simulate draws "
                   "instances and needs an integer, got 2.5\n")


# --------------------------------------------------------------------------- sweep


@pytest.mark.parametrize("noises", ["symmetric", "symmetric,pair"])
def test_sweep_superclass_size_without_superclass_noise_is_refused(capsys, tmp_path, noises):
    """--superclass-size with only non-superclass noises: exit 2, one line naming the
    first noise, nothing written."""
    path = tmp_path / "s.csv"
    status, out, err = _run(capsys, "sweep", "--noise", noises, "--superclass-size", "2",
                            "--eta", "0.2", "--rounds", "1", "--out", str(path))
    assert (status, out) == (2, "")
    assert err == ("labelavg sweep: error: --superclass-size is used by --noise superclass "
                   "or with --e (hierarchical Gram), not by symmetric noise alone\n")
    assert not path.exists()


def test_sweep_progress_bar_on_request(capsys, tmp_path):
    """Two points: ``--progress`` draws a bar on stderr up to 2/2 even when stderr is not
    a terminal; without it stderr stays empty."""
    argv = ["sweep", "--eta", "0.2,0.5", "--rounds", "2", "--method", "linear"]
    status, out, err = _run(capsys, *argv, "--out", str(tmp_path / "a.csv"))
    assert status == 0 and err == ""
    status, out, err = _run(capsys, *argv, "--progress", "--out", str(tmp_path / "b.csv"))
    assert status == 0 and "2/2" in err


def test_sweep_write_table_writes_parquet_by_extension(tmp_path):
    """A ``.parquet`` path (any case) is written with the table's ``to_parquet`` (no index
    column), a ``.csv`` path with ``to_csv``."""
    from labelavg.cli.sweep import write_table

    class Table:
        def __init__(self):
            self.calls = []

        def to_parquet(self, path, **kwargs):
            self.calls.append(("parquet", kwargs))
            with open(path, "wb") as f:
                f.write(b"PAR1")

        def to_csv(self, path, **kwargs):
            self.calls.append(("csv", kwargs))
            with open(path, "w") as f:
                f.write("a\n")

    for name, kind in (("s.parquet", "parquet"), ("S.PARQUET", "parquet"), ("s.csv", "csv")):
        table = Table()
        write_table(table, tmp_path / name)
        assert table.calls == [(kind, {"index": False})]
        assert (tmp_path / name).read_bytes() == (b"PAR1" if kind == "parquet" else b"a\n")
