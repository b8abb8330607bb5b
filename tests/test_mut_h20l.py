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
    (np.True_, "True"),
    (np.bool_(False), "False"),
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


# --------------------------------------------------------------------------- gram


def test_hierarchical_gram_memory_refusal_states_the_estimate(monkeypatch):
    """hierarchical_gram: three float64 N × N arrays (3·8·N² bytes) are checked against RAM
    before anything is allocated; K = 2, n = 2^14 (N = 2^15) needs 24 · 2^30 B = 24.0 GiB,
    refused on a 16 GiB machine with the option that drives N named."""
    from labelavg import gram

    monkeypatch.setattr(_checks, "physical_memory", lambda: 16 * 2**30)
    with pytest.raises(ValueError) as info:
        gram.hierarchical_gram(2, 2**14, 0.5, 0.2, 0.1, superclass_size=1)
    assert str(info.value) == ("n_per_class=16384: the N × N Gram (N = K·n = 32768) needs "
                               "about 24.0 GiB of memory, more than this machine's 16.0 GiB")
    # K > n: the class count is named; 3 · 8 · (2^15)^2 B again
    with pytest.raises(ValueError, match=r"^n_classes=32768: the N × N Gram \(N = K·n = "
                                         r"32768\) needs about 24\.0 GiB of memory"):
        gram.block_gram(2**15, 1, 0.5, 0.1)


def test_hierarchical_gram_entries_by_hand():
    """hierarchical_gram: K = 4, n = 2, m = 2 written out entry by entry (1 on the diagonal,
    c in a class, d in a superclass, e across); m not dividing K is refused."""
    from labelavg import gram

    c, d, e = 0.6, 0.3, 0.1
    expected = np.array([
        [1, c, d, d, e, e, e, e],
        [c, 1, d, d, e, e, e, e],
        [d, d, 1, c, e, e, e, e],
        [d, d, c, 1, e, e, e, e],
        [e, e, e, e, 1, c, d, d],
        [e, e, e, e, c, 1, d, d],
        [e, e, e, e, d, d, 1, c],
        [e, e, e, e, d, d, c, 1]])
    np.testing.assert_array_equal(gram.hierarchical_gram(4, 2, c, d, e, superclass_size=2),
                                  expected)
    with pytest.raises(ValueError, match="^superclass_size=3 must divide n_classes=4$"):
        gram.hierarchical_gram(4, 2, c, d, e, superclass_size=3)
    with pytest.raises(ValueError, match="^superclass_size must be >= 1, got 0$"):
        gram.hierarchical_gram(4, 2, c, d, e, superclass_size=0)


def test_gram_from_features_is_f_f_transpose():
    """gram_from_features: Φ = F Fᵀ on an integer example by hand; 1-D features refused."""
    from labelavg import gram

    f = [[1, 2], [3, 4], [0, -1]]
    expected = np.array([[5, 11, -2], [11, 25, -4], [-2, -4, 1]], dtype=float)
    np.testing.assert_array_equal(gram.gram_from_features(f), expected)
    with pytest.raises(ValueError, match=r"^features must be 2-dimensional, got shape \(3,\)$"):
        gram.gram_from_features([1.0, 2.0, 3.0])


def test_round_filter_computes_in_float64_for_float32_eigenvalues():
    """round_filter: g(μ)^t = (μ / (μ + KNλ))^t in float64 even for float32 μ: with
    KNλ = 2·4·(1/8) = 1, μ = float32(1/3) and t = 3, the exact value (Fractions of the
    float32 input) is met to 1e-14 relative, and the result is float64."""
    from labelavg import gram

    mu32 = np.array([1 / 3, 2.5, 1e-3], dtype=np.float32)
    got = gram.round_filter(mu32, 1 / 8, n_samples=4, n_classes=2, t=3)
    assert got.dtype == np.float64
    exact = [float((Fraction(float(m)) / (Fraction(float(m)) + 1)) ** 3) for m in mu32]
    np.testing.assert_allclose(got, exact, rtol=1e-14, atol=0)


# --------------------------------------------------------------------------- synthetic


def test_block_means_hierarchical_by_hand():
    """block_means: on a hand-built Gram with unequal entries inside each block, c, d, e are
    the plain means over off-diagonal pairs of each block; a row scaling (non-unit diagonal)
    does not move the cosines."""
    from labelavg.synthetic import block_means

    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])       # superclasses {0, 1}, {2, 3}
    sup = labels // 2
    g = np.zeros((8, 8))
    # distinct values per pair, symmetric: 0.5 + 0.01·(i + j) in a class, 0.2 + 0.01·(i + j)
    # within a superclass, 0.01·(i + j) across
    for i in range(8):
        for j in range(8):
            base = 0.5 if labels[i] == labels[j] else (0.2 if sup[i] == sup[j] else 0.0)
            g[i, j] = base + 0.01 * (i + j)
    np.fill_diagonal(g, 2.0)                           # PSD by diagonal dominance
    pairs = [(i, j) for i in range(8) for j in range(8) if i != j]
    cos = lambda i, j: g[i, j] / 2.0
    c = np.mean([cos(i, j) for i, j in pairs if labels[i] == labels[j]])
    d = np.mean([cos(i, j) for i, j in pairs if labels[i] != labels[j] and sup[i] == sup[j]])
    e = np.mean([cos(i, j) for i, j in pairs if sup[i] != sup[j]])
    means = block_means(g, labels, superclass_size=2)
    assert (means.c, means.d, means.e) == pytest.approx((c, d, e), rel=1e-12)
    flat = block_means(g, labels)
    d_all = np.mean([cos(i, j) for i, j in pairs if labels[i] != labels[j]])
    assert (flat.c, flat.d, flat.e) == pytest.approx((c, d_all, None), rel=1e-12)
    scale = np.diag([1.0, 2.0, 3.0, 0.5, 1.5, 4.0, 1.0, 0.25])
    again = block_means(scale @ g @ scale, labels, superclass_size=2)
    assert (again.c, again.d, again.e) == pytest.approx((c, d, e), rel=1e-12)


def test_block_means_superclass_size_messages():
    """block_means: superclass_size 0 and a non-divisor are refused with their messages."""
    from labelavg.synthetic import block_means

    g, labels = np.eye(4), np.array([0, 1, 2, 3])
    with pytest.raises(ValueError, match="^superclass_size must be >= 1, got 0$"):
        block_means(g, labels, superclass_size=0)
    with pytest.raises(ValueError, match="^superclass_size=3 must divide n_classes=4$"):
        block_means(g, labels, superclass_size=3)


# --------------------------------------------------------------------------- testing


def _find(strategy, condition, shrink=True):
    from hypothesis import Phase, find, settings

    phases = [Phase.generate, Phase.shrink] if shrink else [Phase.generate]
    return find(strategy, condition, settings=settings(max_examples=200, derandomize=True,
                                                       database=None, phases=phases))


def test_population_block_params_draw_ranges():
    """population_block_params: n is an integer in 1..2000 or a float in [1, 2000] (the
    docstring's "n up to 2000, integer or fractional"), K from the given strategy: the
    smallest integer n drawn is 1, a fractional n is drawn, and hypothesis' own description
    of the strategy states both ranges and the default K strategy."""
    from hypothesis import strategies as st

    from labelavg import testing

    smallest = _find(testing.population_block_params(st.just(2)),
                     lambda p: isinstance(p[1], int))
    assert smallest[:2] == (2, 1)
    frac = _find(testing.population_block_params(st.just(5)),
                 lambda p: isinstance(p[1], float) and p[1] % 1 != 0, shrink=False)
    assert frac[0] == 5 and 1.0 <= frac[1] <= 2000.0
    text = repr(testing.population_block_params())
    assert "integers(min_value=1, max_value=2000)" in text, text
    assert "floats(min_value=1.0, max_value=2000.0)" in text, text


def test_block_models_draw_block_models_of_the_requested_k():
    """block_models: BlockModel instances with K from the given strategy and a population n."""
    from hypothesis import strategies as st

    from labelavg import BlockModel, testing

    model = _find(testing.block_models(st.just(3)), lambda m: m.n_per_class > 1, shrink=False)
    assert isinstance(model, BlockModel) and model.n_classes == 3
    assert 1 < model.n_per_class <= 2000 and 1 > model.c > model.d >= 0


# --------------------------------------------------------------------------- datasets


def test_load_features_npz_with_a_test_split_of_integer_single_column_features(tmp_path):
    """load_features(.npz): integer features with d = 1 load as float64, and the stored test
    split (x_test, y_test) comes back entry for entry."""
    from labelavg.datasets import load_features

    x_train = np.array([[0], [3], [-2], [7]])            # (N = 4, d = 1), int
    y_train = np.array([0, 1, 0, 1])
    x_test = np.array([[5], [1], [-4]])
    y_test = np.array([1, 1, 0])
    np.savez(tmp_path / "s.npz", x_train=x_train, y_train=y_train, x_test=x_test,
             y_test=y_test)
    fs = load_features(tmp_path / "s.npz")
    assert fs.x_train.dtype == np.float64 and fs.x_train.shape == (4, 1)
    np.testing.assert_array_equal(fs.x_train, [[0.0], [3.0], [-2.0], [7.0]])
    np.testing.assert_array_equal(fs.y_train, y_train)
    assert fs.x_test is not None and fs.x_test.dtype == np.float64
    np.testing.assert_array_equal(fs.x_test, [[5.0], [1.0], [-4.0]])
    np.testing.assert_array_equal(fs.y_test, y_test)
    assert fs.class_names == ("0", "1")


def test_load_features_npz_test_split_messages(tmp_path):
    """load_features(.npz): an x_test with another feature count, and a y_test of the wrong
    length, are refused with messages naming the file and the array."""
    from labelavg.datasets import load_features

    x = np.zeros((4, 2))
    y = np.array([0, 1, 0, 1])
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=np.zeros((2, 3)),
             y_test=np.array([0, 1]))
    with pytest.raises(ValueError, match=r"^path \(d\.npz\): x_test has d=3 features but "
                                         r"x_train has d=2$"):
        load_features(tmp_path / "d.npz")
    np.savez(tmp_path / "n.npz", x_train=x, y_train=y, x_test=np.zeros((2, 2)),
             y_test=np.array([0, 1, 1]))
    with pytest.raises(ValueError, match=r"^path \(n\.npz\): y_test must have length 2, "
                                         r"got 3$"):
        load_features(tmp_path / "n.npz")


def test_load_features_unreadable_npy_names_the_path_argument(tmp_path):
    """load_features(.npy): a file that is not NumPy is refused as 'path: <name> is not a
    NumPy .npy/.npz file (...)', naming the argument that holds it."""
    from labelavg.datasets import load_features

    bad = tmp_path / "feat.npy"
    bad.write_text("not numpy at all")
    with pytest.raises(ValueError, match=r"^path: feat\.npy is not a NumPy \.npy/\.npz file "
                                         r"\(\w+\)$"):
        load_features(bad, labels=np.array([0, 1]))


def test_pll_topk_boundaries():
    """pll_topk: 'auto' = min(2, K − 1) (1 at K = 2, 2 at K = 5); integers 1 and K − 1 are
    legal and come back as int; 0, K and a bool are refused with the range in the message;
    None means no PLL student."""
    assert _checks.pll_topk("auto", 2) == 1 and _checks.pll_topk("auto", 5) == 2
    for value in (1, 4, np.int64(3)):
        got = _checks.pll_topk(value, 5)
        assert got == int(value) and type(got) is int
    assert _checks.pll_topk(None, 5) is None
    for value in (0, 5, True):
        with pytest.raises(ValueError, match=r"^pll_topk must be 'auto', None \(no PLL student\) "
                                             r"or an integer in 1\.\.K-1 = 1\.\.4 for K = 5, "
                                             rf"got {value!r}$"):
            _checks.pll_topk(value, 5)


def test_integer_at_least_boundary():
    """integer_at_least: the lower bound itself is legal (returned as int), one below is
    refused as '<name> must be >= <lower>, got <value>'; bools and floats are not integers."""
    got = _checks.integer_at_least("rounds", np.int32(1), 1)
    assert got == 1 and type(got) is int
    with pytest.raises(ValueError, match="^rounds must be >= 1, got 0$"):
        _checks.integer_at_least("rounds", 0, 1)
    with pytest.raises(TypeError, match="^rounds must be an integer, got bool$"):
        _checks.integer_at_least("rounds", True, 1)
    with pytest.raises(TypeError, match="^rounds must be an integer, got float$"):
        _checks.integer_at_least("rounds", 2.0, 1)
