"""End-to-end tests of ``labelavg reproduce`` (both protocols) on a tiny subset of a shipped set."""

import numpy as np
import pandas as pd
import pytest

from labelavg.authors import authors_superclasses
from labelavg.cli import main
from labelavg.cli import reproduce
from labelavg.cli.reproduce import format_gains

TINY = ["--quick", "--datasets", "digits_effnet", "--seeds", "2", "--max-train", "250",
        "--max-test", "150", "--lams", "1e-2", "1e-3", "--gce-lams", "1e-3", "1e-4",
        "--etas", "0.8",
        "--no-progress"]
NOISES = {"symmetric", "asymmetric", "superclass", "superclass_authors"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("repro") / "out"
    assert main(["reproduce", *TINY, "--no-figure", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def tiny_authors(tmp_path_factory):
    out = tmp_path_factory.mktemp("repro") / "authors"
    assert main(["reproduce", *TINY, "--protocol", "authors", "--epochs", "3",
                 "--out", str(out)]) == 0
    return out


def test_results_csv_is_the_long_table(tiny_run):
    res = pd.read_csv(tiny_run / "results.csv")
    assert list(res.columns[:6]) == ["dataset", "protocol", "noise", "eta", "rule", "method"]
    assert set(res.dataset) == {"digits_effnet"} and set(res.protocol) == {"exact"}
    assert set(res.noise) == NOISES
    assert sorted(set(res.eta)) == [0.8]
    assert set(res.method) == {"teacher", "t2", "t3", "t4", "t5", "pll", "pll_gce"}
    assert set(res.seed) == {0, 1}
    # each method on its own grid: --lams for the chain, --gce-lams for the GCE PLL
    gce = res.method == "pll_gce"
    assert set(res[~gce].lam) == {1e-2, 1e-3} and set(res[gce].lam) == {1e-3, 1e-4}
    assert len(res) == 4 * 1 * 2 * (2 * 6 + 2)   # every (noise, η, seed, λ, method) once
    assert not res.duplicated(["noise", "eta", "method", "seed", "lam"]).any()
    assert res.test_accuracy.between(0, 1).all() and res.validation_accuracy.between(0, 1).all()
    assert res.converged.all() and (res.residual <= 1e-4).all()   # float32 features


def test_lam_is_chosen_per_method_and_cell_on_noisy_validation(tiny_run):
    res = pd.read_csv(tiny_run / "results.csv")
    for _, cell in res.groupby(["noise", "eta", "method"]):
        mean = cell.groupby("lam").validation_accuracy.mean()
        chosen = cell[cell.chosen].lam.unique()
        assert len(chosen) == 1 and mean[chosen[0]] == mean.max()
        best = mean[mean == mean.max()].index
        assert chosen[0] == best.max()                   # ties: the larger λ
        assert cell[cell.chosen].shape[0] == 2           # both seeds


def test_gains_match_the_results(tiny_run):
    res = pd.read_csv(tiny_run / "results.csv")
    res = res[res.chosen]
    gains = pd.read_csv(tiny_run / "gains.csv")
    cell = res[(res.noise == "symmetric") & (res.eta == 0.8)]
    wide = cell.pivot(index="seed", columns="method", values="test_accuracy")
    for method in ("pll", "pll_gce", "t3"):
        row = gains[(gains.noise == "symmetric") & (gains.eta == 0.8) & (gains.method == method)]
        diff = 100 * (wide[method] - wide.teacher)
        assert row.gain_mean.item() == pytest.approx(diff.mean(), rel=1e-12, abs=1e-12)
        assert row.gain_std.item() == pytest.approx(diff.std(ddof=1), rel=1e-12, abs=1e-12)
    # plurality verdict by hand, K = 10, η = 0.8: symmetric 0.2 > 0.8/9, asymmetric
    # 0.2 > 2 · 0.8/10 = 0.16 (rows = true class)
    for noise in ("symmetric", "asymmetric"):
        assert set(gains[gains.noise == noise].plurality) == {"holds"}


def test_a_plurality_tie_prints_as_a_tie():
    # superclass clusters of 2 at η = 0.5: T[c,c] = T[c,c'] = 1/2 exactly
    gains = pd.DataFrame([dict(dataset="toy", protocol="exact", rule="converged",
                               noise="superclass", eta=0.5, method="pll", lam=1e-3,
                               lam_edge="", teacher_lam=1e-3, teacher_lam_edge="",
                               gain_mean=1.0, gain_std=0.5, n_seeds=2, teacher_accuracy=0.5,
                               plurality=reproduce._plurality("superclass", 4, 0.5,
                                                              np.array([0, 0, 1, 1])).decision,
                               plurality_margin=0.0)])
    line = format_gains(gains).splitlines()[-1]
    assert line.endswith("  tie") and "fails" not in line


def test_lam_at_a_grid_edge_is_marked(tiny_run):
    res = pd.read_csv(tiny_run / "results.csv")
    gains = pd.read_csv(tiny_run / "gains.csv", keep_default_na=False)
    grids = res.groupby("method").lam.agg(lambda lams: sorted(set(lams)))
    for r in gains.itertuples():
        grid = grids[r.method]
        assert r.lam_edge == {grid[0]: "smallest", grid[-1]: "largest"}.get(r.lam, "")
        assert r.teacher_lam_edge == ("smallest" if r.teacher_lam == 1e-3 else "largest")
    text = format_gains(gains)
    first = gains.iloc[0]
    line = next(ln for ln in text.splitlines() if ln.startswith(first.dataset)
                and first.noise + " " in ln)
    assert line.split()[3].endswith({"smallest": "<", "largest": ">"}[first.teacher_lam_edge])
    assert "λ chosen at the smallest / largest value of its grid" in text


def test_superclass_recipes_written(tiny_run):
    sets = pd.read_csv(tiny_run / "sets.csv")
    assert sets.superclasses.iloc[0] and sets.superclasses_authors.iloc[0]
    total = sets.n_train.iloc[0] + sets.n_validation.iloc[0]
    assert abs(total - 250) <= 10                      # stratified, rounded per class
    assert sets.n_validation.iloc[0] == round(0.2 * total)


def test_figures_written(tiny_authors):
    for stem in ("oracle_gain", "last_gain", "honest_gain", "class_correlation"):
        assert (tiny_authors / f"digits_effnet_{stem}.png").stat().st_size > 1000


@pytest.mark.parametrize("protocol", [["--protocol", "authors", "--epochs", "1"],
                                      ["--lams", "1e-2", "--gce-lams", "1e-2"]])
def test_quick_says_it_is_a_smoke_run(tmp_path, capsys, protocol):
    # --quick end to end (at a tiny size): the note opens and closes the output
    assert main(["reproduce", *TINY, *protocol, "--seeds", "1", "--max-train", "100",
                 "--no-figure", "--out", str(tmp_path / "o")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    for line in (lines[0], lines[-1]):
        assert "smoke run" in line and "signs may differ from the full table" in line


def test_authors_protocol_three_rules(tiny_authors):
    res = pd.read_csv(tiny_authors / "results.csv")
    assert set(res.protocol) == {"authors"} and set(res.rule) == {"oracle", "last", "honest"}
    assert set(res.method) == {"teacher", "t2", "t3", "t4", "t5", "pll"}
    assert set(res.lam) == {5e-4, 5e-5, 5e-6}                  # the default --wds
    assert len(res) == 4 * 1 * 2 * 3 * 6 * 3
    assert not res.duplicated(["noise", "eta", "method", "seed", "lam", "rule"]).any()
    assert res.epoch.between(1, 3).all()
    assert (res[res.rule == "last"].epoch == 3).all()
    # the oracle rule picks the best test epoch, so no rule beats it on the same trajectory
    teacher = res[res.method == "teacher"].pivot_table(
        index=["noise", "eta", "seed", "lam"], columns="rule", values="test_accuracy")
    assert (teacher.oracle >= teacher[["last", "honest"]].max(axis=1)).all()
    gains = pd.read_csv(tiny_authors / "gains.csv")
    assert set(gains.rule) == {"oracle", "last", "honest"}


def test_authors_superclasses_read_the_square_matrix_as_observations():
    # classes 0, 1 have the same correlation *profile* (rows), 2 and 3 too, so the
    # recipe merges {0, 1} and {2, 3} whatever the entries' size as distances
    mean = np.array([[1.0, 0.2, 0.0, 0.0], [0.2, 1.0, 0.0, 0.0],
                     [0.0, 0.0, 1.0, 0.9], [0.0, 0.0, 0.9, 1.0]])
    assert authors_superclasses(mean).tolist() == [0, 0, 1, 1]
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import pdist
    tree = linkage(pdist(1 - mean), method="complete")   # the same tree, built by hand
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(linkage(1 - mean, method="complete"), tree)


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
    (["--gce-lams", "1e-3", "-1"], "--gce-lams must all be > 0"),
    (["--max-train", "10"], "--max-train must be >= 50"),
    (["--etas", "1.0"], "--etas must all be in [0, 1)"),
    (["--protocol", "authors", "--lr", "0"], "--lr must be > 0"),
    (["--protocol", "authors", "--wds", "1e-4", "-1"], "--wds all >= 0"),
])
def test_bad_arguments(tmp_path, capsys, args, match):
    assert main(["reproduce", "--no-progress", "--out", str(tmp_path / "o"), *args]) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_authors_wd_is_chosen_per_method_and_cell_on_honest_validation(tiny_authors):
    res = pd.read_csv(tiny_authors / "results.csv")
    table = pd.read_csv(tiny_authors / "wd_selection.csv")
    for (noise, eta, method), cell in res.groupby(["noise", "eta", "method"]):
        mean = cell[cell.rule == "honest"].groupby("lam").validation_accuracy.mean()
        chosen = cell[cell.chosen].lam.unique()
        assert len(chosen) == 1 and chosen[0] == mean[mean == mean.max()].index.max()
        assert cell[cell.chosen].shape[0] == 2 * 3            # both seeds, three rules
        mine = table[(table.noise == noise) & (table.eta == eta) & (table.method == method)]
        assert mine.set_index("wd").validation_mean.to_dict() == pytest.approx(mean.to_dict())
        assert mine[mine.chosen].wd.tolist() == [chosen[0]]
    sets = pd.read_csv(tiny_authors / "sets.csv")
    assert sets.device.tolist() == ["cpu"] and sets.dtype.tolist() == ["float64"]
    assert (sets.seconds > 0).all()


def test_choose_wd_hand_computed():
    from labelavg.cli.reproduce import _choose_wd

    # honest validation means: wd 1e-3 -> (0.5 + 0.7) / 2 = 0.6, 1e-4 -> (0.9 + 0.5) / 2 = 0.7
    # for "teacher"; for "pll" 1e-3 -> 0.4 = 1e-4 -> 0.4 (tie: the larger wd)
    table = {("teacher", 1e-3): (0.5, 0.7), ("teacher", 1e-4): (0.9, 0.5),
             ("pll", 1e-3): (0.4, 0.4), ("pll", 1e-4): (0.2, 0.6)}
    draws = [dict(method=m, lam=wd, seed=s, rule=rule,
                  validation_accuracy=v[s] if rule == "honest" else 1.0 - v[s])
             for (m, wd), v in table.items() for s in (0, 1)
             for rule in ("oracle", "last", "honest")]
    chosen = {(d["method"], d["lam"]) for d in _choose_wd(draws) if d["chosen"]}
    assert chosen == {("teacher", 1e-4), ("pll", 1e-3)}


def test_device_cupy_without_cupy_is_one_line(tmp_path, capsys, monkeypatch):
    import labelavg._xp

    monkeypatch.setattr(labelavg._xp, "cupy_available", lambda: False)
    assert main(["reproduce", "--protocol", "authors", "--device", "cupy", "--no-progress",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--device cupy" in err and "CuPy" in err
    assert not (tmp_path / "o").exists()
    assert main(["reproduce", "--device", "cupy", "--no-progress",
                 "--out", str(tmp_path / "o")]) == 2
    assert "only --protocol authors" in capsys.readouterr().err
