"""Short reprs of result objects: shapes and summary numbers instead of arrays.

A result holding (K, N) arrays would otherwise print every entry (20,000
characters for a DistillPath at N = 30); these reprs stay one line.
"""

from __future__ import annotations

import numbers

import numpy as np


def short(value):
    """One short token for ``value``: arrays by shape and dtype, floats to 4 digits."""
    if getattr(value, "ndim", 0):
        return f"array{tuple(value.shape)}[{value.dtype}]"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    return repr(value)


def accuracies(values):
    """``0.5, 0.75`` style list of accuracies (first two and last when long)."""
    text = [f"{float(v):.3f}" for v in values]
    return ", ".join(text if len(text) <= 4 else [*text[:2], "...", text[-1]])


def short_repr(obj, **fields):
    """``Name(field=short(value), ...)``: the one-line repr of a result dataclass."""
    body = ", ".join(f"{name}={short(value)}" for name, value in fields.items())
    return f"{type(obj).__name__}({body})"
