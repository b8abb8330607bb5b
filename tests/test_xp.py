"""Array namespaces: backend list for the suite, lazy imports, CuPy without a GPU."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from labelavg._xp import cupy_available, float_dtype, namespace, to_numpy


def _strict():
    import array_api_strict

    return array_api_strict


def _cupy():
    import cupy

    return cupy


#: Every array namespace the primal solver must run on: (id, module factory).
#: CuPy is marked ``gpu`` and skipped without a usable device.
BACKENDS = [
    pytest.param(lambda: np, id="numpy"),
    pytest.param(_strict, id="array_api_strict"),
    pytest.param(_cupy, id="cupy", marks=[
        pytest.mark.gpu,
        pytest.mark.skipif(not cupy_available(), reason="CuPy with a CUDA device needed")]),
]


@pytest.fixture(params=BACKENDS)
def xp(request):
    """The array module of one backend (numpy, array_api_strict, cupy)."""
    return request.param()


def test_namespace_round_trip(xp):
    x = xp.asarray(np.arange(6.0).reshape(2, 3))
    space = namespace(x)
    assert space.sum(x) == 15
    np.testing.assert_array_equal(to_numpy(x), np.arange(6.0).reshape(2, 3))


def test_mixed_libraries_raise_type_error():
    strict = _strict()
    with pytest.raises(TypeError, match="mix array libraries"):
        namespace(np.ones(2), strict.ones(2))


@pytest.mark.parametrize(("dtype", "expected"), [
    ("float16", "float32"), ("float32", "float32"), ("float64", "float64"), ("int64", "float64")])
def test_float_dtype(dtype, expected):
    xp = namespace(np.ones(1))
    assert float_dtype(xp, np.ones(2, dtype=dtype)) == np.dtype(expected)


def _run(code, path=None):
    env = dict(os.environ)
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(path), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def test_import_is_lazy():
    """``import labelavg`` (and its probe module) pulls in neither CuPy nor plotting."""
    out = _run("""
        import sys
        import labelavg, labelavg.probe, labelavg.cli.probe
        bad = sorted(m for m in ("cupy", "matplotlib", "seaborn") if m in sys.modules)
        print(",".join(bad))
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("body", [
    "def is_available():\n    raise RuntimeError('CUDA driver version is insufficient')\n",
    "def is_available():\n    return False\n",
])
def test_cupy_without_gpu_is_not_available(tmp_path, body):
    """An installed CuPy whose CUDA check raises or says no must not crash anything."""
    pkg = tmp_path / "cupy"
    (pkg / "cuda").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import cuda\n")
    (pkg / "cuda" / "__init__.py").write_text(body)
    out = _run("""
        import numpy as np
        from labelavg._xp import cupy_available
        from labelavg.probe import SelfDistillation
        assert cupy_available() is False
        y = np.repeat(np.arange(2), 5)
        X = np.eye(2)[y] + 0.1 * np.arange(10)[:, None]
        SelfDistillation(1e-2, 1, pll_topk=1).fit(X, y)
        print("ok")
    """, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_cupy_import_failure_is_not_available(tmp_path):
    pkg = tmp_path / "cupy"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise ImportError('libcudart.so: cannot open')\n")
    out = _run("from labelavg._xp import cupy_available; print(cupy_available())", tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def _fake_cupy(monkeypatch, is_available):
    import importlib.machinery
    import types

    cuda = types.SimpleNamespace(is_available=is_available)
    module = types.ModuleType("cupy")
    module.__spec__ = importlib.machinery.ModuleSpec("cupy", None)
    module.cuda = cuda
    monkeypatch.setitem(sys.modules, "cupy", module)


def test_cupy_available_asks_an_installed_cupy_for_a_device(monkeypatch):
    # an importable module named "cupy" whose device check answers 1 (truthy): True
    _fake_cupy(monkeypatch, lambda: 1)
    assert cupy_available() is True
    _fake_cupy(monkeypatch, lambda: 0)
    assert cupy_available() is False


def test_cupy_available_is_false_when_the_driver_fails(monkeypatch):
    def broken():
        raise RuntimeError("no CUDA driver")

    _fake_cupy(monkeypatch, broken)
    assert cupy_available() is False
