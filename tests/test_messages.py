"""Error messages say what is expected (shape conventions)."""

import numpy as np
import pytest

import labelavg as la
from labelavg.gram import block_gram


def test_fit_probs_names_the_target_shape_for_transposed_targets():
    gram = block_gram(2, 5, 0.4, 0.1)
    targets = np.eye(2)[[0] * 5 + [1] * 5]            # (N, K): the transpose of (K, N)
    with pytest.raises(ValueError, match=r"shape \(K, N\).*\(10, 2\).*targets\.T"):
        la.fit_probs(gram, targets, 1e-2)
    assert la.fit_probs(gram, targets.T, 1e-2).converged


def test_bad_columns_without_transpose_hint():
    with pytest.raises(ValueError, match=r"shape \(K, N\)") as info:
        la.fit_probs(block_gram(2, 5, 0.4, 0.1), np.full((2, 10), 0.7), 1e-2)
    assert ".T" not in str(info.value)
