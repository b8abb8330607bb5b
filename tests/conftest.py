"""Suite-wide settings: one BLAS thread, hypothesis profiles (see strategies.py)."""

import pytest
from threadpoolctl import threadpool_limits

import strategies  # noqa: F401  (registers and loads the hypothesis profiles)


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    """The suite's matrices are small: threaded BLAS only thrashes on a 2-core CI box."""
    with threadpool_limits(1):
        yield
