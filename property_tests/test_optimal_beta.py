"""Checks of the general propositions of [optimal_beta] (paper 003, §III, §IV.A, App. A).

The propositions are statements about any objective O(κ; β) = A(κ) - β B(κ) (B = KL,
A = reconstruction, A - B = ELBO), so they are fuzzed on objectives whose maximisers are
exact: finite κ sets (argmax by enumeration, ties included) and strictly concave
quadratics (a linear solve, confirmed by BFGS); and checked on the tractable β-VAE,
whose optimum (numerics.tractable_beta_vae) is confirmed independently in
property_tests/test_tractable_beta_vae.py. No library code is needed for them beyond
that model, hence no numerics/optimal_beta.py.
"""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, optimize

from numerics import tractable_beta_vae as t
from numerics.reference import tractable_beta_vae as ref
from numerics.reference.finite_differences import directional
from property_tests import strategies as s


def maximisers(A, B, beta):
    """Indices of every maximiser of A - βB on a finite set (exact ties kept)."""
    values = A - beta * B
    return np.flatnonzero(values == values.max())


def value_function(A, B, beta):
    return float(np.max(A - beta * B))


def optimal_curve(A, beta, name):
    """A quantity of the tractable model at its optimum, as a function of β."""
    return getattr(t.quantities(t.optimum(A, beta), A, beta), name)


# ---------------------------------------------------------------- Proposition 4 (and 2, eq. 13)


@pytest.mark.claim("optimal_beta.proposition_4", "optimal_beta.proposition_2", "optimal_beta.eq_13")
@s.examples(200)
@given(objective=s.ob_finite_objectives(), betas=s.ob_beta_lists)
def test_proposition_4_on_finite_objectives(objective, betas, evidence):
    """For β₁ < β₂, every maximiser at β₂ has B (and A) no larger than every maximiser at β₁."""
    A, B = objective
    sets = [maximisers(A, B, b) for b in betas]
    for i in range(len(betas)):
        for j in range(i + 1, len(betas)):
            assert B[sets[j]].max() <= B[sets[i]].min()          # Prop. 4 / Prop. 2
            assert A[sets[j]].max() <= A[sets[i]].min()          # eq. (13)
    evidence("largest optimal set (ties)", max(len(m) for m in sets))


@pytest.mark.claim("optimal_beta.proposition_4", "optimal_beta.proposition_2", "optimal_beta.eq_13")
@s.examples(30, shrink=False)
@given(objective=s.ob_concave_objectives())
def test_proposition_4_on_concave_objectives(objective, evidence):
    """A = -½κᵀPκ + aᵀκ, B = ½κᵀQκ + qᵀκ: κ*(β) = (P + βQ)⁻¹(a - βq), confirmed by BFGS;
    B(κ*) and A(κ*) are non-increasing on a β grid."""
    P, a, Q, q = objective
    A = lambda k: -0.5 * k @ P @ k + a @ k
    B = lambda k: 0.5 * k @ Q @ k + q @ k
    grid = np.geomspace(1e-2, 1e2, 40)
    kappas = [np.linalg.solve(P + b * Q, a - b * q) for b in grid]
    rng = np.random.default_rng(0)
    for b in grid[::13]:
        # a gradient tolerance far below the default 1e-5: the objective's curvature can be ~0.05,
        # where the default stops 2e-4 away from the optimum
        found = optimize.minimize(lambda k: -(A(k) - b * B(k)), rng.standard_normal(a.size), method="BFGS",
                                  options={"gtol": 1e-10})
        assert np.allclose(found.x, kappas[list(grid).index(b)], atol=1e-4)
    Bs, As = np.array([B(k) for k in kappas]), np.array([A(k) for k in kappas])
    tol = 1e-12 * (1 + np.abs(Bs).max() + np.abs(As).max())
    assert np.all(np.diff(Bs) <= tol) and np.all(np.diff(As) <= tol)
    evidence("max increase of B(κ*) along the grid", float(np.max(np.diff(Bs))))


@pytest.mark.claim("optimal_beta.proposition_4", "optimal_beta.proposition_2", "optimal_beta.eq_13",
                   "optimal_beta.proposition_3")
def test_propositions_2_to_4_for_any_objective(evidence):
    """App. A's argument, for any objective whose maximisers exist. With κ_i optimal at β_i
    (β₁ < β₂), the optimality gaps g₁ = O(κ₁; β₁) - O(κ₂; β₁) ≥ 0 and g₂ = O(κ₂; β₂) - O(κ₁; β₂) ≥ 0
    satisfy, identically: (30)-(31)'s O(κ; β₁) = O(κ; β₂) + (β₂ - β₁)B(κ); g₁ + g₂ = (β₂ - β₁)(B₁ - B₂),
    so B₁ ≥ B₂ (Prop. 4, 2); A₁ - A₂ = g₁ + β₁(B₁ - B₂) ≥ 0 (eq. 13); and for the ELBO A - B
    (Prop. 3): ELBO₁ - ELBO₂ = g₁ + (β₁ - 1)(B₁ - B₂) ≥ 0 when β₁ ≥ 1, ELBO₂ - ELBO₁ =
    g₂ + (1 - β₂)(B₁ - B₂) ≥ 0 when β₂ ≤ 1, and O(·; 1) = ELBO, so ELBO*(1) = max ELBO."""
    A1, A2, B1, B2, b1, b2, b = sp.symbols("A_1 A_2 B_1 B_2 beta_1 beta_2 beta", real=True)
    O = lambda a, c, beta: a - beta * c                      # eq. (28)
    g1, g2 = O(A1, B1, b1) - O(A2, B2, b1), O(A2, B2, b2) - O(A1, B1, b2)
    for identity in (O(A1, B1, b1) - (O(A1, B1, b2) + (b2 - b1) * B1),     # eq. (30), first line
                     g1 + g2 - (b2 - b1) * (B1 - B2),
                     (A1 - A2) - (g1 + b1 * (B1 - B2)),
                     (A1 - B1) - (A2 - B2) - (g1 + (b1 - 1) * (B1 - B2)),
                     (A2 - B2) - (A1 - B1) - (g2 + (1 - b2) * (B1 - B2)),
                     O(A1, B1, 1) - (A1 - B1)):
        assert sp.expand(identity) == 0
    evidence.exact("symbolic identities behind the sign argument")
    evidence("identities", 6)


# ---------------------------------------------------------------- Proposition 1: the envelope identity


@pytest.mark.claim("optimal_beta.proposition_1")
@s.examples(100)
@given(objective=s.ob_finite_objectives(), beta=s.log_uniform(1e-2, 1e2))
def test_envelope_identity_on_finite_objectives(objective, beta, evidence):
    """Corrected Prop. 1 (Danskin): L* is convex and non-increasing, ∂±L* = -min/-max B over
    the optimal set, so dL*/dβ = -B(κ*) where the optimal B is unique; the printed
    identity fails at the two-point counterexample."""
    A, B = objective
    L = lambda b: value_function(A, B, b)
    h = 1e-7 * beta
    opt = maximisers(A, B, beta)
    # one-sided derivatives at β: every line through an optimum, slopes -B
    right = (L(beta + h) - L(beta)) / h
    left = (L(beta) - L(beta - h)) / h
    kinks = [(A[i] - A[j]) / (B[i] - B[j]) for i in range(len(A)) for j in range(len(A)) if B[i] != B[j]]
    if not any(0 < abs(kk - beta) <= 2 * h for kk in kinks):
        assert abs(right + B[opt].min()) <= 1e-6 * (1 + np.abs(B).max())
        assert abs(left + B[opt].max()) <= 1e-6 * (1 + np.abs(B).max())
    assert L(beta) <= 0.5 * (L(beta - h * 1e3) + L(beta + h * 1e3)) + 1e-12 * (1 + abs(L(beta)))   # convex
    # the counterexample: A = (0, 1), B = (0, 1) at β = 1
    A2, B2 = np.array([0.0, 1.0]), np.array([0.0, 1.0])
    L2 = lambda b: value_function(A2, B2, b)
    left2, right2 = (L2(1) - L2(1 - 1e-6)) / 1e-6, (L2(1 + 1e-6) - L2(1)) / 1e-6
    assert set(maximisers(A2, B2, 1.0)) == {0, 1}
    assert abs(left2 + 1) < 1e-9 and abs(right2) < 1e-9             # no derivative at β = 1
    evidence("counterexample one-sided derivatives", f"{left2:.3f}, {right2:.3f}")


@pytest.mark.claim("optimal_beta.proposition_1")
@s.examples(10)
@given(A=s.tbv_mixing(max_N=6), beta=s.log_uniform(0.05, 20.0))
def test_envelope_identity_tractable(A, beta, evidence):
    """Tractable model: dL*/dβ by central differences equals -KL*, and
    L*(β₁) - L*(β₂) = ∫ KL* dβ by adaptive quadrature (kinks at the eigenvalues)."""
    L = lambda b: optimal_curve(A, b, "objective")
    h = 1e-4 * beta
    slope = directional(lambda b: L(float(b)), beta, 1.0, h)
    kl = optimal_curve(A, beta, "kl")
    # central differences, h = 1e-4 β: truncation ~1e-9, rounding ~1e-11 |L| / h
    tol_slope, tol_integral = 1e-5, 1e-9
    evidence.quote("1e-5", tol_slope)
    evidence.quote("1e-9", tol_integral)
    error = abs(slope + kl) / max(1.0, kl)
    assert error < tol_slope
    lam = 1 + np.linalg.svd(A, compute_uv=False) ** 2
    b1, b2 = beta / 3, beta * 3
    integral, _ = integrate.quad(lambda b: optimal_curve(A, b, "kl"), b1, b2,
                                 points=[l for l in lam if b1 < l < b2], epsabs=1e-12, epsrel=1e-12)
    gap = abs((L(b1) - L(b2)) - integral) / max(1.0, abs(integral))
    assert gap < tol_integral
    evidence("|dL*/dβ + KL*| / KL* (finite differences)", error)
    evidence("|L*(β1) - L*(β2) - ∫KL*| (relative)", gap)


# ---------------------------------------------------------------- Prop. 2 and eq. (13) on the tractable model


@pytest.mark.claim("optimal_beta.proposition_2", "optimal_beta.eq_13", "optimal_beta.figure_1cd")
@s.examples(15)
@given(A=s.tbv_mixing(max_N=6))
def test_kl_and_reconstruction_nonincreasing_tractable(A, evidence):
    """KL* and reconstruction* at the optimum never increase along a fine β grid."""
    sw = t.sweep(A, np.geomspace(1e-2, 1e3, 600))
    worst = 0.0
    for curve in (sw.kl, sw.reconstruction):
        rise = np.max(np.diff(curve)) / max(1.0, np.max(np.abs(curve)))
        assert rise <= 1e-12
        worst = max(worst, rise)
    evidence("max relative rise along the grid", worst)


# ---------------------------------------------------------------- Proposition 3, eq. (14)-(15)


@pytest.mark.claim("optimal_beta.eq_14")
def test_eq_14_identity(evidence):
    """L = ELBO + (1 - β) KL, symbolically (L = R - βK, ELBO = R - K), and per sample
    for the Monte Carlo estimates of the tractable model."""
    R, K, beta = sp.symbols("R K beta")
    assert sp.expand((R - beta * K) - ((R - K) + (1 - beta) * K)) == 0
    evidence.exact("symbolic identity")
    A = t.paper_mixing(6, 2)
    p = t.optimum(A, 0.7).as_dict()
    mc = {b: ref.objective_monte_carlo(p, A, b, samples=20_000, seed=4) for b in (0.7, 1.0)}
    elbo = mc[1.0]["objective"][0]
    gap = abs(mc[0.7]["objective"][0] - (elbo + 0.3 * mc[0.7]["kl"][0]))
    assert gap < 1e-9 * abs(elbo)
    evidence("per-sample identity gap (nats)", gap)


@pytest.mark.claim("optimal_beta.proposition_3")
@s.examples(200)
@given(objective=s.ob_finite_objectives(), betas=s.ob_beta_lists)
def test_elbo_star_unimodal_on_finite_objectives(objective, betas, evidence):
    """ELBO*(β) = A - B at the optimum: maximal at β = 1, non-decreasing below 1 and
    non-increasing above, for every selection among tied maximisers."""
    A, B = objective
    elbo = A - B
    at_one = elbo[maximisers(A, B, 1.0)]
    assert np.ptp(at_one) == 0 and at_one[0] == elbo.max()
    sets = [maximisers(A, B, b) for b in betas]
    for i in range(len(betas)):
        assert elbo[sets[i]].max() <= at_one[0]
        for j in range(i + 1, len(betas)):
            if betas[j] <= 1.0:
                assert elbo[sets[j]].min() >= elbo[sets[i]].max()
            elif betas[i] >= 1.0:
                assert elbo[sets[j]].max() <= elbo[sets[i]].min()
    evidence("ELBO*(1) - min over grid", float(at_one[0] - min(elbo[m].min() for m in sets)))


@pytest.mark.claim("optimal_beta.proposition_3")
@s.examples(10)
@given(A=s.tbv_mixing(max_N=6), beta=s.log_uniform(0.05, 20.0))
def test_elbo_star_tractable(A, beta, evidence):
    """dELBO*/dβ = (β - 1) dKL*/dβ by central differences; ELBO*(1) ≥ ELBO*(β)."""
    elbo = lambda b: optimal_curve(A, float(b), "elbo")
    kl = lambda b: optimal_curve(A, float(b), "kl")
    h = 1e-4 * beta
    lhs, rhs = directional(elbo, beta, 1.0, h), (beta - 1) * directional(kl, beta, 1.0, h)
    error = abs(lhs - rhs) / max(1.0, abs(rhs))
    lam = 1 + np.linalg.svd(A, compute_uv=False) ** 2
    if np.min(np.abs(lam - beta)) > 2 * h:      # KL* has a kink at each collapse threshold
        assert error < 1e-5
    assert elbo(1.0) >= elbo(beta) - 1e-12 * abs(elbo(1.0))
    evidence("|dELBO*/dβ - (β - 1) dKL*/dβ| (relative)", error)


# ---------------------------------------------------------------- eq. (4), (16) and §IV.A


@pytest.mark.claim("optimal_beta.eq_4", "optimal_beta.eq_16")
@s.examples(10)
@given(A=s.tbv_mixing(max_N=4), data=st.data())
def test_mie_is_log_likelihood_minus_elbo(A, data, evidence):
    """MIE from (25)-(26) equals E log p_θ(x) - ELBO at any network, and matches Monte
    Carlo of log q(z|x) - log p_θ(z|x) (Bayes' rule) at any network and at the optimum."""
    p = data.draw(s.tbv_networks(A, scale=0.4))
    net = t.Parameters(**p)
    q = t.quantities(net, A, 1.0)
    gap = abs(q.mie - (q.log_likelihood - q.elbo)) / max(1.0, abs(q.log_likelihood))
    assert gap < 1e-10
    estimate, stderr = ref.inference_error_monte_carlo(p, A, "model", samples=50_000)
    assert abs(q.log_likelihood - q.elbo - estimate) < 5 * stderr
    for beta in (0.5, 3.0):
        qo = t.quantities(t.optimum(A, beta), A, beta)
        assert abs(qo.mie - (qo.log_likelihood - qo.elbo)) < 1e-10 * max(1.0, abs(qo.log_likelihood))
    evidence("|MIE - (log p - ELBO)| (relative)", gap)
    evidence("|log p - ELBO - MC MIE| / stderr", abs(q.log_likelihood - q.elbo - estimate) / stderr)


@pytest.mark.claim("optimal_beta.section_4a")
@s.examples(5, shrink=False)
@given(A=s.tbv_mixing(max_N=4, max_k=2), data=st.data())
def test_fixed_decoder_mie_minimal_at_one(A, data, evidence):
    """Fixed (D, b_D): the optimal encoder (closed form, confirmed by many-start BFGS of
    the reference objective) has MIE(β) ≥ MIE(1), ELBO(β) ≤ ELBO(1), log p constant."""
    p = data.draw(s.tbv_networks(A))
    decoder = {"D": p["D"], "b_D": p["b_D"]}
    grid = np.geomspace(0.05, 20.0, 41)
    q = [t.quantities(t.encoder_optimum(p["D"], p["b_D"], b), A, b) for b in grid]
    q1 = t.quantities(t.encoder_optimum(p["D"], p["b_D"], 1.0), A, 1.0)
    mie, elbo = np.array([x.mie for x in q]), np.array([x.elbo for x in q])
    assert np.all(mie >= q1.mie - 1e-12 * (1 + q1.mie)) and np.all(elbo <= q1.elbo + 1e-12 * abs(q1.elbo))
    assert np.ptp([x.log_likelihood for x in q]) < 1e-12 * abs(q1.log_likelihood)
    worst = 0.0
    for beta in (0.4, 1.0, 2.5):
        exact = t.objective(t.encoder_optimum(p["D"], p["b_D"], beta), A, beta)
        _, values = ref.maximise_objective(A, beta, starts=3, seed=5, decoder=decoder)
        best = np.nanmax(values)
        assert best <= exact + 1e-9 * abs(exact)
        worst = max(worst, abs(best - exact) / abs(exact))
    assert worst < 1e-8
    # MIE(1) = ½[Σ log K_ii - log|K|], K = DᵀD + I: Hadamard's gap, zero iff DᵀD is diagonal
    K = p["D"].T @ p["D"] + np.eye(p["D"].shape[1])
    hadamard = 0.5 * (np.sum(np.log(np.diag(K))) - np.linalg.slogdet(K)[1])
    assert abs(q1.mie - hadamard) < 1e-10 * max(1.0, hadamard)
    if A.shape[1] > 1:
        assert q1.mie > 0
    Q = np.linalg.qr(p["D"])[0] * 1.5                # orthogonal columns: DᵀD diagonal
    assert abs(t.quantities(t.encoder_optimum(Q, p["b_D"], 1.0), A, 1.0).mie) < 1e-12
    evidence("MIE(1) (nats)", q1.mie)
    evidence("min over grid of MIE(β) - MIE(1)", float(np.min(mie - q1.mie)), reduce=min)
    evidence("encoder multistart vs closed form (relative)", worst)
