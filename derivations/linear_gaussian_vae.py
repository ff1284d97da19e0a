"""Derivations for the linear-Gaussian beta-VAE and lambda-beta-VAE of [mi_collapse].

Everything starts from the model's Gaussian definitions (eq. 1-3): the objective from
the Gaussian log-density and KL with the second-moment rule E[u^T R u] = sum_k
tr(F_k^T R F_k Sigma_k) for u = sum_k F_k xi_k, xi_k ~ N(0, Sigma_k) independent; the
gradients term by term (``matrix_calculus.gradient``); the stationary points by solving
each block's gradient (``matrix_calculus.solve_linear``); the encoder recursions by
substitution; the linearisation of Algorithm 1 with first-order dual numbers. The paper's
printed forms are kept separately (``printed_*``) so the tests can prove the two equal.

References
----------
[mi_collapse] shared/papers/000_6e757ef8f718962b.txt.
"""
from __future__ import annotations

from functools import cache

import sympy as sp

from derivations.latex import Section, Step
from derivations.matrix_calculus import Dual, gradient, solve_linear, symmetric

PAPER = "mi_collapse"

n, m = sp.symbols("n m", integer=True, positive=True)
A = sp.MatrixSymbol("A", n, m)
B = sp.MatrixSymbol("B", m, n)
Sigma_z = sp.MatrixSymbol("Sigma_z", n, n)
Sigma_w = sp.MatrixSymbol("Sigma_w", m, m)
Sigma_y = sp.MatrixSymbol("Sigma_y", n, n)
beta = sp.Symbol("beta", positive=True)
lam = sp.Symbol("lambda", nonnegative=True)
I_n, I_m = sp.Identity(n), sp.Identity(m)
SYMMETRIC = (Sigma_z, Sigma_w, Sigma_y)
MATRICES = (A, B, Sigma_z, Sigma_w, Sigma_y)


# ------------------------------------------------------------------ Gaussian definitions


def second_moment(R, components):
    """E[u^T R u] for u = sum_k F_k xi_k with independent xi_k ~ N(0, Sigma_k).

    ``components`` is a list of (F_k, Sigma_k); cross terms vanish by independence.
    """
    return sp.Add(*[sp.Trace(F.T * R * F * S) for F, S in components])


def expected_neg_log_density(Sigma, k, components):
    """E[-log N(u; 0, Sigma)] = k/2 log 2 pi + 1/2 log|Sigma| + 1/2 E[u^T Sigma^-1 u]."""
    return (k * sp.log(2 * sp.pi) + sp.log(sp.Determinant(Sigma))
            + second_moment(Sigma.I, components)) / 2


def residual():
    """y - A x = (I - AB) y - A w under the encoder x = B y + w (eq. 2)."""
    return [(I_n - A * B, Sigma_y), (-A, Sigma_w)]


def reconstruction():
    """E_q[-log p(y|x)] with p(y|x) = N(A x, Sigma_z)  # App. A.2"""
    return expected_neg_log_density(Sigma_z, n, residual())


def kl():
    """E_y KL(N(B y, Sigma_w) || N(0, I_m))  # App. A.1

    KL(N(mu, S) || N(0, I)) = 1/2 [tr S + mu^T mu - m - log|S|], averaged over y.
    """
    return (sp.Trace(Sigma_w) + second_moment(I_m, [(B, Sigma_y)]) - m
            - sp.log(sp.Determinant(Sigma_w))) / 2


def l2_penalty():
    """E||y - A x||^2 with the deterministic decoder mean  # eq. (8), App. A.3"""
    return second_moment(I_n, residual())


def objective():
    """L_{lambda beta} = E[-log p(y|x)] + beta E KL + lambda E||y - Ax||^2  # eq. (5), (7)"""
    return reconstruction() + beta * kl() + lam * l2_penalty()


objective = cache(objective)


def printed_eq_6_trace_terms():
    """The four signed summands inside the first trace of eq. (6), as printed.

    Each is a conformable product, but two are m x m and two n x n: the printed
    Tr[...] of their sum is defined only for m = n (see ``printed_eq_6``).
    """
    Sigma_x = B * Sigma_y * B.T + Sigma_w
    return [A.T * Sigma_z.I * Sigma_y * B.T, Sigma_z.I * A * B * Sigma_y,
            -Sigma_z.I * Sigma_y, -A.T * Sigma_z.I * A * Sigma_x]


def printed_eq_6():
    """eq. (6) as printed in [mi_collapse], its first trace read as the sum of the traces of
    its summands (the printed sum itself mixes m x m and n x n matrices; for comparison only)."""
    Sigma_x = B * Sigma_y * B.T + Sigma_w
    inner = sp.Add(*[sp.Trace(term) for term in printed_eq_6_trace_terms()])
    return (-(inner - n * sp.log(2 * sp.pi) - sp.log(sp.Determinant(Sigma_z))) / 2
            + beta / 2 * (sp.Trace(Sigma_x) - sp.log(sp.Determinant(Sigma_w)) - m))


def printed_eq_8():
    """The lambda term of eq. (8) as printed (without lambda)."""
    return sp.Trace((I_n - A * B) * Sigma_y * (I_n - A * B).T + A * Sigma_w * A.T)


# --------------------------------------------------------------------------- gradients


def gradients():
    """d L_{lambda beta} / d X for X in (A, B, Sigma_w, Sigma_z)  # eq. (16); (23a-d)"""
    L = objective()
    return {X.name: gradient(L, X, SYMMETRIC) for X in (A, B, Sigma_w, Sigma_z)}


gradients = cache(gradients)


def printed_gradients():
    """eq. (23a)-(23d) as printed (eq. 16 at lambda = 0)."""
    N = Sigma_z.I + 2 * lam * I_n
    Sigma_x = B * Sigma_y * B.T + Sigma_w
    R = Sigma_y - A * B * Sigma_y - Sigma_y * B.T * A.T + A * Sigma_x * A.T
    return {"A": N * A * Sigma_x - N * Sigma_y * B.T,
            "B": beta * B * Sigma_y + A.T * N * A * B * Sigma_y - A.T * N * Sigma_y,
            "Sigma_w": beta / 2 * (I_m - Sigma_w.I) + A.T * N * A / 2,
            "Sigma_z": (Sigma_z.I - Sigma_z.I * R * Sigma_z.I) / 2}


# ----------------------------------------------------------------- stationary points


def stationary_points():
    """Each block's gradient solved for that block  # Lemma 3.1, Lemma 4.1, eq. (17)-(20)

    Sigma_w and Sigma_z are solved through their inverses' gradients: dL/dSigma_w is linear
    in Y = Sigma_w^-1, and Sigma_z dL/dSigma_z Sigma_z is linear in Sigma_z.
    """
    g = gradients()
    Y = sp.MatrixSymbol("Y", m, m)
    Sigma_z_star = solve_linear(sp.expand(Sigma_z * g["Sigma_z"] * Sigma_z).doit(), Sigma_z)
    return {
        "A": solve_linear(g["A"], A),
        "Sigma_z": Sigma_z_star,
        "B": solve_linear(g["B"], B),
        "Sigma_w": solve_linear((-2 / beta * g["Sigma_w"]).xreplace({Sigma_w.I: Y}), Y).I,
    }


stationary_points = cache(stationary_points)


def printed_lemma_4_1():
    """Lemma 3.1 (decoder) and Lemma 4.1 (encoder) as printed; Lemma 3.1 is lambda = 0."""
    M = (Sigma_z.I + 2 * lam * I_n) / beta
    W = (Sigma_y.I + B.T * Sigma_w.I * B).I
    return {"A": W * B.T * Sigma_w.I, "Sigma_z": W,
            "B": (I_m + A.T * M * A).I * A.T * M, "Sigma_w": (I_m + A.T * M * A).I}


def decoder_in_terms_of_encoder():
    """Substitute the derived A (eq. 17) into the derived Sigma_z (eq. 19) at lambda = 0."""
    sol = stationary_points()
    A17 = Sigma_y * B.T * (B * Sigma_y * B.T + Sigma_w).I
    return {"A": A17, "Sigma_z": symmetric(sp.expand(sol["Sigma_z"].xreplace({A: A17})).doit(), SYMMETRIC)}


def woodbury_eq_21():
    """(lhs, rhs) of eq. (21)."""
    return (Sigma_y - Sigma_y * B.T * (B * Sigma_y * B.T + Sigma_w).I * B * Sigma_y,
            (Sigma_y.I + B.T * Sigma_w.I * B).I)


def push_through_eq_22():
    """(lhs, rhs) of eq. (22)."""
    return (Sigma_y * B.T * (B * Sigma_y * B.T + Sigma_w).I,
            (Sigma_y.I + B.T * Sigma_w.I * B).I * B.T * Sigma_w.I)


# ------------------------------------------------------------------- encoder recursions


def _iterate(name: str, t, rows, cols):
    return sp.MatrixSymbol(f"{name}^{{({t})}}", rows, cols)


def encoder_step(t):
    """B^(t+1) from B^(t): the decoder of Lemma 3.1 (A = Sigma_z B^T Sigma_w^-1, eq. 24)
    substituted into the encoder update B = Sigma_w A^T M of Lemma 4.1  # eq. (25), (29)"""
    Bt, Swt, Szt = _iterate("B", t, m, n), _iterate("Sigma_w", t, m, m), _iterate("Sigma_z", t, n, n)
    Sw_next = _iterate("Sigma_w", t + 1, m, m)
    At = Szt * Bt.T * Swt.I                                  # eq. (24)
    M = (Szt.I + 2 * lam * I_n) / beta                        # Lemma 4.1
    return symmetric(sp.expand(Sw_next * At.T * M).doit(), [Szt, Swt])


def recursion_closed_form(t):
    """beta^-t Sigma_w^(t) Sigma_w^(0)^-1 B^(0) P_t with P_t = prod_{k<t} (I + 2 lambda Sigma_z^(k))  # eq. (30)"""
    P = sp.MatrixSymbol(f"P_{{{t}}}", n, n)
    return beta ** (-t) * _iterate("Sigma_w", t, m, m) * _iterate("Sigma_w", 0, m, m).I * _iterate("B", 0, m, n) * P, P


def induction_step():
    """Substituting eq. (30) at t into one step gives eq. (30) at t + 1 with
    P_{t+1} = P_t (I + 2 lambda Sigma_z^(t)); returns (derived, claimed) at t + 1."""
    t = sp.Symbol("t", integer=True, nonnegative=True)
    closed_t, P_t = recursion_closed_form(t)
    step = encoder_step(t).xreplace({_iterate("B", t, m, n): closed_t})
    closed_next, P_next = recursion_closed_form(t + 1)
    Szt = _iterate("Sigma_z", t, n, n)
    claimed = closed_next.xreplace({P_next: P_t * (I_n + 2 * lam * Szt)})
    return sp.expand(step).doit(), sp.expand(claimed).doit()


induction_step = cache(induction_step)


# ------------------------------------------------------------ linearisation and threshold


def linearised_step():
    """One Algorithm-1 step at (B, Sigma_w) = (0, I) + epsilon (B_1, W_1), to first order.

    Returns the tangents (dB', dSigma_w'). The decoder block (Sigma_z, A) is recomputed
    from the encoder as in lines 5-6, the encoder as in lines 16-19.
    """
    B1, W1 = sp.MatrixSymbol("B_1", m, n), sp.MatrixSymbol("W_1", m, m)
    zero = lambda r, c: sp.ZeroMatrix(r, c)
    Bd, Swd = Dual(zero(m, n), B1), Dual(I_m, W1)
    Szd = (Dual(Sigma_y.I, zero(n, n)) + Bd.T * Swd.I * Bd).I          # line 5
    Ad = Szd * Bd.T * Swd.I                                           # line 6
    Md = (Szd.I + Dual(2 * lam * I_n, zero(n, n))) * (1 / beta)      # line 16
    Sw_next = (Dual(I_m, zero(m, m)) + Ad.T * Md * Ad).I             # line 18
    B_next = Sw_next * Ad.T * Md                                      # line 19
    return (sp.expand(symmetric(B_next.tangent, [Sigma_y])).doit(),
            sp.expand(symmetric(Sw_next.tangent, [Sigma_y])).doit())


linearised_step = cache(linearised_step)


def collapse_threshold():
    """beta_c: the linearised map B_1 -> B_1 (I + 2 lambda Sigma_y)/beta has spectral radius
    (1 + 2 lambda d_1)/beta, d_1 = ||Sigma_y||_2, which crosses one at beta_c."""
    d1 = sp.Symbol("d_1", positive=True)
    return sp.solve(sp.Eq((1 + 2 * lam * d1) / beta, 1), beta)[0]


# -------------------------------------------------------------- fixed point of one mode


def mode_fixed_point():
    """Non-trivial fixed point of Algorithm 1 on one eigen-mode (Sigma_y = d, scalars).

    The four stationarity conditions for the encoder gain b != 0, noise s = Sigma_w,
    decoder gain a and noise z = Sigma_z are solved in turn: the B-condition with the
    A-condition substituted and divided by b fixes z; the Sigma_z-condition then fixes
    r = b^2 / s; the Sigma_w-condition fixes s. Returns the solution dict, the
    information I(x; y) = 1/2 log(1 + b^2 d / s) and the symbol d.
    """
    d = sp.Symbol("d", positive=True)
    a, b, s, z, r = sp.symbols("a b s z r", positive=True)
    a_of = z * b / s                                                   # A, Lemma 3.1
    b_condition = sp.Eq(b, s * a_of * (1 / z + 2 * lam) / beta)       # B, Lemma 4.1
    (z_star,) = sp.solve(sp.Eq(1, sp.simplify(b_condition.rhs / b)), z)
    (r_star,) = sp.solve(sp.Eq(z_star, 1 / (1 / d + r)), r)           # Sigma_z, Lemma 3.1 (r = b^2/s)
    w_condition = sp.Eq(1 / s, 1 + (a_of**2 * (1 / z + 2 * lam) / beta).subs(b**2, r * s))  # Sigma_w, Lemma 4.1
    (s_star,) = sp.solve(w_condition.subs({z: z_star, r: r_star}), s)
    b2 = sp.factor(r_star * s_star)
    sol = {z: z_star, s: sp.factor(s_star), b: sp.sqrt(b2), a: sp.simplify(a_of.subs({z: z_star, s: s_star, b: sp.sqrt(b2)}))}
    info = sp.simplify(sp.expand_log(sp.log(1 + b2 * d / s_star) / 2, force=True))
    return sol, info, d


mode_fixed_point = cache(mode_fixed_point)


# ------------------------------------------------------------------------- the document


def sections():  # pragma: no mutate block (the document's text: tests/test_latex.py holds it byte for byte)
    g = gradients()
    sol = stationary_points()
    dec = decoder_in_terms_of_encoder()
    wood_lhs, wood_rhs = woodbury_eq_21()
    push_lhs, push_rhs = push_through_eq_22()
    step_derived, step_claimed = induction_step()
    dB, dW = linearised_step()
    fp, info, d = mode_fixed_point()
    a, b, s, z = sp.symbols("a b s z", positive=True)
    L = sp.Symbol(r"\mathcal{L}_{\lambda\beta}")
    return [
        Section("Objective from the Gaussian definitions (eq. 5-8, App. A)",
                "With $u = y - Ax = (I - AB)y - Aw$ and independent zero-mean $y, w$, "
                "$E[u^\\top R u] = \\operatorname{tr}((I-AB)^\\top R (I-AB)\\Sigma_y) + "
                "\\operatorname{tr}(A^\\top R A \\Sigma_w)$.",
                (Step("Reconstruction term:", reconstruction(), r"E_q[-\log p(y|x)]", "A.2"),
                 Step("KL term:", kl(), r"E_y\,\mathrm{KL}(q(x|y)\,\|\,p(x))", "A.1"),
                 Step("Auxiliary $L_2$ term:", l2_penalty(), r"E\|y - Ax\|^2", "eq. (8), A.3"),
                 Step("Together; equal to the printed eq. (6) + $\\lambda$ eq. (8) "
                      "(proved by exact rational evaluation):", objective(), L, "eq. (6), (8)"))),
        Section("Gradients (App. B eq. 16, App. C eq. 23a-d)",
                "Differentiated term by term (traces of single products; log-determinants by "
                "Jacobi's formula), with $\\Sigma_y, \\Sigma_z, \\Sigma_w$ symmetric. Each equals "
                "the printed form and is checked against finite differences.",
                tuple(Step("", g[k], sp.Symbol(rf"\partial {L} / \partial {sp.latex(sp.Symbol(k))}"),
                           ref) for k, ref in (("A", "eq. (23a)"), ("B", "eq. (23b)"),
                                               ("Sigma_w", "eq. (23c)"), ("Sigma_z", "eq. (23d)")))),
        Section("Stationary points (Lemma 3.1, Lemma 4.1; eq. 17-22)",
                "Each block's gradient is affine in the block (for $\\Sigma_w$: in $\\Sigma_w^{-1}$; "
                "for $\\Sigma_z$: after multiplying by $\\Sigma_z$ on both sides) and is solved "
                "directly.",
                (Step("", sol["A"], "A", "eq. (17)"),
                 Step("", sol["Sigma_z"], sp.Symbol(r"\Sigma_z"), "eq. (19)"),
                 Step("", sol["B"], "B", "eq. (18), Lemma 4.1"),
                 Step("", sol["Sigma_w"], sp.Symbol(r"\Sigma_w"), "eq. (20), Lemma 4.1"),
                 Step("Substituting eq. (17) into eq. (19) at $\\lambda=0$:", dec["Sigma_z"],
                      sp.Symbol(r"\Sigma_z"), "eq. (21)"),
                 Step("which is the Woodbury identity", wood_rhs, wood_lhs, "eq. (21)"),
                 Step("and the decoder gain of Lemma 3.1 follows by push-through:", push_rhs, push_lhs,
                      "eq. (22)"))),
        Section("Encoder recursions (eq. 24-26, 29-30)",
                "Substituting $A^{(t)} = \\Sigma_z^{(t)} B^{(t)\\top} \\Sigma_w^{(t)-1}$ (eq. 24) into the "
                "encoder update of Lemma 4.1 with $M = \\beta^{-1}(\\Sigma_z^{-1} + 2\\lambda I)$:",
                (Step("", encoder_step(0), sp.Symbol("B^{(1)}"), "eq. (25), (29) corrected"),
                 Step("Induction: the closed form at $t$ substituted into one step gives", step_derived,
                      sp.Symbol("B^{(t+1)}"), "eq. (26), (30)"),
                 Step("which is the closed form at $t+1$ with $P_{t+1} = P_t (I + 2\\lambda\\Sigma_z^{(t)})$:",
                      step_claimed, sp.Symbol("B^{(t+1)}"), "eq. (30)"))),
        Section("Linearisation of Algorithm 1 at the trivial fixed point; the exact threshold",
                "At $(B, \\Sigma_w) = (0, I) + \\epsilon (B_1, W_1)$ one step of Algorithm 1 gives, "
                "to first order in $\\epsilon$:",
                (Step("", dB, sp.Symbol(r"\delta B'"), "App. E"),
                 Step("", dW, sp.Symbol(r"\delta \Sigma_w'"), "App. E"),
                 Step("Spectral radius $(1 + 2\\lambda d_1)/\\beta$ equals one at", collapse_threshold(),
                      sp.Symbol(r"\beta_c"), "sharpens eq. (31)"))),
        Section("The non-trivial fixed point of one mode ($1 < \\beta < 1 + 2\\lambda d$)",
                "For a mode of $\\Sigma_y$ with eigenvalue $d$, the four stationarity conditions with "
                "$b \\neq 0$ give:",
                (Step("", fp[z], "z = \\Sigma_z", "§4.2"),
                 Step("", fp[s], "s = \\Sigma_w", "§4.2"),
                 Step("", fp[b] ** 2, "b^2", "§4.2"),
                 Step("carrying the information", info, "I(x; y)", "§4.2"))),
    ]
