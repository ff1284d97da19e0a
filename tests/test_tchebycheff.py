"""numerics/tchebycheff.py against a scalar transcription of eq. (13)-(14) of [mi_collapse] §6,
the paper's rho = 1e-3 as the default, and its input errors (each names the argument)."""
import numpy as np
import pytest

from numerics import tchebycheff


def _score_by_loops(F, omega, rho):
    """Eq. (13) then (14), one grid point and one objective at a time."""
    F = [list(map(float, row)) for row in F]
    k = len(F[0])
    low = [min(row[i] for row in F) for i in range(k)]
    high = [max(row[i] for row in F) for i in range(k)]
    out = []
    for row in F:
        f = [(row[i] - low[i]) / (high[i] - low[i]) if high[i] > low[i] else 0.0 for i in range(k)]
        out.append(max(omega[i] * f[i] for i in range(k)) + rho * sum(omega[i] * f[i] for i in range(k)))
    return out


def test_score_and_normalisation_match_the_equations_on_random_grids():
    rng = np.random.default_rng(3)
    for points, k in ((5, 2), (17, 3), (9, 4)):
        F = rng.normal(0, 1, (points, k)) * rng.uniform(0.1, 100, k) + rng.normal(0, 10, k)
        F[:, -1] = 7.0 if k == 4 else F[:, -1]          # a constant objective normalises to 0
        omega = rng.dirichlet(np.ones(k))
        for rho in (0.0, 1e-3, 0.5):
            assert tchebycheff.score(F, omega, rho) == pytest.approx(_score_by_loops(F, omega, rho), rel=1e-12)
        Fn = tchebycheff.normalise(F)
        scaled = (F - F.min(axis=0)) / np.where(np.ptp(F, axis=0) > 0, np.ptp(F, axis=0), 1.0)
        assert Fn == pytest.approx(scaled, rel=1e-12, abs=1e-15)
        assert tchebycheff.select(F, omega, 0.5) == int(np.argmin(_score_by_loops(F, omega, 0.5)))


def test_the_default_rho_is_the_papers_and_decides_a_near_tie():
    """rho = 10^-3 (§6, below eq. 14). At omega = (1/2, 1/2) point 0 has the smaller max term
    (0.25 against 0.26) and point 1 the smaller sum (0.26 against 0.5): the small augmentation
    keeps point 0, a large one (rho = 1) picks point 1."""
    F = np.array([[0.5, 0.5], [0.52, 0.0], [1.0, 1.0], [0.0, 1.0]])
    omega = [0.5, 0.5]
    assert np.array_equal(tchebycheff.score(F, omega), tchebycheff.score(F, omega, 1e-3))
    assert tchebycheff.select(F, omega) == 0
    assert tchebycheff.select(F, omega, 1.0) == 1


@pytest.mark.parametrize("F, omega, rho, message", [
    ([1.0, 2.0], [1.0], 1e-3, r"^F must have 2 dimension\(s\); got shape \(2,\)$"),
    ([[1.0, np.nan]], [0.5, 0.5], 1e-3, r"^F must be finite"),
    ([[1.0, 2.0]], [[0.5, 0.5]], 1e-3, r"^omega must have 1 dimension\(s\)"),
    ([[1.0, 2.0]], [np.inf, 0.5], 1e-3, r"^omega must be finite"),
    ([[1.0, 2.0]], [1.5, -0.5], 1e-3, r"^omega must be non-negative and sum to 1; got \[ 1.5 -0.5\]$"),
    ([[1.0, 2.0]], [0.5, 0.6], 1e-3, r"^omega must be non-negative and sum to 1"),
    ([[1.0, 2.0]], [0.5, 0.5], -1e-3, r"^rho must be"),
    ([[1.0, 2.0]], [0.2, 0.3, 0.5], 1e-3, r"^omega has 3 weights but F has 2 objectives$"),
])
def test_bad_input_is_refused_naming_the_argument(F, omega, rho, message):
    with pytest.raises(ValueError, match=message):
        tchebycheff.score(F, omega, rho)
    with pytest.raises(ValueError, match=message):
        tchebycheff.select(F, omega, rho)
