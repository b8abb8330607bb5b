"""The conditions of theory/THEORY.md (Results 3 and 4), numerically and in sympy.

Symbols: K ``n_classes``, n ``n_per_class``, N = Kn, c, d (e, m) the block /
hierarchical correlations, λ ``lam``, t the number of fits (t = 1 is the
teacher), T ``transition`` with **T[c, j] = P(given label j | true class c),
rows = true class, rows sum to 1**, m_c = class c's label histogram (row c of
the counts / n), m̄ the overall histogram, u = 1/K, g(μ) = μ / (μ + KNλ),
θ = g(μ₁), φ = g(μ₂), ψ = g(μ₃), Δ = min over c and j ≠ c with a positive
count of (m_c[c] − m_c[j]).

Every verdict puts the linearised prediction (theory/THEORY.md's formulas) next to
the exact softmax answer of the reduced solver (:meth:`BlockModel.solve`) and
reports the gap; disagreements are reported, never hidden.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from . import _checks
from .block import (
    _Batch,
    _certify,
    _check_precision,
    _group_counts,
    _solve_batch,
    _check_memory,
    _solver_bytes,
    symbolic_spectrum,
)

__all__ = ["Verdict", "SymbolicForms", "full_accuracy", "pll_condition",
           "linear_margins", "symbolic_forms"]

#: |m̄ − u| below this counts as a uniform overall label histogram.
_UNIFORM_ATOL = 1e-12

#: float64 unit roundoff (t* resolution).
_EPS = float(np.finfo(float).eps)


@dataclass(frozen=True)
class Verdict:
    """A condition of theory/THEORY.md evaluated at given numbers.

    Attributes
    ----------
    holds : bool
        The (linearised / stated) condition holds. Result 3 with a uniform
        overall histogram m̄: Δ > 0 (t* may exceed ``max_rounds``); with a
        non-uniform m̄ (no closed form): the linearised model is 100% right at
        some t ≤ ``max_rounds``.
    margin : float
        The condition's margin (Δ for Result 3, the plurality margin
        min_c (T[c,c] − max_{k≠c} T[c,k]) for Result 4). For Result 3 with a
        non-uniform m̄, Δ > 0 is necessary but not sufficient.
    min_rounds : int or None
        Least number of fits t at which the linearised model (Result 3) / the
        stated result (Result 4: 2 = teacher + PLL student) reaches 100%
        label-correction accuracy; None when infeasible (or, for a
        non-uniform m̄, not reached within ``max_rounds``).
    min_rounds_exact : int or None
        The same for the exact softmax solution (reduced solver), searched up to
        ``max_rounds``; None if not reached (or not computed).
    gap : int or None
        ``min_rounds_exact − min_rounds`` when both exist.
    exact_holds : bool or None
        The exact solution reaches 100% (within ``max_rounds`` / for the PLL
        student); None if not computed.
    formula : str
        The formula evaluated, in theory/THEORY.md's notation.
    params : dict
        The numbers it was evaluated at (K, n, c, d, λ, θ, φ, ψ, Δ, ...).
    notes : tuple of str
        Caveats found while evaluating (non-uniform m̄, ties, misses).
    certified : bool
        ``exact_holds`` is proven: the certificate (``precision=``) decided
        every verdict it rests on (ball-arithmetic enclosures excluding 0,
        exact ties in rationals). Without it an undecided margin leaves
        ``exact_holds`` None.
    decision : str or None
        Result 4's plurality condition decided: ``"holds"``, ``"tie"`` (margin
        exactly 0: exact inputs only), ``"fails"``, or ``"undecided"`` (float
        inputs whose margin is within their rounding error, so float64 cannot tell
        a tie from a small margin). None for Result 3.
    """

    holds: bool
    margin: float
    min_rounds: int | None
    min_rounds_exact: int | None
    gap: int | None
    exact_holds: bool | None
    formula: str
    params: dict = field(default_factory=dict)
    notes: tuple = ()
    certified: bool = False
    decision: str | None = None


# ---------------------------------------------------------------------------
# Result 3
# ---------------------------------------------------------------------------

def _filters(model, lam):
    """θ, φ, ψ of the block model (theory/THEORY.md, Result 2)."""
    n, k = float(model.n_per_class), model.n_classes
    shift = k * model.n_samples * lam
    mus = (1 - model.c, 1 - model.c + n * (model.c - model.d),
           1 - model.c + n * (model.c - model.d) + k * n * model.d)
    return tuple(mu / (mu + shift) for mu in mus)


def linear_margins(model, lam, histograms, t):
    """Smallest linearised margin min_{g, k≠c} (y_g[c] − y_g[k]) after t fits.

    Parameters
    ----------
    model : BlockModel
        A block model (no superclasses).
    lam : float
    histograms : array (K, K)
        Group counts, rows = true class (e.g. n·T), rows summing to n.
    t : int

    Returns
    -------
    float
        Positive iff every instance is predicted right by the linearised
        closed form y = u + θᵗ(e(ŷ) − u) + (φᵗ − θᵗ)(m_c − u) + (ψᵗ − φᵗ)(m̄ − u).
    """
    theta, phi, psi = _filters(model, lam)
    counts = np.asarray(histograms, dtype=float)
    n = counts.sum(axis=1, keepdims=True)
    m_c, m_bar = counts / n, counts.sum(axis=0) / counts.sum()
    worst = math.inf
    for c, j in zip(*np.nonzero(counts > 0)):
        y = (theta ** t * np.eye(len(m_bar))[j] + (phi ** t - theta ** t) * m_c[c]
             + (psi ** t - phi ** t) * m_bar)
        worst = min(worst, float(y[c] - np.delete(y, c).max()))
    return worst


def _delta(counts):
    k = counts.shape[0]
    m_c = counts / counts.sum(axis=1, keepdims=True)
    noisy = (counts > 0) & ~np.eye(k, dtype=bool)
    if not noisy.any():
        return math.inf
    return float(np.min((np.diag(m_c)[:, None] - m_c)[noisy]))


def _t_star(delta, log_ratio):
    """t* = ⌊log(1 + 1/Δ) / log(φ/θ)⌋ + 1; 1 without noise, None if Δ ≤ 0.

    Returns ``(t*, note)``; the note says when float64 cannot resolve the
    integer (t* beyond 2^52, or the ratio within its rounding of an integer).
    """
    if delta == math.inf:
        return 1, None
    if delta <= 0 or log_ratio <= 0:
        return None, None
    ratio = math.log1p(1 / delta) / log_ratio
    # log1p, the quotient and log_ratio each carry a few ulps
    slack = 16 * _EPS * ratio
    t_star = math.floor(ratio) + 1
    if math.floor(ratio - slack) != math.floor(ratio + slack):
        return t_star, (f"t* = {t_star} is float64's value of ⌊{ratio:.17g}⌋ + 1, whose "
                        f"integer part is not resolved (±{slack:.2g}): the condition "
                        f"Δ > 0, φ > θ holds; the exact t* is within ±{math.ceil(slack)} "
                        "of this value")
    return t_star, None


def _log_ratio(model, lam):
    """log(φ/θ) = log1p(s x / (μ₁ (μ₂ + s))), x = n(c − d), s = KNλ: no cancellation.

    φ/θ − 1 = (μ₂(μ₁ + s) − μ₁(μ₂ + s)) / (μ₁(μ₂ + s)) = s(μ₂ − μ₁) / (μ₁(μ₂ + s)),
    and μ₂ − μ₁ = n(c − d) is exact in float64 when c and d are close (Sterbenz):
    positive whenever c > d, even where φ and θ round to the same float.
    """
    n, k = float(model.n_per_class), model.n_classes
    shift = k * model.n_samples * lam
    gap = n * (model.c - model.d)
    mu1 = 1 - model.c
    return math.log1p(shift * gap / (mu1 * (mu1 + gap + shift)))


def _linear_scan(model, lam, counts, max_rounds):
    for t in range(1, max_rounds + 1):
        if linear_margins(model, lam, counts, t) > 0:
            return t
    return None


def _linearised(model, lam, mat, delta, max_rounds):
    """Linearised least round: t* formula (uniform m̄) or the ψ-margin scan."""
    m_bar = mat.sum(axis=0) / mat.sum()
    if np.max(np.abs(m_bar - 1 / model.n_classes)) <= _UNIFORM_ATOL:
        t_star, note = _t_star(delta, _log_ratio(model, lam))
        return (t_star,
                "t* = floor(log(1 + 1/Δ) / log(φ/θ)) + 1, Δ > 0 (t* = 1 without noise)",
                (note,) if note else (), True)
    formula = ("least t ≤ max_rounds with θᵗ(e(ŷ)−u) + (φᵗ−θᵗ)(m_c−u) + "
               "(ψᵗ−φᵗ)(m̄−u) right for every group (m̄ not uniform)")
    notes = ("overall label histogram m̄ is not uniform: the ψ term enters the "
             "margin and t* has no closed form",)
    return _linear_scan(model, lam, mat, max_rounds), formula, notes, False


def _exact_scan(model, mat, lam, max_rounds, tol, precision=None):
    """Least t ≤ max_rounds at which every group is right (exact solver).

    Returns ``(least, undecided, certified)``: ``least`` is None when no round
    is certainly all right, or when an undecided round comes first (then
    ``undecided`` is that round); ``certified``: the certificate decided every
    verdict of the rounds the answer rests on.
    """
    batch = _Batch.stack([model], [mat], [lam])
    if precision is None:
        batch = batch.reduced()
    _check_memory("full_accuracy", "n_classes", model.n_classes,
                  _solver_bytes(1, model.n_classes, batch.weights.shape[1], max_rounds))
    result = _solve_batch(batch, max_rounds, "exact", tol=tol)
    cert = None
    if precision is not None:
        # certify up to float64's first all-right round (all rounds if it errs there)
        exact = (model.n_samples, lam, model.c)
        present = batch.present[0]
        hits = np.flatnonzero(np.all(result.verdicts[0][:, present] == 1, axis=-1))
        for rounds in dict.fromkeys((int(hits[0]) + 1 if hits.size else max_rounds,
                                     max_rounds)):
            certified, _, _, cert = _certify(result, 0, precision, None, "split", exact, tol,
                                             rounds=rounds)
            if np.all(certified.verdicts[0][rounds - 1][present] == 1):
                break
        result = certified
    path = result.path
    bad = np.flatnonzero(~path.converged[0])
    verdicts = result.verdicts[0][:, batch.present[0]]
    if bad.size:
        # the proven bound is built from the final residual (theory/THEORY.md, "The
        # float64 error bound"), so verdicts outside it stand without convergence
        warnings.warn(f"full_accuracy: the reduced solver stopped above its tolerance at "
                      f"round(s) {(bad + 1).tolist()} (largest residual "
                      f"{path.residual[0, bad].max():.3g}); verdicts are judged against the "
                      "proven error bound, which includes the residual", RuntimeWarning,
                      stacklevel=3)
    for t, row in enumerate(verdicts, 1):
        if np.all(row == 1):
            return t, None, _decided(cert, t)
        if not np.any(row < 0):          # no wrong group and no certified tie: open
            return None, t, False
    return None, None, _decided(cert, len(verdicts))


def _decided(cert, rounds):
    """The certificate decided every training verdict of rounds 1..``rounds``."""
    return cert is not None and not np.any(cert.verdicts[:rounds] == 0)


def full_accuracy(model, transition=None, *, lam, counts=None, max_rounds=50,
                  exact=True, tol=1e-10, precision=None):
    """Result 3: when multi-round self-distillation reaches 100% accuracy.

    Parameters
    ----------
    model : BlockModel
        Block model (no superclasses).
    transition : array (K, K), optional
        T[c, j] = P(given label j | true class c); rows = true class, sum to 1.
        Group counts are n·T (the population histogram, m_c = T[c, :]).
    lam : float
        Ridge strength λ > 0.
    counts : array (K, K), optional
        Exact group counts instead (rows = true class, summing to n).
    max_rounds : int
        Largest t searched for the exact least round.
    exact : bool
        False skips the exact solver (``min_rounds_exact``, ``gap`` and
        ``exact_holds`` are then None): the linearised verdict only.
    tol : float
        Newton tolerance of the reduced solver.
    precision : None, int or "auto"
        Certify the exact verdicts rigorously (see :meth:`BlockModel.solve`):
        decimal digits, or "auto" to raise the working precision until every
        verdict is decided or the cap is reached. Needs python-flint.

    Returns
    -------
    Verdict
        ``min_rounds`` is the linearised least round, ``min_rounds_exact`` the
        exact one, ``gap`` their difference.

    Notes
    -----
    With a uniform overall histogram m̄ (every doubly stochastic T), the
    linearised model is 100% right after t fits iff Δ > 0 and
    (φ/θ)ᵗ > 1 + 1/Δ, so t* = ⌊log(1 + 1/Δ)/log(φ/θ)⌋ + 1 (t* = 1 without
    noise). When m̄ is not uniform the ψ term enters every margin,
    (ψᵗ − φᵗ)(m̄[c] − m̄[k]), there is no closed form, and the least t is found
    by scanning :func:`linear_margins` up to ``max_rounds`` (the ψ term grows
    relative to the others, so accuracy can also be lost again).

    Examples
    --------
    >>> from labelavg.block import BlockModel
    >>> T = np.full((4, 4), 0.5 / 3) + (0.5 - 0.5 / 3) * np.eye(4)
    >>> v = full_accuracy(BlockModel(4, 100, 0.4, 0.1), T, lam=1e-3)
    >>> v.min_rounds, v.min_rounds_exact
    (2, 2)
    """
    _check_model("full_accuracy", model, transition)
    if model.hierarchical:
        raise ValueError("full_accuracy needs a block model (Result 3); got "
                         f"superclass_size={model.superclass_size}")
    lam = _checks.positive_scalar("lam", lam)
    _checks.integer_at_least("max_rounds", max_rounds, 1)
    mat = _group_counts(model, transition, counts)
    theta, phi, psi = _filters(model, lam)
    delta = _delta(mat)
    linear, formula, notes, uniform = _linearised(model, lam, mat, delta, max_rounds)
    _check_precision(precision, "exact" if exact else "linear")
    least, undecided, certified = (_exact_scan(model, mat, lam, max_rounds, tol, precision)
                                   if exact else (None, None, False))
    if undecided is not None:
        notes = notes + (f"round {undecided} has margins below their float64 error "
                         "bound (undecided) before any round is certainly 100% right",)
    params = dict(K=model.n_classes, n=model.n_per_class, c=model.c, d=model.d,
                  lam=lam, theta=theta, phi=phi, psi=psi, delta=delta,
                  ratio=phi / theta, m_bar_uniform=uniform, max_rounds=max_rounds,
                  histogram="counts" if counts is not None else "n*T",
                  undecided_round=undecided)
    gap = least - linear if least is not None and linear is not None else None
    exact_holds = None if not exact or undecided is not None else least is not None
    return Verdict(holds=linear is not None, margin=delta, min_rounds=linear,
                   min_rounds_exact=least, gap=gap, exact_holds=exact_holds,
                   formula=formula, params=params, notes=notes, certified=certified)


def _check_model(where, model, transition):
    """TypeError on a swapped call: the order is (model, transition)."""
    from .block import BlockModel

    if model is not None and not isinstance(model, BlockModel):
        swap = (" (the order is model, transition: did you swap them?)"
                if isinstance(transition, BlockModel) else "")
        raise TypeError(f"{where}: model must be a BlockModel, got "
                        f"{type(model).__name__}{swap}")


# ---------------------------------------------------------------------------
# Result 4
# ---------------------------------------------------------------------------

def _plurality_margin(mat):
    m_c = mat / mat.sum(axis=1, keepdims=True)
    others = np.where(np.eye(len(m_c), dtype=bool), -np.inf, m_c)
    return float(np.min(np.diag(m_c) - others.max(axis=1)))


def _exact_matrix(value):
    """``value`` as an object array of Fractions if every entry is a Fraction or an
    integer (exact rationals), else None."""
    if value is None or isinstance(value, (str, bytes)):
        return None
    arr = np.asarray(value, dtype=object)
    exact = all(isinstance(x, (Fraction, numbers.Integral)) and not isinstance(x, bool)
                for x in arr.flat)
    return np.vectorize(Fraction, otypes=[object])(arr) if exact and arr.size else None


def _plurality_decision(mat, exact):
    """Decide T[c,c] > T[c,k] for every c and k ≠ c: holds / tie / fails / undecided.

    ``exact`` (Fractions, or None): the signs of the row gaps T[c,c] − max_{k≠c}
    T[c,k] decide exactly (a gap of 0 is a tie). Float ``mat``: the gap of row c is
    decided only outside K·ε·Σ_j |T[c,j]|, the rounding error of a float64 row
    built from exact values (e.g. 1 − η next to η/(s − 1)); a gap within it is
    undecided, never a tie. Any decided negative gap makes the condition fail.
    """
    k = mat.shape[0]
    rows = exact if exact is not None else mat
    off = ~np.eye(k, dtype=bool)
    gaps = [rows[c, c] - max(rows[c, off[c]]) for c in range(k)]
    if exact is not None:
        signs = [(g > 0) - (g < 0) for g in gaps]
    else:
        err = k * _EPS * np.abs(mat).sum(axis=1)
        signs = [1 if g > e else -1 if g < -e else None for g, e in zip(gaps, err)]
    if -1 in signs:
        return "fails"
    if None in signs:
        return "undecided"
    return "tie" if 0 in signs else "holds"


def pll_condition(model=None, transition=None, *, lam=None, counts=None, pll_topk="auto",
                  ties="split", tol=1e-10, precision=None):
    """Result 4: the PLL student is 100% right iff the plurality condition holds.

    Parameters
    ----------
    model : BlockModel or None
        With ``lam``: also solve the exact teacher and PLL student (reduced
        solver) and report whether the student is 100% right. None: the
        plurality condition only. (Same order as :func:`full_accuracy`:
        model, then transition; the rest keyword-only.)
    transition : array (K, K), optional
        T[c, j] = P(given label j | true class c); rows = true class, sum to 1.
        Entries that are all Fractions or integers (``noise.*(exact=True)``)
        decide the plurality condition exactly, ties included; float entries
        decide it only outside their rounding error (``decision``).
    lam : float, optional
    counts : array (K, K), optional
        Exact group counts instead of ``transition`` (needs ``model``); integer
        counts decide the plurality condition exactly.
    pll_topk : "auto" or int
        k of the top-k partial labels; ``"auto"`` is min(2, K − 1) (the
        paper's k = 2; top-1 for K = 2, where Result 4 does not apply:
        ``min_rounds`` is then None and ``notes`` says why).
    ties : {"split", "all", "index"}
        Tie rule for the k-th place (:func:`labelavg.distill.pll_targets`).
    tol : float
        Newton tolerance.
    precision : None, int or "auto"
        Certify the teacher's top-k sets and the student's verdicts
        rigorously (see :meth:`BlockModel.solve`); an exact tie (symmetric
        data) is certified only when exact arithmetic proves it.

    Returns
    -------
    Verdict
        ``holds``: plurality T[c,c] > T[c,k] for all k ≠ c, decided
        (``decision`` is "holds", "tie", "fails" or "undecided"); ``margin`` its
        smallest gap (as a float); ``min_rounds`` = 2 (teacher + PLL student) when it holds;
        ``exact_holds`` / ``min_rounds_exact`` from the exact PLL student.
        ``params`` lists the groups ``(true, given)`` whose student output ties
        for the top (``tied_groups``), is plainly wrong (``wrong_groups``), or
        whose teacher top-k misses the true class (``topk_misses``).

    Notes
    -----
    Two classes can receive identical partial labels on exactly symmetric
    data (e.g. asymmetric noise with a strong ridge: every instance of class c
    gets {c, c + 1}), so the student's outputs tie and — ties counting as
    wrong — it fails although the plurality condition holds. Such failures
    are listed in ``notes`` as ties. ``pll_topk`` must be ≤ K − 1.
    """
    _check_model("pll_condition", model, transition)
    if model is None and counts is not None:
        raise ValueError("counts needs model (its rows must sum to n_per_class)")
    exact = _exact_matrix(counts if counts is not None else transition)
    if exact is not None and transition is not None:
        transition = exact.astype(float)
    mat = _pll_histogram(transition, counts, model)
    if exact is not None and model is None:
        _check_exact_rows(exact)
    margin = _plurality_margin(mat if exact is None else exact)
    decision = _plurality_decision(mat, exact)
    holds = decision == "holds"
    pll_topk = _checks.pll_topk(pll_topk, mat.shape[0])
    if pll_topk is None:
        raise ValueError("pll_topk must be 'auto' or an integer for pll_condition, got None")
    params = dict(K=mat.shape[0], pll_topk=pll_topk, ties=ties, plurality=margin)
    # Result 4 needs top-2 (or larger) sets; top-1 targets only copy the teacher's argmax
    notes = () if pll_topk >= 2 else (
        "pll_topk = 1 (the default for K = 2): the student fits the teacher's top-1 "
        "predictions, so Result 4 (top-2 sets) does not apply and plurality implies "
        "nothing about it; see exact_holds",)
    if decision == "undecided":
        notes += ("plurality undecided: a margin of T is within its float64 rounding "
                  "error (a tie or a tiny margin); pass T as Fractions "
                  "(labelavg.noise models with exact=True) to decide it",)
    verdict = dict(holds=holds, margin=margin, min_rounds=2 if holds and not notes else None,
                   min_rounds_exact=None, gap=None, exact_holds=None,
                   formula="T[c,c] > T[c,k] for all c and k ≠ c (plurality)",
                   params=params, notes=notes, decision=decision)
    if model is None or lam is None:
        return Verdict(**verdict)
    sol = model.solve(transition, counts=counts, lam=lam, rounds=1, pll_topk=pll_topk,
                      ties=ties, tol=tol, precision=precision)
    exact = _pll_exact(sol, holds)
    verdict["certified"] = sol.certified
    params.update(exact.pop("params"), n=model.n_per_class, c=model.c, d=model.d,
                  lam=lam)
    exact["notes"] = notes + exact["notes"]
    verdict.update(exact, gap=exact["gap"] if verdict["min_rounds"] else None)
    return Verdict(**verdict)


def _check_exact_rows(exact):
    """Rows of an exact T must sum to exactly 1."""
    bad = [c for c, row in enumerate(exact) if sum(row) != 1]
    if bad:
        raise ValueError(f"rows of transition must sum to exactly 1 (exact entries; "
                         f"rows = true class); rows {bad[:5]} do not")


def _pll_histogram(transition, counts, model):
    if model is not None:
        return _group_counts(model, transition, counts)
    if transition is None:
        raise ValueError("pll_condition needs transition (or counts with model)")
    mat = _checks.finite_array("transition", transition, ndim=2)
    if mat.shape[0] != mat.shape[1] or np.any(mat < 0):
        raise ValueError(f"transition must be a square non-negative matrix, got "
                         f"shape {mat.shape}")
    if np.max(np.abs(mat.sum(axis=1) - 1)) > 1e-9:
        raise ValueError("rows of transition must sum to 1 (rows = true class)")
    return mat


def _pll_exact(sol, holds):
    groups, verdicts = sol.groups, sol.pll_verdicts
    true = groups[:, 0]
    right, wrong = verdicts == 1, verdicts == -1
    tied = ~right & ~wrong                      # undecided, or a certified tie
    # the teacher's top-k misses the true class by more than its error bound
    teacher = sol.deviations[0]
    kth = -np.sort(-teacher, axis=0)[sol.pll_topk - 1]
    misses = teacher[true, np.arange(true.size)] < kth - 2 * sol.error[0]
    as_list = lambda mask: [tuple(int(x) for x in g) for g in groups[mask]]
    notes = []
    if tied.any():
        how = ("certified ties" if sol.certified else
               "ties or margins below the float64 error bound (undecided)")
        notes.append(f"PLL student ties for the top on groups {as_list(tied)}: {how}; "
                     "ties count as wrong")
    if holds and wrong.any():
        notes.append(f"plurality holds but the PLL student is wrong on groups "
                     f"{as_list(wrong)}")
    settled = sol.certified or not np.any(verdicts == 0) or wrong.any()
    exact = bool(right.all()) if settled else None
    sol_params = dict(tied_groups=as_list(tied), wrong_groups=as_list(wrong),
                      topk_misses=as_list(misses), pll_accuracy=sol.pll_accuracy.all,
                      teacher_accuracy=sol.accuracy[0].all)
    return dict(min_rounds_exact=2 if exact else None, exact_holds=exact,
                gap=0 if exact and holds else None, notes=tuple(notes),
                params={**sol_params})


# ---------------------------------------------------------------------------
# sympy forms
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SymbolicForms:
    """Sympy expressions of the block model's filters and Result 3.

    Attributes
    ----------
    mu1, mu2, mu3 : sympy.Expr
        Eigenvalues in n, K, c, d.
    theta, phi, psi : sympy.Expr
        g(μ) = μ/(μ + K·Kn·λ) of each.
    noisy_margin : sympy.Expr
        (φᵗ − θᵗ)(T_cc − T_cj) − θᵗ: positive iff a noisy instance (true c,
        label j) is right after t fits (uniform m̄).
    t_star : sympy.Expr
        ⌊log(1 + 1/Δ)/log(φ/θ)⌋ + 1.
    delta_symmetric : sympy.Expr
        Δ = 1 − ηK/(K − 1) for symmetric noise.
    symbols : dict
        Name → sympy symbol: n, K, c, d, lam, t, eta, Delta, T_cc, T_cj.
    """

    mu1: object
    mu2: object
    mu3: object
    theta: object
    phi: object
    psi: object
    noisy_margin: object
    t_star: object
    delta_symmetric: object
    symbols: dict


def symbolic_forms():
    """Result 2/3 in sympy: eigenvalues, θ, φ, ψ, the noisy margin and t*.

    Returns
    -------
    SymbolicForms
        Print, differentiate or ``sympy.lambdify`` them.

    Examples
    --------
    >>> f = symbolic_forms()
    >>> s = f.symbols
    >>> vals = {s["n"]: 100, s["K"]: 4, s["c"]: 0.4, s["d"]: 0.1, s["lam"]: 1e-3}
    >>> round(float(f.theta.subs(vals)), 4)
    0.2727
    """
    import sympy as sp

    spec = symbolic_spectrum()
    sy = dict(spec.symbols)
    lam, t, eta, delta = sp.symbols("lambda t eta Delta", positive=True)
    tcc, tcj = sp.symbols("T_cc T_cj", nonnegative=True)
    sy.update(lam=lam, t=t, eta=eta, Delta=delta, T_cc=tcc, T_cj=tcj)
    n, k = sy["n"], sy["K"]
    g = [mu / (mu + k * (k * n) * lam) for mu in spec.values]
    theta, phi, psi = g
    margin = (phi ** t - theta ** t) * (tcc - tcj) - theta ** t
    t_star = sp.floor(sp.log(1 + 1 / delta) / sp.log(phi / theta)) + 1
    return SymbolicForms(*spec.values, theta, phi, psi, margin, t_star,
                         1 - eta * k / (k - 1), sy)
