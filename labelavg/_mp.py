"""Independent high-precision (mpmath) solve of the reduced block problem: the tests' reference.

Symbols: K ``n_classes``, n ``n_per_class``, N = Kn, λ ``lam``, groups g =
(true class a(g), given label) with counts n_g, targets q_g, outputs p_g, dual
b_g = q_g − p_g, α = 1/(Nλ), Φ(a, b) the class-level correlations, s = 1 − c
the self term (theory/THEORY.md, Result 2; :mod:`labelavg.block`).

Independent of the float64 path and of the certificate (:mod:`labelavg._certify`)
on purpose: its own Newton iteration in mpmath arithmetic on the present
groups only, on plain outputs, its own tie rule for the PLL targets. The
working precision adapts to the deviations' scale: ``digits`` is what the
smallest deviation from 1/K keeps (relative), so the working digits are
raised by −log10 of that scale until it is resolved (deviations down to
1e-60 and below). It is evidence, not a proof: the tests hold the
certificate's verdicts against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = []


@dataclass(frozen=True)
class MpPath:
    """Margins of every round in high precision (as Python floats of mp numbers).

    ``margins[t][g]``: p_g[a(g)] − max_{k≠a(g)} p_g[k] of round t + 1;
    ``fresh[t][a]`` likewise for a fresh instance of class a (logits);
    ``scale[t]``: max |p − 1/K| of the round (the size ties are measured on);
    ``pll`` / ``pll_fresh``: the PLL student's, or None.
    ``tie``: margins with |m| ≤ tie · scale are ties at this precision;
    ``digits``: the working precision the answer was computed at.
    """

    margins: list
    fresh: list
    scale: list
    pll: list | None
    pll_fresh: list | None
    tie: float
    digits: int = 0


def solve_mp(class_gram, counts, n_lam, self_coef, rounds, digits, pll_topk=None,
             ties="split", starts=None):
    """Rounds 1..``rounds`` (and the PLL student) of one point at ``digits`` digits.

    Parameters
    ----------
    class_gram : ndarray (K, K)
    counts : ndarray (K, K)
        Group counts, rows = true class.
    n_lam : float
        Nλ.
    self_coef : float
        1 − c (0 without the self term).
    rounds : int
    digits : int
        Decimal digits kept by the smallest deviation (relative); the mpmath
        working precision is raised above it as the deviations require.
    pll_topk, ties :
        As in :meth:`labelavg.block.BlockModel.solve` (``ties`` "split",
        "all" or "index").
    starts : array (rounds, K, G), optional
        Starting duals b = q − p of each round on the present groups (e.g.
        a float64 solution): only where Newton starts, never what it accepts;
        every round is iterated until its own mp residual is at the working
        precision.

    Returns
    -------
    MpPath
        Computed at ``digits`` plus −log10 of the smallest deviation scale of
        any round (raised until that scale is resolved).
    """
    work = digits
    if starts is not None:       # the float duals' scale: a first guess of the digits needed
        smallest = min(float(np.abs(s).max()) for s in starts)
        work += math.ceil(-math.log10(smallest)) + 5 if 0 < smallest < 1 else 0
    for _ in range(12):
        path = _solve_at(class_gram, counts, n_lam, self_coef, rounds, digits, work,
                         pll_topk, ties, starts)
        smallest = min(path.scale)
        need = digits + (math.ceil(-math.log10(smallest)) if smallest > 0 else work)
        if work >= need:
            return path
        work = need + 5
    raise ArithmeticError(f"mp reference: deviations below 1e-{work - digits} not resolved")


def _solve_at(class_gram, counts, n_lam, self_coef, rounds, digits, work, pll_topk, ties,
              starts):
    """:func:`solve_mp` at ``work`` working digits (ties at 10^(−digits/2) of the scale)."""
    import mpmath

    with mpmath.workdps(work):
        prob = _Problem(mpmath, class_gram, counts, n_lam, self_coef)
        tie = mpmath.mpf(10) ** (-(digits // 2))
        targets = [_onehot(mpmath, prob.k, j) for j in prob.given]
        out = dict(margins=[], fresh=[], scale=[])
        b = [[mpmath.mpf(0)] * prob.k for _ in prob.true]
        teacher = None
        for t in range(rounds):
            if starts is not None:
                b = [[mpmath.mpf(float(x)) for x in col] for col in np.asarray(starts[t]).T]
            b = prob.newton(targets, b)
            probs = prob.outputs(b)
            teacher = probs if teacher is None else teacher
            _record(mpmath, prob, out, b, probs)
            targets = probs
        pll = pll_fresh = None
        if pll_topk is not None:
            q = [_partial(mpmath, p, pll_topk, ties, tie) for p in teacher]
            zero = [[mpmath.mpf(0)] * prob.k for _ in prob.true]
            b = prob.newton(q, zero)
            probs = prob.outputs(b)
            pll = [float(m) for m in _margins(prob, probs)]
            pll_fresh = [float(m) for m in _fresh_margins(prob, b)]
        return MpPath(out["margins"], out["fresh"], out["scale"], pll, pll_fresh, float(tie),
                      work)


def _record(mpmath, prob, out, b, probs):
    out["margins"].append([float(m) for m in _margins(prob, probs)])
    out["fresh"].append([float(m) for m in _fresh_margins(prob, b)])
    u = mpmath.mpf(1) / prob.k
    out["scale"].append(float(max(abs(x - u) for p in probs for x in p)))


def _onehot(mpmath, k, j):
    return [mpmath.mpf(1 if i == j else 0) for i in range(k)]


def _margins(prob, probs):
    return [p[a] - max(x for i, x in enumerate(p) if i != a)
            for a, p in zip(prob.true, probs)]


def _fresh_margins(prob, b):
    sums = prob.class_sums(b)
    out = []
    for a in range(prob.k):
        z = [sum(prob.gram[a][c] * sums[c][i] for c in range(prob.k)) * prob.alpha
             for i in range(prob.k)]
        out.append(z[a] - max(x for i, x in enumerate(z) if i != a))
    return out


def _partial(mpmath, p, k, ties, tie):
    """Top-k partial label of one column, ties within ``tie`` of the spread."""
    u = mpmath.mpf(1) / len(p)
    spread = max(abs(x - u) for x in p)
    kth = sorted(p, reverse=True)[k - 1]
    above = [x > kth + tie * spread for x in p]
    tied = [not a and x >= kth - tie * spread for a, x in zip(above, p)]
    if ties == "all":
        members = [a or t for a, t in zip(above, tied)]
        return [mpmath.mpf(m) / sum(members) for m in members]
    free = k - sum(above)
    if ties == "split":
        return [mpmath.mpf(1) / k if a else (mpmath.mpf(free) / (k * sum(tied)) if t else 0)
                for a, t in zip(above, tied)]
    chosen, left = [], free
    for a, t in zip(above, tied):
        chosen.append(a or (t and left > 0))
        left -= bool(t and not a)
    return [mpmath.mpf(1) / k if c else mpmath.mpf(0) for c in chosen]


class _Problem:
    """The reduced fixed point b_g = q_g − softmax(α(Σ_h n_h Φ b_h + s b_g)) in mp."""

    def __init__(self, mpmath, class_gram, counts, n_lam, self_coef):
        self.mp = mpmath
        counts = np.asarray(counts, dtype=float)
        self.k = counts.shape[0]
        self.true, self.given = (list(map(int, x)) for x in np.nonzero(counts > 0))
        self.weights = [mpmath.mpf(float(counts[a, j])) for a, j in zip(self.true, self.given)]
        self.gram = [[mpmath.mpf(float(x)) for x in row] for row in np.asarray(class_gram)]
        self.alpha = 1 / mpmath.mpf(float(n_lam))
        self.self_coef = mpmath.mpf(float(self_coef))

    def class_sums(self, b):
        sums = [[self.mp.mpf(0)] * self.k for _ in range(self.k)]
        for a, w, bg in zip(self.true, self.weights, b):
            for i in range(self.k):
                sums[a][i] += w * bg[i]
        return sums

    def logits(self, b):
        sums = self.class_sums(b)
        mixed = [[sum(self.gram[a][c] * sums[c][i] for c in range(self.k)) for i in range(self.k)]
                 for a in range(self.k)]
        return [[self.alpha * (mixed[a][i] + self.self_coef * bg[i]) for i in range(self.k)]
                for a, bg in zip(self.true, b)]

    def outputs(self, b):
        out = []
        for z in self.logits(b):
            top = max(z)
            e = [self.mp.exp(x - top) for x in z]
            total = sum(e)
            out.append([x / total for x in e])
        return out

    def residual(self, targets, b):
        return [[p - q + x for p, q, x in zip(pg, qg, bg)]
                for pg, qg, bg in zip(self.outputs(b), targets, b)]

    def newton(self, targets, b, max_iter=100):
        mp = self.mp
        # outputs are O(1/K): their absolute rounding, not the deviations' size
        goal = mp.mpf(10) ** (-(mp.mp.dps - 5))
        r = self.residual(targets, b)
        size = max(abs(x) for row in r for x in row)
        for _ in range(max_iter):
            if size <= goal:
                return b
            step = self.direction(self.outputs(b), r)
            t = mp.mpf(1)
            for _ in range(60):
                trial = [[x + t * d for x, d in zip(bg, dg)] for bg, dg in zip(b, step)]
                r_new = self.residual(targets, trial)
                new = max(abs(x) for row in r_new for x in row)
                if new < size:
                    break
                t /= 2
            b, r, size = trial, r_new, new
        raise ArithmeticError(f"mp Newton did not converge (residual {float(size):.3g})")

    def direction(self, probs, r):
        """Solve J Δ = −r by the class-level reduction (see the float solver's notes).

        Per group, R = I + α·s·H (H = diag p − p pᵀ) is inverted in closed form
        (diagonal plus rank one): R⁻¹H = diag(dq) + dq ⊗ tail. The class sums
        s_b then solve s_b + V_b Σ_a Φ(b, a) s_a = −U_b; for a block Gram
        (Φ = d 11ᵀ + (c − d) I) this splits into K + 1 systems of size K.
        """
        mp, k, alpha = self.mp, self.k, self.alpha
        beta = alpha * self.self_coef
        u = [[mp.mpf(0)] * k for _ in range(k)]
        v = [[[mp.mpf(0)] * k for _ in range(k)] for _ in range(k)]
        parts = []
        for a, w, p, rg in zip(self.true, self.weights, probs, r):
            d = [1 / (1 + beta * x) for x in p]
            dq = [di * x for di, x in zip(d, p)]
            den = 1 - beta * sum(y * x for y, x in zip(dq, p))
            dqr = sum(y * x for y, x in zip(dq, rg)) / den
            rinv_r = [di * x + beta * y * dqr for di, x, y in zip(d, rg, dq)]
            tail = [(beta * y * x - x) / den for y, x in zip(dq, p)]
            parts.append((rinv_r, dq, tail))
            for i in range(k):
                u[a][i] += w * rinv_r[i]
                v[a][i][i] += alpha * w * dq[i]
                for j in range(k):
                    v[a][i][j] += alpha * w * dq[i] * tail[j]
        s = self._class_sums(u, v)
        out = []
        for a, (rinv_r, dq, tail) in zip(self.true, parts):
            wv = [sum(self.gram[a][c] * s[c][j] for c in range(k)) for j in range(k)]
            tw = sum(t * x for t, x in zip(tail, wv))
            out.append([-rinv_r[i] - alpha * (dq[i] * wv[i] + dq[i] * tw) for i in range(k)])
        return out

    def _class_sums(self, u, v):
        mp, k, gram = self.mp, self.k, self.gram
        off = gram[0][1] if k > 1 else mp.mpf(0)
        block = all(gram[a][b] == (gram[0][0] if a == b else off)
                    for a in range(k) for b in range(k))
        if block:
            # s_b = −A_b⁻¹(u_b + d V_b σ), A_b = I + (c − d) V_b, σ = Σ_b s_b
            diag = gram[0][0] - off
            a_inv = [mp.inverse(mp.eye(k) + diag * mp.matrix(vb)) for vb in v]
            lhs = mp.eye(k) + off * sum((ai * mp.matrix(vb) for ai, vb in zip(a_inv, v)),
                                        mp.zeros(k, k))
            rhs = -sum((ai * mp.matrix(ub) for ai, ub in zip(a_inv, u)), mp.zeros(k, 1))
            sigma = mp.lu_solve(lhs, rhs)
            return [list(-(ai * (mp.matrix(ub) + off * (mp.matrix(vb) * sigma))))
                    for ai, ub, vb in zip(a_inv, u, v)]
        size = k * k
        system, rhs = mp.eye(size), mp.matrix(size, 1)
        for b in range(k):
            for i in range(k):
                rhs[b * k + i] = -u[b][i]
                for a in range(k):
                    for j in range(k):
                        system[b * k + i, a * k + j] += v[b][i][j] * gram[b][a]
        sol = mp.lu_solve(system, rhs)
        return [[sol[b * k + j] for j in range(k)] for b in range(k)]
