"""The ``labelavg`` subcommands run in-process (``main([...])``): their printed numbers,
defaults and written tables, each against the library API called directly, a closed
form or a hand count (so mutation testing can trace the CLI code)."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from labelavg import datasets, distill, noise
from labelavg.block import BlockModel
from labelavg.cli import main
from labelavg.gram import block_gram, block_labels
from labelavg.phase import phase_diagram
from labelavg.probe import SelfDistillation, noise_sweep
from labelavg.sweep import sweep
from labelavg.theorems import full_accuracy


def _out(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return captured.out


def _row(out, label):
    return re.search(re.escape(label) + r"\s+(\S+)", out).group(1)


def test_check_defaults_and_least_rounds(capsys):
    out = _out(capsys, "check")
    # documented defaults: K=4 n=100 c=0.4 d=0.1 λ=2e-4, symmetric η=0.5
    assert "K=4 n=100 c=0.4 d=0.1, λ=0.0002, symmetric noise η=0.5" in out
    verdict = full_accuracy(BlockModel(4, 100, 0.4, 0.1), noise.symmetric(4, 0.5), lam=2e-4)
    # hand count: T[c,c] = 0.5, T[c,j] = 0.5/3, so Δ = 1/3
    assert float(_row(out, "margin Δ = min (T[c,c] − T[c,j])")) == pytest.approx(1 / 3, abs=5e-7)
    theta = float(_row(out, "θ = g(μ₁)  within-class"))
    phi = float(_row(out, "φ = g(μ₂)  class contrasts"))
    closed = math.floor(math.log(1 + 3) / math.log(phi / theta)) + 1
    linear = int(_row(out, "least rounds, linearised t*"))
    exact = int(_row(out, "least rounds, exact (t ≤ 50)"))
    assert linear == closed == verdict.min_rounds
    assert exact == verdict.min_rounds_exact
    assert _row(out, "gap exact − linearised") == f"{exact - linear:+d}"
    assert _row(out, "exact PLL student (top-2) accuracy") == "1"
    assert _row(out, "teacher label-correction accuracy") == "0.5"


def test_check_without_noise_needs_one_round(capsys):
    out = _out(capsys, "check", "--eta", "0", "--n-classes", "2")
    # no noise: Δ is printed as ∞ and t* = 1 (the formula's stated exception)
    assert "margin Δ = min (T[c,c] − T[c,j])  ∞ (no noise)" in out
    assert int(_row(out, "least rounds, linearised t*")) == 1
    assert int(_row(out, "least rounds, exact (t ≤ 50)")) == 1


def test_sweep_csv_equals_library_sweep(capsys, tmp_path):
    path = tmp_path / "s.csv"
    out = _out(capsys, "sweep", "--eta", "0.2,0.5", "--lam", "1e-3", "--rounds", "3",
               "--out", str(path))
    assert out.strip() == f"2 points x 3 rounds -> {path} (0 rows with undecided margins)"
    written = pd.read_csv(path)
    direct = sweep(n_classes=4, n_per_class=100, c=0.4, d=0.1, lam=1e-3, eta=[0.2, 0.5],
                   noise=["symmetric"], rounds=3)
    assert len(written) == 6 and list(written.columns) == list(direct.columns)
    for name in direct.columns:
        if direct[name].dtype.kind in "fiu":
            np.testing.assert_allclose(written[name].to_numpy(float),
                                       direct[name].to_numpy(float), rtol=1e-12)
        else:
            assert list(written[name].astype(str)) == list(direct[name].astype(str))


def test_sweep_default_grid_is_eight_etas_ten_rounds(capsys, tmp_path):
    path = tmp_path / "s.csv"
    out = _out(capsys, "sweep", "--method", "linear", "--out", str(path))
    assert out.startswith(f"8 points x 10 rounds -> {path}")
    table = pd.read_csv(path)
    np.testing.assert_allclose(sorted(set(table["eta"])), np.linspace(0, 0.7, 8))
    assert set(table["lam"]) == {2e-4} and set(table["n_classes"]) == {4}
    assert set(table["round"]) == set(range(1, 11))


def test_phase_csv_equals_library_and_least_round(capsys, tmp_path):
    out = _out(capsys, "phase", "--eta", "0.2,0.5", "--rounds", "1:3", "--no-figure",
               "--out", str(tmp_path))
    assert "(2 × 3 points)" in out
    table = pd.read_csv(tmp_path / "phase.csv")
    assert list(table["eta"]) == [0.2, 0.2, 0.2, 0.5, 0.5, 0.5]
    assert list(table["rounds"]) == [1, 2, 3, 1, 2, 3]
    # symmetric η = 0.2, K = 4: the teacher gets the clean 80% (hand count)
    assert table["teacher_label_correction"].iloc[0] == pytest.approx(0.8, abs=1e-12)
    for eta in (0.2, 0.5):
        verdict = full_accuracy(BlockModel(4, 100, 0.4, 0.1), noise.symmetric(4, eta), lam=2e-4)
        rows = table[table["eta"] == eta]
        # read at up to 3 rounds: a least round beyond 3 is not reached (NaN)
        least = verdict.min_rounds_exact
        assert list(rows["least_round"].fillna(0)) == [least if least <= 3 else 0] * 3
        hit = rows["rounds"] >= least
        assert list(rows["all_right"]) == list(hit)
    right = int(table["all_right"].sum())
    assert f"{right} points at 100% label correction" in out
    direct = phase_diagram(eta=[0.2, 0.5], rounds=[1, 2, 3], lam=2e-4, c=0.4, d=0.1,
                           n_classes=4, n_per_class=100)
    np.testing.assert_allclose(table["label_correction"].to_numpy().reshape(2, 3),
                               np.asarray(direct.values["label_correction"]), rtol=1e-12)


def test_demo_table_equals_library_distill(capsys):
    out = _out(capsys, "demo", "--no-figure", "--n-per-class", "10", "--rounds", "2",
               "--eta", "0.3")
    assert "K=4 n=10 c=0.4 d=0.1, symmetric η=0.3 (exact counts), λ=0.0002" in out
    true = block_labels(4, 10)
    given = noise.assign_labels_exact(true, noise.symmetric(4, 0.3))
    gram = block_gram(4, 10, 0.4, 0.1)
    exact = distill(gram, given, 2e-4, 2, method="exact", true_labels=true)
    linear = distill(gram, given, 2e-4, 2, method="linear", true_labels=true)
    lines = {line.split("|")[0].strip(): line for line in out.splitlines() if "|" in line}
    for name, a, b in zip(("t=1", "t=2", "PLL"), exact.accuracy + (exact.pll_accuracy,),
                          linear.accuracy + (linear.pll_accuracy,)):
        cells = [float(x) for x in re.findall(r"\d\.\d{3}", lines[name])]
        assert cells == pytest.approx([a.all, a.clean, a.noisy, b.all, b.clean, b.noisy],
                                      abs=5e-4)
    # exact counts: 3 of 10 labels per class flipped; the teacher keeps the given labels
    assert (given != true).sum() == 12
    assert lines["t=1"].split("|")[1].split()[0] == "0.700"
    assert "3 exact fits" in out and "all converged: True" in out


def test_demo_defaults_in_header(capsys):
    out = _out(capsys, "demo", "--no-figure", "--rounds", "1", "--n-per-class", "4")
    assert "K=4 n=4 c=0.4 d=0.1, symmetric η=0.5 (exact counts), λ=0.0002" in out


def test_probe_table_equals_library_noise_sweep(capsys, tmp_path):
    out = _out(capsys, "probe", "--dataset", "digits_effnet", "--noise", "symmetric",
               "--eta", "0.3", "--seeds", "1", "--rounds", "2", "--no-figure",
               "--out", str(tmp_path))
    data = datasets.load("digits_effnet")
    n = data.x_train.shape[0]
    assert (f"digits_effnet: N={n} train / {data.x_test.shape[0]} test, "
            f"D={data.n_features}, K={data.n_classes}, float32; λ=0.0001 "
            f"(C={1 / (n * 1e-4):.4g}), symmetric noise") in out
    est = SelfDistillation(1e-4, 2, pll_topk=2)
    direct = noise_sweep(data, {0.3: noise.transition_matrix("symmetric", 10, 0.3)}, est,
                         seeds=range(1))
    acc = 100 * direct.test_accuracy.mean(axis=1)
    for j, name in enumerate(("teacher", "student t=2", "PLL")):
        assert direct.models[j] == name
        row = re.search(re.escape(name) + r"\s+(\d+\.\d\d) ± (\d+\.\d\d)", out)
        assert float(row.group(1)) == pytest.approx(acc[0, j], abs=0.005)
        assert float(row.group(2)) == 0
    flipped = float(re.search(r"flipped labels\s+(\d+\.\d)%", out).group(1))
    assert flipped == pytest.approx(100 * direct.noise_rate.mean(), abs=0.05)
    assert "3 fits in" in out


def test_probe_defaults(capsys, tmp_path):
    # defaults: wordnet_minilm, superclass noise, η 0.5 0.8, 3 seeds, 5 rounds, λ 1e-4
    from labelavg.cli import build_parser

    args = build_parser().parse_args(["probe"])
    assert (args.dataset, args.noise, args.eta, args.seeds, args.rounds, args.lam) == \
        ("wordnet_minilm", "superclass", [0.5, 0.8], 3, 5, 1e-4)


@pytest.mark.parametrize("argv", [["check", "--eta", "1.5"], ["sweep", "--rounds", "0"],
                                  ["phase", "--eta", "0.2"], ["demo", "--lam", "-1"]])
def test_bad_arguments_exit_2_with_one_line(capsys, argv):
    try:  # argparse errors exit, checks after parsing return the status
        status = main(argv)
    except SystemExit as stop:
        status = stop.code
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"labelavg {argv[0]}: error: ") and argv[1] in err
    assert err.strip().count("\n") == 0


def test_check_max_rounds_is_passed_on(capsys):
    # η = 0.5 needs 4 exact rounds (full_accuracy's own scan); read up to 3 it is not reached
    assert full_accuracy(BlockModel(4, 100, 0.4, 0.1), noise.symmetric(4, 0.5),
                         lam=2e-4).min_rounds_exact == 4
    out = _out(capsys, "check", "--max-rounds", "3")
    assert "least rounds, exact (t ≤ 3)       —" in out
    assert _row(out, "exact reaches 100%") == "NO"


def test_sweep_mixed_noises_with_superclass_size(capsys, tmp_path):
    path = tmp_path / "m.csv"
    out = _out(capsys, "sweep", "--noise", "symmetric,superclass", "--superclass-size", "2",
               "--eta", "0.2", "--lam", "1e-3", "--rounds", "2", "--method", "linear",
               "--out", str(path))
    assert out.startswith(f"2 points x 2 rounds -> {path}")
    assert sorted(set(pd.read_csv(path)["noise"])) == ["superclass", "symmetric"]


def test_sweep_parquet_without_pyarrow_exits_2(capsys, tmp_path):
    import importlib.util

    if importlib.util.find_spec("pyarrow") is not None:
        pytest.skip("pyarrow is installed")
    assert main(["sweep", "--eta", "0.2", "--rounds", "2", "--out",
                 str(tmp_path / "s.parquet")]) == 2
    assert "Parquet needs pyarrow" in capsys.readouterr().err
    assert not (tmp_path / "s.parquet").exists()


def test_pll_condition_params_name_the_model():
    from labelavg.theorems import pll_condition

    verdict = pll_condition(BlockModel(4, 100, 0.4, 0.1), noise.symmetric(4, 0.5), lam=2e-4)
    assert (verdict.params["n"], verdict.params["c"], verdict.params["d"]) == (100, 0.4, 0.1)


def test_accuracies_text_keeps_first_two_and_last():
    from labelavg._repr import accuracies

    assert accuracies([0.5, 0.25, 1, 0.75]) == "0.500, 0.250, 1.000, 0.750"
    assert accuracies([0.5, 0.25, 1, 0.75, 0.125]) == "0.500, 0.250, ..., 0.125"


def test_cupy_available_is_a_plain_false_without_cupy():
    import importlib.util

    from labelavg._xp import cupy_available

    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("cupy is installed")
    assert cupy_available() is False


def test_dir_lists_public_names_and_lazy_submodules():
    import labelavg

    names = dir(labelavg)
    assert "full_accuracy" in names and "datasets" in names and "__version__" in names


def test_load_features_integer_features_and_test_label_count(tmp_path):
    x = np.arange(12).reshape(6, 2) % 5 + np.eye(6, 2, dtype=int)
    y = np.array([0, 1, 0, 1, 0, 1])
    np.savez(tmp_path / "ok.npz", x_train=x, y_train=y, x_test=x[:3], y_test=y[:3])
    data = datasets.load_features(tmp_path / "ok.npz")
    assert data.x_train.dtype == np.float64
    np.testing.assert_array_equal(data.x_train, x)   # small integers: exact in float64
    np.savez(tmp_path / "bad.npz", x_train=x, y_train=y, x_test=x[:3], y_test=y[:2])
    with pytest.raises(ValueError, match="y_test"):
        datasets.load_features(tmp_path / "bad.npz")
    (tmp_path / "junk.npy").write_text("not numpy")
    with pytest.raises(ValueError, match=r"^path: .*junk\.npy is not a NumPy"):
        datasets.load_features(tmp_path / "junk.npy", labels=y)


def test_flags_and_choices_by_their_documented_names():
    from labelavg.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["reproduce", "--seeds", "3"]).seeds == 3
    assert parser.parse_args(["phase", "--quantity", "pll_fresh"]).quantity == "pll_fresh"
    listing = parser.format_help()
    assert "self-distillation of a linear probe on real features" in listing
    assert "rebuild all figures (PNG + PDF) into --out" in listing


def test_figures_out_flag_and_default():
    from labelavg.cli import build_parser

    assert build_parser().parse_args(["figures"]).out == "labelavg_figures"
    assert build_parser().parse_args(["figures", "--out", "x"]).out == "x"


def test_check_reports_a_plurality_tie_as_a_tie(capsys):
    # pair noise at η = 1/2: T[c, c] = T[c, c + 1] = 1/2 exactly, a tie (not "fails")
    assert main(["check", "--noise", "pair", "--n-classes", "3", "--eta", "0.5",
                 "--lam", "1e-3", "--max-rounds", "2"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines()
               if "plurality condition" in line)
    assert row.split()[-1] == "tie"
