"""Disentanglement metrics of linear-Gaussian codes (§4.1, App. D of [mi_collapse]): latent-factor
covariances (eq. 4), squared correlations (eq. 9), SAP (eq. 10), MIG (eq. 11), LIM (eq. 12)
and the mutual information I(x; v) (eq. 28).

References
----------
[mi_collapse] "Mutual Information Collapse Explains Disentanglement Failure in
    beta-VAEs", shared/papers/000_6e757ef8f718962b.txt.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

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
