"""The tractable β-VAE of [optimal_beta] at any network: its parameters, the objective and its terms,
the gradient (eq. 42-47), the log-likelihood and the inference errors MIE and TIE, all exact.

References
----------
[optimal_beta] "β-VAE with a finite optimal β" (paper 003),
    shared/papers/003_a1eafab620a812b7.txt.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from numerics import validation

LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class Parameters:
    """The network {W_μ, b_μ, W_σ, b_σ, D, b_D} of eq. (20)-(21): shapes k×N, k, k×N, k, N×k, N.

    Arrays may carry leading batch axes (used internally by :func:`sweep`).
    """
    W_mu: np.ndarray
    b_mu: np.ndarray
    W_sigma: np.ndarray
    b_sigma: np.ndarray
    D: np.ndarray
    b_D: np.ndarray

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Quantities:
    """Data-averaged values at one parameter set, in nats (Fig. 1 of [optimal_beta])."""
    objective: float        # L_β, eq. (6)/(33) with constants
    elbo: float             # eq. (5)
    reconstruction: float   # E_x E_q log p(x|z)
    kl: float               # E_x KL(q(z|x) || p(z)), the conditional independence loss
    log_likelihood: float   # E_x log p_θ(x), eq. (57)
    mie: float              # eq. (2), (25)-(26)
    tie: float              # eq. (3), (25), (27)


# ------------------------------------------------------------------ arguments


def check_mixing(A) -> np.ndarray:
    """The mixing matrix A (N×k, N ≥ k) of eq. (17)."""
    A = validation.matrix("A", A)
    N, k = A.shape
    validation.positive_int("A's number of rows N", N, minimum=k)
    return A


def check_parameters(params: Parameters, A) -> Parameters:
    """``params`` as float arrays whose shapes match A (N×k); errors name the argument."""
    A = check_mixing(A)
    N, k = A.shape
    shapes = {"W_mu": (k, N), "b_mu": (k,), "W_sigma": (k, N), "b_sigma": (k,),
              "D": (N, k), "b_D": (N,)}
    values = {}
    for name, shape in shapes.items():
        value = validation.finite_array(name, getattr(params, name), ndim=len(shape))
        if value.shape != shape:
            raise ValueError(f"{name} must have shape {shape} for A of shape {A.shape}; "
                             f"got {value.shape}")
        values[name] = value
    return Parameters(**values)


# ------------------------------------------------------------------ the model


def paper_mixing(N: int = 128, k: int = 2) -> np.ndarray:
    """A_ij = (1 + δ_ij)/2, the mixing matrix of Fig. 1 (N = 128, k = 2).  # §IV.B of [optimal_beta]"""
    N = validation.positive_int("N", N)
    k = validation.positive_int("k", k)
    return check_mixing((np.ones((N, k)) + np.eye(N, k)) / 2)


def Sigma_x(A) -> np.ndarray:
    """Σ_x = A Aᵀ + I_N, the data covariance.  # eq. (18) of [optimal_beta]"""
    A = check_mixing(A)
    return A @ A.T + np.eye(A.shape[0])


def _T(x):
    return np.swapaxes(x, -1, -2)


def _posterior(M):
    """(F, E) with F = (MᵀM + I)⁻¹Mᵀ, E = (MᵀM + I)⁻¹  # eq. (19), (24), (26), (27)"""
    k = M.shape[-1]
    E = np.linalg.inv(_T(M) @ M + np.eye(k))
    return E @ _T(M), E


def posterior(M):
    """Mean map F and covariance E of the Gaussian posterior of a linear-Gaussian model.

    For x = M z + noise with z ~ N(0, I_k) and noise ~ N(0, I_N) the posterior is
    z | x ~ N(F x, E). With M = A it is the ground-truth posterior p_{g-t}(s|x) (eq. 19,
    27); with M = D (and b_D = 0) the model posterior p_θ(z|x) (eq. 24, 26).

    Parameters
    ----------
    M : array_like, shape (N, k)

    Returns
    -------
    (F, E) : tuple of numpy.ndarray
        F = (MᵀM + I_k)⁻¹ Mᵀ of shape (k, N) and E = (MᵀM + I_k)⁻¹ of shape (k, k).

    References
    ----------
    [optimal_beta] eq. (19), (24), (26)-(27) and App. B-C, B-D.
    """
    return _posterior(validation.matrix("M", M))


def _sigma_bar(p: Parameters, Sigma):
    """E_x diag Σ_z = exp(½ [W_σ Σ_x W_σᵀ]_ii + b_σ,i) (lognormal mean)  # eq. (21)"""
    return np.exp(0.5 * np.sum((p.W_sigma @ Sigma) * p.W_sigma, axis=-1) + p.b_sigma)


def _expected_kl(p: Parameters, Sigma, F, f0, E):
    """E_x KL(q(z|x) || N(F x + f0, E)), exact.  # eq. (25), (61) of [optimal_beta]

    KL = ½[tr(E⁻¹Σ_z) + (F x + f0 - μ_z)ᵀE⁻¹(F x + f0 - μ_z) - k + log|E| - log|Σ_z|].
    """
    k = p.b_mu.shape[-1]
    E_inv = np.linalg.inv(E)
    G = F - p.W_mu
    c = f0 - p.b_mu
    # E_x (G x + c)ᵀE⁻¹(G x + c) = tr(E⁻¹ G Σ_x Gᵀ) + cᵀE⁻¹c with G = F - W_μ, c = f0 - b_μ
    mean_term = (np.einsum("...ij,...ji->...", E_inv, G @ Sigma @ _T(G))
                 + np.einsum("...i,...ij,...j->...", c, E_inv, c))
    trace_term = np.einsum("...ii,...i->...", E_inv, _sigma_bar(p, Sigma))
    return 0.5 * (trace_term + mean_term - k + np.linalg.slogdet(E)[1] - p.b_sigma.sum(-1))


def _terms(p: Parameters, Sigma):
    """(reconstruction, KL to the prior), data-averaged, in nats  # eq. (33)-(40), (21)"""
    N, k = p.D.shape[-2:]
    # E||D μ_z + b_D - x||² = tr[(DW_μ - I)Σ_x(DW_μ - I)ᵀ] + ||D b_μ + b_D||², expanded so
    # that nothing N×N is formed per batch element.
    WS = p.W_mu @ Sigma
    DtD = _T(p.D) @ p.D
    residual = (np.einsum("...ij,...ji->...", DtD, WS @ _T(p.W_mu))
                - 2 * np.einsum("...ij,...ji->...", WS, p.D) + np.trace(Sigma))
    offset = np.einsum("...ij,...j->...i", p.D, p.b_mu) + p.b_D
    decoder_noise = np.einsum("...ii,...i->...", DtD, _sigma_bar(p, Sigma))  # E tr(DᵀD Σ_z), eq. (37)
    reconstruction = -0.5 * (N * LOG_2PI + residual + np.sum(offset**2, -1) + decoder_noise)
    zeros = np.zeros(p.W_mu.shape[-2:])
    kl = _expected_kl(p, Sigma, zeros, np.zeros(k), np.eye(k))  # eq. (39) averaged
    return reconstruction, kl


def _log_likelihood(p: Parameters, Sigma):
    """E_x log N(x; b_D, DDᵀ + I_N) for x ~ N(0, Σ_x)  # eq. (55)-(57)"""
    N, k = p.D.shape[-2:]
    # log|DDᵀ + I_N| = log|DᵀD + I_k| and (DDᵀ + I_N)⁻¹ = I_N - D(DᵀD + I_k)⁻¹Dᵀ
    # (push-through and Woodbury, eq. 52 and 54), so nothing N×N is inverted per β.
    K_inv = np.linalg.inv(_T(p.D) @ p.D + np.eye(k))
    Dt_b = np.einsum("...ij,...i->...j", p.D, p.b_D)
    quadratic = (np.trace(Sigma) + np.sum(p.b_D**2, -1)
                 - np.einsum("...ij,...ji->...", K_inv, _T(p.D) @ Sigma @ p.D)
                 - np.einsum("...i,...ij,...j->...", Dt_b, K_inv, Dt_b))
    return -0.5 * (N * LOG_2PI + -np.linalg.slogdet(K_inv)[1] + quadratic)


def _mie(p: Parameters, Sigma):
    """E_x KL(q(z|x) || p_θ(z|x)), p_θ(z|x) = N(F(x - b_D), E) with (F, E) of D  # eq. (25)-(26)"""
    F, E = _posterior(p.D)
    return _expected_kl(p, Sigma, F, -np.einsum("...ij,...j->...i", F, p.b_D), E)


def _tie(p: Parameters, Sigma, A):
    """E_x KL(q(z|x) || p_{g-t}(s|x)) with (F, E) of A  # eq. (25), (27)"""
    F, E = _posterior(A)
    return _expected_kl(p, Sigma, F, np.zeros(A.shape[1]), E)


def terms(params: Parameters, A) -> tuple[float, float]:
    """Data-averaged reconstruction objective and KL to the prior, in nats.

    Parameters
    ----------
    params : Parameters
        Any network of eq. (20) (not only an optimum).
    A : array_like, shape (N, k)
        Mixing matrix, N ≥ k.

    Returns
    -------
    (reconstruction, kl) : tuple of float
        E_x E_q log p(x|z) (constant -N/2 log 2π included) and E_x KL(q(z|x) || p(z)).

    References
    ----------
    [optimal_beta] eq. (33)-(40) and (21).
    """
    p = check_parameters(params, A)
    reconstruction, kl = _terms(p, Sigma_x(A))
    return float(reconstruction), float(kl)


def objective(params: Parameters, A, beta) -> float:
    """L_β = E_x[E_q log p(x|z) - β KL(q(z|x) || p(z))] in nats, constants included.

    Eq. (21) of [optimal_beta] is this minus the constant -N/2 log 2π + βk/2.

    >>> from numerics.tractable_beta_vae import optimum
    >>> A = paper_mixing(4, 2)
    >>> p = optimum(A, 1.0)
    >>> bool(np.isclose(objective(p, A, 1.0), quantities(p, A, 1.0).log_likelihood))
    True
    """
    beta = validation.positive("beta", beta)
    reconstruction, kl = terms(params, A)
    return reconstruction - beta * kl  # eq. (6), (33)


def gradient(params: Parameters, A, beta) -> Parameters:
    """∂L_β/∂θ for every parameter: the left-hand sides of eq. (42)-(47), exact.

    Parameters
    ----------
    params : Parameters
    A : array_like, shape (N, k)
    beta : float > 0

    Returns
    -------
    Parameters
        The gradient of :func:`objective`, parameter by parameter. The paper prints each
        component up to a factor (-1 for (42)-(45), -1/2 for (46)-(47)), which does not
        change the stationarity conditions.

    References
    ----------
    [optimal_beta] eq. (41)-(47), (22)-(23).
    """
    beta = validation.positive("beta", beta)
    p = check_parameters(params, A)
    Sigma = Sigma_x(A)
    k = p.b_mu.shape[0]
    R = p.D @ p.W_mu - np.eye(Sigma.shape[0])
    offset = p.D @ p.b_mu + p.b_D
    sbar = _sigma_bar(p, Sigma)
    weight = np.sum(p.D**2, axis=0) + beta        # [DᵀD]_aa + β
    return Parameters(
        W_mu=-(p.D.T @ R + beta * p.W_mu) @ Sigma,                                  # eq. (42)
        b_mu=-(p.D.T @ offset + beta * p.b_mu),                                     # eq. (43)
        W_sigma=-0.5 * (weight * sbar)[:, None] * (p.W_sigma @ Sigma),              # eq. (46)
        b_sigma=-0.5 * (weight * sbar - beta * np.ones(k)),                         # eq. (47)
        D=-(R @ Sigma @ p.W_mu.T + np.outer(offset, p.b_mu) + p.D * sbar),         # eq. (44)
        b_D=-offset,                                                                # eq. (45)
    )


def log_likelihood(params: Parameters, A) -> float:
    """E_x log p_θ(x) with p_θ(x) = N(b_D, DDᵀ + I_N) and x ~ N(0, Σ_x), in nats.  # eq. (57)"""
    p = check_parameters(params, A)
    return float(_log_likelihood(p, Sigma_x(A)))


def mie(params: Parameters, A) -> float:
    """Model inference error E_x KL(q(z|x) || p_θ(z|x)) in nats.  # eq. (2), (25)-(26)"""
    p = check_parameters(params, A)
    return float(_mie(p, Sigma_x(A)))


def tie(params: Parameters, A) -> float:
    """True inference error E_x KL(q(z|x) || p_{g-t}(s|x)), z compared with s.  # eq. (3), (25), (27)"""
    p = check_parameters(params, A)
    A = check_mixing(A)
    return float(_tie(p, Sigma_x(A), A))


def quantities(params: Parameters, A, beta) -> Quantities:
    """Every quantity of Fig. 1 at one network (``params``, any, not only an optimum) for
    mixing matrix A (N×k) and β > 0, in nats with constants: a :class:`Quantities`.

    References
    ----------
    [optimal_beta] eq. (2)-(6), (21), (25)-(27), (57); Fig. 1.
    """
    beta = validation.positive("beta", beta)
    p = check_parameters(params, A)
    A = check_mixing(A)
    Sigma = Sigma_x(A)
    reconstruction, kl = (float(t) for t in _terms(p, Sigma))
    return Quantities(objective=reconstruction - beta * kl, elbo=reconstruction - kl,
                      reconstruction=reconstruction, kl=kl,
                      log_likelihood=float(_log_likelihood(p, Sigma)),
                      mie=float(_mie(p, Sigma)), tie=float(_tie(p, Sigma, A)))
