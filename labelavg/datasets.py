"""Real feature sets for linear probing, loaded from ``.npz`` / ``.npy`` files.

:func:`load_wordnet_minilm` loads the dataset the project ships in
``data/wordnet_minilm.npz``: WordNet 3.0 noun glosses embedded by the sentence model
all-MiniLM-L6-v2 (384-d, unit-norm), labelled by lexicographer file (``noun.animal``,
``noun.artifact``, ...), ~14k train / ~6k test rows. ``data/README.md`` describes it and
``data/build_wordnet_minilm.py`` rebuilds it. :func:`load_features` loads a user's own
features. Both return a :class:`FeatureSet`.

This module only reads arrays with NumPy: it never imports torch (embedding happens in
the build script, once).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from . import _checks

__all__ = ["FeatureSet", "load_features", "load_wordnet_minilm", "WORDNET_MINILM_PATH"]

#: Where :func:`load_wordnet_minilm` looks by default: ``<repo>/data/wordnet_minilm.npz``
#: (found from this file, so it works for the editable install ``pip install -e .``).
WORDNET_MINILM_PATH = Path(__file__).resolve().parents[1] / "data" / "wordnet_minilm.npz"

_REBUILD = ("rebuild it from the repository root with `apt-get install wordnet-base`, "
            "`pip install torch==2.13.0` (first: the CPU wheel), `pip install -e .[embed]`, "
            "then `python data/build_wordnet_minilm.py` (see data/README.md)")

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
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    class_names: tuple[str, ...]
    meta: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

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
        return (f"FeatureSet(N_train={self.x_train.shape[0]}, {test}, d={self.n_features}, "
                f"K={self.n_classes}, dtype={self.x_train.dtype})")


def load_wordnet_minilm(path=None) -> FeatureSet:
    """Load WordNet noun glosses embedded by all-MiniLM-L6-v2 (the shipped dataset).

    Parameters
    ----------
    path : str or Path, optional
        The ``.npz`` to read; default :data:`WORDNET_MINILM_PATH`
        (``data/wordnet_minilm.npz`` in the repository).

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
        with np.load(path, allow_pickle=False) as npz:
            stored = {key: npz[key] for key in npz.files}
        return _from_arrays(stored, where=f"path ({path.name})")
    if suffix == ".npy":
        if labels is None:
            raise ValueError(f"labels: required for a .npy feature file ({path.name}), which "
                             "holds no labels; pass an integer array or a .npy path")
        x = np.load(path, allow_pickle=False)
        if isinstance(labels, (str, Path)):
            lpath = Path(labels)
            if not lpath.is_file():
                raise FileNotFoundError(f"labels: no such file {lpath}")
            if lpath.suffix.lower() != ".npy":
                raise ValueError(f"labels: a labels file must be .npy, got {lpath.name}")
            labels = np.load(lpath, allow_pickle=False)
        return _from_arrays({"x_train": x, "y_train": labels},
                            where=f"path ({path.name}) / labels", label_arg="labels")
    raise ValueError(f"path: expected a .npz or .npy file, got {path.name!r}")


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
    return FeatureSet(x_train, y_train, x_test, y_test, class_names, MappingProxyType(meta))
