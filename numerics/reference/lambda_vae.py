"""Independent routes for the λ-VAE of [lambda_vae]: ODEs, quadrature, root finding,
bounded maximisation and Monte Carlo mutual information.

Nothing here uses a closed form of numerics.lambda_vae: the ELBO and the KL terms are
integrated numerically from Gaussian densities, the attractor and the optimal exponent
are found by root finding and by numerical maximisation, the dynamics are integrated
with scipy, and mutual information is sampled.

References
----------
[lambda_vae] G. Demisse, "λ-VAE: Variance Equalization for Posterior Collapse",
    shared/papers/002_9357fcd1557682b2.txt.
"""
from __future__ import annotations

import mpmath as mp
import numpy as np
from scipy import integrate, optimize, stats
from scipy.special import logsumexp

from numerics.reference.finite_differences import gradient
from numerics.reference.monte_carlo import mean_and_error
from numerics.reference.quadrature import gauss_hermite

# ---------------------------------------------------------------- Gaussian integrals by quadrature


def _gauss_legendre(a: float, b: float, panels: int, order: int = 16):
    """Nodes and weights of composite Gauss-Legendre on [a, b] (``panels`` panels)."""
    x, w = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(a, b, panels + 1)
    half = np.diff(edges)[:, None] / 2
    return ((edges[:-1, None] + half) + half * x).ravel(), (half * w).ravel()


def _log_normal(z, mean, std):
    return -0.5 * ((z - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)


def kl_quadrature(mean: float, std: float) -> float:
    """KL(N(mean, std²) || N(0, 1)) = ∫ q log(q/p) by composite Gauss-Legendre quadrature of the
    log-densities, in the standardised variable u = (z - mean)/std over [-40, 40]."""
    u, w = _gauss_legendre(-40.0, 40.0, panels=64)
    log_q = _log_normal(u, 0.0, 1.0) - np.log(std)
    return float(w @ (np.exp(_log_normal(u, 0.0, 1.0)) * (log_q - _log_normal(mean + std * u, 0.0, 1.0))))


def elbo_quadrature(log_likelihood, mu: float, sigma: float, lam: float = 1.0,
                    order: int = 80) -> float:
    """The λ-ELBO E_ε[log p(x | μ + σ^λ ε)] - KL(N(μ, σ²) || N(0, 1)) of eq. (10).

    The expectation is a Gauss-Hermite rule over z ~ N(μ, σ^{2λ}); the KL term uses
    σ (not σ^λ) and is integrated by :func:`kl_quadrature`. ``log_likelihood`` maps an
    array of latent values to log p(x|z).
    """
    expected = gauss_hermite(lambda z: log_likelihood(z[:, 0]), [mu], [[sigma ** (2.0 * lam)]], order)
    return expected - kl_quadrature(mu, sigma)


# ---------------------------------------------------------------- dynamics


def integrate_flow(rhs, y0, t_max: float, n_points: int = 400, rtol: float = 1e-11,
                   atol: float = 1e-13):
    """Integrate dy/dt = rhs(y) from y0 (LSODA); return times (n,) and states (n, dim)."""
    y0 = np.atleast_1d(np.asarray(y0, dtype=float))
    t_eval = np.linspace(0.0, t_max, n_points)
    sol = integrate.solve_ivp(lambda t, y: np.atleast_1d(rhs(y)), (0.0, t_max), y0,
                              method="LSODA", t_eval=t_eval, rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"ODE integration failed: {sol.message}")
    return sol.t, sol.y.T


def correction_flow(lam: float, sigma0: float, t_max: float, n_points: int = 400):
    """dσ/dt = σ - λ σ^λ from σ0: the flow of [lambda_vae] Fig. 2a, as printed."""
    return integrate_flow(lambda s: s - lam * np.abs(s) ** lam, [sigma0], t_max, n_points)


def gradient_flow(objective, x0, t_max: float, n_points: int = 400, h: float = 1e-5):
    """Gradient ascent flow dx/dt = ∇ objective(x), the gradient by central differences."""
    return integrate_flow(lambda x: gradient(objective, x, h), x0, t_max, n_points,
                          rtol=1e-8, atol=1e-10)


def jacobian(rhs, y, h: float = 1e-6) -> np.ndarray:
    """The Jacobian of a vector field at y by central differences (columns = directions)."""
    y = np.atleast_1d(np.asarray(y, dtype=float))
    cols = [(np.atleast_1d(rhs(y + h * e)) - np.atleast_1d(rhs(y - h * e))) / (2 * h)
            for e in np.eye(y.size)]
    return np.stack(cols, axis=1)


# ---------------------------------------------------------------- attractor and optimal exponent


def sigma_star_root(lam, dps: int = 30):
    """The root σ in (0, 1) of λ σ^{λ-1} = 1 (eq. 22), by bisection in mpmath at dps + 8 digits."""
    with mp.workdps(dps + 8):
        lam = mp.mpf(lam)
        lo, hi = mp.mpf(0), mp.mpf(1)
        for _ in range(int(3.4 * (dps + 8)) + 10):      # one bit per step
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if lam * mid ** (lam - 1) < 1 else (lo, mid)
        return +(lo + hi) / 2


def net_gain_quadrature(lam: float, sigma: float, delta: float) -> float:
    """J(λ, σ) of eq. (15): the gain (λ - 1)|log σ| minus δ times the extra KL of N(0, σ^{2λ})
    over N(0, σ²), both KLs integrated by quadrature."""
    return (lam - 1.0) * abs(np.log(sigma)) - delta * (kl_quadrature(0.0, sigma ** lam)
                                                       - kl_quadrature(0.0, sigma))


def lambda_star_maximise(sigma: float, delta: float) -> float:
    """argmax over λ ≥ 1 of :func:`net_gain_quadrature` by bounded Brent, on [1, λ_max]
    with σ^{λ_max} = e^{-100} (beyond it the sampling density is too narrow to integrate)."""
    lam_max = 1.0 + 100.0 / abs(np.log(sigma))
    res = optimize.minimize_scalar(lambda lam: -net_gain_quadrature(lam, sigma, delta),
                                   bounds=(1.0, lam_max), method="bounded",
                                   options={"xatol": 1e-9})
    return float(res.x)


def lambda_star_root(sigma, delta, dps: int = 30):
    """The λ where dJ/dλ = 0 (J of eq. 15 in mpmath, differentiated numerically, bisected at
    dps + 8 digits), or 1 when J is already decreasing at λ = 1."""
    with mp.workdps(dps + 8):
        sigma, delta = mp.mpf(sigma), mp.mpf(delta)
        log_s = mp.log(sigma)

        def J(lam):
            kl = (sigma ** (2 * lam) - sigma ** 2 - 2 * lam * log_s + 2 * log_s) / 2
            return (lam - 1) * abs(log_s) - delta * kl

        slope = lambda lam: mp.diff(J, lam)
        if slope(mp.mpf(1)) <= 0:
            return mp.mpf(1)
        lo, hi = mp.mpf(1), mp.mpf(2)
        while slope(hi) > 0:
            lo, hi = hi, 2 * hi
        for _ in range(int(3.4 * (dps + 8)) + 10):      # J is concave: bisect on its slope
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if slope(mid) > 0 else (lo, mid)
        return +(lo + hi) / 2


def schedule_iteration(delta: float, sigma0: float, steps: int = 200) -> np.ndarray:
    """The idealised λ* schedule: λ <- max(1, log(1 - 1/δ)/(2 log σ)) (eq. 16), then σ <- the
    root of λ σ^{λ-1} = 1 (eq. 22, by brentq); returns the (λ, σ) iterates, shape (steps, 2)."""
    sigma, out = sigma0, []
    for _ in range(steps):
        lam = max(1.0, np.log(1.0 - 1.0 / delta) / (2.0 * np.log(sigma)))
        if lam > 1.0:
            sigma = optimize.brentq(lambda s: lam * s ** (lam - 1.0) - 1.0, 1e-300, 1.0,
                                    xtol=1e-15, rtol=4 * np.finfo(float).eps)
        else:
            sigma = np.exp(-1.0)  # lim λ->1 of the root
        out.append((lam, sigma))
    return np.array(out)


# ---------------------------------------------------------------- mutual information


def information_monte_carlo(mu, noise, weights=None, *, samples: int = 100_000, seed: int = 0):
    """Monte Carlo I(X;Z) and KL(q(z)||p(z)) for an encoder on a finite data set.

    Draws n ~ weights and z ~ N(mu[n], diag(noise[n]²)); q(z) is the exact mixture of
    the N posteriors (log-sum-exp of scipy log-densities), the estimator of [lambda_vae]
    §6.1. Returns {"mutual_information": (mean, stderr), "marginal_kl": (mean, stderr)}.
    """
    rng = np.random.default_rng(seed)
    mu = np.asarray(mu, dtype=float)
    mu = mu[:, None] if mu.ndim == 1 else mu
    noise = np.asarray(noise, dtype=float)
    noise = np.broadcast_to(noise[:, None] if noise.ndim == 1 and mu.shape[1] == 1 else noise, mu.shape)
    n = mu.shape[0]
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, float) / np.sum(weights)
    idx = rng.choice(n, size=samples, p=w)
    z = mu[idx] + noise[idx] * rng.standard_normal((samples, mu.shape[1]))
    log_cond = stats.norm.logpdf(z, mu[idx], noise[idx]).sum(axis=1)
    log_q = logsumexp(stats.norm.logpdf(z[:, None, :], mu[None], noise[None]).sum(axis=2)
                      + np.log(w), axis=1)
    log_p = stats.norm.logpdf(z).sum(axis=1)
    return {"mutual_information": mean_and_error(log_cond - log_q),
            "marginal_kl": mean_and_error(log_q - log_p)}


def channel_information_quadrature(groups) -> float:
    """I(X;Z) of a one-dimensional channel z = μ + s ε by nested Gauss-Legendre quadrature.

    ``groups`` is a list of (probability, m, v, s): with that probability the signal is
    μ ~ N(m, v) (a point mass when v = 0) and the noise is s. The marginal density q(z)
    is integrated over μ numerically (no convolution formula), h(Z) = -∫ q log q
    numerically, and h(Z|X) = Σ π_k h(N(0, s_k²)) from scipy; I = h(Z) - h(Z|X).
    Accurate to about 1e-12 when every noise s is at least a tenth of its signal's sqrt(v).
    """
    spread = max(abs(m) + 12 * np.sqrt(v + s * s) for _, m, v, s in groups)
    z, wz = _gauss_legendre(-spread, spread, panels=200)
    u, wu = _gauss_legendre(-12.0, 12.0, panels=30)
    q = np.zeros_like(z)
    for pi, m, v, s in groups:
        if v == 0.0:
            q += pi * np.exp(_log_normal(z, m, s))
        else:
            inner = np.exp(_log_normal(z[:, None], m + np.sqrt(v) * u[None], s) + _log_normal(u, 0.0, 1.0))
            q += pi * inner @ wu
    h_z = -wz @ np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0)
    h_z_given_x = sum(pi * stats.norm(0.0, s).entropy() for pi, _, _, s in groups)
    return float(h_z - h_z_given_x)


def information_gap_mpmath(mu, noise, dps: int = 30):
    """ΔI = H[φ|Z] = -∫ Σ_k p_k q_k(z) log P(k|z) dz for N equally likely one-dimensional encoder
    outputs mu[k] with a common noise, by mpmath quadrature at dps + 8 digits (split at every
    mean and midpoint, where the posterior changes). For gaps far below float64's resolution."""
    with mp.workdps(dps + 8):
        means = sorted(mp.mpf(m) for m in np.atleast_1d(mu))
        s, n = mp.mpf(noise), len(means)

        def integrand(z):
            log_w = [-((z - m) / s) ** 2 / 2 for m in means]          # log q_k up to a common factor
            top = max(log_w)
            w = [mp.exp(v - top) for v in log_w]
            total = mp.fsum(w)
            density = mp.exp(top) * total / (n * s * mp.sqrt(2 * mp.pi))
            return density * -mp.fsum(wk / total * mp.log(wk / total) for wk in w if wk > 0)

        cuts = sorted(set(means + [(a + b) / 2 for a, b in zip(means, means[1:])]))
        edges = [means[0] - 40 * s] + cuts + [means[-1] + 40 * s]
        return +mp.quad(integrand, edges)
