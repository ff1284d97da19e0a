"""The TIE of any diagonal Gaussian encoder of [optimal_beta] (§V) under every relabelling of its
latents, from a few data averages: exact for the linear encoder, sample means for a trained network.

References
----------
[optimal_beta] "β-VAE with a finite optimal β" (paper 003),
    shared/papers/003_a1eafab620a812b7.txt.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from numerics import validation
from numerics.tractable_beta_vae.model import Parameters, Sigma_x, _posterior, _sigma_bar, check_mixing, check_parameters


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
