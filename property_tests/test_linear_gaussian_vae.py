"""Checks of every claim of [mi_collapse] (paper 000) about the linear-Gaussian model.

Each test names the claims it backs; each compares the claim with a route that shares
no formula code with it (numerics.reference, finite differences, exact rational
arithmetic, mpmath, numerical optimisation).
"""
import numpy as np
import pytest
from hypothesis import given, settings

from numerics import linear_gaussian_vae as lgv
from numerics.reference.linear_gaussian_vae import objective_monte_carlo
from property_tests import strategies as s


@pytest.mark.claim("mi_collapse.eq_6", "mi_collapse.eq_8", "mi_collapse.appendix_a_1",
                   "mi_collapse.appendix_a_2", "mi_collapse.appendix_a_3")
@settings(max_examples=10)
@given(p=s.lgv_parameters(max_n=4), beta=s.betas, lam=s.lambdas)
def test_objective_matches_monte_carlo(p, beta, lam, evidence):
    """Closed form (6) + lambda (8) against sampling the model with scipy log-densities."""
    exact = lgv.objective(**p, beta=beta, lam=lam)
    estimate, stderr = objective_monte_carlo(**p, beta=beta, lam=lam, samples=100_000)
    assert abs(exact - estimate) <= 6 * stderr + 1e-9 * abs(exact)
    evidence("max |closed - MC| / stderr", abs(exact - estimate) / stderr)
