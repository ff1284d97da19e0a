"""Checks of the hyper-parameter selection rule of [mi_collapse] §6, eq. (13)-(14)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numerics import tchebycheff
from property_tests import strategies as s


def dominated(F, i):
    """Whether grid point i is dominated: some point no worse everywhere and better somewhere."""
    no_worse = np.all(F <= F[i], axis=1)
    better = np.any(F < F[i], axis=1)
    return bool(np.any(no_worse & better))


@pytest.mark.claim("mi_collapse.eq_14")
@given(seed=s.seeds, points=st.integers(2, 60), omega1=st.floats(0.01, 0.99), ties=st.booleans())
def test_minimiser_is_pareto_optimal_for_positive_weights(seed, points, omega1, ties, evidence):
    """Over random grids (optionally with many ties) the selected point is never dominated (rho = 1e-3)."""
    rho = 1e-3
    evidence.quote("1e-3", rho)
    rng = np.random.default_rng(seed)
    F = rng.uniform(0, 10, (points, 2))
    if ties:
        F = np.round(F)
    i = tchebycheff.select(F, [omega1, 1 - omega1], rho)
    assert not dominated(F, i)
    Fn = tchebycheff.normalise(F)
    assert np.allclose(Fn.min(axis=0), 0) and np.all(Fn.max(axis=0) <= 1)
    evidence("grid points", points)


@pytest.mark.claim("mi_collapse.eq_14")
def test_zero_weight_can_select_a_dominated_point(evidence):
    """omega = (1, 0): the augmentation is weighted by omega too, so it cannot break the tie. The
    objectives (0, 1) and (0, 0.5) normalise over this two-point grid to (0, 1) and (0, 0)."""
    rho = 1e-3
    evidence.quote("1e-3", rho)
    F = np.array([[0.0, 1.0], [0.0, 0.5]])
    evidence.quote("0.5", F[1, 1])
    assert np.array_equal(tchebycheff.normalise(F), [[0.0, 1.0], [0.0, 0.0]])
    scores = tchebycheff.score(F, [1.0, 0.0], rho)
    assert scores[0] == scores[1] == 0.0
    i = tchebycheff.select(F, [1.0, 0.0], rho)
    assert dominated(F, i)
    assert not dominated(F, tchebycheff.select(F, [0.999, 0.001], rho))
    evidence("score of both points", float(scores[0]))
