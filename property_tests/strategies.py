"""Every Hypothesis strategy of the suite.

Large dense matrices are built from a drawn seed and a drawn log-condition number
(``hypothesis.extra.numpy.arrays`` draws mostly sparse arrays at 50x50), so each example
is a dense, well-defined random matrix with a bounded condition number. Paper-specific
strategies live in their own section below the shared ones.
"""
from __future__ import annotations

import numpy as np
from hypothesis import Phase, settings
from hypothesis import strategies as st

# ---------------------------------------------------------------- shared building blocks


def examples(n: int, *, shrink: bool = True):
    """``@examples(n)``: n examples under the ``ci`` profile (default 20), scaled with the
    profile (x20 under ``thorough``): a test's cost sets its count, the profile its depth.

    ``shrink=False`` is for a property that runs an optimiser per example: outside the
    ``thorough`` profile it skips Hypothesis' shrink (and explain) phase, so a failure is
    reported in seconds with the example as generated instead of after minutes of
    re-optimising ever smaller examples; ``thorough`` shrinks it fully."""
    if shrink or settings.get_current_profile_name() == "thorough":
        return settings(max_examples=max(1, n * settings.default.max_examples // 20))
    return settings(max_examples=max(1, n * settings.default.max_examples // 20),
                    phases=[p for p in settings.default.phases if p not in (Phase.shrink, Phase.explain)])


seeds = st.integers(min_value=0, max_value=2**32 - 1)


def log_uniform(low: float, high: float):
    """Floats spread evenly in log scale over [low, high]."""
    return st.floats(np.log(low), np.log(high)).map(np.exp)


def orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random orthogonal matrix."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def spd_from(seed: int, n: int, log10_cond: float, scale: float = 1.0) -> np.ndarray:
    """A dense SPD matrix with eigenvalues log-spaced over [scale/cond, scale]."""
    rng = np.random.default_rng(seed)
    eig = scale * np.logspace(-log10_cond, 0, n) if n > 1 else np.array([scale])
    q = orthogonal(n, rng)
    m = (q * rng.permutation(eig)) @ q.T
    return (m + m.T) / 2


@st.composite
def spd_matrices(draw, n, max_log10_cond: float = 3.0, scales=(0.1, 10.0)):
    """Dense SPD n x n matrices with condition number at most 10**max_log10_cond."""
    n = draw(n) if isinstance(n, st.SearchStrategy) else n
    return spd_from(draw(seeds), n, draw(st.floats(0.0, max_log10_cond)),
                    draw(log_uniform(*scales)))


@st.composite
def dense_matrices(draw, rows, cols, scale=(0.1, 3.0)):
    """Dense Gaussian rows x cols matrices with a drawn entry scale."""
    rng = np.random.default_rng(draw(seeds))
    return draw(log_uniform(*scale)) * rng.standard_normal((rows, cols))


betas = log_uniform(1e-2, 1e3)
lambdas = st.one_of(st.just(0.0), log_uniform(1e-2, 1e2))

# ---------------------------------------------------------------- [mi_collapse] linear-Gaussian VAE


@st.composite
def lgv_dims(draw, max_n: int = 6):
    """(n, m) with 1 <= m <= n <= max_n."""
    n = draw(st.integers(1, max_n))
    return n, draw(st.integers(1, n))


@st.composite
def lgv_parameters(draw, max_n: int = 6, max_log10_cond: float = 2.0):
    """A full parameter set (A, B, Sigma_z, Sigma_w, Sigma_y) of the linear-Gaussian VAE."""
    n, m = draw(lgv_dims(max_n))
    return dict(
        A=draw(dense_matrices(n, m, (0.1, 2.0))),
        B=draw(dense_matrices(m, n, (0.1, 2.0))),
        Sigma_z=draw(spd_matrices(n, max_log10_cond, (0.1, 3.0))),
        Sigma_w=draw(spd_matrices(m, max_log10_cond, (0.1, 3.0))),
        Sigma_y=draw(spd_matrices(n, max_log10_cond, (0.1, 3.0))),
    )


@st.composite
def lgv_models(draw, max_n: int = 6, max_s: int = 4):
    """A generative model of eq. (1): Gamma (n x s), diagonal Sigma_v, sigma^2, Sigma_y, and m."""
    n = draw(st.integers(2, max_n))
    s = draw(st.integers(1, min(n, max_s)))
    m = draw(st.integers(1, n))
    rng = np.random.default_rng(draw(seeds))
    Gamma = draw(log_uniform(0.3, 3.0)) * rng.standard_normal((n, s)) / np.sqrt(n)
    Sigma_v = np.diag(rng.uniform(0.3, 3.0, s))
    sigma2 = draw(log_uniform(1e-2, 1.0))
    Sigma_y = Gamma @ Sigma_v @ Gamma.T + sigma2 * np.eye(n)
    return dict(Gamma=Gamma, Sigma_v=Sigma_v, sigma2=sigma2, Sigma_y=(Sigma_y + Sigma_y.T) / 2, m=m)


@st.composite
def lgv_encoders(draw, m: int, n: int):
    """An encoder (B, Sigma_w) with Sigma_w's eigenvalues in [0.1, 2] (so possibly above 1)."""
    rng = np.random.default_rng(draw(seeds))
    q = orthogonal(m, rng)
    Sigma_w = (q * rng.uniform(0.1, 2.0, m)) @ q.T
    return draw(log_uniform(0.1, 3.0)) * rng.standard_normal((m, n)) / np.sqrt(n), (Sigma_w + Sigma_w.T) / 2

# ---------------------------------------------------------------- [wang_ziyin] linear latent-variable model

LLM_RELATIONS = ("below", "equal", "above")   # d1 against d* = min(rank A, d2)
# (D0, rank A, d2): square, wide, tall, rank-deficient, d* = 1
LLM_SHAPES = ((3, 3, 3), (4, 2, 3), (3, 3, 2), (2, 2, 4), (4, 4, 2), (1, 1, 3), (3, 1, 2), (4, 3, 4))


def llm_clear_of(beta: float, thresholds, margin: float = 0.1) -> float:
    """``beta`` moved (upwards, by factors e^{2 margin}) until |log(beta / t)| >= margin for
    every threshold t: minimisers converge slowly where a mode is about to collapse."""
    thresholds = np.asarray(thresholds, dtype=float)
    thresholds = thresholds[thresholds > 0]
    while np.any(np.abs(np.log(beta / thresholds)) < margin):
        beta *= np.exp(2 * margin)
    return float(beta)


@st.composite
def llm_problems(draw, relation: str | None = None, clear: bool = True):
    """A problem of the linear latent-variable model: A = R R^T of rank r <= D0 (R is
    D0 x r), y = M x, a latent dimension d1 below, at or above d* = min(r, d2), and the
    hyper-parameters. zeta_1 (the largest singular value of M R) is drawn in [0.5, 4] and
    beta eta_dec^2 in [0.03, 3] zeta_1^2, so that problems mix active and collapsed modes;
    with ``clear`` beta keeps a margin from every threshold zeta_i^2 / eta_dec^2."""
    D0, r, d2 = draw(st.sampled_from(LLM_SHAPES))
    d_star = min(r, d2)
    relation = draw(st.sampled_from(LLM_RELATIONS)) if relation is None else relation
    d1 = {"below": max(1, d_star - 1), "equal": d_star, "above": d_star + draw(st.integers(1, 2))}[relation]
    rng = np.random.default_rng(draw(seeds))
    R, M = rng.standard_normal((D0, r)), rng.standard_normal((d2, D0))
    M *= draw(log_uniform(0.5, 4.0)) / np.linalg.norm(M @ R, 2)
    zeta = np.linalg.svd(M @ R, compute_uv=False)
    eta_dec = draw(log_uniform(0.3, 3.0))
    beta = draw(log_uniform(0.03, 3.0)) * zeta[0] ** 2 / eta_dec**2
    if clear:
        beta = llm_clear_of(beta, zeta**2 / eta_dec**2)
    return dict(R=R, M=M, d1=d1, beta=beta, eta_enc=draw(log_uniform(0.3, 3.0)), eta_dec=eta_dec)


@st.composite
def llm_spectra(draw, max_dim: int = 6, residual: bool | None = None):
    """Singular values zeta (non-increasing in [0.2, 5], some possibly tied or zero), d1,
    d2 >= d* and the residual E||y - M x||^2 (0, or > 0 for a target not linear in x)."""
    d_star = draw(st.integers(1, max_dim))
    rng = np.random.default_rng(draw(seeds))
    zeta = np.sort(np.exp(rng.uniform(np.log(0.2), np.log(5.0), d_star)))[::-1]
    if d_star > 1 and draw(st.booleans()):
        tied = draw(st.integers(1, d_star - 1))
        zeta[tied] = zeta[tied - 1]
    n_zero = draw(st.integers(0, d_star - 1))
    zeta[d_star - n_zero:] = 0.0
    d1 = draw(st.integers(1, d_star + 2))
    d2 = d_star + draw(st.integers(0, 3))
    with_residual = draw(st.booleans()) if residual is None else residual
    res = draw(log_uniform(0.05, 5.0)) if with_residual else 0.0
    return dict(zeta=zeta, d1=d1, d2=d2, residual=res)


# ---------------------------------------------------------------- deep/ metrics (property_tests/test_deep_metrics.py)


@st.composite
def deep_label_pairs(draw, max_rows: int = 400, max_classes: int = 12):
    """Two columns of integer labels (N,) each, some dependence between them."""
    rng = np.random.default_rng(draw(seeds))
    n = draw(st.integers(2, max_rows))
    a = rng.integers(0, draw(st.integers(1, max_classes)), n)
    b = (a * draw(st.integers(0, 3)) + rng.integers(0, draw(st.integers(1, max_classes)), n)) % max_classes
    return a, b


@st.composite
def deep_linear_gaussian_representations(draw, max_m: int = 4, max_s: int = 3):
    """(Sigma_x, Sigma_xv, Sigma_v) of a linear-Gaussian beta-VAE ([mi_collapse] eq. 1-4), m >= 2 latents."""
    from numerics.linear_gaussian_vae import latent_factor_covariances

    s, m = draw(st.integers(1, max_s)), draw(st.integers(2, max_m))
    n = s + draw(st.integers(0, 3))
    rng = np.random.default_rng(draw(seeds))
    Gamma = rng.standard_normal((n, s))
    Sigma_v = np.diag(np.exp(rng.uniform(np.log(0.5), np.log(2.0), s)))
    Sigma_y = Gamma @ Sigma_v @ Gamma.T + 0.05 * np.eye(n)
    B = draw(dense_matrices(m, n, (0.1, 1.0)))
    Sigma_w = draw(spd_matrices(m, 1.0, (0.05, 1.0)))
    Sigma_x, Sigma_xv = latent_factor_covariances(B, Sigma_w, Gamma, Sigma_v, Sigma_y)
    return Sigma_x, Sigma_xv, Sigma_v


deep_mixing_angles = st.floats(0.0, np.pi / 2)

# ---------------------------------------------------------------- [lambda_vae] λ-VAE (paper 002)

lvae_lambdas = log_uniform(1e-9, 1e6).map(lambda x: 1.0 + x)        # λ > 1, from 1⁺ to 1e6
lvae_near_one = log_uniform(1e-9, 10.0)                              # offsets from 1: λ - 1, |σ - 1|
lvae_sigmas = st.one_of(log_uniform(1e-6, 0.5),                        # σ in (0, 1), both ends
                        log_uniform(1e-6, 0.5).map(lambda x: 1.0 - x))
lvae_deltas = log_uniform(1e-6, 1e3).map(lambda x: 1.0 + x)          # δ > 1
lvae_signal_powers = log_uniform(1e-2, 1e2)
lvae_reconstruction_gradients = st.one_of(log_uniform(1e-3, 1e3).map(lambda x: -x),
                                          log_uniform(1e-3, 1e3), st.just(0.0))


@st.composite
def lvae_tanh_decoders(draw):
    """A data point x and a decoder log p(x|z) = -(x - tanh(w z + c))²/(2 s²): (x, w, c, s)."""
    return (draw(st.floats(-1.0, 1.0)), draw(st.floats(0.2, 3.0)), draw(st.floats(-1.0, 1.0)),
            draw(st.floats(0.2, 2.0)))


@st.composite
def lvae_finite_encoders(draw, max_points: int = 5, max_dim: int = 2, merge: bool = True):
    """Encoder outputs (mu (N, d), noise (N, d)) on N equiprobable data points.

    Noise is at least 0.15 times the spread of the means (so the quadrature converges);
    with ``merge`` a drawn point may repeat another's output (a non-injective encoder).
    """
    rng = np.random.default_rng(draw(seeds))
    n, d = draw(st.integers(2, max_points)), draw(st.integers(1, max_dim))
    scale = draw(log_uniform(0.3, 3.0))
    mu = scale * rng.standard_normal((n, d))
    noise = scale * rng.uniform(0.15, 1.0, (n, d)) * draw(log_uniform(1.0, 3.0))
    if merge and draw(st.booleans()):
        mu[-1], noise[-1] = mu[0], noise[0]
    return mu, noise

# ---------------------------------------------------------------- [optimal_beta] finite optimal β (paper 003)
# Random objectives O(κ; β) = A(κ) - β B(κ) whose maximiser is exact (finite κ sets,
# strictly concave quadratics) and the tractable β-VAE (mixing matrices, networks).

ob_exact_betas = st.sampled_from([0.25, 0.5, 1.0, 2.0, 3.0, 4.0])   # exact ties with quarter-integer values


@st.composite
def ob_finite_objectives(draw, max_points: int = 12):
    """(A, B) on a finite κ set; quarter-integer values, so exact ties between maximisers occur."""
    n = draw(st.integers(2, max_points))
    values = st.integers(-40, 40).map(lambda v: v / 4)
    A = np.array(draw(st.lists(values, min_size=n, max_size=n)))
    B = np.array(draw(st.lists(values.map(abs), min_size=n, max_size=n)))   # B ≥ 0, like a KL
    return A, B


ob_beta_lists = st.lists(st.one_of(ob_exact_betas, log_uniform(1e-2, 1e2)), min_size=2,
                         max_size=8, unique=True).map(sorted)


@st.composite
def ob_concave_objectives(draw, max_dim: int = 4):
    """(P, a, Q, q): A(κ) = -½κᵀPκ + aᵀκ, B(κ) = ½κᵀQκ + qᵀκ with P, Q SPD (O strictly concave)."""
    d = draw(st.integers(1, max_dim))
    rng = np.random.default_rng(draw(seeds))
    return (draw(spd_matrices(d, 2.0, (0.1, 3.0))), rng.standard_normal(d),
            draw(spd_matrices(d, 2.0, (0.1, 3.0))), rng.standard_normal(d))


@st.composite
def tbv_mixing(draw, max_N: int = 5, max_k: int = 3, scale=(0.3, 2.0)):
    """A dense mixing matrix A (N×k, N ≥ k) of the tractable β-VAE (eq. 17)."""
    k = draw(st.integers(1, max_k))
    N = draw(st.integers(k, max(k, max_N)))
    return draw(dense_matrices(N, k, scale))


@st.composite
def tbv_networks(draw, A, scale: float = 0.5):
    """A random (non-optimal) network {W_mu, b_mu, W_sigma, b_sigma, D, b_D} for A, as a dict.

    W_σ is scaled by 1/sqrt(λ_max(AAᵀ + I)) so that log σ² = W_σ x + b_σ has variance
    O(scale²): the lognormal variances stay light-tailed enough for Monte Carlo.
    """
    N, k = A.shape
    rng = np.random.default_rng(draw(seeds))
    shapes = {"W_mu": (k, N), "b_mu": (k,), "W_sigma": (k, N), "b_sigma": (k,),
              "D": (N, k), "b_D": (N,)}
    p = {name: scale * rng.standard_normal(shape) for name, shape in shapes.items()}
    p["W_sigma"] /= np.sqrt(1.0 + np.linalg.norm(A, 2) ** 2)
    return p


@st.composite
def tbv_problems(draw, max_N: int = 5, max_k: int = 3, gap: float = 0.25):
    """(A, β) with β clear of every collapse threshold λ_i of Σ_x by a factor 1 + gap.

    β is placed log-uniformly inside one spectral gap (or below the smallest / above the
    largest of the k top eigenvalues), so optimisers do not meet the flat direction at
    a threshold.
    """
    A = draw(tbv_mixing(max_N, max_k))
    lam = 1.0 + np.linalg.svd(A, compute_uv=False) ** 2
    edges = np.concatenate([[lam.max() * 4], lam, [lam.min() / 4]])
    choices = [(hi / (1 + gap), lo * (1 + gap)) for hi, lo in zip(edges[:-1], edges[1:])
               if hi / (1 + gap) > lo * (1 + gap)]
    hi, lo = draw(st.sampled_from(choices))
    return A, float(np.exp(draw(st.floats(np.log(lo), np.log(hi)))))


@st.composite
def tbv_nonlinear_encoders(draw, A, scale: float = 1.0):
    """A random nonlinear diagonal Gaussian encoder for A: x -> (μ(x), log σ²(x)).

    μ = 2 tanh(W x + b) and log σ² = cos(V x) - 1 + c, with W, V scaled by 1/sqrt(λ_max(Σ_x))
    so that the tanh is neither linear nor saturated over p(x) (§V's networks, in miniature).
    """
    N, k = A.shape
    rng = np.random.default_rng(draw(seeds))
    norm = np.sqrt(1.0 + np.linalg.norm(A, 2) ** 2)
    W, V = (scale * rng.standard_normal((k, N)) / norm for _ in range(2))
    b, c = 0.3 * rng.standard_normal(k), 0.5 * rng.standard_normal(k)
    return lambda x: (2 * np.tanh(x @ W.T + b), np.cos(x @ V.T) - 1 + c)


def tbv_relabellings(k: int):
    """(perm, signs): a signed permutation of k latents (z'_j = signs[j] z_{perm[j]})."""
    return st.tuples(st.permutations(range(k)), st.lists(st.sampled_from([1, -1]), min_size=k, max_size=k))
