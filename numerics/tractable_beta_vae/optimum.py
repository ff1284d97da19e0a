"""The global maximisers of L_β of [optimal_beta] in closed form, and their signed relabellings.

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
(:func:`optima`, :func:`numerics.tractable_beta_vae.phase.sweep`).

References
----------
[optimal_beta] "β-VAE with a finite optimal β" (paper 003),
    shared/papers/003_a1eafab620a812b7.txt.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from numerics import validation
from numerics.tractable_beta_vae.model import Parameters, _T, check_mixing

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


def _active(A, beta) -> int:
    """The number of active latents r = #{λ_i > β}."""
    lam, _ = _spectrum(A)
    return int(np.sum(lam > beta))


def _continuum(A, r, rtol) -> bool:
    """Whether the optimal set is a continuum: one of the r active eigenvalues ties with the next."""
    lam, _ = _spectrum(A)
    spectrum = np.append(lam, 1.0) if A.shape[0] > A.shape[1] else lam
    return bool(np.any(np.isclose(spectrum[:-1], spectrum[1:], rtol=rtol, atol=0.0)[:r]))


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
    r = _active(A, beta)
    k = A.shape[1]
    return math.inf if _continuum(A, r, rtol) else float(math.perm(k, r) * 2**r)


def optima(A, beta) -> tuple[Parameters, ...]:
    """Every global maximiser of L_β: the distinct signed relabellings of :func:`optimum`.

    They share L_β, ELBO, reconstruction, KL, log-likelihood and MIE; TIE differs between
    them. When :func:`number_of_optima` is inf (repeated active eigenvalue) the
    maximisers form a continuum and this returns the orbit of one eigenbasis only.

    Parameters
    ----------
    A : array_like, shape (N, k)
    beta : float > 0

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
    r = _active(A, beta)
    k = A.shape[1]
    seen, found = set(), []
    for perm, signs in signed_permutations(k):
        # collapsed latents (index >= r) are all zero: their order and sign do not matter
        key = tuple((perm.index(i), signs[perm.index(i)]) for i in range(r))
        if key not in seen:
            seen.add(key)
            found.append(relabel(best, perm, signs))
    return tuple(found)
