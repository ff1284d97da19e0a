"""Derivations of [optimal_beta] that only the LaTeX document displayed, checked by routes that
share no formula with them (issue 20: the mutation run found them held by the byte comparison
of the document alone): Monte Carlo of the generative model and of the KL's integrand, the
numeric optimum of numerics.tractable_beta_vae."""
import numpy as np
import pytest
import sympy as sp
from scipy import stats

from derivations import tractable_beta_vae as d
from derivations.matrix_calculus import evaluate
from numerics import tractable_beta_vae as tbv


def numeric(expr, sizes, values, beta=None):
    """``expr`` at explicit float matrices (by name), shape symbols from ``sizes`` = (N, k)."""
    expr = expr if beta is None else expr.xreplace({d.beta: beta})
    dims = {d.N: sizes[0], d.k: sizes[1]}
    out = evaluate(expr, dims, {name: sp.Matrix(np.atleast_2d(v)) for name, v in values.items()})
    out = out.doit() if hasattr(out, "doit") else out
    return np.array(sp.N(out), dtype=float)


def test_model_evidence_covariance_is_the_covariance_of_sampled_data():
    """Cov of x = D z + b_D + ε (z, ε standard normal), eq. (55)-(57): DDᵀ + I_N, against the
    sample covariance of 400,000 draws (within 6 standard errors per entry)."""
    rng = np.random.default_rng(0)
    D, b = rng.normal(size=(3, 2)), rng.normal(size=3)
    n = 400_000
    x = rng.normal(size=(n, 2)) @ D.T + b + rng.normal(size=(n, 3))
    derived = numeric(d.model_evidence_covariance(), (3, 2), {"D": D})
    sample = np.cov(x, rowvar=False)
    stderr = np.sqrt((np.outer(np.diag(derived), np.diag(derived)) + derived**2) / n)
    assert np.all(np.abs(sample - derived) < 6 * stderr)


def test_kl_per_sample_is_the_mean_log_ratio_under_the_posterior():
    """KL(N(μ_z, Σ_z) || N(0, I_k)) of eq. (39) against the Monte Carlo mean of log q - log p
    over 200,000 draws from q (within 6 standard errors)."""
    rng = np.random.default_rng(1)
    mu = rng.normal(size=2)
    L = rng.normal(size=(2, 2))
    Sigma = L @ L.T + 0.3 * np.eye(2)
    derived = float(numeric(d.kl_per_sample(), (3, 2), {"mu_z": mu[:, None], "Sigma_z": Sigma}))
    z = rng.multivariate_normal(mu, Sigma, size=200_000)
    log_ratio = stats.multivariate_normal(mu, Sigma).logpdf(z) - stats.multivariate_normal(np.zeros(2)).logpdf(z)
    assert derived == pytest.approx(log_ratio.mean(), abs=6 * log_ratio.std() / np.sqrt(z.shape[0]))


def test_decoder_residual_sides_agree_at_random_decoders():
    """The push-through identity (52): D W_μ* - I_N = -β (DDᵀ + βI_N)⁻¹ at random D and β."""
    rng = np.random.default_rng(2)
    for N, k in ((3, 1), (4, 2), (5, 3)):
        D, beta = rng.normal(size=(N, k)), float(rng.uniform(0.2, 5.0))
        left, right = (numeric(side, (N, k), {"D": D}, beta) for side in d.decoder_residual())
        assert left == pytest.approx(right, abs=1e-12)
        assert np.abs(left + np.eye(N)).max() > 1e-3        # not both the trivial -I_N


def test_decoder_condition_holds_at_the_numeric_optimum_and_only_there():
    """(44) at the optimal encoder holds at the decoder of numerics' optimum (Σ_x = AAᵀ + I) and
    fails at a random decoder: it is the stationarity condition, not an identity."""
    rng = np.random.default_rng(3)
    A = rng.normal(size=(4, 2))
    Sigma_x = tbv.Sigma_x(A)
    for beta in (0.7, 2.5):
        D = tbv.optimum(A, beta).D
        left, right = (numeric(side, (4, 2), {"D": D, "Sigma_x": Sigma_x}, beta) for side in d.decoder_condition())
        assert left == pytest.approx(right, abs=1e-10)
        assert np.abs(right).max() > 1e-3
        other = rng.normal(size=(4, 2))
        left, right = (numeric(side, (4, 2), {"D": other, "Sigma_x": Sigma_x}, beta) for side in d.decoder_condition())
        assert np.abs(left - right).max() > 1e-3
