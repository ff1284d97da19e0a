"""Hyper-parameter selection by augmented Tchebycheff scalarisation, §6 of [mi_collapse].

References
----------
[mi_collapse] shared/papers/000_6e757ef8f718962b.txt, §6 eq. (13)-(14).
"""
from __future__ import annotations

import numpy as np

from numerics import validation


def normalise(F):
    """Each objective min-max normalised over the grid  # eq. (13); F has shape (grid, k)."""
    F = validation.finite_array("F", F, ndim=2)
    low, high = F.min(axis=0), F.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return (F - low) / span


def score(F, omega, rho=1e-3):
    """S = max_i omega_i f_i + rho sum_i omega_i f_i on normalised objectives  # eq. (14)."""
    omega = validation.finite_array("omega", omega, ndim=1)
    if np.any(omega < 0) or not np.isclose(omega.sum(), 1.0):
        raise ValueError(f"omega must be non-negative and sum to 1; got {omega}")
    rho = validation.nonnegative("rho", rho)
    Fn = normalise(F)
    if Fn.shape[1] != omega.size:
        raise ValueError(f"omega has {omega.size} weights but F has {Fn.shape[1]} objectives")
    weighted = Fn * omega
    return weighted.max(axis=1) + rho * weighted.sum(axis=1)


def select(F, omega, rho=1e-3) -> int:
    """Index of the grid point minimising the augmented Tchebycheff score (first on ties)."""
    return int(np.argmin(score(F, omega, rho)))
