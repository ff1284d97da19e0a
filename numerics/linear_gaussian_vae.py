"""The linear-Gaussian beta-VAE and lambda-beta-VAE of [mi_collapse].

Model (eq. 1-3): y = Gamma v + noise with covariance Sigma_y; encoder x = B y + w,
w ~ N(0, Sigma_w); decoder y_hat = A x + z, z ~ N(0, Sigma_z); prior x ~ N(0, I_m).

References
----------
[mi_collapse] "Mutual Information Collapse Explains Disentanglement Failure in
    beta-VAEs", shared/papers/000_6e757ef8f718962b.txt.
"""
from __future__ import annotations

import mpmath as mp
import numpy as np

from numerics import validation
from numerics.backend import MPMATH, NUMPY


def _residual_covariance(xp, A, B, Sigma_w, Sigma_y):
    """E[(y - A x)(y - A x)^T] = (I - AB) Sigma_y (I - AB)^T + A Sigma_w A^T  # eq. (8), App. A.3"""
    I_minus_AB = xp.eye(Sigma_y.shape[-1] if xp is NUMPY else Sigma_y.rows) - xp.mm(A, B)
    return (xp.mm(xp.mm(I_minus_AB, Sigma_y), xp.T(I_minus_AB))
            + xp.mm(xp.mm(A, Sigma_w), xp.T(A)))


def _terms(xp, A, B, Sigma_z, Sigma_w, Sigma_y):
    """(reconstruction, KL, L2) of eq. (6) and eq. (8), constants included."""
    n = Sigma_y.shape[-1] if xp is NUMPY else Sigma_y.rows
    m = Sigma_w.shape[-1] if xp is NUMPY else Sigma_w.rows
    R = _residual_covariance(xp, A, B, Sigma_w, Sigma_y)
    # App. A.2: n/2 log 2 pi + 1/2 log|Sigma_z| + 1/2 tr(Sigma_z^{-1} R)
    recon = (n * xp.log(2 * xp.pi) + xp.logdet(Sigma_z) + xp.tr(xp.mm(xp.inv(Sigma_z), R))) / 2
    # App. A.1: 1/2 [tr(B Sigma_y B^T + Sigma_w) - log|Sigma_w| - m]
    kl = (xp.tr(xp.mm(xp.mm(B, Sigma_y), xp.T(B)) + Sigma_w) - xp.logdet(Sigma_w) - m) / 2
    return recon, kl, xp.tr(R)


def _check(A, B, Sigma_z, Sigma_w, Sigma_y):
    Sigma_y = validation.spd("Sigma_y", Sigma_y)
    n = Sigma_y.shape[0]
    B = validation.matrix("B", B, (None, n))
    m = B.shape[0]
    A = validation.matrix("A", A, (n, m))
    Sigma_z = validation.spd("Sigma_z", Sigma_z, n)
    Sigma_w = validation.spd("Sigma_w", Sigma_w, m)
    return A, B, Sigma_z, Sigma_w, Sigma_y


def terms(A, B, Sigma_z, Sigma_w, Sigma_y, *, dps: int | None = None):
    """The reconstruction term (App. A.2), the KL term (App. A.1) and E||y - A x||^2 (eq. 8).

    Float64 by default; with ``dps`` the same formula in mpmath at ``dps`` digits.
    """
    args = _check(A, B, Sigma_z, Sigma_w, Sigma_y)
    if dps is None:
        return tuple(float(t) for t in _terms(NUMPY, *args))
    with mp.workdps(int(dps)):
        return _terms(MPMATH, *(MPMATH.asarray(a) for a in args))


def objective(A, B, Sigma_z, Sigma_w, Sigma_y, beta, lam=0.0, *, dps: int | None = None):
    """L_{lambda beta} = L_beta (eq. 6) + lambda E||y - A x||^2 (eq. 8), constants included.

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
