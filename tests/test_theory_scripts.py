"""Every theory/ script runs and its main() does not raise (theory/THEORY.md Results 1–4)."""

import importlib.util
from pathlib import Path

import pytest

THEORY = Path(__file__).resolve().parent.parent / "theory"
SCRIPTS = ["block_spectrum", "label_averaging", "full_accuracy", "pll", "hierarchical",
           "undecided_rate"]
#: Arguments of main() for scripts with a quick mode.
ARGS = {"undecided_rate": (["--quick"],)}


def _load(name):
    spec = importlib.util.spec_from_file_location(f"theory_{name}", THEORY / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", SCRIPTS)
def test_theory_script_main(name, capsys):
    module = _load(name)
    assert "theory/THEORY.md" in module.__doc__
    module.main(*ARGS.get(name, ()))
    assert capsys.readouterr().out.strip()


def test_every_script_is_listed():
    found = {p.stem for p in THEORY.glob("*.py")} - {"measure", "__init__"}
    assert found == set(SCRIPTS)
