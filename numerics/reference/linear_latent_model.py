"""Independent routes for the linear latent-variable model of [wang_ziyin].

Everything works on a training set (X, Y), as the paper's E_x does, and on the model's
parameters directly: no whitening, no SVD of Z, no closed form.

* ``loss_and_grad``: the objective of eq. (4) (and (20), (28), with the decoder partition
  function when η_dec is learned) with E_ε taken exactly, and its gradient by hand.
* ``objective_monte_carlo``: eq. (3) itself, by sampling ε and using scipy's Gaussian
  log-densities for -log p(y|z) and log q(z|x) - log p(z).
* ``minimise``: many-start L-BFGS on ``loss_and_grad``.
* ``train``: Adam on the reparameterised per-sample loss (one ε per point and step),
  as in the paper's §5 experiments.

Parameters are a dict of blocks: ``U`` (d2 x d1), ``W`` (D0 x d1), ``f`` (d1,: the
encoder standard deviation, σ(x) = |C x + f|), ``C`` (d1 x D0, data-dependent variance,
App. C), ``b_e`` (d1,), ``b_d`` (d2,) (biases, App. B) and ``log_s`` (log η_dec²).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats
from threadpoolctl import threadpool_limits

from numerics.reference.monte_carlo import mean_and_error
from numerics.reference.optimize import multistart

BLOCKS = ("U", "W", "f", "C", "b_e", "b_d", "log_s")


def exact_data(R, M):
    """A training set whose second moment is exactly R R^T: X = sqrt(r) R^T, Y = X M^T."""
    R = np.asarray(R, dtype=float)
    X = np.sqrt(R.shape[1]) * R.T
    return X, X @ np.asarray(M, dtype=float).T


def _full(params, X, Y):
    """Every block, the unused ones as zeros (C, biases) and log_s = 0 (η_dec = 1)."""
    d1 = params["W"].shape[1]
    return {"C": np.zeros((d1, X.shape[1])), "b_e": np.zeros(d1), "b_d": np.zeros(Y.shape[1]),
            "log_s": 0.0, **params}


def loss_and_grad(params: dict, X, Y, beta, eta_enc=1.0, partition=False):
    """(L, dL/dparams) of eq. (4)/(20)/(28) on the training set, E_ε exact.

    L = E_x[ ||U m - y + b_d||² + Σ_i a_i² ||U_i||² ] / (2 s)
        + β E_x||m||² / (2 η_enc²) + β/2 Σ_i E_x(a_i²/η_enc² - 1 - log(a_i²/η_enc²))
        [+ (d2/2) log s],
    with m = W^T x + b_e, a = C x + f, s = exp(log_s).
    """
    p = _full(params, X, Y)
    n, d2 = Y.shape
    s = np.exp(p["log_s"])
    U = p["U"]
    m = X @ p["W"] + p["b_e"]
    a = X @ p["C"].T + p["f"]
    u2 = np.sum(U**2, axis=0)
    res = m @ U.T + p["b_d"] - Y
    rec = (np.sum(res**2) + np.sum(a**2 * u2)) / (2 * s * n)
    a2 = a**2 / eta_enc**2
    value = (rec + beta * np.sum(m**2) / (2 * eta_enc**2 * n)
             + beta / (2 * n) * np.sum(a2 - 1 - np.log(a2)) + (d2 / 2 * p["log_s"] if partition else 0.0))
    d_res = res / (s * n)
    d_m = d_res @ U + beta * m / (eta_enc**2 * n)
    d_a = a * u2 / (s * n) + beta / n * (a / eta_enc**2 - 1 / a)
    grad = {"U": d_res.T @ m + U * np.sum(a**2, axis=0) / (s * n), "W": X.T @ d_m,
            "f": d_a.sum(axis=0), "C": d_a.T @ X, "b_e": d_m.sum(axis=0), "b_d": d_res.sum(axis=0),
            "log_s": -rec + (d2 / 2 if partition else 0.0)}
    return float(value), grad


def objective_monte_carlo(X, Y, U, W, sigma, beta, eta_enc=1.0, eta_dec=1.0, *, C=None,
                          samples=2000, seed=0):
    """Monte Carlo of eq. (3) (or (28) with σ(x) = |C x + σ|) over ε, exact over the data.

    Returns ((reconstruction, stderr), (β KL, stderr), (total, stderr)), where
    reconstruction = E[-log p(y|z)] - (d2/2) log(2π η_dec²) (the partition function the
    paper drops) and KL = E[log q(z|x) - log p(z)], both from scipy log-densities.
    """
    rng = np.random.default_rng(seed)
    X, Y = np.asarray(X, float), np.asarray(Y, float)
    mean = X @ W
    std = np.abs(np.broadcast_to(sigma, mean.shape) + (0 if C is None else X @ np.asarray(C).T))
    eps = rng.standard_normal((samples,) + mean.shape)
    z = mean + std * eps
    d2 = Y.shape[1]
    nll = -stats.norm.logpdf(Y, z @ np.asarray(U).T, eta_dec).sum(axis=-1)
    rec = nll - d2 / 2 * np.log(2 * np.pi * eta_dec**2)
    kl = (stats.norm.logpdf(z, mean, std) - stats.norm.logpdf(z, 0.0, eta_enc)).sum(axis=-1)
    # one sample = one ε-draw for the whole training set: average over the data first
    rec, kl = rec.mean(axis=1), beta * kl.mean(axis=1)
    return mean_and_error(rec), mean_and_error(kl), mean_and_error(rec + kl)


@dataclass
class Minimum:
    loss: float                       # best final value over the starts
    params: dict                      # its parameters (learned and fixed blocks)
    losses: np.ndarray = field(repr=False)   # final value of every start


def _random_start(rng, X, Y, d1, learn):
    x_scale = np.sqrt(np.mean(np.sum(X**2, axis=1))) + 1e-300
    y_scale = np.sqrt(np.mean(np.sum(Y**2, axis=1))) + 1e-300
    d0, d2 = X.shape[1], Y.shape[1]
    draw = {"U": lambda: rng.standard_normal((d2, d1)) * y_scale / np.sqrt(d2),
            "W": lambda: rng.standard_normal((d0, d1)) / x_scale,
            "f": lambda: np.exp(rng.normal(0.0, 0.5, d1)),
            # |C x| stays below the offsets f on the data: crossing σ_i(x) = 0 is an infinite
            # barrier of -log σ², so a start with mixed signs would stay in a local minimum
            "C": lambda: 0.05 * rng.standard_normal((d1, d0)) / np.max(np.linalg.norm(X, axis=1)),
            "b_e": lambda: rng.standard_normal(d1),
            "b_d": lambda: rng.standard_normal(d2) * y_scale,
            "log_s": lambda: np.log(y_scale**2 / d2) + rng.normal()}
    return {name: draw[name]() for name in learn}


def minimise(X, Y, d1, beta, eta_enc=1.0, eta_dec=1.0, *, learn=("U", "W", "f"), fixed=None,
             starts=8, seed=0, partition=None, maxiter=20000) -> Minimum:
    """Minimise ``loss_and_grad`` over the ``learn`` blocks from ``starts`` random points.

    ``fixed`` gives the values of blocks that are not learned (default: σ = f = η_enc,
    no C, no biases); ``eta_dec=None`` learns log η_dec² and adds the partition function
    (``partition`` defaults to that).
    """
    X, Y = np.asarray(X, float), np.asarray(Y, float)
    rng = np.random.default_rng(seed)
    learn = tuple(learn) + (("log_s",) if eta_dec is None and "log_s" not in learn else ())
    base = {"f": np.full(d1, float(eta_enc))}
    if eta_dec is not None:
        base["log_s"] = 2 * np.log(eta_dec)
    base.update(fixed or {})
    partition = eta_dec is None if partition is None else partition
    probe = _random_start(rng, X, Y, d1, learn)
    shapes = [(name, np.shape(probe[name])) for name in learn]
    sizes = [int(np.prod(shape)) for _, shape in shapes]

    def unpack(theta):
        out, parts = dict(base), np.split(theta, np.cumsum(sizes)[:-1])
        for (name, shape), part in zip(shapes, parts):
            out[name] = part.reshape(shape) if shape else float(part[0])
        return out

    def fun(theta):
        value, grad = loss_and_grad(unpack(theta), X, Y, beta, eta_enc, partition)
        return value, np.concatenate([np.ravel(grad[name]) for name in learn])

    pack = lambda p: np.concatenate([np.ravel(p[name]) for name in learn])
    inits = [pack(probe)] + [pack(_random_start(rng, X, Y, d1, learn)) for _ in range(starts - 1)]
    # L-BFGS-B's BLAS calls on tiny vectors run ~50x slower with OpenBLAS threads on a
    # shared 2-core machine; one thread is also the fastest on an idle one.
    with threadpool_limits(limits=1, user_api="blas"):
        result = multistart(fun, inits, jac=True, method="L-BFGS-B",
                            options={"maxiter": maxiter, "maxcor": 30, "gtol": 1e-12, "ftol": 1e-16})
    return Minimum(result.fun, unpack(result.x), result.funs)


def train(X, Y, d1, beta, eta_enc=1.0, eta_dec=1.0, *, data_dependent=False, steps=4000,
          lr=0.02, seed=0) -> dict:
    """Adam on the reparameterised loss: one ε per data point and step (§5 of the paper).

    The learning rate decays as a cosine to lr/1000, so the noise of the single-sample
    gradient averages out. ``data_dependent`` learns σ(x) = |C x + f| (App. C, §5).
    Returns the parameters (U, W, f and, if learned, C).
    """
    X, Y = np.asarray(X, float), np.asarray(Y, float)
    rng = np.random.default_rng(seed)
    n, d2 = Y.shape
    params = _random_start(rng, X, Y, d1, ("U", "W", "f") + (("C",) if data_dependent else ()))
    params["C"] = params.get("C", np.zeros((d1, X.shape[1])))
    names = ("U", "W", "f") + (("C",) if data_dependent else ())
    first = {k: np.zeros_like(params[k]) for k in names}
    second = {k: np.zeros_like(params[k]) for k in names}
    s = eta_dec**2
    for t in range(1, steps + 1):
        U, m, a = params["U"], X @ params["W"], X @ params["C"].T + params["f"]
        eps = rng.standard_normal(m.shape)
        z = m + a * eps
        res = z @ U.T - Y
        d_z = res @ U / (s * n)
        d_m = d_z + beta * m / (eta_enc**2 * n)
        d_a = d_z * eps + beta / n * (a / eta_enc**2 - 1 / a)
        grad = {"U": res.T @ z / (s * n), "W": X.T @ d_m, "f": d_a.sum(axis=0), "C": d_a.T @ X}
        rate = lr * (1e-3 + (1 - 1e-3) * (1 + np.cos(np.pi * t / steps)) / 2)
        for k in names:
            first[k] = 0.9 * first[k] + 0.1 * grad[k]
            second[k] = 0.999 * second[k] + 0.001 * grad[k] ** 2
            step = first[k] / (1 - 0.9**t) / (np.sqrt(second[k] / (1 - 0.999**t)) + 1e-12)
            params[k] = params[k] - rate * step
    return {k: params[k] for k in ("U", "W", "f", "C")}
