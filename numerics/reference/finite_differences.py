"""Central finite differences of scalar functions of arrays (float64 or mpmath)."""
from __future__ import annotations

import numpy as np


def directional(f, x, v, h: float = 1e-5):
    """(f(x + h v) - f(x - h v)) / 2h: the derivative of f at x along v, error O(h^2)."""
    return (f(x + h * v) - f(x - h * v)) / (2 * h)


def gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Entry-wise central-difference gradient of a scalar function of an array."""
    x = np.asarray(x, dtype=float)
    grad = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = 1.0
        grad[idx] = directional(f, x, e, h)
    return grad
