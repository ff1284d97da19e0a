"""The linear latent-variable model of [wang_ziyin]: closed-form global minima, the
optimal decoder variance and the collapse classifier.

Model (§3): encoder z = W^T x + ε, ε ~ N(0, Σ), Σ = diag(σ_1², ..., σ_{d1}²); decoder
p(y|z) = N(U z, η_dec² I); prior p(z) = N(0, η_enc² I); the KL term weighted by β. The
data enter through A = E[x x^T] and the least-squares map M of y on x: y = M x exactly
when y is linear in x, and otherwise ``residual`` = E||y - M x||² is the part of E||y||²
that no linear map of x explains (the paper drops it: see ``moments``).

Notation (§3): A = P_A Φ P_A^T with the d0 positive eigenvalues Φ; x~ = Φ^{-1/2} P_A^T x;
Z = E[y x~^T] = M P_A Φ^{1/2} = F Σ_Z G^T with singular values ζ_1 ≥ ... ≥ ζ_{d*},
d* = min(d0, d2). Latent i of the global minimum serves mode i of Z.

Corrections to the paper implemented here (the catalogue has the counterexamples):

* Prop. 2 / Cor. 1 for a fixed, non-isotropic Σ: the smallest σ serves the largest ζ
  (the paper pairs σ_i with ζ_i whatever their order), and U* = F Λ P only for P that
  permutes latents of equal σ (not any orthogonal P).
* Thm. 2: σ_i* = η_enc (not 0) for latents beyond d* (their ζ_i = 0).
* App. D eq. (49)-(50): the sums run to d̂*, not d̂_1; a residual adds to them.

References
----------
[wang_ziyin] Z. Wang and L. Ziyin, "Posterior Collapse of a Linear Latent Variable
    Model", shared/papers/004_1e5dba7473d2cfc0.txt.
"""
from __future__ import annotations

from dataclasses import dataclass

import mpmath as mp
import numpy as np

from numerics import validation
from numerics.backend import MPMATH, NUMPY

# What rank means here: a value of a computed spectrum counts as zero iff it is at most
# _RANK_ULPS n ε times the largest value, with n the larger dimension of the decomposed
# matrix (A: D0; Z: max(d0, d2)) and ε the float64 machine epsilon. Justification: an
# exact zero comes out of a backward-stable eigh / svd of a matrix formed in float64 as a
# value of size O(n ε) times the largest (the eigensolver's backward error; forming
# A = X^T X / n adds O(ε) per entry); measured over 3000 random rank-deficient training
# sets (n <= 5000 samples, D0 <= 8), A = R R^T and rank-deficient Z, the spurious values
# stay below 0.95 n ε times the largest (tests/test_linear_latent_model.py holds them below
# a quarter of the tolerance). Every value kept is therefore resolved by float64 to a
# relative accuracy of 1/_RANK_ULPS or better; a smaller genuine value (cond(A) above about
# 1/(16 n ε) ~ 1e14) cannot be told from rounding noise and is treated as 0.
_RANK_ULPS = 16


def _rank_rtol(n: int) -> float:
    """Relative tolerance below which a computed spectral value of an n x n (or n x m,
    n >= m) float64 matrix counts as zero: _RANK_ULPS n ε (see above)."""
    return _RANK_ULPS * n * np.finfo(float).eps


def _hyper(beta, eta_enc, eta_dec):
    return (validation.positive("beta", beta), validation.positive("eta_enc", eta_enc),
            validation.positive("eta_dec", eta_dec))


@dataclass(frozen=True)
class Spectrum:
    """The whitened data of §3: A = P_A Φ P_A^T and Z = M P_A Φ^{1/2} = F Σ_Z G^T."""
    P_A: np.ndarray    # D0 x d0, eigenvectors of A with positive eigenvalues
    Phi: np.ndarray    # (d0,), those eigenvalues
    Z: np.ndarray      # d2 x d0
    F: np.ndarray      # d2 x d2, left singular vectors of Z
    G: np.ndarray      # d0 x d0, right singular vectors of Z
    zeta: np.ndarray   # (d*,), singular values of Z, non-increasing, exact zeros kept 0


def spectrum(A, M) -> Spectrum:
    """The eigen-decomposition of A and the SVD of Z = M P_A Φ^{1/2} (notation of §3).

    Rank: d0 = rank A counts the eigenvalues φ_i > 16 D0 ε φ_max, and a singular value
    ζ_i ≤ 16 max(d0, d2) ε ζ_1 is set to exactly 0 (ε = 2.2e-16, the float64 resolution
    of a computed spectrum; see ``_RANK_ULPS``). So an A with cond(A) up to about 1e13
    keeps all its directions, and a rank-deficient A formed in float64 loses its
    rounding-noise eigenvalues.

    Parameters
    ----------
    A : array_like, D0 x D0
        Second moment E[x x^T]: symmetric positive semidefinite, not zero.
    M : array_like, d2 x D0
        The linear map y = M x.

    Returns
    -------
    Spectrum
        ``zeta`` holds the d* = min(d0, d2) singular values ζ_i of Z; ζ_i² are the
        eigenvalues of Z Z^T = M A M^T (eq. (9) with the transposes corrected).

    References
    ----------
    [wang_ziyin] §3 (Notation), eq. (9).
    """
    A = validation.psd("A", A)
    M = validation.matrix("M", M, (None, A.shape[0]))
    phi, P = np.linalg.eigh(A)
    keep = phi > _rank_rtol(A.shape[0]) * phi[-1]
    P_A, Phi = P[:, keep][:, ::-1], phi[keep][::-1]
    Z = (M @ P_A) * np.sqrt(Phi)  # Z = E[y x~^T] = M P_A Φ^{1/2}
    F, zeta, Gt = np.linalg.svd(Z)
    zeta = np.where(zeta > _rank_rtol(max(Z.shape)) * zeta[:1], zeta, 0.0)   # zeta[:1]: ζ_1 (none if d* = 0)
    return Spectrum(P_A, Phi, Z, F, Gt.T, zeta)


def moments(X, Y, *, center: bool = False):
    """(A, M, residual) of a training set, the only data the objective (5) depends on.

    A = E_x[x x^T]; M = E[y x^T] A^+ is the least-squares map of y on x (so Z of §3 is
    M P_A Φ^{1/2}); residual = E||y - M x||² = E||y||² - ||Z||_F² ≥ 0. The paper's
    eq. (72) and Corollary 2 take ||Z||_F² = E||y||², which holds iff residual = 0, i.e.
    iff y is a linear function of x on the training set.

    Parameters
    ----------
    X : array_like, n x D0
        Inputs, one per row.
    Y : array_like, n x d2
        Targets, one per row.
    center : bool
        Subtract the means first: the model with learnable biases sees centred data
        (Proposition 4).

    Returns
    -------
    tuple
        (A, M, residual).

    References
    ----------
    [wang_ziyin] §3, App. E.1 eq. (70)-(72), App. B.
    """
    X = validation.matrix("X", X)
    Y = validation.matrix("Y", Y, (X.shape[0], None))
    if center:
        X, Y = X - X.mean(axis=0), Y - Y.mean(axis=0)
    n = X.shape[0]
    A = X.T @ X / n
    M = (Y.T @ X / n) @ np.linalg.pinv(A, rcond=_rank_rtol(A.shape[0]), hermitian=True)
    residual = float(np.mean(np.sum((Y - X @ M.T) ** 2, axis=1)))
    return A, M, residual


def optimal_biases(W, mean_x, mean_y):
    """(b_e*, b_d*) = (-W^T E[x], E[y]).  # Proposition 4 of [wang_ziyin]

    Parameters
    ----------
    W : array_like, D0 x d1
        Encoder weights.
    mean_x, mean_y : array_like
        E[x] (D0,) and E[y] (d2,).

    Returns
    -------
    tuple
        The encoder and decoder biases that minimise eq. (20)-(21) for every U, W, Σ.

    References
    ----------
    [wang_ziyin] App. B, Proposition 4, eq. (22)-(25).
    """
    W = validation.matrix("W", W)
    mean_x = validation.finite_array("mean_x", mean_x, ndim=1)
    mean_y = validation.finite_array("mean_y", mean_y, ndim=1)
    if mean_x.shape[0] != W.shape[0]:
        raise ValueError(f"mean_x must have length {W.shape[0]} (rows of W); got {mean_x.shape[0]}")
    return -W.T @ mean_x, mean_y.copy()


def equivalent_offset(C, f, A):
    """f'_i = sqrt(f_i² + C_i A C_i^T): data-independent σ with the same E_x σ_i²(x).

    For σ(x) = |C x + f| and zero-mean x, E_x σ_i²(x) = f_i² + C_i A C_i^T (eq. 31), so
    the constant σ_i = f'_i matches it (Lemma 1) and, by Jensen, never has a larger
    objective (Proposition 5).

    Parameters
    ----------
    C : array_like, d1 x D0
        Slopes of the encoder standard deviation.
    f : array_like, (d1,)
        Offsets.
    A : array_like, D0 x D0
        E[x x^T] of zero-mean inputs.

    Returns
    -------
    numpy.ndarray, (d1,)
        f'.

    References
    ----------
    [wang_ziyin] App. C, eq. (31), Lemma 1 eq. (37), Proposition 5.
    """
    A = validation.psd("A", A)
    C = validation.matrix("C", C, (None, A.shape[0]))
    f = validation.finite_array("f", f, ndim=1)
    if f.shape[0] != C.shape[0]:
        raise ValueError(f"f must have length {C.shape[0]} (rows of C); got {f.shape[0]}")
    return np.sqrt(f**2 + np.einsum("ij,jk,ik->i", C, A, C))


def objective_terms(A, M, U, W, sigma, beta, eta_enc=1.0, eta_dec=1.0, *, residual=0.0):
    """(reconstruction, ℓ_mean, ℓ_var) of L_VAE, eq. (5); their sum is the objective.

    reconstruction = [E||U W^T x - y||² + Tr(U Σ U^T)] / (2 η_dec²),
    ℓ_mean = β Tr(W^T A W) / (2 η_enc²), ℓ_var = Σ_i β/2 (σ_i²/η_enc² - 1 - log σ_i²/η_enc²),
    without the decoder's partition function (d2/2) log(2π η_dec²).

    Parameters
    ----------
    A : array_like, D0 x D0
        E[x x^T].
    M : array_like, d2 x D0
        y = M x (plus a residual E||y - M x||² = ``residual``).
    U : array_like, d2 x d1
        Decoder.
    W : array_like, D0 x d1
        Encoder.
    sigma : array_like, (d1,)
        Encoder standard deviations σ_i > 0.
    beta, eta_enc, eta_dec : float
        KL weight and the prior / decoder standard deviations, all > 0.

    Returns
    -------
    tuple of float

    References
    ----------
    [wang_ziyin] eq. (2)-(5).
    """
    A = validation.psd("A", A)
    D0 = A.shape[0]
    M = validation.matrix("M", M, (None, D0))
    W = validation.matrix("W", W, (D0, None))
    d1 = W.shape[1]
    U = validation.matrix("U", U, (M.shape[0], d1))
    sigma = validation.array_in("sigma", sigma, 0.0)
    if sigma.shape != (d1,):
        raise ValueError(f"sigma must have shape ({d1},) (columns of W); got {sigma.shape}")
    beta, eta_enc, eta_dec = _hyper(beta, eta_enc, eta_dec)
    residual = validation.nonnegative("residual", residual)
    E = U @ W.T - M
    recon = (np.trace(E @ A @ E.T) + residual + np.sum(U**2 * sigma**2)) / (2 * eta_dec**2)
    l_mean = beta * np.trace(W.T @ A @ W) / (2 * eta_enc**2)
    ratio = (sigma / eta_enc) ** 2
    l_var = beta / 2 * np.sum(ratio - 1 - np.log(ratio))
    return float(recon), float(l_mean), float(l_var)


def objective(A, M, U, W, sigma, beta, eta_enc=1.0, eta_dec=1.0, *, residual=0.0) -> float:
    """L_VAE(U, W, Σ) of eq. (5) (no decoder partition function); see ``objective_terms``."""
    return sum(objective_terms(A, M, U, W, sigma, beta, eta_enc, eta_dec, residual=residual))


def sigma_star(zeta, beta, eta_enc=1.0, eta_dec=1.0) -> np.ndarray:
    """σ_i* = √β η_dec η_enc / ζ_i if β η_dec² < ζ_i², else η_enc.  # eq. (14), (19) of [wang_ziyin]

    Vectorised over ``zeta`` (ζ_i ≥ 0). For ζ_i = 0, including the latents beyond d*,
    σ_i* = η_enc: eq. (19)'s "σ_i* = 0 for i > min(d0, d2)" would make ℓ_var infinite.

    References
    ----------
    [wang_ziyin] Proposition 3, Theorem 2, App. E.4.
    """
    zeta = validation.array_in("zeta", zeta, 0.0, closed="low")
    beta, eta_enc, eta_dec = _hyper(beta, eta_enc, eta_dec)
    root = np.sqrt(beta) * eta_dec
    return eta_enc * (root / np.maximum(zeta, root))   # η_enc min(1, root/ζ_i); exactly η_enc if ζ_i ≤ root


def _mode_terms(zeta, sigma, beta, eta_enc, eta_dec):
    """Per mode: λ_i, θ_i (eq. 8) and ζ_i² - (ζ_i - c σ_i)₊², c = √β η_dec/η_enc (eq. 11)."""
    c = np.sqrt(beta) * eta_dec / eta_enc
    gap = np.maximum(zeta - c * sigma, 0.0)
    lam = np.sqrt(c / sigma * gap)
    theta = np.sqrt(sigma / c * gap)
    # ζ² - (ζ - cσ)² = cσ (2ζ - cσ) for active modes: a sum of positive terms, no cancellation
    loss = np.where(gap > 0, c * sigma * (2 * zeta - c * sigma), zeta**2)
    return lam, theta, loss


@dataclass(frozen=True)
class GlobalMinimum:
    """A global minimum (U*, W*, Σ*) of L_VAE and its value."""
    zeta: np.ndarray      # (d*,) singular values of Z
    sigma: np.ndarray     # (d1,) σ_i of each latent
    lambda_: np.ndarray   # (d1,) singular value of U* on each latent (0: collapsed)
    theta: np.ndarray     # (d1,) singular value of V* = Φ^{1/2} P_A^T W* on each latent
    U: np.ndarray         # d2 x d1
    W: np.ndarray         # D0 x d1 (minimum-norm solution of eq. 16)
    Sigma: np.ndarray     # d1 x d1, diag(σ²)
    loss: float           # min L_VAE, eq. (5) (Corollary 2 when Σ is learnable)

    @property
    def active(self) -> np.ndarray:
        """Latents that have not collapsed (λ_i > 0)."""
        return self.lambda_ > 0


def global_minimum(A, M, d1, beta, eta_enc=1.0, eta_dec=1.0, learnable_sigma=True, *,
                   sigma=None, residual=0.0) -> GlobalMinimum:
    """The global minimum of L_VAE(U, W, Σ), eq. (5), for y = M x and E[x x^T] = A.

    Parameters
    ----------
    A : array_like, D0 x D0
        E[x x^T], symmetric positive semidefinite.
    M : array_like, d2 x D0
        The linear map y = M x.
    d1 : int
        Latent dimension, ≥ 1 (below, at or above d* = min(rank A, d2)).
    beta, eta_enc, eta_dec : float
        KL weight, prior and decoder standard deviations, all > 0.
    learnable_sigma : bool
        True: minimise over Σ too (Theorem 2, σ* of eq. 19). False: Σ = η_enc² I
        (Theorem 1), or the fixed ``sigma``.
    sigma : array_like, (d1,), optional
        Fixed encoder standard deviations (only with ``learnable_sigma=False``). The
        smallest σ serves the largest ζ (Proposition 2 corrected).
    residual : float
        E||y - M x||² when y is not linear in x (see ``moments``); adds
        residual / (2 η_dec²) to the loss.

    Returns
    -------
    GlobalMinimum
        ``U = F Λ Π``, ``W = P_A Φ^{-1/2} G Θ Π`` with Π the permutation that assigns the
        modes to the latents in increasing order of σ, tied σ in increasing latent index
        (so with Σ = η_enc² I latent i serves mode i).

    References
    ----------
    [wang_ziyin] Propositions 1-3, Theorems 1-2, Corollaries 1-2, eq. (7)-(19), (43).

    >>> import numpy as np
    >>> m = global_minimum(np.eye(2), np.diag([3.0, 0.5]), d1=2, beta=1.0)
    >>> m.active.tolist(), m.sigma.tolist()   # ζ = (3, 0.5): mode 2 collapses (ζ² < β η_dec²)
    ([True, False], [0.3333333333333333, 1.0])
    """
    spec = spectrum(A, M)
    d1 = validation.positive_int("d1", d1)
    beta, eta_enc, eta_dec = _hyper(beta, eta_enc, eta_dec)
    residual = validation.nonnegative("residual", residual)
    zeta = spec.zeta
    d2, d0 = spec.Z.shape
    k = min(d1, zeta.size)
    if learnable_sigma:
        if sigma is not None:
            raise ValueError("sigma is fixed only with learnable_sigma=False")
        sig = sigma_star(np.pad(zeta[:k], (0, d1 - k)), beta, eta_enc, eta_dec)
    elif sigma is None:
        sig = np.full(d1, eta_enc)
    else:
        sig = validation.array_in("sigma", sigma, 0.0)
        if sig.shape != (d1,):
            raise ValueError(f"sigma must have shape ({d1},); got {sig.shape}")
    order = np.argsort(sig, kind="stable")          # latent order[j] serves mode j
    lam_sorted, theta_sorted, mode_loss = _mode_terms(zeta[:k], sig[order[:k]], beta, eta_enc, eta_dec)
    lam, theta = np.zeros(d1), np.zeros(d1)
    lam[order[:k]], theta[order[:k]] = lam_sorted, theta_sorted
    U, V = np.zeros((d2, d1)), np.zeros((d0, d1))
    U[:, order[:k]] = spec.F[:, :k] * lam_sorted
    V[:, order[:k]] = spec.G[:, :k] * theta_sorted
    W = spec.P_A @ (V / np.sqrt(spec.Phi)[:, None])
    ratio = (sig / eta_enc) ** 2
    l_var = beta / 2 * np.sum(ratio - 1 - np.log(ratio))
    loss = (np.sum(mode_loss) + np.sum(zeta[k:] ** 2) + residual) / (2 * eta_dec**2) + l_var
    return GlobalMinimum(zeta, sig, lam, theta, U, W, np.diag(sig**2), float(loss))


def origin_hessian_eigenvalues(zeta, sigma, beta, eta_enc=1.0, eta_dec=1.0, d0=None, d2=None):
    """Eigenvalues of the Hessian of L_VAE (eq. 5) in (U, V) at U = V = 0, Σ fixed.

    With V = Φ^{1/2} P_A^T W the objective is L(U, V)/(2 η_dec²) + ℓ_var (eq. 6); its
    Hessian at the origin (eq. 107-114) couples column j of U and V through Z only. Each
    latent j and mode i ≤ d* give the pair (σ_j² + k ± sqrt((σ_j² - k)² + 4ζ_i²)) / (2 η_dec²),
    k = β η_dec²/η_enc² (eq. 118); the d2 - d* and d0 - d* unpaired directions give
    σ_j²/η_dec² and k/η_dec².

    Parameters
    ----------
    zeta : array_like, (d*,)
        Singular values of Z.
    sigma : array_like, (d1,)
        Encoder standard deviations.
    beta, eta_enc, eta_dec : float
        As in ``global_minimum``.
    d0, d2 : int, optional
        Rank of A and output dimension (default: d*, no unpaired directions).

    Returns
    -------
    numpy.ndarray
        All d1 (d0 + d2) eigenvalues, sorted. The origin is a global minimum iff the
        smallest is ≥ 0 (Theorem 3), i.e. iff ζ_1² ≤ k min_j σ_j².

    References
    ----------
    [wang_ziyin] Theorem 3, App. E.5 eq. (101)-(118).
    """
    zeta = validation.array_in("zeta", zeta, 0.0, closed="low")
    sigma = validation.array_in("sigma", sigma, 0.0)
    beta, eta_enc, eta_dec = _hyper(beta, eta_enc, eta_dec)
    d0 = zeta.size if d0 is None else validation.positive_int("d0", d0, zeta.size)
    d2 = zeta.size if d2 is None else validation.positive_int("d2", d2, zeta.size)
    k = beta * eta_dec**2 / eta_enc**2
    s2 = sigma[:, None] ** 2
    root = np.sqrt((s2 - k) ** 2 + 4 * zeta[None, :] ** 2)
    paired = np.concatenate([(s2 + k - root).ravel(), (s2 + k + root).ravel()]) / 2
    unpaired = np.concatenate([np.repeat(sigma**2, d2 - zeta.size), np.full(sigma.size * (d0 - zeta.size), k)])
    return np.sort(np.concatenate([paired, unpaired])) / eta_dec**2


# ---------------------------------------------------------------- collapse and App. D


def _sorted_zeta(zeta):
    """ζ as a validated 1-D array in non-increasing order."""
    zeta = validation.array_in("zeta", zeta, 0.0, closed="low")
    if zeta.ndim != 1 or np.any(np.diff(zeta) > 0):
        raise ValueError("zeta must be a 1-D array of singular values in non-increasing order")
    return zeta


def _tail_sums(zeta2, residual):
    """S_p = Σ_{i>p}^{d̂*} ζ_i² + residual for p = 0, ..., len(zeta2)."""
    return np.concatenate([np.cumsum(zeta2[::-1])[::-1], [0.0]]) + residual


def beta_thresholds(zeta, d1, *, eta_dec=1.0, d2=None, residual=0.0) -> np.ndarray:
    """β_i at which latent i collapses: it is active iff β < β_i (0: always collapsed).

    Fixed η_dec (Theorems 1-2): β_i = ζ_i² / η_dec². Learnable η_dec (``eta_dec=None``,
    Theorem 4 and Table 1): β_p = d2 ζ_p² / (p ζ_p² + Σ_{i>p}^{d̂*} ζ_i² + residual),
    non-increasing in p (eq. 57-59, with the sums to d̂* of eq. (58) rather than to d̂_1
    as in Table 1). When residual = 0 and d̂_1 = d̂*, β < β_{d̂1} = d2/d̂_1 leaves no
    minimiser (G(s) → -∞ as s → 0; Table 1 row 1) and at β = d2/d̂_1 the minimisers
    fill (0, s_{d̂1}] (row 2); the classifier reports the limits s → 0 and s = s_{d̂1}.

    Parameters
    ----------
    zeta : array_like, (d*,)
        All singular values of Z, non-increasing (the ones beyond d1 matter when η_dec
        is learnable).
    d1 : int
        Latent dimension.
    eta_dec : float or None
        Fixed decoder standard deviation, or None for a learnable one.
    d2 : int
        Output dimension (needed when η_dec is learnable).
    residual : float
        E||y - M x||² (see ``moments``).

    Returns
    -------
    numpy.ndarray, (d1,)

    References
    ----------
    [wang_ziyin] Theorem 1 (collapse conditions), Theorem 2, Theorem 4, Table 1.
    """
    zeta = _sorted_zeta(zeta)
    d1 = validation.positive_int("d1", d1)
    residual = validation.nonnegative("residual", residual)
    zeta2 = np.pad(zeta, (0, max(0, d1 - zeta.size)))[:d1] ** 2
    if eta_dec is not None:
        return zeta2 / validation.positive("eta_dec", eta_dec) ** 2
    if d2 is None:
        raise ValueError("d2 is required when eta_dec is learnable (eta_dec=None)")
    d2 = validation.positive_int("d2", d2)
    tail = _tail_sums(zeta**2, residual)   # tail[p] = S_p
    out = np.zeros(d1)
    for p in range(1, int(np.sum(zeta2 > 0)) + 1):   # β_p = d2 / (p + S_p / ζ_p²)
        out[p - 1] = d2 / (p + tail[p] / zeta2[p - 1])
    return out


@dataclass(frozen=True)
class Collapse:
    """Which latents survive at each β, and the decoder variance in use."""
    beta: np.ndarray         # (n,)
    thresholds: np.ndarray   # (d1,): latent i is active iff β < thresholds[i]
    active: np.ndarray       # (n, d1) bool
    eta_dec2: np.ndarray     # (n,) η_dec² (fixed) or s* (learnable; 0 where none exists)

    @property
    def n_active(self) -> np.ndarray:
        return self.active.sum(axis=1)

    @property
    def complete(self) -> np.ndarray:
        """Complete collapse: no latent survives."""
        return self.n_active == 0


def classify(zeta, d1, beta, *, eta_dec=1.0, d2=None, residual=0.0) -> Collapse:
    """The collapse classifier: surviving latents for every β (vectorised over β).

    Fixed η_dec: latent i survives iff ζ_i² > β η_dec² (Theorems 1-2). Learnable η_dec
    (``eta_dec=None``): latent p survives iff β < β_p of ``beta_thresholds``, and
    s* = η_dec*² = (Σ_{i>p}^{d̂*} ζ_i² + residual) / (d2 - β p) with p survivors
    (Theorem 4, corrected).

    Parameters
    ----------
    zeta, d1, eta_dec, d2, residual
        As in ``beta_thresholds``.
    beta : float or array_like
        KL weights, > 0.

    Returns
    -------
    Collapse

    References
    ----------
    [wang_ziyin] Theorems 1, 2 and 4; Table 1.

    >>> c = classify([3.0, 2.0, 1.0], d1=3, beta=[0.5, 2.0, 5.0, 10.0])
    >>> c.n_active.tolist()
    [3, 2, 1, 0]
    """
    zeta = _sorted_zeta(zeta)
    beta = validation.array_in("beta", np.atleast_1d(beta), 0.0)
    thresholds = beta_thresholds(zeta, d1, eta_dec=eta_dec, d2=d2, residual=residual)
    active = beta[:, None] < thresholds[None, :]
    if eta_dec is not None:
        s = np.full(beta.shape, float(eta_dec) ** 2)
    else:
        p = active.sum(axis=1)
        s = _tail_sums(zeta**2, residual)[p] / (d2 - beta * p)   # eq. (61), (63), (65)
    return Collapse(beta, thresholds, active, s)


def _G(xp, zeta2, s, beta, d1, d2, residual):
    """G(s) of eq. (44)-(46): one formula for float64 (vectorised over s) and mpmath.

    The ζ_i²/s of an active mode cancels between the two sums of eq. (45); it is left out
    of both, so that G keeps full precision as s -> 0.
    """
    value = residual / (2 * s) + d2 * xp.log(s) / 2
    for i, z2 in enumerate(zeta2):
        if not z2 > 0:
            continue
        active = (beta * s < z2) if i < d1 else False
        value = value + active * beta * (1 - xp.log(beta * s / z2)) / 2 + (1 - active) * z2 / (2 * s)
    return value


def decoder_variance_objective(zeta, s, beta, d1, d2, *, residual=0.0, dps=None):
    """G(s) = min over U, W, Σ of L_VAE with η_dec² = s, plus (d2/2) log s.  # eq. (44)

    G(s) = (Σ_i ζ_i² + residual)/(2s) - ½ Σ_{i ≤ d1} F_i(s) + (d2/2) log s with
    F_i(s) = ζ_i²/s + β(log(β s/ζ_i²) - 1) for β s < ζ_i², else 0 (eq. 45-46).

    Parameters
    ----------
    zeta : array_like, (d*,)
        Singular values of Z.
    s : float or array_like
        Decoder variances η_dec² > 0 (float64, vectorised) or one value with ``dps``.
    beta : float
        KL weight.
    d1, d2 : int
        Latent and output dimensions.
    residual : float
        E||y - M x||²; the paper's eq. (44) has residual = 0.
    dps : int, optional
        Evaluate in mpmath at this many digits (``s`` a scalar).

    Returns
    -------
    numpy.ndarray or mpmath.mpf

    References
    ----------
    [wang_ziyin] App. D, Corollary 2 eq. (43), eq. (44)-(46).
    """
    zeta = _sorted_zeta(zeta)
    beta = validation.positive("beta", beta)
    d1, d2 = validation.positive_int("d1", d1), validation.positive_int("d2", d2)
    residual = validation.nonnegative("residual", residual)
    if dps is None:
        s = validation.array_in("s", s, 0.0)
        return _G(NUMPY, zeta**2, s, beta, d1, d2, residual)
    with mp.workdps(int(dps)):
        s = mp.mpf(s)
        if not s > 0:
            raise ValueError(f"s must be > 0; got {s}")
        z2 = [mp.mpf(float(z)) ** 2 for z in zeta]
        return _G(MPMATH, z2, s, mp.mpf(beta), d1, d2, mp.mpf(residual))


def decoder_variance_gradient(zeta, s, beta, d1, d2, *, residual=0.0) -> np.ndarray:
    """G'(s) = [(d2 - β p) s - Σ_{i>p}^{d̂*} ζ_i² - residual] / (2 s²) on [s_{p+1}, s_p).

    p = #{i ≤ d1 : ζ_i² > β s} is the number of active latents at s. Eq. (49) of the
    paper sums to d̂_1 instead of d̂* (the modes beyond d1 are then lost); eq. (54)-(55)
    write (d2/β - d̂_1) s instead of (d2 - β d̂_1) s.

    Parameters
    ----------
    zeta, s, beta, d1, d2, residual
        As in ``decoder_variance_objective`` (float64 only; ``s`` vectorised).

    Returns
    -------
    numpy.ndarray
        G'(s), with the shape of ``s``.

    References
    ----------
    [wang_ziyin] App. D eq. (49), (50), (54); Lemma 2.
    """
    zeta = _sorted_zeta(zeta)
    beta = validation.positive("beta", beta)
    d1, d2 = validation.positive_int("d1", d1), validation.positive_int("d2", d2)
    residual = validation.nonnegative("residual", residual)
    s = validation.array_in("s", s, 0.0)
    zeta2 = zeta**2
    p = np.sum(beta * s[..., None] < zeta2[:min(d1, zeta.size)], axis=-1)
    return ((d2 - beta * p) * s - _tail_sums(zeta2, residual)[p]) / (2 * s**2)


@dataclass(frozen=True)
class DecoderVariance:
    """The optimal decoder variance s* = η_dec*² of App. D and the minimum there."""
    s: float            # s*; 0 when none exists ("unbounded"); sup of the minimisers if "flat"
    n_active: int       # latents surviving at s*
    status: str         # "unique", "flat" (Table 1 row 2) or "unbounded" (row 1)
    loss: float         # G(s*) (-inf when unbounded)
    minimum: GlobalMinimum | None   # (U*, W*, Σ*) at η_dec² = s* (None when unbounded)


def optimal_decoder_variance(A, M, d1, beta, eta_enc=1.0, *, residual=0.0) -> DecoderVariance:
    """The minimiser s* = η_dec*² of G(s) (App. D) and the number of active latents.

    Parameters
    ----------
    A, M, d1, beta, eta_enc
        As in ``global_minimum``; s* does not depend on η_enc, the minimiser (U*, W*) does.
    residual : float
        E||y - M x||² (see ``moments``).

    Returns
    -------
    DecoderVariance
        ``status`` is "unbounded" when G(s) → -∞ as s → 0 (residual = 0, d̂_1 = d̂*,
        β < d2/d̂_1: Case 1), "flat" when the minimisers fill (0, s_{d̂1}]
        (β = d2/d̂_1: Case 2; ``s`` is then s_{d̂1}), else "unique" (Proposition 7).

    References
    ----------
    [wang_ziyin] App. D: Propositions 6-7, Theorem 4, Table 1.
    """
    spec = spectrum(A, M)
    d1 = validation.positive_int("d1", d1)
    beta = validation.positive("beta", beta)
    d2 = spec.Z.shape[0]
    c = classify(spec.zeta, d1, beta, eta_dec=None, d2=d2, residual=residual)
    s, n = float(c.eta_dec2[0]), int(c.n_active[0])
    d_hat1 = int(np.sum(spec.zeta[:d1] > 0))
    if s == 0.0:
        return DecoderVariance(0.0, n, "unbounded", -np.inf, None)
    tail = _tail_sums(spec.zeta**2, residual)[d_hat1]
    status = "flat" if tail == 0 and beta * d_hat1 == d2 else "unique"
    loss = float(decoder_variance_objective(spec.zeta, s, beta, d1, d2, residual=residual))
    return DecoderVariance(s, n, status, loss,
                           global_minimum(A, M, d1, beta, eta_enc, np.sqrt(s), residual=residual))
