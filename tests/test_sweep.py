"""Tests of labelavg.sweep and the batched reduced solver behind it.

Symbols: K classes, n per class, c/d block correlations, λ ridge, η noise rate,
t fits. The independent reference is the full N × N solver (labelavg.distill
on the materialised Gram matrix) at small integer n.
"""

import math
import sys

import numpy as np
import pandas as pd
import pytest

import labelavg
from labelavg import noise
from labelavg.block import BlockModel, _Batch, _solve_batch, labels_from_counts
from labelavg.distill import distill
from labelavg.sweep import COLUMNS, sweep

POINTS = [  # K = 3: c, d, λ, n, noise, η — deliberately different everywhere
    (0.5, 0.1, 1e-2, 6, "symmetric", 0.3),
    (0.7, 0.0, 3e-3, 5, "pair", 0.2),
    (0.3, 0.2, 1e-1, 8, "asymmetric", 0.4),
    (0.6, 0.05, 1e-3, 4, "symmetric", 0.0),
]


def _counts(k, n, name, eta):
    return noise.count_matrix(n, noise.transition_matrix(name, k, eta)).astype(float)


def test_batched_solver_equals_the_full_solver_at_every_point():
    k, rounds = 3, 4
    models = [BlockModel(k, n, c, d) for c, d, _, n, _, _ in POINTS]
    counts = [_counts(k, n, name, eta) for _, _, _, n, name, eta in POINTS]
    batch = _Batch.stack(models, counts, [p[2] for p in POINTS])
    res = _solve_batch(batch, rounds, "exact", pll_topk=1, tol=1e-12)
    assert res.path.converged.all()
    for i, (model, mat, point) in enumerate(zip(models, counts, POINTS)):
        keep = batch.present[i]
        path = distill(model.gram(), labels_from_counts(mat.astype(int)), point[2], rounds,
                       pll_topk=1, n_classes=k, tol=1e-13)
        reps = mat.reshape(-1)[keep].astype(int)
        probs = 1 / k + res.path.deviation[i][..., keep]
        np.testing.assert_allclose(np.repeat(probs, reps, axis=-1), path.probs, atol=1e-10)
        pll = 1 / k + res.pll.path.deviation[i, 0][:, keep]
        np.testing.assert_allclose(np.repeat(pll, reps, axis=-1), path.pll_probs, atol=1e-10)


def test_a_stack_equals_its_points_solved_one_by_one():
    k = 3
    models = [BlockModel(k, n, c, d) for c, d, _, n, _, _ in POINTS]
    counts = [n * noise.transition_matrix(name, k, eta) for _, _, _, n, name, eta in POINTS]
    lams = [p[2] for p in POINTS]
    together = _solve_batch(_Batch.stack(models, counts, lams), 6, "exact", pll_topk=2)
    for i in range(len(POINTS)):
        alone = _solve_batch(_Batch.stack([models[i]], [counts[i]], [lams[i]]), 6, "exact",
                             pll_topk=2)
        scale = np.abs(alone.path.deviation).max(axis=(-2, -1), keepdims=True)
        np.testing.assert_allclose(together.path.deviation[[i]] / scale,
                                   alone.path.deviation / scale, atol=1e-10)
        np.testing.assert_array_equal(together.verdicts[i], alone.verdicts[0])


def test_sweep_table_shape_columns_and_values():
    table = sweep(eta=[0.1, 0.5], lam=[1e-3, 1e-2], c=0.4, d=0.1, noise=["symmetric", "pair"],
                  rounds=3)
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 2 * 2 * 2 * 3
    row = table[(table.eta == 0.5) & (table.lam == 1e-3) & (table.noise == "symmetric")]
    sol = BlockModel(4, 100, 0.4, 0.1).solve(noise.symmetric(4, 0.5), lam=1e-3, rounds=3)
    np.testing.assert_array_equal(row["label_correction"], [a.all for a in sol.accuracy])
    np.testing.assert_array_equal(row["fresh"], sol.fresh_accuracy)
    assert row["pll_label_correction"].iloc[0] == sol.pll_accuracy.all
    verdict = labelavg.full_accuracy(BlockModel(4, 100, 0.4, 0.1), noise.symmetric(4, 0.5),
                                     lam=1e-3, max_rounds=3)
    assert row["t_star"].iloc[0] == verdict.min_rounds
    assert row["least_round"].iloc[0] == verdict.min_rounds_exact


def test_sweep_on_a_local_dask_cluster_is_identical():
    distributed = pytest.importorskip("dask.distributed")
    kwargs = dict(eta=[0.1, 0.4, 0.6], lam=[1e-3, 3e-2], n_classes=[3, 4], rounds=4,
                  batch_size=2)
    local = sweep(**kwargs)
    with distributed.LocalCluster(n_workers=2, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = sweep(**kwargs, client=client)
    pd.testing.assert_frame_equal(local, remote)


@pytest.mark.parametrize("kwargs, match", [
    (dict(eta=[], lam=1e-3), r"eta must be a scalar or a non-empty list, got \[\]"),
    (dict(eta=0.1, lam=1e-3, noise="gaussian"), "noise must be one of.*gaussian"),
    (dict(eta=0.1, lam=1e-3, c=[0.2, 0.5], d=[0.1, 0.3]), r"d=0.3 with c=0.2"),
    (dict(eta=0.1, lam=[1e-3, -1.0]), "lam must be a finite number > 0, got -1.0"),
    (dict(eta=[0.1, 1.5], lam=1e-3), "eta"),
    (dict(eta=0.1, lam=1e-3, n_classes=[4, 1]), "n_classes"),
    (dict(eta=0.1, lam=1e-3, rounds=0), "rounds"),
])
def test_bad_input_is_refused_before_any_work(kwargs, match, monkeypatch):
    sweep_module = sys.modules["labelavg.sweep"]      # the name labelavg.sweep is the function

    def no_work(task):
        raise AssertionError("solved before validating")

    monkeypatch.setattr(sweep_module, "_solve_task", no_work)
    with pytest.raises((ValueError, TypeError), match=match):
        sweep(**kwargs)


def test_cli_sweep_writes_csv(tmp_path):
    from labelavg.cli import main

    out = tmp_path / "s.csv"
    assert main(["sweep", "--eta", "0.1,0.5", "--lam", "1e-3", "--rounds", "2",
                 "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == list(COLUMNS) and len(table) == 4
    assert main(["sweep", "--eta", "0.1", "--d", "0.5", "--out", str(out)]) == 2


def test_pll_skipped_where_topk_reaches_k():
    table = sweep(eta=0.1, lam=1e-2, n_classes=[2, 3], rounds=1, pll_topk=2)
    k2 = table[table.n_classes == 2]
    assert math.isnan(k2["pll_label_correction"].iloc[0])
    assert not math.isnan(table[table.n_classes == 3]["pll_label_correction"].iloc[0])


def test_noise_free_points_have_no_undecided_rows():
    # absent (true, given) groups are carried along but never judged
    table = sweep(eta=0.0, lam=[1e-4, 1e-1], rounds=30)
    assert (table.undecided == 0).all() and (table.label_correction == 1.0).all()
    assert (table.least_round == 1.0).all()
