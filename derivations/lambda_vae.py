"""Symbolic derivations for the λ-VAE of [lambda_vae]: every formula from the Gaussian
definitions, and the corrections where the printed formula differs.

Each function is pure and returns SymPy expressions (those the document and the checks ask for
more than once are cached); :func:`sections` arranges them for the LaTeX document. Symbols carry the paper's names and their domains.

References
----------
[lambda_vae] G. Demisse, "λ-VAE: Variance Equalization for Posterior Collapse",
    shared/papers/002_9357fcd1557682b2.txt.
"""
from __future__ import annotations

from functools import cache

import sympy as sp
from sympy import stats

from derivations.latex import Section, Step

PAPER = "lambda_vae"

mu = sp.Symbol("mu", real=True)
sigma = sp.Symbol("sigma", positive=True)
lam = sp.Symbol("lambda", positive=True)
delta = sp.Symbol("delta", positive=True)
g = sp.Symbol("g", real=True)                   # reconstruction gradient g^σ (eq. 19)
g0 = sp.Symbol("g_0", positive=True)
alpha = sp.Symbol("alpha", positive=True)
S = sp.Symbol("S", positive=True)               # signal power Var[μ(X)] (eq. 7)
a = sp.Symbol("a", positive=True)               # decoder signal w²/s² of a linear decoder
epsilon = sp.Symbol("epsilon", real=True)


def _simplify(expr):
    return sp.simplify(sp.powdenest(sp.expand_log(expr, force=True), force=True))


# ---------------------------------------------------------------- §2-3.1: ELBO, gradient, collapse


def kl_per_dimension(mean=mu, std=sigma):
    """KL(N(μ, σ²) || N(0, 1)) = E_q[log q - log p] with z ~ N(μ, σ²): eq. (1)."""
    z = stats.Normal("z", mean, std)
    log_q = -sp.log(2 * sp.pi * std**2) / 2 - (z - mean) ** 2 / (2 * std**2)
    log_p = -sp.log(2 * sp.pi) / 2 - z**2 / 2
    return _simplify(stats.E(log_q - log_p))


kl_per_dimension = cache(kl_per_dimension)


def elbo_gradient_sigma():
    """∂/∂σ of log p(x | μ + σ^λ ε) - KL, with E[∂_z log p · ε] = g: eq. (11); λ = 1 gives (3)."""
    f, slope = sp.Function("f"), sp.Symbol("f_prime", real=True)
    pathwise = sp.diff(f(mu + sigma**lam * epsilon), sigma)          # λ σ^{λ-1} ε f'(z)
    pathwise = pathwise.replace(lambda e: isinstance(e, (sp.Subs, sp.Derivative)), lambda e: slope)
    gradient = pathwise.subs(slope, g / epsilon) - sp.diff(kl_per_dimension(), sigma)
    return sp.powsimp(sp.expand(gradient))


def stationary_sigma():
    """The positive root of g + 1/σ - σ = 0 (eq. A.1 set to zero): the corrected eq. (A.2)."""
    roots = sp.solve(sp.Eq(g + 1 / sigma - sigma, 0), sigma)
    (root,) = [r for r in roots if all(r.subs(g, v) > 0 for v in (-3, 0, 3))]
    return root


def printed_a2_residual():
    """g + 1/σ - σ at the printed σ = (-g + sqrt(g² + 4))/2 of eq. (A.2): 2g, not 0."""
    printed = (-g + sp.sqrt(g**2 + 4)) / 2
    return sp.simplify(sp.radsimp(g + 1 / printed - printed))


def collapse_jacobian():
    """Jacobian at (μ, σ) = (0, 1) of the flow (dμ/dt, dσ/dt) = -∇KL with no reconstruction."""
    kl = kl_per_dimension()
    field = sp.Matrix([-sp.diff(kl, mu), -sp.diff(kl, sigma)])
    return field.jacobian([mu, sigma]).subs({mu: 0, sigma: 1})


def kl_force_near_collapse():
    """(1/σ - σ) / (2(1 - σ)) as σ -> 1⁻: eq. (A.4) says it tends to 1."""
    return sp.limit((1 / sigma - sigma) / (2 * (1 - sigma)), sigma, 1, dir="-")


def equilibrium_ratio():
    """ρ = |g|/|1/σ - σ| at an equilibrium of eq. (A.1), where g = σ - 1/σ: 1 for every σ ≠ 1
    (footnote 1: an active equilibrium has ρ = 1 exactly, not only ρ ≥ 1)."""
    (g_eq,) = sp.solve(sp.Eq(g + 1 / sigma - sigma, 0), g)
    return sp.simplify(sp.Abs(g_eq) / sp.Abs(1 / sigma - sigma))


def decay_model_flow(sign=-1, exponent=alpha):
    """dσ/dt = ∂L/∂σ (eq. A.1) with the decay model g = sign · g_0 (1 - σ)^α (Fig. 1a prints sign = +1;
    noise that hurts reconstruction gives sign = -1)."""
    return sign * g0 * (1 - sigma) ** exponent + 1 / sigma - sigma


def decay_model_sign_polynomial(p: int, q: int, sign=-1):
    """Q(t) with dσ/dt = t^p / (1 - t^q) · Q(t) for the decay model with α = p/q, under 1 - σ = t^q.

    t ↦ σ = 1 - t^q maps (0, 1) onto (0, 1) and the factor t^p / (1 - t^q) is positive there, so
    on the whole interval the flow has the sign of the polynomial Q (t -> 0 is σ -> 1).
    """
    t = sp.Symbol("t", positive=True)
    flow = decay_model_flow(sign, sp.Rational(p, q)).subs(sigma, 1 - t**q)
    return sp.expand(sp.cancel(sp.powdenest(flow, force=True) * (1 - t**q) / t**p)), t


def sign_pattern(poly, var, low=0, high=1):
    """The roots of a polynomial with rational coefficients in the open interval (low, high) and its
    sign on each open piece between them, left to right, in exact rational arithmetic.

    Roots are isolated by SymPy's real-root isolation (disjoint rational intervals of width at
    most 1e-12); each piece's sign is the sign of the polynomial at a rational point inside it.
    Returns (roots, signs) with len(signs) = len(roots) + 1.
    """
    P = sp.Poly(poly, var)
    if not all(c.is_Rational for c in P.all_coeffs()):
        raise ValueError(f"poly must have rational coefficients; got {P.all_coeffs()}")
    low, high = sp.Rational(low), sp.Rational(high)
    if P.eval(low) == 0 or P.eval(high) == 0:
        raise ValueError(f"poly must not vanish at the ends {low}, {high}")
    boxes = sorted(iv for iv, _ in P.intervals(eps=sp.Rational(1, 10**12)))
    inside = [(a, b) for a, b in boxes if b > low and a < high]
    if any(a <= low or b >= high for a, b in inside):
        raise ValueError("a root lies within 1e-12 of an end of the interval")
    roots = sorted((r for r in P.real_roots() if low < r < high), key=lambda r: sp.N(r, 30))
    cuts = [low] + [x for box in inside for x in box] + [high]
    points = [(cuts[2 * k] + cuts[2 * k + 1]) / 2 for k in range(len(inside) + 1)]
    return tuple(dict.fromkeys(roots)), tuple(int(sp.sign(P.eval(x))) for x in points)


def decay_model_ratio():
    """ρ for |g^σ| = g_0 (1 - σ)^α (Fig. 1a, eq. A.5), simplified for 0 < σ < 1."""
    t = sp.Symbol("t", positive=True)            # t = 1 - σ
    rho = g0 * t**alpha / (((1 - (1 - t)) * (1 + (1 - t))) / (1 - t))
    num, den = sp.fraction(sp.simplify(rho).subs(t, 1 - sigma))
    return (-num) / sp.expand(-den) if den.could_extract_minus_sign() else num / den


def decay_model_limits():
    """lim_{σ->1⁻} ρ of the decay model for α = 3/2, 1, 1/2: 0, g_0/2, ∞ (eq. A.5)."""
    t = sp.Symbol("t", positive=True)
    rho = decay_model_ratio().subs(sigma, 1 - t)
    return tuple(sp.limit(rho.subs(alpha, value), t, 0, dir="+")
                 for value in (sp.Rational(3, 2), sp.Integer(1), sp.Rational(1, 2)))


def decay_model_alpha2_equilibria():
    """Interior equilibria of dσ/dt = -g_0 (1 - σ)² + 1/σ - σ and the g_0 where they appear.

    Dividing by (1 - σ) > 0 leaves g_0 σ² - (g_0 - 1) σ + 1 = 0; real roots need
    g_0 ≥ 3 + 2√2. Returns (quadratic, threshold g_0).
    """
    flow = -g0 * (1 - sigma) ** 2 + 1 / sigma - sigma
    quadratic = sp.expand(-sp.cancel(flow / (1 - sigma)) * sigma)
    disc = sp.discriminant(quadratic, sigma)
    threshold = max(sp.solve(sp.Eq(disc, 0), g0), key=lambda r: float(r))
    return quadratic, sp.nsimplify(threshold)


# ---------------------------------------------------------------- §3.2, App. A.2: information


def _gaussian_entropy(variance):
    return sp.log(2 * sp.pi * sp.E * variance) / 2


def linear_gaussian_terms(noise=sigma):
    """(I(X;Z), KL(q(z)||p(z)), E KL(q(z|x)||p(z))) for μ(X) ~ N(0, S), z = μ + noise ε."""
    mutual = _simplify(_gaussian_entropy(S + noise**2) - _gaussian_entropy(noise**2))
    marginal = _simplify(kl_per_dimension(0, sp.sqrt(S + noise**2)))
    m = sp.Symbol("m", real=True)                # E_x of KL(N(m, noise²)||N(0,1)) with E m² = S
    expected = _simplify(kl_per_dimension(m, noise).subs(m**2, S))
    return mutual, marginal, expected


linear_gaussian_terms = cache(linear_gaussian_terms)


def hoffman_johnson_residual():
    """E KL(q(z|x)||p) - I(X;Z) - KL(q(z)||p) in the linear-Gaussian channel: 0 (eq. 2, A.12)."""
    mutual, marginal, expected = linear_gaussian_terms()
    return _simplify(expected - mutual - marginal)


def channel_information(noise=sigma):
    """I(X;Z) of eq. (7), the linear-Gaussian mutual information, as log(1 + S/noise²)/2."""
    return sp.log(1 + S / noise**2) / 2


def marginal_matching_information():
    """Eq. (7) with S = 1 - σ² (q(z) = N(0, 1)): -log σ."""
    return _simplify(channel_information().subs(S, 1 - sigma**2))


def marginal_matching_gap_slope():
    """∂ΔI/∂σ with ΔI = I(X;φ) - I(X;Z), I(X;Z) = h(N(0,1)) - h(N(0,σ²)) (eq. A.8): 1/σ."""
    mutual = _gaussian_entropy(1) - _gaussian_entropy(sigma**2)
    return sp.simplify(-sp.diff(mutual, sigma))


def attenuation_chain_rule_residual():
    """dR/dI(X;φ) - R'(I(X;Z)) (1 - dΔI/dI(X;φ)) along any path t, R = f(I(X;φ) - ΔI): 0 (eq. 6)."""
    t = sp.Symbol("t", real=True)
    I_phi, gap, f = sp.Function("I_phi")(t), sp.Function("Delta_I")(t), sp.Function("f")
    R = f(I_phi - gap)
    lhs = sp.diff(R, t) / sp.diff(I_phi, t)
    rhs = sp.diff(f(t), t).subs(t, I_phi - gap) * (1 - sp.diff(gap, t) / sp.diff(I_phi, t))
    return sp.simplify(lhs.doit() - rhs.doit())


def duality_residual():
    """Eq. (8) minus eq. (A.12) after substituting I(X;Z) = I(X;φ) - ΔI (A.9): 0."""
    kl_cond, kl_marg, I_phi, gap = sp.symbols("KL_cond KL_marg I_phi Delta_I", real=True)
    mutual = I_phi - gap
    from_a12 = sp.solve(sp.Eq(kl_cond, mutual + kl_marg), kl_marg)[0]
    return sp.simplify(from_a12 - (kl_cond - I_phi + gap))


def conditional_entropy():
    """H[Z|X = x] = E_q[-log q(z|x)] for q(z|x) = N(μ, σ²): eq. (A.7) before the average over x."""
    z = stats.Normal("z", mu, sigma)
    return _simplify(stats.E(sp.log(2 * sp.pi * sigma**2) / 2 + (z - mu) ** 2 / (2 * sigma**2)))


def binary_entropy_bound():
    """f(p) = h(p) - 2 p log 2 with h the binary entropy (nats): (f'', f(1/2), lim_{p->0⁺} f).

    f'' = -1/(p(1 - p)) < 0 and f vanishes at both ends of [0, 1/2], so h(p) ≥ 2 log 2 · min(p, 1 - p):
    the step that bounds the gap H[φ|Z] below by the overlap of two posteriors (App. A.2).
    """
    p = sp.Symbol("p", positive=True)
    f = -p * sp.log(p) - (1 - p) * sp.log(1 - p) - 2 * p * sp.log(2)
    return sp.simplify(sp.diff(f, p, 2)), sp.simplify(f.subs(p, sp.Rational(1, 2))), sp.limit(f, p, 0, "+")


def two_point_gap_bound():
    """A lower bound on ΔI = H[φ|Z] for two equally likely encoder outputs μ₁, μ₂ = μ₁ + D with noise σ.

    ΔI = E_z h(P(1|z)) ≥ 2 log 2 ∫ min(q₁, q₂)/2 dz (:func:`binary_entropy_bound`), and on the segment
    [μ₁, μ₂] each density is at least its value at distance D, so ΔI ≥ log 2 · D N(D; 0, σ²) > 0 for
    every σ > 0 (App. A.2: the gap is strictly positive once φ takes two values).
    """
    D = sp.Symbol("D", positive=True)
    density_at_distance = sp.exp(-D**2 / (2 * sigma**2)) / (sp.sqrt(2 * sp.pi) * sigma)
    return 2 * sp.log(2) * D * density_at_distance / 2, D


# ---------------------------------------------------------------- §4.2: information gain


def information_gain_error():
    """Exact Gaussian-channel gain I(Z_λ) - I(Z_1) minus eq. (12)'s (λ - 1)(-log σ)."""
    exact = channel_information(sigma**lam) - channel_information()
    return _simplify(sp.logcombine(exact - (lam - 1) * (-sp.log(sigma)), force=True))


def residual_gap_error():
    """ΔI_λ minus the printed ΔI_1 (2 - λ), with ΔI_λ = ΔI_1 - gain and the gain of eq. (12)
    at I(X;Z_1) = -log σ (eq. A.8): (λ - 1)(ΔI_1 + log σ), zero only if ΔI_1 = I(X;Z_1)."""
    gap1 = sp.Symbol(r"\Delta I_{1}", positive=True)
    gap_lam = gap1 - (lam - 1) * (-sp.log(sigma))
    return sp.factor(sp.expand(gap_lam - gap1 * (2 - lam)))


# ---------------------------------------------------------------- §4.3, App. B.1: the attractor


def sigma_star():
    """The positive root of λ σ^{λ-1} = 1 (eq. 22): λ^{-1/(λ-1)} (eq. 13)."""
    (root,) = sp.solve(sp.Eq(lam * sigma ** (lam - 1), 1), sigma)
    return sp.simplify(sp.powdenest(root, force=True))


sigma_star = cache(sigma_star)


def correction_flow_rate():
    """d/dσ (σ - λ σ^λ) at σ = σ*: the linearisation rate of the Fig. 2a flow, 1 - λ."""
    rate = sp.diff(sigma - lam * sigma**lam, sigma).subs(sigma, sigma_star())
    return sp.simplify(sp.powsimp(sp.powdenest(rate, force=True), force=True))


def equalisation_sensitivity():
    """d log σ / d log a at the stationary point of eq. (11) with a linear decoder.

    With log p(x|z) = -(x - w z)²/(2s²), g^σ = -a σ^λ (a = w²/s²) and eq. (11) vanishes
    where λ a σ^{2λ} = 1 - σ²; implicit differentiation gives the sensitivity.
    """
    u, v = sp.symbols("u v", real=True)          # u = log σ, v = log a
    stationary = lam * sp.exp(v) * sp.exp(2 * lam * u) - (1 - sp.exp(2 * u))
    slope = -sp.diff(stationary, v) / sp.diff(stationary, u)
    return sp.simplify(slope.subs(sp.exp(v), (1 - sp.exp(2 * u)) / (lam * sp.exp(2 * lam * u)))
                       .subs(u, sp.log(sigma)))


def linear_decoder_reconstruction_gradient(noise):
    """g = E[∂_z log p(x|z) ε] (eq. 19) at z = μ + noise·ε for log p(x|z) = -a (x - z)²/2 with μ = x: -a·noise."""
    eps = stats.Normal("epsilon", 0, 1)
    x = sp.Symbol("x", real=True)
    return sp.simplify(stats.E(-a * (x + noise * eps - x) * eps))


linear_decoder_reconstruction_gradient = cache(linear_decoder_reconstruction_gradient)


def separate_gradient_correction():
    """Δ∇ = ∂L_λ/∂log σ - ∂L_1/∂log σ = λσ^λ g_λ - σ g_1 for the linear decoder of
    :func:`linear_decoder_reconstruction_gradient`, g_λ and g_1 taken at the noises σ^λ and σ:
    a (σ² - λ σ^{2λ}), whose zero is λ^{-1/(2(λ-1))} = sqrt(σ*), not σ* (eq. 21, corrected)."""
    g_lam = linear_decoder_reconstruction_gradient(sigma**lam)
    g_one = linear_decoder_reconstruction_gradient(sigma)
    return sp.expand(lam * sigma**lam * g_lam - sigma * g_one)


# ---------------------------------------------------------------- §4.4, App. B.2: λ*


def kl_excess():
    """KL(N(0, σ^{2λ})||N(0,1)) - KL(N(0, σ²)||N(0,1)): eq. (14)."""
    return _simplify(kl_per_dimension(0, sigma**lam) - kl_per_dimension(0, sigma))


kl_excess = cache(kl_excess)


def net_gain():
    """J(λ, σ) = (λ - 1)|log σ| - δ KL(λ) for 0 < σ < 1 (eq. 15)."""
    return (lam - 1) * (-sp.log(sigma)) - delta * kl_excess()


net_gain = cache(net_gain)


def net_gain_slope():
    """∂J/∂λ (eq. 26)."""
    return sp.factor(_simplify(sp.diff(net_gain(), lam)))


net_gain_slope = cache(net_gain_slope)


def net_gain_curvature():
    """∂²J/∂λ² (eq. 36): -2 δ σ^{2λ} (log σ)², negative for σ ≠ 1."""
    return sp.factor(_simplify(sp.diff(net_gain(), lam, 2)))


def lambda_star_unconstrained():
    """The root of ∂J/∂λ = 0 (eq. 27-32): log(1 - 1/δ)/(2 log σ)."""
    (root,) = sp.solve(net_gain_slope(), lam)
    return root


lambda_star_unconstrained = cache(lambda_star_unconstrained)


def sigma_c():
    """The σ where the unconstrained λ* equals 1 (eq. 17): sqrt(1 - 1/δ)."""
    roots = sp.solve(sp.Eq(lambda_star_unconstrained(), 1), sigma)
    return sp.simplify(roots[0])


def joint_fixed_point():
    """(λ_J, σ_J) with σ_J = σ*(λ_J) and λ_J = λ*(σ_J, δ) (Fig. 4d's joint convergence).

    With u = -log σ and a = -log(1 - 1/δ)/2, λ* = a/u and log σ* = -log λ/(λ - 1) give
    log u - u = log a - a, solved by u = -W_0(-a e^{-a}) (the root u ≠ a exists for a > 1).
    """
    u = sp.Symbol("u", positive=True)
    a_delta = -sp.log(1 - 1 / delta) / 2
    (root,) = sp.solve(sp.log(u) - u - sp.log(a) + a, u)
    return (a / root).subs(a, a_delta), sp.exp(-root).subs(a, a_delta)


# ---------------------------------------------------------------- LaTeX


def sections() -> list[Section]:  # pragma: no mutate block (the document's text: tests/test_latex.py holds it byte for byte)
    """The derivations of [lambda_vae] for the LaTeX document."""
    jac = collapse_jacobian()
    quadratic, g0_c = decay_model_alpha2_equilibria()
    lim_above, lim_one, lim_below = decay_model_limits()
    mutual, marginal, expected = linear_gaussian_terms()
    lam_J, sigma_J = joint_fixed_point()
    half_poly, half_t = decay_model_sign_polynomial(1, 2)
    gap_bound, _ = two_point_gap_bound()
    return [
        Section("ELBO, KL force and the collapsed fixed point (\\S 2--3.1, App. A.1)",
                r"Per latent dimension, $q(z|x) = \mathcal{N}(\mu, \sigma^2)$, $p(z) = \mathcal{N}(0,1)$, "
                r"$z = \mu + \sigma^\lambda \epsilon$ ($\lambda = 1$: the standard VAE) and "
                r"$g = \mathbb{E}[\nabla_z \log p(x|z)\,\epsilon]$.",
                (Step(r"The KL term, as $\mathbb{E}_q[\log q - \log p]$:", kl_per_dimension(),
                      r"\mathrm{KL}_i", "eq. (1)"),
                 Step("The gradient with respect to $\\sigma$ (reparameterisation and KL):",
                      elbo_gradient_sigma(), r"\partial \mathcal{L}_\lambda / \partial \sigma",
                      "eq. (3), (11), (A.1)"),
                 Step("Its positive stationary point for a constant $g$ lies in $(0,1)$ only for $g < 0$ "
                      "(noise hurts reconstruction):", stationary_sigma(), r"\sigma_{\mathrm{eq}}",
                      "eq. (A.2), corrected"),
                 Step("whereas the printed root $(-g + \\sqrt{g^2+4})/2$ leaves the residual",
                      printed_a2_residual(), r"g + 1/\sigma - \sigma", "eq. (A.2) as printed"),
                 Step("Linearising the KL-only flow $(\\dot\\mu, \\dot\\sigma) = -\\nabla \\mathrm{KL}$ at "
                      "$(0, 1)$ gives the rates $-1$ ($\\mu$) and $-2$ ($\\sigma$):", jac,
                      r"\partial(\dot\mu, \dot\sigma)/\partial(\mu, \sigma)", "\\S 3.1"),
                 Step("The KL force near collapse:", kl_force_near_collapse(),
                      r"\lim_{\sigma \to 1^-} \frac{1/\sigma - \sigma}{2(1 - \sigma)}", "eq. (A.4)"),
                 Step("Under the decay model $|g| = g_0 (1-\\sigma)^\\alpha$ the ratio is",
                      decay_model_ratio(), r"\rho", "eq. (A.3), (A.5)"),
                 Step("with limits as $\\sigma \\to 1^-$ for $\\alpha = 3/2, 1, 1/2$:",
                      sp.Tuple(lim_above, lim_one, lim_below), r"\lim \rho", "eq. (A.5)"),
                 Step("For $\\alpha = 2$, interior equilibria of $\\dot\\sigma = -g_0(1-\\sigma)^2 + 1/\\sigma "
                      "- \\sigma$ are the roots of", quadratic, "0", "Prop. 1"),
                 Step("which are real once $g_0$ reaches the threshold below; then a stable active "
                      "equilibrium (with $\\rho = 1$) coexists with the collapsed one, so $\\sigma = 1$ is "
                      "not the sole stable point:", g0_c, r"g_{0,c}", "Prop. 1, corrected"),
                 Step("At every equilibrium $\\sigma \\ne 1$ of (A.1), $g = \\sigma - 1/\\sigma$, so the ratio is",
                      equilibrium_ratio(), r"\rho", "footnote 1"),
                 Step("With the physical sign $g = -g_0(1-\\sigma)^{1/2}$ and $1 - \\sigma = t^2$, the flow has "
                      "the sign of the polynomial below on all of $(0, 1)$: $-g_0$ at $t \\to 0$ ($\\sigma \\to 1$), "
                      "so $\\sigma = 1$ repels from below; with the printed sign $g > 0$ the flow is positive "
                      "everywhere and every start collapses:", half_poly, r"Q(t)", "eq. (A.5), corrected"))),
        Section("Information gap and duality (\\S 3.2, App. A.2)",
                r"Linear-Gaussian channel: $\mu(X) \sim \mathcal{N}(0, S)$, $z = \mu + \sigma\epsilon$.",
                (Step("Mutual information from differential entropies:", mutual, r"I(X;Z)", "eq. (7)"),
                 Step("Marginal mismatch:", marginal, r"\mathrm{KL}(q(z)\|p(z))", "eq. (2)"),
                 Step("Expected KL:", expected, r"\mathbb{E}_x \mathrm{KL}(q(z|x)\|p(z))", "eq. (1)"),
                 Step("Hoffman--Johnson: $\\mathbb{E}\\,\\mathrm{KL} - I - \\mathrm{KL}(q(z)\\|p)$ is",
                      hoffman_johnson_residual(), None, "eq. (2), (A.12)"),
                 Step("Under marginal matching $S = 1 - \\sigma^2$ eq. (7) is exact:",
                      marginal_matching_information(), r"I(X;Z)", "eq. (7), (A.8)"),
                 Step("and the gap grows as", marginal_matching_gap_slope(),
                      r"\partial \Delta I / \partial \sigma", "App. A.2"),
                 Step("Eq. (6) is the chain rule: its residual along any path is",
                      attenuation_chain_rule_residual(), None, "eq. (6), (A.10)-(A.11)"),
                 Step("Eq. (8) minus (A.12) after $I(X;Z) = I(X;\\phi) - \\Delta I$:",
                      duality_residual(), None, "eq. (8), (A.13)"),
                 Step("Conditional entropy of $q(z|x) = \\mathcal{N}(\\mu, \\sigma^2)$:", conditional_entropy(),
                      r"H[Z|X=x]", "eq. (A.7)"),
                 Step("Two equally likely encoder outputs at distance $D$: since the binary entropy satisfies "
                      "$h(p) \\ge 2\\log 2 \\min(p, 1-p)$ and each density is at least $\\mathcal{N}(D; 0, "
                      "\\sigma^2)$ between the means, the gap is bounded below, for every $\\sigma > 0$, by",
                      gap_bound, r"\Delta I", "App. A.2, corrected", relation=r"\ge"))),
        Section("Information gain and the residual gap (\\S 4.2)", "",
                (Step("Exact Gaussian-channel gain minus eq. (12) (negative: eq. (12) overestimates):",
                      information_gain_error(), r"\Delta_{\mathrm{gain}}", "eq. (12), corrected"),
                 Step("Residual gap minus the printed $\\Delta I_1 (2 - \\lambda)$, with the gain of "
                      "eq. (12) and $I(X;Z_1) = -\\log\\sigma$:", residual_gap_error(), None,
                      "\\S 4.2, refuted"))),
        Section("The attractor $\\sigma^*$ and variance equalisation (\\S 4.3, App. B.1)", "",
                (Step("Root of $\\lambda\\sigma^{\\lambda-1} = 1$:", sigma_star(), r"\sigma^*", "eq. (13), (22)"),
                 Step("Under $\\lambda$-scaling the gradient ratio is amplified by the factor below; it "
                      "exceeds 1 only for $\\sigma > \\sigma^*$ and tends to 0 as $\\lambda \\to \\infty$ at "
                      "fixed $\\sigma < 1$:", lam * sigma ** (lam - 1), r"\rho^\lambda / \rho",
                      "\\S 4.1, corrected"),
                 Step("Linearisation rate of $\\dot\\sigma = \\sigma - \\lambda\\sigma^\\lambda$ at $\\sigma^*$:",
                      correction_flow_rate(), r"\partial \dot\sigma / \partial \sigma", "\\S 4.3"),
                 Step("With $\\log p(x|z) = -a(x - z)^2/2$ the reconstruction gradients at the two noises "
                      "$\\sigma^\\lambda$ and $\\sigma$ differ, and the difference of the two ELBO gradients in "
                      "$\\log\\sigma$ is (zero at $\\sqrt{\\sigma^*}$, not $\\sigma^*$):",
                      separate_gradient_correction(), r"\Delta\nabla", "eq. (21), corrected"),
                 Step("With a linear decoder ($g = -a\\sigma^\\lambda$) the full gradient (11) vanishes where "
                      "$\\lambda a \\sigma^{2\\lambda} = 1 - \\sigma^2$, not at $\\sigma^*$; the stationary "
                      "$\\sigma$ moves with the signal $a$ at the rate (at most $1/(2\\lambda)$ in size):",
                      equalisation_sensitivity(), r"\frac{\partial \log\sigma}{\partial \log a}",
                      "\\S 4.3, corrected"))),
        Section("The optimal exponent $\\lambda^*$ (\\S 4.4, Prop. 3, App. B.2)", "",
                (Step("Extra KL of the sampling distribution:", kl_excess(), r"\mathrm{KL}(\lambda)", "eq. (14)"),
                 Step("Slope of the net gain:", net_gain_slope(), r"\partial J / \partial \lambda", "eq. (26)"),
                 Step("Curvature (strict concavity):", net_gain_curvature(),
                      r"\partial^2 J / \partial \lambda^2", "eq. (36)"),
                 Step("Stationary point:", lambda_star_unconstrained(), r"\lambda^*", "eq. (16), (32)"),
                 Step("Threshold where $\\lambda^* = 1$:", sigma_c(), r"\sigma_c", "eq. (17)"),
                 Step("Joint fixed point of $\\sigma^*(\\lambda)$ and $\\lambda^*(\\sigma, \\delta)$ "
                      "($a = -\\tfrac12\\log(1 - 1/\\delta) > 1$):", sp.Tuple(lam_J, sigma_J),
                      r"(\lambda_J, \sigma_J)", "Fig. 4d"))),
    ]
