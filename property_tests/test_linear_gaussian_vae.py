"""Checks of every claim of [mi_collapse] (paper 000) about the linear-Gaussian model.

Each test names the claims it backs and compares them with a route that shares no
formula code: Monte Carlo and quadrature with scipy densities (numerics.reference),
central differences in mpmath, scipy minimisation from many starts, the literal
Algorithm 1, mpmath iterates at 50 digits, and sweeps on both sides of thresholds.
"""
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given
from hypothesis import strategies as st

from numerics import linear_gaussian_vae as lgv
from numerics.precision import logdet, spectral_norm, to_mp, to_np
from numerics.reference import finite_differences, gaussian, quadrature
from numerics.reference.monte_carlo import gaussian as mc_gaussian
from numerics.reference.monte_carlo import mean_and_error
from numerics.reference import linear_gaussian_vae as ref
from numerics.reference.optimize import multistart
from property_tests import strategies as s


def rel_fro(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / max(np.linalg.norm(b), 1e-300)


def collapsed_objective(Sigma_y):
    """L at (0, 0, Sigma_y, I): n/2 log(2 pi e) + 1/2 log|Sigma_y|, by direct arithmetic."""
    n = Sigma_y.shape[0]
    return n / 2 * np.log(2 * np.pi * np.e) + 0.5 * np.linalg.slogdet(Sigma_y)[1]


# ------------------------------------------------------------------ objective, App. A


@pytest.mark.claim("mi_collapse.eq_6", "mi_collapse.eq_8", "mi_collapse.appendix_a_1",
                   "mi_collapse.appendix_a_2", "mi_collapse.appendix_a_3")
@s.examples(10)
@given(p=s.lgv_parameters(max_n=4), beta=s.betas, lam=s.lambdas)
def test_objective_matches_monte_carlo(p, beta, lam, evidence):
    """Each term of (6) and (8) against sampling the model with scipy log-densities."""
    exact = dict(zip(("reconstruction", "kl", "l2"), lgv.terms(**p)))
    mc = ref.terms_monte_carlo(**p, samples=60_000)
    for name, value in exact.items():
        estimate, stderr = mc[name]
        assert abs(value - estimate) <= 6 * stderr + 1e-12 * abs(value), name
        evidence(f"max |closed - MC| / stderr ({name})", abs(value - estimate) / stderr)
    total = lgv.objective(**p, beta=beta, lam=lam)
    assert np.isclose(total, exact["reconstruction"] + beta * exact["kl"] + lam * exact["l2"], rtol=1e-12)


@pytest.mark.claim("mi_collapse.appendix_a_3")
@s.examples(8)
@given(p=s.lgv_parameters(max_n=4), seed=s.seeds)
def test_l2_cross_terms_vanish_because_y_and_w_are_independent(p, seed, evidence):
    """App. A.3's reason, measured by sampling: with y and w independent the cross term
    -2 E[((I - AB) y)^T A w] is within 6 standard errors of 0; with w = K y + e (e ~ N(0, Sigma_w)
    independent of y) it is -2 tr((I - AB) Sigma_y K^T A^T), and the printed form (with Cov w in
    place of Sigma_w) misses E||y - Ax||^2 by exactly that."""
    A, B, Sigma_w, Sigma_y = p["A"], p["B"], p["Sigma_w"], p["Sigma_y"]
    m, n = B.shape
    rng = np.random.default_rng(seed)
    y, e = mc_gaussian(Sigma_y, 100_000, rng), mc_gaussian(Sigma_w, 100_000, rng)
    K = rng.standard_normal((m, n))
    I_AB = np.eye(n) - A @ B
    worst = 0.0
    for w, K_ in ((e, np.zeros((m, n))), (y @ K.T + e, K)):
        cross, se = mean_and_error(-2 * np.sum((y @ I_AB.T) * (w @ A.T), axis=1))
        predicted = -2 * np.trace(I_AB @ Sigma_y @ K_.T @ A.T)
        assert abs(cross - predicted) <= 6 * se + 1e-12
        l2, l2_se = mean_and_error(np.sum((y - (y @ B.T + w) @ A.T) ** 2, axis=1))
        printed = np.trace(I_AB @ Sigma_y @ I_AB.T + A @ (K_ @ Sigma_y @ K_.T + Sigma_w) @ A.T)
        assert abs(l2 - printed - predicted) <= 6 * l2_se + 1e-12
        worst = max(worst, abs(cross - predicted) / se)
    evidence("max |cross term - prediction| / stderr", worst)


@pytest.mark.claim("mi_collapse.appendix_a_1")
@given(p=s.lgv_parameters(max_n=5))
def test_expected_kl_is_kl_of_joint_to_product(p, evidence):
    """App. A.1: E_y KL(q(x|y)||p(x)) = KL(q(x,y) || p(x)p(y)) with the joint covariances."""
    B, Sigma_w, Sigma_y = p["B"], p["Sigma_w"], p["Sigma_y"]
    m, n = B.shape
    Sigma_q = np.block([[B @ Sigma_y @ B.T + Sigma_w, B @ Sigma_y], [Sigma_y @ B.T, Sigma_y]])
    Sigma_p = np.block([[np.eye(m), np.zeros((m, n))], [np.zeros((n, m)), Sigma_y]])
    joint = gaussian.kl(Sigma_q, Sigma_p)
    _, kl, _ = lgv.terms(**p)
    assert np.isclose(kl, joint, rtol=1e-9, atol=1e-11)
    evidence("max rel. error vs joint KL", abs(kl - joint) / abs(joint))


@pytest.mark.claim("mi_collapse.eq_6", "mi_collapse.eq_8")
@given(p=s.lgv_parameters(max_n=5, max_log10_cond=1.5), beta=s.betas, lam=s.lambdas)
def test_objective_float64_agrees_with_mpmath(p, beta, lam, evidence):
    """The same formula at 58 digits; float64 is good to 1e-10 relative (well-conditioned inputs)."""
    exact = lgv.objective(**p, beta=beta, lam=lam, dps=58)
    approx = lgv.objective(**p, beta=beta, lam=lam)
    err = abs(approx - float(exact)) / max(abs(float(exact)), 1.0)
    assert err <= 1e-10
    evidence("max rel. error float64 vs mpmath", err)


# ------------------------------------------------------------------ gradients, App. B-C


@pytest.mark.claim("mi_collapse.eq_16", "mi_collapse.eq_23")
@s.examples(12)
@given(p=s.lgv_parameters(max_n=4, max_log10_cond=1.0), beta=s.betas, lam=s.lambdas, seed=s.seeds)
def test_gradients_match_mpmath_central_differences(p, beta, lam, seed, evidence):
    """eq. (16)/(23a-d) against central differences of the objective at 40 digits, random directions."""
    g = lgv.gradients(**p, beta=beta, lam=lam)
    rng = np.random.default_rng(seed)
    names = ("A", "B", "Sigma_z", "Sigma_w")
    for name in names:
        V = rng.standard_normal(p[name].shape)
        if name.startswith("Sigma"):
            V = (V + V.T) / 2

        with mp.workdps(40):
            X, dX = to_mp(p[name]), to_mp(V)
            f = lambda X: lgv.objective(**{**p, name: X}, beta=beta, lam=lam, dps=40)
            fd = finite_differences.directional(f, X, dX, h=mp.mpf("1e-12"))
        claimed = float(np.sum(g[name] * V))
        err = abs(claimed - float(fd)) / max(1.0, abs(float(fd)))
        assert err <= 1e-7, (name, claimed, fd)
        evidence("max rel. error vs finite differences", err)


# ------------------------------------------------------------ stationarity, Lemmas 3.1 and 4.1


def _block_minimum(p, beta, lam, block, rng):
    """Minimise the objective over one block ((A, Sigma_z) or (B, Sigma_w)) with scipy's BFGS from 4
    starts, descending the reference objective (Cholesky factors, hand-derived gradient)."""
    n, m = p["A"].shape
    names = ("A", "Sigma_z") if block == "decoder" else ("B", "Sigma_w")
    shape = p[names[0]].shape
    k = n if block == "decoder" else m
    size = int(np.prod(shape))
    fixed = {"A": p["A"], "B": p["B"], "Lz": np.linalg.cholesky(p["Sigma_z"]), "Lw": np.linalg.cholesky(p["Sigma_w"])}
    factor = "Lz" if block == "decoder" else "Lw"

    def unpack(x):
        return x[:size].reshape(shape), ref.cholesky_factor(x[size:], k)

    def fun(x):
        X, L = unpack(x)
        value, grad = ref.objective_cholesky(**{**fixed, names[0]: X, factor: L}, Sigma_y=p["Sigma_y"],
                                             beta=beta, lam=lam)
        return value, np.concatenate([grad[names[0]].ravel(), ref.cholesky_factor_gradient(grad[factor], L)])

    starts = []
    for _ in range(4):
        L = np.tril(rng.standard_normal((k, k)) * 0.3)
        L[np.diag_indices(k)] = rng.uniform(-0.5, 0.5, k)
        starts.append(np.concatenate([rng.standard_normal(size), L[np.tril_indices(k)]]))
    best = multistart(fun, starts, jac=True, method="BFGS", options={"gtol": 1e-10, "maxiter": 5000})
    X, L = unpack(best.x)
    return (X, L @ L.T), best.fun, names


@pytest.mark.claim("mi_collapse.lemma_3_1", "mi_collapse.lemma_4_1")
@s.examples(8)
@given(p=s.lgv_parameters(max_n=3, max_log10_cond=1.0), beta=s.log_uniform(0.3, 30.0),
       lam=s.lambdas, seed=s.seeds)
def test_block_updates_are_the_block_minimisers(p, beta, lam, seed, evidence):
    """Lemma 3.1/4.1's closed forms against BFGS over each block from several starts."""
    rng = np.random.default_rng(seed)
    A, Sigma_z = lgv.decoder_update(p["B"], p["Sigma_w"], p["Sigma_y"])
    B, Sigma_w = lgv.encoder_update(p["A"], p["Sigma_z"], beta, lam)
    for block, closed in (("decoder", (A, Sigma_z)), ("encoder", (B, Sigma_w))):
        (X, S), value, names = _block_minimum(p, beta, lam, block, rng)
        closed_value = lgv.objective(**{**p, names[0]: closed[0], names[1]: closed[1]}, beta=beta, lam=lam)
        assert closed_value <= value + 1e-9 * max(1, abs(value))
        err = max(rel_fro(X, closed[0]) if np.linalg.norm(closed[0]) > 1e-8 else np.linalg.norm(X),
                  rel_fro(S, closed[1]))
        assert err <= 1e-5, (block, err)
        evidence("max rel. distance closed form vs BFGS minimiser", err)


@pytest.mark.claim("mi_collapse.lemma_3_1", "mi_collapse.lemma_4_1", "mi_collapse.eq_22")
@given(p=s.lgv_parameters(max_n=5), beta=s.betas, lam=s.lambdas)
def test_block_updates_zero_the_block_gradients(p, beta, lam, evidence):
    """At the closed forms the block's gradients vanish (relative to their scale)."""
    A, Sigma_z = lgv.decoder_update(p["B"], p["Sigma_w"], p["Sigma_y"])
    g = lgv.gradients(**{**p, "A": A, "Sigma_z": Sigma_z}, beta=beta, lam=lam)
    scale = np.linalg.norm(np.linalg.inv(Sigma_z))
    worst = max(np.linalg.norm(g["A"]), np.linalg.norm(g["Sigma_z"])) / scale
    B, Sigma_w = lgv.encoder_update(p["A"], p["Sigma_z"], beta, lam)
    g = lgv.gradients(**{**p, "B": B, "Sigma_w": Sigma_w}, beta=beta, lam=lam)
    worst = max(worst, np.linalg.norm(g["B"]) / (beta * np.linalg.norm(p["Sigma_y"]) + 1),
                np.linalg.norm(g["Sigma_w"]) / (beta * np.linalg.norm(np.linalg.inv(Sigma_w))))
    assert worst <= 1e-9
    evidence("max relative gradient at the block update", worst)


# -------------------------------------------------------- Algorithm 1: App. D, E and regimes


@pytest.mark.claim("mi_collapse.algorithm_1")
@s.examples(12, shrink=False)
@given(model=s.lgv_models(max_n=5), beta=s.log_uniform(0.2, 50.0), lam=s.lambdas, seed=s.seeds)
def test_fast_alternating_follows_the_exact_iterates(model, beta, lam, seed, evidence):
    """The natural-coordinate iteration against Algorithm 1's iterates computed at 40 digits.

    The literal float64 transcription (n x n inverses) is recorded too: for beta < 1 its
    Sigma_w becomes ill-conditioned and it drifts from the exact iterates, the fast one not.
    """
    steps = 25
    fast = lgv.alternating(model["Sigma_y"], beta, lam, m=model["m"], trials=1, seed=seed,
                           tol=1e-300, max_iter=steps)
    steps = int(fast.iterations[0])      # fewer if a fixed point or Sigma_w's float64 floor was hit
    exact = ref.iterates_high_precision(model["Sigma_y"], beta, lam, fast.B0[0], fast.Sigma_w0[0], steps=steps, dps=40)[steps]
    B, Sw = to_np(exact["B"]), to_np(exact["Sigma_w"])
    err = max(rel_fro(fast.B[0], B), rel_fro(fast.Sigma_w[0], Sw))
    assert err <= 1e-10
    _, B_lit, _, Sw_lit, _, _ = ref.alternating_literal(model["Sigma_y"], beta, lam, fast.B0[0],
                                                        fast.Sigma_w0[0], tol=0.0, max_iter=steps)
    evidence("max rel. error fast vs 40-digit iterates", err)
    evidence("max rel. error literal float64 vs 40-digit iterates", max(rel_fro(B_lit, B), rel_fro(Sw_lit, Sw)))


@pytest.mark.claim("mi_collapse.lemma_3_1", "mi_collapse.algorithm_1")
@s.examples(10, shrink=False)
@given(model=s.lgv_models(max_n=8), beta=st.floats(0.2, 0.95), lam=s.lambdas, seed=s.seeds)
def test_decoder_of_a_drifted_encoder_matches_68_digits(model, beta, lam, seed, evidence):
    """beta < 1: Algorithm 1 runs until lambda_min(Sigma_w) reaches float64's floor (~1e-14). The
    decoder it returns is Lemma 3.1's decoder (Sigma_y^-1 + B^T Sigma_w^-1 B)^-1 B^T Sigma_w^-1 of the
    encoder it returns, computed with mpmath matrices at 68 digits, to 1e-10 (relative Frobenius);
    and the objective there is within 0.01 nats of its value at the 68-digit decoder (the float64
    Sigma_z's eigenvalues near 1e-15 carry only a few digits, which L feels to second order)."""
    Sigma_y, m = model["Sigma_y"], model["m"]
    r = lgv.alternating(Sigma_y, beta, lam, m=m, trials=2, seed=seed, max_iter=5000)
    assert not r.regular.any()          # every trial drifted down to the floor
    worst, worst_L = 0.0, 0.0
    for i in range(2):
        with mp.workdps(68):
            B, Sigma_w, Sy = to_mp(r.B[i]), to_mp(r.Sigma_w[i]), to_mp(Sigma_y)
            Sigma_z = (Sy ** -1 + B.T * Sigma_w ** -1 * B) ** -1          # Lemma 3.1, as printed
            A = Sigma_z * B.T * Sigma_w ** -1
            exact_L = lgv.objective(A, B, (Sigma_z + Sigma_z.T) / 2, Sigma_w, Sy, beta, lam, dps=68)
            returned_L = lgv.objective(to_mp(r.A[i]), B, to_mp(r.Sigma_z[i]), Sigma_w, Sy, beta, lam, dps=68)
        worst = max(worst, rel_fro(r.A[i], to_np(A)), rel_fro(r.Sigma_z[i], to_np(Sigma_z)))
        worst_L = max(worst_L, abs(float(returned_L - exact_L)))
    assert worst <= 1e-10 and worst_L <= 1e-2
    evidence("max rel. error of the returned decoder vs 68 digits", worst)
    evidence("max |L(returned) - L(exact decoder)| (nats)", worst_L)


@pytest.mark.claim("mi_collapse.algorithm_1")
@given(model=s.lgv_models(max_n=5), beta=s.log_uniform(0.3, 30.0), lam=s.lambdas, seed=s.seeds)
def test_algorithm_1_never_increases_the_objective(model, beta, lam, seed, evidence):
    """Each half-step is an exact block minimiser, so L is non-increasing along the iterates."""
    B0, Sw0 = lgv.random_initialisation(model["m"], model["Sigma_y"].shape[0], 1, np.random.default_rng(seed))
    its = ref.iterates_high_precision(model["Sigma_y"], beta, lam, B0[0], Sw0[0], steps=12, dps=30)
    values = []
    for a, b in zip(its[:-1], its[1:]):
        for B, Sw, A, Sz in ((a["B"], a["Sigma_w"], a["A"], a["Sigma_z"]), (b["B"], b["Sigma_w"], a["A"], a["Sigma_z"])):
            values.append(lgv.objective(A.tolist(), B.tolist(), Sz.tolist(), Sw.tolist(), model["Sigma_y"],
                                        beta, lam))
    increases = np.diff(values)
    assert np.all(increases <= 1e-9 * np.maximum(1, np.abs(values[1:])))
    evidence("max increase of L along iterates", float(np.max(increases)))


@pytest.mark.claim("mi_collapse.lemma_d_1")
@given(model=s.lgv_models(max_n=6), beta=s.log_uniform(0.2, 50.0), lam=s.lambdas, seed=s.seeds)
def test_encoder_noise_is_spectrally_bounded_after_one_step(model, beta, lam, seed, evidence):
    """Lemma D.1: ||Sigma_w^(t)||_2 <= 1 for t >= 1 (for every beta > 0, not only beta > 1)."""
    B0, Sw0 = lgv.random_initialisation(model["m"], model["Sigma_y"].shape[0], 1, np.random.default_rng(seed))
    worst = 0.0
    Sw, B = Sw0[0], B0[0]
    for t in range(1, 15):
        _, B, _, Sw, _, _ = ref.alternating_literal(model["Sigma_y"], beta, lam, B, Sw, tol=0.0, max_iter=1)
        worst = max(worst, np.linalg.eigvalsh(Sw)[-1])
        if not np.all(np.isfinite(Sw)) or np.linalg.eigvalsh(Sw)[0] < 1e-200:
            break
    assert worst <= 1 + 1e-12
    evidence("max ||Sigma_w^(t)||_2 over t >= 1", worst)


def _mp_problem(model, seed):
    B0, Sw0 = lgv.random_initialisation(model["m"], model["Sigma_y"].shape[0], 1, np.random.default_rng(seed))
    return B0[0], Sw0[0]


@pytest.mark.claim("mi_collapse.eq_24", "mi_collapse.eq_26")
@s.examples(6)
@given(model=s.lgv_models(max_n=4, max_s=2), beta=s.log_uniform(1.5, 20.0), seed=s.seeds)
def test_encoder_recursion_26_holds_exactly_at_50_digits(model, beta, seed, evidence):
    """eq. (24)-(26): B^(t) = beta^-t Sigma_w^(t) Sigma_w^(0)^-1 B^(0) for t up to 300 (float64 underflows)."""
    B0, Sw0 = _mp_problem(model, seed)
    its = ref.iterates_high_precision(model["Sigma_y"], beta, 0.0, B0, Sw0, steps=300, dps=58)
    with mp.workdps(58):
        W0inv_B0 = its[0]["Sigma_w"] ** -1 * its[0]["B"]
        worst = mp.mpf(0)
        for t in (1, 2, 10, 100, 300):
            rhs = mp.mpf(beta) ** (-t) * its[t]["Sigma_w"] * W0inv_B0
            err = mp.mnorm(its[t]["B"] - rhs, "f") / mp.mnorm(rhs, "f")
            worst = max(worst, err)
        # eq. (24): A^(0) = Sigma_z^(0) B^(0)T Sigma_w^(0)^-1 from Lemma 3.1's two decoder forms
        A17 = to_mp(model["Sigma_y"]) * its[0]["B"].T * (its[0]["B"] * to_mp(model["Sigma_y"]) * its[0]["B"].T + its[0]["Sigma_w"]) ** -1
        worst = max(worst, mp.mnorm(its[0]["A"] - A17, "f") / mp.mnorm(A17, "f"))
    assert worst < mp.mpf(10) ** -45
    evidence.exact("Algorithm 1 iterated at 58 digits against eq. (24)-(26)", digits=45)
    evidence("max rel. error of eq. (26) at 50 digits", float(worst))
    evidence("min ||B^(300)||_F (below float64 range)", float(mp.mnorm(its[300]["B"], "f")), reduce=min)


@pytest.mark.claim("mi_collapse.eq_29", "mi_collapse.eq_30")
@s.examples(5)
@given(model=s.lgv_models(max_n=3, max_s=2), beta=s.log_uniform(1.5, 20.0), lam=s.log_uniform(0.1, 5.0),
       seed=s.seeds)
def test_encoder_recursion_30_holds_exactly_at_50_digits(model, beta, lam, seed, evidence):
    """eq. (29)-(30) with the ordered product (I + 2 lam Sigma_z^(0)) ... (I + 2 lam Sigma_z^(t-1)).

    The product grows like (1 + 2 lam d_1)^t while B^(t) stays bounded, so the right-hand
    side cancels about t log10(1 + 2 lam d_1) digits: the iterates and the product are
    computed with that many extra digits and the identity is judged at 50.
    """
    steps = 150
    B0, Sw0 = _mp_problem(model, seed)
    extra = int(np.ceil(steps * np.log10(1 + 2 * lam * np.linalg.eigvalsh(model["Sigma_y"])[-1])))
    dps = 58 + extra
    its = ref.iterates_high_precision(model["Sigma_y"], beta, lam, B0, Sw0, steps=steps, dps=dps)
    n = model["Sigma_y"].shape[0]
    with mp.workdps(dps):
        W0inv_B0 = its[0]["Sigma_w"] ** -1 * its[0]["B"]
        product = mp.eye(n)
        worst = mp.mpf(0)
        for t in range(1, steps + 1):
            product = product * (mp.eye(n) + 2 * mp.mpf(lam) * its[t - 1]["Sigma_z"])
            if t in (1, 2, 10, 50, steps):
                rhs = mp.mpf(beta) ** (-t) * its[t]["Sigma_w"] * W0inv_B0 * product
                worst = max(worst, mp.mnorm(its[t]["B"] - rhs, "f") / mp.mnorm(its[t]["B"], "f"))
    assert worst < mp.mpf(10) ** -50
    evidence.exact("Algorithm 1 iterated at 58+ digits against eq. (29)-(30)", digits=50)
    evidence("max rel. error of eq. (30) (judged at 50 digits)", float(worst))
    evidence("working digits needed", dps)


def _row_projector(B):
    """Orthogonal projector onto the row space of B (full row rank), an mpmath matrix."""
    return B.T * (B * B.T) ** -1 * B


@pytest.mark.claim("mi_collapse.eq_26_row_space")
@s.examples(6)
@given(model=s.lgv_models(max_n=5), beta=s.log_uniform(0.3, 20.0), seed=s.seeds)
def test_row_space_of_the_encoder_is_invariant_without_lambda(model, beta, seed, evidence):
    """lam = 0: eq. (26) gives B^(t) = K_t B^(0) with K_t = beta^-t Sigma_w^(t) Sigma_w^(0)^-1 invertible,
    so the projector onto the row space of B^(t) is that of B^(0): the literal Algorithm 1 iterated at
    high precision keeps it to 40 digits for t <= 40, for beta below and above 1 (that it turns for
    lam > 0 is checked in test_information_limit_below_one_is_set_by_the_initialisation)."""
    B0, Sw0 = _mp_problem(model, seed)
    dps = 60 + int(np.ceil(80 * max(0.0, -np.log10(beta))))        # beta < 1: conditions up to beta^-40
    its = ref.iterates_high_precision(model["Sigma_y"], beta, 0.0, B0, Sw0, steps=40, dps=dps)
    with mp.workdps(dps):
        P0 = _row_projector(its[0]["B"])
        worst = max(mp.mnorm(_row_projector(its[t]["B"]) - P0, "f") for t in (1, 2, 10, 40))
    assert worst < mp.mpf(10) ** -40
    evidence.exact("row-space projectors of high-precision Algorithm 1 iterates", digits=40)
    evidence("max row-space movement (Frobenius)", float(worst))


# (lam, beta) -> I(x; v)^(110) for the two initialisations, each with the catalogue's rounding;
# "bound": 1/2 sum_{i<=m} log(d_i / sigma^2), nats
INFORMATION_EXPECTED = {"bound": ("2.4294", 2.4294214712),
                        (0.0, 0.5): (("2.1349", 2.1348596515), ("1.6210", 1.6209928322)),
                        (1.0, 0.5): (("2.4150", 2.4150175849), ("2.3724", 2.3723951439)),
                        (0.0, 1.0): (("0.1416", 0.1415701629), ("0.1460", 0.1459929047))}


def _information_model():
    """n = 4, s = 2, Sigma_v = I, sigma^2 = 1/8 and the dyadic Gamma below (Sigma_y exact in float64); m = 2."""
    Gamma = np.array([[1.0, 0.0], [0.5, 1.0], [0.0, 0.5], [0.25, -0.375]])
    return Gamma, 0.125, Gamma @ Gamma.T + 0.125 * np.eye(4)


def _code_information(X, Sigma_y, sigma2):
    """I(X y; v) = 1/2 log det(X Sigma_y X^T) / det(sigma^2 X X^T) of the noiseless code X y (mpmath)."""
    return (logdet(X * to_mp(Sigma_y) * X.T) - logdet(mp.mpf(sigma2) * X * X.T)) / 2


def _iterate_information(it, Sigma_y, sigma2):
    """I(x; v) at an iterate: 1/2 log det Sigma_x / det Cov(x | v), Cov(x | v) = sigma^2 B B^T + Sigma_w."""
    B, Sigma_w = it["B"], it["Sigma_w"]
    return (logdet(B * to_mp(Sigma_y) * B.T + Sigma_w) - logdet(mp.mpf(sigma2) * B * B.T + Sigma_w)) / 2


@pytest.mark.claim("mi_collapse.information_below_one", "mi_collapse.eq_26_row_space")
def test_information_limit_below_one_is_set_by_the_initialisation(evidence):
    """beta = 1/2 on a fixed model, two initialisations, Algorithm 1 at 100 digits for 110 steps.
    lam = 0: the row space stays put and I(x; v)^(t) -> 1/2 log det(B0 Sigma_y B0^T) / det(sigma^2 B0 B0^T)
    to 30 digits, the gap shrinking by beta per step. lam = 1: the row-space projector turns (by 0.83 and 1.13),
    then freezes (change below 1e-15 over the last 55 steps) at R_inf, and I -> the same formula at R_inf
    to 30 digits. Both stay below the top-m bound 1/2 sum_{i<=m} log(d_i / sigma^2), reached by the top
    eigenvectors; the formula is 0 for rows with B0 Gamma = 0. At beta = 1 (lam = 0) it stops holding:
    Sigma_w does not vanish and I ends far below it. The limits are in INFORMATION_EXPECTED."""
    Gamma, sigma2, Sigma_y = _information_model()
    m, T = 2, 110
    evidence.quote("0.5", Gamma[1, 0])
    evidence.quote("0.25", Gamma[3, 0])
    evidence.quote("0.375", -Gamma[3, 1])
    evidence.quote("110", T)
    B0, Sw0 = lgv.random_initialisation(m, 4, 2, np.random.default_rng(1))
    with mp.workdps(100):
        d, U = mp.eigsy(to_mp(Sigma_y))
        order = sorted(range(4), key=lambda i: -d[i])[:m]
        top = _code_information(mp.matrix([[U[k, i] for k in range(4)] for i in order]), Sigma_y, sigma2)
        bound = sum(mp.log(d[i] / mp.mpf(sigma2)) for i in order) / 2
        null = mp.matrix([[0.5, -1, 2, 0], [-3.5, 3, 0, 8]])               # null * Gamma = 0 exactly
        assert abs(top - bound) < mp.mpf(10) ** -40
        assert abs(_code_information(null, Sigma_y, sigma2)) < mp.mpf(10) ** -40
        assert abs(bound - INFORMATION_EXPECTED["bound"][1]) < 1e-9
        evidence.quote(INFORMATION_EXPECTED["bound"][0], bound)
    for key, values in INFORMATION_EXPECTED.items():
        if key == "bound":
            continue
        lam, beta = key
        dps = 100 if beta < 1 else 30               # beta < 1: conditions up to beta^-T cost 2 T log10(1/beta) digits
        if beta < 1:
            evidence.quote("100", dps)
        for i in range(2):
            its = ref.iterates_high_precision(Sigma_y, beta, lam, B0[i], Sw0[i], steps=T, dps=dps)
            with mp.workdps(dps):
                info = _iterate_information(its[T], Sigma_y, sigma2)
                formula_0 = _code_information(its[0]["B"], Sigma_y, sigma2)
                formula_T = _code_information(its[T]["B"], Sigma_y, sigma2)
                assert abs(info - values[i][1]) < 1e-9
                evidence.quote(values[i][0], info)
                if beta == 1:
                    assert info < formula_0 - 1 and min(mp.eigsy(its[T]["Sigma_w"])[0]) > 0.5
                    continue
                assert 0 < info < bound
                assert abs(info - formula_T) < mp.mpf(10) ** -30
                gaps = [abs(_iterate_information(its[t], Sigma_y, sigma2) - formula_T) for t in (20, 40)]
                assert abs((gaps[1] / gaps[0]) ** (mp.mpf(1) / 20) - beta) < 1e-6
                turned = mp.mnorm(_row_projector(its[T]["B"]) - _row_projector(its[0]["B"]), "f")
                frozen = mp.mnorm(_row_projector(its[T]["B"]) - _row_projector(its[T // 2]["B"]), "f")
                if lam == 0:
                    assert turned < mp.mpf(10) ** -30 and abs(info - formula_0) < mp.mpf(10) ** -30
                else:
                    assert abs(turned - (0.8297, 1.128)[i]) < 1e-3 and frozen < 1e-15 and abs(info - formula_0) > 0.1
    evidence.exact("I(x; v) of 100-digit Algorithm 1 iterates against the closed form", digits=30)
    evidence("top-m bound (nats)", float(bound))


@pytest.mark.claim("mi_collapse.information_below_one")
def test_fig_2_information_below_one_is_the_mean_over_initial_row_spaces(evidence):
    """The Fig. 2 model (n = 50, m = 10, s = 5), 20 random initialisations, lam = 0: run to float64's
    floor, I(x; v) is the same at beta = 1/4 and 1/2 and equals, trial by trial, the closed form
    1/2 log det(B0 Sigma_y B0^T) / det(sigma^2 B0 B0^T) of its own B0 (to 1e-9): the beta < 1 cells
    report a mean over random initial row spaces, not a property of beta."""
    Gamma, Sigma_v, Sigma_y = lgv.figure_model()
    B0, Sw0 = lgv.random_initialisation(10, 50, 20, np.random.default_rng(0))
    closed = 0.5 * (np.linalg.slogdet(B0 @ Sigma_y @ np.swapaxes(B0, 1, 2))[1]
                    - np.linalg.slogdet(0.05 * B0 @ np.swapaxes(B0, 1, 2))[1])
    tol = 1e-9
    evidence.quote("1e-9", tol)
    for beta in (0.25, 0.5):
        r = lgv.alternating(Sigma_y, beta, 0.0, B0=B0, Sigma_w0=Sw0, max_iter=2000)
        assert not r.regular.any()
        info = lgv.mutual_information(r.B, r.Sigma_w, Gamma, Sigma_v, Sigma_y)
        assert np.max(np.abs(info - closed)) <= tol
        evidence("max |I(x; v) - closed form| at the floor", float(np.max(np.abs(info - closed))))
    evidence("spread of the closed form over initialisations (nats, sd)", float(np.std(closed)))


@pytest.mark.claim("mi_collapse.information_below_one")
@s.examples(4)
@given(model=s.lgv_models(max_n=5, max_s=3), beta=s.log_uniform(0.3, 0.6), seed=s.seeds)
def test_information_limit_below_one_on_random_models(model, beta, seed, evidence):
    """lam = 0, beta < 1, random models: I(x; v)^(t) reaches 1/2 log det(B0 Sigma_y B0^T) / det(sigma^2 B0 B0^T)
    to 25 digits once beta^t < 1e-30 (iterates at 90 digits)."""
    Sigma_y, sigma2 = model["Sigma_y"], model["sigma2"]
    B0, Sw0 = _mp_problem(model, seed)
    T = int(np.ceil(30 / np.log10(1 / beta)))
    its = ref.iterates_high_precision(Sigma_y, beta, 0.0, B0, Sw0, steps=T, dps=90)
    with mp.workdps(90):
        gap = abs(_iterate_information(its[T], Sigma_y, sigma2) - _code_information(to_mp(B0), Sigma_y, sigma2))
    assert gap < mp.mpf(10) ** -25
    evidence.exact("I(x; v) of 90-digit Algorithm 1 iterates against the closed form", digits=25)
    evidence("max |I^(T) - I_inf|", float(gap))


@pytest.mark.claim("mi_collapse.eq_29")
def test_eq_29_printed_operator_is_a_misprint(evidence):
    """App. E defines M^(0) := beta^-1 Sigma_z^-1 + 2 lam I; the algorithm (and eq. 29's next line)
    use M = beta^-1 (Sigma_z^-1 + 2 lam I). Exact rational arithmetic, n = m = 1, Sigma_y = 1,
    B^(0) = Sigma_w^(0) = 1, beta = 2, lam = 1: Sigma_z^(0) = A^(0) = 1/2; the printed M^(0) = 3 gives
    Sigma_w^(1) = 4/7 and B^(1) = 6/7 against 4/7 on the right of (29); M = 2 gives 2/3 on both sides."""
    Sigma_y, beta, lam = Fraction(1), Fraction(2), Fraction(1)
    B0 = Sw0 = Fraction(1)
    Sz0 = 1 / (1 / Sigma_y + B0 * B0 / Sw0)                     # Lemma 3.1
    A0 = Sz0 * B0 / Sw0
    assert Sz0 == A0 == Fraction(1, 2)
    eq29 = lambda Sw1: Sw1 / Sw0 * B0 * (1 + 2 * lam * Sz0) / beta
    for M, expected in ((1 / (beta * Sz0) + 2 * lam, (3, Fraction(4, 7), Fraction(6, 7), Fraction(4, 7))),
                        ((1 / Sz0 + 2 * lam) / beta, (2, Fraction(2, 3), Fraction(2, 3), Fraction(2, 3)))):
        Sw1 = 1 / (1 + A0 * M * A0)
        B1 = Sw1 * A0 * M
        assert (M, Sw1, B1, eq29(Sw1)) == expected
    evidence.exact("exact rational arithmetic (n = m = 1)")
    evidence("B^(1) with printed M^(0)", 6 / 7)
    evidence("eq. (29) right-hand side", 4 / 7)


@pytest.mark.claim("mi_collapse.eq_27", "mi_collapse.eq_31")
@s.examples(10)
@given(model=s.lgv_models(max_n=5), beta=s.log_uniform(0.2, 100.0), lam=s.lambdas, seed=s.seeds,
       noise=st.floats(-3.0, 3.0), spread=st.floats(0.0, 3.0), gain=st.floats(-2.0, 2.0))
def test_spectral_bounds_27_and_31_from_the_first_iterate(model, beta, lam, seed, noise, spread, gain, evidence):
    """||B^(t)||_2 <= ((1 + 2 lam ||Sigma_y||_2) / beta)^t C0 for t = 1..25 (log space; 50 digits plus
    what beta < 1 cancels), from initialisations far outside the usual random range: Sigma_w^(0)
    with eigenvalues 10^noise ... 10^(noise + spread) (so ||Sigma_w^(0)||_2 from 1e-3 to 1e6),
    ||B^(0)|| scaled by 10^gain, beta below and above 1 and lam = 0 or up to 100. At t = 0 the bound reads ||B^(0)|| <= C0: it holds
    when ||Sigma_w^(0)||_2 <= 1 and is not asserted otherwise."""
    n, m = model["Sigma_y"].shape[0], model["m"]
    rng = np.random.default_rng(seed)
    q = s.orthogonal(m, rng)
    Sw0 = (q * 10.0 ** (noise + spread * rng.uniform(0, 1, m))) @ q.T
    Sw0 = (Sw0 + Sw0.T) / 2
    B0 = 10.0 ** gain * rng.standard_normal((m, n)) / np.sqrt(n)
    # for beta < 1 each step inverts matrices of condition up to beta^-t: 2 t log10(1/beta) more digits
    dps = 50 + int(np.ceil(50 * max(0.0, -np.log10(beta))))
    its = ref.iterates_high_precision(model["Sigma_y"], beta, lam, B0, Sw0, steps=25, dps=dps)
    with mp.workdps(dps):
        base = (1 + 2 * mp.mpf(lam) * spectral_norm(to_mp(model["Sigma_y"]))) / mp.mpf(beta)
        C0 = spectral_norm(its[0]["Sigma_w"] ** -1 * its[0]["B"])
        margins = [mp.log(spectral_norm(its[t]["B"])) - (t * mp.log(base) + mp.log(C0)) for t in range(26)]
    assert max(margins[1:]) <= 1e-30
    if np.linalg.eigvalsh(Sw0)[-1] <= 1:
        assert margins[0] <= 1e-30
    evidence("max log(||B^(t)|| / bound), t >= 1", float(max(margins[1:])))
    evidence("||Sigma_w^(0)||_2 (max)", float(np.linalg.eigvalsh(Sw0)[-1]))


@pytest.mark.claim("mi_collapse.eq_31")
@pytest.mark.parametrize("beta, lam", [(Fraction(2), Fraction(0)), (Fraction(2), Fraction(1, 2)),
                                       (Fraction(1, 2), Fraction(0))])
def test_spectral_bounds_fail_at_t0_when_the_initial_noise_exceeds_one(beta, lam, evidence):
    """Exact rational arithmetic, n = m = 1, Sigma_y = 1, B^(0) = 1, Sigma_w^(0) = 2 (inside the range
    [0.1, 2] of ``random_initialisation``'s eigenvalues, measured on 4000 draws): C0 = 1/2 < ||B^(0)|| = 1, so (27) and (31) fail at t = 0
    whatever beta and lam; from t = 1 on they hold (beta = 2, lam = 0: B^(1) = 3/13 <= 1/4)."""
    _, drawn = lgv.random_initialisation(2, 3, 2000, np.random.default_rng(0))
    spectrum = np.linalg.eigvalsh(drawn)            # Sigma_w^(0) = 2 is at the top of the drawn range
    assert 1.99 < spectrum.max() <= 2 + 1e-12
    evidence.quote("0.1", spectrum.min())
    Sigma_y, B, Sigma_w = Fraction(1), Fraction(1), Fraction(2)
    C0 = abs(B / Sigma_w)
    assert C0 == Fraction(1, 2) and abs(B) > C0                     # t = 0: the bound fails
    base = (1 + 2 * lam * Sigma_y) / beta
    for t in range(1, 6):
        Sigma_z = 1 / (1 / Sigma_y + B * B / Sigma_w)                # Algorithm 1, lines 5-6
        A = Sigma_z * B / Sigma_w
        M = (1 / Sigma_z + 2 * lam) / beta                           # lines 13-19
        Sigma_w = 1 / (1 + A * M * A)
        B = Sigma_w * A * M
        assert abs(B) <= base ** t * C0
        if t == 1 and (beta, lam) == (2, 0):
            assert B == Fraction(3, 13) and base * C0 == Fraction(1, 4)
    evidence.exact("exact rational iterates of Algorithm 1 (n = m = 1)")


@pytest.mark.claim("mi_collapse.theorem_3_2")
@s.examples(12, shrink=False)
@given(model=s.lgv_models(max_n=8), beta=s.log_uniform(1.05, 1e6), seed=s.seeds)
def test_theorem_3_2_collapse_for_beta_above_one(model, beta, seed, evidence):
    """For beta > 1 (lam = 0) Algorithm 1 converges to (0, 0, Sigma_y, I) and I(x; v) -> 0."""
    r = lgv.alternating(model["Sigma_y"], beta, 0.0, m=model["m"], trials=6, seed=seed, tol=1e-12,
                        max_iter=20_000)
    assert r.converged.all() and r.stationary.all()
    dist = max(np.abs(r.B).max(), np.abs(r.A).max(), np.abs(r.Sigma_w - np.eye(model["m"])).max(),
               np.abs(r.Sigma_z - model["Sigma_y"]).max())
    assert dist <= 1e-9
    info = lgv.mutual_information(r.B, r.Sigma_w, model["Gamma"], model["Sigma_v"], model["Sigma_y"])
    assert np.all(info <= 1e-15)
    evidence("max distance to the trivial fixed point", dist)
    evidence("max iterations", int(r.iterations.max()))


@pytest.mark.claim("mi_collapse.theorem_3_2")
@given(p=s.lgv_parameters(max_n=5), beta=s.log_uniform(1.0, 1e3))
def test_objective_above_the_trivial_point_is_a_sum_of_kl_divergences(p, beta, evidence):
    """For every parameter set, L_beta - L(0, 0, Sigma_y, I) = (beta - 1) E KL(q(x|y) || p(x))
    + E_y KL(q(x|y) || p_theta(x|y)) + KL(p(y) || p_theta(y)) (ELBO decomposition, each KL of
    joint Gaussians computed by the reference formula), so for beta >= 1 the trivial point is a
    global minimum everywhere, not only where a search looked."""
    A, B, Sigma_z, Sigma_w, Sigma_y = (p[k] for k in ("A", "B", "Sigma_z", "Sigma_w", "Sigma_y"))
    m, n = B.shape
    marginal = A @ A.T + Sigma_z                                      # p_theta(y) = N(0, A A^T + Sigma_z)
    K = np.linalg.solve(marginal, A).T                                # p_theta(x|y) = N(K y, P)
    P = np.eye(m) - K @ A
    q = np.block([[B @ Sigma_y @ B.T + Sigma_w, B @ Sigma_y], [Sigma_y @ B.T, Sigma_y]])
    r = np.block([[K @ Sigma_y @ K.T + P, K @ Sigma_y], [Sigma_y @ K.T, Sigma_y]])
    kl_prior = gaussian.kl(q, np.block([[np.eye(m), np.zeros((m, n))], [np.zeros((n, m)), Sigma_y]]))  # App. A.1
    parts = [(beta - 1) * kl_prior, gaussian.kl(q, r), gaussian.kl(Sigma_y, marginal)]
    gap = lgv.objective(A, B, Sigma_z, Sigma_w, Sigma_y, beta) - collapsed_objective(Sigma_y)
    assert abs(gap - sum(parts)) <= 1e-9 * max(1.0, abs(gap))
    assert min(parts) >= -1e-12
    evidence("max |gap - sum of KLs| / max(1, gap)", abs(gap - sum(parts)) / max(1.0, abs(gap)))


@pytest.mark.claim("mi_collapse.theorem_3_2")
@s.examples(6, shrink=False)
@given(model=s.lgv_models(max_n=3, max_s=2), beta=s.log_uniform(1.1, 20.0), seed=s.seeds)
def test_trivial_point_is_the_global_minimum_for_beta_above_one(model, beta, seed, evidence):
    """BFGS over all of (A, B, Sigma_z, Sigma_w) from many starts never beats the collapsed value (the
    reference objective of Cholesky factors with its hand-derived gradient, equal to numerics' at the end)."""
    Sigma_y, m = model["Sigma_y"], model["m"]
    n = Sigma_y.shape[0]
    tri_n, tri_m = np.tril_indices(n), np.tril_indices(m)
    sizes = np.cumsum([n * m, m * n, len(tri_n[0])])

    def unpack(x):
        return (x[:sizes[0]].reshape(n, m), x[sizes[0]:sizes[1]].reshape(m, n),
                ref.cholesky_factor(x[sizes[1]:sizes[2]], n), ref.cholesky_factor(x[sizes[2]:], m))

    def fun(x):
        A, B, Lz, Lw = unpack(x)
        value, g = ref.objective_cholesky(A, B, Lz, Lw, Sigma_y, beta)
        return value, np.concatenate([g["A"].ravel(), g["B"].ravel(), ref.cholesky_factor_gradient(g["Lz"], Lz),
                                      ref.cholesky_factor_gradient(g["Lw"], Lw)])

    rng = np.random.default_rng(seed)
    starts = [rng.standard_normal(sizes[2] + len(tri_m[0])) * 0.7 for _ in range(6)]
    best = multistart(fun, starts, jac=True, method="BFGS", options={"gtol": 1e-9, "maxiter": 4000})
    floor = collapsed_objective(Sigma_y)
    assert best.fun >= floor - 1e-7
    A, B, Lz, Lw = unpack(best.x)  # the reference objective is the objective of numerics there
    assert np.isclose(best.fun, lgv.objective(A, B, Lz @ Lz.T, Lw @ Lw.T, Sigma_y, beta), rtol=1e-10, atol=1e-10)
    evidence("min over starts of L - L(collapsed)", best.fun - floor, reduce=min)


# ---------------------------------------------------------------- exact threshold, App. E


def _spectrum_model(d, m):
    """Sigma_y with the given eigenvalues in a random basis (exactly symmetric)."""
    q = s.orthogonal(len(d), np.random.default_rng(7))
    Sigma_y = (q * np.asarray(d)) @ q.T
    return (Sigma_y + Sigma_y.T) / 2


@pytest.mark.claim("mi_collapse.appendix_e", "mi_collapse.section_4_2")
@pytest.mark.parametrize("lam", [0.5, 4.0])
@pytest.mark.parametrize("factor", [0.5, 0.9, 1.1, 2.0])
def test_collapse_threshold_on_both_sides(lam, factor, evidence):
    """beta = factor x beta_c with beta_c = 1 + 2 lam ||Sigma_y||_2: informative below, collapsed above."""
    Sigma_y = _spectrum_model([2.0, 1.0, 0.3, 0.1], 4)
    beta_c = lgv.collapse_threshold(Sigma_y, lam)
    beta = factor * beta_c
    r = lgv.alternating(Sigma_y, beta, lam, m=2, trials=8, seed=3, tol=1e-10, max_iter=200_000)
    norms = np.linalg.norm(r.B, axis=(1, 2))
    if factor < 1 and beta > 1:
        assert r.stationary.all() and np.all(norms > 1e-2)
        fp = lgv.fixed_point(Sigma_y, beta, lam, 2)
        # the limit lies on the rotation orbit of the closed-form fixed point
        gram = np.swapaxes(r.B, 1, 2) @ np.linalg.solve(r.Sigma_w, r.B)
        gram_fp = fp.B.T @ np.linalg.solve(fp.Sigma_w, fp.B)
        err = max(rel_fro(g, gram_fp) for g in gram)
        assert err <= 1e-6
        evidence("max rel. distance to the closed-form fixed point orbit", err)
    elif factor > 1:
        assert r.stationary.all() and np.all(norms <= 1e-8)
    evidence("beta_c", beta_c)


@pytest.mark.claim("mi_collapse.appendix_e")
@s.examples(10, shrink=False)
@given(model=s.lgv_models(max_n=5), lam=s.log_uniform(0.1, 10.0), seed=s.seeds)
def test_linearised_map_at_collapse_has_spectral_radius_at_threshold(model, lam, seed, evidence):
    """Finite differences of the literal Algorithm 1 map at (B, Sigma_w) = (0, I): along B it
    multiplies by (I + 2 lam Sigma_y) / beta, so its spectral radius is (1 + 2 lam d_1) / beta."""
    Sigma_y, m = model["Sigma_y"], model["m"]
    n = Sigma_y.shape[0]
    beta = 2.0
    eps = 1e-7
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(3):
        V = rng.standard_normal((m, n))
        _, B1, _, _, _, _ = ref.alternating_literal(Sigma_y, beta, lam, eps * V, np.eye(m), tol=0.0, max_iter=1)
        expected = V @ (np.eye(n) + 2 * lam * Sigma_y) / beta
        worst = max(worst, rel_fro(B1 / eps, expected))
    assert worst <= 1e-5
    radius = (1 + 2 * lam * np.linalg.eigvalsh(Sigma_y)[-1]) / beta
    assert np.isclose(radius * beta, lgv.collapse_threshold(Sigma_y, lam), rtol=1e-12)
    evidence("max rel. error of the linearisation", worst)


@pytest.mark.claim("mi_collapse.section_4_2")
@s.examples(10, shrink=False)
@given(model=s.lgv_models(max_n=6), lam=s.log_uniform(0.2, 10.0), frac=st.floats(0.05, 0.95), seed=s.seeds)
def test_mode_thresholds_and_closed_form_fixed_point(model, lam, frac, seed, evidence):
    """Between 1 and beta_c Algorithm 1 converges to the closed-form point: active modes are the
    m largest with d_i > (beta - 1) / (2 lam), each carrying I = 1/2 log(2 lam d_i / (beta - 1))."""
    Sigma_y, m = model["Sigma_y"], model["m"]
    d = np.linalg.eigvalsh(Sigma_y)[::-1]
    # d_{m+1} within 2% of d_m only slows the encoder's alignment with the top m modes (rate about
    # d_{m+1}/d_m: ~29k iterations at a 0.7% gap) and checks the same closed form: leave it out
    assume(m == d.size or d[m] < 0.98 * d[m - 1])
    beta = 1 + frac * (lgv.collapse_threshold(Sigma_y, lam) - 1)
    r = lgv.alternating(Sigma_y, beta, lam, m=m, trials=3, seed=seed, tol=1e-11, max_iter=300_000)
    assume(r.stationary.all())      # not within 300k steps: critical slowing down next to a mode threshold
    c = (beta - 1) / (2 * lam)
    active = d[:m][d[:m] > c]
    # I(x; y) of the encoder, computed from the iterates (x = B y + w), against the closed form
    info_y = 0.5 * np.linalg.slogdet(np.eye(m) + np.linalg.solve(r.Sigma_w, r.B @ Sigma_y @ np.swapaxes(r.B, 1, 2)))[1]
    predicted = 0.5 * np.sum(np.log(active / c))
    err = np.max(np.abs(info_y - predicted)) / max(1.0, predicted)
    assert err <= 1e-6
    evidence("max |I(x;y) - sum_i 1/2 log(d_i / c)|", err)


def _symbols(name, rows, cols, symmetric=False):
    """A matrix of fresh symbols (symmetric: shared upper-triangle entries) and its free entries."""
    M = sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}{min(i, j)}{max(i, j)}" if symmetric
                                                      else f"{name}{i}{j}"))
    return M, list(dict.fromkeys(M))


def _inertia(H):
    """(positive, negative, zero) eigenvalue counts of a rational symmetric matrix, exactly:
    its characteristic polynomial has real roots only, so Descartes' rule of signs is exact."""
    coeffs = H.charpoly(sp.Symbol("x")).all_coeffs()
    zero = len(coeffs) - 1 - max(i for i, c in enumerate(coeffs) if c != 0)
    signs = [sp.sign(c) for c in coeffs if c != 0]
    positive = sum(a != b for a, b in zip(signs, signs[1:]))
    return positive, H.rows - zero - positive, zero


# (n, m, beta, lam) at Sigma_y = Q diag(2, 1/2) Q^T (Q the rational rotation (3/5, 4/5)):
# below 1, at beta = 1 with and without lambda, between 1 and beta_c, on a mode threshold, above beta_c
_HESSIAN_CASES = [(2, 1, sp.Rational(1, 2), 0), (2, 2, sp.Rational(1, 4), sp.Rational(1, 3)),
                  (2, 1, 1, sp.Rational(1, 3)), (2, 1, 1, 0), (2, 1, sp.Rational(3, 2), 1),
                  (2, 1, 2, sp.Rational(1, 4)), (2, 2, 4, 1), (2, 1, 2, 0)]


@pytest.mark.claim("mi_collapse.algorithm_1", "mi_collapse.appendix_e")
@pytest.mark.parametrize("n, m, beta, lam", _HESSIAN_CASES)
def test_trivial_point_is_stationary_and_a_saddle_below_the_threshold(n, m, beta, lam, evidence):
    """Exact rational arithmetic on L of App. A (Sigma_z through P_z = Sigma_z^-1, which keeps the
    critical points and, at them, the Hessian's inertia): at (0, 0, Sigma_y, I) every gradient is
    exactly 0 for every beta > 0 (so for beta < 1 a stationary point exists), and the Hessian has
    m #{i : beta < 1 + 2 lam d_i} negative and m #{i : beta = 1 + 2 lam d_i} zero eigenvalues,
    with v^T H v = tr(b Sigma_y ((beta - 1) I - 2 lam Sigma_y) b^T) along v = (Sigma_y b^T, b, 0, 0)."""
    rot = sp.Matrix([[sp.Rational(3, 5), -sp.Rational(4, 5)], [sp.Rational(4, 5), sp.Rational(3, 5)]])
    d = [sp.Integer(2), sp.Rational(1, 2)]
    Sigma_y = rot * sp.diag(*d) * rot.T
    A, a = _symbols("a", n, m)
    B, b = _symbols("b", m, n)
    P_z, z = _symbols("z", n, n, symmetric=True)
    Sigma_w, w = _symbols("w", m, m, symmetric=True)
    I_n = sp.eye(n)
    R = (I_n - A * B) * Sigma_y * (I_n - A * B).T + A * Sigma_w * A.T       # E[(y - Ax)(y - Ax)^T], App. A.3
    L = (-sp.log(P_z.det()) / 2 + (P_z * R).trace() / 2                       # App. A.2 without n/2 log 2 pi
         + beta * ((B * Sigma_y * B.T + Sigma_w).trace() - sp.log(Sigma_w.det()) - m) / 2   # App. A.1
         + lam * R.trace())                                                  # eq. (8)
    variables = a + b + z + w
    at = {**dict.fromkeys(a + b, 0), **{P_z[i, j]: Sigma_y.inv()[i, j] for i in range(n) for j in range(n)},
          **{Sigma_w[i, j]: int(i == j) for i in range(m) for j in range(m)}}
    gradient = [sp.diff(L, v).subs(at) for v in variables]
    assert all(g == 0 for g in gradient)
    H = sp.hessian(L, variables).subs(at)
    negative = m * sum(1 for di in d if beta < 1 + 2 * lam * di)
    flat = m * sum(1 for di in d if beta == 1 + 2 * lam * di)
    assert _inertia(H) == (len(variables) - negative - flat, negative, flat)
    if not flat:
        Sigma_y_float = np.array(Sigma_y.tolist(), dtype=float)
        assert lgv.trivial_point_index((Sigma_y_float + Sigma_y_float.T) / 2, float(beta), float(lam), m) == negative
    b_dir = sp.Matrix(m, n, lambda i, j: sp.Rational(i + 2 * j + 1, 3))
    a_dir = Sigma_y * b_dir.T
    v = sp.Matrix(list(a_dir) + list(b_dir) + [0] * (len(z) + len(w)))
    assert (v.T * H * v)[0] == (b_dir * Sigma_y * ((beta - 1) * I_n - 2 * lam * Sigma_y) * b_dir.T).trace()
    evidence.exact("exact rational gradient and Hessian of L at the trivial point; inertia by Descartes' rule")
    evidence("negative eigenvalues of the Hessian", negative)


@pytest.mark.claim("mi_collapse.algorithm_1")
@pytest.mark.parametrize("beta, lam", [(0.25, 0.0), (0.5, 0.0), (0.5, 4.0), (1.0, 4.0)])
def test_below_one_the_iterates_leave_the_trivial_saddle_and_drift(beta, lam, evidence):
    """beta < 1, or beta = 1 < 1 + lam: the only stationary point is the trivial saddle (index m n);
    the printed stopping rule fires, but Sigma_w keeps shrinking, for beta < 1 like beta^t while L
    falls by a fixed amount per step."""
    Sigma_y = _spectrum_model([2.0, 1.0, 0.3, 0.1], 4)
    assert not lgv.converges_to_stationary_point(beta, lam)
    assert lgv.trivial_point_index(Sigma_y, beta, lam, 2) == 2 * 4
    r = lgv.alternating(Sigma_y, beta, lam, m=2, trials=4, seed=1, max_iter=3000)
    assert not r.stationary.any()
    if beta < 1:   # the printed rule fires within 25 iterations, then Sigma_w reaches the float64 floor
        assert r.converged.all() and not r.regular.any() and r.printed_stop.max() <= 25
    k = int(3 / np.log10(1 / beta)) if beta < 1 else 500
    smallest, values = [], []
    for steps in (k, 2 * k, 3 * k):
        s_ = lgv.alternating(Sigma_y, beta, lam, B0=r.B0[:1], Sigma_w0=r.Sigma_w0[:1], tol=1e-300, max_iter=steps)
        smallest.append(np.linalg.eigvalsh(s_.Sigma_w[0])[0])
        values.append(lgv.objective(s_.A[0], s_.B[0], s_.Sigma_z[0], s_.Sigma_w[0], Sigma_y, beta, lam))
    assert smallest[0] > smallest[1] > smallest[2]
    assert values[0] > values[1] > values[2]
    if beta < 1:
        rate = np.log(smallest[2] / smallest[1]) / k
        assert abs(rate - np.log(beta)) <= 0.05 * abs(np.log(beta))
        drop = (values[1] - values[2]) / k
        assert abs(drop - (values[0] - values[1]) / k) <= 0.05 * drop
        evidence("L decrease per step (nats)", drop, reduce=min)
    evidence("iteration at which the printed rule fired (max)", int(r.printed_stop.max()))
    evidence("min eigenvalue of Sigma_w at the last step", smallest[2], reduce=min)


@pytest.mark.claim("mi_collapse.algorithm_1")
def test_below_one_the_objective_falls_without_bound_at_150_digits(evidence):
    """The counterexample's numbers: Sigma_y with eigenvalues (2, 1, 0.3, 0.1), m = 2, beta = 1/2,
    lam = 0, the first initialisation of seed 1, Algorithm 1 at 150 digits for 100 steps (each step
    inverts matrices of condition beta^-t, so t = 100 costs about 60 of them):
    lambda_min(Sigma_w^(100)) = 1.54e-30, L^(100) - L(0, 0, Sigma_y, I) = -34.22 nats, and L falls by
    m (1 - beta) / 2 log(1 / beta) = 0.3466 nats per step (Sigma_z and Sigma_w shrink like beta^t
    in m directions: 1/2 log|Sigma_z| - beta/2 log|Sigma_w|)."""
    Sigma_y, beta, m, dps = _spectrum_model([2.0, 1.0, 0.3, 0.1], 4), 0.5, 2, 150
    d = np.linalg.eigvalsh(Sigma_y)
    evidence.quote("0.3", d[1])
    evidence.quote("0.1", d[0])
    evidence.quote("150", dps)
    r = lgv.alternating(Sigma_y, beta, 0.0, m=m, trials=4, seed=1, max_iter=3000)
    its = ref.iterates_high_precision(Sigma_y, beta, 0.0, r.B0[0], r.Sigma_w0[0], steps=100, dps=dps)
    n = Sigma_y.shape[0]
    L = lambda it: lgv.objective(it["A"], it["B"], it["Sigma_z"], it["Sigma_w"], to_mp(Sigma_y), beta, dps=dps)
    with mp.workdps(dps):
        L0 = lgv.objective(np.zeros((n, m)), np.zeros((m, n)), Sigma_y, np.eye(m), Sigma_y, beta, dps=dps)
        smallest = min(mp.eigsy(its[100]["Sigma_w"])[0])
        gap, slope = L(its[100]) - L0, (L(its[100]) - L(its[50])) / 50
        predicted = -m * (1 - mp.mpf(beta)) / 2 * mp.log(1 / mp.mpf(beta))
    evidence.quote("1.54e-30", smallest)
    evidence.quote("34.22", -gap)
    assert abs(slope / predicted - 1) < 1e-12
    evidence.quote("0.3466", -predicted)
    evidence("lambda_min(Sigma_w^(100))", float(smallest))
    evidence("L^(100) - L(trivial) (nats)", float(gap))
    evidence("L decrease per step, t = 50..100 (nats)", float(-slope))


@pytest.mark.claim("mi_collapse.algorithm_1")
@s.examples(8, shrink=False)
@given(model=s.lgv_models(max_n=6), seed=s.seeds)
def test_beta_one_without_lambda_reaches_exact_likelihood(model, seed, evidence):
    """beta = 1, lam = 0: a continuum of stationary points, all with L = -log-likelihood of the data."""
    r = lgv.alternating(model["Sigma_y"], 1.0, 0.0, m=model["m"], trials=3, seed=seed, tol=1e-12,
                        max_iter=100_000)
    assert r.stationary.all()
    floor = collapsed_objective(model["Sigma_y"])
    gaps = [lgv.objective(r.A[i], r.B[i], r.Sigma_z[i], r.Sigma_w[i], model["Sigma_y"], 1.0) - floor
            for i in range(3)]
    assert np.max(np.abs(gaps)) <= 1e-8 and np.all(np.linalg.norm(r.B, axis=(1, 2)) > 1e-3)
    evidence("max |L - L_collapsed| at beta = 1", float(np.max(np.abs(gaps))))


@pytest.mark.claim("mi_collapse.section_5_1")
@pytest.mark.parametrize("beta, lam", [(2.0, 0.0), (1.5, 2.0)])
def test_adam_agrees_with_algorithm_1(beta, lam, evidence):
    """AdamW on log-Cholesky covariances (§5.1) ends where Algorithm 1 does (objective value)."""
    Sigma_y = _spectrum_model([2.0, 1.0, 0.3], 3)
    alt = lgv.alternating(Sigma_y, beta, lam, m=2, trials=1, seed=0, tol=1e-12, max_iter=100_000)
    target = lgv.objective(alt.A[0], alt.B[0], alt.Sigma_z[0], alt.Sigma_w[0], Sigma_y, beta, lam)
    r = lgv.adam(Sigma_y, beta, lam, m=2, trials=3, seed=1, steps=6000, lr=2e-2)
    final = r.objective[-1]
    assert np.all(final >= target - 1e-9) and np.all(final - target <= 2e-3 * max(1, abs(target)))
    if lam == 0:
        assert np.all(np.linalg.norm(r.B, axis=(1, 2)) < 0.05)
    evidence("max (L_adam - L_alternating)", float(np.max(final - target)))


# ------------------------------------------------------------------ metrics, §4.1 and App. D


@pytest.mark.claim("mi_collapse.eq_4", "mi_collapse.eq_9", "mi_collapse.eq_10")
@s.examples(8)
@given(model=s.lgv_models(max_n=6), data=st.data())
def test_covariances_and_sap_match_samples(model, data, evidence):
    """eq. (4) and the squared correlations (9) and SAP (10) against 200k samples of (x, v)."""
    n, m = model["Sigma_y"].shape[0], model["m"]
    B, Sigma_w = data.draw(s.lgv_encoders(m, n))
    Sx, Sxv = lgv.latent_factor_covariances(B, Sigma_w, model["Gamma"], model["Sigma_v"], model["Sigma_y"])
    x, v = ref.sample_latents_and_factors(B, Sigma_w, model["Gamma"], model["Sigma_v"], model["sigma2"],
                                          samples=200_000, seed=1)
    empirical_cov = np.cov(np.concatenate([x, v], axis=1), rowvar=False)
    assert rel_fro(empirical_cov[:m, :m], Sx) < 0.02 and np.abs(empirical_cov[:m, m:] - Sxv).max() < 0.03 * (1 + np.abs(Sxv).max())
    S = lgv.squared_correlations(Sx, Sxv, model["Sigma_v"])
    sampled = ref.metrics_from_samples(x, v)
    err = np.abs(sampled["S"] - S).max()
    assert err <= 6 / np.sqrt(200_000) * 4
    if m >= 2:
        assert abs(sampled["sap"] - lgv.sap(S)) <= 0.02
    evidence("max |S exact - S sampled|", err)


@pytest.mark.claim("mi_collapse.eq_11")
@given(rho=st.floats(-0.98, 0.98), var_x=s.log_uniform(0.1, 10), var_v=s.log_uniform(0.1, 10))
def test_gaussian_pair_information_by_quadrature(rho, var_x, var_v, evidence):
    """I(x_i; v_j) = -1/2 log(1 - S_ij) against Gauss-Hermite quadrature of log p(x,v)/(p(x)p(v))."""
    from scipy import stats
    cov = np.array([[var_x, rho * np.sqrt(var_x * var_v)], [rho * np.sqrt(var_x * var_v), var_v]])
    joint = stats.multivariate_normal(np.zeros(2), cov)
    px, pv = stats.norm(0, np.sqrt(var_x)), stats.norm(0, np.sqrt(var_v))
    integrand = lambda u: joint.logpdf(u) - px.logpdf(u[:, 0]) - pv.logpdf(u[:, 1])
    quad = quadrature.gauss_hermite(integrand, np.zeros(2), cov, order=12)
    S = lgv.squared_correlations(cov[:1, :1], cov[:1, 1:], cov[1:, 1:])
    formula = lgv.pairwise_mutual_information(S)[0, 0]
    assert abs(formula - quad) <= 1e-10 * max(1, quad)
    evidence("max |formula - quadrature|", abs(formula - quad))


@pytest.mark.claim("mi_collapse.eq_11")
def test_mig_normalisation_by_differential_entropy_fails_for_small_factor_variance(evidence):
    """A perfect, disentangled code x = v with Var(v_j) = 0.05 < 1/(2 pi e): H(v_j) < 0, so eq. (11)
    as printed gives a negative MIG for the best possible representation."""
    Sigma_v = np.diag([0.05, 0.05])
    noise = 1e-3
    evidence.quote("0.05", Sigma_v[0, 0])
    evidence.quote("1e-3", noise)
    Sigma_x = Sigma_v + noise * np.eye(2)
    S = lgv.squared_correlations(Sigma_x, Sigma_v, Sigma_v)
    I = lgv.pairwise_mutual_information(S)
    H = 0.5 * np.log(2 * np.pi * np.e * np.diag(Sigma_v))
    printed = np.mean((np.max(I, axis=0) - np.sort(I, axis=0)[-2]) / H)
    evidence.quote("24.9", -printed)
    assert H[0] == H[1]
    evidence.quote("0.079", -H[0])
    evidence.quote("0.0585", 1 / (2 * np.pi * np.e))               # the variance at which H(v_j) = 0
    with pytest.raises(ValueError, match="H\\(v_j\\) > 0"):
        lgv.mig(S, Sigma_v)
    unit = lgv.mig(lgv.squared_correlations(np.eye(2) + noise * np.eye(2), np.eye(2), np.eye(2)), np.eye(2))
    assert unit > 0
    evidence("MIG of eq. (11) for a perfect code with Var(v) = 0.05", printed)


@pytest.mark.claim("mi_collapse.eq_12")
@s.examples(15)
@given(model=s.lgv_models(max_n=5, max_s=3), data=st.data())
def test_lim_partition_dynamic_programme_equals_brute_force(model, data, evidence):
    """eq. (12) by DP over factor subsets against enumerating all m^s factor -> latent maps."""
    n, m = model["Sigma_y"].shape[0], model["m"]
    B, Sigma_w = data.draw(s.lgv_encoders(m, n))
    Sx, Sxv = lgv.latent_factor_covariances(B, Sigma_w, model["Gamma"], model["Sigma_v"], model["Sigma_y"])
    dp = lgv.lim(Sx, Sxv, model["Sigma_v"])
    brute = ref.lim_brute_force(Sx, Sxv, model["Sigma_v"])
    assert abs(dp - brute) <= 1e-10 * max(1, brute)
    evidence("max |DP - brute force|", abs(dp - brute))


@pytest.mark.claim("mi_collapse.eq_12")
def test_lim_is_not_a_maximum_weight_assignment(evidence):
    """Counterexample to §4.1's reduction: x1 = v1 + v2 + noise, x2 = noise (m = s = 2, independent
    factors). The partition {v1, v2} -> x1 beats every one-factor-per-latent assignment."""
    Sigma_v = np.eye(2)
    B, Gamma = np.array([[1.0, 1.0], [0.0, 0.0]]), np.eye(2)
    noise_w, sigma2 = 0.1, 0.01
    evidence.quote("0.1", noise_w)
    evidence.quote("0.01", sigma2)
    Sigma_w = noise_w * np.eye(2)
    Sigma_y = Gamma @ Sigma_v @ Gamma.T + sigma2 * np.eye(2)
    Sx, Sxv = lgv.latent_factor_covariances(B, Sigma_w, Gamma, Sigma_v, Sigma_y)
    partition = lgv.lim(Sx, Sxv, Sigma_v)
    assignment = lgv.lim(Sx, Sxv, Sigma_v, method="assignment")
    evidence.quote("1.44", partition)
    evidence.quote("0.32", assignment)
    assert np.isclose(partition, ref.lim_brute_force(Sx, Sxv, Sigma_v), rtol=1e-12)
    evidence("LIM over partitions (nats)", partition)
    evidence("max-weight assignment (nats)", assignment)


@pytest.mark.claim("mi_collapse.eq_28")
@s.examples(10)
@given(model=s.lgv_models(max_n=6), data=st.data())
def test_eq_28_mutual_information_two_routes(model, data, evidence):
    """eq. (28) against (a) the model's structure, Cov(x | v) = sigma^2 B B^T + Sigma_w, and
    (b) Monte Carlo of log p(x|v) - log p(x) with scipy densities."""
    from scipy import stats
    n, m = model["Sigma_y"].shape[0], model["m"]
    B, Sigma_w = data.draw(s.lgv_encoders(m, n))
    I28 = lgv.mutual_information(B, Sigma_w, model["Gamma"], model["Sigma_v"], model["Sigma_y"])
    Sx = B @ model["Sigma_y"] @ B.T + Sigma_w
    cond = model["sigma2"] * B @ B.T + Sigma_w
    structural = 0.5 * (np.linalg.slogdet(Sx)[1] - np.linalg.slogdet(cond)[1])
    assert abs(I28 - structural) <= 1e-9 * max(1, structural)
    x, v = ref.sample_latents_and_factors(B, Sigma_w, model["Gamma"], model["Sigma_v"], model["sigma2"],
                                          samples=40_000, seed=2)
    mean_x = v @ (B @ model["Gamma"]).T
    log_ratio = stats.multivariate_normal(np.zeros(m), cond).logpdf(x - mean_x) - \
        stats.multivariate_normal(np.zeros(m), Sx).logpdf(x)
    est, err = np.mean(log_ratio), np.std(log_ratio) / np.sqrt(len(log_ratio))
    assert abs(est - I28) <= 6 * err
    evidence("max |eq. 28 - structural|", abs(I28 - structural))


@pytest.mark.claim("mi_collapse.section_4_1", "mi_collapse.theorem_3_2")
@s.examples(10)
@given(model=s.lgv_models(max_n=6, max_s=3), data=st.data())
def test_metrics_vanish_quadratically_as_the_encoder_gain_vanishes(model, data, evidence):
    """§4.1: as ||B|| -> 0, S_ij, SAP, MIG, LIM and I(x; v) -> 0, and [Sigma_x]_ii -> [Sigma_w]_ii, all O(||B||^2)."""
    n, m = model["Sigma_y"].shape[0], model["m"]
    B, Sigma_w = data.draw(s.lgv_encoders(m, n))
    # the scale of B at which signal B Sigma_y B^T and noise Sigma_w are comparable: 10x, 100x, 1000x below
    # it every metric is in its quadratic regime (relative corrections <= 1e-2, 1e-4, 1e-6)
    unit = np.sqrt(np.min(np.diag(Sigma_w)) / np.linalg.eigvalsh(B @ model["Sigma_y"] @ B.T)[-1])
    values = []
    for eps in unit * np.array([1e-1, 1e-2, 1e-3]):
        Sx, Sxv = lgv.latent_factor_covariances(eps * B, Sigma_w, model["Gamma"], model["Sigma_v"], model["Sigma_y"])
        S = lgv.squared_correlations(Sx, Sxv, model["Sigma_v"])
        row = [S.max(), lgv.lim(Sx, Sxv, model["Sigma_v"]),
               lgv.mutual_information(eps * B, Sigma_w, model["Gamma"], model["Sigma_v"], model["Sigma_y"]),
               np.max(np.abs(np.diag(Sx) / np.diag(Sigma_w) - 1))]      # latent variances -> the noise level
        if m >= 2:
            row += [lgv.sap(S), lgv.mig(S, model["Sigma_v"])]
        values.append(row)
    values = np.array(values)
    assert np.all(values[2] <= 1.02e-2 * values[1] + 1e-300)   # O(||B||^2): x10 smaller B, x100 smaller metric
    assert np.all(values[1] <= values[0])
    evidence("max metric at 1e-3 x the signal-equals-noise scale of B", float(values[-1].max()))


@pytest.mark.claim("mi_collapse.section_5_1")
def test_fig_3_data_collapses_at_beta_512_for_every_lambda(evidence):
    """On the Fig. 3 set-up (n = 50, m = 10, s = 5, sigma^2 = 0.05) with ||Sigma_y||_2 of order one,
    beta = 512 exceeds beta_c for every lambda in {4, 8, 16, 32}: Sigma_xv does not survive."""
    Gamma, Sigma_v, Sigma_y = lgv.figure_model()
    beta = 512.0
    evidence.quote("512", beta)
    evidence.quote("0.05", np.mean(np.diag(Sigma_y - Gamma @ Sigma_v @ Gamma.T)))
    norm = np.linalg.eigvalsh(Sigma_y)[-1]
    evidence.quote("1.53", norm)
    base = (1 + 2 * 32.0 * norm) / beta                # eq. (31) at lambda = 32: collapse from every initialisation
    evidence.quote("0.193", base)
    evidence.quote("98.8", lgv.collapse_threshold(Sigma_y, 32.0))
    for lam in (4.0, 8.0, 16.0, 32.0):
        beta_c = lgv.collapse_threshold(Sigma_y, lam)
        assert beta_c < beta
        r = lgv.alternating(Sigma_y, beta, lam, m=10, trials=20, seed=0)
        _, Sxv = lgv.latent_factor_covariances(r.B, r.Sigma_w, Gamma, Sigma_v, Sigma_y)
        assert r.stationary.all() and np.abs(Sxv).max() < 1e-6     # zero up to the tolerance
        r = lgv.alternating(Sigma_y, 0.9 * beta_c, lam, m=10, trials=5, seed=0)   # and below beta_c it survives
        _, Sxv = lgv.latent_factor_covariances(r.B, r.Sigma_w, Gamma, Sigma_v, Sigma_y)
        assert np.abs(Sxv).max(axis=(1, 2)).min() > 1e-3
        evidence(f"beta_c at lambda = {lam:g}", beta_c)
