"""Gauss-Hermite expectations under multivariate Gaussians (tensor grids; small dimension)."""
from __future__ import annotations

import itertools

import numpy as np


def gauss_hermite(f, mean, cov, order: int = 20) -> float:
    """E[f(u)] for u ~ N(mean, cov) by a tensor Gauss-Hermite rule of ``order`` points per axis.

    ``f`` takes an array of shape (k, d) and returns k values.
    """
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    chol = np.linalg.cholesky(np.atleast_2d(np.asarray(cov, dtype=float)))
    nodes, weights = np.polynomial.hermite_e.hermegauss(order)
    weights = weights / weights.sum()
    d = mean.size
    grid = np.array(list(itertools.product(nodes, repeat=d)))
    w = np.prod(np.array(list(itertools.product(weights, repeat=d))), axis=1)
    return float(w @ f(mean + grid @ chol.T))
