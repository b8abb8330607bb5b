"""Phase diagrams: accuracy of self-distillation over a grid of two parameters.

Symbols: K ``n_classes``, n ``n_per_class``, N = Kn, c / d the block
correlations, λ ``lam``, η ``eta`` (corruption rate), t the number of fits
(t = 1 is the teacher, t ≥ 2 students; ``rounds``), T ``transition`` with
**T[c, j] = P(given label j | true class c), rows = true class, rows sum to 1**,
t* the linearised least round of Result 3 (theory/THEORY.md).

Two of (η, t, λ, c, d, K, n) are swept, the others are fixed. Every grid point
is a block model (Result 2) solved by the reduced solver
(:meth:`labelavg.block.BlockModel.solve`), exactly or in the linearised closed
form, so a point costs about a millisecond per round whatever n is. When t is
an axis, each point of the other axis is solved once with the largest t and
every round is read off the same solution.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from . import _checks
from .block import _check_precision
from ._repr import short
from .sweep import GRID, _grid, solve_points

__all__ = ["AXES", "NOISES", "PhaseDiagram", "phase_diagram"]

#: Parameters that can be swept, in their default axis order.
AXES = ("eta", "rounds", "lam", "c", "d", "n_classes", "n_per_class")

#: Noise names accepted by :func:`phase_diagram` (see labelavg.noise.transition_matrix).
NOISES = ("symmetric", "asymmetric", "pair", "superclass")


@dataclass(frozen=True)
class PhaseDiagram:
    """Accuracies and 100%-accuracy boundaries on a two-parameter grid.

    Attributes
    ----------
    axes : tuple of str
        The two swept parameters, e.g. ``("eta", "rounds")``; ``values`` arrays
        are indexed ``[i, j]`` = (axes[0] value i, axes[1] value j).
    axis_values : tuple of ndarray
        The swept values of each axis, in the order given.
    values : dict of str → ndarray (len(axis 0), len(axis 1))
        ``label_correction`` (all instances), ``label_correction_clean``,
        ``label_correction_noisy``, ``fresh`` (fresh-instance accuracy) and
        ``all_right`` (bool: every group certainly right; a tie or a margin
        float64 cannot sign is not) at the
        round on the t axis (or at t = ``rounds`` when t is fixed);
        ``teacher_label_correction`` and ``teacher_fresh`` (t = 1);
        ``pll_label_correction``, ``pll_fresh`` and ``pll_all_right`` for the
        PLL student (NaN / False when ``pll_topk`` is None).
    boundary : dict of str → ndarray (len(axis 0), len(axis 1))
        ``t_star``: the linearised least round of Result 3
        (:func:`labelavg.theorems.full_accuracy`), NaN when infeasible;
        ``least_round``: the least t ≤ ``params["max_rounds"]`` at which the
        solved method (``method``) gets every group right, NaN if none (or if
        a round with undecided margins comes first). Accuracies are NaN where
        a margin is undecided in float64 (see :meth:`BlockModel.solve`).
        Both are constant along a t axis.
    method : str
        ``"exact"`` or ``"linear"``.
    params : dict
        The fixed parameters, ``noise``, ``counts``, ``pll_topk`` and
        ``max_rounds`` (the number of fits solved at each point).
    """

    axes: tuple
    axis_values: tuple
    values: dict
    boundary: dict
    method: str
    params: dict

    @property
    def shape(self):
        """(len(axis 0), len(axis 1))."""
        return tuple(len(v) for v in self.axis_values)

    def __repr__(self):
        """One line: axes with their ranges, the shape and a summary (no arrays)."""
        ranges = ", ".join(f"{name}={_span(v)}" for name, v in zip(self.axes, self.axis_values))
        right = self.values.get("all_right")
        summary = "" if right is None else f", all_right={int(np.sum(right))}/{right.size}"
        fixed = ", ".join(f"{k}={short(v)}" for k, v in self.params.items() if k != "method")
        return (f"PhaseDiagram({ranges}, shape={self.shape}, method={self.method!r}"
                f"{summary}, {fixed})")

    def rows(self):
        """One dict per grid point: both axis values, every value and boundary.

        Returns
        -------
        list of dict
            Row-major over the grid (axis 1 varies fastest), e.g. for a CSV file.
        """
        (a, b), (va, vb) = self.axes, self.axis_values
        columns = {**self.values, **self.boundary}
        return [{a: va[i].item(), b: vb[j].item(), **{k: v[i, j].item() for k, v in columns.items()}}
                for i, j in product(range(len(va)), range(len(vb)))]


def _span(values):
    values = np.asarray(values)
    if values.size <= 3:
        return "[" + ", ".join(short(v) for v in values) + "]"
    return f"[{short(values[0])} .. {short(values[-1])}] ({values.size})"


def phase_diagram(*, eta, rounds, lam, c, d, n_classes, n_per_class, noise="symmetric",
                  method="exact", counts="expected", pll_topk="auto", axes=None, n_jobs=1,
                  progress=None, superclass_size=None, precision=None):
    """Label-correction and fresh-instance accuracy over a grid of two parameters.

    Exactly two of ``eta, rounds, lam, c, d, n_classes, n_per_class`` are
    sequences (the axes); the others are scalars.

    Parameters
    ----------
    eta : float or sequence of float
        Corruption rate η of the noise model, 0 ≤ η ≤ 1.
    rounds : int or sequence of int
        Number of fits t ≥ 1 (t = 1 is the teacher). As an axis every t is read
        from one solution with max(rounds) fits.
    lam : float or sequence of float
        Ridge strength λ > 0.
    c, d : float or sequence of float
        Block correlations within / across classes, 0 ≤ d < c < 1.
    n_classes : int or sequence of int
        K ≥ 2.
    n_per_class : float or sequence of float
        n ≥ 1 (an integer with ``counts="exact"``).
    noise : {"symmetric", "asymmetric", "pair", "superclass"}
        Noise model giving T(K, η) (:mod:`labelavg.noise`); T[c, j] =
        P(given label j | true class c), rows = true class, rows sum to 1.
    method : {"exact", "linear"}
        Softmax fits (Newton on the reduced problem) or the linearised closed
        form of Result 1.
    counts : {"expected", "exact"}
        Group counts n·T (fractional, the population histogram of Result 3)
        or their largest-remainder integer rounding
        (:func:`labelavg.noise.exact_counts`).
    pll_topk : "auto", int or None
        k of the PLL student's top-k targets, 1 ≤ k ≤ K − 1; ``"auto"`` is
        min(2, K − 1) at each K; None skips it.
    axes : pair of str, optional
        Order of the two axes; default the order of :data:`AXES`.
    n_jobs : int
        Worker processes for the batches of points; results do not depend on
        it. Points are solved in stacks (:func:`labelavg.sweep.sweep`).
    progress : callable or bool, optional
        ``progress(done, total)`` (in points) after each solved batch; True
        shows a tqdm bar.
    superclass_size : int, optional
        m, dividing K: ``"superclass"`` noise flips labels within runs of m
        consecutive classes (the Gram stays the plain block model).
    precision : None, int or "auto"
        Certify the points float64 leaves undecided (exact method only), as
        :func:`labelavg.sweep.sweep` does; needs python-flint.

    Returns
    -------
    PhaseDiagram

    Raises
    ------
    ValueError
        If not exactly two parameters are sequences, on an empty or non-1-D
        sequence, on unknown names, or on invalid values at any point.

    Notes
    -----
    Result 3: with a uniform overall label histogram, the linearised model is
    100% right after t fits iff Δ > 0 and (φ/θ)ᵗ > 1 + 1/Δ, so
    t* = ⌊log(1 + 1/Δ) / log(φ/θ)⌋ + 1 (``boundary["t_star"]``). The exact
    softmax solution agrees with it for λ ≳ 1e-3 and can differ by many
    rounds for small λ (``theory/README.md``); ``boundary["least_round"]``
    measures it.

    Examples
    --------
    >>> pd = phase_diagram(eta=[0.1, 0.5], rounds=[1, 2, 3], lam=1e-3, c=0.4,
    ...                    d=0.1, n_classes=4, n_per_class=100)
    >>> pd.values["all_right"].tolist()
    [[True, True, True], [False, True, True]]
    >>> pd.boundary["t_star"][:, 0].tolist()
    [1.0, 2.0]
    """
    params = dict(eta=eta, rounds=rounds, lam=lam, c=c, d=d, n_classes=n_classes,
                  n_per_class=n_per_class)
    names = _axis_names(params, axes)
    _checks.choice("noise", noise, set(NOISES))
    _checks.choice("method", method, {"exact", "linear"})
    _checks.choice("counts", counts, {"expected", "exact"})
    n_jobs = _checks.integer_at_least("n_jobs", n_jobs, 1)
    grid = {name: _axis(name, params[name]) for name in names}
    fixed = {k: _whole(k, v) if k in ("rounds", "n_classes") else v
             for k, v in params.items() if k not in names}
    t_axis = "rounds" in names
    max_rounds = int(max(grid["rounds"])) if t_axis else fixed["rounds"]
    spatial = [n for n in names if n != "rounds"]
    _check_precision(precision, method)
    settings = dict(noise=noise, method=method, counts=counts, pll_topk=pll_topk,
                    superclass_size=superclass_size, rounds=max_rounds, precision=precision)
    points = [{**fixed, **dict(zip(spatial, combo)), **settings}
              for combo in product(*(grid[n] for n in spatial))]
    # every point is checked before any work (d < c everywhere, η in range, ...)
    _grid({name: list(dict.fromkeys(p[name] for p in points)) for name in GRID}, counts,
          superclass_size)
    results = _run(points, n_jobs, progress)
    values, boundary = _assemble(names, grid, results, max_rounds)
    fixed.pop("rounds", None)
    settings.pop("rounds")
    settings.pop("precision")
    return PhaseDiagram(axes=names, axis_values=tuple(np.asarray(grid[n]) for n in names),
                        values=values, boundary=boundary, method=method,
                        params={**fixed, **settings, "max_rounds": max_rounds})


# ---------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------

def _is_sequence(value):
    if isinstance(value, (str, bytes)):
        return False
    return isinstance(value, (list, tuple, range)) or (
        isinstance(value, np.ndarray) and value.ndim > 0)


def _axis_names(params, axes):
    swept = [name for name in AXES if _is_sequence(params[name])]
    if len(swept) != 2:
        raise ValueError(f"exactly two of {', '.join(AXES)} must be sequences (the "
                         f"axes), got {len(swept)}: {swept or 'none'}")
    if axes is None:
        return tuple(swept)
    axes = tuple(axes)
    if sorted(axes) != sorted(swept):
        raise ValueError(f"axes={axes!r} must name the two sequences given, "
                         f"{tuple(swept)!r}")
    return axes


def _axis(name, value):
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {arr.shape}")
    if arr.dtype.kind not in "iuf" or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold finite numbers, got {value!r}")
    if name in ("rounds", "n_classes"):
        return [_whole(name, v) for v in arr.tolist()]
    return arr.tolist()


def _whole(name, value):
    """An integer axis value (``rounds`` >= 1, ``n_classes`` >= 2); 3.0 counts as 3."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _checks.integer_at_least(name, value, 1 if name == "rounds" else 2)


# ---------------------------------------------------------------------------
# solving
# ---------------------------------------------------------------------------

def _run(points, n_jobs, progress):
    """Per-point result arrays (points on axis 0) from the batched solver of :mod:`labelavg.sweep`."""
    first = points[0]
    settings = {key: first[key] for key in ("rounds", "method", "pll_topk", "counts",
                                            "superclass_size", "precision")}
    settings["tol"] = 1e-10
    grid = [tuple(p[name] for name in GRID) for p in points]
    return solve_points(grid, settings, progress=progress, n_jobs=n_jobs)


def _assemble(names, grid, results, max_rounds):
    """Arrange per-point result arrays into (len(axis 0), len(axis 1)) arrays."""
    shape = tuple(len(grid[n]) for n in names)
    spatial = [n for n in names if n != "rounds"]
    # index of each grid cell's point and the round read at it (t - 1)
    index = dict(zip(names, np.indices(shape).reshape(2, -1)))
    point = np.ravel_multi_index([index[n] for n in spatial],
                                 [len(grid[n]) for n in spatial])
    rnd = (np.asarray(grid["rounds"])[index["rounds"]] - 1 if "rounds" in names
           else np.full(point.size, max_rounds - 1))
    acc, pll = results["accuracy"], results["pll"]

    def cells(arr):
        return np.asarray(arr).reshape(shape)

    values = {
        "label_correction": cells(acc[point, rnd, 0]),
        "label_correction_clean": cells(acc[point, rnd, 1]),
        "label_correction_noisy": cells(acc[point, rnd, 2]),
        "fresh": cells(results["fresh"][point, rnd]),
        "all_right": cells(results["all_right"][point, rnd]),
        "teacher_label_correction": cells(acc[point, 0, 0]),
        "teacher_fresh": cells(results["fresh"][point, 0]),
        "pll_label_correction": cells(pll[point, 0]),
        "pll_fresh": cells(pll[point, 1]),
        "pll_all_right": cells(results["pll_all_right"][point]),
    }
    boundary = {"t_star": cells(results["t_star"][point]),
                "least_round": cells(results["least_round"][point])}
    return values, boundary
