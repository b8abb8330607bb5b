"""The docstring examples of every labelavg module run as doctests."""

import doctest
import importlib
import pkgutil

import pytest

import labelavg

MODULES = sorted(info.name for info in pkgutil.walk_packages(labelavg.__path__, "labelavg.")
                 if not info.name.endswith("__main__"))


def test_every_module_is_collected():
    assert {"labelavg.block", "labelavg.cli._args", "labelavg.probe"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
    with open(module.__file__, encoding="utf-8") as handle:
        has_examples = ">>> " in handle.read()
    assert (result.attempted > 0) == has_examples
