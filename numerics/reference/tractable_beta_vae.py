"""Independent routes for the tractable β-VAE of [optimal_beta] §IV.B.

* Monte Carlo: sample the generative model x = A s + η and the encoder, and average
  scipy log-densities (no closed-form expectation);
* Bayes' rule: posteriors and evidences as log p(x|z) + log p(z) - log p(x) with scipy
  densities, and p(x) = E_z p(x|z) by Gauss-Hermite quadrature;
* many-start optimisation of the β-VAE objective, written here again from its definition
  (Cholesky factor and Frobenius norms instead of the traces of ``numerics``), with
  central finite-difference gradients.

Parameters are passed as dicts with the names of the paper: W_mu (k×N), b_mu (k),
W_sigma (k×N), b_sigma (k), D (N×k), b_D (N).

References
----------
[optimal_beta] "β-VAE with a finite optimal β" (paper 003),
    shared/papers/003_a1eafab620a812b7.txt.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from numerics.reference.monte_carlo import mean_and_error
from numerics.reference.optimize import multistart

SHAPES = ("W_mu", "b_mu", "W_sigma", "b_sigma", "D", "b_D")


def _shapes(N: int, k: int) -> dict:
    return {"W_mu": (k, N), "b_mu": (k,), "W_sigma": (k, N), "b_sigma": (k,),
            "D": (N, k), "b_D": (N,)}


def sample_data(A, size: int, rng: np.random.Generator):
    """(s, x): ``size`` draws of the sources s ~ N(0, I_k) and data x = A s + η (eq. 17)."""
    N, k = A.shape
    s = rng.standard_normal((size, k))
    return s, s @ A.T + rng.standard_normal((size, N))


def _encode(p, x, rng):
    """Encoder means, variances and one reparametrised sample z per row of x (eq. 20)."""
    mu = x @ p["W_mu"].T + p["b_mu"]
    var = np.exp(x @ p["W_sigma"].T + p["b_sigma"])
    return mu, var, mu + np.sqrt(var) * rng.standard_normal(mu.shape)


def _log_q(z, mu, var):
    return stats.norm.logpdf(z, mu, np.sqrt(var)).sum(-1)


def objective_monte_carlo(params: dict, A, beta: float, *, samples: int = 100_000, seed: int = 0):
    """Monte Carlo of E_x[E_q log p(x|z)], E_x KL(q(z|x)||p(z)) and L_β = the first - β the second.

    One z ~ q(z|x) per data point; log p(x|z) = log N(x; D z + b_D, I_N) and the KL
    estimate log q(z|x) - log N(z; 0, I_k), all from scipy.stats.norm.

    Returns
    -------
    dict
        name -> (estimate, standard error) for "reconstruction", "kl", "objective".
    """
    rng = np.random.default_rng(seed)
    _, x = sample_data(A, samples, rng)
    mu, var, z = _encode(params, x, rng)
    recon = stats.norm.logpdf(x, z @ params["D"].T + params["b_D"], 1.0).sum(-1)
    kl = _log_q(z, mu, var) - stats.norm.logpdf(z).sum(-1)
    return {"reconstruction": mean_and_error(recon), "kl": mean_and_error(kl),
            "objective": mean_and_error(recon - beta * kl)}


def log_posterior_bayes(z, x, M, b=None):
    """log p(z|x) = log N(x; M z + b, I) + log N(z; 0, I) - log N(x; b, M Mᵀ + I) (Bayes' rule)."""
    N = M.shape[0]
    b = np.zeros(N) if b is None else b
    return (stats.norm.logpdf(x, z @ M.T + b, 1.0).sum(-1) + stats.norm.logpdf(z).sum(-1)
            - stats.multivariate_normal(b, M @ M.T + np.eye(N)).logpdf(x))


def inference_error_monte_carlo(params: dict, A, posterior: str, *, samples: int = 100_000,
                                seed: int = 0):
    """Monte Carlo of E_x KL(q(z|x) || p(z|x)): MIE (posterior="model") or TIE ("truth").

    x comes from the ground truth (eq. 17), z ~ q(z|x), and log p(z|x) from Bayes' rule
    with the model's decoder (MIE, eq. 2) or with the mixing matrix A (TIE, eq. 3).
    Returns (estimate, standard error).
    """
    if posterior not in ("model", "truth"):
        raise ValueError(f"posterior must be 'model' or 'truth'; got {posterior!r}")
    rng = np.random.default_rng(seed)
    _, x = sample_data(A, samples, rng)
    mu, var, z = _encode(params, x, rng)
    if posterior == "model":
        log_p = log_posterior_bayes(z, x, params["D"], params["b_D"])
    else:
        log_p = log_posterior_bayes(z, x, A)
    return mean_and_error(_log_q(z, mu, var) - log_p)


def evidence_quadrature(x, M, b=None, order: int = 40) -> float:
    """log p(x) = log E_{z ~ N(0, I_k)} N(x; M z + b, I_N), by Gauss-Hermite (k ≤ 3)."""
    N, k = M.shape
    b = np.zeros(N) if b is None else b
    nodes, weights = np.polynomial.hermite_e.hermegauss(order)
    weights = weights / weights.sum()
    grid = np.stack(np.meshgrid(*[nodes] * k, indexing="ij"), -1).reshape(-1, k)
    w = np.prod(np.stack(np.meshgrid(*[weights] * k, indexing="ij"), -1).reshape(-1, k), axis=1)
    log_lik = stats.norm.logpdf(x, grid @ M.T + b, 1.0).sum(-1)
    top = log_lik.max()
    return float(top + np.log(w @ np.exp(log_lik - top)))


# ------------------------------------------------------------------ many-start optimisation


def _unpack(V, N, k):
    out, i = {}, 0
    for name, shape in _shapes(N, k).items():
        n = int(np.prod(shape))
        out[name] = V[:, i:i + n].reshape((V.shape[0],) + shape)
        i += n
    return out


def pack(params: dict) -> np.ndarray:
    """The parameters as one flat vector (order W_mu, b_mu, W_sigma, b_sigma, D, b_D)."""
    return np.concatenate([np.ravel(params[name]) for name in SHAPES])


def unpack(vector, N: int, k: int) -> dict:
    """Inverse of :func:`pack`."""
    return {name: value[0] for name, value in _unpack(np.atleast_2d(vector), N, k).items()}


def objective_batch(V, A, beta):
    """L_β (nats, constants included) for each row of V, from the definition (33):

    E_x E_q log p(x|z) = -N/2 log 2π - ½ E||(I - D W_μ) x - (D b_μ + b_D)||² - ½ Σ_i ||d_i||² E σ_i²,
    E_x KL = ½ Σ_i (E σ_i² + E μ_i² - 1 - E log σ_i²), with x = L ξ (Σ_x = L Lᵀ, ξ ~ N(0, I)):
    E||M x + c||² = ||M L||_F² + ||c||², E μ_i² = ||Lᵀ w_i||² + b_i², E σ_i² = exp(b_i + ||Lᵀ v_i||²/2).
    """
    N, k = A.shape
    L = np.linalg.cholesky(A @ A.T + np.eye(N))
    p = _unpack(np.atleast_2d(V), N, k)
    M = np.eye(N) - p["D"] @ p["W_mu"]
    c = np.einsum("bij,bj->bi", p["D"], p["b_mu"]) + p["b_D"]
    var = np.exp(p["b_sigma"] + 0.5 * np.sum((p["W_sigma"] @ L) ** 2, axis=-1))
    recon = -0.5 * (N * np.log(2 * np.pi) + np.sum((M @ L) ** 2, axis=(-2, -1))
                    + np.sum(c**2, -1) + np.sum(np.sum(p["D"] ** 2, axis=-2) * var, -1))
    mean_sq = np.sum((p["W_mu"] @ L) ** 2, axis=-1) + p["b_mu"] ** 2
    kl = 0.5 * np.sum(var + mean_sq - 1.0 - p["b_sigma"], -1)
    return recon - beta * kl


def _fd_gradient(f, v, h):
    """Central differences of f at v, all 2P evaluations in one batch."""
    E = h * np.eye(v.size)
    values = f(np.concatenate([v + E, v - E]))
    return (values[:v.size] - values[v.size:]) / (2 * h)


def maximise_objective(A, beta: float, *, starts: int = 8, seed: int = 0, scale: float = 0.5,
                       decoder: dict | None = None, h: float = 1e-6, maxiter: int = 5_000):
    """Maximise L_β by BFGS from ``starts`` random points (central-difference gradients).

    Parameters
    ----------
    A : ndarray, shape (N, k)
    beta : float
    starts : int
        Number of random starting points, entries N(0, scale²).
    decoder : dict, optional
        {"D": ..., "b_D": ...} held fixed (only the encoder is optimised: §IV.A).

    Returns
    -------
    (best, values) : (dict, ndarray)
        The best maximiser found (dict of parameters) and the final L_β of every start.
    """
    N, k = A.shape
    shapes = _shapes(N, k)
    free = [n for n in SHAPES if decoder is None or n not in decoder]
    sizes = [int(np.prod(shapes[n])) for n in free]

    def full(U):
        parts, i = [], 0
        for name in SHAPES:
            if name in free:
                n = sizes[free.index(name)]
                parts.append(U[:, i:i + n])
                i += n
            else:
                parts.append(np.broadcast_to(np.ravel(decoder[name]), (U.shape[0], np.size(decoder[name]))))
        return np.concatenate(parts, axis=1)

    def loss(U):
        return -objective_batch(full(np.atleast_2d(U)), A, beta)

    rng = np.random.default_rng(seed)
    x0 = scale * rng.standard_normal((starts, sum(sizes)))
    # line searches may try points where exp(b_σ + ...) overflows: L_β = -inf there
    with np.errstate(over="ignore", invalid="ignore"):
        result = multistart(lambda u: float(loss(u)[0]), x0, jac=lambda u: _fd_gradient(loss, u, h),
                            method="BFGS", options={"maxiter": maxiter, "gtol": 1e-9})
    return unpack(full(result.x[None, :])[0], N, k), -result.funs
