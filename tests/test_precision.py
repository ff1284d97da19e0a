"""numerics/precision.py: the float64 <-> mpmath conversions start the high-precision routes
from exactly the float64 numbers the float64 routes see, and the dense helpers agree with
numpy on well-conditioned matrices."""
import mpmath as mp
import numpy as np
import pytest

from numerics.precision import logdet, spectral_norm, to_mp, to_np, trace


def test_to_mp_takes_the_float64_values_and_to_np_returns_float64():
    big = 2**60 + 1                          # an int that float64 rounds to 2^60
    with mp.workdps(40):
        m = to_mp(np.array([[big, 1], [3, 0.1]], dtype=object))
        assert m[0, 0] == mp.mpf(2**60) and m[1, 1] == mp.mpf(0.1)      # 0.1's float64 value, not 1/10
        assert (m.rows, m.cols) == (2, 2)
        assert to_mp([1.0, 2.0]).rows == 1                               # a vector is one row
        back = to_np(m * mp.mpf(1) / 3)
    assert back.dtype == np.float64 and back[1, 1] == pytest.approx(0.1 / 3, rel=1e-15)


def test_trace_logdet_and_spectral_norm_match_numpy():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((5, 5))
    S = X @ X.T + 5 * np.eye(5)
    with mp.workdps(30):
        assert float(trace(to_mp(X))) == pytest.approx(np.trace(X), rel=1e-14)
        assert float(logdet(to_mp(S))) == pytest.approx(np.linalg.slogdet(S)[1], rel=1e-13)
        assert float(spectral_norm(to_mp(X))) == pytest.approx(np.linalg.norm(X, 2), rel=1e-13)
        assert float(spectral_norm(to_mp(X[:, :3]))) == pytest.approx(np.linalg.norm(X[:, :3], 2), rel=1e-13)
