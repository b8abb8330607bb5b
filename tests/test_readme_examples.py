"""The README's Python snippets run as written, silently."""

import re
import warnings
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def snippet(marker):
    """The one ```python block of README.md that contains ``marker``."""
    blocks = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"),
                                    flags=re.S) if marker in b]
    assert len(blocks) == 1, f"{len(blocks)} README blocks contain {marker!r}"
    return blocks[0]


def test_scikit_learn_and_dask_snippets_run_silently():
    """GridSearchCV on the shipped digits set, then the Dask fit (a few seconds)."""
    pytest.importorskip("sklearn")
    pytest.importorskip("dask.array")
    namespace = {"print": lambda *args: None}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(snippet("GridSearchCV("), namespace)
        exec(snippet("X_lazy"), namespace)
    assert namespace["search"].best_params_["selfdistillation__lam"] in (1e-3, 1e-2, 1e-1)
    assert namespace["search"].score(namespace["data"].x_test, namespace["data"].y_test) > 0.9
    assert all(r.converged for r in namespace["model"].history_)


def test_property_testing_snippet_runs():
    namespace = {}
    exec(snippet("from labelavg.testing import"), namespace)
    namespace["test_rounds_move_towards_uniform"]()
