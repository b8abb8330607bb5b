"""The ``labelavg`` command in-process (``main([...])``): behaviours that sampled mutmut
mutants of ``labelavg/cli`` changed without any test failing (issue 20).

Each test pins what a user sees -- an exit status, a message, a printed number, a file --
against a hand count, a closed form or the library API called directly. Problem sizes are
tiny (K = 2..4, one or two rounds), so every test takes well under a second.
"""

import errno
import importlib.metadata
import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import labelavg
from labelavg import _checks
from labelavg.cli import main

ROOT = Path(__file__).resolve().parents[1]
GIB = 2 ** 30


def _run(capsys, *argv):
    """(exit status, stdout, stderr) of ``labelavg ARGV`` run in-process."""
    try:
        status = main(list(argv))
    except SystemExit as stop:          # argparse: --help, bad flags
        status = stop.code
    out, err = capsys.readouterr()
    return status, out, err


def _row(out, label):
    """The value printed after ``label`` in a ``check`` table."""
    return re.search(re.escape(label) + r"\s+(.+)$", out, re.M).group(1).strip()


@pytest.fixture
def memory_16gib(monkeypatch):
    """This machine has 16 GiB, so that refusals do not depend on the test machine."""
    monkeypatch.setattr(_checks, "physical_memory", lambda: 16 * GIB)


# --------------------------------------------------------------------------- labelavg.cli


def test_broken_pipe_exits_1_and_silences_stdout(monkeypatch, tmp_path):
    """Standard output closed early (``labelavg check | head``): exit status 1, and stdout
    is pointed at /dev/null so that the flush at exit does not fail again -- a later write
    to the old descriptor lands nowhere."""
    import labelavg.cli.demo as demo

    def reader_went_away(args):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    target = tmp_path / "stdout.txt"
    with open(target, "w") as stdout:
        monkeypatch.setattr(demo, "run", reader_went_away)
        monkeypatch.setattr("sys.stdout", stdout)
        assert main(["demo"]) == 1
        os.write(stdout.fileno(), b"after the pipe closed\n")
    assert target.read_text() == ""


def test_out_of_memory_is_one_line_on_stderr(monkeypatch, capsys):
    """A MemoryError in the work: exit status 1 and one line on stderr, nothing on stdout."""
    import labelavg.cli.demo as demo

    def too_big(args):
        raise MemoryError
    monkeypatch.setattr(demo, "run", too_big)
    status, out, err = _run(capsys, "demo")
    assert (status, out, err) == (1, "", "labelavg demo: failed: out of memory\n")


def _source_version():
    text = (ROOT / "labelavg" / "_version.py").read_text()
    return re.search(r'__version__ = "([^"]+)"', text).group(1)


def test_version_is_the_package_version_even_if_metadata_differs(monkeypatch, capsys):
    """``labelavg --version`` reports ``labelavg.__version__`` (the single source,
    labelavg/_version.py), not stale installed metadata of a development checkout."""
    from labelavg.cli import version

    monkeypatch.setattr(importlib.metadata, "version", lambda name: "9.9.9.stale")
    assert version() == _source_version()
    status, out, _ = _run(capsys, "--version")
    assert status == 0 and out == f"labelavg {_source_version()}\n"


def test_version_falls_back_to_installed_metadata(monkeypatch):
    """Without ``labelavg.__version__`` the version comes from the installed distribution
    named ``labelavg``; with none installed it is ``unknown``."""
    from labelavg.cli import version

    installed = importlib.metadata.version("labelavg")
    monkeypatch.delattr(labelavg, "__version__")
    assert version() == installed

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert version() == "unknown"
