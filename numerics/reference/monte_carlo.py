"""Monte Carlo averages with their standard errors."""
from __future__ import annotations

import numpy as np


def gaussian(cov, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` draws of N(0, cov), shape (size, d), by a Cholesky factor."""
    chol = np.linalg.cholesky(np.asarray(cov, dtype=float))
    return rng.standard_normal((size, chol.shape[0])) @ chol.T


def mean_and_error(values) -> tuple[float, float]:
    """Sample mean and its standard error."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size))
