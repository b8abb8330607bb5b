"""Pins of BlockModel.solve behaviour (issue 20, helper h20k).

Expected values: theory/THEORY.md (Result 2 reduced solver, rounds), hand counts of
the group layout, and the documented memory rule (refuse before any work when the
estimate exceeds the limit).
"""

import re
import sys

import numpy as np
import pytest

from labelavg.block import BlockModel
from labelavg.noise import symmetric

BLOCK = sys.modules["labelavg.block"]


def _need_bytes_upper(message):
    """Upper end of the estimate printed (GiB, 3 significant digits) in a refusal."""
    gib = re.search(r"needs about (\S+) GiB", message).group(1)
    mantissa, _, exponent = gib.partition("e")
    digits = len(mantissa.replace(".", "").lstrip("0")) or 1
    decimals = len(mantissa.partition(".")[2])
    half_ulp = 0.5 * 10.0 ** (-decimals) * 10.0 ** int(exponent or 0)
    assert digits == 3
    return (float(gib) + half_ulp) * 2 ** 30


def test_linear_method_memory_estimate_adds_three_g_by_g_arrays(monkeypatch):
    """method="linear" builds the (G, G) right factor of Result 1 on the groups (the
    Gram map, the shifted system and the solved factor: three G × G float64 arrays,
    24 · G² bytes; G = K² = 16 groups for symmetric noise, 6144 B). With the same
    layout (ties="index": no orbit reduction) the exact solve's estimate lacks them:
    a limit just above the exact estimate plus half of 6144 B lets the exact solve
    run and refuses the linear one, naming n_classes."""
    model, transition = BlockModel(4, 10, 0.4, 0.1), symmetric(4, 0.3)
    kwargs = dict(lam=1e-2, rounds=2, ties="index")
    # 1000 B passes the first check (the dense K × K inputs, 4 · 8 · K² = 512 B) and
    # refuses the solver's own estimate, whose printed value bounds it from above
    monkeypatch.setattr(BLOCK, "_memory_limit", lambda: 1000)
    with pytest.raises(ValueError, match="n_classes=4 needs about") as info:
        model.solve(transition, method="exact", **kwargs)
    exact_need = _need_bytes_upper(str(info.value))
    limit = int(exact_need + 24 * 16 ** 2 / 2)
    monkeypatch.setattr(BLOCK, "_memory_limit", lambda: limit)
    sol = model.solve(transition, method="exact", **kwargs)
    assert sol.accuracy[0].all == pytest.approx(0.7, rel=1e-12)   # teacher: clean 1 − η
    with pytest.raises(ValueError, match=r"^BlockModel\.solve: n_classes=4 needs about "):
        model.solve(transition, method="linear", **kwargs)
