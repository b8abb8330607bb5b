"""End-to-end tests of ``labelavg reproduce`` on a tiny subset of a shipped set."""

import numpy as np
import pandas as pd
import pytest

from labelavg.cli import main
from labelavg.noise import transition_matrix

TINY = ["--quick", "--datasets", "digits_effnet", "--seeds", "2", "--max-train", "250",
        "--max-test", "150", "--lams", "1e-2", "1e-3", "--no-progress"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("repro") / "out"
    assert main(["reproduce", *TINY, "--out", str(out)]) == 0
    return out


def test_results_csv_is_the_long_table(tiny_run):
    res = pd.read_csv(tiny_run / "results.csv")
    assert list(res.columns) == ["dataset", "noise", "eta", "method", "seed", "lam",
                                 "test_accuracy"]
    assert set(res.dataset) == {"digits_effnet"}
    assert set(res.noise) == {"symmetric", "asymmetric", "superclass"}
    assert sorted(set(res.eta)) == [0.2, 0.5, 0.8]
    assert set(res.method) == {"teacher", "t2", "t3", "t4", "t5", "pll"}
    assert set(res.seed) == {0, 1}
    assert len(res) == 3 * 3 * 2 * 6      # every (noise, η, seed, method) once
    assert not res.duplicated(["noise", "eta", "method", "seed"]).any()
    assert res.test_accuracy.between(0, 1).all()
    assert res.lam.nunique() == 1 and res.lam.iloc[0] in (1e-2, 1e-3)
    # the clean-ish cells learn something: the teacher at η = 0.2 beats chance (10 %) by far
    low = res[(res.eta == 0.2) & (res.method == "teacher")]
    assert low.test_accuracy.mean() > 0.3


def test_lam_is_the_best_on_the_noisy_validation_split(tiny_run):
    sel = pd.read_csv(tiny_run / "lam_selection.csv")
    mean = sel.groupby("lam").validation_accuracy.mean()
    chosen = sel[sel.chosen].lam.unique()
    assert len(chosen) == 1 and mean[chosen[0]] == mean.max()
    sets = pd.read_csv(tiny_run / "sets.csv")
    assert sets.lam.iloc[0] == chosen[0]
    total = sets.n_train.iloc[0] + sets.n_validation.iloc[0]
    assert abs(total - 250) <= 10                      # stratified, rounded per class
    assert sets.n_validation.iloc[0] == round(0.2 * total)


def test_gains_match_the_results(tiny_run):
    res = pd.read_csv(tiny_run / "results.csv")
    gains = pd.read_csv(tiny_run / "gains.csv")
    row = gains[(gains.noise == "symmetric") & (gains.eta == 0.5) & (gains.method == "pll")]
    wide = res[(res.noise == "symmetric") & (res.eta == 0.5)].pivot(
        index="seed", columns="method", values="test_accuracy")
    diff = 100 * (wide.pll - wide.teacher)
    assert row.gain_mean.item() == pytest.approx(diff.mean(), rel=1e-12, abs=1e-12)
    assert row.gain_std.item() == pytest.approx(diff.std(ddof=1), rel=1e-12, abs=1e-12)
    # plurality verdict, checked by hand on T (rows = true class)
    for noise in ("symmetric", "asymmetric"):
        for eta in (0.2, 0.5, 0.8):
            t = transition_matrix(noise, 10, eta)
            off = t - np.diag(np.diag(t)) - np.eye(10)   # diagonal pushed below anything
            holds = bool(np.all(np.diag(t) > off.max(axis=1)))
            cell = gains[(gains.noise == noise) & (gains.eta == eta)]
            assert set(cell.plurality) == {holds}


def test_figures_written(tiny_run):
    for stem in ("digits_effnet_gain", "digits_effnet_class_correlation"):
        assert (tiny_run / f"{stem}.png").stat().st_size > 1000


def test_out_is_a_file(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert main(["reproduce", *TINY, "--out", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--out" in err and "not a folder" in err


@pytest.mark.parametrize("args, match", [
    (["--datasets", "mnist"], "unknown set 'mnist'"),
    (["--seeds", "0"], "--seeds must be >= 1"),
    (["--lams", "0"], "--lams must all be > 0"),
    (["--max-train", "10"], "--max-train must be >= 50"),
])
def test_bad_arguments(tmp_path, capsys, args, match):
    assert main(["reproduce", "--no-progress", "--out", str(tmp_path / "o"), *args]) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
