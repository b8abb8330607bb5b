"""One vocabulary across the subcommands and plain messages (issue 17, items 7 and 8).

Same flag, same meaning, same default and the same choices in every command;
messages name flags (``--superclass-size``), never Python names
(``superclass_size=``); ``labelavg`` alone lists the commands. Runs
``labelavg.cli.main`` in-process.
"""

import argparse
import re

import numpy as np
import pytest

import labelavg
from labelavg import noise
from labelavg.block import BlockModel
from labelavg.cli import _args, build_parser, main

BLOCK_COMMANDS = ("demo", "check", "simulate", "phase", "sweep")


def _subparsers():
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


def _option(command, flag):
    (action,) = [a for a in _subparsers()[command]._actions if flag in a.option_strings]
    return action


def _one_line(capsys, argv, status=2):
    assert main(argv) == status
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_bare_labelavg_lists_every_command(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    for command in _subparsers():
        assert re.search(rf"^\s+{command}\b", err, re.M), command


def test_lambda_default_is_the_same_in_every_block_model_command():
    defaults = {c: float(_option(c, "--lam").default) for c in BLOCK_COMMANDS}
    assert set(defaults.values()) == {_args.LAM}, defaults


def test_rounds_is_a_count_of_fits_everywhere():
    for command in (*BLOCK_COMMANDS, "probe"):
        action = _option(command, "--rounds")
        assert "1..ROUNDS" in action.help, (command, action.help)
    assert _option("check", "--max-rounds").option_strings == ["--rounds", "--max-rounds"]


def test_noise_choices_are_the_same_everywhere():
    for command in ("check", "simulate", "phase", "probe"):
        assert tuple(_option(command, "--noise").choices) == _args.NOISES, command
    assert all(name in _option("sweep", "--noise").metavar for name in _args.NOISES)


def test_help_texts_name_their_defaults():
    for command, parser in _subparsers().items():
        for action in parser._actions:
            if (action.default not in (None, False, argparse.SUPPRESS)
                    and not isinstance(action, argparse._HelpAction)):
                assert "default" in (action.help or ""), (command, action.option_strings)


def test_sweep_help_uses_symbols_not_python_names():
    text = _subparsers()["sweep"].format_help()
    assert "n_classes (default" not in text and "classes K (default 4)" in text


def test_probe_help_cites_no_file_outside_the_package():
    text = _subparsers()["probe"].format_help()
    assert "bench/" not in text and ".py" not in text


@pytest.mark.parametrize("argv, flag", [
    (["check", "--superclass-size", "3", "--noise", "superclass"], "--superclass-size"),
    (["simulate", "--n-per-class", "1"], "--n-per-class"),
    (["phase", "--rounds", "1:100000", "--eta", "0.1"], "--rounds"),
    (["check", "--c", "0.1", "--d", "0.4"], "--d"),
    (["sweep", "--c", "0.1", "--d", "0.4", "--out", "s.csv"], "--d"),
    (["phase", "--eta", "0.1,0.1,0.1", "--rounds", "1:3"], "--eta"),
])
def test_messages_name_flags_not_python_names(capsys, argv, flag):
    err = _one_line(capsys, argv)
    assert flag in err
    assert not re.search(r"\b(superclass_size|n_per_class|n_classes)\b", err), err


def test_phase_with_repeated_axis_values_warns_nothing(capsys, tmp_path):
    err = _one_line(capsys, ["phase", "--eta", "0.1,0.1,0.1", "--rounds", "1:3",
                             "--out", str(tmp_path)])
    assert "xlims" not in err and "distinct" in err


def test_superclass_noise_in_sweep_matches_the_block_solver(tmp_path, capsys):
    import pandas as pd

    out = tmp_path / "s.csv"
    assert main(["sweep", "--n-classes", "6", "--noise", "superclass", "--superclass-size",
                 "3", "--eta", "0.45", "--lam", "1e-3", "--rounds", "3",
                 "--out", str(out)]) == 0
    table = pd.read_csv(out)
    sol = BlockModel(6, 100, 0.4, 0.1).solve(noise.transition_matrix("superclass", 6, 0.45,
                                                                     superclass_size=3),
                                             lam=1e-3, rounds=3, pll_topk=None)
    expected = [acc.all for acc in sol.accuracy]
    np.testing.assert_allclose(table["label_correction"], expected, rtol=1e-9)


def test_superclass_noise_in_phase(tmp_path, capsys):
    assert main(["phase", "--n-classes", "6", "--noise", "superclass", "--superclass-size",
                 "3", "--eta", "0.2,0.6", "--rounds", "1:2", "--no-figure",
                 "--out", str(tmp_path)]) == 0
    assert (tmp_path / "phase.csv").read_text().count("\n") == 5
    err = _one_line(capsys, ["phase", "--noise", "superclass", "--eta", "0.2,0.6",
                             "--rounds", "1:2"])
    assert "--superclass-size" in err


def test_phase_diagram_prints_one_short_line():
    diagram = labelavg.phase_diagram(eta=np.linspace(0, 0.7, 31), rounds=range(1, 13),
                                     lam=1e-3, c=0.4, d=0.1, n_classes=2, n_per_class=1,
                                     pll_topk=None)
    text = repr(diagram)
    assert "\n" not in text and len(text) < 400 and "array" not in text
    assert "shape=(31, 12)" in text and str(diagram) == text


# --------------------------------------------------------------------------- probe --features


@pytest.fixture
def feature_files(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 6))
    names = np.array(["cat", "dog", "emu"])
    y = names[np.repeat(np.arange(3), 30)]
    x += 3 * np.eye(6)[np.repeat(np.arange(3), 30)]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y_str.npy", y)
    np.savez(tmp_path / "set.npz", x_train=x, y_train=y)
    (tmp_path / "garbage.npz").write_text("not numpy\n")
    return tmp_path


@pytest.mark.parametrize("files", [["--features", "x.npy", "--labels", "y_str.npy"],
                                   ["--features", "set.npz"]])
def test_probe_accepts_string_labels(feature_files, capsys, files):
    argv = ["probe", *[str(feature_files / f) if f.endswith(("npy", "npz")) else f
                       for f in files],
            "--noise", "symmetric", "--eta", "0.2", "--seeds", "1", "--rounds", "2",
            "--pll-topk", "1", "--lam", "1e-2", "--no-figure"]
    assert main(argv) == 0, capsys.readouterr().err
    assert "K=3" in capsys.readouterr().out


def test_probe_features_not_numpy_is_a_plain_message(feature_files, capsys):
    err = _one_line(capsys, ["probe", "--features", str(feature_files / "garbage.npz"),
                             "--no-figure"])
    assert "--features" in err and "garbage.npz" in err and "pickle" not in err


def test_probe_huge_lambda_is_refused_without_numpy_warnings(capsys):
    for extra in ([], ["--float64"]):
        err = _one_line(capsys, ["probe", "--dataset", "digits_effnet", "--lam", "1e300",
                                 "--seeds", "1", "--rounds", "2", "--eta", "0.5",
                                 "--no-figure", *extra])
        assert "--lam" in err and "overflow" not in err.split("error:")[0]


@pytest.mark.parametrize("command", [
    ["check", "--n-classes", "2", "--rounds", "2"],
    ["sweep", "--n-classes", "2", "--rounds", "2"],
])
def test_two_classes_run_with_the_default_pll_topk(command, tmp_path, capsys):
    """--pll-topk defaults to auto = min(2, K − 1): K = 2 runs without the flag."""
    from labelavg.cli import main

    extra = ["--out", str(tmp_path / "s.csv")] if command[0] == "sweep" else []
    assert main(command + extra) == 0


def test_library_sweep_judges_the_pll_student_at_two_classes():
    """sweep's default pll_topk is auto: at K = 2 the top-1 student is solved, not skipped."""
    import labelavg as la

    table = la.sweep(n_classes=2, lam=1e-3, eta=0.2, rounds=1)
    assert table["pll_label_correction"].notna().all()
