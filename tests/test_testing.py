"""labelavg.testing: the shipped strategies draw what they promise; hypothesis stays optional."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labelavg import BlockModel, noise, testing


@pytest.mark.parametrize("kind", testing.NOISE_KINDS)
@given(data=st.data())
def test_transition_matrices_of_every_kind(kind, data):
    t = data.draw(testing.transition_matrices(kind=kind))
    assert noise.is_transition_matrix(t)
    if kind in ("asymmetric", "pair", "superclass"):     # η <= 1/2: the label stays likeliest
        assert np.all(np.diag(t) >= 0.5 - 1e-12)


@given(testing.block_models(), testing.block_grams())
def test_block_models_and_grams(model, problem):
    assert isinstance(model, BlockModel) and 1 > model.c > model.d >= 0
    gram, true = problem
    assert gram.shape == (true.size, true.size)
    testing.assert_close(gram, gram.T, 0.0, "symmetric")


def test_tolerance_helpers_are_the_projects():
    from labelavg import _testing

    assert testing.assert_close is _testing.assert_close and testing.EXACT_RTOL == 1e-10
    with pytest.raises(AssertionError, match="relative error"):
        testing.assert_close([1.0, 2.0], [1.0, 2.1])


def test_the_suite_uses_the_shipped_strategies():
    import strategies

    assert strategies.psd_grams is testing.psd_grams


def test_without_hypothesis_a_clear_import_error():
    code = ("import sys; sys.modules['hypothesis'] = None; import labelavg; "
            "import labelavg.testing")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 1
    assert "ImportError: labelavg.testing needs hypothesis: pip install hypothesis" in out.stderr
