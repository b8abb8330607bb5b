"""Rigorous certificates of the reduced block problem: ball arithmetic, Krawczyk, exact ties.

Symbols: K ``n_classes``, groups g = (true class a(g), given label) with counts
n_g, deviations ε_g = q_g − 1/K of the targets and δ_g = p_g − 1/K of the
outputs, duals b_g = ε_g − δ_g, W_gh = (n_h Φ(a(g), a(h)) + s·[g = h]) / (Nλ)
with s = 1 − c the self term (0 without it), so that the logits are
z_g = Σ_h W_gh b_h (theory/THEORY.md, "Certificates"; :mod:`labelavg.block`).

Each round's fixed point δ = Γ(ε − δ), Γ(b)_g = softmax(Σ_h W_gh b_h) − 1/K,
is enclosed by a Krawczyk test in python-flint's ``arb`` ball arithmetic,
with the previous round's enclosure of ε as an interval parameter: if the
Krawczyk image of a box X lies in X's interior, then for every ε in its box
the round has exactly one fixed point in X. Γ is evaluated from centred
logits through expm1, so deviations of any size (1e-60 included) keep their
relative precision. A margin is certified only when its enclosure excludes
0. An exact tie is certified only by exact rational arithmetic
(:func:`tie_orbits`): a set of coordinate permutations whose fixed space the
round's map provably preserves. Everything else is undecided (verdict 0).

The problem certified is the one whose data are the given float64 numbers
taken as exact binary rationals: the counts, Φ, c (s = 1 − c) and N, λ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

__all__ = []

#: Working precisions (bits) tried in turn by ``precision="auto"``; the last is the cap.
AUTO_BITS = (64, 128, 256, 512, 1024, 2048)

#: Verdict codes: right, wrong, undecided, exact tie (not right).
RIGHT, WRONG, OPEN, TIE = 1, -1, 0, -2

_MISSING = ("precision= needs python-flint (ball arithmetic for the rigorous "
            "certificate): pip install labelavg[certify]")


def flint():
    """The python-flint module, or ImportError saying how to install it."""
    try:
        import flint as module
    except ImportError as exc:        # pragma: no cover - depends on the environment
        raise ImportError(_MISSING) from exc
    return module


def bits_schedule(precision):
    """Working precisions (bits) for ``precision`` (decimal digits, or "auto")."""
    if precision == "auto":
        return AUTO_BITS
    return (math.ceil(precision * math.log2(10)) + 8,)


@dataclass(frozen=True)
class Problem:
    """One reduced problem, as exact data (floats read as binary rationals).

    ``counts`` (K, K), rows = true class; ``class_gram`` (K, K) Φ; ``n_samples``
    N; ``lam`` λ; ``self_coef``: the float c whose 1 − c is the self term, or
    None without the self term.
    """

    class_gram: np.ndarray
    counts: np.ndarray
    n_samples: float
    lam: float
    c: float | None

    @property
    def k(self):
        return self.counts.shape[0]

    @property
    def groups(self):
        """(true, given) of the present groups, in the solver's order (a·K + j)."""
        true, given = np.nonzero(self.counts > 0)
        return true, given


@dataclass(frozen=True)
class Certificate:
    """Certified verdicts of one point; every array on the present groups.

    ``verdicts`` (T, G), ``fresh`` (T, K): RIGHT, WRONG, TIE or OPEN per
    training group / fresh instance of each class and round; ``pll_targets``
    (K, G) the exact PLL targets (None when the teacher's top-k sets are not
    certified, or no PLL student); ``pll`` (G,), ``pll_fresh`` (K,) likewise,
    or None; ``bits`` the working precision of the last attempt; ``rounds_enclosed``
    the most rounds one attempt enclosed. Verdicts decided at any attempt are
    kept (each is a proof).
    """

    verdicts: np.ndarray
    fresh: np.ndarray
    pll_targets: np.ndarray | None
    pll: np.ndarray | None
    pll_fresh: np.ndarray | None
    bits: int
    rounds_enclosed: int

    @property
    def undecided(self):
        """Number of verdicts left OPEN (training, fresh and PLL together)."""
        parts = [self.verdicts, self.fresh]
        parts += [self.pll] if self.pll is not None else []
        parts += [self.pll_fresh] if self.pll_fresh is not None else []
        return int(sum(np.sum(p == OPEN) for p in parts))


def certify(problem, rounds, precision, pll_topk=None, ties="split", starts=None,
            pll_start=None):
    """Certified verdicts of rounds 1..``rounds`` (and the PLL student).

    Parameters
    ----------
    problem : Problem
    rounds : int
    precision : int or "auto"
        Decimal digits of one attempt, or "auto": 64, 128, … up to
        ``AUTO_BITS[-1]`` bits until nothing is left undecided.
    pll_topk, ties :
        As in :meth:`labelavg.block.BlockModel.solve`; None skips the student.
    starts : array (rounds, K, G), optional
        Float deviations δ of each round on the present groups: where the
        high-precision Newton iteration starts (never what is accepted).
    pll_start : array (K, G), optional
        The same for the PLL student.

    Returns
    -------
    Certificate
    """
    fl = flint()
    teacher_orbits = tie_orbits(problem, _onehot_targets(problem))
    best = None
    for bits in bits_schedule(precision):
        with fl.ctx.workprec(bits):
            cert = _attempt(fl, problem, rounds, bits, pll_topk, ties, starts, pll_start,
                            teacher_orbits)
        best = cert if best is None else _combine(cert, best)
        if best.undecided == 0 and not (pll_topk is not None and best.pll is None):
            break
    return best


def _combine(new, old):
    """``new`` with its OPEN verdicts filled from ``old``: both are proofs, so they agree."""
    fill = lambda a, b: np.where(a == OPEN, b, a)
    pll = dict(pll_targets=new.pll_targets, pll=new.pll, pll_fresh=new.pll_fresh)
    if new.pll is None:
        pll = dict(pll_targets=old.pll_targets, pll=old.pll, pll_fresh=old.pll_fresh)
    elif old.pll is not None:
        pll.update(pll=fill(new.pll, old.pll), pll_fresh=fill(new.pll_fresh, old.pll_fresh))
    return Certificate(fill(new.verdicts, old.verdicts), fill(new.fresh, old.fresh), **pll,
                       bits=new.bits, rounds_enclosed=max(new.rounds_enclosed,
                                                          old.rounds_enclosed))


# ---------------------------------------------------------------------------
# one attempt at a fixed working precision
# ---------------------------------------------------------------------------

def _attempt(fl, problem, rounds, bits, pll_topk, ties, starts, pll_start, orbits):
    arith = _Arith(fl, problem)
    k, g = problem.k, len(problem.groups[0])
    verdicts = np.zeros((rounds, g), np.int8)
    fresh = np.zeros((rounds, k), np.int8)
    eps = arith.point([(1.0 if i == j else 0.0) for j in problem.groups[1] for i in range(k)],
                      shift=True)
    teacher, done = None, 0
    for t in range(rounds):
        guess = None if starts is None else np.asarray(starts[t], float).T.ravel()
        box = arith.enclose(eps, guess)
        if box is None:
            break
        verdicts[t] = arith.margins(box, orbits)
        fresh[t] = arith.fresh_margins(eps, box, orbits)
        teacher = box if t == 0 else teacher
        eps, done = box, t + 1
    targets = pll = pll_fresh = None
    if pll_topk is not None and teacher is not None:
        targets = _pll_targets(arith, teacher, pll_topk, ties, orbits)
    if targets is not None:
        student_orbits = tie_orbits(problem, targets)
        eps = arith.point([x for row in targets for x in row], shift=True, exact=True)
        guess = None if pll_start is None else np.asarray(pll_start, float).T.ravel()
        box = arith.enclose(eps, guess)
        pll = np.zeros(g, np.int8)
        pll_fresh = np.zeros(k, np.int8)
        if box is not None:
            pll = arith.margins(box, student_orbits)
            pll_fresh = arith.fresh_margins(eps, box, student_orbits)
        targets = np.array([[float(x) for x in row] for row in targets]).T
    return Certificate(verdicts, fresh, targets, pll, pll_fresh, bits, done)


class _Arith:
    """Ball arithmetic of one problem at the context's working precision."""

    def __init__(self, fl, problem):
        self.fl, self.arb = fl, fl.arb
        self.k = problem.k
        true, _ = problem.groups
        self.true = true
        counts = problem.counts[problem.counts > 0]
        arb = fl.arb
        self_term = arb(0) if problem.c is None else 1 - arb(problem.c)
        scale = 1 / (arb(problem.n_samples) * arb(problem.lam))
        gram = problem.class_gram
        g = len(true)
        self.g = g
        self.w = fl.arb_mat([[(arb(counts[h]) * arb(gram[true[a], true[h]])
                               + (self_term if a == h else 0)) * scale
                              for h in range(g)] for a in range(g)])
        # fresh instance of class a: (1/(Nλ)) Σ_h n_h Φ(a, a(h)) b_h, no self term
        self.w_fresh = fl.arb_mat([[arb(counts[h]) * arb(gram[a, true[h]]) * scale
                                    for h in range(g)] for a in range(self.k)])
        n, k = g * self.k, self.k
        # W ⊗ I_K, so that Γ'(b) = blockdiag(H_g) (W ⊗ I_K) is one product
        self.w_kron = fl.arb_mat([[self.w[r // k, c // k] if r % k == c % k else 0
                                   for c in range(n)] for r in range(n)])
        self.eye = fl.arb_mat([[int(r == c) for c in range(n)] for r in range(n)])
        self.w_float = np.array([[float(self.w[a, h].mid()) for h in range(g)]
                                 for a in range(g)])

    # -- vectors are flat lists of arb, index g·K + i ---------------------------

    def point(self, values, shift=False, exact=False):
        arb = self.arb
        vals = [arb(Fraction(v).numerator) / arb(Fraction(v).denominator) if exact
                else arb(v) for v in values]
        return [v - arb(1) / self.k for v in vals] if shift else vals

    def _rows(self, vec):
        k = self.k
        return self.fl.arb_mat([vec[h * k:(h + 1) * k] for h in range(self.g)])

    def deviation(self, b):
        """Γ(b): softmax of z = W b less 1/K, from centred logits through expm1."""
        k = self.k
        z = self.w * self._rows(b)
        out = []
        for a in range(self.g):
            row = [z[a, i] for i in range(k)]
            mean = sum(row) / k
            em = [(x - mean).expm1() for x in row]
            total = sum(em)
            den = k * (k + total)
            out.extend((k * e - total) / den for e in em)
        return out

    def jacobian(self, b):
        """Γ'(b) as an arb_mat: block (g, h) = W_gh H_g, H_g = diag p_g − p_g p_gᵀ."""
        k, n = self.k, self.g * self.k
        dev = self.deviation(b)
        u = self.arb(1) / k
        rows = [[0] * n for _ in range(n)]
        for a in range(self.g):
            p = [u + x for x in dev[a * k:(a + 1) * k]]
            for i in range(k):
                for j in range(k):
                    rows[a * k + i][a * k + j] = (p[i] if i == j else 0) - p[i] * p[j]
        return self.fl.arb_mat(rows) * self.w_kron

    def residual(self, delta, eps):
        b = [e - d for e, d in zip(eps, delta)]
        return [d - x for d, x in zip(delta, self.deviation(b))]

    # -- enclosure of one round ----------------------------------------------

    def enclose(self, eps, guess):
        """A box X (list of arb) holding the round's unique fixed point for every ε in eps.

        Krawczyk: with C ≈ J⁻¹ at the midpoint, K(X) = δ̃ − C f(δ̃, ε̃)
        + C A (ε − ε̃) + (I − C(I + A))(X − δ̃), A = Γ'(ε − X) over both
        boxes; K(X) ⊂ int X proves existence and uniqueness in X. None when
        the test fails (the round stays undecided at this precision).
        """
        arb, fl = self.arb, self.fl
        mid_eps = [arb(e.mid()) for e in eps]
        delta = self._newton(mid_eps, guess)
        if delta is None:
            return None
        n = len(delta)
        f0 = self.residual(delta, mid_eps)
        precond = self._preconditioner(delta)
        width = [arb(e.rad()) for e in eps]
        spread = fl.arb_mat(n, 1, [e - m for e, m in zip(eps, mid_eps)])
        c_f0 = precond * fl.arb_mat(n, 1, f0)
        tiny = arb(2) ** (-fl.ctx.prec) * (max((abs(d).upper() for d in delta),
                                               default=arb(0)) + arb(2) ** -1000)
        rad = [2 * abs(c_f0[i, 0]).upper() + 4 * width[i] + tiny for i in range(n)]
        for _ in range(8):
            box = [d + arb(0, r) for d, r in zip(delta, rad)]
            jac = self.jacobian([e - x for e, x in zip(eps, box)])
            shifted = fl.arb_mat(n, 1, [x - d for x, d in zip(box, delta)])
            inner = precond * jac
            image = inner * spread - c_f0 + (self.eye - precond - inner) * shifted
            new = [delta[i] + image[i, 0] for i in range(n)]
            if all(box[i].contains_interior(new[i]) for i in range(n)):
                return new
            rad = [2 * max(abs(new[i] - delta[i]).upper(), r) for i, r in enumerate(rad)]
        return None

    def _preconditioner(self, delta):
        """C ≈ (I + Γ')⁻¹ at the midpoint, in float64 (only a preconditioner)."""
        k, g = self.k, self.g
        p = 1.0 / k + np.array([float(d.mid()) for d in delta]).reshape(g, k)
        hess = np.eye(k)[None] * p[:, :, None] - p[:, :, None] * p[:, None, :]
        jac = np.einsum("gij,gh->gihj", hess, self.w_float).reshape(g * k, g * k)
        inv = np.linalg.inv(np.eye(g * k) + jac)
        return self.fl.arb_mat(inv.tolist())

    def _newton(self, eps, guess, max_iter=200):
        """Midpoint solution δ̃ (points) of δ = Γ(ε − δ), by a chord iteration."""
        arb, fl = self.arb, self.fl
        n = len(eps)
        delta = ([arb(0)] * n if guess is None else [arb(float(x)) for x in guess])
        precond = self._preconditioner(delta)
        goal = fl.ctx.prec - 8
        last = None
        for it in range(max_iter):
            r = self.residual(delta, eps)
            step = precond * fl.arb_mat(n, 1, r)
            delta = [arb((d - step[i, 0]).mid()) for i, d in enumerate(delta)]
            size = max(abs(float(step[i, 0].mid())) for i in range(n))
            scale = max(abs(float(d.mid())) for d in delta)
            if size == 0 or (scale > 0 and size <= scale * 2.0 ** -goal):
                return delta
            if last is not None and size > 0.5 * last:
                precond = self._preconditioner(delta)
            last = size
        return None

    # -- verdicts ---------------------------------------------------------------

    def margins(self, box, ties):
        """Verdict per group from p_g[a] − p_g[k] (k ≠ a) on the box."""
        k = self.k
        out = np.zeros(self.g, np.int8)
        for a in range(self.g):
            true = self.true[a]
            vals = box[a * k:(a + 1) * k]
            tied = [ties is not None and ties.same(a, true, j) for j in range(k)]
            out[a] = _verdict([vals[true] - vals[j] for j in range(k) if j != true],
                              [tied[j] for j in range(k) if j != true])
        return out

    def fresh_margins(self, eps, box, ties):
        """Verdict per class from the fresh logits' margins, b = ε − δ over the boxes."""
        k = self.k
        z = self.w_fresh * self._rows([e - x for e, x in zip(eps, box)])
        out = np.zeros(k, np.int8)
        for a in range(k):
            diffs = [z[a, a] - z[a, j] for j in range(k) if j != a]
            flags = [ties is not None and bool(ties.fresh[a, j]) for j in range(k) if j != a]
            out[a] = _verdict(diffs, flags)
        return out


def _verdict(diffs, tied):
    """RIGHT if every margin is certainly > 0; WRONG if one is certainly < 0;
    TIE if the rest are certainly > 0 and at least one is an exact tie; else OPEN."""
    if any(d < 0 for d in diffs):
        return WRONG
    sure = [d > 0 for d in diffs]
    if all(sure):
        return RIGHT
    if all(s or t for s, t in zip(sure, tied)):
        return TIE
    return OPEN


# ---------------------------------------------------------------------------
# the PLL student's targets from the teacher's enclosure
# ---------------------------------------------------------------------------

def _onehot_targets(problem):
    k = problem.k
    return [[Fraction(int(i == j)) for i in range(k)] for j in problem.groups[1]]


def _pll_targets(arith, teacher, topk, ties, orbits):
    """Exact top-k targets (G lists of K Fractions), or None if a set is not certified.

    Per group: A the labels certainly above the k-th (by midpoint), U those
    whose enclosure overlaps it; U must be one exactly tied class
    (:func:`tie_orbits`) with |A| < k ≤ |A| + |U|, and the tie rule then
    fixes the targets as :func:`labelavg.distill.pll_targets` does.
    """
    k = arith.k
    out = []
    for a in range(arith.g):
        vals = teacher[a * k:(a + 1) * k]
        order = sorted(range(k), key=lambda i: -float(vals[i].mid()))
        kth = vals[order[topk - 1]]
        above = [i for i in range(k) if vals[i] > kth]
        tied = [i for i in range(k) if not vals[i] > kth and not vals[i] < kth]
        proven = len(tied) == 1 or (orbits is not None
                                    and all(orbits.same(a, tied[0], i) for i in tied))
        if not proven or not len(above) < topk <= len(above) + len(tied):
            return None
        if any(not vals[i] > vals[j] for i in above for j in tied):
            return None
        out.append(_rule(k, topk, ties, above, tied))
    return out


def _rule(k, topk, ties, above, tied):
    row = [Fraction(0)] * k
    if ties == "all":
        for i in above + tied:
            row[i] = Fraction(1, len(above) + len(tied))
        return row
    for i in above:
        row[i] = Fraction(1, topk)
    free = topk - len(above)
    if ties == "split":
        for i in tied:
            row[i] = Fraction(free, topk * len(tied))
        return row
    for i in sorted(tied)[:free]:
        row[i] = Fraction(1, topk)
    return row


# ---------------------------------------------------------------------------
# exact ties: a fixed space the round's map preserves, in rationals
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Ties:
    """Orbits (G, K) of coordinates (group, label) on which every round's
    outputs are provably constant, and ``fresh`` (K, K): fresh logit ties."""

    orbit: np.ndarray
    fresh: np.ndarray

    def same(self, group, i, j):
        return bool(self.orbit[group, i] == self.orbit[group, j])


def tie_orbits(problem, targets):
    """Exact ties of the fixed point with the given exact targets (G × K).

    A candidate is a permutation P of the coordinates (group a, label i) ↦
    (π(a), σ_a(i)): a relabelling τ of classes and labels together (a
    transposition, cyclic shift or reflection, Φ invariant under it), a
    transposition of two labels within one class's groups, or two groups of
    one class trading places. Counts need not match: the test below is exact
    on S, where it is what matters. P is kept when the targets are
    P-invariant and, exactly in rationals, (P − I) M b is constant within each
    group for every b in S, the space of vectors constant on the orbits of all
    kept candidates (M b: the logits, W up to the factor 1/(Nλ)). Then the
    round's map F(b) = q − softmax(M b) maps S into S; F maps the compact
    convex set S ∩ (q − simplex) into itself (it contains F(0)), so Brouwer
    gives a fixed point in S, and since the fixed point is unique it lies in
    S: outputs are equal on each orbit. Targets of later rounds are earlier
    outputs, hence invariant too. Returns None when no candidate survives.
    """
    k = problem.k
    true, given = problem.groups
    g = len(true)
    q = [[Fraction(x) for x in row] for row in targets]
    counts = [Fraction(float(x)) for x in problem.counts[problem.counts > 0]]
    gram = [[Fraction(float(x)) for x in row] for row in problem.class_gram]
    self_term = 0 if problem.c is None else 1 - Fraction(float(problem.c))
    w = [[counts[h] * gram[true[a]][true[h]] + (self_term if a == h else 0)
          for h in range(g)] for a in range(g)]
    w_fresh = [[counts[h] * gram[a][true[h]] for h in range(g)] for a in range(k)]
    cands = [c for c in _candidates(k, true, given, gram)
             if all(q[c[0][a]][c[1][a][i]] == q[a][i] for a in range(g) for i in range(k))]
    w_int, w_fresh_int = _integers(w), _integers(w_fresh)
    while cands:
        orbit = _orbits(cands, g, k)
        z = _logit_basis(w_int, orbit)
        kept = [c for c in cands if _preserves(c, z)]
        if len(kept) == len(cands):
            fresh = _logit_basis(w_fresh_int, orbit)
            same = np.array([[all(fresh[a, a] == fresh[a, j]) for j in range(k)]
                             for a in range(k)])
            return Ties(orbit, same)
        cands = kept
    return None


def _candidates(k, true, given, gram):
    index = {(int(a), int(j)): h for h, (a, j) in enumerate(zip(true, given))}
    g = len(true)
    out = []
    for tau in _relabelings(k):
        if any(gram[tau[x]][tau[y]] != gram[x][y] for x in range(k) for y in range(k)):
            continue
        pi = [index.get((tau[true[a]], tau[given[a]])) for a in range(g)]
        if None not in pi:
            out.append((pi, [tau] * g))
    ident = list(range(k))
    for a in range(g):
        for b in range(a + 1, g):
            if true[a] == true[b]:          # two groups of one class trade places
                pi = list(range(g))
                pi[a], pi[b] = b, a
                out.append((pi, [ident] * g))
    for cls in range(k):
        for i in range(k):
            for j in range(i + 1, k):
                swap = list(ident)
                swap[i], swap[j] = j, i
                out.append((list(range(g)), [swap if true[a] == cls else ident
                                             for a in range(g)]))
    return out


def _relabelings(k):
    """Transpositions, cyclic shifts and reflections of 0..K−1 (no identity)."""
    perms = set()
    for i in range(k):
        for j in range(i + 1, k):
            p = list(range(k))
            p[i], p[j] = j, i
            perms.add(tuple(p))
    for s in range(k):
        perms.add(tuple((i + s) % k for i in range(k)))
        perms.add(tuple((s - i) % k for i in range(k)))
    perms.discard(tuple(range(k)))
    return [list(p) for p in sorted(perms)]


def _integers(rows):
    """A matrix of Fractions as an object array of ints, up to one positive factor."""
    den = math.lcm(*(x.denominator for row in rows for x in row))
    return np.array([[int(x * den) for x in row] for row in rows], dtype=object)


def _orbits(cands, g, k):
    parent = list(range(g * k))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for pi, sigma in cands:
        for a in range(g):
            for i in range(k):
                ra, rb = find(a * k + i), find(pi[a] * k + sigma[a][i])
                parent[ra] = rb
    roots = [find(x) for x in range(g * k)]
    ids = {r: n for n, r in enumerate(dict.fromkeys(roots))}
    return np.array([ids[r] for r in roots]).reshape(g, k)


def _logit_basis(w, orbit):
    """(rows, K, orbits) object array: W applied to each orbit's indicator, label-wise."""
    g, k = orbit.shape
    m = int(orbit.max()) + 1
    basis = np.zeros((g, k, m), dtype=object)
    basis[np.arange(g)[:, None], np.arange(k)[None, :], orbit] = 1
    return np.dot(w, basis.reshape(g, k * m)).reshape(w.shape[0], k, m)


def _preserves(cand, z):
    """(P − I) z constant over labels within every group, for every basis column."""
    pi, sigma = cand
    g, k, _ = z.shape
    moved = np.empty_like(z)
    for a in range(g):
        moved[pi[a], sigma[a]] = z[a]
    diff = moved - z
    return bool(np.all(diff == diff[:, :1, :]))
