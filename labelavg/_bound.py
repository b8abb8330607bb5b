"""A-posteriori float64 error bound of the reduced block solver's rounds.

theory/THEORY.md, "The float64 error bound" derives every line. Symbols:
K classes, groups g with counts n_g, α = 1/(Nλ), M the Gram map on groups
((Mx)_g = Σ_h n_h Φ(a(g), a(h)) x_h + s x_g, self-adjoint for the weighted
inner product ⟨x, y⟩ = Σ_g n_g x_g·y_g), 𝒦 = αM with eigenvalues k_j and
S = 𝒦^{1/2}, C the centring over classes, H̄_g the softmax Jacobian averaged
between the computed and the exact logits, r̂ the computed final residual
P − Q + B of a round, δz / δP the errors of its logits / outputs against the
exact chain of fixed points (exact targets from the one-hot labels on).

Two bounds are carried and the smaller is used per group:

* energy: V_t = ‖SC r̂_t‖ + ‖S ρ_t‖ + U_{t−1}, |Cδz_g| ≤ ‖S 1_g/n_g‖ V_t,
  U_t = x/(1 + x) V_t with x = k_max max_g h_g (always valid);
* per filter: ζ_{t,j} ≤ ζ̄_{t,j} + σ_j, ‖σ‖ ≤ S_t, with ζ̄_t = a ∘ (ρ̂_t + h₀ ζ̄_{t−1}),
  a_j = k_j / (1 + h₀ k_j), valid while a_max δh < 1 (outputs near uniform).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = np.finfo(float).eps

#: Relative slack on every computed bound: covers the rounding of the bound's
#: own float64 evaluation (sums of at most a few hundred non-negative terms).
_SLACK = 1.0 + 1e-6


@dataclass(frozen=True)
class Geometry:
    """What the bound needs of a batch's Gram map, fixed over the rounds."""

    k_eig: np.ndarray    # (P, G) eigenvalues k_j of 𝒦, rounded up
    basis: np.ndarray    # (P, G, G) orthonormal eigenvectors of D½ M D^-½
    root_w: np.ndarray   # (P, G) sqrt(n_g)
    point: np.ndarray    # (P, G) ‖S 1_g / n_g‖ = sqrt(α (Φ(a, a) + s / n_g)), 0 if absent
    lever: np.ndarray    # (P, G, G) |V_gj| / sqrt(n_g), 0 if absent

    @classmethod
    def of(cls, batch):
        w, true = batch.weights, batch.true
        root = np.sqrt(w)
        phi = batch.class_gram[:, true][:, :, true]
        sym = root[:, :, None] * phi * root[:, None, :]
        sym += batch.self_coef[:, None, None] * np.eye(w.shape[1])
        vals, vecs = np.linalg.eigh(sym)
        alpha = 1.0 / batch.n_lam[:, None]
        top = np.abs(vals).max(axis=1, keepdims=True)
        # eigenvalues are accurate to a few eps ‖M‖: round every one up by that much
        k_eig = alpha * (np.clip(vals, 0.0, None) + 4 * w.shape[1] * _EPS * top)
        present = batch.present
        safe = np.where(present, w, 1.0)
        diag = batch.class_gram[:, true, true]
        point = np.where(present, np.sqrt(alpha * (diag + batch.self_coef[:, None] / safe)), 0.0)
        lever = np.where(present[:, :, None], np.abs(vecs) / np.sqrt(safe)[:, :, None], 0.0)
        return cls(k_eig, vecs, root, point, lever)


@dataclass(frozen=True)
class State:
    """What round t carries to round t + 1 (all (P,) but ``zbar`` (P, G) and ``rho`` (P, G))."""

    energy: np.ndarray   # U_t ≥ ‖S δP_t‖
    zbar: np.ndarray     # ζ̄_t per eigenvector
    slack: np.ndarray    # S_t
    total: np.ndarray    # Z_t ≥ ‖C δz_t‖
    h_hi: np.ndarray     # max_g of the upper bound of H̄_g on centred vectors
    h_lo: np.ndarray     # min_g of its lower bound
    rho: np.ndarray      # per-entry rounding of the stored outputs (the next targets)

    @classmethod
    def start(cls, size, n_groups, target_error):
        """Round 0: exact targets up to ``target_error`` (P,) per entry, no propagated error."""
        zero = np.zeros(size)
        return cls(zero, np.zeros((size, n_groups)), zero, zero, zero, zero,
                   np.repeat(np.asarray(target_error, float)[:, None], n_groups, axis=1))


def _energy(batch, x):
    """‖S x‖ = sqrt(α ⟨x, M x⟩) of (P, K, G) vectors."""
    sums = batch.class_sum(x)                                    # (P, K, K classes)
    across = np.einsum("pka,pab,pkb->p", sums, batch.class_gram, sums)
    own = batch.self_coef * np.einsum("pg,pkg->p", batch.weights, x * x)
    return np.sqrt(np.clip(across + own, 0.0, None) / batch.n_lam)


def _energy_abs(batch, bound):
    """Upper bound of ‖S x‖ over every x with |x_cg| ≤ bound_g (P, G): Φ ≥ 0 entrywise."""
    k = batch.n_classes
    return np.sqrt(k) * _energy(batch, bound[:, None, :])


def _rounding(batch, eps, dev, b):
    """Per-group bounds (P, G) on the rounding of the stored outputs and of r̂.

    Logits: sums of at most 2K + 5 rounded terms, relative to the sums of
    their magnitudes (``zabs``), then centring ((K + 2) eps max |z|). An
    ∞-norm logit error ε moves p_c by at most min(½, 2.01 p_c) ε (its gradient
    has ℓ1 norm 2 p_c (1 − p_c); p_c moves by a factor within e^{±2ε}).
    The expm1 form of the deviations adds 2(K + 3) eps max(|y|, |p − 1/K|).
    """
    k = batch.n_classes
    zabs = np.abs(batch.logits(np.abs(b))).max(axis=1)
    z = batch.logits(b)
    zmax = np.abs(z).max(axis=1)
    ymax = np.abs(z - z.mean(axis=1, keepdims=True)).max(axis=1)
    devmax = np.abs(dev).max(axis=1)
    logit_err = _EPS * ((2 * k + 5) * zabs + (k + 2) * zmax)
    gain = np.where(logit_err < 1e-3, np.minimum(0.5, 2.01 * (devmax + 1.0 / k)), 0.5)
    rho_p = gain * logit_err + 2 * (k + 3) * _EPS * (ymax + devmax)
    rho_r = rho_p + 3 * _EPS * (devmax + np.abs(eps).max(axis=1) + np.abs(b).max(axis=1))
    return rho_p, rho_r


def _jacobian_range(dev, zeta):
    """Bounds (P, G) of H̄_g's eigenvalues on centred vectors, |Cδz_g| ≤ zeta.

    Along the segment every p_k moves by a factor within e^{±2ζ}; on centred
    vectors diag(p) − ppᵀ has its eigenvalues in [min p, max p] (interlacing),
    and never above ½.
    """
    k = dev.shape[1]
    p = dev + 1.0 / k
    grow = np.exp(np.minimum(2 * zeta, 700.0))
    return p.min(axis=1) / grow, np.minimum(0.5, p.max(axis=1) * grow)


def round_bound(batch, geo, state, eps, dev, resid):
    """Per-entry error bound (P,) of round t's stored deviations, and the next state.

    Parameters
    ----------
    eps, dev, resid : (P, K, G)
        The round's targets Q − 1/K, stored outputs P − 1/K and final residual
        r̂ = P − Q + B (zero on absent groups).
    """
    present = batch.present
    b = eps - dev + resid
    rho_p, rho_r = _rounding(batch, eps, dev, b)
    r = resid - resid.mean(axis=1, keepdims=True)
    err_in = (rho_r + state.rho) * present
    volume = _SLACK * (_energy(batch, r) + _energy_abs(batch, err_in)) + state.energy
    zeta = geo.point * volume[:, None]
    lo, hi = _jacobian_range(dev, zeta)
    h_hi = np.where(present, hi, 0.0).max(axis=1)
    h_lo = np.where(present, lo, np.inf).min(axis=1)
    x = h_hi * geo.k_eig.max(axis=1)
    energy = _SLACK * x / (1.0 + x) * volume
    zbar, slack, total, per_filter, coef = _filters(batch, geo, state, r, err_in, h_lo, h_hi)
    total = np.minimum(total, np.sqrt(geo.k_eig.max(axis=1)) * volume)
    slack = np.where(per_filter, slack, total)     # restart: ζ ≤ 0 + σ, ‖σ‖ ≤ ‖Cδz‖
    zeta = np.minimum(zeta, _filtered_zeta(batch, geo, state, coef, err_in, h_lo))
    zeta = np.where(per_filter[:, None], np.minimum(zeta, per_filter_zeta(geo, zbar, slack)), zeta)
    lo, hi = _jacobian_range(dev, zeta)
    error = _SLACK * np.where(present, rho_p + hi * zeta, 0.0).max(axis=1)
    return error, State(energy, zbar, slack, total, h_hi, h_lo, rho_p)


def per_filter_zeta(geo, zbar, slack):
    """|Cδz_g| ≤ Σ_j |V_gj| / sqrt(n_g) (ζ̄_j + σ_j), ‖σ‖ ≤ S."""
    return (np.einsum("pgj,pj->pg", geo.lever, zbar)
            + np.linalg.norm(geo.lever, axis=2) * slack[:, None]) * _SLACK


def _filters(batch, geo, state, r, err_in, h_lo, h_hi):
    """The per-filter recursion; where a_max δh ≥ ½ it restarts from the energy bound."""
    h0 = 0.5 * (h_lo + h_hi)
    dh = 0.5 * (h_hi - h_lo)
    dh_prev = np.maximum(state.h_hi - h0, h0 - state.h_lo)
    a = geo.k_eig / (1.0 + h0[:, None] * geo.k_eig)
    a_max = a.max(axis=1)
    coef = np.einsum("pkg,pgj->pkj", r * geo.root_w[:, None, :], geo.basis)
    r_hat = np.linalg.norm(coef, axis=1)
    r_err = np.sqrt(batch.n_classes * np.einsum("pg,pg->p", batch.weights, err_in ** 2))
    zbar = _SLACK * a * (r_hat + h0[:, None] * state.zbar)
    feed = h0 * state.slack + r_err + dh_prev * state.total
    valid = a_max * dh < 0.5
    with np.errstate(invalid="ignore", over="ignore"):
        total = _SLACK * (np.linalg.norm(zbar, axis=1) + a_max * feed) / (1.0 - a_max * dh)
        slack = _SLACK * a_max * (feed + dh * total)
    total = np.where(valid, total, np.inf)
    return np.where(valid[:, None], zbar, 0.0), slack, total, valid, coef


def _filtered_zeta(batch, geo, state, coef, err_in, h_lo):
    """|Cδz_g| ≤ sqrt(Σ_j f_j ℓ_gj) · F(Cv)^{1/2}, f_j = k_j / (1 + h_lo k_j), F(v) = Σ_j f_j ‖Π_j v‖².

    From (I + X)⁻¹ ≤ (I + h_lo 𝒦)⁻¹ on centred vectors (X = S H̄ S ≥ h_lo 𝒦)
    and Cauchy–Schwarz in the inner product of 𝒦(I + h_lo 𝒦)⁻¹; F ≤ ‖S ·‖².
    """
    f = geo.k_eig / (1.0 + h_lo[:, None] * geo.k_eig)
    point = np.sqrt(np.einsum("pj,pgj->pg", f, geo.lever ** 2))
    own = np.sqrt(np.einsum("pj,pkj->p", f, coef ** 2))
    err = np.sqrt(f.max(axis=1) * batch.n_classes
                  * np.einsum("pg,pg->p", batch.weights, err_in ** 2))
    err = np.minimum(err, _energy_abs(batch, err_in))
    return _SLACK * point * (_SLACK * (own + err) + state.energy)[:, None]
