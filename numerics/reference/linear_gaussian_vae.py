"""Monte Carlo estimate of the [mi_collapse] objective by sampling the model itself.

Draws y ~ N(0, Sigma_y) and w ~ N(0, Sigma_w), sets x = B y + w, and averages
-log N(y; A x, Sigma_z) + beta [log N(x; B y, Sigma_w) - log N(x; 0, I)] + lambda ||y - A x||^2,
with the log-densities from scipy.stats: no closed-form expectation is used.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from numerics.reference.monte_carlo import gaussian, mean_and_error


def objective_monte_carlo(A, B, Sigma_z, Sigma_w, Sigma_y, beta, lam=0.0, *, samples=200_000,
                          seed=0) -> tuple[float, float]:
    """(estimate, standard error) of E[-log p(y|x)] + beta E KL(q(x|y)||p(x)) + lambda E||y - Ax||^2."""
    rng = np.random.default_rng(seed)
    y = gaussian(Sigma_y, samples, rng)
    w = gaussian(Sigma_w, samples, rng)
    x = y @ B.T + w
    m = B.shape[0]
    residual = y - x @ A.T
    nll = -stats.multivariate_normal(np.zeros(len(Sigma_z)), Sigma_z).logpdf(residual)
    log_q = stats.multivariate_normal(np.zeros(m), Sigma_w).logpdf(w)
    log_p = stats.multivariate_normal(np.zeros(m), np.eye(m)).logpdf(x)
    return mean_and_error(nll + beta * (log_q - log_p) + lam * np.sum(residual**2, axis=1))
