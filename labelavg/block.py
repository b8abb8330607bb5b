"""The block / hierarchical Gram model, its closed-form spectrum and reduced exact solver.

Symbols: K ``n_classes``, n ``n_per_class``, N = Kn ``n_samples``, c ``c``
(correlation within a class), d ``d`` (across classes, or within a superclass),
e ``e`` (across superclasses), m ``superclass_size``, λ ``lam``, t the number
of fits (t = 1 is the teacher), T ``transition`` with
**T[c, j] = P(given label j | true class c), rows = true class, rows sum to 1**,
μ an eigenvalue of Φ, g(μ) = μ / (μ + KNλ), θ = g(μ₁), φ = g(μ₂), ψ = g(μ₃).

Block Gram (theory/THEORY.md, Result 2): Φ_ii = 1, Φ_ij = c in the same class, d
across classes. Hierarchical Gram: c in the same class, d in the same
superclass (consecutive runs of m classes), e across superclasses.

Reduced solver
--------------
Under such a Gram matrix, instances with the same (true class, given label)
are interchangeable, and every fit's solution is unique, so every round's
outputs are constant on these *groups* (at most K² of them). With group g of
true class a(g), count n_g, targets q_g and outputs p_g, the fixed point (FP)
of theory/THEORY.md becomes

    z_g = (1/(Nλ)) [ Σ_h n_h (q_h − p_h) Φ(a(g), a(h)) + (1 − c)(q_g − p_g) ],
    p_g = softmax(z_g),

where Φ(a, b) is the class-level correlation (c, d or e) and the last term is
the instance's own correlation Φ_ii = 1 instead of c. Counts may be fractional
(the expected histogram n·T), so the cost never depends on n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg

from . import _checks
from .distill import Accuracy, correct_predictions, pll_targets
from .fixed_point import _softmax
from .gram import block_gram, hierarchical_gram

__all__ = ["BlockModel", "BlockSpectrum", "BlockSolution", "SymbolicSpectrum",
           "labels_from_counts", "symbolic_spectrum"]

#: Relative tolerance on row sums of ``counts`` / ``transition``.
_SUM_RTOL = 1e-9


# ---------------------------------------------------------------------------
# spectrum
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class BlockSpectrum:
    """Closed-form spectrum of a block or hierarchical Gram matrix.

    Attributes
    ----------
    values : ndarray (L,)
        Distinct-formula eigenvalues, ascending for c > d > e (levels of zero
        multiplicity are left out).
    multiplicities : ndarray (L,)
        Multiplicity of each level (an integer when n is).
    names : tuple of str
        What each eigenspace is: ``"within-class"``, ``"class"``
        (class contrasts; inside a superclass for the hierarchical model),
        ``"superclass"`` (superclass contrasts), ``"all-ones"``.
    model : BlockModel
        The model the spectrum belongs to.
    """

    values: np.ndarray
    multiplicities: np.ndarray
    names: tuple
    model: Any = field(repr=False)

    def eigvals(self):
        """All N eigenvalues as a multiset, ascending (integer n only)."""
        self.model._require_integer_n("eigvals")
        mult = np.rint(self.multiplicities).astype(np.intp)
        return np.sort(np.repeat(self.values, mult))

    def projectors(self):
        """Orthogonal projectors (N, N) onto each level's eigenspace.

        Built from class and superclass indicator vectors only:
        ``P_class = E Eᵀ`` with E the normalised class indicators (N, K),
        ``P_sup`` likewise for superclasses, ``P_all = 11ᵀ/N``. Then
        within-class = I − P_class, class = P_class − P_sup (P_class − P_all for
        the block model), superclass = P_sup − P_all, all-ones = P_all.
        """
        model = self.model
        model._require_integer_n("projectors")
        nested = _indicator_projectors(model)
        eye = np.eye(nested["class"].shape[0])
        chain = [eye, nested["class"], nested.get("superclass"), nested["all"]]
        chain = [p for p in chain if p is not None]
        levels = {}
        for name, hi, lo in zip(_level_names(model), chain[:-1], chain[1:]):
            levels[name] = hi - lo
        levels["all-ones"] = nested["all"]
        return tuple(levels[name] for name in self.names)


def _indicator_projectors(model):
    n, k = int(model.n_per_class), model.n_classes
    true = np.repeat(np.arange(k), n)
    onehot = (true[:, None] == np.arange(k)[None, :]) / math.sqrt(n)
    out = {"class": onehot @ onehot.T,
           "all": np.full((k * n, k * n), 1.0 / (k * n))}
    m = model._m
    if 1 < m < k:
        sup = true // m
        ind = (sup[:, None] == np.arange(k // m)[None, :]) / math.sqrt(n * m)
        out["superclass"] = ind @ ind.T
    return out


def _level_names(model):
    m, k = model._m, model.n_classes
    if m == 1 or m == k:
        return ("within-class", "class", "all-ones")
    return ("within-class", "class", "superclass", "all-ones")


@dataclass(frozen=True)
class SymbolicSpectrum:
    """Eigenvalues and multiplicities as sympy expressions.

    Attributes
    ----------
    values, multiplicities : tuple of sympy.Expr
        One per level, in the order of ``names``.
    names : tuple of str
        As in :class:`BlockSpectrum`.
    symbols : dict
        ``{"n": n, "K": K, "c": c, "d": d}`` (+ ``"e"``, ``"m"`` when
        hierarchical), the sympy symbols used.
    """

    values: tuple
    multiplicities: tuple
    names: tuple
    symbols: dict


def symbolic_spectrum(hierarchical=False):
    """Closed-form spectrum in sympy symbols n, K, c, d (and e, m).

    Parameters
    ----------
    hierarchical : bool
        False: block model (levels within-class, class, all-ones).
        True: superclasses of m classes (levels within-class, class,
        superclass, all-ones), assuming 1 < m < K.

    Returns
    -------
    SymbolicSpectrum

    Notes
    -----
    Block (Result 2): μ₁ = 1 − c (N − K), μ₂ = 1 − c + n(c − d) (K − 1),
    μ₃ = μ₂ + Knd (1). Hierarchical: μ₁ = 1 − c (N − K),
    μ₂ = 1 − c + n(c − d) (K − K/m), μ₂' = μ₂ + nm(d − e) (K/m − 1),
    μ₃ = μ₂' + Kne (1).

    Examples
    --------
    >>> spec = symbolic_spectrum()
    >>> spec.values[1]
    -c + n*(c - d) + 1
    """
    import sympy as sp

    n, k, c, d = sp.symbols("n K c d", positive=True)
    symbols = {"n": n, "K": k, "c": c, "d": d}
    mu1 = 1 - c
    mu2 = mu1 + n * (c - d)
    if not hierarchical:
        return SymbolicSpectrum((mu1, mu2, mu2 + k * n * d),
                                (k * n - k, k - 1, sp.Integer(1)),
                                ("within-class", "class", "all-ones"), symbols)
    e, m = sp.symbols("e m", positive=True)
    symbols.update(e=e, m=m)
    mu_sup = mu2 + n * m * (d - e)
    return SymbolicSpectrum((mu1, mu2, mu_sup, mu_sup + k * n * e),
                            (k * n - k, k - k / m, k / m - 1, sp.Integer(1)),
                            ("within-class", "class", "superclass", "all-ones"),
                            symbols)


# ---------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class BlockModel:
    """Block (or hierarchical) Gram model of theory/THEORY.md, Result 2.

    Parameters
    ----------
    n_classes : int
        K ≥ 2.
    n_per_class : int or float
        n ≥ 1 instances per class. A float is allowed for the population limit
        (only :meth:`gram`, :meth:`BlockSpectrum.projectors` and
        :meth:`BlockSpectrum.eigvals` need an integer).
    c : float
        Correlation within a class, 0 ≤ c < 1 (Φ_ii = 1 > c keeps the
        self-correlation term and makes every fit strictly convex).
    d : float
        Correlation across classes (block) or within a superclass
        (hierarchical), 0 ≤ d < c.
    superclass_size : int, optional
        m, dividing K; superclasses are runs of m consecutive classes.
    e : float, optional
        Correlation across superclasses, 0 ≤ e ≤ d; required with
        ``superclass_size`` and only allowed with it.

    Examples
    --------
    >>> model = BlockModel(4, 100, 0.4, 0.1)
    >>> model.spectrum().values
    array([ 0.6, 30.6, 70.6])
    """

    n_classes: int
    n_per_class: float
    c: float
    d: float
    superclass_size: int | None = None
    e: float | None = None

    def __post_init__(self):
        _checks.integer_at_least("n_classes", self.n_classes, 2)
        n = _real("n_per_class", self.n_per_class)
        if n < 1:
            raise ValueError(f"n_per_class must be >= 1, got {self.n_per_class!r}")
        c, d = _real("c", self.c), _real("d", self.d)
        if not 0 <= c < 1:
            raise ValueError(f"c must satisfy 0 <= c < 1, got {c!r}")
        if not 0 <= d < c:
            raise ValueError(f"d must satisfy 0 <= d < c={c!r}, got {d!r}")
        self._check_hierarchy(d)

    def _check_hierarchy(self, d):
        if (self.superclass_size is None) != (self.e is None):
            raise ValueError("superclass_size and e must be given together, got "
                             f"superclass_size={self.superclass_size!r}, e={self.e!r}")
        if self.superclass_size is None:
            return
        m = _checks.integer_at_least("superclass_size", self.superclass_size, 1)
        if self.n_classes % m:
            raise ValueError(f"superclass_size={m} must divide n_classes="
                             f"{self.n_classes}")
        e = _real("e", self.e)
        if not 0 <= e <= d:
            raise ValueError(f"e must satisfy 0 <= e <= d={d!r}, got {e!r}")

    # -- basic quantities ---------------------------------------------------

    @property
    def n_samples(self):
        """N = Kn (a float when n is)."""
        return self.n_classes * self.n_per_class

    @property
    def hierarchical(self):
        """True when superclasses are given."""
        return self.superclass_size is not None

    @property
    def _m(self):
        return 1 if self.superclass_size is None else int(self.superclass_size)

    def class_gram(self):
        """Class-level correlations Φ(a, b) (K, K): c on the diagonal, d / e off it."""
        k = self.n_classes
        sup = np.arange(k) // self._m
        far = self.d if self.e is None else self.e
        out = np.where(sup[:, None] == sup[None, :], float(self.d), float(far))
        np.fill_diagonal(out, self.c)
        return out

    def _require_integer_n(self, what):
        if float(self.n_per_class) != int(self.n_per_class):
            raise ValueError(f"{what} needs an integer n_per_class, got "
                             f"{self.n_per_class!r}")

    def gram(self):
        """Materialise Φ (N, N), instances ordered class by class (integer n only)."""
        self._require_integer_n("gram()")
        n = int(self.n_per_class)
        if self.hierarchical:
            return hierarchical_gram(self.n_classes, n, self.c, self.d, self.e,
                                     self.superclass_size)
        return block_gram(self.n_classes, n, self.c, self.d)

    # -- spectrum -------------------------------------------------------------

    def spectrum(self):
        """Closed-form eigenvalues, multiplicities and eigenspaces of Φ.

        Returns
        -------
        BlockSpectrum
            See :func:`symbolic_spectrum` for the formulas; levels of zero
            multiplicity (m = 1 or m = K) are left out, and the hierarchical
            model with m = 1 or m = K reduces to a block model.
        """
        sym = self.symbolic_spectrum(substitute=False)
        subs = self._symbol_values(sym.symbols)
        values, mults, names = [], [], []
        for name, val, mult in zip(sym.names, sym.values, sym.multiplicities):
            mult = float(mult.subs(subs))
            if name in _level_names(self) and mult > 0:
                values.append(float(val.subs(subs)))
                mults.append(mult)
                names.append(name)
        return BlockSpectrum(np.array(values), np.array(mults), tuple(names), self)

    def symbolic_spectrum(self, substitute=False):
        """Spectrum as sympy expressions in n, K, c, d (e, m when hierarchical).

        Parameters
        ----------
        substitute : bool
            If True, substitute this model's numbers (as exact rationals of
            the floats) into the expressions.

        Returns
        -------
        SymbolicSpectrum
        """
        sym = symbolic_spectrum(self.hierarchical and 1 < self._m < self.n_classes)
        if not substitute:
            return sym
        subs = self._symbol_values(sym.symbols, exact=True)
        return SymbolicSpectrum(tuple(v.subs(subs) for v in sym.values),
                                tuple(m.subs(subs) for m in sym.multiplicities),
                                sym.names, sym.symbols)

    def _symbol_values(self, symbols, exact=False):
        import sympy as sp

        conv = sp.nsimplify if exact else (lambda x: x)
        # With m = 1 every other class is in another superclass: the block
        # model's cross-class value is then e (with m = K it is d).
        d_across = self.e if self._m == 1 and self.e is not None else self.d
        numbers = {"n": self.n_per_class, "K": self.n_classes, "c": self.c,
                   "d": d_across, "e": self.e, "m": self._m}
        return {s: conv(numbers[name]) for name, s in symbols.items()}

    # -- reduced solver -------------------------------------------------------

    def solve(self, transition=None, *, counts=None, lam, rounds, method="exact",
              pll_topk=2, ties="split", self_term=True, tol=1e-10, max_iter=200):
        """Multi-round self-distillation and the PLL student on (class, label) groups.

        Parameters
        ----------
        transition : array (K, K), optional
            T[c, j] = P(given label j | true class c); rows = true class, rows
            sum to 1. The group counts are the expected ones, n·T (possibly
            fractional: the population histogram of theory/THEORY.md, Result 3).
        counts : array (K, K), optional
            Exact group counts instead of ``transition``: ``counts[c, j]``
            instances of true class c carry label j; each row sums to n.
            Give at most one of the two; with neither there is no noise.
        lam : float
            Ridge strength λ > 0.
        rounds : int
            Number of fits t ≥ 1 (t = 1 is the teacher).
        method : {"exact", "linear"}
            ``"exact"``: the softmax fixed point, by Newton's method.
            ``"linear"``: the linearised closed form of Result 1,
            Y⁽ᵗ⁾ − u = (Y⁽ᵗ⁻¹⁾ − u) G restricted to groups.
        pll_topk : int or None
            k of the PLL student's top-k targets (theory/THEORY.md, Result 4),
            1 ≤ k ≤ K − 1; None skips the PLL student (its fields are None).
        ties : {"split", "all", "index"}
            Tie rule for the k-th place, see :func:`labelavg.distill.pll_targets`.
        self_term : bool
            Keep the (1 − c)(q_g − p_g) self-correlation term (the exact finite-N
            model). False drops it: the N → ∞ limit at fixed λ, in which the
            outputs depend on counts only through their proportions.
        tol, max_iter : float, int
            Newton stops when ``max |Nλ A − (Q − P)| <= tol`` (exact method).

        Returns
        -------
        BlockSolution

        Notes
        -----
        The exact fit minimises the count-weighted version of the convex
        objective of theory/THEORY.md restricted to group-constant dual coefficients
        A (K, G), which contains the unique full minimiser. Newton's direction
        is computed from the root form (Q − P)/(Nλ) − A = 0 (the same direction,
        without inverting the Gram part), by a Woodbury-style reduction to a
        K² × K² system, and damped by an Armijo search on the objective.
        """
        _checks.choice("method", method, {"exact", "linear"})
        _checks.integer_at_least("rounds", rounds, 1)
        lam = _checks.positive_scalar("lam", lam)
        _check_topk(pll_topk, self.n_classes)
        problem = _GroupProblem.build(self, transition, counts, lam, self_term)
        path = list(_iterate_rounds(problem, rounds, method, tol, max_iter))
        pll = (_pll_fit(problem, path[0].probs, method, pll_topk, ties, tol, max_iter)
               if pll_topk is not None else None)
        return _assemble(problem, method, path, pll, pll_topk, ties)


def _check_topk(pll_topk, n_classes):
    if pll_topk is None:
        return
    _checks.integer_at_least("pll_topk", pll_topk, 1)
    if pll_topk >= n_classes:
        raise ValueError(f"pll_topk must be in 1..K-1 = 1..{n_classes - 1} (or None "
                         f"to skip the PLL student), got {pll_topk}")


def _real(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                         np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


# ---------------------------------------------------------------------------
# groups and the reduced fixed point
# ---------------------------------------------------------------------------

def labels_from_counts(counts):
    """Given labels (N,) matching a block Gram's instance order.

    Instances are ordered class by class; within true class c, the first
    ``counts[c, 0]`` carry label 0, the next ``counts[c, 1]`` label 1, ...

    Examples
    --------
    >>> labels_from_counts([[2, 1], [0, 3]]).tolist()
    [0, 0, 1, 1, 1, 1]
    """
    counts = _integer_counts(counts)
    k = counts.shape[0]
    return np.concatenate([np.repeat(np.arange(k), row) for row in counts])


def _integer_counts(counts):
    arr = _checks.finite_array("counts", counts, ndim=2)
    if np.any(arr != np.round(arr)) or np.any(arr < 0):
        raise ValueError("counts must hold non-negative integers here")
    return arr.astype(np.intp)


def _group_counts(model, transition, counts):
    """Validated (K, K) count matrix: n·T, the given counts, or n·I."""
    k, n = model.n_classes, float(model.n_per_class)
    if transition is not None and counts is not None:
        raise ValueError("give transition or counts, not both")
    if counts is None:
        if transition is None:
            return n * np.eye(k)
        mat, name, total = _checks.finite_array("transition", transition, ndim=2), \
            "transition", 1.0
    else:
        mat, name, total = _checks.finite_array("counts", counts, ndim=2), "counts", n
    if mat.shape != (k, k):
        raise ValueError(f"{name} must have shape ({k}, {k}), got {mat.shape}")
    if np.any(mat < 0):
        raise ValueError(f"{name} must be non-negative; min entry {mat.min():.3g}")
    err = float(np.max(np.abs(mat.sum(axis=1) - total)))
    if err > _SUM_RTOL * total:
        raise ValueError(f"rows of {name} must sum to {total:g} (rows = true "
                         f"class); max deviation {err:.3g}")
    return mat * (n / total)


@dataclass(frozen=True)
class _GroupProblem:
    """Everything a reduced fit needs: groups, weights, Φ(a, b), Nλ."""

    model: BlockModel
    true: np.ndarray       # (G,) true class of each group
    given: np.ndarray      # (G,) given label of each group
    weights: np.ndarray    # (G,) counts n_g
    class_gram: np.ndarray  # (K, K)
    self_coef: float       # 1 − c, or 0 without the self term
    n_lam: float           # Nλ
    lam: float

    @classmethod
    def build(cls, model, transition, counts, lam, self_term):
        mat = _group_counts(model, transition, counts)
        true, given = np.nonzero(mat > 0)
        return cls(model, true, given, mat[true, given], model.class_gram(),
                   (1.0 - model.c) if self_term else 0.0,
                   float(model.n_samples) * lam, lam)

    @property
    def n_classes(self):
        return self.model.n_classes

    def class_sum(self, x):
        """Σ_{h in class b} n_h x_h for each class b: (K, G) -> (K, K classes)."""
        out = np.zeros((x.shape[0], self.n_classes))
        np.add.at(out.T, self.true, (x * self.weights).T)
        return out

    def mix(self, x):
        """Σ_h n_h x_h Φ(a(g), a(h)) + self_coef x_g: the Gram map on groups."""
        return (self.class_sum(x) @ self.class_gram)[:, self.true] + self.self_coef * x

    def fresh_logits(self, targets, probs):
        """Logits (K, K) of a new instance of each class (columns), no self term."""
        return self.class_sum(targets - probs) @ self.class_gram / self.n_lam

    def onehot_given(self):
        return np.eye(self.n_classes)[:, self.given]


def _logsumexp(z):
    top = z.max(axis=0)
    return top + np.log(np.exp(z - top).sum(axis=0))


@dataclass(frozen=True)
class _Fit:
    probs: np.ndarray
    dual: np.ndarray        # B = Nλ A = Q − P at the solution (K, G)
    n_iter: int
    residual: float
    converged: bool


def _objective(problem, targets, b):
    """Count-weighted objective / N, in the scaled dual variable B = Nλ A."""
    z = problem.mix(b) / problem.n_lam
    ce = _logsumexp(z) - np.sum(targets * z, axis=0)
    per_group = ce + 0.5 * np.sum(b * z, axis=0)
    return float(np.sum(problem.weights * per_group) / problem.weights.sum()), z


def _newton_direction(problem, probs, resid):
    """Solve J Δ = −r with J Δ = Δ + α H_g (self Δ_g + Σ_b Φ(a_g, b) s_b).

    α = 1/(Nλ), H_g the softmax Jacobian of group g and s_b = Σ_{h∈b} n_h Δ_h.
    With R_g = I + α·self·H_g, Δ_g = −R_g⁻¹ r_g − α R_g⁻¹ H_g w_{a(g)} where
    w = Φ_cls s, which leaves the K² × K² system s_b + V_b w_b = −U_b.
    """
    k, g = probs.shape
    alpha = 1.0 / problem.n_lam
    jac = np.einsum("ig,ij->gij", probs, np.eye(k)) - np.einsum("ig,jg->gij", probs, probs)
    reg = np.eye(k)[None] + alpha * problem.self_coef * jac
    rinv_r = np.linalg.solve(reg, resid.T[:, :, None])[:, :, 0]        # (G, K)
    rinv_h = np.linalg.solve(reg, jac)                                   # (G, K, K)
    kc = problem.n_classes
    u = np.zeros((kc, k))
    v = np.zeros((kc, k, k))
    np.add.at(u, problem.true, problem.weights[:, None] * rinv_r)
    np.add.at(v, problem.true, alpha * problem.weights[:, None, None] * rinv_h)
    system = np.eye(kc * k) + np.einsum("bij,ab->biaj", v, problem.class_gram).reshape(
        kc * k, kc * k)
    # scipy's LAPACK: numpy's bundled OpenBLAS can be very slow on small dense
    # systems when cores are oversubscribed.
    s = scipy.linalg.solve(system, -u.reshape(-1)).reshape(kc, k)
    w = problem.class_gram @ s                                            # (Kc, K)
    delta = -rinv_r - alpha * np.einsum("gij,gj->gi", rinv_h, w[problem.true])
    return delta.T


def _fit_exact(problem, targets, tol, max_iter, start=None):
    """Newton with Armijo backtracking on the reduced convex objective.

    ``start``: initial B, e.g. the previous round's solution (warm start).
    """
    b = np.zeros_like(targets) if start is None else start
    value, z = _objective(problem, targets, b)
    probs = _softmax(np, z)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        resid = probs - targets + b
        if np.max(np.abs(resid)) <= tol:
            n_iter -= 1
            break
        delta = _newton_direction(problem, probs, resid)
        b, value, probs = _line_search(problem, targets, b, value, delta, resid)
    resid = float(np.max(np.abs(probs - targets + b)))
    return _Fit(probs, targets - probs, n_iter, resid, resid <= tol)


def _line_search(problem, targets, b, value, delta, resid):
    # slope = ∇L·Δ, with ∇_B L = (1/(N² λ)) diag(n) M r (see the module notes).
    total = problem.weights.sum()
    slope = float(np.sum(problem.weights * delta * problem.mix(resid))
                  / (total * problem.n_lam))
    # Near the optimum L changes by less than its round-off; allow that much.
    slack = 1e-13 * (abs(value) + 1.0)
    step = 1.0
    for _ in range(60):
        new_b = b + step * delta
        new_value, z = _objective(problem, targets, new_b)
        if new_value <= value + 1e-4 * step * min(slope, 0.0) + slack:
            return new_b, new_value, _softmax(np, z)
        step *= 0.5
    return new_b, new_value, _softmax(np, z)


def _linear_operator(problem):
    """Right factor (G, G): Y⁽ᵗ⁾ − u = (Y⁽ᵗ⁻¹⁾ − u) @ op, op = Mᵀ(Mᵀ + KNλ I)⁻¹."""
    g = problem.true.size
    mix_t = problem.mix(np.eye(g))           # row h -> Gram map of e_h: Mᵀ
    shift = problem.n_classes * problem.n_lam
    return scipy.linalg.solve((mix_t + shift * np.eye(g)).T, mix_t.T).T


def _fit_linear(problem, targets, op):
    u = 1.0 / problem.n_classes
    probs = u + (targets - u) @ op
    return _Fit(probs, targets - probs, 0, 0.0, True)


def _iterate_rounds(problem, rounds, method, tol=1e-10, max_iter=200):
    """Yield the fit of each round t = 1..rounds (targets = previous outputs)."""
    targets = problem.onehot_given()
    op = _linear_operator(problem) if method == "linear" else None
    start = None
    for _ in range(rounds):
        fit = (_fit_linear(problem, targets, op) if op is not None
               else _fit_exact(problem, targets, tol, max_iter, start))
        yield fit
        targets, start = fit.probs, fit.dual


def _pll_fit(problem, teacher, method, pll_topk, ties, tol, max_iter):
    targets = np.asarray(pll_targets(teacher, k=pll_topk, ties=ties), dtype=float)
    if method == "linear":
        return targets, _fit_linear(problem, targets, _linear_operator(problem))
    return targets, _fit_exact(problem, targets, tol, max_iter)


# ---------------------------------------------------------------------------
# accuracies and the result
# ---------------------------------------------------------------------------

def _accuracy(problem, probs):
    right = correct_predictions(probs, problem.true)
    clean = problem.true == problem.given
    parts = []
    for mask in (np.ones_like(clean), clean, ~clean):
        weight = problem.weights[mask].sum()
        parts.append(float(np.sum(problem.weights[mask] * right[mask]) / weight)
                     if weight > 0 else math.nan)
    return Accuracy(*parts)


def _fresh(problem, targets, fit, method):
    logits = problem.fresh_logits(targets, fit.probs)
    k = problem.n_classes
    probs = _softmax(np, logits) if method == "exact" else (1.0 + logits) / k
    acc = float(np.mean(correct_predictions(logits, np.arange(k))))
    return logits, probs, acc


@dataclass(frozen=True)
class BlockSolution:
    """Output of :meth:`BlockModel.solve`: every round and the PLL student, per group.

    Groups are the (true class, given label) pairs with a positive count.

    Attributes
    ----------
    model : BlockModel
    lam : float
    method : str
    groups : ndarray (G, 2)
        ``(true class, given label)`` of each group.
    counts : ndarray (G,)
        n_g, possibly fractional.
    probs : ndarray (rounds, K, G)
        ``probs[t-1]`` = Y⁽ᵗ⁾ on each group (t = 1 teacher).
    n_iter, residual, converged : ndarray (rounds,)
        Newton steps, final ``max|Nλ A − (Q − P)|`` and its ``<= tol`` flag
        per round (0, 0, True for the linear method).
    accuracy : tuple of Accuracy
        Label-correction accuracy per round, count-weighted: ``all``, ``clean``
        (given = true), ``noisy``; NaN for an empty set. A group is correct iff
        its output at the true class beats every other output by more than
        ``labelavg.distill.TIE_TOL``: **a tie for the top is counted as wrong**
        (:func:`labelavg.distill.correct_predictions`).
    fresh_logits, fresh_probs : ndarray (rounds, K, K)
        Outputs for a new instance of each class (column a = class a): logits
        (1/(Nλ)) Σ_h n_h (q_h − p_h) Φ(a, a(h)), no self term; probs by softmax
        (exact) or (1 + z)/K (linear).
    fresh_accuracy : ndarray (rounds,)
        Fraction of classes whose fresh instance is predicted right (ties wrong).
    pll_targets, pll_probs : ndarray (K, G)
        The PLL student's top-k targets (from the teacher) and outputs.
    pll_accuracy : Accuracy
    pll_fresh_logits : ndarray (K, K)
    pll_fresh_accuracy : float
    pll_residual : float
        (All PLL fields are None when ``pll_topk`` is None.)
    pll_topk : int or None
    ties : str
    """

    model: BlockModel
    lam: float
    method: str
    groups: np.ndarray
    counts: np.ndarray
    probs: np.ndarray
    n_iter: np.ndarray
    residual: np.ndarray
    converged: np.ndarray
    accuracy: tuple
    fresh_logits: np.ndarray
    fresh_probs: np.ndarray
    fresh_accuracy: np.ndarray
    pll_targets: np.ndarray
    pll_probs: np.ndarray
    pll_accuracy: Any
    pll_fresh_logits: np.ndarray
    pll_fresh_accuracy: float
    pll_residual: float
    pll_topk: int
    ties: str

    @property
    def rounds(self):
        """Number of fits t."""
        return self.probs.shape[0]

    def __repr__(self):
        from ._repr import accuracies, short_repr

        text = short_repr(self, model=self.model, lam=self.lam, method=self.method,
                          rounds=self.rounds, groups=len(self.groups),
                          converged=bool(np.all(self.converged)),
                          residual=np.max(self.residual))
        text = f"{text[:-1]}, accuracy=[{accuracies(a.all for a in self.accuracy)}]"
        if self.pll_accuracy is not None:
            text += f", pll_accuracy={accuracies([self.pll_accuracy.all])}"
        return text + ")"

    def all_right(self, pll=False):
        """Whether every group is predicted right, per round ``(rounds,)`` (or PLL: bool).

        Unlike ``accuracy[t].all == 1`` this does not depend on the group
        weights, so a group with a tiny count still counts (ties are wrong).
        """
        true = self.groups[:, 0]
        if pll:
            return bool(np.all(correct_predictions(self.pll_probs, true)))
        return np.array([bool(np.all(correct_predictions(p, true))) for p in self.probs])

    def expand(self, values):
        """Repeat per-group values (..., G) to instances (..., N) (integer counts).

        Instance order is that of :meth:`BlockModel.gram` with the labels of
        :func:`labels_from_counts`: class by class, then by given label.
        """
        reps = self.counts.astype(np.intp)
        if np.any(reps != self.counts):
            raise ValueError("expand needs integer group counts")
        return np.repeat(np.asarray(values), reps, axis=-1)


def _assemble(problem, method, path, pll, pll_topk, ties):
    targets = [problem.onehot_given()] + [fit.probs for fit in path[:-1]]
    fresh = [_fresh(problem, q, fit, method) for q, fit in zip(targets, path)]
    return BlockSolution(
        model=problem.model, lam=problem.lam, method=method,
        groups=np.stack([problem.true, problem.given], axis=1),
        counts=problem.weights.copy(),
        probs=np.stack([fit.probs for fit in path]),
        n_iter=np.array([fit.n_iter for fit in path]),
        residual=np.array([fit.residual for fit in path]),
        converged=np.array([fit.converged for fit in path]),
        accuracy=tuple(_accuracy(problem, fit.probs) for fit in path),
        fresh_logits=np.stack([f[0] for f in fresh]),
        fresh_probs=np.stack([f[1] for f in fresh]),
        fresh_accuracy=np.array([f[2] for f in fresh]),
        **_pll_fields(problem, method, pll), pll_topk=pll_topk, ties=ties)


def _pll_fields(problem, method, pll):
    names = ("pll_targets", "pll_probs", "pll_accuracy", "pll_fresh_logits",
             "pll_fresh_accuracy", "pll_residual")
    if pll is None:
        return dict.fromkeys(names)
    targets, fit = pll
    logits, _, fresh_acc = _fresh(problem, targets, fit, method)
    return dict(zip(names, (targets, fit.probs, _accuracy(problem, fit.probs), logits,
                            fresh_acc, fit.residual)))
