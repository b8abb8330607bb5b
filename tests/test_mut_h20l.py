"""Pinned behaviour of the low-level helpers (_checks, _io, _repr, _testing, _xp).

Issue 20 (mutation testing): each test pins a user-visible number, default,
message or file content that a sampled mutmut mutant changed without any test
noticing. Expected values are written out by hand (binary units, exact
messages, closed forms), never copied from the code's output.
"""

from __future__ import annotations

import os
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from labelavg import _checks, _io, _repr, _testing, _xp


# --------------------------------------------------------------------------- _checks


@pytest.mark.parametrize(("nbytes", "text"), [
    (0, "0.0 B"),
    (1023, "1023.0 B"),
    (1536, "1.5 KiB"),                  # 1.5 · 2^10
    (3 * 2**30, "3.0 GiB"),             # the docstring's example
    (5 * 2**40 // 2, "2.5 TiB"),
    (2**60, "1.0 EiB"),
    (3 * 2**70, "3.0 ZiB"),
    (2**80, "1.0 YiB"),
    (2**90, "1024.0 YiB"),              # past the last unit: stays in YiB
])
def test_format_bytes_binary_units(nbytes, text):
    """format_bytes: nbytes / 1024^p with one decimal and the IEC unit name of power p."""
    assert _checks.format_bytes(nbytes) == text


def test_prob_columns_refuses_a_negative_entry_with_its_value():
    """prob_columns: a column summing to 1 with a negative entry is refused (min entry shown);
    nonnegative=False admits the same affine columns."""
    affine = np.array([[1.1, 0.5], [-0.1, 0.5]])           # columns sum to 1 exactly
    with pytest.raises(ValueError, match=r"^probs must be non-negative; min entry -0\.1$"):
        _checks.prob_columns("probs", affine)
    np.testing.assert_array_equal(_checks.prob_columns("probs", affine, nonnegative=False),
                                  affine)


def test_prob_columns_message_without_the_transpose_hint():
    """prob_columns: columns off by 0.1 and rows not summing to 1 either -> the message
    ends at the deviation, with no hint appended."""
    bad = np.array([[0.5, 0.5], [0.4, 0.5]])                # column sums 0.9, 1.0
    with pytest.raises(ValueError) as info:
        _checks.prob_columns("probs", bad)
    assert str(info.value) == (
        "probs must have shape (K, N), one probability column per instance, and its "
        "columns must sum to 1; got shape (2, 2), max column-sum deviation 0.1")


def test_prob_columns_message_with_the_transpose_hint():
    """prob_columns: an (N, K) matrix of probability rows gets the 'pass probs.T' hint."""
    rows = np.array([[0.3, 0.7], [0.7, 0.3], [0.0, 1.0]])   # (N=3, K=2), rows sum to 1
    with pytest.raises(ValueError) as info:
        _checks.prob_columns("probs", rows)
    # column sums 1.0, 2.0 -> deviation 1
    assert str(info.value).endswith(
        "got shape (3, 2), max column-sum deviation 1; its rows sum to 1, so it looks "
        "like (N, K): pass probs.T")


# --------------------------------------------------------------------------- _io


def test_atomic_write_propagates_a_writer_error_raised_before_any_file_exists(tmp_path):
    """atomic_write: a writer that fails before creating its temporary file re-raises its own
    exception (not a FileNotFoundError from the cleanup) and leaves the old file alone."""
    target = tmp_path / "table.csv"
    target.write_text("old")

    def writer(tmp):
        raise ValueError("bad column")
    with pytest.raises(ValueError, match="^bad column$"):
        _io.atomic_write(target, writer)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_atomic_write_writes_the_content_and_returns_the_path(tmp_path):
    """atomic_write: the final file holds exactly what the writer wrote; the return is str(path)
    and the temporary name is a hidden file of the same folder and suffix."""
    seen = []
    out = _io.atomic_write(tmp_path / "a.txt",
                           lambda tmp: (seen.append(tmp), tmp.write_text("x,y\n1,2\n")))
    assert out == str(tmp_path / "a.txt")
    assert (tmp_path / "a.txt").read_text() == "x,y\n1,2\n"
    assert seen[0].parent == tmp_path and seen[0].name.startswith(".a.")
    assert seen[0].suffix == ".txt" and not seen[0].exists()


def test_check_out_file_messages(tmp_path):
    """check_out_file: the exact message for a folder, a missing folder and an unknown
    extension; an existing regular file (to be overwritten) and a new file are accepted."""
    with pytest.raises(ValueError) as info:
        _io.check_out_file(tmp_path, (".csv",))
    assert str(info.value) == f"--out {str(tmp_path)!r} is an existing folder; give a file name"
    missing = tmp_path / "no" / "t.csv"
    with pytest.raises(ValueError) as info:
        _io.check_out_file(missing, (".csv",), option="--table")
    assert str(info.value) == (f"--table {str(missing)!r}: folder {str(missing.parent)!r} "
                               f"does not exist")
    with pytest.raises(ValueError, match=r": unknown extension '\.xlsx'; use one of \.csv, "
                                         r"\.parquet$"):
        _io.check_out_file(tmp_path / "t.xlsx", (".csv", ".parquet"))
    existing = tmp_path / "t.csv"
    existing.write_text("old")
    assert _io.check_out_file(existing, (".csv",)) is None
    assert _io.check_out_file(tmp_path / "new.csv", (".csv",)) is None
    assert existing.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


@pytest.mark.skipif(not os.path.exists("/dev/null") or os.path.isfile("/dev/null"),
                    reason="needs a character device")
def test_check_out_file_device_is_not_a_regular_file():
    """check_out_file: an existing non-regular, non-folder path (a device) is refused as such."""
    with pytest.raises(ValueError) as info:
        _io.check_out_file("/dev/null", (".csv",), option="--out")
    assert str(info.value) == "--out '/dev/null' is not a regular file; give a file name"


def _unwritable_folder():
    """/proc refuses new files even to root; None where that is not so."""
    if not os.path.isdir("/proc"):
        return None
    try:
        Path("/proc/.labelavg-h20l-probe").open("x").close()
    except OSError:
        return "/proc"
    Path("/proc/.labelavg-h20l-probe").unlink()
    return None


def test_check_out_file_unwritable_folder_names_option_and_file():
    """check_out_file: an unwritable folder gives '<option> <file>: folder <folder> is not
    writable (...)', naming the option and the file asked for."""
    folder = _unwritable_folder()
    if folder is None:
        pytest.skip("no unwritable folder here")
    with pytest.raises(ValueError) as info:
        _io.check_out_file(f"{folder}/e.csv", (".csv",), option="--out")
    assert re.fullmatch(r"--out '/proc/e\.csv': folder '/proc' is not writable \(.+\)",
                        str(info.value)), str(info.value)


# --------------------------------------------------------------------------- _repr


@pytest.mark.parametrize(("value", "text"), [
    (np.zeros((2, 3)), "array(2, 3)[float64]"),
    (np.arange(4, dtype=np.int32), "array(4,)[int32]"),
    (True, "True"),
    (3, "3"),
    (np.int64(-7), "-7"),
    (0.123456, "0.1235"),
    (np.float64(2.0), "2"),
    ("abc", "'abc'"),
    (None, "None"),
])
def test_short_tokens(value, text):
    """_repr.short: arrays by shape and dtype, bools as True/False, integers (Python or
    NumPy) as integers, reals to 4 significant digits, anything else by repr."""
    assert _repr.short(value) == text


@pytest.mark.parametrize(("values", "text"), [
    ([0.5, 0.75], "0.500, 0.750"),
    ([0.1, 0.2, 0.3, 0.4], "0.100, 0.200, 0.300, 0.400"),
    ([0.1, 0.2, 0.3, 0.4, 0.9], "0.100, 0.200, ..., 0.900"),
    (np.array([1, 0.25, 0.5, 0.125, 0.0625, 1 / 3]), "1.000, 0.250, ..., 0.333"),
])
def test_accuracies_list(values, text):
    """_repr.accuracies: up to 4 values in full, else the first two, '...' and the last."""
    assert _repr.accuracies(values) == text


# --------------------------------------------------------------------------- _testing


def test_sampling_atol_is_five_sigma_of_a_fair_coin():
    """sampling_atol: z·σ with σ = 1/2 the largest Bernoulli sd, z = 5 by default:
    5 · 0.5 / sqrt(100) = 1/4 exactly; z = 2, n = 400 gives 1/20."""
    assert _testing.sampling_atol(100) == 0.25
    assert _testing.sampling_atol(400, z=2.0) == pytest.approx(float(Fraction(1, 20)), rel=1e-15)
    assert _testing.sampling_atol(10_000) == pytest.approx(0.025, rel=1e-15)


def test_assert_close_passes_within_and_fails_past_rtol_with_its_message():
    """assert_close: relative Frobenius error 0.5 vs rtol 1e-10 fails with
    'arrays differ: relative error 0.5 > 1e-10'; equal arrays pass."""
    _testing.assert_close(np.array([3.0, 4.0]), np.array([3.0, 4.0]))
    # ||(3, 4) - (0, 0)|| ... use expected (3, 4), actual (3, 4) + (1.5, 2): error 2.5 / 5
    with pytest.raises(AssertionError) as info:
        _testing.assert_close(np.array([4.5, 6.0]), np.array([3.0, 4.0]))
    assert str(info.value) == "arrays differ: relative error 0.5 > 1e-10"
    _testing.assert_close([4.5, 6.0], [3.0, 4.0], rtol=0.5)


def test_rel_error_by_hand():
    """rel_error: ||a − e|| / ||e|| (Frobenius), and the absolute error when e = 0."""
    assert _testing.rel_error([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 0.0]]) == 1.0
    # expected 0: the scale is the smallest normal float, so the error is 5 / tiny
    assert _testing.rel_error([3e-150, 4e-150], [0.0, 0.0]) == pytest.approx(
        5e-150 / np.finfo(float).tiny, rel=1e-12)
    assert _testing.rel_error([6.0, 8.0], [3.0, 4.0]) == 1.0


# --------------------------------------------------------------------------- _xp


def test_namespace_mix_message_names_the_libraries():
    """namespace: NumPy and array-api-strict inputs together name both top-level packages,
    sorted, in the TypeError."""
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"^inputs mix array libraries "
                                        r"\['array_api_strict', 'numpy'\]: "):
        _xp.namespace(np.ones(2), strict.ones(2))
