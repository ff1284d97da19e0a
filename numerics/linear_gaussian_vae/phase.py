"""The phase diagram of Fig. 2-3 of [mi_collapse]: Algorithm 1 and the metrics over a (beta, lambda) grid.

References
----------
[mi_collapse] "Mutual Information Collapse Explains Disentanglement Failure in
    beta-VAEs", shared/papers/000_6e757ef8f718962b.txt.
"""
from __future__ import annotations

import numpy as np

from numerics import validation
from numerics.backend import NUMPY
from numerics.linear_gaussian_vae.algorithm import alternating_grid, random_initialisation
from numerics.linear_gaussian_vae.metrics import (latent_factor_covariances, lim, mig, mutual_information, sap,
                                                  squared_correlations)
from numerics.linear_gaussian_vae.model import _residual_covariance, collapse_threshold, converges_to_stationary_point

PHASE_METRICS = ("reconstruction", "sap", "mig", "lim", "spectral_norm_B", "information")


def phase_diagram(Sigma_y, Gamma, Sigma_v, betas, l2_weights, *, m, trials=100, seed=0, tol=1e-6,
                  max_iter=50_000, drift_max_iter=2_000, engine="auto", progress=False) -> list[dict]:
    """Algorithm 1 over a (beta, lambda) grid with the metrics of Fig. 2-3 of [mi_collapse];
    ``l2_weights`` are the lambdas, the L2 weight of eq. (7)-(8).

    Every cell starts from the same ``trials`` random initialisations. In cells where the
    only stationary point is the trivial saddle (beta < 1, or beta = 1 with lambda > 0; see
    ``converges_to_stationary_point``) the iterates only drift towards Sigma_w -> 0, so they
    run at most ``drift_max_iter`` iterations and are reported with ``stationary`` = 0.
    ``engine`` selects the compiled kernel or the NumPy reference (see ``alternating_grid``).

    Returns one dict per cell: beta, l2_weight (lambda), beta_c, the mean and standard deviation of each
    of PHASE_METRICS (reconstruction = E||y - A x||^2 of eq. 8, SAP eq. 10, MIG eq. 11,
    LIM eq. 12, ||B||_2, I(x; v) eq. 28), the fractions ``converged`` (printed rule) and
    ``stationary``, the median iteration count, and ``cap_dependent``: the metrics (";"-joined)
    whose value moves with the iteration cap because some trial was still moving when it hit
    the cap. At beta = 1, lambda > 0 (a sublinear drift that never stops) reconstruction, ||B||_2
    and I(x; v) are replaced by their limits (``sublinear_limits``, sd 0) and SAP, MIG, LIM
    are labelled.
    """
    Sigma_y = validation.spd("Sigma_y", Sigma_y)
    n = Sigma_y.shape[0]
    m = validation.positive_int("m", m)
    B0, Sigma_w0 = random_initialisation(m, n, validation.positive_int("trials", trials),
                                         np.random.default_rng(seed))
    cells = [(float(b), float(l)) for l in l2_weights for b in betas]
    caps = [max_iter if converges_to_stationary_point(beta, lam) else min(max_iter, drift_max_iter)
            for beta, lam in cells]
    results = alternating_grid(Sigma_y, cells, B0=B0, Sigma_w0=Sigma_w0, tol=tol, max_iter=caps, engine=engine,
                               progress=progress)
    stack = lambda key: np.concatenate([getattr(r, key) for r in results])     # all cells in one batch
    B, Sigma_w = stack("B"), stack("Sigma_w")
    Sigma_x, Sigma_xv = latent_factor_covariances(B, Sigma_w, Gamma, Sigma_v, Sigma_y)
    S = squared_correlations(Sigma_x, Sigma_xv, Sigma_v)
    values = {    # E||y - Ax||^2 cell by cell: one batch of all cells' n x n products falls out of cache
        "reconstruction": np.concatenate([np.trace(_residual_covariance(NUMPY, r.A, r.B, r.Sigma_w, Sigma_y),
                                                   axis1=1, axis2=2) for r in results]),
        "sap": sap(S) if m > 1 else np.zeros(len(B)),
        "mig": mig(S, Sigma_v) if m > 1 else np.zeros(len(B)),
        "lim": lim(Sigma_x, Sigma_xv, Sigma_v),
        "spectral_norm_B": np.linalg.norm(B, ord=2, axis=(1, 2)),
        "information": mutual_information(B, Sigma_w, Gamma, Sigma_v, Sigma_y),
    }
    limits = sublinear_limits(Sigma_y, Gamma, Sigma_v, m)
    rows = []
    for c, ((beta, lam), r, cap) in enumerate(zip(cells, results, caps)):
        row = {"beta": beta, "l2_weight": lam, "beta_c": collapse_threshold(Sigma_y, lam)}
        for key, v in values.items():
            v = v[c * trials:(c + 1) * trials]
            row[key], row[key + "_sd"] = float(np.mean(v)), float(np.std(v))
        at_cap = bool(np.any((r.iterations == cap) & ~r.stationary & r.regular))
        if beta == 1 and lam > 0:                # the sublinear drift: its limit where the theory gives one
            for key, value in limits.items():
                row[key], row[key + "_sd"] = value, 0.0
        row.update(converged=float(r.converged.mean()), stationary=float(r.stationary.mean()),
                   regular=float(r.regular.mean()), iterations=float(np.median(r.iterations)),
                   cap_dependent=";".join(k for k in PHASE_METRICS if at_cap and k not in
                                          (limits if beta == 1 and lam > 0 else ())))
        rows.append(row)
    return rows


def sublinear_limits(Sigma_y, Gamma, Sigma_v, m) -> dict:
    """Limits of reconstruction, ||B||_2 and I(x; v) along Algorithm 1 at beta = 1, lambda > 0.

    There the only stationary point is the trivial saddle, and the iterates drift towards the
    c -> 0 end of the closed-form family (``fixed_point``, c = (beta - 1) / (2 lambda)):
    Sigma_w -> 0 like 1 / (2 lambda d_m t), B -> Q diag(d_i^-1/2) U_m^T on the m leading modes,
    so E||y - Ax||^2 -> sum_{i > m} d_i, ||B||_2 -> d_m^-1/2 and I(x; v) -> the information of
    the noiseless code U_m^T y (eq. 28 with Sigma_w = 0). After t steps the errors fall like
    powers of t (measured on the Fig. 3 model: 1/t for the first and last, t^-0.6 for ||B||_2
    at lambda = 32).
    SAP, MIG and LIM depend on the latent rotation Q, which keeps turning (measured on the Fig. 3
    model: LIM still moves by 0.3-0.8 % per doubling of t between 32k and 64k steps), so they have no such value and the
    phase diagram labels them ``cap_dependent``.
    """
    d, U = np.linalg.eigh(Sigma_y)
    d, U = d[::-1], U[:, ::-1]
    k = min(m, d.size)
    Um = U[:, :k]
    noise = Sigma_y - Gamma @ Sigma_v @ Gamma.T                 # Cov(y | v)
    return {"reconstruction": float(np.sum(d[k:])), "spectral_norm_B": float(1 / np.sqrt(d[k - 1])),
            "information": float(0.5 * (np.linalg.slogdet(Um.T @ Sigma_y @ Um)[1]
                                        - np.linalg.slogdet(Um.T @ noise @ Um)[1]))}
