"""distill's float64 error bound (``_ChainError``) against an independent exact chain.

The exact chain is solved here in 60-digit mpmath, from the fixed-point equation
P = softmax((Q − P) Φ / (N λ)) of each round (Q the round's exact targets: the
one-hot labels, then the previous round's exact outputs), by Newton on all K·N
unknowns with a finite-difference-free analytic Jacobian. The bound must never be
below the real error of the stored float64 outputs.
"""

import mpmath
import numpy as np
import pytest

import importlib

from labelavg.distill import distill
from labelavg.gram import block_gram

DIGITS = 60
distill_module = importlib.import_module("labelavg.distill")


def _softmax(z):
    top = max(z)
    e = [mpmath.exp(v - top) for v in z]
    s = mpmath.fsum(e)
    return [v / s for v in e]


def _exact_round(gram, targets, n_lam, start):
    """P with P = softmax((Q − P) Φ / (Nλ)), columns = instances, Newton in mpmath."""
    k, n = len(targets), len(targets[0])
    p = [[mpmath.mpf(float(start[a, i])) for i in range(n)] for a in range(k)]
    for _ in range(60):
        z = [[mpmath.fsum((targets[a][j] - p[a][j]) * gram[j][i] for j in range(n)) / n_lam
              for i in range(n)] for a in range(k)]
        s = [_softmax([z[a][i] for a in range(k)]) for i in range(n)]          # s[i][a]
        resid = [p[a][i] - s[i][a] for a in range(k) for i in range(n)]
        if max(abs(r) for r in resid) < mpmath.mpf(10) ** (-DIGITS + 10):
            break
        jac = mpmath.zeros(k * n, k * n)
        for a in range(k):
            for i in range(n):
                row = a * n + i
                jac[row, row] += 1
                for b in range(k):
                    h = s[i][a] * ((a == b) - s[i][b])      # ∂s_a/∂z_b at instance i
                    for j in range(n):
                        # z_b,i depends on p_b,j through −Φ_ji / (Nλ)
                        jac[row, b * n + j] += h * gram[j][i] / n_lam
        step = mpmath.lu_solve(jac, mpmath.matrix(resid))
        p = [[p[a][i] - step[a * n + i] for i in range(n)] for a in range(k)]
    return p


@pytest.mark.parametrize("lam, rounds, c, d", [(0.05, 3, 0.5, 0.1), (0.5, 4, 0.4, 0.3),
                                               (2e-3, 2, 0.6, 0.2)])
def test_chain_bound_is_never_below_the_real_error(monkeypatch, lam, rounds, c, d):
    gram64 = block_gram(3, 2, c, d)
    labels = np.array([1, 0, 1, 1, 2, 2])
    true = np.repeat(np.arange(3), 2)
    seen = {}
    original = distill_module._path

    def spy(*args, **kwargs):
        seen["errors"] = args[-1] if len(args) > 8 else kwargs.get("errors")
        return original(*args, **kwargs)

    monkeypatch.setattr(distill_module, "_path", spy)
    path = distill(gram64, labels, lam, rounds, pll_topk=None, true_labels=true)
    errors = seen["errors"]
    assert len(errors) == rounds
    with mpmath.workdps(DIGITS):
        gram = [[mpmath.mpf(float(v)) for v in row] for row in gram64]
        n_lam = len(labels) * mpmath.mpf(lam)
        targets = [[mpmath.mpf(int(labels[i] == a)) for i in range(6)] for a in range(3)]
        for t in range(rounds):
            exact = _exact_round(gram, targets, n_lam, path.probs[t])
            real = np.array([[float(abs(mpmath.mpf(float(path.probs[t][a, i])) - exact[a][i]))
                              for i in range(6)] for a in range(3)])
            bound = np.broadcast_to(np.asarray(errors[t], dtype=float), (6,))
            assert np.all(real.max(axis=0) <= bound), (t, real.max(axis=0), bound)
            targets = exact
