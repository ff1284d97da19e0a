"""numerics/backend.py: each operation of the float64 and the mpmath back-end computes the same
thing (a formula written once gives the same number in both), and the float64 one broadcasts
over leading batch axes."""
import mpmath as mp
import numpy as np
import pytest

from numerics.backend import MPMATH, NUMPY
from numerics.precision import to_np


def test_the_two_back_ends_agree_operation_by_operation():
    rng = np.random.default_rng(4)
    X, Y = rng.standard_normal((3, 3)), rng.standard_normal((3, 2))
    S = X @ X.T + 3 * np.eye(3)
    assert (NUMPY.name, MPMATH.name) == ("float64", "mpmath")
    with mp.workdps(30):
        x, y, s = MPMATH.asarray(X), MPMATH.asarray(Y), MPMATH.asarray(S)
        assert MPMATH.asarray(x) is x
        pairs = [(NUMPY.mm(X, Y), to_np(MPMATH.mm(x, y))), (NUMPY.inv(S), to_np(MPMATH.inv(s))),
                 (NUMPY.T(Y), to_np(MPMATH.T(y))), (NUMPY.eye(3), to_np(MPMATH.eye(3)))]
        for a, b in pairs:
            assert a == pytest.approx(b, rel=1e-13, abs=1e-15)
        assert NUMPY.tr(X) == pytest.approx(float(MPMATH.tr(x)), rel=1e-14)
        assert NUMPY.logdet(S) == pytest.approx(float(MPMATH.logdet(s)), rel=1e-13)
        assert NUMPY.log(2.5) == pytest.approx(float(MPMATH.log(mp.mpf(2.5))), rel=1e-15)
        assert NUMPY.pi == pytest.approx(float(MPMATH.pi), rel=1e-16)
    assert NUMPY.asarray([1, 2]).dtype == np.float64


def test_float64_back_end_broadcasts_over_batches():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((4, 3, 3))
    S = X @ NUMPY.T(X) + 3 * np.eye(3)
    assert NUMPY.T(X).shape == (4, 3, 3) and np.array_equal(NUMPY.T(X)[2], X[2].T)
    assert NUMPY.tr(X) == pytest.approx([np.trace(x) for x in X], rel=1e-14)
    assert NUMPY.logdet(S) == pytest.approx([np.linalg.slogdet(s)[1] for s in S], rel=1e-13)
    assert NUMPY.mm(X, X) == pytest.approx(np.stack([x @ x for x in X]), rel=1e-13)
