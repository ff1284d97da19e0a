"""The linear-Gaussian beta-VAE and lambda-beta-VAE of [mi_collapse].

Model (eq. 1-3): y = Gamma v + noise, Sigma_y = Gamma Sigma_v Gamma^T + sigma^2 I_n;
encoder x = B y + w, w ~ N(0, Sigma_w); decoder y_hat = A x + z, z ~ N(0, Sigma_z);
prior x ~ N(0, I_m). Objective L_{lambda beta} = eq. (6) + lambda eq. (8).

Algorithm 1 is iterated in natural coordinates G = Sigma_w^{-1} B U and
Omega = Sigma_w^{-1}, with Sigma_y = U diag(d) U^T: one step is then
G' = G (I + 2 lambda Sigma_z~) / beta and Omega' = I + A^T M A (eq. 25, 29), and
Sigma_z~ G^T follows from the Woodbury identity (eq. 21) with m x m solves only. The
iterates are those of the printed algorithm (same map, exact algebra); no n x n matrix
is inverted per step.

References
----------
[mi_collapse] "Mutual Information Collapse Explains Disentanglement Failure in
    beta-VAEs", shared/papers/000_6e757ef8f718962b.txt.
"""
from __future__ import annotations

from dataclasses import dataclass

import mpmath as mp
import numpy as np
from scipy.optimize import linear_sum_assignment
from tqdm.auto import tqdm

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
    names = ("A", "B", "Sigma_z", "Sigma_w", "Sigma_y")
    definite = [k for k, a in zip(names, raw) if not (dps is not None and isinstance(a, mp.matrix))]
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
    weights = np.ones(s.shape[:-1] + (L.shape[-1],))
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


# ------------------------------------------------------------------ Algorithm 1 (alternating)


SIGMA_W_FLOOR = 1e-14
"""Below this eigenvalue Sigma_w is numerically singular in float64 and the iteration stops."""


def random_initialisation(m: int, n: int, trials: int, rng: np.random.Generator):
    """B0 with N(0, 1/n) entries and Sigma_w0 = Q diag(U(0.1, 2)) Q^T with Haar-random Q."""
    B0 = rng.standard_normal((trials, m, n)) / np.sqrt(n)
    q, r = np.linalg.qr(rng.standard_normal((trials, m, m)))
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    Sigma_w0 = (q * rng.uniform(0.1, 2.0, (trials, 1, m))) @ np.swapaxes(q, 1, 2)
    return B0, (Sigma_w0 + np.swapaxes(Sigma_w0, 1, 2)) / 2


def _invariant_basis(d, U, G0, m, rtol=1e-12):
    """Per-trial orthonormal eigenvector bases V (trials, n, k) holding every iterate's rows.

    An eigenspace of Sigma_y of multiplicity > m is cut down to the span of G0's rows in
    it: Sigma_z~ acts on its complement as d I and G never enters it, so the reduction is
    exact. Returns (d_reduced, V).
    """
    trials = G0.shape[0]
    cols, values = [], []
    start = 0
    while start < d.size:
        stop = start + 1
        while stop < d.size and abs(d[stop] - d[start]) <= rtol * d[0]:
            stop += 1
        block = U[:, start:stop]
        if stop - start <= m:
            cols.append(np.broadcast_to(block, (trials, *block.shape)))
        else:
            q, _ = np.linalg.qr(np.swapaxes(G0 @ block, 1, 2))   # (trials, k, m)
            cols.append(block @ q)
        values.append(np.full(cols[-1].shape[-1], d[start]))
        start = stop
    return np.concatenate(values), np.concatenate(cols, axis=2)


@dataclass
class AlternatingResult:
    """Final iterates of Algorithm 1 for a batch of initialisations (leading axis = trial)."""
    A: np.ndarray
    B: np.ndarray
    Sigma_z: np.ndarray
    Sigma_w: np.ndarray
    converged: np.ndarray     # the printed stopping rule ||dB||_F <= tol and ||dSigma_w||_F <= tol fired
    printed_stop: np.ndarray  # iteration at which it first fired (0: never): where the paper's loop breaks
    stationary: np.ndarray    # the change was also <= tol relative to ||B||, ||Sigma_w||: a stationary point
    regular: np.ndarray       # False: stopped at the last iterate with lambda_min(Sigma_w) >= SIGMA_W_FLOOR
    iterations: np.ndarray    # iterations run: until stationary, Sigma_w singular, or max_iter
    residuals: np.ndarray     # (iterations, trials): max(||dB||_F, ||dSigma_w||_F); NaN once stopped
    B0: np.ndarray
    Sigma_w0: np.ndarray


def alternating(Sigma_y, beta, lam=0.0, *, m=None, trials=1, seed=None, B0=None, Sigma_w0=None,
                tol=1e-6, max_iter=50_000, progress=False) -> AlternatingResult:
    """Algorithm 1 of [mi_collapse], vectorised over a batch of random initialisations.

    Parameters
    ----------
    Sigma_y : SPD data covariance (n x n).
    beta, lam : the objective's weights (beta > 0, lam >= 0).
    m : latent dimension (needed unless ``B0`` is given).
    trials, seed : number of random initialisations and their seed (see ``random_initialisation``).
    B0, Sigma_w0 : explicit initialisations, shape (trials, m, n) and (trials, m, m).
    tol : the stopping rule's Frobenius tolerance (line 7/20 of Algorithm 1).
    max_iter : at most this many (decoder + encoder) iterations.

    Returns
    -------
    AlternatingResult with A, B, Sigma_z, Sigma_w per trial (the decoder recomputed from
    the final encoder), the printed rule's ``converged`` flag and the iteration where it
    first fired, ``stationary``, iteration counts and the residual history.

    The printed rule alone cannot tell a stationary point from a drift: for beta < 1,
    Sigma_w -> 0 geometrically and ||dSigma_w||_F falls below tol within a few dozen
    steps. So a trial stops only when the change is below tol also relative to ||B||_F
    and ||Sigma_w||_F (``stationary``), when Sigma_w becomes numerically singular or the
    iterates overflow (``regular`` False; the last regular iterate is returned), or at
    max_iter.
    """
    Sigma_y = validation.spd("Sigma_y", Sigma_y)
    beta, lam = validation.positive("beta", beta), validation.nonnegative("lam", lam)
    tol = validation.positive("tol", tol)
    max_iter = validation.positive_int("max_iter", max_iter)
    n = Sigma_y.shape[0]
    if B0 is None:
        m = validation.positive_int("m", m)
        trials = validation.positive_int("trials", trials)
        B0, Sigma_w0 = random_initialisation(m, n, trials, np.random.default_rng(seed))
    else:
        B0 = validation.finite_array("B0", B0, ndim=3)
        m, trials = B0.shape[1], B0.shape[0]
        if B0.shape[2] != n:
            raise ValueError(f"B0 must have shape (trials, m, {n}); got {B0.shape}")
        Sigma_w0 = validation.finite_array("Sigma_w0", Sigma_w0, ndim=3)
        if Sigma_w0.shape != (trials, m, m):
            raise ValueError(f"Sigma_w0 must have shape {(trials, m, m)}; got {Sigma_w0.shape}")
        for i, S in enumerate(Sigma_w0):
            validation.spd(f"Sigma_w0[{i}]", S)

    d, U = np.linalg.eigh(Sigma_y)
    d, U = d[::-1], U[:, ::-1]
    Sigma_y_inv = (U / d) @ U.T
    Omega = np.linalg.inv(Sigma_w0)
    G = Omega @ B0                                       # natural coordinates G = Sigma_w^-1 B
    d, V = _invariant_basis(d, U, G, m)
    G = G @ V                                            # (trials, m, k) in eigenvector coordinates
    I_m = np.eye(m)

    B_prev, Sw_prev = np.linalg.solve(Omega, G), np.linalg.inv(Omega)
    active = np.ones(trials, bool)
    converged = np.zeros(trials, bool)
    stationary = np.zeros(trials, bool)
    regular = np.ones(trials, bool)
    iterations = np.full(trials, max_iter)
    printed_stop = np.zeros(trials, int)
    history = []
    steps = tqdm(range(max_iter), disable=not progress, desc=f"Algorithm 1 beta={beta:g} lam={lam:g}",
                 leave=False)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in steps:
            idx = np.flatnonzero(active)
            g, om = G[idx], Omega[idx]
            gd = g * d                                           # G D
            gt = np.swapaxes(g, 1, 2)
            P = om @ _solve(om + gd @ gt, gd)                    # G Sigma_z~ by Woodbury, eq. (21)
            K1, K2 = P @ gt, P @ np.swapaxes(P, 1, 2)            # A^T Sigma_z^-1 A, A^T A
            om_new = I_m + (K1 + 2 * lam * K2) / beta            # Sigma_w^-1 = I + A^T M A, Lemma 4.1
            g_new = (g + 2 * lam * P) / beta                     # eq. (29)
            sw = _solve(om_new, np.broadcast_to(I_m, om_new.shape))
            b = sw @ g_new
            dB = np.linalg.norm(b - B_prev[idx], axis=(1, 2))
            dS = np.linalg.norm(sw - Sw_prev[idx], axis=(1, 2))
            ok = np.isfinite(dB) & np.isfinite(dS) & np.all(np.isfinite(om_new), axis=(1, 2))
            # lambda_min(Sigma_w) = 1 / lambda_max(Omega) >= 1 / tr(Omega): eigenvalues only when needed
            near = ok & (np.trace(om_new, axis1=1, axis2=2) * SIGMA_W_FLOOR > 1)
            ok[near] = np.linalg.eigvalsh(om_new[near])[:, -1] * SIGMA_W_FLOOR <= 1
            row = np.full(trials, np.nan, dtype=np.float32)
            row[idx] = np.maximum(dB, dS)
            history.append(row)
            G[idx[ok]], Omega[idx[ok]] = g_new[ok], om_new[ok]
            B_prev[idx[ok]], Sw_prev[idx[ok]] = b[ok], sw[ok]
            rule = ok & (dB <= tol) & (dS <= tol)
            relative = rule & (dB <= tol * np.maximum(1.0, np.linalg.norm(b, axis=(1, 2)))) & (
                dS <= tol * np.linalg.norm(sw, axis=(1, 2)))
            converged[idx[rule]] = True
            first = idx[rule & (printed_stop[idx] == 0)]
            printed_stop[first] = t + 1
            stop = relative | ~ok
            stationary[idx[relative]] = True
            regular[idx[~ok]] = False
            iterations[idx[relative]] = t + 1
            iterations[idx[~ok]] = t                             # the last regular iterate is kept
            active[idx[stop]] = False
            if not active.any():
                break

    Sigma_w = np.linalg.inv(Omega)
    Sigma_w = (Sigma_w + np.swapaxes(Sigma_w, 1, 2)) / 2
    G = G @ np.swapaxes(V, 1, 2)                                     # back to y coordinates
    B = Sigma_w @ G
    A, Sigma_z = _decoder(B, Sigma_w, Sigma_y)                     # the exact decoder of (B, Sigma_w)
    regular &= np.all(np.isfinite(Sigma_z), axis=(1, 2)) & np.all(np.isfinite(A), axis=(1, 2))
    return AlternatingResult(A, B, Sigma_z, Sigma_w, converged, printed_stop, stationary, regular,
                             iterations, np.array(history), B0, Sigma_w0)


def _solve(a, b):
    """Batched solve; singular or non-finite systems give NaN instead of raising."""
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        out = np.full(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + b.shape[-2:], np.nan)
        for i in range(a.shape[0]):
            try:
                out[i] = np.linalg.solve(a[i], b[i])
            except np.linalg.LinAlgError:
                pass
        return out


# ----------------------------------------------------------------- gradient-based cross-check


@dataclass
class AdamResult:
    A: np.ndarray
    B: np.ndarray
    Sigma_z: np.ndarray
    Sigma_w: np.ndarray
    objective: np.ndarray        # (steps // record_every + 1, trials)


def _chol(theta):
    """Lower-triangular factor with positive diagonal exp(theta_ii) (log-Cholesky)."""
    L = np.tril(theta, -1)
    idx = np.arange(theta.shape[-1])
    L[..., idx, idx] = np.exp(theta[..., idx, idx])
    return L


def _chol_grad(theta, L, G_Sigma):
    """d/dtheta of f(L L^T) given G_Sigma = df/dSigma (symmetric)."""
    g = np.tril(2 * G_Sigma @ L)
    idx = np.arange(theta.shape[-1])
    g[..., idx, idx] *= L[..., idx, idx]
    return g


def adam(Sigma_y, beta, lam=0.0, *, m=None, trials=1, seed=None, B0=None, Sigma_w0=None,
         steps=20_000, lr=1e-2, weight_decay=0.0, betas=(0.9, 0.999), record_every=100) -> AdamResult:
    """AdamW on (A, B, log-Cholesky factors of Sigma_z and Sigma_w), as in §5.1 of [mi_collapse].

    An independent route to the stationary points: it uses only the objective's gradient
    (eq. 23a-d, itself checked against finite differences), none of the closed-form block
    updates. The decoder starts at A = 0-mean N(0, 1/m) entries and Sigma_z = Sigma_y.
    """
    Sigma_y = validation.spd("Sigma_y", Sigma_y)
    beta, lam = validation.positive("beta", beta), validation.nonnegative("lam", lam)
    steps = validation.positive_int("steps", steps)
    lr = validation.positive("lr", lr)
    n = Sigma_y.shape[0]
    rng = np.random.default_rng(seed)
    if B0 is None:
        m = validation.positive_int("m", m)
        B0, Sigma_w0 = random_initialisation(m, n, validation.positive_int("trials", trials), rng)
    trials, m = B0.shape[0], B0.shape[1]
    params = {
        "A": rng.standard_normal((trials, n, m)) / np.sqrt(m),
        "B": np.array(B0, dtype=float),
        "Lz": np.broadcast_to(np.linalg.cholesky(Sigma_y), (trials, n, n)).copy(),
        "Lw": np.linalg.cholesky(Sigma_w0),
    }
    for key in ("Lz", "Lw"):   # store log of the diagonal
        idx = np.arange(params[key].shape[-1])
        params[key][..., idx, idx] = np.log(params[key][..., idx, idx])
    moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in params.items()}
    record = []

    def current():
        Lz, Lw = _chol(params["Lz"]), _chol(params["Lw"])
        return Lz, Lw, Lz @ np.swapaxes(Lz, 1, 2), Lw @ np.swapaxes(Lw, 1, 2)

    for t in range(1, steps + 1):
        Lz, Lw, Sigma_z, Sigma_w = current()
        g = _gradients(params["A"], params["B"], Sigma_z, Sigma_w, Sigma_y, beta, lam)
        grads = {"A": g["A"], "B": g["B"], "Lz": _chol_grad(params["Lz"], Lz, g["Sigma_z"]),
                 "Lw": _chol_grad(params["Lw"], Lw, g["Sigma_w"])}
        for key, grad in grads.items():
            m1, m2 = moments[key]
            m1 *= betas[0]
            m1 += (1 - betas[0]) * grad
            m2 *= betas[1]
            m2 += (1 - betas[1]) * grad**2
            step = lr * (m1 / (1 - betas[0]**t)) / (np.sqrt(m2 / (1 - betas[1]**t)) + 1e-12)
            params[key] -= step + lr * weight_decay * params[key] * (key in ("A", "B"))
        if t % record_every == 0 or t == 1:
            recon, kl, l2 = _terms(NUMPY, params["A"], params["B"], Sigma_z, Sigma_w, Sigma_y)
            record.append(recon + beta * kl + lam * l2)
    _, _, Sigma_z, Sigma_w = current()
    return AdamResult(params["A"], params["B"], Sigma_z, Sigma_w, np.array(record))


# ------------------------------------------------------------------ metrics (§4.1, App. D)


def latent_factor_covariances(B, Sigma_w, Gamma, Sigma_v, Sigma_y):
    """(Sigma_x, Sigma_xv) = (B Sigma_y B^T + Sigma_w, B Gamma Sigma_v)  # eq. (4); batched over B."""
    T = lambda X: np.swapaxes(X, -1, -2)
    return B @ Sigma_y @ T(B) + Sigma_w, B @ Gamma @ Sigma_v


def squared_correlations(Sigma_x, Sigma_xv, Sigma_v):
    """S_ij = [Sigma_xv]_ij^2 / ([Sigma_x]_ii [Sigma_v]_jj)  # eq. (9); batched, shape (..., m, s)."""
    var_x = np.diagonal(Sigma_x, axis1=-2, axis2=-1)[..., :, None]
    var_v = np.diagonal(Sigma_v, axis1=-2, axis2=-1)[..., None, :]
    return Sigma_xv**2 / (var_x * var_v)


def sap(S):
    """Mean over factors of the gap between the two largest S_ij over latents  # eq. (10)."""
    S = np.asarray(S, dtype=float)
    if S.shape[-2] < 2:
        raise ValueError(f"SAP needs at least 2 latent dimensions; S has shape {S.shape}")
    top = np.sort(S, axis=-2)
    return np.mean(top[..., -1, :] - top[..., -2, :], axis=-1)


def pairwise_mutual_information(S):
    """I(x_i; v_j) = -1/2 log(1 - S_ij) for jointly Gaussian pairs (§4.1), in nats."""
    return -0.5 * np.log1p(-np.asarray(S, dtype=float))


def factor_entropy(Sigma_v):
    """Differential entropy H(v_j) = 1/2 log(2 pi e [Sigma_v]_jj) of Gaussian factors, in nats."""
    return 0.5 * np.log(2 * np.pi * np.e * np.diagonal(Sigma_v, axis1=-2, axis2=-1))


def mig(S, Sigma_v):
    """MIG of eq. (11) with the differential entropy H(v_j) of each Gaussian factor.

    Raises ValueError when some H(v_j) <= 0 (Var v_j <= 1/(2 pi e)): eq. (11) is then
    undefined or changes sign (see the catalogue entry mi_collapse.eq_11).
    """
    H = factor_entropy(Sigma_v)
    if np.any(H <= 0):
        raise ValueError("MIG of eq. (11) needs H(v_j) > 0, i.e. Var(v_j) > 1/(2 pi e) = 0.0585; "
                         f"smallest variance is {np.min(np.diagonal(Sigma_v, axis1=-2, axis2=-1)):.3g}")
    top = np.sort(pairwise_mutual_information(S), axis=-2)
    return np.mean((top[..., -1, :] - top[..., -2, :]) / H[..., None, :][..., 0, :], axis=-1)


def mutual_information(B, Sigma_w, Gamma, Sigma_v, Sigma_y):
    """I(x; v) = 1/2 log det Sigma_x / det(Sigma_x - B Gamma Sigma_v Gamma^T B^T)  # eq. (28), nats."""
    T = lambda X: np.swapaxes(X, -1, -2)
    Sigma_x, _ = latent_factor_covariances(B, Sigma_w, Gamma, Sigma_v, Sigma_y)
    signal = B @ Gamma @ Sigma_v @ T(Gamma) @ T(B)
    return 0.5 * (np.linalg.slogdet(Sigma_x)[1] - np.linalg.slogdet(Sigma_x - signal)[1])


def _group_information(Sigma_x, Sigma_xv, Sigma_v):
    """I(x_k; v_S) for every latent k and factor subset S (bit mask), independent factors."""
    s = Sigma_v.shape[-1]
    explained = Sigma_xv**2 / np.diagonal(Sigma_v, axis1=-2, axis2=-1)[..., None, :]  # (..., m, s)
    masks = (np.arange(2**s)[:, None] >> np.arange(s)) & 1                          # (2^s, s)
    var_x = np.diagonal(Sigma_x, axis1=-2, axis2=-1)[..., :, None]
    return -0.5 * np.log1p(-(explained @ masks.T) / var_x)                            # (..., m, 2^s)


def lim(Sigma_x, Sigma_xv, Sigma_v, method="partition"):
    """Latent Informativeness Metric of eq. (12) for independent factors (diagonal Sigma_v), nats.

    ``method="partition"`` maximises, as eq. (12) defines, over all partitions of the s
    factors into m (possibly empty) groups, group k read from latent k, by dynamic
    programming over subsets (m 3^s work). ``method="assignment"`` is the paper's stated
    reduction to a maximum-weight assignment (one factor per latent, needs s <= m); it
    equals the partition value only when no latent carries two factors
    (see mi_collapse.eq_12).
    """
    Sigma_v = np.asarray(Sigma_v, dtype=float)
    if np.any(np.abs(Sigma_v - np.diag(np.diagonal(Sigma_v))) > 0):
        raise ValueError("lim: Sigma_v must be diagonal (independent factors), as §4.1 assumes")
    if method == "assignment":
        I = pairwise_mutual_information(squared_correlations(Sigma_x, Sigma_xv, Sigma_v))
        if I.shape[-2] < I.shape[-1]:
            raise ValueError(f"lim(method='assignment') needs s <= m; got m={I.shape[-2]}, s={I.shape[-1]}")
        flat = I.reshape(-1, *I.shape[-2:])
        values = [w[linear_sum_assignment(w, maximize=True)].sum() for w in flat]
        return np.array(values).reshape(I.shape[:-2]) if I.ndim > 2 else values[0]
    if method != "partition":
        raise ValueError(f"method must be 'partition' or 'assignment'; got {method!r}")
    W = _group_information(Sigma_x, Sigma_xv, Sigma_v)          # (..., m, 2^s)
    full = W.shape[-1] - 1
    subsets = [[sub for sub in range(full + 1) if sub & ~mask == 0] for mask in range(full + 1)]
    best = W[..., 0, :]                                          # latent 0 takes the whole set
    for k in range(1, W.shape[-2]):
        best = np.stack([np.max(np.stack([best[..., mask & ~sub] + W[..., k, sub] for sub in subs]), axis=0)
                         for mask, subs in enumerate(subsets)], axis=-1)
    return best[..., full]


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


# ------------------------------------------------------------------------ phase diagram


PHASE_METRICS = ("reconstruction", "sap", "mig", "lim", "spectral_norm_B", "information")


def phase_diagram(Sigma_y, Gamma, Sigma_v, betas, lambdas, *, m, trials=100, seed=0, tol=1e-6,
                  max_iter=50_000, drift_max_iter=2_000, progress=False) -> list[dict]:
    """Algorithm 1 over a (beta, lambda) grid with the metrics of Fig. 2-3 of [mi_collapse].

    Every cell starts from the same ``trials`` random initialisations. In cells where the
    only stationary point is the trivial saddle (beta < 1, or beta = 1 with lambda > 0; see
    ``converges_to_stationary_point``) the iterates only drift towards Sigma_w -> 0, so they
    run at most ``drift_max_iter`` iterations and are reported with ``stationary`` = 0.

    Returns one dict per cell: beta, lam, beta_c, the mean and standard deviation of each
    of PHASE_METRICS (reconstruction = E||y - A x||^2 of eq. 8, SAP eq. 10, MIG eq. 11,
    LIM eq. 12, ||B||_2, I(x; v) eq. 28), the fractions ``converged`` (printed rule) and
    ``stationary``, and the median iteration count.
    """
    Sigma_y = validation.spd("Sigma_y", Sigma_y)
    n = Sigma_y.shape[0]
    m = validation.positive_int("m", m)
    B0, Sigma_w0 = random_initialisation(m, n, validation.positive_int("trials", trials),
                                         np.random.default_rng(seed))
    cells = [(float(b), float(l)) for l in lambdas for b in betas]
    rows = []
    for beta, lam in tqdm(cells, disable=not progress, desc="phase diagram", unit="cell"):
        budget = max_iter if converges_to_stationary_point(beta, lam) else min(max_iter, drift_max_iter)
        r = alternating(Sigma_y, beta, lam, B0=B0, Sigma_w0=Sigma_w0, tol=tol, max_iter=budget)
        Sigma_x, Sigma_xv = latent_factor_covariances(r.B, r.Sigma_w, Gamma, Sigma_v, Sigma_y)
        S = squared_correlations(Sigma_x, Sigma_xv, Sigma_v)
        values = {
            "reconstruction": np.trace(_residual_covariance(NUMPY, r.A, r.B, r.Sigma_w, Sigma_y), axis1=1, axis2=2),
            "sap": sap(S) if m > 1 else np.zeros(trials),
            "mig": mig(S, Sigma_v) if m > 1 else np.zeros(trials),
            "lim": lim(Sigma_x, Sigma_xv, Sigma_v),
            "spectral_norm_B": np.linalg.norm(r.B, ord=2, axis=(1, 2)),
            "information": mutual_information(r.B, r.Sigma_w, Gamma, Sigma_v, Sigma_y),
        }
        row = {"beta": beta, "lam": lam, "beta_c": collapse_threshold(Sigma_y, lam)}
        for key, v in values.items():
            row[key], row[key + "_sd"] = float(np.mean(v)), float(np.std(v))
        row.update(converged=float(r.converged.mean()), stationary=float(r.stationary.mean()),
                   regular=float(r.regular.mean()), iterations=float(np.median(r.iterations)))
        rows.append(row)
    return rows
