"""Independent high-precision deviations of the reduced block rounds (a reference, not a proof).

Symbols: K classes, groups g = (true class a(g), given label) with counts n_g,
α = 1/(Nλ), Φ(a, b) the class-level correlations, s = 1 − c the self term,
q_g the targets, p_g the outputs, b_g = q_g − p_g at the fixed point
(theory/THEORY.md, Result 2; :mod:`labelavg.block`).

Used by the tests and ``theory/undecided_rate.py`` to measure the real error
of the float64 deviations Y⁽ᵗ⁾ − 1/K. Written apart from the float64 solver:
every residual is evaluated in mpmath at ``digits`` digits on the deviations
(so 1e-60 deviations keep their digits), Newton's matrix J = I + H·αM is
built densely in float64 (it only steers the iteration: the accepted point is
the one whose mp residual is at the working precision, and the fixed point is
unique because every fit is strictly convex).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = []


@dataclass(frozen=True)
class RefPath:
    """``deviations[t]``: (K, G) object array of mpf, round t + 1 on the present groups.

    ``present``: indices of the present groups (rows of ``counts`` read row-major);
    ``residual[t]``: max |p − q + b| in mp at acceptance; ``converged[t]``.
    """

    deviations: list
    present: np.ndarray
    residual: list
    converged: list


def reference_deviations(class_gram, counts, n_lam, self_coef, rounds, digits=80,
                         starts=None, max_iter=60):
    """Rounds 1..``rounds`` of one point at ``digits`` digits (targets: exact one-hot).

    Parameters
    ----------
    class_gram : ndarray (K, K)
    counts : ndarray (K, K)
        Group counts n_g, rows = true class.
    n_lam : float
        Nλ.
    self_coef : float
        1 − c (0 without the self term).
    rounds : int
    digits : int
    starts : sequence of (K, G_all) arrays, optional
        Newton's start b per round (e.g. the float64 duals); 0 otherwise.

    Returns
    -------
    RefPath
    """
    import mpmath

    k = class_gram.shape[0]
    weights = np.asarray(counts, dtype=float).reshape(-1)
    present = np.flatnonzero(weights > 0)
    true, given = present // k, present % k
    with mpmath.workdps(digits):
        mp = np.vectorize(mpmath.mpf, otypes=[object])
        prob = _Problem(mpmath, mp(class_gram), mp(weights[present]), true,
                        mpmath.mpf(1) / mpmath.mpf(n_lam), mpmath.mpf(self_coef), k)
        onehot = np.eye(k)[:, given]
        targets = mp(onehot) - mpmath.mpf(1) / k
        out = RefPath([], present, [], [])
        b = mp(np.zeros((k, present.size)))
        for t in range(rounds):
            if starts is not None:
                b = mp(np.asarray(starts[t], dtype=float)[:, present])
            b, dev, resid, ok = prob.newton(targets, b, digits, max_iter)
            out.deviations.append(dev)
            out.residual.append(resid)
            out.converged.append(ok)
            targets = dev
    return out


@dataclass(frozen=True)
class _Problem:
    mpmath: object
    gram: np.ndarray     # (K, K) mpf
    weights: np.ndarray  # (G,) mpf
    true: np.ndarray     # (G,) int
    alpha: object
    self_coef: object
    k: int

    def logits(self, b):
        """z = α (Σ_h n_h b_h Φ(a(g), a(h)) + s b_g), (K, G)."""
        sums = np.zeros((self.k, self.k), dtype=object)     # (output class, true class)
        for a in range(self.k):
            sums[:, a] = (b[:, self.true == a] * self.weights[self.true == a]).sum(axis=1) \
                if np.any(self.true == a) else 0
        across = sums.dot(self.gram)                        # (K, K): class a column
        return self.alpha * (across[:, self.true] + self.self_coef * b)

    def deviation(self, b):
        """p − 1/K = (K·expm1(y) − Σ expm1(y)) / (K (K + Σ expm1(y))), y centred: exact."""
        z = self.logits(b)
        y = z - z.sum(axis=0) / self.k
        em = np.vectorize(self.mpmath.expm1, otypes=[object])(y)
        total = em.sum(axis=0)
        return (self.k * em - total) / (self.k * (self.k + total))

    def jacobian(self, dev):
        """Float64 J = I + H αM on vec(b) (K·G), H_g = diag(p_g) − p_g p_gᵀ."""
        k, g = self.k, self.weights.size
        p = np.asarray(dev, dtype=float) + 1.0 / k
        w = np.asarray(self.weights, dtype=float)
        gram = np.asarray(self.gram, dtype=float)
        mix = gram[np.ix_(self.true, self.true)] * w[None, :] \
            + float(self.self_coef) * np.eye(g)                            # (G, G)
        jac = np.eye(k * g)
        for h in range(g):
            hess = np.diag(p[:, h]) - np.outer(p[:, h], p[:, h])           # (K, K)
            # rows (c, h): Σ_c' H_h[c, c'] α mix[h, h'] on unknown (c', h')
            jac[h::g, :] += float(self.alpha) * np.kron(hess, mix[h][None, :])
        return jac

    def newton(self, targets, b, digits, max_iter):
        """Damped Newton: a step is halved until max |r| decreases (at most 40 times)."""
        mpmath = self.mpmath
        scale = max(abs(x) for x in targets.ravel())
        goal = mpmath.mpf(10) ** (8 - digits) * scale
        dev = self.deviation(b)
        resid = dev - targets + b
        rmax = max(abs(x) for x in resid.ravel())
        for _ in range(max_iter):
            if rmax <= goal:
                return b, dev, float(rmax), True
            rhs = np.asarray(resid / rmax, dtype=float).reshape(-1)
            step = np.vectorize(mpmath.mpf, otypes=[object])(
                np.linalg.solve(self.jacobian(dev), rhs).reshape(b.shape)) * rmax
            for _ in range(40):
                trial = b - step
                trial_dev = self.deviation(trial)
                trial_resid = trial_dev - targets + trial
                trial_max = max(abs(x) for x in trial_resid.ravel())
                if trial_max < rmax:
                    break
                step = step / 2
            b, dev, resid, rmax = trial, trial_dev, trial_resid, trial_max
        return b, dev, float(rmax), rmax <= goal
