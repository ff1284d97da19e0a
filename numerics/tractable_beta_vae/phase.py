"""The optimum of [optimal_beta] over a β grid (Fig. 1), TIE on every branch of equivalent optima,
and the minimiser of a function of β.

References
----------
[optimal_beta] "β-VAE with a finite optimal β" (paper 003),
    shared/papers/003_a1eafab620a812b7.txt.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from tqdm import tqdm

from numerics import validation
from numerics.tractable_beta_vae.model import Sigma_x, _log_likelihood, _mie, _terms, _tie, check_mixing
from numerics.tractable_beta_vae.optimum import _canonical, number_of_optima, relabel, signed_permutations


@dataclass(frozen=True)
class Sweep:
    """The optimum's quantities over a β grid; ``tie`` has one column per branch.

    A branch is one signed permutation of the latents applied to the canonical optimum
    (``branches[j]`` = (permutation, signs)); it follows one optimum continuously in β.
    """
    beta: np.ndarray
    objective: np.ndarray
    elbo: np.ndarray
    reconstruction: np.ndarray
    kl: np.ndarray
    log_likelihood: np.ndarray
    mie: np.ndarray
    tie: np.ndarray
    branches: tuple
    n_optima: np.ndarray


def sweep(A, betas, *, progress: bool = False, chunk: int = 256) -> Sweep:
    """The optimum's quantities on a β grid, TIE on every branch of equivalent optima.

    Parameters
    ----------
    A : array_like, shape (N, k)
    betas : array_like
        Positive β values (1-D).
    progress : bool
        Show a tqdm progress bar over chunks of the grid.
    chunk : int
        β values evaluated per batched call.

    Returns
    -------
    Sweep
        Arrays over ``betas``; ``tie`` has shape (len(betas), 2^k k!), one column per
        signed permutation of the canonical optimum.

    References
    ----------
    [optimal_beta] §IV.B and Fig. 1.
    """
    A = check_mixing(A)
    betas = validation.array_in("betas", np.atleast_1d(betas), 0.0)
    if betas.ndim != 1:
        raise ValueError(f"betas must be 1-D; got shape {betas.shape}")
    Sigma = Sigma_x(A)
    branches = tuple(signed_permutations(A.shape[1]))
    names = ("objective", "elbo", "reconstruction", "kl", "log_likelihood", "mie")
    out = {name: [] for name in names + ("tie",)}
    starts = range(0, betas.size, chunk)
    for start in tqdm(starts, desc="beta sweep", disable=not progress):
        b = betas[start:start + chunk]
        p = _canonical(A, b)
        reconstruction, kl = _terms(p, Sigma)
        for name, value in zip(names, (reconstruction - b * kl, reconstruction - kl,
                                       reconstruction, kl, _log_likelihood(p, Sigma),
                                       _mie(p, Sigma))):
            out[name].append(value)
        out["tie"].append(np.stack([_tie(relabel(p, perm, signs), Sigma, A)
                                    for perm, signs in branches], axis=-1))
    n_optima = np.array([number_of_optima(A, b) for b in betas])
    return Sweep(beta=betas, branches=branches, n_optima=n_optima,
                 **{name: np.concatenate(values) for name, values in out.items()})


def minimise_over_beta(f, betas, values=None) -> tuple[float, float]:
    """(β*, f(β*)): the grid minimiser of a scalar function of β, refined by bounded Brent
    search in log β between the grid neighbours of the best grid point.

    Parameters
    ----------
    f : callable
        f(beta) -> float.
    betas : array_like
        Increasing positive grid.
    values : array_like, optional
        f on the grid, when already computed (e.g. a column of :func:`sweep`).

    Returns
    -------
    (beta_star, value) : tuple of float
        The refined minimiser, or the grid end point when the minimum lies on an edge.
    """
    betas = validation.array_in("betas", betas, 0.0)
    values = np.array([f(b) for b in betas] if values is None else values, dtype=float)
    i = int(np.argmin(values))
    if i in (0, betas.size - 1):
        return float(betas[i]), float(values[i])
    result = optimize.minimize_scalar(lambda t: f(math.exp(t)), method="bounded",
                                      bounds=(math.log(betas[i - 1]), math.log(betas[i + 1])),
                                      options={"xatol": 1e-10})
    if result.fun <= values[i]:
        return float(math.exp(result.x)), float(result.fun)
    return float(betas[i]), float(values[i])
