"""labelavg: self-distillation in linear probing as label averaging.

Exact and linearised solutions of multi-round self-distillation of a softmax
linear probe on fixed features (Jeong & Chung, ICLR 2025), the PLL student,
block-model theorem checks, phase diagrams and a NumPy/CuPy path for real
features. Notation follows theory/THEORY.md: K classes, n per class, N = Kn, λ ``lam``,
Φ ``gram``, t the fit number (t = 1 the teacher).
"""

from ._version import __version__
from .block import BlockModel
from .distill import Accuracy, DistillPath, distill, linear_path, pll_targets
from .fixed_point import FitResult, fit_probs
from .gram import Spectrum, block_gram, hierarchical_gram, spectrum
from .phase import PhaseDiagram, phase_diagram
from .probe import SelfDistillation, class_correlation, confusable_classes
from .simulate import SimulationResult, simulate
from .sweep import sweep
from .theorems import Verdict, full_accuracy, pll_condition

__all__ = [
    "Accuracy", "BlockModel", "DistillPath", "FitResult", "PhaseDiagram",
    "SelfDistillation", "SimulationResult", "Spectrum", "Verdict",
    "block_gram", "class_correlation", "confusable_classes", "distill", "fit_probs",
    "full_accuracy", "hierarchical_gram", "linear_path", "phase_diagram",
    "pll_condition", "pll_targets", "simulate", "spectrum", "sweep",
]

#: Submodules imported on first attribute access, so ``import labelavg`` stays light.
_LAZY_SUBMODULES = ("datasets", "plot")


def __getattr__(name):
    """``labelavg.datasets`` and ``labelavg.plot``, imported on first use."""
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))
