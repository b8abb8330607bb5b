"""Every subcommand checks every flag the same way, before any work (labelavg.cli._args).

Bad input: exit status 2, exactly one line on stderr naming the flag, nothing on
stdout, no traceback. Runs ``labelavg.cli.main`` in-process (fast); the
subprocess path is covered by tests/test_cli.py.
"""

import pytest

from labelavg.cli import main

FLAG_CASES = {
    # flag: (bad values, text expected in the message)
    "--n-classes": (["abc", "1", "2.5"], "--n-classes"),
    "--n-per-class": (["abc", "0", "inf"], "--n-per-class"),
    "--c": (["1", "-0.1", "nan"], "--c"),
    "--d": (["-0.1", "1"], "--d"),
    "--eta": (["2", "-0.1", "x"], "--eta"),
    "--lam": (["0", "-1", "inf"], "--lam"),
    "--rounds": (["0", "1.5"], "--rounds"),
}

COMMON = {"demo": FLAG_CASES, "check": FLAG_CASES, "simulate": FLAG_CASES,
          "phase": FLAG_CASES, "sweep": FLAG_CASES}


def _table():
    for command, flags in COMMON.items():
        for flag, (values, text) in flags.items():
            if command == "check" and flag == "--rounds":
                continue                      # check has --max-rounds instead
            for value in values:
                yield (command, flag, value), text
    extra = [
        (("check", "--max-rounds", "0"), "--max-rounds"),
        (("check", "--pll-topk", "-1"), "--pll-topk"),
        (("check", "--pll-topk", "7"), "--pll-topk"),
        (("check", "--noise", "uniform"), "--noise"),
        (("check", "--superclass-size", "0", "--noise", "superclass"), "--superclass-size"),
        (("check", "--superclass-size", "4"), "--superclass-size"),
        (("check", "--noise", "superclass"), "--superclass-size"),
        (("check", "--e", "0.05"), "--e needs --superclass-size"),
        (("check", "--e", "0.2", "--superclass-size", "2"), "argument --e: must satisfy"),
        (("check", "--c", "0.1", "--d", "0.4"), "argument --d: must satisfy 0 <= d < c"),
        (("demo", "--c", "0.1", "--d", "0.4"), "argument --d: must satisfy 0 <= d < c"),
        (("simulate", "--c", "0.1", "--d", "0.4"), "argument --d: must satisfy 0 <= d < c"),
        (("phase", "--c", "0.1", "--d", "0.4"), "argument --d: must satisfy 0 <= d < c"),
        (("sweep", "--c", "0.1", "--d", "0.4"), "argument --d: must satisfy 0 <= d < c"),
        (("sweep", "--pll-topk", "7"), "--pll-topk"),
        (("sweep", "--noise", "uniform"), "noise"),
        (("demo", "--n-per-class", "2.5"), "--n-per-class"),
        (("simulate", "--n-per-class", "2.5"), "--n-per-class"),
        (("demo", "--n-per-class", "1e12"), "memory"),
        (("simulate", "--n-per-class", "1e12"), "memory"),
        (("simulate", "--n-per-class", "1000000000000"), "memory"),
        (("simulate", "--dim", "0"), "--dim"),
        (("simulate", "--seeds", "0"), "--seeds"),
        (("simulate", "--labels", "some"), "--labels"),
        (("simulate", "--noise", "uniform"), "--noise"),
        (("simulate", "--superclass-size", "2"), "--superclass-size"),
        (("simulate", "--noise", "superclass"), "--superclass-size"),
        (("simulate", "--e", "0.05"), "--e needs --superclass-size"),
        (("phase", "--pll-topk", "7"), "--pll-topk"),
        (("phase", "--pll-topk", "-1"), "--pll-topk"),
        (("phase", "--eta", "0.1,2"), "--eta"),
        (("phase", "--n-classes", "1:3"), "--n-classes"),
        (("phase", "--rounds", "0:3"), "--rounds"),
        (("phase", "--lam", "log:0:1:3"), "--lam"),
        (("phase", "--jobs", "0"), "--jobs"),
        (("phase", "--noise", "superclass"), "--noise"),
        (("phase", "--quantity", "x"), "--quantity"),
        (("probe", "--eta", "0.5", "2"), "--eta"),
        (("probe", "--seeds", "0"), "--seeds"),
        (("probe", "--rounds", "0"), "--rounds"),
        (("probe", "--lam", "0"), "--lam"),
        (("probe", "--pll-topk", "-1"), "--pll-topk"),
        (("probe", "--pll-topk", "two"), "--pll-topk"),
        (("probe", "--cut", "0"), "--cut"),
        (("probe", "--test-fraction", "1"), "--test-fraction"),
        (("probe", "--noise", "uniform"), "--noise"),
        (("probe", "--labels", "y.npy"), "--labels"),
        (("figures", "--only", "nosuchfig"), "nosuchfig"),
    ]
    yield from extra


CASES = list(_table())


def _status(argv, capsys):
    try:
        code = main(list(argv))
    except SystemExit as exc:          # argparse errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("argv, text", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_input_exits_2_with_one_line(argv, text, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = _status(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert out == ""
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"labelavg {argv[0]}: error: ") and text in lines[0], err
    assert list(tmp_path.iterdir()) == []          # nothing written


OUT_COMMANDS = [("demo",), ("phase",), ("probe",), ("figures", "--quick")]


@pytest.mark.parametrize("command", OUT_COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("target", ["afile", "afile/sub"])
def test_output_path_is_checked_first(command, target, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("keep")
    code, out, err = _status([*command, "--out", target], capsys)
    assert code == 2 and out == "", err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "--out" in lines[0] and "afile" in lines[0], err
    assert (tmp_path / "afile").read_text() == "keep"


def test_n_per_class_parses_the_same_everywhere():
    from labelavg.cli import _args

    assert _args.per_class("1e12") == 10 ** 12 and isinstance(_args.per_class("1e12"), int)
    assert _args.per_class("2.5") == 2.5
    assert _args.classes("1e1") == 10


def test_check_accepts_huge_n(capsys):
    code, out, err = _status(["check", "--n-per-class", "1e12", "--max-rounds", "5"], capsys)
    assert code == 0, err
    assert "n=1e+12" in out


def test_superclass_noise_without_e_runs_in_simulate_as_in_check(capsys):
    argv = ["--noise", "superclass", "--superclass-size", "2", "--eta", "0.2"]
    assert _status(["check", *argv, "--max-rounds", "3"], capsys)[0] == 0
    code, out, err = _status(["simulate", *argv, "--n-per-class", "8", "--dim", "40",
                              "--rounds", "1", "--seeds", "1", "--lam", "1e-2"], capsys)
    assert code == 0, err


def test_memory_estimate_names_sizes():
    from labelavg.cli import _args

    with pytest.raises(ValueError, match=r"needs about 8\.0 EiB .* lower --n-per-class"):
        _args.check_memory(8 * 1024 ** 6, "x")
    _args.check_memory(1024, "x")                  # small: accepted


def test_non_converged_demo_exits_1_without_solver_advice(capsys):
    code, out, err = _status(["demo", "--lam", "1e-12", "--no-figure", "--rounds", "1"],
                             capsys)
    lines = err.strip().splitlines()
    assert code == 1, err
    assert "all converged: False" in out
    # besides the one failure line only undecided-accuracy warnings (at λ = 1e-12 the
    # unconverged fits' error bounds cover their margins), no solver advice
    assert lines[-1].startswith("labelavg demo: failed: "), err
    assert all("undecided" in line for line in lines[:-1]), err
    assert "did not converge" in lines[-1] and "max_iter" not in err


def test_non_converged_simulate_exits_1(capsys):
    code, _, err = _status(["simulate", "--lam", "1e-12", "--n-per-class", "10", "--dim",
                            "60", "--rounds", "1", "--seeds", "1"], capsys)
    assert code == 1, err
    assert "failed: " in err and "max_iter" not in err


def test_check_converged_names_the_failed_fits():
    from types import SimpleNamespace

    from labelavg.cli import _args

    fits = [SimpleNamespace(converged=c, residual=r)
            for c, r in ((True, 1e-12), (False, 3e-4), (False, 2e-6))]
    with pytest.raises(RuntimeError, match=r"2 of 3 fits did not converge .*\[2, 3\].*3\.0e-04"):
        _args.check_converged(fits, "fit")
    _args.check_converged(fits[:1], "fit")
