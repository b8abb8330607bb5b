"""numba kernels of the reduced block solver's Newton loop on the orbit layouts.

Imported only through :mod:`labelavg._compiled` (never at ``import labelavg``).
Symbols as in :mod:`labelavg.block`: K classes, G columns (groups of true
class 0, one per orbit), weights n_g, Φ = δ I + d 11ᵀ on classes (δ = c − d),
s the self coefficient 1 − c, Nλ ``n_lam``, α = 1/(Nλ), ε the targets'
deviation Q − 1/K, B = Nλ A the dual, y the centred logits.

Every function is the per-point transcription of its NumPy namesake in
:mod:`labelavg.block` (same formulas, same order of operations where the
rounding matters, same branches, stopping rule and line search), so the two
engines take the same Newton steps up to rounding. The orbit layout is
``"all"`` (cells {0} and {1..K−1} of the classes) or ``"cyclic"`` (every
class its own cell). All arrays are float64, indices intp; one compiled
signature each (``cache=True``: compiled once per installation).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_EPS = float(np.finfo(np.float64).eps)

#: 1/m! for m = 0..18: the Taylor series of e^y − 1 − y
#: (as :func:`labelavg.block._expm1_minus_x`).
_INV_FACT = np.array([1.0 / math.factorial(m) for m in range(19)])

_JIT = dict(cache=True, nogil=True, error_model="numpy")


@njit(**_JIT)
def _mix(x, w, delta, gam, self_coef, cyclic, work, out):
    """Gram map on groups (:meth:`labelavg.block._Batch.mix`, orbit layouts).

    S_k = Σ_g n_g x[k, g] (projected on the cells: components 1..K−1 replaced
    by their mean for ``"all"``), out[k, g] = δ S_k + d Σ_i S_i + s x[k, g];
    S in row 4 of ``work``.
    """
    k, g = x.shape
    for i in range(k):
        acc = 0.0
        for j in range(g):
            acc += x[i, j] * w[j]
        work[4, i] = acc
    if not cyclic and k > 2:
        acc = 0.0
        for i in range(1, k):
            acc += work[4, i]
        mean = acc / (k - 1)
        for i in range(1, k):
            work[4, i] = mean
    total = 0.0
    for i in range(k):
        total += work[4, i]
    for i in range(k):
        across = delta * work[4, i] + gam * total
        for j in range(g):
            out[i, j] = across + self_coef * x[i, j]


@njit(**_JIT)
def _deviation(y, out):
    """softmax(y) − 1/K per column of centred y, with relative precision.

    Columns with max |y| < 1: (K expm1(y_i) − Σ_j expm1(y_j)) / (K (K + Σ_j expm1(y_j)))
    (:func:`labelavg.block._deviation`).
    """
    k, g = y.shape
    for j in range(g):
        top, size = y[0, j], abs(y[0, j])
        for i in range(1, k):
            top, size = max(top, y[i, j]), max(size, abs(y[i, j]))
        total = 0.0
        for i in range(k):
            out[i, j] = math.expm1(y[i, j]) if size < 1.0 else math.exp(y[i, j] - top)
            total += out[i, j]
        for i in range(k):
            out[i, j] = ((k * out[i, j] - total) / (k * (k + total)) if size < 1.0
                         else out[i, j] / total - 1.0 / k)


@njit(**_JIT)
def _objective(eps, b, w, delta, gam, self_coef, n_lam, cyclic, work, y):
    """Count-weighted objective / N less log K and its rounding slack; writes y.

    y = z − mean_k z with z = mix(b) / Nλ; per column log mean e^{y} − ε·y +
    ½ b·y, the first by the Taylor series of e^y − 1 − y where max |y| < 1
    (:func:`labelavg.block._objective`, ``_lse_excess``, ``_expm1_minus_x``).
    """
    k, g = b.shape
    _mix(b, w, delta, gam, self_coef, cyclic, work, y)
    total = value = size = 0.0
    for j in range(g):
        total += w[j]
    for j in range(g):
        acc = 0.0
        for i in range(k):
            y[i, j] = y[i, j] / n_lam
            acc += y[i, j]
        mean = acc / k
        top, big = -math.inf, 0.0
        for i in range(k):
            y[i, j] = y[i, j] - mean
            top, big = max(top, y[i, j]), max(big, abs(y[i, j]))
        acc = cross = quad = 0.0
        for i in range(k):
            if big < 1.0:
                term = _INV_FACT[18]
                for m in range(17, 1, -1):
                    term = term * y[i, j] + _INV_FACT[m]
                acc += term * y[i, j] * y[i, j]
            else:
                acc += math.exp(y[i, j] - top)
            cross += eps[i, j] * y[i, j]
            quad += b[i, j] * y[i, j]
        excess = math.log1p(acc / k) if big < 1.0 else top + math.log(acc / k)
        quad = 0.5 * quad
        value += w[j] * (excess - cross + quad)
        size += w[j] * (abs(excess) + abs(cross) + abs(quad))
    return value / total, 64 * _EPS * (size / total)


@njit(**_JIT)
def _solve(w, delta, gam, alpha, mats, cyclic, work, system, rhs, out):
    """Δ = (−R⁻¹ rinv − α R⁻¹ H w) on present columns, w from the orbit coupling.

    dq, tail and R⁻¹ rinv are ``mats[1]``, ``mats[2]``, ``mats[3]`` (indexed,
    never sliced: an array view costs as much as the arithmetic here).

    The coupling (:func:`labelavg.block._orbit_coupling`): cells {0} and
    {1..K−1} (``"all"``, m = 2) or every class (cyclic, m = K); the m × m
    system (I + δ V) [a | b] = [U | d V 1] by LU with partial pivoting, σ =
    −1ᵀa / (1 + 1ᵀb) (cell sizes as weights), ŵ = δ (−a − σ b) + d σ; then
    the inner ``solve`` of :func:`labelavg.block._direction`.
    """
    k, g = out.shape
    m = k if cyclic else 2
    for i in range(k):
        acc_u = acc_x = 0.0
        for j in range(g):
            acc_u += mats[3, i, j] * w[j]
            acc_x += (alpha * w[j]) * mats[1, i, j]
        work[0, i], work[1, i] = acc_u, acc_x
    if cyclic:
        for i in range(k):
            rhs[i, 0] = work[0, i]
            for col in range(k):
                acc = 0.0
                for j in range(g):
                    acc += ((alpha * w[j]) * mats[1, i, j]) * mats[2, col, j]
                system[i, col] = acc
            system[i, i] += work[1, i]
    else:
        acc = 0.0
        for i in range(1, k):
            acc += work[0, i]
        rhs[0, 0], rhs[1, 0] = work[0, 0], acc / (k - 1)
        system[0, 0] = system[0, 1] = system[1, 0] = system[1, 1] = 0.0
        for j in range(g):
            acc = 0.0
            for col in range(1, k):
                acc += mats[2, col, j]
            work[3, j] = acc
        for i in range(k):
            v0 = v1 = 0.0
            for j in range(g):
                x = (alpha * w[j]) * mats[1, i, j]
                v0 += x * mats[2, 0, j]
                v1 += x * work[3, j]
            cell = 0 if i == 0 else 1
            if cell == 0:
                v0 = work[1, i] + v0
            else:
                v1 = work[1, i] + v1
            system[cell, 0] += v0
            system[cell, 1] += v1
        system[1, 0] /= k - 1
        system[1, 1] /= k - 1
    for r in range(m):
        acc = 0.0
        for c in range(m):
            acc += system[r, c]
            system[r, c] = delta * system[r, c]
        rhs[r, 1] = gam * acc
        system[r, r] += 1.0
    # LU with partial pivoting, two right-hand sides
    for c in range(m):
        piv = c
        for r in range(c + 1, m):
            if abs(system[r, c]) > abs(system[piv, c]):
                piv = r
        if piv != c:
            for j in range(m):
                system[c, j], system[piv, j] = system[piv, j], system[c, j]
            for j in range(2):
                rhs[c, j], rhs[piv, j] = rhs[piv, j], rhs[c, j]
        for r in range(c + 1, m):
            f = system[r, c] / system[c, c]
            for j in range(c + 1, m):
                system[r, j] -= f * system[c, j]
            for j in range(2):
                rhs[r, j] -= f * rhs[c, j]
    for c in range(m - 1, -1, -1):
        for j in range(2):
            acc = rhs[c, j]
            for r in range(c + 1, m):
                acc -= system[c, r] * rhs[r, j]
            rhs[c, j] = acc / system[c, c]
    size_a = size_b = 0.0
    for r in range(m):
        size = 1.0 if (cyclic or r == 0) else float(k - 1)
        size_a += rhs[r, 0] * size
        size_b += rhs[r, 1] * size
    sigma = -size_a / (1.0 + size_b)
    for i in range(k):
        r = i if cyclic else min(i, 1)
        work[2, i] = delta * (-rhs[r, 0] - sigma * rhs[r, 1]) + gam * sigma
    for j in range(g):
        t = 0.0
        for i in range(k):
            t += mats[2, i, j] * work[2, i]
        present = 1.0 if w[j] > 0 else 0.0
        for i in range(k):
            out[i, j] = (-mats[3, i, j] - alpha * (mats[1, i, j] * (work[2, i] + t))) * present


#: Iterative-refinement steps (labelavg.block._REFINE).
_REFINE = 3


@njit(**_JIT)
def _direction(probs, resid, w, delta, gam, self_coef, n_lam, cyclic, work, system, rhs, mats,
               out):
    """Newton direction Δ of J Δ = −r (:func:`labelavg.block._direction`, orbit layouts).

    Rows of ``mats`` (indexed, never sliced: a view costs as much as the
    arithmetic here): 0 d = 1/(1 + β p), 1 dq = d p, 2 tail, 3 R⁻¹ applied
    to r (then to the refinement's error), 4 that error and the correction,
    5 the Hessian-mixed Δ.
    """
    k, g = probs.shape
    alpha = 1.0 / n_lam
    beta = alpha * self_coef
    for j in range(g):
        acc_p = acc_r = 0.0
        for i in range(k):
            mats[0, i, j] = 1.0 / (1.0 + beta * probs[i, j])
            mats[1, i, j] = mats[0, i, j] * probs[i, j]
            acc_p += mats[1, i, j] * probs[i, j]
            acc_r += mats[1, i, j] * resid[i, j]
        den = 1.0 - beta * acc_p
        for i in range(k):
            mats[3, i, j] = mats[0, i, j] * resid[i, j] + beta * mats[1, i, j] * (acc_r / den)
            mats[2, i, j] = (beta * mats[1, i, j] - 1.0) * probs[i, j] / den
    _solve(w, delta, gam, alpha, mats, cyclic, work, system, rhs, out)
    for _ in range(_REFINE):
        # iterative refinement: err = J Δ + r, Δ -= J⁻¹ err
        _mix(out, w, delta, gam, self_coef, cyclic, work, mats[5])
        for j in range(g):
            acc_h = 0.0
            for i in range(k):
                mats[5, i, j] = probs[i, j] * (mats[5, i, j] / n_lam)
                acc_h += mats[5, i, j]
            present = 1.0 if w[j] > 0 else 0.0
            acc_e = acc_p = 0.0
            for i in range(k):
                mats[4, i, j] = (out[i, j] + mats[5, i, j] - probs[i, j] * acc_h
                                 + resid[i, j]) * present
                acc_e += mats[1, i, j] * mats[4, i, j]
                acc_p += mats[1, i, j] * probs[i, j]
            den = 1.0 - beta * acc_p
            for i in range(k):
                mats[3, i, j] = mats[0, i, j] * mats[4, i, j] + beta * mats[1, i, j] * (acc_e / den)
        _solve(w, delta, gam, alpha, mats, cyclic, work, system, rhs, mats[4])
        for j in range(g):
            for i in range(k):
                out[i, j] = out[i, j] - mats[4, i, j]


@njit("void(float64[:, ::1], float64[::1], float64[::1], float64[::1], float64[::1], "
      "float64[:, :, ::1], float64[:, :, ::1], boolean, float64, int64, float64[:, :, ::1], "
      "int64[::1], float64[::1], boolean[::1], float64[:, :, ::1], float64[:, ::1], "
      "float64[:, ::1], float64[:, :, ::1])", **_JIT)
def fit_orbit(weights, delta, gam, self_coef, n_lam, eps, start, cyclic, tol, max_iter,
              dev, n_iter, residual, converged, resid, work, system, mats):
    """One round of every point of an orbit-layout batch (:func:`labelavg.block._fit_exact`).

    Per point: Newton from ``start`` with Armijo backtracking, stopped when
    max |r| ≤ tol · max |ε|, r = P − Q + B (zero on absent columns), or after
    ``max_iter`` steps. Outputs and work arrays are passed in (allocating in
    compiled code would cost compile time).

    Parameters
    ----------
    weights : (P, G)
        Orbit counts n_g (0: absent column).
    delta, gam, self_coef, n_lam : (P,)
        δ = Φ(a, a) − Φ(a, b), d = Φ(a, b) (a ≠ b), 1 − c (or 0) and Nλ.
    eps, start : (P, K, G)
        Targets Q − 1/K and the starting dual B.
    cyclic : bool
        Cyclic-shift orbits (else all class permutations).
    tol, max_iter
        Stopping rule.
    dev, n_iter, residual, converged, resid
        Outputs: deviation (P, K, G) of the last iterate, Newton steps (P,),
        max |r| (P,), converged (P,), the final r (P, K, G).
    work, system, mats
        Work arrays (5, max(K, G, 2)), (m, m + 2) and (11, K, G), m = max(K, 2).
    """
    p, k, g = eps.shape
    m = system.shape[0]
    rhs = system[:, m:]
    system = system[:, :m]
    probs, b, trial, y, step_dir = mats[6], mats[7], mats[8], mats[9], mats[10]
    for pt in range(p):
        w, e, dv, rs = weights[pt], eps[pt], dev[pt], resid[pt]
        total = scale = 0.0
        for j in range(g):
            total += w[j]
            for i in range(k):
                b[i, j] = start[pt, i, j]
                scale = max(scale, abs(e[i, j]))
        value, _ = _objective(e, b, w, delta[pt], gam[pt], self_coef[pt], n_lam[pt], cyclic,
                              work, y)
        _deviation(y, dv)
        n_iter[pt] = 0
        for it in range(max_iter + 1):
            rmax = 0.0
            for j in range(g):
                present = 1.0 if w[j] > 0 else 0.0
                for i in range(k):
                    rs[i, j] = (dv[i, j] - e[i, j] + b[i, j]) * present
                    rmax = max(rmax, abs(rs[i, j]))
            if rmax <= tol * scale or it == max_iter:
                residual[pt], converged[pt] = rmax, rmax <= tol * scale
                break
            for j in range(g):
                for i in range(k):
                    probs[i, j] = dv[i, j] + 1.0 / k
            _direction(probs, rs, w, delta[pt], gam[pt], self_coef[pt], n_lam[pt], cyclic, work,
                       system, rhs, mats, step_dir)
            # Armijo backtracking (labelavg.block._line_search)
            _mix(rs, w, delta[pt], gam[pt], self_coef[pt], cyclic, work, trial)
            slope = 0.0
            for i in range(k):
                for j in range(g):
                    slope += w[j] * step_dir[i, j] * trial[i, j]
            slope = slope / (total * n_lam[pt])
            step = 1.0
            for attempt in range(60):
                for i in range(k):
                    for j in range(g):
                        trial[i, j] = b[i, j] + step * step_dir[i, j]
                val, slack = _objective(e, trial, w, delta[pt], gam[pt], self_coef[pt],
                                        n_lam[pt], cyclic, work, y)
                if val <= value + 1e-4 * step * min(slope, 0.0) + slack or attempt == 59:
                    break
                step *= 0.5
            for i in range(k):
                for j in range(g):
                    b[i, j] = trial[i, j]
            value = val
            _deviation(y, dv)
            n_iter[pt] += 1
