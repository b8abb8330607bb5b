"""Rebuild gains.csv of a finished exact-protocol run from its results.csv with the
current code's _gain_rows (plurality decided exactly, λ-edge columns).
Usage: PYTHONPATH=. python data/reproduce/exact_full/retabulate.py SET RUN_DIR OUT_GAINS_CSV
(full-size runs only: no --max-train/--max-test, --cut 0.8)."""
import sys
from functools import partial
from pathlib import Path

import pandas as pd

from labelavg import datasets
from labelavg._io import atomic_write
from labelavg._xp import to_numpy
from labelavg.authors import authors_superclasses
from labelavg.cli import reproduce as rp
from labelavg.probe import class_correlation

name, run, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
res = pd.read_csv(run / "results.csv")
data = rp._subsample(datasets.load(name), None, None)
fit_rows, _ = rp._validation_split(data.y_train.size)
corr = class_correlation(data.x_train[fit_rows], data.y_train[fit_rows])
clusters, cut = rp._superclasses(corr, 0.8)
recipes = {"superclass": clusters,
           "superclass_authors": authors_superclasses(to_numpy(corr.mean), 0.8)}
etas = sorted(set(res.eta))
plurality = {(nz, eta): rp._plurality(nz, data.n_classes, eta, recipes.get(nz))
             for nz in rp.NOISES for eta in etas}
rows = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in res.to_dict("records")]
result = dict(rows=rows, set=dict(dataset=name), plurality=plurality)
gains = pd.DataFrame(rp._gain_rows(result))
atomic_write(out, partial(gains.to_csv, index=False))
print(rp.format_gains(gains))
