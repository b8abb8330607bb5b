"""Result objects print in one short line: shapes, residual, converged, accuracy."""

import numpy as np
import pytest

import labelavg as la
from labelavg import noise
from labelavg.gram import block_gram, block_labels

MAX_CHARS = 400


def _path(method, n=30):
    true = block_labels(3, n // 3)
    given = noise.assign_labels_exact(true, noise.symmetric(3, 0.3))
    return la.distill(block_gram(3, n // 3, 0.4, 0.1), given, 1e-3, 6, method=method,
                      true_labels=true)


def _short(obj, *texts):
    text = repr(obj)
    assert len(text) <= MAX_CHARS and "\n" not in text, text
    for part in texts:
        assert part in text, (part, text)
    return text


@pytest.mark.parametrize("method", ["exact", "linear"])
def test_distill_path(method):
    path = _path(method)
    text = _short(path, "DistillPath(", f"method='{method}'", "rounds=6",
                  "probs=array(6, 3, 30)", "accuracy=[", "pll_accuracy=")
    if method == "exact":
        assert "converged=True" in text and "residual=" in text


def test_fit_result():
    fit = _path("exact").fits[0]
    _short(fit, "FitResult(", "probs=array(3, 30)", "residual=", "converged=True",
           f"n_iter={fit.n_iter}")


def test_spectrum_at_large_n():
    spec = la.spectrum(block_gram(4, 100, 0.4, 0.1))
    _short(spec, "Spectrum(", "evals=array(400,)", "evecs=array(400, 400)")


@pytest.mark.parametrize("pll_topk", [2, None])
def test_block_solution(pll_topk):
    sol = la.BlockModel(4, 100, 0.4, 0.1).solve(noise.symmetric(4, 0.5), lam=1e-3,
                                                 rounds=12, pll_topk=pll_topk)
    first, second, last = (f"{sol.accuracy[t].all:.3f}" for t in (0, 1, -1))
    text = _short(sol, "BlockSolution(", "rounds=12", "converged=True", "residual=",
                  f"accuracy=[{first}, {second}, ..., {last}]")
    assert ("pll_accuracy=" in text) == (pll_topk is not None)
    assert np.isfinite(sol.residual).all()
