"""The λ-VAE of [lambda_vae]: the attractor σ*(λ) and the optimal exponent λ*(σ, δ).

λ-scaling samples z = μ(x) + σ(x)^λ ε (eq. 9) while the KL penalty keeps σ(x)^2 (eq. 10).
Everything here is vectorised: numpy arrays in (broadcast against each other), numpy
arrays out.

References
----------
[lambda_vae] G. Demisse, "λ-VAE: Variance Equalization for Posterior Collapse",
    shared/papers/002_9357fcd1557682b2.txt.
"""
from __future__ import annotations

import numpy as np

from numerics import validation


def sigma_star(lam) -> np.ndarray:
    """The attractor σ* = λ^{-1/(λ-1)} of the λ-scaling correction.  # eq. (13) of [lambda_vae]

    σ* is the positive root of λ σ^{λ-1} = 1 (eq. 22), where the correction
    (λσ^λ - σ) g^σ of eq. (21) vanishes.

    Parameters
    ----------
    lam : array_like
        Exponents λ ≥ 1. At λ = 1 the correction vanishes for every σ (there is no
        attractor); the value returned there is the continuous limit 1/e.

    Returns
    -------
    numpy.ndarray
        σ*(λ) in [1/e, 1), increasing in λ, with the shape of ``lam``.

    References
    ----------
    [lambda_vae] eq. (13) and App. B.1 eq. (22).

    >>> float(sigma_star(2.0))
    0.5
    """
    lam = validation.array_in("lam", lam, 1.0, closed="low")
    x = lam - 1.0
    # log λ / (λ - 1) = log1p(x) / x, written so that λ -> 1 keeps full precision
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(x == 0.0, 1.0, np.log1p(x) / np.where(x == 0.0, 1.0, x))
    return np.exp(-ratio)


def lambda_star(sigma, delta) -> np.ndarray:
    """The optimal exponent λ* = max(1, log(1 - 1/δ) / (2 log σ)).  # eq. (16) of [lambda_vae]

    The maximiser over λ ≥ 1 of the net information gain J(λ, σ) of eq. (15).

    Parameters
    ----------
    sigma : array_like
        Posterior standard deviations σ > 0. For σ ≥ 1 the information gain of
        eq. (12) is ≤ 0 and λ* = 1 (eq. 16 gives a value ≤ 1 there; at σ = 1, where J ≡ 0,
        1 is returned).
    delta : array_like
        Trade-off δ > 1, broadcast against ``sigma``.

    Returns
    -------
    numpy.ndarray
        λ* ≥ 1 with the broadcast shape of ``sigma`` and ``delta``; λ* = 1 exactly for
        σ ≤ σ_c = sqrt(1 - 1/δ) (eq. 17), and λ* -> ∞ as σ -> 1⁻.

    References
    ----------
    [lambda_vae] Proposition 3, eq. (16); App. B.2 eq. (23)-(33).

    >>> float(lambda_star(0.5, 4.0 / 3.0))  # σ^{2λ} = 1 - 1/δ = 1/4 at λ = 1
    1.0
    """
    sigma = validation.array_in("sigma", sigma, 0.0)
    delta = validation.array_in("delta", delta, 1.0)
    log_sigma = np.log(sigma)
    with np.errstate(divide="ignore"):
        # log1p keeps log(1 - 1/δ) accurate for large δ
        unconstrained = np.where(log_sigma < 0.0,
                                 np.log1p(-1.0 / delta) / (2.0 * np.where(log_sigma < 0.0, log_sigma, -1.0)),
                                 1.0)
    return np.maximum(1.0, unconstrained)
