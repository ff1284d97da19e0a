"""Every Hypothesis strategy of the suite.

Large dense matrices are built from a drawn seed and a drawn log-condition number
(``hypothesis.extra.numpy.arrays`` draws mostly sparse arrays at 50x50), so each example
is a dense, well-defined random matrix with a bounded condition number. Paper-specific
strategies live in their own section below the shared ones.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

# ---------------------------------------------------------------- shared building blocks

seeds = st.integers(min_value=0, max_value=2**32 - 1)


def log_uniform(low: float, high: float):
    """Floats spread evenly in log scale over [low, high]."""
    return st.floats(np.log(low), np.log(high)).map(np.exp)


def orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random orthogonal matrix."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def spd_from(seed: int, n: int, log10_cond: float, scale: float = 1.0) -> np.ndarray:
    """A dense SPD matrix with eigenvalues log-spaced over [scale/cond, scale]."""
    rng = np.random.default_rng(seed)
    eig = scale * np.logspace(-log10_cond, 0, n) if n > 1 else np.array([scale])
    q = orthogonal(n, rng)
    m = (q * rng.permutation(eig)) @ q.T
    return (m + m.T) / 2


@st.composite
def spd_matrices(draw, n, max_log10_cond: float = 3.0, scales=(0.1, 10.0)):
    """Dense SPD n x n matrices with condition number at most 10**max_log10_cond."""
    n = draw(n) if isinstance(n, st.SearchStrategy) else n
    return spd_from(draw(seeds), n, draw(st.floats(0.0, max_log10_cond)),
                    draw(log_uniform(*scales)))


@st.composite
def dense_matrices(draw, rows, cols, scale=(0.1, 3.0)):
    """Dense Gaussian rows x cols matrices with a drawn entry scale."""
    rng = np.random.default_rng(draw(seeds))
    return draw(log_uniform(*scale)) * rng.standard_normal((rows, cols))


betas = log_uniform(1e-2, 1e3)
lambdas = st.one_of(st.just(0.0), log_uniform(1e-2, 1e2))

# ---------------------------------------------------------------- [mi_collapse] linear-Gaussian VAE


@st.composite
def lgv_dims(draw, max_n: int = 6):
    """(n, m) with 1 <= m <= n <= max_n."""
    n = draw(st.integers(1, max_n))
    return n, draw(st.integers(1, n))


@st.composite
def lgv_parameters(draw, max_n: int = 6, max_log10_cond: float = 2.0):
    """A full parameter set (A, B, Sigma_z, Sigma_w, Sigma_y) of the linear-Gaussian VAE."""
    n, m = draw(lgv_dims(max_n))
    return dict(
        A=draw(dense_matrices(n, m, (0.1, 2.0))),
        B=draw(dense_matrices(m, n, (0.1, 2.0))),
        Sigma_z=draw(spd_matrices(n, max_log10_cond, (0.1, 3.0))),
        Sigma_w=draw(spd_matrices(m, max_log10_cond, (0.1, 3.0))),
        Sigma_y=draw(spd_matrices(n, max_log10_cond, (0.1, 3.0))),
    )
