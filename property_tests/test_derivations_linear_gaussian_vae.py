"""The SymPy derivations of [mi_collapse] against the paper's printed formulas (exact
rational evaluation at random matrices of several sizes: Schwartz-Zippel; and explicit
symbolic 2 x 2), against finite differences, and against the float64 numerics."""
import random

import numpy as np
import pytest
import sympy as sp

from derivations import linear_gaussian_vae as d
from derivations.matrix_calculus import (GENERAL, SPD, evaluate, prove_identity, prove_identity_symbolic,
                                        random_rational, to_numpy)
from numerics import linear_gaussian_vae as lgv
from numerics.reference import finite_differences
from property_tests.strategies import spd_from

KINDS = {d.A: GENERAL, d.B: GENERAL, d.Sigma_z: SPD, d.Sigma_w: SPD, d.Sigma_y: SPD}
SIZES = [{d.n: 1, d.m: 1}, {d.n: 2, d.m: 1}, {d.n: 3, d.m: 2}, {d.n: 2, d.m: 3}, {d.n: 4, d.m: 4}]
SCALARS = {d.beta: lambda r: sp.Rational(r.randint(1, 40), r.randint(1, 9)),
           d.lam: lambda r: sp.Rational(r.randint(0, 20), r.randint(1, 9))}


def numeric_point(n, m, seed):
    rng = np.random.default_rng(seed)
    return dict(A=rng.standard_normal((n, m)), B=rng.standard_normal((m, n)),
                Sigma_z=spd_from(seed + 1, n, 1.0), Sigma_w=spd_from(seed + 2, m, 1.0),
                Sigma_y=spd_from(seed + 3, n, 1.0))


@pytest.mark.claim("mi_collapse.eq_6", "mi_collapse.eq_8", "mi_collapse.appendix_a_1",
                   "mi_collapse.appendix_a_2", "mi_collapse.appendix_a_3", "mi_collapse.eq_6_traces")
def test_derived_objective_equals_printed_eq_6_and_8(evidence):
    """The objective derived from the Gaussian definitions is eq. (6) + lambda eq. (8)."""
    points = prove_identity(d.objective(), d.printed_eq_6() + d.lam * d.printed_eq_8(), KINDS, SIZES,
                            scalars=SCALARS)
    f = to_numpy(d.objective(), [*d.MATRICES, d.beta, d.lam], {d.n: 4, d.m: 3})
    for seed in range(3):
        p = numeric_point(4, 3, seed)
        assert np.isclose(f(*p.values(), 2.5, 0.7), lgv.objective(**p, beta=2.5, lam=0.7), rtol=1e-12)
    evidence.exact("exact rational evaluation at random rational matrices of several sizes (Schwartz-Zippel)")
    evidence("exact rational evaluations", points)


@pytest.mark.claim("mi_collapse.eq_6_traces")
def test_eq_6_traces_hold_conformable_products_of_two_sizes(evidence):
    """At explicit rational matrices with n = 3, m = 2 every product inside the traces of eq. (6),
    of eq. (8) and of App. A.2's last line evaluates (a non-conformable product would raise), but
    the summands of eq. (6)'s first trace are 2 x 2, 3 x 3, 3 x 3, 2 x 2 (likewise App. A.2's):
    their printed sum raises. At m = n it exists, and its trace is the sum of the summands' traces,
    the reading that equals the derived objective (test_derived_objective_equals_printed_eq_6_and_8)."""
    rng = random.Random(1)
    Sigma_x = d.B * d.Sigma_y * d.B.T + d.Sigma_w
    a2_terms = [d.A.T * d.Sigma_z.I * d.A * Sigma_x, -d.A.T * d.Sigma_z.I * d.Sigma_y * d.B.T,
                -d.Sigma_z.I * d.A * d.B * d.Sigma_y, d.Sigma_z.I * d.Sigma_y]          # App. A.2, last line
    kl_terms = [d.B * d.Sigma_y * d.B.T, d.Sigma_w]                                    # eq. (6), KL trace
    l2_terms = [(d.I_n - d.A * d.B) * d.Sigma_y * (d.I_n - d.A * d.B).T, d.A * d.Sigma_w * d.A.T]   # eq. (8)
    for dims, mixed in (({d.n: 3, d.m: 2}, True), ({d.n: 2, d.m: 2}, False)):
        values = {X.name: random_rational(*(int(k.xreplace(dims)) for k in X.shape), kind, rng)
                  for X, kind in KINDS.items()}
        for terms in (d.printed_eq_6_trace_terms(), a2_terms, kl_terms, l2_terms):
            shapes = [evaluate(t, dims, values).shape for t in terms]
            if terms in (kl_terms, l2_terms) or not mixed:
                assert len(set(shapes)) == 1
                together = evaluate(sp.Trace(sp.MatAdd(*terms)), dims, values)
                assert sp.simplify(together - sum(evaluate(sp.Trace(t), dims, values) for t in terms)) == 0
            else:
                assert shapes in ([(2, 2), (3, 3), (3, 3), (2, 2)], [(2, 2), (2, 2), (3, 3), (3, 3)])
                with pytest.raises(sp.ShapeError):
                    evaluate(sp.MatAdd(*terms), dims, values)
    evidence.exact("shapes and traces of explicit rational matrices")


@pytest.mark.claim("mi_collapse.eq_16", "mi_collapse.eq_23")
def test_derived_gradients_equal_printed_and_finite_differences(evidence):
    """Term-by-term gradients equal eq. (23a-d) exactly and match central differences."""
    g, printed = d.gradients(), d.printed_gradients()
    points = sum(prove_identity(g[k], printed[k], KINDS, SIZES[:4], scalars=SCALARS) for k in g)
    evidence.exact("exact rational evaluation at random rational matrices of several sizes (Schwartz-Zippel)")
    dims = {d.n: 3, d.m: 2}
    args = [*d.MATRICES, d.beta, d.lam]
    f = to_numpy(d.objective(), args, dims)
    worst = 0.0
    for k, X in zip(("A", "B", "Sigma_w", "Sigma_z"), (d.A, d.B, d.Sigma_w, d.Sigma_z)):
        grad = to_numpy(g[k], args, dims)
        for seed in range(2):
            p = numeric_point(3, 2, seed)
            V = np.random.default_rng(seed).standard_normal(p[X.name].shape)
            V = (V + V.T) / 2 if k.startswith("Sigma") else V
            fd = finite_differences.directional(lambda Y: f(*{**p, X.name: Y}.values(), 1.7, 0.4), p[X.name], V)
            claimed = np.sum(grad(*p.values(), 1.7, 0.4) * V)
            worst = max(worst, abs(claimed - fd) / max(1, abs(fd)))
    assert worst <= 1e-7
    evidence("exact rational evaluations", points)
    evidence("max rel. error vs finite differences", worst)


@pytest.mark.claim("mi_collapse.lemma_3_1", "mi_collapse.lemma_4_1")
def test_solved_stationary_points_equal_the_lemmas(evidence):
    """Solving each block's gradient gives Lemma 3.1 (decoder) and Lemma 4.1 (encoder)."""
    sol, printed = d.stationary_points(), d.printed_lemma_4_1()
    dec = d.decoder_in_terms_of_encoder()
    points = prove_identity(sol["A"], printed["A"], KINDS, SIZES, scalars=SCALARS)
    points += prove_identity(dec["Sigma_z"], printed["Sigma_z"], KINDS, SIZES)
    points += prove_identity(sol["B"], printed["B"], KINDS, SIZES, scalars=SCALARS)
    points += prove_identity(sol["Sigma_w"], printed["Sigma_w"], KINDS, SIZES, scalars=SCALARS)
    prove_identity_symbolic(sol["B"].xreplace({d.lam: 0}), printed["B"].xreplace({d.lam: 0}), KINDS,
                            {d.n: 2, d.m: 1})
    evidence.exact("exact rational evaluation at random rational matrices of several sizes (Schwartz-Zippel)")
    evidence("exact rational evaluations", points)


@pytest.mark.claim("mi_collapse.eq_21", "mi_collapse.eq_22")
@pytest.mark.parametrize("identity", ["woodbury_eq_21", "push_through_eq_22"])
def test_woodbury_and_push_through_identities(identity, evidence):
    """Exact at random rational matrices of five sizes, and symbolically at 2 x 2 and 2 x 1."""
    lhs, rhs = getattr(d, identity)()
    points = prove_identity(lhs, rhs, KINDS, SIZES, trials=3)
    for dims in ({d.n: 2, d.m: 2}, {d.n: 2, d.m: 1}):
        prove_identity_symbolic(lhs, rhs, KINDS, dims)
    evidence.exact("exact rational evaluation at random rational matrices of several sizes (Schwartz-Zippel)")
    with pytest.raises(AssertionError):      # the prover can fail: a wrong sign is caught
        prove_identity(lhs, 2 * rhs - lhs + sp.Identity(d.n) * 0 + (rhs - lhs) * 0 + rhs * sp.Rational(1, 3),
                       KINDS, SIZES[1:2])
    evidence("exact rational evaluations", points)


@pytest.mark.claim("mi_collapse.eq_26", "mi_collapse.eq_29", "mi_collapse.eq_30", "mi_collapse.eq_26_row_space")
def test_encoder_recursions_derived(evidence):
    """One step gives eq. (29) (with M = beta^-1 (Sigma_z^-1 + 2 lambda I)); the induction step
    reproduces eq. (30) at t + 1 (eq. 26 at lambda = 0)."""
    derived, claimed = d.induction_step()
    assert sp.simplify(derived - claimed) == sp.ZeroMatrix(*derived.shape) or derived == claimed
    step = d.encoder_step(0)
    B0, Sw0, Sw1, Sz0 = (d._iterate(name, t, *shape) for name, t, shape in
                         (("B", 0, (d.m, d.n)), ("Sigma_w", 0, (d.m, d.m)), ("Sigma_w", 1, (d.m, d.m)),
                          ("Sigma_z", 0, (d.n, d.n))))
    eq29 = Sw1 * Sw0.I * B0 * (sp.Identity(d.n) + 2 * d.lam * Sz0) / d.beta
    kinds = {B0: GENERAL, Sw0: SPD, Sw1: SPD, Sz0: SPD}
    points = prove_identity(step, eq29, kinds, SIZES, scalars=SCALARS)
    evidence.exact("symbolic induction step, and one step by exact rational evaluation (Schwartz-Zippel)")
    evidence("exact rational evaluations", points)


@pytest.mark.claim("mi_collapse.appendix_e")
def test_linearisation_at_the_trivial_fixed_point(evidence):
    """dB' = B_1 (I + 2 lambda Sigma_y) / beta and dSigma_w' = 0, so beta_c = 1 + 2 lambda d_1;
    the numerics' threshold evaluates this derived formula."""
    dB, dW = d.linearised_step()
    B1 = sp.MatrixSymbol("B_1", d.m, d.n)
    expected = B1 * (sp.Identity(d.n) + 2 * d.lam * d.Sigma_y) / d.beta
    points = prove_identity(dB, expected, {B1: GENERAL, d.Sigma_y: SPD}, SIZES, scalars=SCALARS)
    assert dW == sp.ZeroMatrix(d.m, d.m)
    evidence.exact("exact rational evaluation at random rational matrices of several sizes (Schwartz-Zippel)")
    beta_c = d.collapse_threshold()
    rng = random.Random(0)
    for seed in range(5):
        Sigma_y, lam = spd_from(seed, 4, 2.0, 3.0), rng.uniform(0, 10)
        value = float(beta_c.subs({sp.Symbol("d_1", positive=True): np.linalg.eigvalsh(Sigma_y)[-1], d.lam: lam}))
        assert np.isclose(lgv.collapse_threshold(Sigma_y, lam), value, rtol=1e-14)
    evidence("exact rational evaluations", points)


@pytest.mark.claim("mi_collapse.section_4_2")
def test_solved_mode_fixed_point_matches_numerics(evidence):
    """SymPy's fixed point of one mode (z = c, s = c/d, b^2 = (d - c)/d^2) is the one the
    numerics build, and I(x; y) = 1/2 log(2 lambda d / (beta - 1))."""
    sol, info, dsym = d.mode_fixed_point()
    a, b, s, z = sp.symbols("a b s z", positive=True)
    c = (d.beta - 1) / (2 * d.lam)
    for derived, closed in ((sol[z], c), (sol[s], c / dsym), (sol[b] ** 2, (dsym - c) / dsym ** 2),
                            (info, sp.log(2 * d.lam * dsym / (d.beta - 1)) / 2)):
        assert sp.simplify(sp.expand_log(derived - closed, force=True)) == 0
    evidence.exact("sympy's solution against the closed form, symbolically in d, beta, lambda")
    Sigma_y = np.diag([3.0, 1.5, 0.4])
    beta, lam = 2.0, 1.0
    fp = lgv.fixed_point(Sigma_y, beta, lam, m=3)
    worst = 0.0
    for i, dv in enumerate(np.diag(Sigma_y)[: fp.active]):
        subs = {dsym: dv, d.beta: beta, d.lam: lam}
        worst = max(worst, abs(float(sol[s].subs(subs)) - fp.Sigma_w[i, i]),
                    abs(float(sol[b].subs(subs)) - abs(fp.B[i, i])),
                    abs(float(sol[z].subs(subs)) - fp.c))
        info_numeric = 0.5 * np.log(1 + fp.B[i, i] ** 2 * dv / fp.Sigma_w[i, i])
        worst = max(worst, abs(float(info.subs(subs)) - info_numeric))
    assert worst <= 1e-12 and fp.active == 2
    evidence("max |symbolic - numeric|", worst)
