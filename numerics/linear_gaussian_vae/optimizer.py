"""AdamW on (A, B, log-Cholesky factors of Sigma_z and Sigma_w) (§5.1 of [mi_collapse]): a route to
the stationary points that uses the objective's gradient only, none of the block updates.

References
----------
[mi_collapse] "Mutual Information Collapse Explains Disentanglement Failure in
    beta-VAEs", shared/papers/000_6e757ef8f718962b.txt.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numerics import validation
from numerics.backend import NUMPY
from numerics.linear_gaussian_vae.algorithm import random_initialisation
from numerics.linear_gaussian_vae.model import _gradients, _terms

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
         steps, lr, weight_decay=0.0, betas=(0.9, 0.999), record_every=100) -> AdamResult:
    """AdamW on (A, B, log-Cholesky factors of Sigma_z and Sigma_w), as in §5.1 of [mi_collapse].

    §5.1 states no budget or learning rate for AdamW, so ``steps`` and ``lr`` have no default.
    The objective is recorded after step 1 and after every ``record_every``-th step, at the
    iterate the step produced (before, A and B after the step were paired with the covariances
    before it).

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
        if t % record_every == 0 or t == 1:       # the objective at the iterate after step t
            _, _, Sigma_z, Sigma_w = current()
            recon, kl, l2 = _terms(NUMPY, params["A"], params["B"], Sigma_z, Sigma_w, Sigma_y)
            record.append(recon + beta * kl + lam * l2)
    _, _, Sigma_z, Sigma_w = current()
    return AdamResult(params["A"], params["B"], Sigma_z, Sigma_w, np.array(record))
