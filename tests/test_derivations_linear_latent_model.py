"""Derivations of [wang_ziyin] that only the LaTeX document displayed, checked by routes that
share no formula with them (issue 20: the mutation run found them held by the byte comparison
of the document alone): Monte Carlo of Lemma 1's mean square with a non-zero data mean, and the
two-point Jensen gap of Prop. 5 from its definition."""
import numpy as np
import pytest
import sympy as sp

from derivations import linear_latent_model as der


def by_name(expr):
    return {str(symbol): symbol for symbol in expr.free_symbols}


def test_lemma_1_mean_square_with_a_nonzero_data_mean_matches_monte_carlo():
    """E_x (C x + f)² for x with E x = μ ≠ 0 and E xxᵀ = A (eq. 31 before the zero-mean case the
    checks compare with the paper): the sample mean over 400,000 draws of x ~ N(μ, A - μμᵀ),
    within 6 standard errors."""
    rng = np.random.default_rng(0)
    mu, C, f = np.array([0.8, -1.1]), np.array([1.3, 0.6]), -0.7
    L = rng.normal(size=(2, 2))
    Sigma = L @ L.T + 0.2 * np.eye(2)
    A = Sigma + np.outer(mu, mu)
    expr = der.data_dependent_variance()["mean_square"]
    s = by_name(expr)
    value = {s["mu_1"]: mu[0], s["mu_2"]: mu[1], s["C_1"]: C[0], s["C_2"]: C[1], s["f"]: f,
             s["A_11"]: A[0, 0], s["A_12"]: A[0, 1], s["A_22"]: A[1, 1]}
    derived = float(expr.xreplace(value))
    squares = (rng.multivariate_normal(mu, Sigma, size=400_000) @ C + f) ** 2
    assert derived == pytest.approx(squares.mean(), abs=6 * squares.std() / np.sqrt(squares.size))
    assert abs(derived - float(der.data_dependent_variance()["zero_mean"].xreplace(value))) > 0.5   # μ matters


def test_prop_5_two_point_jensen_gap_is_the_log_of_the_mean_over_the_mean_of_the_logs():
    """The gain of a constant σ² with the same mean over two equally likely points, from its
    definition log E q - E log q, at random points; zero at q_1 = q_2 and positive otherwise."""
    ddv = der.data_dependent_variance()
    gap = ddv["jensen_gap"]
    s = by_name(gap)
    rng = np.random.default_rng(1)
    for q in np.exp(rng.normal(0, 1.5, size=(20, 2))):
        definition = np.log(q.mean()) - np.log(q).mean()
        assert float(gap.xreplace({s["q_1"]: q[0], s["q_2"]: q[1]})) == pytest.approx(definition, rel=1e-12, abs=1e-15)
        assert definition > 0
    assert ddv["jensen_gap_at_equal"] == 0


def test_prop_3_inactive_branch_and_its_condition_against_numerics():
    """σ* on the inactive branch (eq. 99) is numerics' σ* below the threshold, the active branch
    (eq. 96) above it, and the sign of eq. (97)'s condition is the side of ζ² = β η_dec², at
    random points; the minimum of an active mode (eq. 43) is the minimum over σ found numerically."""
    from scipy.optimize import minimize_scalar

    from numerics import linear_latent_model as llm

    sig = der.sigma_problem()
    args = (der.zeta, der.beta, der.eta_enc, der.eta_dec)
    active, inactive, condition, minimum = (sp.lambdify(args, sig[key]) for key in
                                            ("sigma_active", "sigma_inactive", "condition", "minimum"))
    loss = sp.lambdify((der.sigma, *args), sig["active"])
    rng = np.random.default_rng(2)
    for _ in range(20):
        beta, ee, ed = np.exp(rng.normal(0, 0.7, 3))
        for zeta in (np.sqrt(beta) * ed * np.exp(rng.uniform(0.05, 1.5)), np.sqrt(beta) * ed * np.exp(-rng.uniform(0.05, 1.5))):
            above = zeta**2 > beta * ed**2
            assert (condition(zeta, beta, ee, ed) > 0) == above
            root_k = np.sqrt(beta) * ed / ee                                  # √k, k = β η_dec²/η_enc²
            assert condition(zeta, beta, ee, ed) == pytest.approx(
                (zeta / root_k - np.sqrt(beta) * ed * ee / zeta) * zeta / root_k, rel=1e-12)   # eq. (97)'s product
            derived = active(zeta, beta, ee, ed) if above else inactive(zeta, beta, ee, ed)
            assert derived == pytest.approx(llm.sigma_star(zeta, beta, ee, ed), rel=1e-12)
            if above:
                best = minimize_scalar(lambda x: loss(x, zeta, beta, ee, ed), bounds=(1e-6, zeta * ee / np.sqrt(beta) / ed),
                                       method="bounded", options={"xatol": 1e-12})
                assert minimum(zeta, beta, ee, ed) == pytest.approx(best.fun, rel=1e-8, abs=1e-10)


def test_the_split_into_l_mean_and_l_var_adds_up_and_l_var_is_free_of_the_mean():
    """Eq. (5): β KL = ℓ_mean + ℓ_var, with ℓ_mean ∝ m² and ℓ_var not depending on m."""
    obj = der.objective_per_coordinate()
    assert sp.simplify(obj["l_mean"] + obj["l_var"] - obj["beta_kl"]) == 0
    assert sp.diff(obj["l_var"], der.m) == 0 and obj["l_var"] != 0
