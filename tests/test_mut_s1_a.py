"""These pin behaviours that held-out mutmut mutants (seed 1 sample, issue 20) changed
without a test failing.

Expected values come from the definitions, symmetry or hand-written strings, never from
the code's own output. Problem sizes are tiny (K = 2..3), so each test runs well under a
second.
"""

import numpy as np
import pytest

from labelavg import _checks, _io, _mp, _testing, linear_path, testing
from labelavg.block import BlockModel
from labelavg.gram import Spectrum
from labelavg.noise import symmetric
from labelavg.theorems import full_accuracy


# --------------------------------------------------------------------------- _checks


def test_prob_columns_accepts_an_empty_set_of_columns():
    """prob_columns: a (K, 0) matrix has no column, hence no column-sum deviation: it is
    accepted as is, and linear_path on an empty spectrum returns (rounds, K, 0)."""
    empty = np.zeros((3, 0))
    assert _checks.prob_columns("targets", empty).shape == (3, 0)
    spec = Spectrum(np.zeros(0), np.zeros((0, 0)))
    assert linear_path(None, empty, 1e-3, 2, spectrum=spec).shape == (2, 3, 0)


# --------------------------------------------------------------------------- _io


def test_check_writable_names_the_out_option_by_default(tmp_path):
    """check_writable without ``option``: the message names ``--out`` (its documented
    default, the same as check_out_file's), then the folder."""
    missing = tmp_path / "missing"
    with pytest.raises(ValueError, match=r"^--out '.*missing': folder '.*missing' is not "
                                         r"writable"):
        _io.check_writable(missing)


# --------------------------------------------------------------------------- _repr


def test_spectrum_repr_separates_its_fields_with_comma_space():
    """short_repr: ``Name(f1=v1, f2=v2, ...)``, fields joined by ", " (arrays by shape and
    dtype, numbers to 4 digits)."""
    spec = Spectrum(np.array([1.0, 3.0]), np.eye(2))
    assert repr(spec) == ("Spectrum(evals=array(2,)[float64], evecs=array(2, 2)[float64], "
                          "min=1, max=3)")


# --------------------------------------------------------------------------- _testing


@pytest.mark.parametrize("tol", [1e-8, 1e-3, 0.5])
def test_solver_rtol_is_ten_times_the_solver_tolerance(tol):
    """solver_rtol(tol) = 10 × tol (module docstring of labelavg._testing), also as
    exported by labelavg.testing."""
    assert _testing.solver_rtol(tol) == pytest.approx(10 * tol, rel=1e-15)
    assert testing.solver_rtol(tol) == pytest.approx(10 * tol, rel=1e-15)


# --------------------------------------------------------------------------- _mp


def _clean_k3(ties):
    """K = 3, clean labels (counts 10·I), block Gram c = 1, d = 0.2, no self term, Nλ = 0.3:
    every class is alike, so each teacher output is (high, low, low) up to a permutation --
    the two wrong classes tie at the top-2 cut."""
    gram = 0.2 * np.ones((3, 3)) + 0.8 * np.eye(3)
    return _mp.solve_mp(gram, 10 * np.eye(3), 0.3, 0.0, 1, 20, pll_topk=2, ties=ties)


def test_mp_pll_with_ties_all_gets_uniform_targets_and_zero_margins():
    """ties="all" keeps both tied classes: with the true class the top-2 set is every class,
    the PLL targets are uniform (1/3 each), so the student's fixed point is b = 0, its
    outputs are uniform and every PLL margin (training and fresh) is exactly 0."""
    path = _clean_k3("all")
    assert path.pll == [0.0, 0.0, 0.0]
    assert path.pll_fresh == [0.0, 0.0, 0.0]


def test_mp_pll_with_ties_split_keeps_every_class_alike():
    """ties="split": targets (1/2, 1/4, 1/4) around each true class, a relabelling of one
    another, so the three PLL margins are equal (class symmetry) and positive (the true
    class has the largest target); likewise the fresh margins."""
    path = _clean_k3("split")
    assert len(path.pll) == 3 and len(path.pll_fresh) == 3
    assert path.pll == pytest.approx([path.pll[0]] * 3, rel=1e-12)
    assert path.pll_fresh == pytest.approx([path.pll_fresh[0]] * 3, rel=1e-12)
    assert path.pll[0] > 0 and path.pll_fresh[0] > 0


# --------------------------------------------------------------------------- theorems


def test_full_accuracy_params_name_the_histogram_used():
    """Verdict.params["histogram"]: "n*T" when the counts are the population histogram
    n·T (no ``counts``), "counts" when exact counts are given."""
    model = BlockModel(3, 10, 0.4, 0.1)
    transition = symmetric(3, 0.3)
    v = full_accuracy(model, transition, lam=1e-3, exact=False)
    assert v.params["histogram"] == "n*T"
    counts = np.array([[8, 1, 1], [1, 8, 1], [1, 1, 8]])
    v = full_accuracy(model, lam=1e-3, counts=counts, exact=False)
    assert v.params["histogram"] == "counts"
