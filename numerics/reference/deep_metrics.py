"""Exact information of discretised Gaussian pairs: the reference for histogram MIG.

A histogram MIG (disentanglement_lib, deep.metrics.mig) estimates the mutual information
of *discretised* variables. For a jointly Gaussian pair with correlation rho, the
discretised pair's cell probabilities are integrals of the bivariate normal density,

    P[a, b] = int_{x_a}^{x_{a+1}} phi(x) [Phi((y_{b+1} - rho x) / s) - Phi((y_b - rho x) / s)] dx,

s = sqrt(1 - rho^2), computed by Gauss-Legendre quadrature on each x cell (after the
substitution u = Phi(-|x|) on the infinite end cells, so the tails keep full precision).
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from numerics.validation import array_in


def _gauss_nodes(a: float, b: float, order: int):
    """Nodes x and weights w with sum w f(x) ~ int_a^b phi(x) f(x) dx (a < b, either may be infinite)."""
    t, wt = np.polynomial.legendre.leggauss(order)
    if np.isfinite(a) and np.isfinite(b):
        x = (a + b) / 2 + (b - a) / 2 * t
        return x, (b - a) / 2 * wt * np.exp(-x ** 2 / 2) / np.sqrt(2 * np.pi)
    if np.isinf(a) and np.isinf(b):
        xl, wl = _gauss_nodes(a, 0.0, order)
        xr, wr = _gauss_nodes(0.0, b, order)
        return np.r_[xl, xr], np.r_[wl, wr]
    # a tail: with u = Phi(-|x|) in (0, Phi(-|finite end|)), phi(x) dx = du
    top = ndtr(-abs(b if np.isinf(a) else a))
    u = top * (t + 1) / 2
    return (ndtri(u) if np.isinf(a) else -ndtri(u)), top / 2 * wt


def cell_probabilities(rho: float, edges_x, edges_y, order: int = 64) -> np.ndarray:
    """P[a, b] = P(x_a <= X < x_{a+1}, y_b <= Y < y_{b+1}) for a standard bivariate normal with correlation ``rho``.

    ``edges_x``, ``edges_y``: increasing, in standard units, +-inf allowed; ``order``
    Gauss-Legendre nodes per x cell.
    """
    rho = float(array_in("rho", rho, -1.0, 1.0))
    ex, ey = np.asarray(edges_x, dtype=float), np.asarray(edges_y, dtype=float)
    for name, e in (("edges_x", ex), ("edges_y", ey)):
        if e.ndim != 1 or e.size < 2 or np.any(np.isnan(e)) or np.any(np.diff(e) <= 0):
            raise ValueError(f"{name} must be a strictly increasing 1-D array of at least 2 edges")
    s = np.sqrt(1 - rho ** 2)
    rows = []
    for a, b in zip(ex[:-1], ex[1:]):
        x, w = _gauss_nodes(a, b, order)
        rows.append(w @ np.diff(ndtr((ey[None, :] - rho * x[:, None]) / s), axis=1))
    return np.array(rows)


def interval_probabilities(edges) -> np.ndarray:
    """P(e_a <= X < e_{a+1}) for a standard normal X."""
    return np.diff(ndtr(np.asarray(edges, dtype=float)))


def entropy(p) -> float:
    """Entropy (nats) of the probabilities ``p`` (zeros skipped)."""
    p = np.asarray(p, dtype=float).ravel()
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def mutual_information(P) -> float:
    """Mutual information (nats) of the discrete joint distribution ``P``."""
    P = np.asarray(P, dtype=float)
    px, py = P.sum(1, keepdims=True), P.sum(0, keepdims=True)
    nz = P > 0
    return float(np.sum(P[nz] * np.log(P[nz] / (px * py)[nz])))


def plugin_bias_and_error(P, samples: int) -> tuple[float, float]:
    """Leading bias and standard error of the plug-in MI estimate from ``samples`` draws of ``P``.

    Bias (A' - 1)(B' - 1) / (2N) with A', B' the occupied rows and columns (Miller-Madow);
    standard error sqrt(Var[log P_ab / (p_a p_b)] / N) (delta method).
    """
    P = np.asarray(P, dtype=float)
    px, py = P.sum(1, keepdims=True), P.sum(0, keepdims=True)
    nz = P > 0
    log_ratio = np.log(P[nz] / (px * py)[nz])
    var = np.sum(P[nz] * log_ratio ** 2) - np.sum(P[nz] * log_ratio) ** 2
    bias = (np.sum(px > 0) - 1) * (np.sum(py > 0) - 1) / (2 * samples)
    return float(bias), float(np.sqrt(max(var, 0.0) / samples))


def plugin_entropy_bias_and_error(p, samples: int) -> tuple[float, float]:
    """Leading bias -(K' - 1) / (2N) and standard error sqrt(Var[log p] / N) of the plug-in entropy."""
    p = np.asarray(p, dtype=float).ravel()
    p = p[p > 0]
    var = np.sum(p * np.log(p) ** 2) - np.sum(p * np.log(p)) ** 2
    return float(-(p.size - 1) / (2 * samples)), float(np.sqrt(max(var, 0.0) / samples))
