"""Independent routes for the [mi_collapse] linear-Gaussian VAE.

* ``terms_monte_carlo``: the objective's terms by sampling the model, with scipy.stats
  log-densities; no closed-form expectation is used.
* ``alternating_literal``: Algorithm 1 exactly as printed (one trial, an n x n inverse
  at every step, the flag alternation and both stopping tests).
* ``metrics_from_samples``: SAP and pairwise Gaussian MI from sampled (x, v) by sample
  correlations; ``lim_brute_force``: eq. (12) by enumerating every map factor -> latent.
* ``iterates_high_precision``: Algorithm 1's iterates at 30-300 digits (Arb matrices), where
  float64 underflows or cancels.
* ``objective_cholesky``: the objective written again from App. A with Cholesky factors and
  Frobenius norms (not the traces and inverses of ``numerics``), with its gradient derived by
  hand; what the many-start minimisations descend (tests hold it to central differences).
"""
from __future__ import annotations

import itertools

import flint
import mpmath as mp
import numpy as np
from scipy import stats
from scipy.linalg import solve_triangular

from numerics.precision import to_mp
from numerics.reference.monte_carlo import gaussian, mean_and_error


def terms_monte_carlo(A, B, Sigma_z, Sigma_w, Sigma_y, *, samples=200_000, seed=0) -> dict:
    """(estimate, stderr) of E[-log p(y|x)], E_y KL(q(x|y)||p(x)) and E||y - Ax||^2."""
    rng = np.random.default_rng(seed)
    m = B.shape[0]
    y = gaussian(Sigma_y, samples, rng)
    w = gaussian(Sigma_w, samples, rng)
    x = y @ B.T + w
    residual = y - x @ A.T
    nll = -stats.multivariate_normal(np.zeros(len(Sigma_z)), Sigma_z).logpdf(residual)
    kl = (stats.multivariate_normal(np.zeros(m), Sigma_w).logpdf(w)
          - stats.multivariate_normal(np.zeros(m), np.eye(m)).logpdf(x))
    l2 = np.sum(residual**2, axis=1)
    return {"reconstruction": mean_and_error(nll), "kl": mean_and_error(kl), "l2": mean_and_error(l2),
            "samples": (nll, kl, l2)}


def objective_monte_carlo(A, B, Sigma_z, Sigma_w, Sigma_y, beta, lam=0.0, *, samples=200_000,
                          seed=0) -> tuple[float, float]:
    """(estimate, stderr) of E[-log p(y|x)] + beta E KL(q(x|y)||p(x)) + lambda E||y - Ax||^2."""
    nll, kl, l2 = terms_monte_carlo(A, B, Sigma_z, Sigma_w, Sigma_y, samples=samples, seed=seed)["samples"]
    return mean_and_error(nll + beta * kl + lam * l2)


def alternating_literal(Sigma_y, beta, lam, B, Sigma_w, *, tol=1e-6, max_iter=50_000):
    """Algorithm 1 of [mi_collapse] line by line for one initialisation.

    ``max_iter`` counts decoder + encoder pairs; ``tol=0`` runs exactly ``max_iter`` pairs.
    Returns (A, B, Sigma_z, Sigma_w, pairs done, stopped by the tolerance test).
    """
    n, m = Sigma_y.shape[0], B.shape[0]
    Sigma_y_inv = np.linalg.inv(Sigma_y)
    A_prev = Sz_prev = B_prev = Sw_prev = None
    flag = True
    for t in range(2 * max_iter):
        if flag:
            Sigma_z = np.linalg.inv(Sigma_y_inv + B.T @ np.linalg.inv(Sigma_w) @ B)      # line 5
            A = Sigma_z @ B.T @ np.linalg.inv(Sigma_w)                                   # line 6
            if t > 0 and np.linalg.norm(A - A_prev) <= tol and np.linalg.norm(Sigma_z - Sz_prev) <= tol:
                return A, B, Sigma_z, Sigma_w, t // 2, True
            A_prev, Sz_prev, flag = A, Sigma_z, False
        else:
            M = (np.linalg.inv(Sigma_z) + 2 * lam * np.eye(n)) / beta                    # lines 13-17
            Sigma_w = np.linalg.inv(np.eye(m) + A.T @ M @ A)                             # line 18
            B = Sigma_w @ A.T @ M                                                        # line 19
            if B_prev is not None and np.linalg.norm(B - B_prev) <= tol and np.linalg.norm(Sigma_w - Sw_prev) <= tol:
                return A, B, Sigma_z, Sigma_w, t // 2 + 1, True
            B_prev, Sw_prev, flag = B, Sigma_w, True
    return A, B, Sigma_z, Sigma_w, max_iter, False


def sample_latents_and_factors(B, Sigma_w, Gamma, Sigma_v, sigma2, *, samples, seed=0):
    """Draw v, y = Gamma v + noise (eq. 1) and x = B y + w (eq. 2); return (x, v)."""
    rng = np.random.default_rng(seed)
    v = gaussian(Sigma_v, samples, rng)
    y = v @ Gamma.T + np.sqrt(sigma2) * rng.standard_normal((samples, Gamma.shape[0]))
    return y @ B.T + gaussian(Sigma_w, samples, rng), v


def metrics_from_samples(x, v) -> dict:
    """Squared sample correlations S, SAP (top-two gap per factor; None for m = 1) and
    the Gaussian MI of each pair."""
    m = x.shape[1]
    corr = np.corrcoef(np.concatenate([x, v], axis=1), rowvar=False)[:m, m:]
    S = corr**2
    ranked = -np.sort(-S, axis=0)
    sap = float(np.mean(ranked[0] - ranked[1])) if m >= 2 else None
    return {"S": S, "sap": sap, "mi": -0.5 * np.log(1 - S)}


def lim_brute_force(Sigma_x, Sigma_xv, Sigma_v) -> float:
    """eq. (12) by enumerating every map of the s factors to the m latents (m^s maps)."""
    m, s = Sigma_xv.shape
    best = -np.inf
    for assignment in itertools.product(range(m), repeat=s):
        total = 0.0
        for k in range(m):
            group = [j for j in range(s) if assignment[j] == k]
            if group:
                cov = Sigma_xv[k, group]
                inv = np.linalg.inv(Sigma_v[np.ix_(group, group)])
                total += -0.5 * np.log(1 - cov @ inv @ cov / Sigma_x[k, k])
        best = max(best, total)
    return best


def _arb(a):
    """A numpy matrix as an Arb matrix (exact: every float64 is a ball of radius 0)."""
    return flint.arb_mat(np.atleast_2d(np.asarray(a, dtype=float)).tolist())


def _mp(M) -> mp.matrix:
    """The midpoints of an Arb matrix as an mpmath matrix (exact: both are binary floats)."""
    return mp.matrix([[mp.mpf(tuple(map(int, M[i, j].mid().man_exp()))) for j in range(M.ncols())]
                      for i in range(M.nrows())])


def iterates_high_precision(Sigma_y, beta, lam, B0, Sigma_w0, steps: int, dps: int = 50):
    """The first ``steps`` iterates of Algorithm 1 at ``dps`` digits.

    Computed with python-flint's Arb matrices, keeping only the midpoints after every
    operation (plain multiple-precision arithmetic, in C rather than mpmath's Python matrices);
    Sigma_z^-1 = Sigma_y^-1 + B^T Sigma_w^-1 B (Lemma 3.1) is the one inverted. Returns a list of
    dicts with mpmath matrices: entry t holds the encoder (B^(t), Sigma_w^(t)) and the decoder
    (A^(t), Sigma_z^(t)) computed from it.
    """
    with flint.ctx.workdps(dps), mp.workdps(dps):
        n, m = Sigma_y.shape[0], B0.shape[0]
        Sigma_y_inv = _arb(Sigma_y).inv().mid()
        beta, lam = flint.arb(beta), flint.arb(lam)
        B, Sigma_w = _arb(B0), _arb(Sigma_w0)
        out = []
        for _ in range(steps + 1):
            Sw_inv = Sigma_w.inv().mid()
            Sz_inv = (Sigma_y_inv + B.transpose() * Sw_inv * B).mid()
            Sigma_z = Sz_inv.inv().mid()
            A = (Sigma_z * B.transpose() * Sw_inv).mid()
            out.append({"A": _mp(A), "B": _mp(B), "Sigma_z": _mp(Sigma_z), "Sigma_w": _mp(Sigma_w)})
            M = ((Sz_inv + 2 * lam * flint.arb_mat(n, n, 1)) / beta).mid()
            Sigma_w = (flint.arb_mat(m, m, 1) + A.transpose() * M * A).inv().mid()
            B = (Sigma_w * A.transpose() * M).mid()
        return out


# ------------------------------------------------------------------ many-start minimisation


def objective_cholesky(A, B, Lz, Lw, Sigma_y, beta, lam=0.0):
    """L_{lambda beta} (eq. 6 + lambda eq. 8, constants included) at Sigma_z = Lz Lz^T, Sigma_w = Lw Lw^T,
    and its gradient in (A, B, Lz, Lw) (Lz, Lw lower triangular with nonzero diagonals).

    With Ly Ly^T = Sigma_y, E = I - AB and C = [E Ly, A Lw] (so E[(y - Ax)(y - Ax)^T] = C C^T, App. A.3)
    and Y = Lz^-1 C:  L = n/2 log 2 pi + sum log|diag Lz| + ||Y||^2 / 2                    (App. A.2)
                          + beta/2 (||B Ly||^2 + ||Lw||^2 - 2 sum log|diag Lw| - m)            (App. A.1)
                          + lambda ||C||^2.                                                      (eq. 8)
    Gradient, with G = dL/dC = (Sigma_z^-1 + 2 lambda I) C = [G1, G2]:  dL/dA = -G1 (B Ly)^T + G2 Lw^T,
    dL/dB = -A^T G1 Ly^T + beta B Sigma_y, dL/dLw = tril(A^T G2 + beta (Lw - diag(1/diag Lw))),
    dL/dLz = tril(diag(1/diag Lz) - Lz^-T Y Y^T). No input checks: this is a minimiser's inner loop.

    Returns (value, {"A", "B", "Lz", "Lw"} -> gradient).
    """
    n, m = A.shape
    Ly = np.linalg.cholesky(Sigma_y)
    BLy = B @ Ly
    C = np.hstack([(np.eye(n) - A @ B) @ Ly, A @ Lw])
    Y = solve_triangular(Lz, C, lower=True, check_finite=False)
    dz, dw = np.diag(Lz), np.diag(Lw)
    value = (0.5 * (n * np.log(2 * np.pi) + np.sum(Y**2)) + np.sum(np.log(np.abs(dz)))
             + 0.5 * beta * (np.sum(BLy**2) + np.sum(Lw**2) - 2 * np.sum(np.log(np.abs(dw))) - m)
             + lam * np.sum(C**2))
    G = solve_triangular(Lz, Y, lower=True, trans="T", check_finite=False) + 2 * lam * C
    G1, G2 = G[:, :n], G[:, n:]
    grad = {"A": -G1 @ BLy.T + G2 @ Lw.T,
            "B": -A.T @ G1 @ Ly.T + beta * BLy @ Ly.T,
            "Lz": np.tril(np.diag(1 / dz) - solve_triangular(Lz, Y @ Y.T, lower=True, trans="T", check_finite=False)),
            "Lw": np.tril(A.T @ G2 + beta * (Lw - np.diag(1 / dw)))}
    return float(value), grad


def cholesky_factor(values, k: int) -> np.ndarray:
    """The k x k lower-triangular L whose entries (row by row) are ``values``, exponentiated on the
    diagonal: every SPD matrix is L L^T for exactly one such vector, so a minimiser may move freely."""
    L = np.zeros((k, k))
    L[np.tril_indices(k)] = values
    L[np.diag_indices(k)] = np.exp(L[np.diag_indices(k)])
    return L


def cholesky_factor_gradient(grad_L, L) -> np.ndarray:
    """The gradient in the values of :func:`cholesky_factor` from the gradient in its L (chain rule)."""
    k = L.shape[0]
    G = grad_L * np.where(np.eye(k, dtype=bool), L, 1.0)
    return G[np.tril_indices(k)]
