"""The analytically tractable β-VAE of [optimal_beta] (§IV.B and Appendix B), solved.

Data x = A s + η with s ~ N(0, I_k), η ~ N(0, I_N) (eq. 17), so x ~ N(0, Σ_x) with
Σ_x = A Aᵀ + I_N (eq. 18). Encoder q(z|x) = N(W_μ x + b_μ, diag exp(W_σ x + b_σ))
(eq. 20); decoder p(x|z) = N(D z + b_D, I_N) (σ_y = 1); prior p(z) = N(0, I_k).

Every expectation over x is exact (Gaussian moments and the lognormal mean
E exp(wᵀx) = exp(wᵀΣ_x w / 2)), and every quantity is in nats with all constants: the
paper's eq. (21) drops the additive constant -N/2 log 2π + βk/2.

The optimum (the paper solves eq. 23 numerically; here it is in closed form, derived in
``derivations.tractable_beta_vae``): b_μ = b_D = 0 (eq. 22), W_σ = 0 (eq. 46 with Σ_x ≻ 0),
and with λ_1 ≥ ... ≥ λ_k the largest eigenvalues of Σ_x (λ_i = 1 + s_i², s_i the singular
values of A) and u_i their eigenvectors,

    D = [u_1 g_1, ..., u_k g_k],  g_i² = max(λ_i - β, 0),
    W_μ = (DᵀD + β I_k)⁻¹ Dᵀ,      exp(b_σ,i) = β / (g_i² + β).

A latent with λ_i ≤ β is collapsed (g_i = 0, q(z_i|x) = p(z_i)). The objective is
invariant under signed permutations of the latents, so with r active latents and distinct
eigenvalues there are k!/(k-r)! · 2^r equivalent global optima; with a repeated active
eigenvalue they form a continuum (any orthonormal basis of the eigenspace). ELBO, KL,
reconstruction, log-likelihood and MIE are the same at every optimum; TIE is not, since
it compares z with the ground-truth sources s coordinate by coordinate
(:func:`optima`, :func:`sweep`).

Everything private is written for arrays with leading batch axes, so a sweep over β and
over the equivalent optima is a handful of numpy calls.

References
----------
[optimal_beta] "β-VAE with a finite optimal β" (paper 003),
    shared/papers/003_a1eafab620a812b7.txt.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, fields

import numpy as np
from scipy import optimize
from tqdm import tqdm

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


@dataclass(frozen=True)
class Sweep:
    """The optimum's quantities over a β grid; ``tie`` has one column per branch.

    A branch is one signed permutation of the latents applied to the canonical optimum
    (``branches[j]`` = (permutation, signs)); it follows one optimum continuously in β.
    """
    beta: np.ndarray
    objective: np.ndarray
    elbo: np.ndarray
    reconstruction: np.ndarray
    kl: np.ndarray
    log_likelihood: np.ndarray
    mie: np.ndarray
    tie: np.ndarray
    branches: tuple
    n_optima: np.ndarray


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


# ------------------------------------------------------------------ optima


def _encoder(D, b_D, beta):
    """The maximiser of L_β over the encoder for a fixed decoder (batched over β)."""
    k = D.shape[-1]
    beta = np.asarray(beta, dtype=float)[..., None]
    M = _T(D) @ D + beta[..., None] * np.eye(k)
    W_mu = np.linalg.solve(M, _T(D))                                      # eq. (42)
    b_mu = -np.linalg.solve(M, np.einsum("...ji,...j->...i", D, b_D)[..., None])[..., 0]  # eq. (43)
    b_sigma = np.log(beta / (np.sum(D**2, axis=-2) + beta))              # eq. (47) with W_σ = 0
    W_sigma = np.zeros(W_mu.shape)                                        # eq. (46)
    return Parameters(W_mu, b_mu, W_sigma, b_sigma, D, np.broadcast_to(b_D, D.shape[:-1]).copy())


def encoder_optimum(D, b_D, beta) -> Parameters:
    """The optimal encoder for a fixed decoder (D, b_D): the setting of §IV.A.

    L_β is strictly concave in (W_μ, b_μ) and in (W_σ, b_σ) for fixed D, and its unique
    maximiser is W_μ = (DᵀD + βI)⁻¹Dᵀ, b_μ = -(DᵀD + βI)⁻¹Dᵀb_D, W_σ = 0 and
    exp(b_σ,i) = β / ([DᵀD]_ii + β).

    Parameters
    ----------
    D : array_like, shape (N, k)
    b_D : array_like, shape (N,)
    beta : float > 0

    Returns
    -------
    Parameters
        The optimal encoder together with the given decoder.

    References
    ----------
    [optimal_beta] §IV.A; eq. (42), (43), (46), (47).
    """
    beta = validation.positive("beta", beta)
    D = validation.matrix("D", D)
    b_D = validation.finite_array("b_D", b_D, ndim=1)
    if b_D.shape != (D.shape[0],):
        raise ValueError(f"b_D must have shape ({D.shape[0]},) to match D; got {b_D.shape}")
    return _encoder(D, b_D, beta)


def _spectrum(A):
    """Top-k eigenvalues λ (descending) and eigenvectors U of Σ_x, via the SVD of A."""
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    # canonical sign: the first entry of magnitude >= half the largest is positive
    lead = np.argmax(np.abs(U) >= 0.5 * np.max(np.abs(U), axis=0), axis=0)
    U = U * np.sign(U[lead, np.arange(U.shape[1])])
    return 1.0 + s**2, U


def _canonical(A, betas):
    """The canonical optimum for each β (latents in decreasing λ, canonical signs), batched."""
    lam, U = _spectrum(A)
    betas = np.asarray(betas, dtype=float)
    g = np.sqrt(np.maximum(lam - betas[..., None], 0.0))
    D = U * g[..., None, :]
    return _encoder(D, np.zeros(A.shape[0]), betas)


def signed_permutations(k: int) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """All (permutation, signs) pairs acting on k latents: 2^k k! symmetries of L_β."""
    k = validation.positive_int("k", k)
    return [(perm, signs) for perm in itertools.permutations(range(k))
            for signs in itertools.product((1, -1), repeat=k)]


def relabel(params: Parameters, perm, signs) -> Parameters:
    """The network with latent z'_j = signs[j] z_{perm[j]}: same L_β, ELBO, KL and MIE.

    The prior N(0, I) and the diagonal encoder family are invariant under z -> P z for a
    signed permutation matrix P, so W_μ -> P W_μ, b_μ -> P b_μ, W_σ -> |P| W_σ,
    b_σ -> |P| b_σ, D -> D Pᵀ leaves every term of eq. (21) unchanged.
    """
    perm, s = list(perm), np.asarray(signs, dtype=float)
    return Parameters(W_mu=s[:, None] * params.W_mu[..., perm, :], b_mu=s * params.b_mu[..., perm],
                      W_sigma=params.W_sigma[..., perm, :], b_sigma=params.b_sigma[..., perm],
                      D=params.D[..., :, perm] * s, b_D=params.b_D)


def _active(A, beta, rtol):
    """(number of active latents r, whether the optimal set is a continuum)."""
    lam, _ = _spectrum(A)
    r = int(np.sum(lam > beta))
    spectrum = np.append(lam, 1.0) if A.shape[0] > A.shape[1] else lam
    tied = np.isclose(spectrum[:-1], spectrum[1:], rtol=rtol, atol=0.0)[:r]
    return r, bool(np.any(tied))


def optimum(A, beta) -> Parameters:
    """The canonical global maximiser of L_β (eq. 21) for mixing matrix A.

    Parameters
    ----------
    A : array_like, shape (N, k)
        Mixing matrix of eq. (17), N ≥ k.
    beta : float > 0

    Returns
    -------
    Parameters
        b_μ = b_D = 0, W_σ = 0, D = [u_i sqrt(max(λ_i - β, 0))] with the latents in
        decreasing λ_i and each u_i signed so that its first entry of magnitude at least
        half the largest is positive; W_μ and b_σ from :func:`encoder_optimum`.
        :func:`optima` lists every equivalent maximiser.

    References
    ----------
    [optimal_beta] eq. (21)-(23), solved in closed form (derivations.tractable_beta_vae).
    """
    beta = validation.positive("beta", beta)
    return _canonical(check_mixing(A), beta)


def number_of_optima(A, beta, *, rtol: float = 1e-9) -> float:
    """How many global maximisers L_β has: k!/(k-r)! 2^r, or inf for a continuum.

    r is the number of eigenvalues λ_i of Σ_x among the largest k with λ_i > β (the
    active latents). The optimal set is a continuum when two active eigenvalues coincide
    or the k-th one equals the (k+1)-th (eigenvalues within ``rtol`` count as equal).
    """
    beta = validation.positive("beta", beta)
    A = check_mixing(A)
    r, continuum = _active(A, beta, rtol)
    k = A.shape[1]
    return math.inf if continuum else float(math.perm(k, r) * 2**r)


def optima(A, beta, *, rtol: float = 1e-9) -> tuple[Parameters, ...]:
    """Every global maximiser of L_β: the distinct signed relabellings of :func:`optimum`.

    They share L_β, ELBO, reconstruction, KL, log-likelihood and MIE; TIE differs between
    them. When :func:`number_of_optima` is inf (repeated active eigenvalue) the
    maximisers form a continuum and this returns the orbit of one eigenbasis only.

    Parameters
    ----------
    A : array_like, shape (N, k)
    beta : float > 0
    rtol : float
        Relative tolerance under which eigenvalues count as equal.

    Returns
    -------
    tuple of Parameters
        k!/(k-r)! 2^r parameter sets, canonical one first.

    References
    ----------
    [optimal_beta] eq. (21)-(23).
    """
    best = optimum(A, beta)
    A = check_mixing(A)
    r, _ = _active(A, beta, rtol)
    k = A.shape[1]
    seen, found = set(), []
    for perm, signs in signed_permutations(k):
        # collapsed latents (index >= r) are all zero: their order and sign do not matter
        key = tuple((perm.index(i), signs[perm.index(i)]) for i in range(r))
        if key not in seen:
            seen.add(key)
            found.append(relabel(best, perm, signs))
    return tuple(found)


# ------------------------------------------------------------------ β sweeps (Fig. 1)


def sweep(A, betas, *, progress: bool = False, chunk: int = 256) -> Sweep:
    """The optimum's quantities on a β grid, TIE on every branch of equivalent optima.

    Parameters
    ----------
    A : array_like, shape (N, k)
    betas : array_like
        Positive β values (1-D).
    progress : bool
        Show a tqdm progress bar over chunks of the grid.
    chunk : int
        β values evaluated per batched call.

    Returns
    -------
    Sweep
        Arrays over ``betas``; ``tie`` has shape (len(betas), 2^k k!), one column per
        signed permutation of the canonical optimum.

    References
    ----------
    [optimal_beta] §IV.B and Fig. 1.
    """
    A = check_mixing(A)
    betas = validation.array_in("betas", np.atleast_1d(betas), 0.0)
    if betas.ndim != 1:
        raise ValueError(f"betas must be 1-D; got shape {betas.shape}")
    Sigma = Sigma_x(A)
    branches = tuple(signed_permutations(A.shape[1]))
    names = ("objective", "elbo", "reconstruction", "kl", "log_likelihood", "mie")
    out = {name: [] for name in names + ("tie",)}
    starts = range(0, betas.size, chunk)
    for start in tqdm(starts, desc="beta sweep", disable=not progress):
        b = betas[start:start + chunk]
        p = _canonical(A, b)
        reconstruction, kl = _terms(p, Sigma)
        for name, value in zip(names, (reconstruction - b * kl, reconstruction - kl,
                                       reconstruction, kl, _log_likelihood(p, Sigma),
                                       _mie(p, Sigma))):
            out[name].append(value)
        out["tie"].append(np.stack([_tie(relabel(p, perm, signs), Sigma, A)
                                    for perm, signs in branches], axis=-1))
    n_optima = np.array([number_of_optima(A, b) for b in betas])
    return Sweep(beta=betas, branches=branches, n_optima=n_optima,
                 **{name: np.concatenate(values) for name, values in out.items()})


def minimise_over_beta(f, betas, values=None) -> tuple[float, float]:
    """(β*, f(β*)): the grid minimiser of a scalar function of β, refined by bounded Brent
    search in log β between the grid neighbours of the best grid point.

    Parameters
    ----------
    f : callable
        f(beta) -> float.
    betas : array_like
        Increasing positive grid.
    values : array_like, optional
        f on the grid, when already computed (e.g. a column of :func:`sweep`).

    Returns
    -------
    (beta_star, value) : tuple of float
        The refined minimiser, or the grid end point when the minimum lies on an edge.
    """
    betas = validation.array_in("betas", betas, 0.0)
    values = np.array([f(b) for b in betas] if values is None else values, dtype=float)
    i = int(np.argmin(values))
    if i in (0, betas.size - 1):
        return float(betas[i]), float(values[i])
    result = optimize.minimize_scalar(lambda t: f(math.exp(t)), method="bounded",
                                      bounds=(math.log(betas[i - 1]), math.log(betas[i + 1])),
                                      options={"xatol": 1e-10})
    if result.fun <= values[i]:
        return float(math.exp(result.x)), float(result.fun)
    return float(betas[i]), float(values[i])


# ------------------------------------------------------------------ TIE of any diagonal Gaussian encoder (§V)


@dataclass(frozen=True)
class EncoderMoments:
    """The data averages that fix the TIE of a diagonal Gaussian encoder under every relabelling.

    For q(z|x) = N(μ(x), diag σ²(x)) and the ground truth p_{g-t}(s|x) = N(F x, E)
    (eq. 19; E⁻¹F = Aᵀ), TIE = E_x KL(q || p_{g-t}) (eq. 3) depends on the encoder only
    through these averages, also after z -> Q z for a signed permutation Q. They are
    exact for the linear encoder of eq. (20) (:func:`encoder_moments`) and sample means
    for any other one, e.g. a trained network (:func:`sample_moments`).
    """
    sigma2: np.ndarray      # E σ_j²(x), shape (k,)
    log_sigma2: np.ndarray  # E log σ_j²(x), shape (k,)
    mu2: np.ndarray         # E μ(x) μ(x)ᵀ, (k, k)
    cross: np.ndarray       # E (Aᵀx) μ(x)ᵀ = E (E⁻¹F x) μ(x)ᵀ, (k, k): row = source, column = latent
    target: float           # E xᵀ Fᵀ E⁻¹ F x
    E: np.ndarray           # (AᵀA + I_k)⁻¹, the ground-truth posterior covariance


def _moments(A, sigma2, log_sigma2, mu2, cross, target_matrix):
    F, E = _posterior(A)
    return EncoderMoments(sigma2=sigma2, log_sigma2=log_sigma2, mu2=mu2, cross=cross,
                          target=float(np.sum((A @ F) * target_matrix)), E=E)  # E⁻¹F = Aᵀ


def sample_moments(mu, log_sigma2, x, A) -> EncoderMoments:
    """Sample averages of an encoder's outputs on draws x of p(x) (Monte Carlo over x).

    Parameters
    ----------
    mu, log_sigma2 : array_like, shape (n, k)
        The encoder's means and log-variances at the n observations.
    x : array_like, shape (n, N)
        The observations, draws of x = A s + η (eq. 17).
    A : array_like, shape (N, k)
        The ground-truth mixing matrix.

    Returns
    -------
    EncoderMoments
        The sample means; :func:`relabelled_tie` of them is the sample mean of the
        per-observation KL(q(z|x) || p_{g-t}(s|x)), exactly.

    References
    ----------
    [optimal_beta] eq. (3), (19); App. C ("using the modelled μ_z and Σ_z and estimating
    p(x) from mini-batches").
    """
    A = check_mixing(A)
    N, k = A.shape
    x = validation.matrix("x", x, (None, N))
    mu = validation.matrix("mu", mu, (x.shape[0], k))
    log_sigma2 = validation.matrix("log_sigma2", log_sigma2, (x.shape[0], k))
    n = x.shape[0]
    projected = x @ A                                               # rows (Aᵀx)ᵀ = (E⁻¹F x)ᵀ
    return _moments(A, np.exp(log_sigma2).mean(0), log_sigma2.mean(0), mu.T @ mu / n,
                    projected.T @ mu / n, x.T @ x / n)


def encoder_moments(params: Parameters, A) -> EncoderMoments:
    """Exact :class:`EncoderMoments` of the linear encoder of eq. (20) for x ~ N(0, Σ_x).

    E σ² is the lognormal mean (as in eq. 21), E log σ_j² = b_σ,j, E μμᵀ = W_μΣ_xW_μᵀ +
    b_μb_μᵀ and E (Aᵀx) μᵀ = AᵀΣ_xW_μᵀ.

    Parameters
    ----------
    params : Parameters
        Any network of eq. (20); only the encoder enters.
    A : array_like, shape (N, k)
        The ground-truth mixing matrix (x = A s + η).

    Returns
    -------
    EncoderMoments

    References
    ----------
    [optimal_beta] eq. (18)-(21), (25).
    """
    p = check_parameters(params, A)
    A = check_mixing(A)
    Sigma = Sigma_x(A)
    return _moments(A, _sigma_bar(p, Sigma), p.b_sigma, p.W_mu @ Sigma @ p.W_mu.T + np.outer(p.b_mu, p.b_mu),
                    A.T @ Sigma @ p.W_mu.T, Sigma)


def _check_relabelling(perm, signs, k):
    perm = np.arange(k) if perm is None else np.asarray(perm)
    signs = np.ones(k) if signs is None else np.asarray(signs, dtype=float)
    if sorted(perm.tolist()) != list(range(k)):
        raise ValueError(f"perm must be a permutation of 0..{k - 1}; got {perm.tolist()}")
    if signs.shape != (k,) or not np.all(np.abs(signs) == 1):
        raise ValueError(f"signs must be {k} entries of +1 or -1; got {signs.tolist()}")
    return perm, signs


def relabelled_tie(m: EncoderMoments, perm=None, signs=None) -> float:
    """TIE after relabelling the latents: z'_j = signs[j] z_{perm[j]} is compared with s_j.

    2 TIE = tr(E⁻¹ Q S̄ Qᵀ) + target - 2 Σ (Q ∘ cross) + tr(E⁻¹ Q E[μμᵀ] Qᵀ) - k + log|E|
    - E Σ log σ², with Q_{j, perm[j]} = signs[j] and S̄ = diag E σ² (eq. 25 and 61 with
    E = (AᵀA + I)⁻¹, F = (AᵀA + I)⁻¹Aᵀ). Without ``perm``/``signs``: TIE as the paper
    defines it, latent j against source j.

    Parameters
    ----------
    m : EncoderMoments
    perm : sequence of int, optional
        A permutation of 0..k-1.
    signs : sequence of ±1, optional

    Returns
    -------
    float
        TIE in nats.

    References
    ----------
    [optimal_beta] eq. (3), (25), (27), (61).
    """
    k = m.sigma2.shape[0]
    perm, signs = _check_relabelling(perm, signs, k)
    Q = np.zeros((k, k))
    Q[np.arange(k), perm] = signs
    E_inv = np.linalg.inv(m.E)
    quadratic = np.sum(E_inv * (Q @ m.mu2 @ Q.T)) - 2 * np.sum(Q * m.cross) + m.target
    trace = np.diag(E_inv) @ m.sigma2[perm]
    return 0.5 * float(trace + quadratic - k + np.linalg.slogdet(m.E)[1] - m.log_sigma2.sum())


def mean_relabelled_tie(m: EncoderMoments) -> float:
    """The mean of :func:`relabelled_tie` over all 2^k k! signed permutations, in closed form.

    Averaged over signs every Q_jl and every off-diagonal [Q E[μμᵀ] Qᵀ]_jj' vanish, and over
    permutations each diagonal entry is the mean of the diagonal:
    2 mean = tr(E⁻¹)(Σ E σ² + tr E[μμᵀ])/k + target - k + log|E| - E Σ log σ². It is the
    expected TIE of a network whose labelling is uniformly random (e.g. over seeds).

    Parameters
    ----------
    m : EncoderMoments

    Returns
    -------
    float
        The mean TIE in nats.

    References
    ----------
    [optimal_beta] eq. (3), (25).
    """
    k = m.sigma2.shape[0]
    E_inv_trace = np.trace(np.linalg.inv(m.E))
    return 0.5 * float(E_inv_trace * (m.sigma2.sum() + np.trace(m.mu2)) / k + m.target - k
                       + np.linalg.slogdet(m.E)[1] - m.log_sigma2.sum())


def best_relabelling(m: EncoderMoments) -> tuple[tuple[int, ...], tuple[int, ...], float]:
    """The signed permutation of the latents with the smallest TIE: (perm, signs, TIE).

    Without the off-diagonal part of E[μμᵀ] the TIE is a sum over (source j, latent l)
    pairs, ½(E⁻¹)_jj (E σ_l² + E μ_l²) - |cross_jl| with the sign of cross_jl, so a linear
    assignment (Hungarian) gives the exact minimum; this is the case at the optimum of the
    tractable model (W_μΣ_xW_μᵀ is diagonal). The assignment then starts a descent over
    swaps of two latents and single sign flips on the exact :func:`relabelled_tie`, which
    covers a small off-diagonal part (e.g. a trained network); for a large one the result
    is an upper bound on the minimum over all 2^k k! relabellings.

    Parameters
    ----------
    m : EncoderMoments

    Returns
    -------
    (perm, signs, tie) : tuple
        The relabelling z'_j = signs[j] z_{perm[j]} and its TIE in nats (a local minimum
        over swaps and sign flips; the global one when E[μμᵀ] is diagonal).

    References
    ----------
    [optimal_beta] eq. (3), (25); the equivalent optima of §IV.B.
    """
    k = m.sigma2.shape[0]
    E_inv_diag = np.diag(np.linalg.inv(m.E))
    cost = 0.5 * np.outer(E_inv_diag, m.sigma2 + np.diag(m.mu2)) - np.abs(m.cross)
    rows, perm = optimize.linear_sum_assignment(cost)
    perm = perm[np.argsort(rows)]
    signs = np.where(m.cross[np.arange(k), perm] < 0, -1.0, 1.0)
    best = relabelled_tie(m, perm, signs)
    while True:
        moves = [(np.where(np.arange(k) == j, -signs, signs), perm) for j in range(k)]
        for i, j in itertools.combinations(range(k), 2):
            swapped = perm.copy()
            swapped[[i, j]] = perm[[j, i]]
            moves.append((signs, swapped))
        values = [relabelled_tie(m, p, s) for s, p in moves]
        i = int(np.argmin(values))
        if values[i] >= best - 1e-12 * abs(best):
            return tuple(int(v) for v in perm), tuple(int(v) for v in signs), best
        (signs, perm), best = moves[i], values[i]


def latent_kl(m: EncoderMoments) -> np.ndarray:
    """E_x KL(q(z_j|x) || N(0, 1)) per latent, from the moments: ½(E σ_j² + E μ_j² - 1 - E log σ_j²).

    For the linear encoder it sums to the KL of :func:`terms`; at the optimum latent j has
    ½ log(λ_j/β) when λ_j > β and 0 when it is collapsed.

    Parameters
    ----------
    m : EncoderMoments

    Returns
    -------
    numpy.ndarray, shape (k,)
        KL per latent in nats.

    References
    ----------
    [optimal_beta] eq. (39).
    """
    return 0.5 * (m.sigma2 + np.diag(m.mu2) - 1 - m.log_sigma2)
