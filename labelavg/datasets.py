"""Real feature sets for linear probing, loaded from ``.npz`` / ``.npy`` files.

The package ships four feature sets as package data in ``labelavg/data/`` (so they are
in the wheel and load from any directory); :func:`list_datasets` names them and
:func:`load` reads one:

- ``wordnet_minilm`` (text): WordNet 3.0 noun glosses embedded by the sentence model
  all-MiniLM-L6-v2 (384-d, unit-norm), labelled by lexicographer file (``noun.animal``,
  ``noun.artifact``, ...; K = 24), 14,000 train / 6,000 test rows;
- ``wordnet100_minilm`` (text): the same embedding, labelled by K = 100 disjoint
  hypernym subtrees of the noun hierarchy (``bird.n.01``, ``device.n.01``, ...; the
  paper's data sets have K = 100-256), 150 synsets per class, 10,500 train / 4,500 test;
- ``fashion_mnist_effnet`` (image): Fashion-MNIST images embedded by the
  ImageNet-pretrained EfficientNet-Lite0 (1280-d pooled features, projected to 256-d by
  a fixed linear map, unit-norm), K = 10, 5,000 train / 2,000 test;
- ``digits_effnet`` (image): scikit-learn's 8x8 digits through the same network and
  the same kind of projection, K = 10, 1,258 train / 539 test.

``data/README.md`` describes them; ``data/build_wordnet_minilm.py``,
``data/build_wordnet100_minilm.py`` and ``data/build_image_effnet.py`` rebuild them byte
for byte. :func:`load_features` loads
a user's own features. All return a :class:`FeatureSet`.

This module only reads arrays with NumPy: it never imports torch (embedding happens in
the build scripts, once).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from . import _checks

__all__ = ["FeatureSet", "list_datasets", "load", "load_features", "load_wordnet_minilm",
           "DATA_DIR", "WORDNET_MINILM_PATH"]

#: The folder of the shipped feature sets, inside the installed package (package data).
DATA_DIR = Path(__file__).resolve().parent / "data"

#: Where :func:`load_wordnet_minilm` looks by default: ``labelavg/data/wordnet_minilm.npz``.
WORDNET_MINILM_PATH = DATA_DIR / "wordnet_minilm.npz"

_BUILD = ("from the repository root: `pip install torch==2.13.0+cpu` (first: the CPU "
          "wheel), `pip install -e .[build]`, then ")
_REBUILD = ("rebuild it " + _BUILD + "`apt-get install wordnet-base` and "
            "`python data/build_wordnet_minilm.py` (see data/README.md)")

#: name -> (modality, file in DATA_DIR, rebuild hint)
_SHIPPED = {
    "wordnet_minilm": ("text", "wordnet_minilm.npz", _REBUILD),
    "wordnet100_minilm": ("text", "wordnet100_minilm.npz",
                          "rebuild it " + _BUILD + "`apt-get install wordnet-base` and "
                          "`python data/build_wordnet100_minilm.py` (see data/README.md)"),
    "fashion_mnist_effnet": ("image", "fashion_mnist_effnet.npz",
                             "rebuild it " + _BUILD + "`apt-get install dataset-fashion-mnist`"
                             " and `python data/build_image_effnet.py fashion_mnist` "
                             "(see data/README.md)"),
    "digits_effnet": ("image", "digits_effnet.npz",
                      "rebuild it " + _BUILD + "`python data/build_image_effnet.py digits` "
                      "(see data/README.md)"),
}

_ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test", "class_names")


@dataclass(frozen=True)
class FeatureSet:
    """Features and integer labels for a probe, split into train and test.

    Attributes
    ----------
    x_train : ndarray (N_train, d)
        Features, one row per sample (float32 for float16/float32 input, float64 for
        float64 or integer input).
    y_train : ndarray (N_train,) of intp
        Labels in ``0..K-1``.
    x_test, y_test : ndarray or None
        The held-out split, or ``None`` when the source has none.
    class_names : tuple of str
        ``K`` names, ``class_names[k]`` for label ``k``.
    meta : mapping
        Everything else the file holds (provenance, ids), read-only.
    modality : {"text", "image"} or None
        What the features embed, for the shipped sets (:func:`load`); ``None`` for a
        user's file that does not say (a ``modality`` string key in the ``.npz``).
    name : str or None
        The shipped set's name (:func:`list_datasets`), else ``None``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    class_names: tuple[str, ...]
    meta: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    modality: str | None = None
    name: str | None = None

    @property
    def n_classes(self) -> int:
        """``K``, the number of classes."""
        return len(self.class_names)

    @property
    def n_features(self) -> int:
        """``d``, the feature dimension."""
        return int(self.x_train.shape[1])

    def __repr__(self) -> str:
        test = "no test split" if self.x_test is None else f"N_test={self.x_test.shape[0]}"
        head = "" if self.name is None else f"{self.name!r}, "
        kind = "" if self.modality is None else f", {self.modality}"
        return (f"FeatureSet({head}N_train={self.x_train.shape[0]}, {test}, "
                f"d={self.n_features}, K={self.n_classes}, dtype={self.x_train.dtype}{kind})")


def list_datasets() -> tuple[str, ...]:
    """Names of the feature sets shipped inside the package, for :func:`load`.

    Returns
    -------
    tuple of str
        ``("wordnet_minilm", "wordnet100_minilm", "fashion_mnist_effnet",
        "digits_effnet")``.

    Examples
    --------
    >>> "fashion_mnist_effnet" in list_datasets()
    True
    """
    return tuple(_SHIPPED)


def load(name) -> FeatureSet:
    """Load a shipped feature set by name.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`.

    Returns
    -------
    FeatureSet
        With ``name``, ``modality`` (``"text"`` or ``"image"``), the train/test split
        (float32 features upcast from the stored float16, intp labels) and the class
        names; ``meta`` holds the provenance (``source``, ``model``, ``seed``,
        ``versions``, ...; see ``data/README.md``).

    Raises
    ------
    ValueError
        ``name`` is not a shipped set.
    FileNotFoundError
        The file is missing from the installation, with the commands that rebuild it.

    Examples
    --------
    >>> fs = load("digits_effnet")
    >>> fs.modality, fs.n_classes, fs.n_features
    ('image', 10, 256)
    """
    if not isinstance(name, str) or name not in _SHIPPED:
        raise ValueError(f"name: expected one of {list(_SHIPPED)}, got {name!r}")
    modality, filename, rebuild = _SHIPPED[name]
    path = DATA_DIR / filename
    if not path.is_file():
        raise FileNotFoundError(f"name: the {name} feature file {path} is missing; {rebuild}")
    return dataclasses.replace(load_features(path), modality=modality, name=name)


def load_wordnet_minilm(path=None) -> FeatureSet:
    """Load WordNet noun glosses embedded by all-MiniLM-L6-v2 (the shipped dataset).

    Parameters
    ----------
    path : str or Path, optional
        The ``.npz`` to read; default :data:`WORDNET_MINILM_PATH`
        (``labelavg/data/wordnet_minilm.npz``, shipped in the package; ``load(
        "wordnet_minilm")`` reads the same file and sets ``modality`` and ``name``).

    Returns
    -------
    FeatureSet
        ``x`` float32 (upcast from the stored float16, rows unit-norm to ~1e-3),
        ``y`` intp in ``0..K-1``, ``class_names`` the WordNet lexnames
        (``"noun.act"``, ...); ``meta`` holds ``lexfile`` (the lexicographer file number
        of each class), ``offset_train`` / ``offset_test`` (WordNet synset offsets of the
        rows), ``model``, ``source``, ``seed``, ``text_format`` and ``versions`` (a dict).

    Raises
    ------
    FileNotFoundError
        If the file is missing, with the commands that rebuild it.
    """
    path = WORDNET_MINILM_PATH if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no WordNet/MiniLM feature file at {path}; {_REBUILD}")
    return load_features(path)


def load_features(path, labels=None) -> FeatureSet:
    """Load features (and labels) from a ``.npz`` or ``.npy`` file.

    Rule for labels:

    - ``.npz``: must hold ``x_train`` (N, d) and ``y_train`` (N,); ``x_test`` and
      ``y_test`` are optional but go together; ``class_names`` (K strings) is optional
      (default ``"0".."K-1"`` with ``K = max label + 1``). Any other key goes to ``meta``.
      ``labels`` must not be given.
    - ``.npy``: holds only the feature matrix (N, d), so ``labels`` is required: an
      integer array of length N, or the path of a ``.npy`` holding one. The result has
      no test split (``x_test`` and ``y_test`` are ``None``).

    Labels must be integers in ``0..K-1`` (``K = len(class_names)`` when names are
    stored), or strings: these are coded by their rank among the distinct labels of
    both splits, which become ``class_names`` (by their place in ``class_names`` when
    stored); test labels must lie in the same range. Features must be finite and 2-D,
    train and test with the same ``d``. float16 features are upcast to float32;
    float32 and float64 are kept; integer features become float64. Files are read with
    ``allow_pickle=False``.

    Raises
    ------
    FileNotFoundError
        ``path`` (or a ``labels`` path) does not exist.
    ValueError
        Naming the argument (``path``, ``labels``) and the key at fault: wrong
        extension, missing or extra keys, NaN/inf, wrong rank, lengths that disagree,
        labels out of range.
    TypeError
        Labels that are not integers, features that are not numeric.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no such file {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        if labels is not None:
            raise ValueError("labels: must not be given for a .npz file, whose labels are "
                             "its y_train / y_test arrays")
        npz = _read(path, "path")
        if not hasattr(npz, "files"):
            raise ValueError(f"path: {path.name} holds a single array, not an .npz "
                             "archive of named arrays (x_train, y_train, ...)")
        with npz:
            stored = {key: npz[key] for key in npz.files}
        return _from_arrays(_encode_labels(stored), where=f"path ({path.name})")
    if suffix == ".npy":
        if labels is None:
            raise ValueError(f"labels: required for a .npy feature file ({path.name}), which "
                             "holds no labels; pass an integer array or a .npy path")
        x = _read(path, "path")
        if isinstance(labels, (str, Path)):
            lpath = Path(labels)
            if not lpath.is_file():
                raise FileNotFoundError(f"labels: no such file {lpath}")
            if lpath.suffix.lower() != ".npy":
                raise ValueError(f"labels: a labels file must be .npy, got {lpath.name}")
            labels = _read(lpath, "labels")
        return _from_arrays(_encode_labels({"x_train": x, "y_train": labels}),
                            where=f"path ({path.name}) / labels", label_arg="labels")
    raise ValueError(f"path: expected a .npz or .npy file, got {path.name!r}")


def _read(path, arg):
    """``np.load`` without pickles; ValueError naming ``arg`` and the file if not NumPy."""
    import zipfile

    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{arg}: {path.name} is not a NumPy .npy/.npz file "
                         f"({type(exc).__name__})") from None


def _encode_labels(stored):
    """String labels (y_train, y_test) -> integer codes, as scikit-learn's estimators take them.

    Codes follow ``class_names`` when stored, else the sorted distinct labels
    of both splits, which become the class names.
    """
    ys = [key for key in ("y_train", "y_test") if key in stored]
    if not any(np.asarray(stored[key]).dtype.kind in "US" for key in ys):
        return stored
    arrays = {key: np.asarray(stored[key]).astype(str) for key in ys}
    names = (np.asarray(stored["class_names"]).astype(str) if "class_names" in stored
             else np.unique(np.concatenate([a.ravel() for a in arrays.values()])))
    index = {name: i for i, name in enumerate(names.tolist())}
    out = dict(stored, class_names=names)
    for key, arr in arrays.items():
        unknown = sorted(set(arr.ravel().tolist()) - set(index))
        if unknown:
            raise ValueError(f"{key}: labels {unknown[:5]} are not in class_names")
        out[key] = np.array([index[v] for v in arr.ravel().tolist()],
                            dtype=np.int64).reshape(arr.shape)
    return out


def _features(name, arr):
    arr = np.asarray(arr)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.dtype == np.float16:
        dtype = np.float32
    elif arr.dtype in (np.float32, np.float64):
        dtype = arr.dtype
    else:
        dtype = np.float64
    arr = _checks.finite_array(name, arr, ndim=2, dtype=dtype)
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {arr.shape}")
    return arr


def _from_arrays(stored, where, label_arg=None):
    """Validate ``stored`` (dict of arrays) into a FeatureSet; errors start with ``where``."""
    lab = label_arg or where
    for key in ("x_train", "y_train"):
        if key not in stored:
            raise ValueError(f"{where}: missing key {key!r} (has {sorted(stored)})")
    if ("x_test" in stored) != ("y_test" in stored):
        raise ValueError(f"{where}: x_test and y_test must both be present or both absent")
    x_train = _features(f"{where}: x_train", stored["x_train"])
    y_raw = np.asarray(stored["y_train"])
    y_ok = y_raw.ndim == 1 and y_raw.size and np.issubdtype(y_raw.dtype, np.integer)

    if "class_names" in stored:
        names = np.asarray(stored["class_names"])
        if names.ndim != 1 or not np.issubdtype(names.dtype, np.str_):
            raise ValueError(f"{where}: class_names must be a 1-D array of strings, "
                             f"got dtype {names.dtype} shape {names.shape}")
        class_names = tuple(str(s) for s in names)
        n_classes = len(class_names)
    else:
        n_classes = int(y_raw.max()) + 1 if y_ok else 1  # bad labels: _checks.labels says why
        class_names = tuple(str(k) for k in range(n_classes))
    y_train = _checks.labels(f"{lab}: y_train", y_raw, n_classes, x_train.shape[0])

    x_test = y_test = None
    if "x_test" in stored:
        x_test = _features(f"{where}: x_test", stored["x_test"])
        if x_test.shape[1] != x_train.shape[1]:
            raise ValueError(f"{where}: x_test has d={x_test.shape[1]} features but "
                             f"x_train has d={x_train.shape[1]}")
        x_test = x_test.astype(x_train.dtype, copy=False)
        y_test = _checks.labels(f"{where}: y_test", stored["y_test"], n_classes,
                                x_test.shape[0])

    meta = {}
    for key, value in stored.items():
        if key in _ARRAY_KEYS:
            continue
        value = np.asarray(value)
        if value.ndim == 0:
            value = value.item()
            if key == "versions" and isinstance(value, str):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError:
                    pass
        meta[key] = value
    modality = meta.get("modality")
    return FeatureSet(x_train, y_train, x_test, y_test, class_names, MappingProxyType(meta),
                      modality=modality if isinstance(modality, str) else None)
