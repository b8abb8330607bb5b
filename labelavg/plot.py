"""Figures: one function per figure kind, each returning a matplotlib Figure.

Symbols: K classes, n per class, N = Kn, Φ the Gram matrix, μ its eigenvalues,
λ ``lam``, g(μ) = μ/(μ + KNλ), η ``eta``, t the number of fits (t = 1 is the
teacher), t* the linearised least round of Result 3 (theory/THEORY.md). Accuracies
are fractions in [0, 1] on input and drawn in percent.

Plotting only: every number is computed elsewhere (:mod:`labelavg.phase`,
:mod:`labelavg.distill`, ...). matplotlib is imported inside the functions, so
``import labelavg`` never loads it; figures are built on
:class:`matplotlib.figure.Figure` directly (no pyplot, no GUI backend, no
global state) and rendered by Agg in :func:`save`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

__all__ = ["accuracy_vs_eta", "correlation_heatmap", "demo_accuracy",
           "distillation_gain", "eigenvalue_filter", "gain_panels", "gram_heatmap",
           "least_round_map", "phase_map", "save", "simplex_projection",
           "softmax_trajectories"]

#: Axis labels of the parameters of :func:`labelavg.phase.phase_diagram`.
AXIS_LABELS = {"eta": "noise rate η", "rounds": "fits t (t = 1: teacher)",
               "lam": "ridge λ", "c": "within-class correlation c",
               "d": "across-class correlation d", "n_classes": "classes K",
               "n_per_class": "instances per class n"}

#: Names of the ``values`` of a PhaseDiagram, for colour-bar labels.
QUANTITY_LABELS = {"label_correction": "label-correction accuracy (%)",
                   "fresh": "fresh-instance accuracy (%)",
                   "pll_label_correction": "PLL label-correction accuracy (%)",
                   "pll_fresh": "PLL fresh-instance accuracy (%)",
                   "teacher_label_correction": "teacher label-correction accuracy (%)"}


def _figure(ax=None, size=(5.0, 3.8), ncols=1):
    """(figure, axes): a new Figure (no pyplot) or the figure of ``ax``."""
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] * ncols, size[1]), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=True)
    return fig, axes


def save(fig, stem):
    """Write ``stem.png`` (150 dpi) and ``stem.pdf``, close the figure.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    stem : str or Path
        Output path without suffix; missing parent folders are created.

    Returns
    -------
    str
        The PNG path.

    Notes
    -----
    Each file is written under a temporary name and renamed into place
    (:func:`labelavg._io.atomic_write`): an interrupted save keeps the old one.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from ._io import atomic_write

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    png = stem.with_name(stem.name + ".png")
    atomic_write(png, lambda tmp: fig.savefig(tmp, dpi=150))
    atomic_write(stem.with_name(stem.name + ".pdf"), fig.savefig)
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(fig)
    return str(png)


# ---------------------------------------------------------------------------
# matrices
# ---------------------------------------------------------------------------

def gram_heatmap(gram, *, labels=None, title=None, ax=None):
    """Heat map of a Gram matrix Φ (N, N), class boundaries marked.

    Parameters
    ----------
    gram : array (N, N)
    labels : int array (N,), optional
        Class of each instance, sorted; draws lines between classes.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _figure(ax, size=(4.8, 4.2))
    gram = np.asarray(gram, dtype=float)
    image = ax.imshow(gram, cmap="viridis", interpolation="nearest")
    fig.colorbar(image, ax=ax, label="Φ_ij = ⟨φ(x_i), φ(x_j)⟩", shrink=0.85)
    if labels is not None:
        for edge in np.flatnonzero(np.diff(np.asarray(labels))) + 0.5:
            ax.axhline(edge, color="white", lw=0.6)
            ax.axvline(edge, color="white", lw=0.6)
    ax.set_xlabel("instance j (sorted by class)")
    ax.set_ylabel("instance i (sorted by class)")
    ax.set_title(title or "Gram matrix Φ")
    return fig


def correlation_heatmap(matrix, *, tick_labels=None, title=None, ax=None):
    """Heat map of a square correlation matrix (e.g. class-mean cosines).

    Parameters
    ----------
    matrix : array (M, M)
        Values in [−1, 1]; drawn with a diverging map centred at 0 whose range
        is ±max|value| (fit to the data), and written into the cells when M ≤ 12.
    tick_labels : sequence of str, optional
        One per row / column.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    matrix = np.asarray(matrix, dtype=float)
    size = matrix.shape[0]
    fig, ax = _figure(ax, size=(max(4.0, 0.45 * size + 2), max(3.4, 0.45 * size + 1.4)))
    # Symmetric about 0 and fit to the data: class correlations of real features
    # are often ~0.1, which a ±1 scale would leave almost white.
    limit = float(np.max(np.abs(matrix))) or 1.0
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit,
                      interpolation="nearest")
    fig.colorbar(image, ax=ax, label="correlation", shrink=0.85)
    ticks = np.arange(size)
    labels = list(tick_labels) if tick_labels is not None else [str(i) for i in ticks]
    ax.set_xticks(ticks, labels, rotation=90 if size > 6 else 0)
    ax.set_yticks(ticks, labels)
    if size <= 12:
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if abs(value) > 0.6 * limit else "black")
    ax.set_title(title or "correlation matrix")
    return fig


# ---------------------------------------------------------------------------
# label averaging
# ---------------------------------------------------------------------------

def eigenvalue_filter(evals, *, lam, n_classes, rounds=(1, 2, 4, 8), top=None,
                      title=None, ax=None):
    """Eigenvalues g(μ)ᵗ of Gᵗ = (Φ(Φ + KNλI)⁻¹)ᵗ, largest first, for several t.

    Parameters
    ----------
    evals : array (N,)
        Eigenvalues μ of Φ (any order).
    lam : float
        λ.
    n_classes : int
        K; the first K eigenvalues are highlighted.
    rounds : sequence of int
        The t drawn, one curve each.
    top : int, optional
        How many eigenvalues to show (default 5K).
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Result 1: each fit multiplies the weight on eigenvector v_m by g(μ_m), so
    after t fits only the top eigenvectors (the K class directions of a
    class-structured Φ) keep weight.
    """
    mu = np.sort(np.asarray(evals, dtype=float))[::-1]
    top = min(mu.size, top or 5 * n_classes)
    g = mu / (mu + n_classes * mu.size * lam)
    fig, ax = _figure(ax)
    index = np.arange(1, top + 1)
    colors = _colors(len(rounds))
    for t, color in zip(rounds, colors):
        ax.plot(index, g[:top] ** t, "o-", ms=3, color=color, label=f"t = {t}")
    ax.axvspan(0.5, n_classes + 0.5, color="0.9", zorder=0,
               label=f"top K = {n_classes}")
    ax.set_xlim(0.5, top + 0.5)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("eigenvalue index m (μ_m descending)")
    ax.set_ylabel("g(μ_m)ᵗ, eigenvalue of Gᵗ")
    ax.set_title(title or f"label-averaging filter, λ = {lam:g}")
    ax.legend(fontsize=8)
    return fig


def _colors(count, cmap="viridis"):
    """``count`` colours: evenly spread on a sequential map, in order on tab10."""
    from matplotlib import colormaps

    if cmap == "tab10":
        return colormaps[cmap](np.arange(count) % 10)
    return colormaps[cmap](np.linspace(0.0, 0.85, max(count, 1)))


def _polygon(n_classes):
    """Corners (K, 2) of a regular K-gon (a square for K = 4), first at the top."""
    angles = np.pi / 2 + 2 * np.pi * np.arange(n_classes) / n_classes
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def simplex_projection(probs, true_labels, *, title=None):
    """Softmax outputs projected to 2-D, one panel per fit, coloured by true class.

    Parameters
    ----------
    probs : dict of str → array (K, N)
        Panel title → outputs (columns are probability vectors), e.g.
        ``{"teacher (t = 1)": Y1, "t = 4": Y4}``.
    true_labels : int array (N,)
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    A probability vector p maps to Σ_k p_k v_k with v_k the corners of a
    regular K-gon: one-hot outputs sit on the corners, the uniform output at
    the centre. The map is linear, so class clusters stay clusters.
    """
    true = np.asarray(true_labels)
    first = np.asarray(next(iter(probs.values())))
    corners = _polygon(first.shape[0])
    fig, axes = _figure(size=(3.3, 3.5), ncols=len(probs))
    axes = np.atleast_1d(axes)
    colors = _colors(first.shape[0], "tab10")
    for ax, (name, p) in zip(axes, probs.items()):
        xy = np.asarray(p, dtype=float).T @ corners
        ring = np.vstack([corners, corners[:1]])
        ax.plot(ring[:, 0], ring[:, 1], color="0.6", lw=0.8)
        for k, color in enumerate(colors):
            ax.scatter(*xy[true == k].T, s=6, color=color, alpha=0.6, label=f"class {k}")
            ax.annotate(f"e{k}", corners[k] * 1.12, ha="center", va="center", fontsize=8)
        ax.set_title(name)
        ax.set_aspect("equal")
        ax.set_xlim(-1.3, 1.3)
        ax.set_ylim(-1.3, 1.3)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[-1].legend(fontsize=7, loc="lower right", markerscale=2)
    if title:
        fig.suptitle(title)
    return fig


def accuracy_vs_eta(eta, curves, *, edges=None, ylabel="label-correction accuracy (%)",
                    title=None, ax=None):
    """Accuracy against the noise rate η, one curve per model, theory edges marked.

    Parameters
    ----------
    eta : array (M,)
    curves : dict of str → array (M,)
        Model name → accuracy in [0, 1] at each η.
    edges : dict of str → float, optional
        Model name → the η below which theory predicts 100% (drawn as a
        dotted vertical line in the curve's colour).
    ylabel, title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _figure(ax, size=(5.6, 4.0))
    colors = dict(zip(curves, _colors(len(curves), "tab10")))
    for name, acc in curves.items():
        ax.plot(eta, 100 * np.asarray(acc), "-", lw=1.6, color=colors[name], label=name)
    for name, edge in (edges or {}).items():
        if np.isfinite(edge):
            ax.axvline(edge, ls=":", lw=1.2, color=colors.get(name, "0.3"))
    ax.set_xlabel(AXIS_LABELS["eta"])
    ax.set_ylabel(ylabel)
    ax.set_ylim(min(ax.get_ylim()[0], 40), 101)
    ax.legend(fontsize=8, title="dotted: linearised edge" if edges else None,
              title_fontsize=8)
    ax.set_title(title or "accuracy vs noise rate")
    return fig


def softmax_trajectories(rounds, stats, *, title=None, ax=None):
    """Mean ± std of softmax values across fits, one band per kind of value.

    Parameters
    ----------
    rounds : array (R,)
        Fit numbers t.
    stats : dict of str → (array (R,), array (R,))
        Name → (mean, std) of the softmax value at each t, e.g. the true label
        of clean instances, the given label of noisy ones, the other labels.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _figure(ax, size=(5.6, 4.0))
    for (name, (mean, std)), color in zip(stats.items(), _colors(len(stats), "tab10")):
        mean, std = np.asarray(mean), np.asarray(std)
        ax.plot(rounds, mean, "o-", ms=3, color=color, label=name)
        ax.fill_between(rounds, mean - std, mean + std, color=color, alpha=0.2)
    ax.set_xlabel(AXIS_LABELS["rounds"])
    ax.set_ylabel("softmax output")
    ax.set_xticks(np.asarray(rounds))
    ax.legend(fontsize=8)
    ax.set_title(title or "softmax outputs across fits (mean ± std)")
    return fig


def distillation_gain(gains, *, group_labels, model_labels, errors=None, title=None,
                      ax=None):
    """Grouped bars: accuracy gain of each model over the teacher, per group.

    Parameters
    ----------
    gains : array (n_groups, n_models)
        Gain in **percentage points** (student − teacher accuracy × 100) of
        model j in group i.
    group_labels : sequence of str (n_groups,)
        x tick labels (e.g. noise rates, data sets).
    model_labels : sequence of str (n_models,)
        Legend entries (e.g. ``"t = 2"``, ``"PLL"``).
    errors : array (n_groups, n_models), optional
        Error-bar half-lengths in percentage points.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    gains = np.asarray(gains, dtype=float).reshape(len(group_labels), len(model_labels))
    width_in = max(5.0, 0.35 * gains.size + 2) + 1.6        # + the legend column
    fig, ax = _figure(ax, size=(width_in, 4.0))
    width = 0.8 / len(model_labels)
    x = np.arange(len(group_labels))
    colors = _colors(len(model_labels), "tab10")
    for j, (name, color) in enumerate(zip(model_labels, colors)):
        err = None if errors is None else np.asarray(errors, dtype=float)[:, j]
        ax.bar(x + (j - (len(model_labels) - 1) / 2) * width, gains[:, j], width,
               yerr=err, capsize=2, color=color, label=name)
    ax.axhline(0, color="black", lw=0.8)
    ax.margins(y=0.08)                       # head room above the tallest error bar
    ax.set_xticks(x, list(group_labels))
    ax.set_ylabel("gain over teacher (percentage points)")
    # Beside the axes, not over the bars; constrained layout makes room for it.
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    _wrapped_title(ax, title or "distillation gain")
    return fig


def _wrapped_title(ax, title, fontsize=10):
    """Title broken into lines that fit the figure's width (no clipped title)."""
    import textwrap

    # ~0.6 em per character of the default sans-serif font.
    chars = max(20, int(ax.figure.get_figwidth() * 72 / (0.6 * fontsize)) - 4)
    lines = [textwrap.fill(line, chars) for line in title.splitlines()]
    ax.set_title("\n".join(lines), fontsize=fontsize)


# ---------------------------------------------------------------------------
# phase diagrams
# ---------------------------------------------------------------------------

def _is_log(values):
    values = np.asarray(values, dtype=float)
    if values.size < 3 or np.any(values <= 0):
        return False
    ratios = values[1:] / values[:-1]
    return values.max() / values.min() > 20 and np.allclose(ratios, ratios[0], rtol=1e-6)


def _edges(values, log):
    """Cell edges around grid values (geometric midpoints on a log axis)."""
    v = np.log(values) if log else np.asarray(values, dtype=float)
    if v.size == 1:
        mid = np.array([v[0] - 0.5, v[0] + 0.5])
    else:
        inner = (v[1:] + v[:-1]) / 2
        mid = np.concatenate([[2 * v[0] - inner[0]], inner, [2 * v[-1] - inner[-1]]])
    return np.exp(mid) if log else mid


def _grid_axes(ax, diagram):
    """Set labels / scales; return (x values, y values, x log, y log)."""
    (x_name, y_name), (xs, ys) = diagram.axes, diagram.axis_values
    x_log, y_log = _is_log(xs), _is_log(ys)
    ax.set_xscale("log" if x_log else "linear")
    ax.set_yscale("log" if y_log else "linear")
    ax.set_xlabel(AXIS_LABELS.get(x_name, x_name))
    ax.set_ylabel(AXIS_LABELS.get(y_name, y_name))
    for axis, name, log in ((ax.xaxis, x_name, x_log), (ax.yaxis, y_name, y_log)):
        if name in ("rounds", "n_classes") and not log:
            axis.get_major_locator().set_params(integer=True)
    return xs, ys, x_log, y_log


def _fixed_text(diagram):
    """The fixed parameters in symbols, e.g. ``K=4, n=100, c=0.4, d=0.1, λ=0.001``."""
    symbols = {"n_classes": "K", "n_per_class": "n", "c": "c", "d": "d", "lam": "λ",
               "eta": "η"}
    parts = [f"{sym}={diagram.params[k]:g}" for k, sym in symbols.items()
             if k in diagram.params]
    return ", ".join(parts + [f"{diagram.params['noise']} noise"])


def phase_map(diagram, quantity="label_correction", *, boundaries=True, title=None,
              ax=None):
    """Colour map of one PhaseDiagram value, 100%-accuracy boundaries overlaid.

    Parameters
    ----------
    diagram : labelavg.phase.PhaseDiagram
        x is ``diagram.axes[0]``, y is ``diagram.axes[1]``.
    quantity : str
        A key of ``diagram.values`` (accuracies, drawn in percent).
    boundaries : bool
        Overlay the linearised t* boundary (Result 3) and the least round of
        the solved method: with t on an axis as step lines t = t*(x); otherwise
        as the contours of the regions t* ≤ t and least round ≤ t.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _figure(ax, size=(6.0, 4.4))
    xs, ys, x_log, y_log = _grid_axes(ax, diagram)
    data = 100 * np.asarray(diagram.values[quantity], dtype=float).T
    mesh = ax.pcolormesh(_edges(xs, x_log), _edges(ys, y_log), data, cmap="magma",
                         vmin=min(np.nanmin(data), 50), vmax=100, shading="flat")
    fig.colorbar(mesh, ax=ax, label=QUANTITY_LABELS.get(quantity, quantity))
    if boundaries:
        _overlay_boundaries(ax, diagram)
    ax.set_title(title or f"{diagram.method} fits; {_fixed_text(diagram)}", fontsize=9)
    return fig


_BOUNDARY_STYLE = {"t_star": dict(color="#35b779", ls="--", lw=2.0),
                   "least_round": dict(color="#31c8ff", ls="-", lw=1.6)}


def _boundary_label(diagram, key):
    if key == "t_star":
        return "linearised t* (Result 3)"
    return f"{diagram.method} least round"


def _overlay_boundaries(ax, diagram):
    (x_name, y_name), (xs, ys) = diagram.axes, diagram.axis_values
    for key, style in _BOUNDARY_STYLE.items():
        bound = np.asarray(diagram.boundary[key], dtype=float)
        label = _boundary_label(diagram, key)
        if y_name == "rounds":
            ax.step(xs, bound[:, 0] - 0.5, where="mid", label=label, **style)
        elif x_name == "rounds":
            ax.step(bound[0, :] - 0.5, ys, where="mid", label=label, **style)
        else:
            region = (bound <= diagram.params["max_rounds"]).astype(float)
            ax.contour(xs, ys, region.T, levels=[0.5], colors=style["color"],
                       linestyles=style["ls"], linewidths=style["lw"])
            ax.plot([], [], label=f"{label} ≤ {diagram.params['max_rounds']}", **style)
    ax.set_xlim(*_edges(xs, _is_log(xs))[[0, -1]])
    ax.set_ylim(*_edges(ys, _is_log(ys))[[0, -1]])
    ax.legend(fontsize=8, loc="upper left", framealpha=0.85)


def least_round_map(diagram, *, title=None):
    """Three panels: linearised t*, the solved method's least round, their gap.

    Parameters
    ----------
    diagram : labelavg.phase.PhaseDiagram
        Without t as an axis; x is ``axes[0]``, y is ``axes[1]``.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Grey cells: not reached within ``params["max_rounds"]`` fits (or,
        for t*, infeasible: Δ ≤ 0). Every panel holds integers and has a
        discrete colour bar, one colour per integer.
    """
    if "rounds" in diagram.axes:
        raise ValueError("least_round_map needs a diagram without a rounds axis, got "
                         f"axes {diagram.axes}")
    fig, axes = _figure(size=(4.2, 3.8), ncols=3)
    lin, solved = (np.asarray(diagram.boundary[k], dtype=float)
                   for k in ("t_star", "least_round"))
    top = diagram.params["max_rounds"]
    # t* beyond the searched rounds is "not reached", grey like the other panels
    lin = np.where(lin <= top, lin, np.nan)
    gap = solved - lin
    span = int(max(1, np.nanmax(np.abs(gap)))) if np.isfinite(gap).any() else 1
    panels = [(lin, "linearised t* (Result 3)", "viridis", (1, top), "fits t"),
              (solved, f"{diagram.method} least round", "viridis", (1, top), "fits t"),
              (gap, f"{diagram.method} least round − t*", "RdBu_r", (-span, span),
               "difference (fits)")]
    for ax, panel in zip(axes, panels):
        _least_panel(fig, ax, diagram, *panel)
    fig.suptitle(title or f"least number of fits for 100% label correction "
                 f"(searched up to {top}; grey: not reached); {_fixed_text(diagram)}",
                 fontsize=10)
    return fig


def _least_panel(fig, ax, diagram, data, name, cmap, limits, label):
    """One integer-valued panel: a colour per integer in ``limits``, NaN grey."""
    from matplotlib import colormaps
    from matplotlib.colors import BoundaryNorm
    from matplotlib.ticker import MaxNLocator

    xs, ys, x_log, y_log = _grid_axes(ax, diagram)
    low, high = limits
    cmap = colormaps[cmap].resampled(high - low + 1).with_extremes(bad="0.75")
    norm = BoundaryNorm(np.arange(low - 0.5, high + 1.5), cmap.N)
    mesh = ax.pcolormesh(_edges(xs, x_log), _edges(ys, y_log),
                         np.ma.masked_invalid(data.T), cmap=cmap, norm=norm, shading="flat")
    bar = fig.colorbar(mesh, ax=ax, label=label, shrink=0.9)
    bar.locator = MaxNLocator(nbins=min(high - low + 1, 8), integer=True)
    bar.update_ticks()
    ax.set_title(name, fontsize=9)


# ---------------------------------------------------------------------------
# the demo
# ---------------------------------------------------------------------------

def demo_accuracy(paths, *, title=None):
    """Label-correction accuracy per fit, exact vs linearised, PLL student marked.

    Parameters
    ----------
    paths : dict
        ``{"exact": DistillPath, "linear": DistillPath}``, each with
        ``.accuracy`` (one :class:`labelavg.distill.Accuracy` per fit) and
        ``.pll_accuracy``.
    title : str, optional
        Figure title, e.g. the model, η and λ (``labelavg demo`` names them).

    Returns
    -------
    matplotlib.figure.Figure
        Three panels (all / clean / noisy instances); solid lines exact,
        dashed linearised, stars the PLL student drawn after the last fit.
        The two methods are drawn side by side (±0.12 of a fit), so both
        stay visible where their accuracies coincide.
    """
    fig, axes = _figure(size=(3.6, 3.6), ncols=3)
    styles = {"exact": dict(ls="-", marker="o", ms=5, lw=1.8),
              "linear": dict(ls="--", marker="s", ms=4, lw=1.4)}
    for ax, part in zip(axes, ("all", "clean", "noisy")):
        for k, ((name, path), color) in enumerate(zip(paths.items(), _colors(2, "tab10"))):
            acc = [100 * getattr(a, part) for a in path.accuracy]
            shift = 0.12 * (2 * k - 1)
            t = np.arange(1, len(acc) + 1) + shift
            ax.plot(t, acc, color=color, label=name, **styles.get(name, {}))
            ax.plot(len(acc) + 1 + shift, 100 * getattr(path.pll_accuracy, part), "*",
                    ms=12, color=color, label=f"{name} PLL")
        ticks = list(range(1, len(acc) + 1))
        ax.set_xticks(ticks + [len(acc) + 1], [str(k) for k in ticks] + ["PLL"])
        ax.set_xlabel(AXIS_LABELS["rounds"])
        ax.set_ylim(-2, 102)
        ax.set_title(f"{part} instances")
    axes[0].set_ylabel("label-correction accuracy (%)")
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


# ---------------------------------------------------------------------------
# reproduction on real features (labelavg reproduce)
# ---------------------------------------------------------------------------

def gain_panels(gains, errors=None, *, panel_labels, group_labels, model_labels, title=None):
    """One :func:`distillation_gain` panel per noise model, sharing the y axis (paper Fig. 4).

    Parameters
    ----------
    gains : array (n_panels, n_groups, n_models)
        Gain in percentage points over the teacher (e.g. panels = noise models,
        groups = η, models = t = 2..5 and PLL).
    errors : array like ``gains``, optional
        Error-bar half-lengths in percentage points.
    panel_labels : sequence of str (n_panels,)
    group_labels : sequence of str (n_groups,)
    model_labels : sequence of str (n_models,)
    title : str, optional
        Figure title above the panels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    gains = np.asarray(gains, dtype=float)
    fig = Figure(figsize=(4.2 * len(panel_labels), 4.2), layout="constrained")
    axes = fig.subplots(1, len(panel_labels), sharey=True, squeeze=False)[0]
    for i, (ax, label) in enumerate(zip(axes, panel_labels)):
        distillation_gain(gains[i], group_labels=group_labels, model_labels=model_labels,
                          errors=None if errors is None else np.asarray(errors)[i],
                          title=f"{label} noise", ax=ax)
        if i:
            ax.set_ylabel("")
        if i < len(panel_labels) - 1:   # one legend, right of the last panel
            ax.get_legend().remove()
    if title:
        fig.suptitle(title)
    return fig
