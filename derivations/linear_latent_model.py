"""SymPy derivations for the linear latent-variable model of [wang_ziyin].

From the model's Gaussian definitions: the objective and its split into ℓ_mean and
ℓ_var (eq. 2-5), the reduction to regularised matrix factorisation (Prop. 1), the
per-mode problem and its minimiser (Prop. 2, eq. 8, 11, 86), σ* (Prop. 3), the global
minimum with learnable Σ (Thm. 2, Cor. 2), the Hessian at the origin (Thm. 3), the
optimal biases (Prop. 4), the data-dependent variance (Lemma 1, Prop. 5) and G'(s),
s* and the β thresholds of App. D (eq. 48-65). Every function is pure and cached.

References
----------
[wang_ziyin] Z. Wang and L. Ziyin, "Posterior Collapse of a Linear Latent Variable
    Model", shared/papers/004_1e5dba7473d2cfc0.txt.
"""
from __future__ import annotations

from functools import cache

import sympy as sp

from derivations.latex import Section, Step

PAPER = "wang_ziyin"

zeta, sigma, beta = sp.symbols("zeta sigma beta", positive=True)
eta_enc, eta_dec = sp.symbols("eta_enc eta_dec", positive=True)
u, v, m, y = sp.symbols("u v m y", real=True)
xi = sp.Symbol("xi", real=True)              # standard normal: ε = σ ξ
t = sp.Symbol("t", real=True)                # t = u², squared singular value of U
s = sp.Symbol("s", positive=True)            # s = η_dec², App. D
p = sp.Symbol("p", positive=True, integer=True)
d2 = sp.Symbol("d_2", positive=True, integer=True)
zeta_p = sp.Symbol("zeta_p", positive=True)
S_le = sp.Symbol(r"S_{\leq p}", positive=True)    # Σ_{i ≤ p} ζ_i²
S_gt = sp.Symbol(r"S_{>p}", nonnegative=True)     # Σ_{i > p}^{d̂*} ζ_i² (+ residual)
L_le = sp.Symbol(r"\Lambda_{\leq p}", real=True)  # Σ_{i ≤ p} log ζ_i²

k = beta * eta_dec**2 / eta_enc**2          # the weight of ||V||_F² in eq. (6)
k_sym = sp.Symbol("k", positive=True)        # k as a symbol, for display
c = sp.sqrt(beta) * eta_dec / eta_enc       # √k


def _tidy(expr):
    """Factor, and write -c (a - b) as c (b - a), so that displays read like the paper."""
    expr = sp.factor(expr)
    if isinstance(expr, sp.Mul) and expr.could_extract_minus_sign():
        adds = [f for f in expr.args if f.is_Add]
        if adds:
            return -expr.xreplace({adds[0]: -adds[0]})
    return expr


def gaussian_expectation(expr, var=xi):
    """E over a standard normal ``var`` of a polynomial in it: ξ^n -> (n-1)!! or 0."""
    poly = sp.Poly(sp.expand(expr), var)
    return sp.expand(sum(coeff * (sp.factorial2(n - 1) if n % 2 == 0 else 0)
                         for (n,), coeff in poly.terms()))


def _log_normal(x, mean, std):
    return -(x - mean) ** 2 / (2 * std**2) - sp.log(std) - sp.log(2 * sp.pi) / 2


def objective_per_coordinate():
    """Reconstruction, β KL, ℓ_mean and ℓ_var of one latent coordinate (eq. 3-5).

    Encoder z = m + σ ξ (m = (W^T x)_i); decoder y ~ N(u z, η_dec²); prior N(0, η_enc²).
    """
    z = m + sigma * xi
    recon = gaussian_expectation((u * z - y) ** 2 / (2 * eta_dec**2))
    kl = gaussian_expectation(_log_normal(z, m, sigma) - _log_normal(z, 0, eta_enc))
    kl = sp.expand(sp.expand_log(kl, force=True))
    l_mean = beta * kl.coeff(m, 2) * m**2
    return {"reconstruction": recon, "beta_kl": beta * kl, "l_mean": l_mean,
            "l_var": sp.expand(beta * kl - l_mean)}


objective_per_coordinate = cache(objective_per_coordinate)


def reduction():
    """Prop. 1 / eq. (66)-(72): with A = R R^T (R = P_A Φ^{1/2}), V = R^T W and
    Z = M R, E_x||U W^T x - M x||² = ||(U W^T - M) R||_F² = ||U V^T - Z||_F²."""
    D0, d1_, d2_, r = sp.symbols("D_0 d_1 d_2 r", positive=True, integer=True)
    U = sp.MatrixSymbol("U", d2_, d1_)
    W = sp.MatrixSymbol("W", D0, d1_)
    M = sp.MatrixSymbol("M", d2_, D0)
    R = sp.MatrixSymbol("R", D0, r)
    V, Z = sp.MatrixSymbol("V", r, d1_), sp.MatrixSymbol("Z", d2_, r)
    return {"lhs": (U * W.T - M) * R, "rhs": U * V.T - Z, "mean_lhs": sp.Trace(W.T * R * R.T * W),
            "mean_rhs": sp.Trace(V.T * V), "substitution": {V: R.T * W, Z: M * R},
            "matrices": (U, W, M, R), "dims": (D0, d1_, d2_, r)}


reduction = cache(reduction)


def mode_problem():
    """The per-mode problem of eq. (6) after the SVDs (App. E.2): minimise
    ℓ(u, v) = (u v - ζ)² + σ² u² + k v² over u, v; returns v*(u), f(t), the roots of
    f'(t) (eq. 86-87), λ² = t*, θ² = v*² (eq. 8) and the minimum (eq. 11)."""
    ell = (u * v - zeta) ** 2 + sigma**2 * u**2 + k * v**2
    (v_of_u,) = sp.solve(sp.diff(ell, v), v)                       # eq. (74)
    f = sp.simplify(ell.subs(v, v_of_u).subs(u, sp.sqrt(t)))       # eq. (77), t = u²
    roots = sp.solve(sp.diff(f, t), t)                             # eq. (85)
    (t_star,) = [r for r in roots if sp.simplify(r.subs({zeta: 10, sigma: 1, beta: 1, eta_enc: 1,
                                                          eta_dec: 1})) > 0]
    theta2 = sp.simplify((v_of_u**2).subs(u, sp.sqrt(t)).subs(t, t_star))
    minimum = sp.factor(sp.simplify(f.subs(t, t_star)))
    return {"ell": ell, "v_of_u": v_of_u, "f": f, "roots": roots, "lambda2": _tidy(t_star),
            "theta2": _tidy(theta2), "minimum": _tidy(minimum),
            "hessian_origin": sp.hessian(ell, (u, v)).subs({u: 0, v: 0})}


mode_problem = cache(mode_problem)


def sigma_problem():
    """Prop. 3: minimise ℓ_i(σ) = [ζ² - (ζ - cσ)₊²] + β η_dec² (σ²/η_enc² - 1 - log σ²/η_enc²)
    on each branch (eq. 92-100) and substitute σ* into λ, θ and the loss (eq. 17-19, 43)."""
    var = beta * eta_dec**2 * (sigma**2 / eta_enc**2 - 1 - sp.log(sigma**2 / eta_enc**2))
    active = mode_problem()["minimum"] + var
    inactive = zeta**2 + var
    (sigma_active,) = sp.solve(sp.diff(active, sigma), sigma)      # eq. (96)
    (sigma_inactive,) = sp.solve(sp.diff(inactive, sigma), sigma)  # eq. (99)
    at_star = {sigma: sigma_active}
    condition = _tidy((zeta / c - sigma_active) * zeta / c)   # > 0 iff ζ² > β η_dec² (eq. 97)
    return {"active": active, "inactive": inactive, "sigma_active": sigma_active,
            "sigma_inactive": sigma_inactive, "condition": condition,
            "lambda2": _tidy(sp.simplify(mode_problem()["lambda2"].subs(at_star))),
            "theta2": _tidy(sp.simplify(mode_problem()["theta2"].subs(at_star))),
            "minimum": _per_unit(sp.simplify(active.subs(at_star)), beta * eta_dec**2)}


sigma_problem = cache(sigma_problem)


def _per_unit(expr, unit):
    """``expr`` as unit * (one combined log + rest), e.g. β η² (1 + log(ζ²/(β η²)))."""
    inner = sp.expand(sp.expand_log(expr / unit, force=True))
    return unit * sp.logcombine(inner, force=True)


def hessian_at_origin():
    """Thm. 3: the Hessian of ℓ(u, v) at the origin (eq. 107-110), its eigenvalues
    (eq. 118) and determinant: PSD iff ζ² ≤ σ² k."""
    H = mode_problem()["hessian_origin"].subs(beta, k_sym * eta_enc**2 / eta_dec**2)
    eig = sorted(H.eigenvals(), key=lambda e: sp.default_sort_key(e))
    return {"H": H, "eigenvalues": [sp.factor(e) for e in eig], "det": sp.factor(H.det())}


hessian_at_origin = cache(hessian_at_origin)


def biases():
    """Prop. 4: the stationarity conditions (23), (25) in a = W^T E[x] + b_e and
    b = b_d - E[y]: substituting b = -U a from (25) into (23) leaves k a = 0."""
    d1_, d2_ = sp.symbols("d_1 d_2", positive=True, integer=True)
    U = sp.MatrixSymbol("U", d2_, d1_)
    a = sp.MatrixSymbol("a", d1_, 1)
    b = -U * a                                                    # eq. (25)
    eq23 = (U.T * U + k * sp.Identity(d1_)) * a + U.T * b           # eq. (23)
    return {"eq23": eq23, "reduced": sp.expand(eq23).doit(), "a": a}


biases = cache(biases)


def data_dependent_variance():
    """Lemma 1 / eq. (31): E_x (C_i x + f_i)² for x with E[x] = μ, E[x x^T] = A (D0 = 2),
    and the Jensen gap of Prop. 5 for two data points."""
    x1, x2, f, c1, c2 = sp.symbols("x_1 x_2 f C_1 C_2", real=True)
    mu1, mu2 = sp.symbols("mu_1 mu_2", real=True)
    A11, A12, A22 = sp.symbols("A_11 A_12 A_22", real=True)
    moments = {x1**2: A11, x1 * x2: A12, x2**2: A22, x1: mu1, x2: mu2}
    poly = sp.Poly(sp.expand((c1 * x1 + c2 * x2 + f) ** 2), x1, x2)
    mean = sp.expand(sum(coeff * moments.get(x1**i * x2**j, 1) for (i, j), coeff in poly.terms()))
    q1, q2 = sp.symbols("q_1 q_2", positive=True)   # σ_i²(x) at two equally likely points
    gap = -(sp.log(q1) + sp.log(q2)) / 2 + sp.log((q1 + q2) / 2)
    # Prop. 5, eq. (39)-(42): the per-coordinate objective (eq. 4) at three equally likely data
    # points with their own means m_j, targets y_j and σ² = q_j, minus the same with the
    # constant σ² = mean q (Lemma 1's f'²); only the -β/2 log σ² of ℓ_var survives
    qs, ms, ys = sp.symbols("q_1:4", positive=True), sp.symbols("m_1:4", real=True), sp.symbols("y_1:4", real=True)
    obj = objective_per_coordinate()
    per_point = obj["reconstruction"] + obj["beta_kl"]
    q_bar = sum(qs) / 3

    def at(j, value):
        return per_point.subs({m: ms[j], y: ys[j], sigma: sp.sqrt(value)})
    objective_gap = sp.expand(sp.expand_log(sum(at(j, qs[j]) - at(j, q_bar) for j in range(3)) / 3, force=True))
    return {"mean_square": mean, "zero_mean": mean.subs({mu1: 0, mu2: 0}), "jensen_gap": gap,
            "jensen_gap_at_equal": sp.simplify(gap.subs(q2, q1)), "objective_gap": objective_gap,
            "objective_gap_per_unit": sp.logcombine(sp.expand(objective_gap * 2 / beta), force=True),
            "q_bar": q_bar, "q": qs}


data_dependent_variance = cache(data_dependent_variance)


def decoder_variance():
    """App. D on the interval [s_{p+1}, s_p) where latents 1..p are active:
    G_p(s), G_p'(s) (eq. 49 with the sums to d̂*), s* (eq. 61, 63, 65), the β
    threshold of latent p from G'(s_p) = 0 (eq. 57-60, 62, 64), F_i and F_i' (eq. 46-48)."""
    G = ((S_le + S_gt) / (2 * s)
         - (S_le / s + p * beta * sp.log(beta * s) - beta * L_le - p * beta) / 2
         + d2 * sp.log(s) / 2)
    dG = sp.factor(sp.diff(G, s))
    (s_star,) = sp.solve(sp.numer(sp.together(dG)), s)
    # at s_p = ζ_p²/β the formula of the interval to the right has latents 1..p-1 active
    at_sp = sp.numer(sp.together(dG)).subs({p: p - 1, S_gt: zeta_p**2 + S_gt, s: zeta_p**2 / beta})
    phi = sp.expand(2 * s**2 * dG)                    # 2 s² G'(s) on [s_{p+1}, s_p)
    phi_jump = sp.simplify(phi.subs({p: p - 1, S_gt: zeta_p**2 + S_gt}).subs(s, zeta_p**2 / beta)
                           - phi.subs(s, zeta_p**2 / beta))
    (beta_p,) = sp.solve(at_sp, beta)
    F = zeta**2 / s + beta * (sp.log(beta * s / zeta**2) - 1)
    dF = sp.factor(sp.diff(F, s))
    return {"G": G, "dG": dG, "phi": phi, "phi_slope": sp.diff(phi, s), "phi_jump": phi_jump, "s_star": s_star,
            "beta_p": sp.factor(beta_p), "F": F, "dF": dF,
            "F_at_sp": sp.simplify(F.subs(s, zeta**2 / beta)), "dF_at_sp": sp.simplify(dF.subs(s, zeta**2 / beta))}


decoder_variance = cache(decoder_variance)


# ---------------------------------------------------------------- the LaTeX document


def sections():  # pragma: no mutate block (the document's text: tests/test_latex.py holds it byte for byte)
    obj = objective_per_coordinate()
    red = reduction()
    mode = mode_problem()
    sig = sigma_problem()
    hess = hessian_at_origin()
    bias = biases()
    ddv = data_dependent_variance()
    dv = decoder_variance()
    lam, th = sp.Symbol("lambda_i"), sp.Symbol("theta_i")
    return [
        Section(
            "The objective and its split into $\\ell_{\\mathrm{mean}}$ and $\\ell_{\\mathrm{var}}$",
            "One latent coordinate: $z = m + \\sigma\\xi$ with $m = (W^\\top x)_i$, "
            "$\\xi\\sim\\mathcal N(0,1)$; decoder $\\mathcal N(uz, \\eta_{dec}^2)$, prior "
            "$\\mathcal N(0, \\eta_{enc}^2)$. Expectations over $\\xi$ are taken from the Gaussian "
            "moments; the decoder's partition function is dropped as in the paper.",
            (Step("Reconstruction term:", obj["reconstruction"],
                  r"\mathbb{E}_\xi\frac{(u z - y)^2}{2\eta_{dec}^2}", ref="eq. (4)-(5)"),
             Step("$\\beta$ times the KL divergence, from $\\mathbb{E}_\\xi[\\log q(z) - \\log p(z)]$:",
                  obj["beta_kl"], r"\beta D_{KL}", ref="eq. (3)-(4)"),
             Step("It splits into a term in the mean and a term in the variance:", obj["l_mean"],
                  r"\ell_{\mathrm{mean}}", ref="eq. (5)"),
             Step("", obj["l_var"], r"\ell_{\mathrm{var}}", ref="eq. (5)"))),
        Section(
            "Reduction to regularised matrix factorisation (Proposition 1)",
            "With $A = RR^\\top$, $R = P_A\\Phi^{1/2}$, $V = R^\\top W$ and $Z = MR$ (for $y = Mx$), "
            "$\\mathbb{E}_x\\|UW^\\top x - Mx\\|^2 = \\|(UW^\\top - M)R\\|_F^2$. The two identities below "
            "are proved by exact evaluation at random rational matrices (tests). For a target that is "
            "not linear in $x$ the left side exceeds the right by "
            "$\\mathbb{E}\\|y\\|^2 - \\|Z\\|_F^2 > 0$, which eq. (72) drops.",
            (Step("", red["rhs"], red["lhs"], ref="eq. (69)-(72)"),
             Step("", red["mean_rhs"], red["mean_lhs"], ref="eq. (69)"))),
        Section(
            "The per-mode problem (Proposition 2, Corollary 1)",
            "After the SVDs each pair of singular values $(u, v)$ of $(U, V)$ solves the problem "
            "below, with $k = \\beta\\eta_{dec}^2/\\eta_{enc}^2$.",
            (Step("", mode["ell"], r"\ell(u, v)", ref="eq. (6), (79)"),
             Step("Stationarity in $v$:", mode["v_of_u"], "v^*(u)", ref="eq. (74)"),
             Step("Substituting, with $t = u^2$:", mode["f"], "f(t)", ref="eq. (81)"),
             Step("The roots of $f'(t) = 0$:", sp.Tuple(*mode["roots"]), r"t^{(2)}, t^{(1)}", ref="eq. (86)-(87)"),
             Step("so that, when $t^{(1)} > 0$,", mode["lambda2"], lam**2, ref="eq. (8)"),
             Step("", mode["theta2"], th**2, ref="eq. (8)"),
             Step("and the minimum of the mode is $\\zeta^2 - (\\zeta - \\sqrt{k}\\sigma)^2$:",
                  mode["minimum"], r"\min_{u,v}\ell", ref="eq. (11)"))),
        Section(
            "The optimal encoder variance and the global minimum (Proposition 3, Theorem 2, Corollary 2)",
            "Adding $2\\eta_{dec}^2\\ell_{\\mathrm{var}}$ to the minimum of each mode and minimising over "
            "$\\sigma$ on each branch:",
            (Step("", sig["sigma_active"], r"\sigma^*", ref="eq. (96)"),
             Step("valid iff the following is positive, i.e. iff $\\beta\\eta_{dec}^2 < \\zeta^2$:",
                  sig["condition"], r"(\zeta/\sqrt{k} - \sigma^*)\,\zeta/\sqrt{k}", ref="eq. (97)"),
             Step("and otherwise", sig["sigma_inactive"], r"\sigma^*", ref="eq. (99)"),
             Step("At $\\sigma^*$:", sig["lambda2"], lam**2, ref="eq. (17)"),
             Step("", sig["theta2"], th**2, ref="eq. (18)"),
             Step("and the minimal value of an active mode (times $2\\eta_{dec}^2$) is",
                  sig["minimum"], r"\min_\sigma \ell_i", ref="eq. (43)"))),
        Section(
            "The Hessian at the origin (Theorem 3)",
            "",
            (Step("", hess["H"], r"\nabla^2\ell(0, 0)", ref="eq. (107)-(110)"),
             Step("Its eigenvalues, with $k = \\beta\\eta_{dec}^2/\\eta_{enc}^2$:", hess["eigenvalues"][0], r"\mu_-",
                  ref="eq. (118)"),
             Step("", hess["eigenvalues"][1], r"\mu_+", ref="eq. (118)"),
             Step("so the Hessian is PSD iff $\\zeta^2 \\le \\sigma^2 k$, which at $\\sigma = \\eta_{enc}$ is "
                  "$\\zeta^2 \\le \\beta\\eta_{dec}^2$, the condition that the origin is the global minimum:",
                  hess["det"], r"\det", ref="Theorem 3"))),
        Section(
            "Optimal biases (Proposition 4)",
            "With $a = W^\\top\\mathbb{E}x + b_e$ and $b = b_d - \\mathbb{E}y$, eq. (25) gives $b = -Ua$; "
            "in eq. (23):",
            (Step("", bias["reduced"], bias["eq23"], ref="eq. (23)"),
             Step("so $a = 0$ and $b = 0$: $b_e^* = -W^\\top\\mathbb{E}x$, $b_d^* = \\mathbb{E}y$.",
                  r"b_e^* = -W^\top \mathbb{E}_x x,\quad b_d^* = \mathbb{E}_x y", ref="Prop. 4"))),
        Section(
            "Data-dependent encoder variance (Lemma 1, Proposition 5)",
            "For $\\sigma_i(x) = |C_i x + f_i|$ with $D_0 = 2$, $\\mathbb{E}x = \\mu$, "
            "$\\mathbb{E}xx^\\top = A$:",
            (Step("", ddv["mean_square"], r"\mathbb{E}_x\sigma_i^2(x)", ref="eq. (31)"),
             Step("which for zero-mean $x$ is $f_i^2 + C_iAC_i^\\top$:", ddv["zero_mean"], "", ref="eq. (31), (35)"),
             Step("The gain of a constant $\\sigma_i$ with the same $\\mathbb{E}_x\\sigma_i^2$ (two equally "
                  "likely points with $\\sigma_i^2 = q_1, q_2$) is a Jensen gap, zero iff $q_1 = q_2$:",
                  ddv["jensen_gap"], r"-\mathbb{E}\log\sigma_i^2 + \log\mathbb{E}\sigma_i^2", ref="eq. (41)"),
             Step("In the objective (one latent, three equally likely points with their own $m_j$, $y_j$ and "
                  "$\\sigma_i^2 = q_j$, against the constant $\\sigma_i^2 = \\bar q$) every term but "
                  "$-\\frac{\\beta}{2}\\log\\sigma_i^2$ cancels, so the gap is $\\beta/2$ times the log of the "
                  "ratio of the arithmetic to the geometric mean, summed over latents (eq. (42) drops "
                  "$\\beta/2$ and the sum):", ddv["objective_gap_per_unit"],
                  r"\frac{2}{\beta}\left[L^{DDV}(C, f) - L^{DDV}(0, f')\right]", ref="eq. (42) corrected"))),
        Section(
            "Learnable decoder variance: $G(s)$, $G'(s)$, $s^*$ and the thresholds (Appendix D)",
            "On $[s_{p+1}, s_p)$ latents $1..p$ are active; $S_{\\leq p} = \\sum_{i\\le p}\\zeta_i^2$, "
            "$S_{>p} = \\sum_{i>p}^{\\hat d^*}\\zeta_i^2$ (plus $\\mathbb{E}\\|y - Mx\\|^2$ for a target not "
            "linear in $x$), $\\Lambda_{\\leq p} = \\sum_{i\\le p}\\log\\zeta_i^2$.",
            (Step("", dv["G"], "G_p(s)", ref="eq. (44)-(45)"),
             Step("The sum in $G'$ runs to $\\hat d^*$, not to $\\hat d_1$ as printed:", dv["dG"], "G_p'(s)",
                  ref="eq. (49) corrected"),
             Step("$2s^2G'(s)$ is piecewise linear with slope", dv["phi_slope"],
                  r"\frac{d}{ds}\left(2s^2G'\right)", ref="Prop. 6"),
             Step("and continuous: its jump at $s_p$, where latent $p$ switches off, is", dv["phi_jump"],
                  r"2s^2G'(s_p^+) - 2s^2G'(s_p^-)", ref="Lemma 2"),
             Step("The slope does not decrease as $s$ grows ($p$ falls) and $2s^2G'(0^+) = -S_{>\\hat d_1} \\le 0$, "
                  "so $G'$ changes sign at most once on $(0, \\infty)$ unless it vanishes on $(0, s_{\\hat d_1}]$ "
                  "($d_2 = \\beta\\hat d_1$, $S_{>\\hat d_1} = 0$). "
                  "The stationary point of the interval:", dv["s_star"], "s^*", ref="eq. (61), (63), (65)"),
             Step("Latent $p$ is active at the minimum iff $G'(s_p) > 0$, i.e. iff $\\beta < \\beta_p$:",
                  dv["beta_p"], r"\beta_p", ref="eq. (57)-(60), (62), (64)"),
             Step("Each $F_i$ of eq. (46) and its derivative vanish at $s_i = \\zeta_i^2/\\beta$:",
                  dv["dF"], "F_i'(s)", ref="eq. (48), Lemma 2"))),
    ]
