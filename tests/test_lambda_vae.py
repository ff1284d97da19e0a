"""numerics.lambda_vae's argument checks, shapes, doctests and `collapse phase lambda-vae`."""
import csv
import doctest

import numpy as np
import pytest

from collapse.cli import main
from numerics import lambda_vae as lv


@pytest.mark.parametrize("call, message", [
    (lambda: lv.sigma_star(0.5), "lam must lie in [1, inf)"),
    (lambda: lv.sigma_star([2.0, np.nan]), "lam must be finite"),
    (lambda: lv.lambda_star(0.0, 2.0), "sigma must lie in (0, inf)"),
    (lambda: lv.lambda_star(-0.5, 2.0), "sigma must lie in (0, inf)"),
    (lambda: lv.lambda_star(0.5, 1.0), "delta must lie in (1, inf)"),
    (lambda: lv.lambda_star(0.5, np.inf), "delta must be finite"),
    (lambda: lv.sigma_c(0.9), "delta must lie in (1, inf)"),
    (lambda: lv.lambda_star_inverse(1.0, 1.01), "lam must lie in (1, inf)"),
    (lambda: lv.lambda_star_inverse(2.0, 1.0), "delta must lie in (1, inf)"),
    (lambda: lv.joint_fixed_point([2.0, 1.0]), "delta must lie in (1, inf)"),
    (lambda: lv.elbo_gradient_sigma(-1.0, 0.0, 2.0), "sigma must lie in (0, inf)"),
    (lambda: lv.elbo_gradient_sigma(np.nan, 0.5, 2.0), "g must be finite"),
    (lambda: lv.scaling_correction(-1.0, 0.5, 0.9), "lam must lie in [1, inf)"),
    (lambda: lv.gradient_ratio(-1.0, -0.5), "sigma must lie in (0, inf)"),
    (lambda: lv.sigma_equilibrium(np.inf), "g must be finite"),
    (lambda: lv.kl_divergence(0.0, 0.0), "sigma must lie in (0, inf)"),
    (lambda: lv.kl_divergence(np.nan, 1.0), "mu must be finite"),
    (lambda: lv.kl_excess(0.5, 0.5), "lam must lie in [1, inf)"),
    (lambda: lv.information_gain(2.0, 0.0), "sigma must lie in (0, inf)"),
    (lambda: lv.net_information_gain(2.0, 1.5, 2.0), "sigma must lie in (0, 1]"),
    (lambda: lv.net_information_gain(2.0, 0.5, 1.0), "delta must lie in (1, inf)"),
    (lambda: lv.channel_information(-1.0, 0.5), "signal_power must lie in [0, inf)"),
    (lambda: lv.channel_information(1.0, 0.5, 0.0), "lam must lie in [1, inf)"),
    (lambda: lv.linear_gaussian_information(np.ones((1, 2)), -np.eye(2), 1.0), "Sigma_x must be symmetric positive definite"),
    (lambda: lv.linear_gaussian_information(np.ones((1, 3)), np.eye(2), 1.0), "W must have shape ?x2"),
    (lambda: lv.linear_gaussian_information(np.ones((1, 2)), np.eye(2), 0.0), "noise must lie in (0, inf)"),
    (lambda: lv.finite_data_information(np.zeros((3, 4)), 1.0), "mu must be N x d with d <= 3"),
    (lambda: lv.finite_data_information([0.0, 1.0], [1.0, -1.0]), "noise must lie in (0, inf)"),
    (lambda: lv.finite_data_information([0.0, 1.0], 1.0, weights=[1.0, 0.0]), "weights must lie in (0, inf)"),
    (lambda: lv.finite_data_information([0.0, 1.0], 1.0, order=1), "order must be an integer >= 2"),
])
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


def test_vectorised_shapes_and_edges():
    """Arrays in, arrays out (broadcast); the documented edge values."""
    sigma = np.array([[0.1, 0.5, 0.9, 0.999]])
    delta = np.array([[1.001], [1.01], [2.0]])
    assert lv.lambda_star(sigma, delta).shape == (3, 4)
    assert lv.sigma_star(np.ones((2, 2))).shape == (2, 2)
    assert lv.sigma_star(1.0) == pytest.approx(np.exp(-1.0), rel=1e-15)         # the λ -> 1 limit
    assert lv.sigma_star(1.0 + 1e-12) == pytest.approx(np.exp(-1.0), rel=1e-11)
    assert np.all(lv.lambda_star([1.0, 1.5, 40.0], 1.01) == 1)                  # σ ≥ 1: no gain
    assert np.all(lv.lambda_star(lv.sigma_c(3.0) * 0.999, 3.0) == 1)
    lams = np.array([1.0 + 1e-9, 1.5, 7.0, 1e4])
    assert lv.lambda_star(lv.lambda_star_inverse(lams, 1.01), 1.01) == pytest.approx(lams, rel=1e-12)  # round trip
    assert np.all(lv.lambda_star_inverse(lams, 1.01) > lv.sigma_c(1.01))
    lam, sig = lv.joint_fixed_point([1.5, 1.01])
    assert lam[0] == 1 and sig[0] == pytest.approx(np.exp(-1.0)) and lam[1] > 7
    assert lv.sigma_equilibrium([-1e12, 0.0])[1] == 1 and lv.sigma_equilibrium(-1e12)[()] > 0


def test_doctests():
    failures, tried = doctest.testmod(lv, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried >= 2 and failures == 0


@pytest.mark.integration
def test_phase_command_writes_png_and_csv(tmp_path):
    code = main(["phase", "lambda-vae", "--grid", "6", "--t-max", "10", "--output-dir", str(tmp_path),
                 "--name", "p"])
    assert code == 0
    for name in ("p.png", "p_flows.csv", "p_lambda_star.csv", "p_stationary.csv"):
        assert (tmp_path / name).stat().st_size > 100
    with (tmp_path / "p_flows.csv").open() as fh:
        rows = list(csv.reader(fh))[1:]
    corrections = [float(r[-1]) for r in rows if r[0] == "correction"]
    assert corrections == pytest.approx([0.5] * 6, abs=1e-4)                   # Fig. 2a: all reach σ* = 0.5
    full = {float(r[1]): float(r[-1]) for r in rows if r[0] == "full"}
    assert full[0.0] == pytest.approx(1.0, abs=1e-4) and full[1.0] == pytest.approx(np.sqrt(0.5), abs=1e-4)


def test_phase_command_rejects_bad_arguments(tmp_path, capsys):
    assert main(["phase", "lambda-vae", "--exponent", "1", "--output-dir", str(tmp_path)]) == 2
    assert "--exponent must lie in (1, 1000)" in capsys.readouterr().err
    assert main(["phase", "lambda-vae", "--deltas", "0.5", "--output-dir", str(tmp_path)]) == 2
    assert "--deltas must lie in (1, 1e+12)" in capsys.readouterr().err


# ---------------------------------------------------------------- every argument by name (issue 20)

# Valid values sit strictly inside (1, 2) for λ and δ and inside (0, 1) for σ, so a mutant that moves a
# bound by one (1 -> 2, 0 -> 1) refuses them.
_LAM, _SIGMA, _DELTA = 1.5, 0.5, 1.5


def _lambda_vae_calls():
    return [
        (lv.sigma_star, {"lam": _LAM}),
        (lv.lambda_star, {"sigma": _SIGMA, "delta": _DELTA}),
        (lv.lambda_star_inverse, {"lam": _LAM, "delta": _DELTA}),
        (lv.sigma_c, {"delta": _DELTA}),
        (lv.joint_fixed_point, {"delta": _DELTA}),
        (lv.elbo_gradient_sigma, {"g": -0.5, "sigma": _SIGMA, "lam": _LAM}),
        (lv.scaling_correction, {"g": -0.5, "sigma": _SIGMA, "lam": _LAM}),
        (lv.gradient_ratio, {"g": -0.5, "sigma": _SIGMA, "lam": _LAM}),
        (lv.sigma_equilibrium, {"g": -0.5}),
        (lv.kl_divergence, {"mu": 0.3, "sigma": _SIGMA}),
        (lv.kl_excess, {"lam": _LAM, "sigma": _SIGMA}),
        (lv.information_gain, {"lam": _LAM, "sigma": _SIGMA}),
        (lv.net_information_gain, {"lam": _LAM, "sigma": _SIGMA, "delta": _DELTA}),
        (lv.channel_information, {"signal_power": 0.5, "sigma": _SIGMA, "lam": _LAM}),
        (lv.channel_information_gain, {"signal_power": 0.5, "sigma": _SIGMA, "lam": _LAM}),
        (lv.linear_gaussian_information, {"W": [[0.5, 0.2]], "Sigma_x": np.eye(2), "noise": 0.5, "b": 0.1}),
        (lv.finite_data_information, {"mu": [0.0, 1.0], "noise": 0.5, "weights": [0.4, 0.6], "order": 8}),
    ]


# every value each argument's check must refuse: a NaN (the finite check) and, for an interval rule,
# a value just outside its closed end or exactly on its open end
_BAD_VALUES = {"lam": [np.nan, 1.0 - 1e-12, 0.5], "sigma": [np.nan, 0.0, -0.5], "delta": [np.nan, 1.0, 0.5],
               "g": [np.nan, np.inf], "mu": [np.nan], "signal_power": [np.nan, -1e-12],
               "W": [[[np.nan, 0.2]]], "Sigma_x": [-np.eye(2), np.full((2, 2), np.nan)],
               "noise": [np.nan, 0.0, -0.5], "b": [np.nan], "weights": [[np.nan, 0.6], [0.0, 1.0], [-0.5, 1.0]],
               "order": [1, 0, 2.5]}


@pytest.mark.parametrize("function, kwargs", _lambda_vae_calls(), ids=lambda x: getattr(x, "__name__", ""))
def test_every_argument_of_the_lambda_vae_functions_is_checked_by_name(function, kwargs):
    """Each public function runs on valid arguments and, for each argument made invalid in turn,
    refuses it with a ValueError whose message starts with the argument's exact name and the
    violated condition (kills the mutants that rename, drop or replace an argument's name, and
    those that drop or move the low end of an interval)."""
    function(**kwargs)
    for name in kwargs:
        for bad in _BAD_VALUES[name]:
            with pytest.raises(ValueError, match=rf"^{name} must (be|have|lie)"):
                function(**{**kwargs, name: bad})


def _refused(message, function, *args, **kwargs):
    with pytest.raises(ValueError) as info:
        function(*args, **kwargs)
    assert str(info.value).startswith(message), str(info.value)


def test_the_interval_and_shape_rules_each_refuse_what_only_they_catch():
    """Values exactly on a closed end are accepted (λ = 1 wherever λ ≥ 1, S = 0, σ = 1 in J) and
    values on an open end or just past a closed upper end refused; the finite-data encoder takes
    1-D and N x d means up to d = 3 and refuses a 3-D array and d = 4 by name; order 2 is allowed."""
    for function, args in [(lv.sigma_star, ()), (lv.kl_excess, (_SIGMA,)), (lv.information_gain, (_SIGMA,))]:
        assert np.isfinite(function(1.0, *args))
    for function in (lv.elbo_gradient_sigma, lv.scaling_correction, lv.gradient_ratio):
        assert np.isfinite(function(-0.5, _SIGMA, 1.0))
    assert lv.kl_excess(1.0, _SIGMA) == 0.0 and lv.information_gain(1.0, _SIGMA) == 0.0
    assert lv.scaling_correction(-0.5, _SIGMA, 1.0) == 0.0                        # Δ∇ = (σ - σ)g at λ = 1
    assert lv.channel_information(0.0, _SIGMA, 1.0) == 0.0 and lv.channel_information_gain(0.0, _SIGMA, 1.0) == 0.0
    assert lv.net_information_gain(1.0, 1.0, _DELTA) == 0.0                       # σ = 1 is inside (0, 1]
    _refused("sigma must lie in (0, 1]; got 1", lv.net_information_gain, _LAM, 1.0 + 1e-12, _DELTA)
    _refused("lam must lie in [1, inf)", lv.net_information_gain, 1.0 - 1e-12, _SIGMA, _DELTA)
    _refused("lam must lie in (1, inf); got 1", lv.lambda_star_inverse, 1.0, _DELTA)
    _refused("lam must lie in [1, inf)", lv.channel_information_gain, 0.5, _SIGMA, 1.0 - 1e-12)
    _refused("delta must lie in (1, inf); got 1", lv.joint_fixed_point, [1.5, 1.0])
    _refused("W must have shape ?x2; got 1x3", lv.linear_gaussian_information, [[0.5, 0.2, 0.1]], np.eye(2), 0.5)
    _refused("W must have 2 dimension(s)", lv.linear_gaussian_information, [0.5, 0.2], np.eye(2), 0.5)
    _refused("Sigma_x must be symmetric;", lv.linear_gaussian_information, [[0.5, 0.2]], [[1.0, 0.5], [0.0, 1.0]], 0.5)
    _refused("mu must be N x d with d <= 3 (tensor quadrature); got shape (2, 2, 1)",
             lv.finite_data_information, np.zeros((2, 2, 1)), 0.5)
    _refused("mu must be N x d with d <= 3 (tensor quadrature); got shape (2, 4)",
             lv.finite_data_information, np.zeros((2, 4)), 0.5)
    three = lv.finite_data_information(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]), 0.5, order=4)
    one = lv.finite_data_information(np.array([0.0, 1.0]), 0.5, order=4)
    # the two extra axes carry the same N(0, 0.25) in both components: they add nothing to I(X; Z)
    assert three.mutual_information == pytest.approx(one.mutual_information, rel=1e-12)
    assert np.isfinite(lv.finite_data_information([0.0, 1.0], 0.5, order=2).mutual_information)


def test_the_default_exponent_is_one():
    """λ defaults to 1 (the standard VAE of §3): ∂L/∂σ is the finite difference of
    g σ - KL(N(0, σ²) || N(0, 1)) (eq. 3, the reconstruction linear in σ with slope g), the ratio is
    ρ = |g| / |1/σ - σ| (eq. A.3), and I(X; Z) of a scalar Gaussian channel equals the log-determinant
    route of linear_gaussian_information with noise σ."""
    g, sigma, h = -0.7, 0.4, 1e-6

    def elbo(s):
        return g * s - lv.kl_divergence(0.0, s)

    fd = (elbo(sigma + h) - elbo(sigma - h)) / (2 * h)
    assert lv.elbo_gradient_sigma(g, sigma) == pytest.approx(fd, rel=1e-8)
    assert lv.gradient_ratio(g, sigma) == pytest.approx(0.7 / (1 / sigma - sigma), rel=1e-14)
    w, var_x = 0.8, 2.5
    info = lv.linear_gaussian_information([[w]], [[var_x]], sigma)
    assert lv.channel_information(w * w * var_x, sigma) == pytest.approx(info.mutual_information, rel=1e-12)


def test_linear_gaussian_offset_default_and_weights_default():
    """b defaults to zero: the KLs with b = 0 equal those of the default and an offset adds |b|²/2 to
    both (eq. 1 summed); weights default to uniform and are normalised (weights (2, 2) = default)."""
    W, S = [[0.5, 0.2], [0.1, -0.3]], [[2.0, 0.3], [0.3, 1.0]]
    base = lv.linear_gaussian_information(W, S, [0.6, 0.9])
    zero = lv.linear_gaussian_information(W, S, [0.6, 0.9], b=[0.0, 0.0])
    shifted = lv.linear_gaussian_information(W, S, [0.6, 0.9], b=[0.3, -0.4])
    assert base == zero
    assert shifted.marginal_kl - base.marginal_kl == pytest.approx(0.125, rel=1e-12)
    assert shifted.expected_kl - base.expected_kl == pytest.approx(0.125, rel=1e-12)
    assert shifted.mutual_information == pytest.approx(base.mutual_information, rel=1e-14)
    uniform = lv.finite_data_information([0.0, 1.0, 3.0], 0.5, order=16)
    scaled = lv.finite_data_information([0.0, 1.0, 3.0], 0.5, weights=[2.0, 2.0, 2.0], order=16)
    assert scaled.mutual_information == pytest.approx(uniform.mutual_information, rel=1e-13)
    assert scaled.entropy_phi == pytest.approx(np.log(3.0), rel=1e-14)


# ---------------------------------------------------------------- formulas against independent routes (issue 20)


def test_gradients_against_finite_differences_and_each_other():
    """eq. (11) at λ = 2.5 is the finite difference of g σ^λ - KL(σ) (reconstruction linear in the
    noise scale σ^λ with slope g); the correction of eq. (21) is σ (∂L_λ/∂σ - ∂L_1/∂σ); the ratio of
    §4.1 is |reconstruction force| / |KL force|, both read off elbo_gradient_sigma; the equilibrium
    (corrected eq. A.2) zeroes eq. (3) for g of either sign."""
    g, sigma, lam, h = -0.7, 0.4, 2.5, 1e-6

    def elbo(s):
        return g * s ** lam - lv.kl_divergence(0.0, s)

    fd = (elbo(sigma + h) - elbo(sigma - h)) / (2 * h)
    assert lv.elbo_gradient_sigma(g, sigma, lam) == pytest.approx(fd, rel=1e-8)
    difference = lv.elbo_gradient_sigma(g, sigma, lam) - lv.elbo_gradient_sigma(g, sigma, 1.0)
    assert lv.scaling_correction(g, sigma, lam) == pytest.approx(sigma * difference, rel=1e-12)
    kl_force = lv.elbo_gradient_sigma(0.0, sigma, lam)
    recon_force = lv.elbo_gradient_sigma(g, sigma, lam) - kl_force
    assert lv.gradient_ratio(g, sigma, lam) == pytest.approx(abs(recon_force / kl_force), rel=1e-12)
    g = np.array([-3.0, -0.2, 0.0, 0.4, 2.5])
    root = lv.sigma_equilibrium(g)
    assert np.all(root > 0) and root[2] == 1.0
    assert lv.elbo_gradient_sigma(g, root) == pytest.approx(np.zeros(5), abs=1e-14)
    assert lv.kl_divergence(0.0, 1.0) == 0.0 and lv.kl_divergence(0.6, 1.0) == pytest.approx(0.18, rel=1e-14)


def test_kl_excess_and_net_gain_against_mpmath():
    """eq. (14) from its printed form at 40 digits, over t = 2(λ-1) log σ on both sides of the
    series switch |t| = 1/2 (t = -1.45 would show a series used past it); eq. (12) and (15) with it."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    for lam, sigma in [(1.0 + 1e-6, 0.5), (1.3, 0.6), (1.5, 0.6), (2.0, 0.7), (1.8, 0.4), (3.0, 1.5), (1.2, 0.999)]:
        s, l = mpmath.mpf(sigma), mpmath.mpf(lam)
        exact = (s ** (2 * l) - s ** 2 - 2 * l * mpmath.log(s) + 2 * mpmath.log(s)) / 2
        assert lv.kl_excess(lam, sigma) == pytest.approx(float(exact), rel=1e-12)
        gain = -(l - 1) * mpmath.log(s)
        assert lv.information_gain(lam, sigma) == pytest.approx(float(gain), rel=1e-13)
        if sigma <= 1:
            assert lv.net_information_gain(lam, sigma, 1.3) == pytest.approx(float(gain - mpmath.mpf("1.3") * exact),
                                                                             rel=1e-11)
    for t in [-1.45, -0.6, -0.5, -0.3, -1e-4, 1e-4, 0.3, 0.49, 0.5, 0.7]:
        exact = mpmath.expm1(mpmath.mpf(t)) - mpmath.mpf(t)
        assert float(lv._expm1_minus_identity(t)) == pytest.approx(float(exact), rel=2e-14)


def test_joint_fixed_point_solves_both_equations_below_a_2():
    """For a = -log(1 - 1/δ)/2 in (1, 2) (δ = 1.1: a ≈ 1.20) the pair is nontrivial and satisfies
    σ_J = σ*(λ_J) (eq. 13) and λ_J = λ*(σ_J, δ) (eq. 16), computed by those functions."""
    lam, sig = lv.joint_fixed_point(np.array([1.1, 1.13]))
    assert np.all(lam > 1.0)
    assert lv.sigma_star(lam) == pytest.approx(sig, rel=1e-10)
    assert lv.lambda_star(sig, np.array([1.1, 1.13])) == pytest.approx(lam, rel=1e-8)


def test_channel_information_at_lambda_2_and_the_linear_gaussian_kls():
    """eq. (7) with noise σ^λ (λ = 2) equals the log-determinant route with noise σ²; the exact gain
    is the difference of the two channels; the expected KL of a scalar linear encoder is the
    Gauss-Hermite average of eq. (1) over x; I(X; φ) and ΔI are +inf for continuous X."""
    S, sigma = 0.9, 0.6
    info = lv.linear_gaussian_information([[1.0]], [[S]], sigma ** 2)
    assert lv.channel_information(S, sigma, 2.0) == pytest.approx(info.mutual_information, rel=1e-12)
    gain = info.mutual_information - lv.linear_gaussian_information([[1.0]], [[S]], sigma).mutual_information
    assert lv.channel_information_gain(S, sigma, 2.0) == pytest.approx(gain, rel=1e-12)
    w, b, var_x, noise = 0.8, 0.3, 2.5, 0.45
    nodes, weights = np.polynomial.hermite_e.hermegauss(20)
    averaged = weights @ lv.kl_divergence(w * np.sqrt(var_x) * nodes + b, noise) / weights.sum()
    info = lv.linear_gaussian_information([[w]], [[var_x]], noise, b=b)
    assert info.expected_kl == pytest.approx(averaged, rel=1e-12)
    assert info.entropy_phi == np.inf and info.gap == np.inf


def test_finite_data_information_of_one_component_and_per_point_noise():
    """One component (d = 2): I(X; Z) = H[φ] = ΔI = 0 and both KLs are eq. (1) summed over the
    axes; 1-D means with per-point noise equal the N x 1 form; the gap lies in [0, H[φ]]."""
    info = lv.finite_data_information(np.array([[0.7, -0.4]]), np.array([[0.5, 1.3]]), order=12)
    kl = float(np.sum(lv.kl_divergence([0.7, -0.4], [0.5, 1.3])))
    assert info.mutual_information == pytest.approx(0.0, abs=1e-13)
    assert info.entropy_phi == 0.0 and info.gap == pytest.approx(0.0, abs=1e-13)
    assert info.marginal_kl == pytest.approx(kl, rel=1e-12) and info.expected_kl == pytest.approx(kl, rel=1e-12)
    flat = lv.finite_data_information([0.0, 1.0, 2.5], [0.5, 0.8, 0.6], order=24)
    column = lv.finite_data_information([[0.0], [1.0], [2.5]], [[0.5], [0.8], [0.6]], order=24)
    assert flat == column
    assert 0.0 < flat.gap < flat.entropy_phi


def test_sigma_equilibrium_keeps_precision_for_large_positive_g():
    """For g = 1e8 the root (g + sqrt(g² + 4))/2 ≈ g + 1/g; the form 2/(sqrt(g² + 4) - g), right
    for g < 0, would divide by a cancelled 0 there (the g > 0 branch is needed)."""
    assert lv.sigma_equilibrium(1e8) == pytest.approx(1e8, rel=1e-15)
    assert lv.sigma_equilibrium(-1e8) == pytest.approx(1e-8, rel=1e-12)


@pytest.mark.filterwarnings("error")
def test_the_documented_boundary_values_come_without_warnings():
    """Values the docstrings promise at a boundary arrive as values, without a RuntimeWarning
    (pytest here does not turn warnings into errors by default; this test does): σ*(1) = 1/e,
    λ* = 1 at σ = 1, ρ = +inf at σ = 1 (nan when g = 0 too), and float64 KL terms."""
    assert lv.sigma_star(1.0) == pytest.approx(np.exp(-1.0), rel=1e-15)
    assert np.all(lv.lambda_star(1.0, [1.01, 2.0, 1e12]) == 1)
    assert lv.gradient_ratio(0.3, 1.0, 2.0) == np.inf
    assert np.isnan(lv.gradient_ratio(0.0, 1.0, 2.0))
    excess = lv.kl_excess(np.array([1.0, 1.2, 3.0]), np.array([0.5, 1.0, 0.1]))
    assert excess.dtype == np.float64 and excess[1] == 0.0


def test_finite_data_information_converges_slowly_in_the_order_and_stays_finite_at_high_orders():
    """The docstring's accuracy statement (seed 3: ΔI off by 5e-5 relative at the default 64 nodes,
    3e-6 at 128, against 300), the documented default, and 1000 nodes finite and equal to 200
    (numpy's hermegauss, used before, returned NaN weights from about 380 nodes)."""
    rng = np.random.default_rng(3)
    mu, noise = rng.normal(size=(5, 2)), rng.uniform(0.3, 1.5, size=(5, 2))
    reference = lv.finite_data_information(mu, noise, order=300).gap
    error = {order: abs(lv.finite_data_information(mu, noise, order=order).gap / reference - 1) for order in (64, 128)}
    assert 1e-5 < error[64] < 1e-4 and 1e-7 < error[128] < 1e-5
    assert lv.finite_data_information(mu, noise).gap == lv.finite_data_information(mu, noise, order=64).gap
    high = lv.finite_data_information([0.0, 1.0], 0.5, order=1000)
    assert high.gap == pytest.approx(lv.finite_data_information([0.0, 1.0], 0.5, order=200).gap, rel=1e-13)
