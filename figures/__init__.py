"""``python -m figures``: the package's figure scripts (:mod:`labelavg.figures`) into figures/out.

The scripts live in ``labelavg/figures/`` so that an installed package has them
(``labelavg figures``); this folder keeps the source checkout's entry point and
its default output folder, ``figures/out``.
"""

from pathlib import Path

from labelavg.figures import SCRIPTS, heldout_accuracy, select
from labelavg.figures import build_all as _build_all

__all__ = ["OUT_DIR", "SCRIPTS", "build_all", "heldout_accuracy", "select"]

#: Default output folder, ``figures/out``.
OUT_DIR = Path(__file__).resolve().parent / "out"


def build_all(out_dir=OUT_DIR, quick=False, report=None, only=None):
    """:func:`labelavg.figures.build_all` with ``figures/out`` as the default folder."""
    return _build_all(out_dir, quick=quick, report=report, only=only)
