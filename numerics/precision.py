"""mpmath helpers: numpy <-> mpmath matrices and the few dense operations the checks need."""
from __future__ import annotations

import mpmath as mp
import numpy as np


def to_mp(a) -> mp.matrix:
    """A numpy matrix (or vector) as an mpmath matrix at the current precision."""
    arr = np.atleast_2d(np.asarray(a, dtype=float))
    return mp.matrix([[mp.mpf(x) for x in row] for row in arr])


def to_np(a: mp.matrix) -> np.ndarray:
    """An mpmath matrix as a float64 array."""
    return np.array(a.tolist(), dtype=float)


def trace(a: mp.matrix):
    return mp.fsum(a[i, i] for i in range(a.rows))


def logdet(a: mp.matrix):
    """log det of a symmetric positive definite matrix, via its Cholesky factor."""
    chol = mp.cholesky(a)
    return 2 * mp.fsum(mp.log(chol[i, i]) for i in range(a.rows))


def spectral_norm(a: mp.matrix):
    """Largest singular value."""
    return max(mp.svd_r(a, compute_uv=False))
