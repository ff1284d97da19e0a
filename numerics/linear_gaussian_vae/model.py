"""The linear-Gaussian (lambda-)beta-VAE's objective (eq. 6, 8) and gradients (eq. 23), the block
updates of Lemmas 3.1 and 4.1, the collapse thresholds, the closed-form fixed point and the
generative model of Fig. 2-3.

References
----------
[mi_collapse] "Mutual Information Collapse Explains Disentanglement Failure in
    beta-VAEs", shared/papers/000_6e757ef8f718962b.txt.
"""
from __future__ import annotations

from dataclasses import dataclass

import mpmath as mp
import numpy as np

from numerics import precision, validation
from numerics.backend import MPMATH, NUMPY

# ----------------------------------------------------------------------------- objective


def _dim(xp, X) -> int:
    return X.shape[-1] if xp is NUMPY else X.rows


def _residual_covariance(xp, A, B, Sigma_w, Sigma_y):
    """E[(y - A x)(y - A x)^T] = (I - AB) Sigma_y (I - AB)^T + A Sigma_w A^T  # App. A.3"""
    I_minus_AB = xp.eye(_dim(xp, Sigma_y)) - xp.mm(A, B)
    return (xp.mm(xp.mm(I_minus_AB, Sigma_y), xp.T(I_minus_AB))
            + xp.mm(xp.mm(A, Sigma_w), xp.T(A)))


def _terms(xp, A, B, Sigma_z, Sigma_w, Sigma_y):
    """(reconstruction, KL, L2) of eq. (6) and eq. (8), constants included."""
    n, m = _dim(xp, Sigma_y), _dim(xp, Sigma_w)
    R = _residual_covariance(xp, A, B, Sigma_w, Sigma_y)
    # App. A.2: n/2 log 2 pi + 1/2 log|Sigma_z| + 1/2 tr(Sigma_z^{-1} R)
    recon = (n * xp.log(2 * xp.pi) + xp.logdet(Sigma_z) + xp.tr(xp.mm(xp.inv(Sigma_z), R))) / 2
    # App. A.1: 1/2 [tr(B Sigma_y B^T + Sigma_w) - log|Sigma_w| - m]
    kl = (xp.tr(xp.mm(xp.mm(B, Sigma_y), xp.T(B)) + Sigma_w) - xp.logdet(Sigma_w) - m) / 2
    return recon, kl, xp.tr(R)


def _check_parameters(A, B, Sigma_z, Sigma_w, Sigma_y, definite=("Sigma_z", "Sigma_w", "Sigma_y")):
    """Shapes and finiteness; positive definiteness (in float64) of the covariances named in ``definite``."""
    cov = lambda name, X, k: (validation.spd(name, X, k) if name in definite
                              else validation.matrix(name, X, (k, k)))
    Sigma_y = cov("Sigma_y", Sigma_y, None)
    n = Sigma_y.shape[0]
    B = validation.matrix("B", B, (None, n))
    m = B.shape[0]
    return (validation.matrix("A", A, (n, m)), B, cov("Sigma_z", Sigma_z, n), cov("Sigma_w", Sigma_w, m), Sigma_y)


def terms(A, B, Sigma_z, Sigma_w, Sigma_y, *, dps: int | None = None):
    """The reconstruction term (App. A.2), the KL term (App. A.1) and E||y - Ax||^2 (eq. 8).

    Float64 by default; with ``dps`` the same formula in mpmath at ``dps`` digits (the
    arguments may then be ``mpmath.matrix`` objects, used at full precision; a covariance
    given as one is judged positive definite by its mpmath Cholesky factor, not in float64,
    so iterates with eigenvalues below float64's resolution can be evaluated).
    """
    raw = (A, B, Sigma_z, Sigma_w, Sigma_y)
    definite = [k for k, a in zip(("Sigma_z", "Sigma_w", "Sigma_y"), (Sigma_z, Sigma_w, Sigma_y))
                if not (dps is not None and isinstance(a, mp.matrix))]
    args = _check_parameters(*(precision.to_np(a) if isinstance(a, mp.matrix) else a for a in raw),
                             definite=definite)
    if dps is None:
        return tuple(float(t) for t in _terms(NUMPY, *args))
    with mp.workdps(int(dps)):
        return _terms(MPMATH, *(a if isinstance(a, mp.matrix) else MPMATH.asarray(c)
                                for a, c in zip(raw, args)))


def objective(A, B, Sigma_z, Sigma_w, Sigma_y, beta, lam=0.0, *, dps: int | None = None):
    """L_{lambda beta} = L_beta (eq. 6) + lambda E||y - A x||^2 (eq. 8), constants included.

    Parameters
    ----------
    A, B : decoder gain (n x m) and encoder gain (m x n).
    Sigma_z, Sigma_w, Sigma_y : SPD decoder-noise, encoder-noise and data covariances.
    beta : KL weight (> 0). lam : weight of the L2 penalty (>= 0).
    dps : evaluate in mpmath at this many digits instead of float64.

    >>> import numpy as np
    >>> n, m = 3, 2
    >>> at_collapse = objective(np.zeros((n, m)), np.zeros((m, n)), np.eye(n), np.eye(m), np.eye(n), beta=4.0)
    >>> bool(np.isclose(at_collapse, n / 2 * np.log(2 * np.pi) + n / 2))
    True
    """
    beta = validation.positive("beta", beta)
    lam = validation.nonnegative("lam", lam)
    recon, kl, l2 = terms(A, B, Sigma_z, Sigma_w, Sigma_y, dps=dps)
    return recon + beta * kl + lam * l2


def gradients(A, B, Sigma_z, Sigma_w, Sigma_y, beta, lam=0.0) -> dict:
    """Gradients of L_{lambda beta}: eq. (23a-d) (eq. (16) at lambda = 0), symmetric-matrix convention."""
    A, B, Sigma_z, Sigma_w, Sigma_y = _check_parameters(A, B, Sigma_z, Sigma_w, Sigma_y)
    beta, lam = validation.positive("beta", beta), validation.nonnegative("lam", lam)
    return _gradients(A, B, Sigma_z, Sigma_w, Sigma_y, beta, lam)


def _gradients(A, B, Sigma_z, Sigma_w, Sigma_y, beta, lam):
    n, m = Sigma_y.shape[-1], Sigma_w.shape[-1]
    T = lambda X: np.swapaxes(X, -1, -2)
    Sz_inv = np.linalg.inv(Sigma_z)
    N = Sz_inv + 2 * lam * np.eye(n)
    Sigma_x = B @ Sigma_y @ T(B) + Sigma_w
    R = _residual_covariance(NUMPY, A, B, Sigma_w, Sigma_y)
    return {
        "A": N @ (A @ Sigma_x - Sigma_y @ T(B)),                                  # eq. (23a)
        "B": beta * B @ Sigma_y + T(A) @ N @ A @ B @ Sigma_y - T(A) @ N @ Sigma_y,  # eq. (23b)
        "Sigma_w": beta / 2 * (np.eye(m) - np.linalg.inv(Sigma_w)) + T(A) @ N @ A / 2,  # eq. (23c)
        "Sigma_z": (Sz_inv - Sz_inv @ R @ Sz_inv) / 2,                             # eq. (23d)
    }


# ---------------------------------------------------------------- stationarity (Lemmas 3.1, 4.1)


def decoder_update(B, Sigma_w, Sigma_y):
    """(A, Sigma_z) solving dL/dA = dL/dSigma_z = 0 for fixed encoder  # Lemma 3.1, eq. (21)-(22)"""
    Sigma_y = validation.spd("Sigma_y", Sigma_y)
    B = validation.matrix("B", B, (None, Sigma_y.shape[0]))
    Sigma_w = validation.spd("Sigma_w", Sigma_w, B.shape[0])
    return _decoder(B, Sigma_w, Sigma_y)


def _decoder(B, Sigma_w, Sigma_y):
    """Lemma 3.1's decoder of a (batch of) encoder(s), without inverting an ill-conditioned matrix.

    Inverting Sigma_w, or Sigma_y^-1 + B^T Sigma_w^-1 B, loses up to cond(Sigma_w) eps
    relative accuracy when Sigma_w -> 0 (beta < 1), and the equivalent
    Sigma_y - Sigma_y B^T Sigma_x^-1 B Sigma_y (eq. 21) cancels when Sigma_z << Sigma_y
    (m = n). With Sigma_y = L L^T, W = Sigma_w^{1/2} and the SVD C = W^-1 B L = P S Q^T
    (Q square; s_i = 0 beyond the rank), Lemma 3.1 reads
    Sigma_z = (L Q) diag(1 / (1 + s_i^2)) (L Q)^T and A = Sigma_z B^T Sigma_w^-1 =
    (L Q) diag(s_i / (1 + s_i^2)) P^T W^-1: sums of positive terms. On drifted encoders
    (beta < 1, Sigma_w at its 1e-14 floor, m <= n including m = n) this agrees with Lemma 3.1
    evaluated at 68 digits to about 1e-14 relative (Frobenius), where the inverse-based forms
    lose up to 2e-2. A Sigma_w that is not positive definite in float64 gives NaN.
    """
    T = lambda X: np.swapaxes(X, -1, -2)
    d, U = np.linalg.eigh(Sigma_y)
    L = U * np.sqrt(d)
    with np.errstate(invalid="ignore", divide="ignore"):
        w, V = np.linalg.eigh(Sigma_w)
        W_inv = (V / np.sqrt(w)[..., None, :]) @ T(V)
    C = W_inv @ B @ L
    good = np.all(np.isfinite(C), axis=(-2, -1))
    P = np.full(C.shape[:-1] + C.shape[-2:-1], np.nan)
    s = np.full(C.shape[:-2] + (min(C.shape[-2:]),), np.nan)
    QT = np.full(C.shape[:-2] + C.shape[-1:] * 2, np.nan)
    P[good], s[good], QT[good] = np.linalg.svd(C[good])
    k = s.shape[-1]
    weights = np.ones(s.shape[:-1] + d.shape)
    weights[..., :k] = 1 / (1 + s**2)
    F = L @ T(QT)
    Sigma_z = (F * weights[..., None, :]) @ T(F)
    A = (F[..., :k] * (s / (1 + s**2))[..., None, :]) @ T(P[..., :k]) @ W_inv
    return A, (Sigma_z + T(Sigma_z)) / 2


def encoder_update(A, Sigma_z, beta, lam=0.0):
    """(B, Sigma_w) solving dL/dB = dL/dSigma_w = 0 for fixed decoder  # Lemma 4.1 (Lemma 3.1 at lam=0)"""
    Sigma_z = validation.spd("Sigma_z", Sigma_z)
    n = Sigma_z.shape[0]
    A = validation.matrix("A", A, (n, None))
    beta, lam = validation.positive("beta", beta), validation.nonnegative("lam", lam)
    M = (np.linalg.inv(Sigma_z) + 2 * lam * np.eye(n)) / beta  # M of Lemma 4.1
    Sigma_w = np.linalg.inv(np.eye(A.shape[1]) + A.T @ M @ A)
    return Sigma_w @ A.T @ M, (Sigma_w + Sigma_w.T) / 2


# --------------------------------------------------------------------- thresholds, fixed points


def mode_thresholds(Sigma_y, lam):
    """beta_i = 1 + 2 lambda d_i for the eigenvalues d_1 >= d_2 >= ... of Sigma_y.

    Mode i is active at a stationary point reached by Algorithm 1 iff beta < beta_i
    (and it is among the m largest); derived from the fixed-point condition of eq. (29).
    """
    Sigma_y = validation.spd("Sigma_y", Sigma_y)
    lam = validation.nonnegative("lam", lam)
    return 1 + 2 * lam * np.linalg.eigvalsh(Sigma_y)[::-1]


def collapse_threshold(Sigma_y, lam) -> float:
    """The exact beta_c = 1 + 2 lambda ||Sigma_y||_2 above which Algorithm 1 collapses to B = 0.

    For beta > beta_c every iterate obeys the bound (31) with base < 1; for beta < beta_c
    the trivial fixed point is linearly unstable (spectral radius (1 + 2 lambda d_1) / beta
    of the linearised map), so a generic initialisation does not collapse. The paper's
    sufficient condition (31) is therefore sharp.
    """
    return float(mode_thresholds(Sigma_y, lam)[0])


def converges_to_stationary_point(beta, lam) -> bool:
    """Whether Algorithm 1 from a generic initialisation converges to a stationary point.

    True for beta > 1 and for beta = 1 with lambda = 0. For beta < 1 (any lambda) and for
    beta = 1 with lambda > 0 the only stationary point is the trivial one
    (0, 0, Sigma_y, I_m) (a fixed point needs B ((beta - 1) I - 2 lambda Sigma_z) = 0 by
    eq. (29), and that matrix is negative definite), and it is a saddle
    (``trivial_point_index`` > 0): generic iterates leave it and drift to Sigma_w -> 0,
    for beta < 1 while the objective falls without bound.
    """
    beta, lam = validation.positive("beta", beta), validation.nonnegative("lam", lam)
    return beta > 1 or (beta == 1 and lam == 0)


def trivial_point_index(Sigma_y, beta, lam, m) -> int:
    """Negative eigenvalues of the Hessian of L at the trivial stationary point (0, 0, Sigma_y, I_m).

    To second order in (A, B) = epsilon (a, b) (the Sigma_z and Sigma_w blocks are positive
    definite and decouple), L - L_0 = epsilon^2 [1/2 ||a - Sigma_y b^T||^2_N
    + 1/2 tr(b Sigma_y ((beta - 1) I - 2 lambda Sigma_y) b^T)] with N = Sigma_y^-1 + 2 lambda I,
    so the index is m #{i : beta < 1 + 2 lambda d_i}: m n for every beta < 1 (a saddle with
    descent directions (Sigma_y b^T, b)), 0 (a strict local minimum) for beta > beta_c.
    """
    m = validation.positive_int("m", m)
    beta = validation.positive("beta", beta)
    return m * int(np.sum(mode_thresholds(Sigma_y, lam) > beta))


@dataclass
class FixedPoint:
    """A stationary point (A, B, Sigma_z, Sigma_w) with its active modes."""
    A: np.ndarray
    B: np.ndarray
    Sigma_z: np.ndarray
    Sigma_w: np.ndarray
    active: int          # number of active latent modes
    c: float             # common eigenvalue of Sigma_z on the active modes, (beta - 1) / (2 lambda)


def fixed_point(Sigma_y, beta, lam, m) -> FixedPoint:
    """The stationary point of the lambda-beta-VAE for 1 < beta, lambda > 0 (or the collapsed one).

    With c = (beta - 1) / (2 lambda), mode i of Sigma_y (eigenvalue d_i) is active iff
    d_i > c and it is among the m largest; on it Sigma_z has eigenvalue c, Sigma_w = c / d_i
    and B has gain b_i = sqrt(d_i - c) / d_i. Returned in the canonical latent basis
    (latent i <-> mode i); every rotation x -> Q x gives another stationary point.
    """
    Sigma_y = validation.spd("Sigma_y", Sigma_y)
    m = validation.positive_int("m", m)
    if not converges_to_stationary_point(beta, lam):
        raise ValueError(f"for beta={beta}, lam={lam} (beta < 1, or beta = 1 with lam > 0) the only "
                         "stationary point is the trivial saddle (0, 0, Sigma_y, I)")
    if beta == 1:
        raise ValueError("at beta = 1, lam = 0 the stationary points form a continuum; "
                         "run `alternating` from an initialisation instead")
    n = Sigma_y.shape[0]
    d, U = np.linalg.eigh(Sigma_y)
    d, U = d[::-1], U[:, ::-1]
    c = (beta - 1) / (2 * lam) if lam > 0 else np.inf
    k = int(min(m, np.sum(d > c)))
    B = np.zeros((m, n))
    Sigma_w = np.eye(m)
    for i in range(k):
        B[i] = np.sqrt(d[i] - c) / d[i] * U[:, i]
        Sigma_w[i, i] = c / d[i]
    A, Sigma_z = decoder_update(B, Sigma_w, Sigma_y)
    return FixedPoint(A, B, Sigma_z, Sigma_w, k, float(c))


# ------------------------------------------------------------------------ the model of Fig. 2-3


def figure_model(n: int = 50, s: int = 5, sigma2: float = 0.05, seed: int = 0):
    """The generative model used for Fig. 2-3: (Gamma, Sigma_v, Sigma_y) of eq. (1).

    §5.1 gives n, s and sigma^2 but not Gamma or Sigma_v; we take i.i.d. factors
    (Sigma_v = I_s) and Gamma with N(0, 1/n) entries, so ||Sigma_y||_2 is of order 1.
    """
    n, s = validation.positive_int("n", n), validation.positive_int("s", s)
    sigma2 = validation.positive("sigma2", sigma2)
    Gamma = np.random.default_rng(seed).standard_normal((n, s)) / np.sqrt(n)
    Sigma_v = np.eye(s)
    Sigma_y = Gamma @ Sigma_v @ Gamma.T + sigma2 * np.eye(n)
    return Gamma, Sigma_v, (Sigma_y + Sigma_y.T) / 2
