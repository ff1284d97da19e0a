"""Argument checks shared by every numeric module: errors name the argument and the condition."""
from __future__ import annotations

import numpy as np


def finite_array(name: str, value, *, ndim: int | None = None) -> np.ndarray:
    """``value`` as a float64 array with no NaN or inf (and ``ndim`` dimensions if given)."""
    arr = np.asarray(value, dtype=float)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return arr


def matrix(name: str, value, shape: tuple[int | None, int | None] | None = None) -> np.ndarray:
    """A finite 2-D float64 array; ``None`` in ``shape`` matches any size."""
    arr = finite_array(name, value, ndim=2)
    if shape is not None and any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        want = "x".join("?" if s is None else str(s) for s in shape)
        raise ValueError(f"{name} must have shape {want}; got {arr.shape[0]}x{arr.shape[1]}")
    return arr


def spd(name: str, value, n: int | None = None, *, rtol: float = 1e-10,
        max_cond: float | None = None) -> np.ndarray:
    """A symmetric positive definite matrix (symmetrised exactly on return).

    Symmetry is judged relative to the largest entry; definiteness by the smallest
    eigenvalue; ``max_cond`` bounds the condition number when given.
    """
    arr = matrix(name, value, (n, n))
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be square; got shape {arr.shape}")
    scale = max(np.max(np.abs(arr)), np.finfo(float).tiny)
    asym = np.max(np.abs(arr - arr.T)) / scale
    if asym > rtol:
        raise ValueError(f"{name} must be symmetric; max |X - X^T| / max |X| = {asym:.3g}")
    arr = arr / 2 + arr.T / 2                 # exactly symmetric, and no overflow near the float64 maximum
    eig = np.linalg.eigvalsh(arr)
    if eig[0] <= 0:
        raise ValueError(f"{name} must be symmetric positive definite; smallest eigenvalue is {eig[0]:.3g}")
    if max_cond is not None and eig[-1] / eig[0] > max_cond:
        raise ValueError(f"{name} has condition number {eig[-1] / eig[0]:.3g} > {max_cond:.3g}")
    return arr


def positive(name: str, value) -> float:
    """A finite scalar > 0."""
    x = float(value)
    if not np.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return x


def nonnegative(name: str, value) -> float:
    """A finite scalar >= 0."""
    x = float(value)
    if not np.isfinite(x) or x < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return x


def positive_int(name: str, value, minimum: int = 1) -> int:
    """An integer >= ``minimum``."""
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


CLOSED = ("neither", "low", "high", "both")
"""The values of ``array_in``'s ``closed``: which ends of the interval belong to it."""


def array_in(name: str, value, low: float = -np.inf, high: float = np.inf, *,
             closed: str = "neither") -> np.ndarray:
    """A finite float64 array with every entry in the interval from ``low`` to ``high``.

    ``closed`` is ``"neither"``, ``"low"``, ``"high"`` or ``"both"``: which ends belong
    to the interval. The error names the argument, the interval and the worst entry.
    """
    if closed not in CLOSED:
        raise ValueError(f"closed must be one of {CLOSED}; got {closed!r}")
    arr = finite_array(name, value)
    low_ok = arr >= low if closed in ("low", "both") else arr > low
    high_ok = arr <= high if closed in ("high", "both") else arr < high
    bad = ~(low_ok & high_ok)
    if np.any(bad):
        interval = (("[" if closed in ("low", "both") else "(") + f"{low:g}, {high:g}"
                    + ("]" if closed in ("high", "both") else ")"))
        raise ValueError(f"{name} must lie in {interval}; got {float(arr[bad].flat[0]):g}"
                         f" ({int(bad.sum())} of {arr.size} entries outside)")
    return arr


def psd(name: str, value, n: int | None = None, *, rtol: float = 1e-10) -> np.ndarray:
    """A symmetric positive semidefinite matrix that is not zero (symmetrised on return).

    Symmetry and the sign of the smallest eigenvalue are judged relative to the
    largest entry / eigenvalue, so rounding noise of an exactly singular matrix passes.
    """
    arr = matrix(name, value, (n, n))
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be square; got shape {arr.shape}")
    scale = np.max(np.abs(arr))
    if scale == 0:
        raise ValueError(f"{name} must be positive semidefinite and not zero; got the zero matrix")
    asym = np.max(np.abs(arr - arr.T)) / scale
    if asym > rtol:
        raise ValueError(f"{name} must be symmetric; max |X - X^T| / max |X| = {asym:.3g}")
    arr = arr / 2 + arr.T / 2                 # exactly symmetric, and no overflow near the float64 maximum
    eig = np.linalg.eigvalsh(arr)
    if eig[0] < -rtol * eig[-1] * arr.shape[0]:
        raise ValueError(f"{name} must be positive semidefinite; smallest eigenvalue is {eig[0]:.3g}")
    return arr
