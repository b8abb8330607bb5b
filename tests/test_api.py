"""The public surface: exactly these names, and a light import."""

import subprocess
import sys

import pytest

import labelavg

PUBLIC = {
    "Accuracy", "BlockModel", "DistillPath", "FitResult", "PhaseDiagram",
    "SelfDistillation", "SimulationResult", "Spectrum", "Verdict",
    "block_gram", "class_correlation", "confusable_classes", "distill", "fit_probs",
    "full_accuracy", "hierarchical_gram", "linear_path", "phase_diagram",
    "pll_condition", "pll_targets", "simulate", "spectrum", "sweep",
}


def test_public_names():
    assert set(labelavg.__all__) == PUBLIC
    assert all(hasattr(labelavg, name) for name in PUBLIC)


def test_import_is_light():
    code = ("import sys, labelavg; "
            "print(sorted(m for m in ('cupy', 'matplotlib', 'seaborn', 'torch', 'sklearn', "
            "'pandas', 'tqdm', 'dask', 'mpmath', 'hypothesis', 'labelavg.testing') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lazy_submodules():
    code = ("import sys, labelavg; "
            "before = [m in sys.modules for m in ('labelavg.datasets', 'labelavg.plot')]; "
            "ok = callable(labelavg.datasets.load_features) and callable(labelavg.plot.save); "
            "heavy = [m for m in ('matplotlib', 'seaborn', 'cupy') if m in sys.modules]; "
            "print(before, ok, heavy, 'plot' in dir(labelavg))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["[False,", "False]", "True", "[]", "True"]
    with pytest.raises(AttributeError, match="nosuch"):
        labelavg.nosuch
