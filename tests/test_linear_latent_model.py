"""numerics.linear_latent_model's argument checks, rank rule, doctests and `collapse phase wang-ziyin`."""
import csv
import doctest
import warnings

import mpmath as mp
import numpy as np
import pytest

from collapse.cli import main
from numerics import linear_latent_model as llm
from numerics.reference import linear_latent_model as ref
from numerics.reference.finite_differences import directional

A, M = np.diag([2.0, 1.0, 0.0]), np.arange(6.0).reshape(2, 3)


@pytest.mark.parametrize("call, message", [
    (lambda: llm.global_minimum(-np.eye(2), np.eye(2), 1, 1.0), "A must be positive semidefinite"),
    (lambda: llm.global_minimum([[1.0, 2.0], [0.0, 1.0]], np.eye(2), 1, 1.0), "A must be symmetric"),
    (lambda: llm.global_minimum(np.zeros((2, 2)), np.eye(2), 1, 1.0), "A must be positive semidefinite and not zero"),
    (lambda: llm.global_minimum(np.eye(2), np.eye(3), 1, 1.0), "M must have shape ?x2"),
    (lambda: llm.global_minimum(A, M, 0, 1.0), "d1 must be an integer >= 1"),
    (lambda: llm.global_minimum(A, M, 1.5, 1.0), "d1 must be an integer >= 1"),
    (lambda: llm.global_minimum(A, M, 1, 0.0), "beta must be a finite number > 0"),
    (lambda: llm.global_minimum(A, M, 1, -1.0), "beta must be a finite number > 0"),
    (lambda: llm.global_minimum(A, M, 1, 1.0, eta_enc=0.0), "eta_enc must be a finite number > 0"),
    (lambda: llm.global_minimum(A, M, 1, 1.0, eta_dec=-2.0), "eta_dec must be a finite number > 0"),
    (lambda: llm.global_minimum(A, M, 1, np.nan), "beta must be a finite number > 0"),
    (lambda: llm.global_minimum(A, M, 2, 1.0, learnable_sigma=False, sigma=[1.0]), "sigma must have shape (2,)"),
    (lambda: llm.global_minimum(A, M, 2, 1.0, sigma=[1.0, 1.0]), "sigma is fixed only with learnable_sigma=False"),
    (lambda: llm.global_minimum(A, M, 2, 1.0, learnable_sigma=False, sigma=[0.0, 1.0]), "sigma must lie in (0, inf)"),
    (lambda: llm.global_minimum(A, M, 1, 1.0, residual=-1.0), "residual must be a finite number >= 0"),
    (lambda: llm.optimal_decoder_variance(A, M, 0, 1.0), "d1 must be an integer >= 1"),
    (lambda: llm.optimal_decoder_variance(A, M, 1, 0.0), "beta must be a finite number > 0"),
    (lambda: llm.optimal_decoder_variance(A, np.eye(2), 1, 1.0), "M must have shape ?x3"),
    (lambda: llm.classify([1.0, 2.0], 1, 1.0), "zeta must be a 1-D array of singular values in non-increasing order"),
    (lambda: llm.classify([2.0, -1.0], 1, 1.0), "zeta must lie in [0, inf)"),
    (lambda: llm.classify([2.0, 1.0], 1, [1.0, 0.0]), "beta must lie in (0, inf)"),
    (lambda: llm.classify([2.0, 1.0], 1, 1.0, eta_dec=None), "d2 is required when eta_dec is learnable"),
    (lambda: llm.classify([2.0, 1.0], 0, 1.0), "d1 must be an integer >= 1"),
    (lambda: llm.objective(A, M, np.ones((2, 1)), np.ones((3, 1)), [0.0], 1.0), "sigma must lie in (0, inf)"),
    (lambda: llm.objective(A, M, np.ones((2, 2)), np.ones((3, 1)), [1.0], 1.0), "U must have shape 2x1"),
    (lambda: llm.decoder_variance_objective([2.0], 0.0, 1.0, 1, 1), "s must lie in (0, inf)"),
    (lambda: llm.decoder_variance_objective([2.0], -1.0, 1.0, 1, 1, dps=30), "s must be > 0"),
    (lambda: llm.decoder_variance_objective([2.0], 0.0, 1.0, 1, 1, dps=30), "s must be > 0; got 0"),
    (lambda: llm.moments(np.ones((3, 2)), np.ones((4, 1))), "Y must have shape 3x?"),
    (lambda: llm.equivalent_offset(np.ones((2, 3)), [1.0], np.eye(3)), "f must have length 2"),
    (lambda: llm.optimal_biases(np.ones((3, 2)), [1.0], [0.0]), "mean_x must have length 3"),
])
def test_bad_input_names_the_argument(call, message):
    """The error is a ValueError whose message starts with the argument's name and the rule it
    breaks (s = 0 is refused on the mpmath route too, not left to a division by zero)."""
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value).startswith(message), str(info.value)


def test_rank_deficient_A_and_d1_above_d_star():
    """A of rank 2 in D0 = 3 is valid; latents beyond d* get σ = η_enc and stay collapsed."""
    m = llm.global_minimum(A, M, 4, 0.5, eta_enc=1.3)
    assert m.zeta.size == 2 and m.U.shape == (2, 4) and m.W.shape == (3, 4)
    assert np.allclose(m.sigma[2:], 1.3) and not m.active[2:].any()
    assert np.allclose(m.W[2], 0.0)                  # nothing along the null direction of A


def test_doctests():
    failures, tried = doctest.testmod(llm, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried >= 2 and failures == 0


@pytest.mark.integration
def test_phase_command_writes_png_and_csv(tmp_path):
    code = main(["phase", "wang-ziyin", "--zeta", "3", "2", "1", "--d0", "3", "--d2", "4", "--n-beta", "40",
                 "--check", "2", "--output-dir", str(tmp_path), "--name", "p"])
    assert code == 0
    for name in ("p.png", "p.csv", "p_thresholds.csv", "p_check.csv"):
        assert (tmp_path / name).stat().st_size > 100
    with (tmp_path / "p_thresholds.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["beta_fixed_eta_dec"]) for r in rows] == pytest.approx([9.0, 4.0, 1.0])
    with (tmp_path / "p_check.csv").open() as fh:
        for row in csv.DictReader(fh):
            assert float(row["loss_numerical"]) == pytest.approx(float(row["loss_closed_form"]), rel=1e-8)


def test_phase_command_rejects_bad_arguments(tmp_path, capsys):
    assert main(["phase", "wang-ziyin", "--zeta", "3", "2", "1", "--d0", "2", "--output-dir", str(tmp_path)]) == 2
    assert "--zeta must have at most" in capsys.readouterr().err
    assert main(["phase", "wang-ziyin", "--beta-min", "2", "--beta-max", "1", "--check", "0",
                 "--output-dir", str(tmp_path)]) == 2
    assert "--beta-min must be < --beta-max" in capsys.readouterr().err


# ---------------------------------------------------------------- what rank means (issue 20)

EPS = np.finfo(float).eps


def test_rank_rule_drops_rounding_noise_of_rank_deficient_data():
    """Exact zeros of A = X^T X / n (X of rank r < D0, formed in float64; also exactly repeated
    columns) and of a Z of rank q come out at most a quarter of the rank tolerance 16 n ε, so
    spectrum() finds the exact ranks: the measurement behind ``_RANK_ULPS``."""
    worst = 0.0
    for seed in range(300):
        rng = np.random.default_rng(seed)
        D0 = int(rng.integers(2, 9))
        r = int(rng.integers(1, D0))
        n = max(D0, int(rng.choice([5, 50, 500, 5000])))
        X = rng.standard_normal((n, r)) @ (rng.standard_normal((r, D0)) * np.exp(rng.normal(0, 1, (r, 1))))
        X *= np.exp(rng.normal(0, 3))
        if seed % 3 == 0:
            X[:, -1] = X[:, 0]                    # an exactly repeated column
        A, _, _ = llm.moments(X, X[:, :1])
        phi = np.linalg.eigvalsh(A)
        rank = np.linalg.matrix_rank(X @ np.diag(1 / np.max(np.abs(X), axis=0)), tol=1e-8)
        worst = max(worst, np.max(np.abs(phi[:D0 - rank])) / phi[-1] / (16 * D0 * EPS))
        d2 = int(rng.integers(2, 8))
        q = int(rng.integers(1, min(rank, d2) + 1))
        M = rng.standard_normal((d2, q)) @ rng.standard_normal((q, D0))
        spec = llm.spectrum(A, M)
        assert spec.Phi.size == rank and np.count_nonzero(spec.zeta) == q
        z = np.linalg.svd(spec.Z, compute_uv=False)
        worst = max(worst, np.max(z[q:], initial=0.0) / z[0] / (16 * max(spec.Z.shape) * EPS))
    assert worst < 0.25


@pytest.mark.parametrize("D0", [2, 3, 6, 8])
def test_rank_rule_at_its_boundary(D0):
    """An eigenvalue of A at 2x the tolerance 16 D0 ε φ_max is kept and its direction carries
    ζ² = eig(M A M^T) (eq. 9); at 0.5x it is dropped. Likewise for ζ against 16 max(d0, d2) ε ζ_1.
    Kills any rule off by 2x or more: 1e-12 (the old one), 1e-10, 1e-14 at D0 = 6, 8."""
    tol = 16 * D0 * EPS
    for factor, kept in ((2.0, True), (0.5, False)):
        A = np.diag(np.r_[np.ones(D0 - 1), factor * tol])
        M = np.zeros((1, D0))
        M[0, -1] = 1 / np.sqrt(tol)                    # y = x_D0 / sqrt(tol): ζ² = factor if kept
        spec = llm.spectrum(A, M)
        assert spec.Phi.size == D0 - (not kept)
        assert spec.zeta == pytest.approx([np.sqrt(factor) if kept else 0.0], rel=1e-12, abs=0.0)
        if kept:   # ζ² = eig(M A M^T), an independent route; the latent is active at β < ζ²
            assert spec.zeta[0] ** 2 == pytest.approx(np.linalg.eigvalsh(M @ A @ M.T)[-1], rel=1e-12)
            assert llm.global_minimum(A, M, 1, 0.5 * factor).active.tolist() == [True]
        Z = np.diag(np.r_[1.0, np.full(D0 - 1, factor * tol)])   # A = I, M = Z: d0 = d2 = D0
        assert np.count_nonzero(llm.spectrum(np.eye(D0), Z).zeta) == (D0 if kept else 1)


@pytest.mark.parametrize("D0", [2, 3, 6, 8])
def test_rank_rule_exactly_at_its_boundary(D0):
    """A value exactly at the tolerance counts as zero ("at most" 16 n ε times the largest):
    A = diag(1, ..., 1, 16 D0 ε) has d0 = D0 - 1, and Z with singular values (1, ..., 1, 16 D0 ε)
    (A = I, M = that diagonal, d0 = d2 = D0) has ζ_D0 = 0; one ulp above, the value is kept.
    eigh and the SVD return these diagonal values exactly (asserted), so the boundary is hit."""
    tol = 16 * D0 * EPS
    for value, kept in ((tol, False), (np.nextafter(tol, 1.0), True)):
        A = np.diag(np.r_[np.ones(D0 - 1), value])
        assert np.linalg.eigh(A)[0][0] == value
        assert llm.spectrum(A, np.eye(D0)).Phi.size == D0 - (not kept)
        spec = llm.spectrum(np.eye(D0), A)
        assert np.linalg.svd(spec.Z, compute_uv=False)[-1] == value
        assert np.count_nonzero(spec.zeta) == D0 - (not kept)


@pytest.mark.parametrize("D0", [1, 3])
def test_moments_spectrum_and_global_minimum_raise_no_warning(D0):
    """With every warning an error (a numpy deprecation today is an error in a later numpy), the
    moments of a rank-deficient training set, their spectrum and the global minimum run through."""
    rng = np.random.default_rng(D0)
    X = rng.standard_normal((6, D0))
    X[:, -1] = X[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A, M, residual = llm.moments(X, X[:, :1] ** 2)
        assert llm.spectrum(A, M).Phi.size == max(D0 - 1, 1)
        llm.global_minimum(A, M, 2, 0.5, residual=residual)


def test_rank_rule_keeps_a_genuine_direction_of_cond_1e11():
    """cond(A) = 1e11 (between the 1e-10 and 1e-12 tolerances of the old rule's mutants): the
    weak direction carries a real signal, ζ² = 0.1, which changes the loss and the active latent."""
    A, M = np.diag([1.0, 1e-11]), np.array([[0.0, 1e5]])
    m = llm.global_minimum(A, M, 1, 0.05)
    assert m.zeta == pytest.approx([np.sqrt(0.1)], rel=1e-12) and m.active.tolist() == [True]
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, np.sqrt(1e-11)], [0.0, -np.sqrt(1e-11)]]) * np.sqrt(2)
    A_data, M_data, residual = llm.moments(X, X @ M.T)
    assert residual == pytest.approx(0.0, abs=1e-20)
    assert llm.global_minimum(A_data, M_data, 1, 0.05).loss == pytest.approx(m.loss, rel=1e-9)


# ---------------------------------------------------------------- every argument by name (issue 20)

_A2 = np.diag([2.0, 1.0])                                         # D0 = 2
_M32 = np.array([[1.0, 0.5], [0.0, 1.0], [0.3, 0.0]])             # d2 = 3
_FIT = {"A": _A2, "M": _M32, "U": np.full((3, 1), 0.5), "W": np.full((2, 1), 0.3), "sigma": [0.8],
        "beta": 0.7, "eta_enc": 1.1, "eta_dec": 0.9, "residual": 0.3}
_ZETA = {"zeta": [2.0, 0.5], "beta": 0.8}


def _model_calls():
    return [
        (llm.spectrum, {"A": _A2, "M": _M32}),
        (llm.moments, {"X": np.ones((3, 2)), "Y": np.ones((3, 1))}),
        (llm.optimal_biases, {"W": np.full((2, 3), 0.3), "mean_x": [1.0, -1.0], "mean_y": [0.5, 0.2]}),
        (llm.equivalent_offset, {"C": [[0.2, 0.1]], "f": [0.5], "A": _A2}),
        (llm.objective_terms, _FIT),
        (llm.objective, _FIT),
        (llm.sigma_star, {**_ZETA, "eta_enc": 1.1, "eta_dec": 0.9}),
        (llm.global_minimum, {"A": _A2, "M": _M32, "d1": 2, "beta": 0.7, "eta_enc": 1.1, "eta_dec": 0.9,
                              "residual": 0.3}),
        (llm.origin_hessian_eigenvalues, {**_ZETA, "sigma": [0.7, 1.3], "eta_enc": 1.1, "eta_dec": 0.9,
                                          "d0": 3, "d2": 2}),
        (llm.beta_thresholds, {"zeta": [2.0, 0.5], "d1": 2, "eta_dec": 0.9, "residual": 0.3}),
        (llm.beta_thresholds, {"zeta": [2.0, 0.5], "d1": 2, "eta_dec": None, "d2": 3, "residual": 0.3}),
        (llm.classify, {**_ZETA, "d1": 2, "eta_dec": 0.9, "residual": 0.3}),
        (llm.classify, {**_ZETA, "d1": 2, "eta_dec": None, "d2": 3, "residual": 0.3}),
        (llm.decoder_variance_objective, {**_ZETA, "s": [0.5, 2.0], "d1": 1, "d2": 3, "residual": 0.3}),
        (llm.decoder_variance_gradient, {**_ZETA, "s": [0.5, 2.0], "d1": 1, "d2": 3, "residual": 0.3}),
        (llm.optimal_decoder_variance, {"A": _A2, "M": _M32, "d1": 1, "beta": 0.8, "eta_enc": 1.1,
                                        "residual": 0.3}),
    ]


# one generic bad value per argument name: the error must start with that name
_BAD_VALUE = {"A": -np.eye(2), "M": np.full((3, 2), np.nan), "U": np.full((3, 1), np.inf),
              "W": np.full((2, 1), np.nan), "X": np.full((3, 2), np.nan), "Y": np.full((3, 1), np.nan),
              "C": [[np.nan, 0.1]], "f": [np.nan], "mean_x": [np.nan, 1.0], "mean_y": [np.inf, 0.2],
              "sigma": [-0.8], "zeta": [-2.0, -3.0], "s": [0.5, -2.0], "beta": -1.0, "eta_enc": 0.0,
              "eta_dec": -0.9, "residual": -0.3, "d0": 0, "d1": 0, "d2": 0}


@pytest.mark.parametrize("function, kwargs", _model_calls(), ids=lambda x: getattr(x, "__name__", ""))
def test_every_argument_of_the_model_functions_is_checked_by_name(function, kwargs):
    """Each public function runs on valid arguments and, for each argument made invalid in turn
    (an indefinite A, a NaN, a negative variance, a zero count), refuses it with a ValueError
    whose message starts with the argument's exact name and says which condition failed."""
    function(**kwargs)
    for name in kwargs:
        with pytest.raises(ValueError, match=rf"^{name} must (be|have|lie)"):
            function(**{**kwargs, name: _BAD_VALUE[name]})


def _refused(message, function, **kwargs):
    with pytest.raises(ValueError) as info:
        function(**kwargs)
    assert str(info.value).startswith(message), str(info.value)


def test_the_shape_and_interval_rules_each_refuse_what_only_they_catch():
    """Inputs that pass every other check: a matrix with the wrong number of rows or columns
    (numpy would fail later, unnamed, or broadcast silently), a 2-D vector where 1-D is required
    (broadcasts silently otherwise), a value exactly on an open bound or below a closed one, a
    dimension below d*; and the values exactly on a closed bound that must be accepted."""
    _refused("M must have shape ?x2; got 3x3", llm.objective_terms, **{**_FIT, "M": np.ones((3, 3))})
    _refused("W must have shape 2x?; got 3x1", llm.objective_terms, **{**_FIT, "W": np.ones((3, 1))})
    _refused("sigma must have shape (1,) (columns of W); got (2,)", llm.objective_terms,
             **{**_FIT, "sigma": [0.8, 0.8]})
    offset = {"C": [[0.2, 0.1]], "f": [0.5], "A": _A2}
    _refused("C must have shape ?x2; got 1x3", llm.equivalent_offset, **{**offset, "C": [[0.2, 0.1, 0.0]]})
    _refused("f must have 1 dimension(s); got shape (1, 1)", llm.equivalent_offset, **{**offset, "f": [[0.5]]})
    biases = {"W": np.full((2, 3), 0.3), "mean_x": [1.0, -1.0], "mean_y": [0.5, 0.2]}
    _refused("mean_x must have 1 dimension(s); got shape (2, 1)", llm.optimal_biases,
             **{**biases, "mean_x": [[1.0], [-1.0]]})
    _refused("mean_y must have 1 dimension(s); got shape (1, 2)", llm.optimal_biases,
             **{**biases, "mean_y": [[0.5, 0.2]]})
    hess = {**_ZETA, "sigma": [0.7, 1.3]}
    _refused("zeta must lie in [0, inf)", llm.origin_hessian_eigenvalues, **{**hess, "zeta": [2.0, -0.5]})
    _refused("sigma must lie in (0, inf)", llm.origin_hessian_eigenvalues, **{**hess, "sigma": [0.7, 0.0]})
    _refused("d0 must be an integer >= 2; got 1", llm.origin_hessian_eigenvalues, **hess, d0=1)
    _refused("d2 must be an integer >= 2; got 1", llm.origin_hessian_eigenvalues, **hess, d2=1)
    assert llm.origin_hessian_eigenvalues([2.0, 0.0], [0.7, 1.3], 0.8).size == 8    # ζ = 0 is allowed
    _refused("s must lie in (0, inf)", llm.decoder_variance_gradient, zeta=[2.0], s=[0.0], beta=1.0, d1=1, d2=1)
    with pytest.raises(ValueError, match=r"^d2 is required when eta_dec is learnable \(eta_dec=None\)$"):
        llm.beta_thresholds([2.0, 1.0], 1, eta_dec=None)


# ---------------------------------------------------------------- formulas against independent routes (issue 20)


def _nonlinear_training_set():
    """8 points in D0 = 3, y in d2 = 3 with a part no linear map of x explains (residual ≈ 0.043);
    ζ² ≈ (12.4, 0.59, 0.071)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((8, 3))
    Y = X @ rng.standard_normal((3, 3)) + 0.5 * np.tanh(X[:, :1] ** 2) @ rng.standard_normal((1, 3))
    return X, Y


def test_objective_with_a_residual_matches_the_training_set_loss():
    """eq. (5) from the moments (A, M, residual) of a training set where y is not linear in x,
    at η_enc, η_dec ≠ 1, equals the reference loss on the data itself (E_ε exact, no moments);
    the reconstruction term alone is the reference at β = 0. With the default η's it equals the
    reference at η_enc = η_dec = 1."""
    X, Y = _nonlinear_training_set()
    A, M, residual = llm.moments(X, Y)
    assert residual > 0.04
    rng = np.random.default_rng(4)
    U, W, sigma = rng.standard_normal((3, 2)), rng.standard_normal((3, 2)) / 2, np.array([0.6, 1.4])
    beta, eta_enc, eta_dec = 0.7, 0.8, 1.3
    params = {"U": U, "W": W, "f": sigma, "log_s": 2 * np.log(eta_dec)}
    terms = llm.objective_terms(A, M, U, W, sigma, beta, eta_enc, eta_dec, residual=residual)
    assert terms[0] == pytest.approx(ref.loss_and_grad(params, X, Y, 0.0, eta_enc)[0], rel=1e-12)
    total = ref.loss_and_grad(params, X, Y, beta, eta_enc)[0]
    assert sum(terms) == pytest.approx(total, rel=1e-12)
    assert llm.objective(A, M, U, W, sigma, beta, eta_enc, eta_dec, residual=residual) == pytest.approx(total, rel=1e-12)
    default = ref.loss_and_grad({**params, "log_s": 0.0}, X, Y, beta, 1.0)[0]
    assert sum(llm.objective_terms(A, M, U, W, sigma, beta, residual=residual)) == pytest.approx(default, rel=1e-12)


def test_sigma_star_at_the_default_variances_and_the_minimum_s_Sigma():
    """eq. (19) by hand at the default η_enc = η_dec = 1 and β = 1: ζ = (3, 0.5) gives
    σ* = (√β/ζ_1, η_enc) = (1/3, 1) (ζ_2² < β: collapsed). The global minimum's Sigma is
    diag(σ*²) = diag(1/9, 1), and eq. (5) (objective_terms, its own formula) at U*, W* and the
    σ read back from Sigma is the minimum's loss."""
    assert llm.sigma_star([3.0, 0.5], 1.0) == pytest.approx([1 / 3, 1.0], rel=1e-15)
    A, M = np.eye(2), np.diag([3.0, 0.5])
    m = llm.global_minimum(A, M, 2, 1.0)
    assert m.Sigma == pytest.approx(np.diag([1 / 9, 1.0]), rel=1e-15)
    assert llm.objective(A, M, m.U, m.W, np.sqrt(np.diag(m.Sigma)), 1.0) == pytest.approx(m.loss, rel=1e-12)


def test_tied_sigmas_serve_the_modes_in_latent_order():
    """A fixed σ alternating 1, 2 over d1 = 40 latents, A = I, M = diag(ζ) with 40 distinct ζ,
    all active at β = 0.1: the 20 latents of σ = 1 serve the 20 largest modes and those of
    σ = 2 the rest (Proposition 2 corrected), each group in latent order (ties go to the lower
    latent index, so that with Σ = η_enc² I latent i serves mode i). Read off U: F = ±I here,
    so column j of U* = F Λ Π lies along row mode(j). (numpy's default argsort orders
    these 40 ties differently.)"""
    d1 = 40
    A, M = np.eye(d1), np.diag(np.linspace(4.0, 2.0, d1))
    m = llm.global_minimum(A, M, d1, 0.1, learnable_sigma=False, sigma=np.tile([1.0, 2.0], d1 // 2))
    mode = np.empty(d1, dtype=int)
    mode[0::2], mode[1::2] = np.arange(20), 20 + np.arange(20)
    assert m.active.all()
    assert np.argmax(np.abs(m.U), axis=0).tolist() == mode.tolist()
    assert np.abs(m.U[mode, np.arange(d1)]) == pytest.approx(np.linalg.norm(m.U, axis=0), rel=1e-12)
    default = llm.global_minimum(A, M, d1, 0.1, learnable_sigma=False)
    assert np.argmax(np.abs(default.U), axis=0).tolist() == list(range(d1))


def test_fixed_eta_dec_thresholds_and_classifier_at_eta_dec_2():
    """Latent i collapses at β_i = ζ_i²/η_dec² (Theorems 1-2): ζ = (3, 2, 1), η_dec = 2 gives
    (9/4, 1, 1/4), and the closed-form global minimum (another code path: σ*, eq. 8) has
    latent i active just below β_i and collapsed just above. The classifier reports the given
    β, those thresholds and η_dec² = 4 (1 by default)."""
    zeta = np.array([3.0, 2.0, 1.0])
    assert llm.beta_thresholds(zeta, 3, eta_dec=2.0).tolist() == [2.25, 1.0, 0.25]
    assert llm.beta_thresholds(zeta, 3).tolist() == [9.0, 4.0, 1.0]
    A, M = np.eye(3), np.diag(zeta)
    for i, threshold in enumerate([2.25, 1.0, 0.25]):
        for factor, active in ((0.99, True), (1.01, False)):
            assert llm.global_minimum(A, M, 3, factor * threshold, eta_dec=2.0).active[i] == active
    beta = np.array([0.1, 0.5, 2.0, 3.0])
    c = llm.classify(zeta, 3, beta, eta_dec=2.0)
    assert c.beta.tolist() == beta.tolist() and c.thresholds.tolist() == [2.25, 1.0, 0.25]
    assert c.n_active.tolist() == [3, 2, 1, 0] and c.eta_dec2.tolist() == [4.0] * 4
    assert llm.classify(zeta, 3, beta).eta_dec2.tolist() == [1.0] * 4


def test_learnable_eta_dec_with_no_signal():
    """ζ = 0 and no residual: no latent can be active at any β (threshold exactly 0, not NaN)."""
    assert llm.beta_thresholds([0.0], 1, eta_dec=None, d2=2).tolist() == [0.0]
    assert llm.beta_thresholds([0.0, 0.0], 2, eta_dec=None, d2=2, residual=0.5).tolist() == [0.0, 0.0]


def test_decoder_variance_gradient_vectorised_matches_finite_differences():
    """G'(s) on a 2-D array of s spanning every segment [s_{p+1}, s_p) (d1 = 2 < d* = 3, a
    residual) equals the central difference of G (eq. 44) in mpmath at 40 digits, element by
    element."""
    zeta, beta, d1, d2, residual = [3.0, 2.0, 1.0], 1.3, 2, 4, 0.2
    s = np.array([[0.3, 1.0, 2.0], [4.0, 7.5, 20.0]])
    grad = llm.decoder_variance_gradient(zeta, s, beta, d1, d2, residual=residual)
    assert grad.shape == s.shape
    h = mp.mpf("1e-15")
    for value, g in zip(s.ravel(), grad.ravel()):
        G = lambda x: llm.decoder_variance_objective(zeta, x, beta, d1, d2, residual=residual, dps=40)
        with mp.workdps(40):
            fd = (G(mp.mpf(value) + h) - G(mp.mpf(value) - h)) / (2 * h)
        assert g == pytest.approx(float(fd), rel=1e-12)


def test_optimal_decoder_variance_is_a_stationary_point_of_the_training_set_loss():
    """At the returned s* and (U*, W*, Σ*) (β = 1.5: one of d1 = 2 latents active, a residual,
    a mode beyond d1, η_enc = 0.8), the reference loss of the training set with learnable η_dec
    (eq. 4 plus (d2/2) log η_dec², E_ε exact) has zero gradient in U, W, σ and log η_dec², and
    its value is the returned G(s*); the minimum's own loss is eq. (5) at η_dec² = s*. With the
    default η_enc the same holds at η_enc = 1."""
    X, Y = _nonlinear_training_set()
    A, M, residual = llm.moments(X, Y)
    for eta_enc in (0.8, None):
        kw = {} if eta_enc is None else {"eta_enc": eta_enc}
        dv = llm.optimal_decoder_variance(A, M, 2, 1.5, residual=residual, **kw)
        assert dv.status == "unique" and dv.n_active == 1 and dv.minimum is not None
        m = dv.minimum
        params = {"U": m.U, "W": m.W, "f": m.sigma, "log_s": np.log(dv.s)}
        value, grad = ref.loss_and_grad(params, X, Y, 1.5, eta_enc or 1.0, partition=True)
        assert value == pytest.approx(dv.loss, rel=1e-12)
        assert m.loss + 3 / 2 * np.log(dv.s) == pytest.approx(dv.loss, rel=1e-12)
        for name in ("U", "W", "f", "log_s"):
            assert np.max(np.abs(grad[name])) < 1e-12, name


def test_optimal_decoder_variance_statuses():
    """Table 1 on hand-solved cases (A = I, Z = M):

    * ζ = (2), d2 = 2, β = 1 < d2/d̂1: G(s) = const + (d2 - β)/2 log s → -∞ as s → 0
      ("unbounded": s = 0, one active latent, G = -inf, no minimiser).
    * same, β = 3 > d2/d̂1: the latent is dead at s > 4/3 where G = 2/s + log s, minimum at s* = 2
      ("unique"; no residual and nothing beyond d̂1, yet not flat); many-start L-BFGS with
      learnable η_dec agrees.
    * ζ = (2, 0), d1 = d2 = 2, β = 2: d̂1 = 1 (the zero mode does not count), β d̂1 = d2, so
      G = 1 + log 2 on all of (0, 2] ("flat", s = 2).
    * ζ = (2, 1) e-110, d1 = 1, d2 = 2, β = 2 = d2/d̂1 but mode 2 beyond d1 carries ζ² = 1e-220
      > 0: "unique", as at scale 1 (s* scales with ζ²; the scale test reaches the underflow of
      ζ³ but not of ζ²)."""
    M = np.array([[2.0], [0.0]])
    dv = llm.optimal_decoder_variance(np.eye(1), M, 1, 1.0)
    assert (dv.s, dv.n_active, dv.status, dv.loss, dv.minimum) == (0.0, 1, "unbounded", -np.inf, None)
    G = llm.decoder_variance_objective([2.0], [1e-4, 1e-8, 1e-12], 1.0, 1, 2)
    assert np.all(np.diff(G) < 0)
    dv = llm.optimal_decoder_variance(np.eye(1), M, 1, 3.0)
    assert dv.status == "unique" and dv.n_active == 0
    assert dv.s == pytest.approx(2.0, rel=1e-14) and dv.loss == pytest.approx(1 + np.log(2), rel=1e-14)
    X, Y = ref.exact_data(np.eye(1), M)
    numeric = ref.minimise(X, Y, 1, 3.0, 1.0, None, starts=3)
    assert numeric.loss == pytest.approx(dv.loss, rel=1e-10)
    dv = llm.optimal_decoder_variance(np.eye(2), np.diag([2.0, 0.0]), 2, 2.0)
    assert dv.status == "flat" and dv.s == 2.0 and dv.n_active == 0
    G = llm.decoder_variance_objective([2.0, 0.0], [0.01, 0.5, 2.0], 2.0, 2, 2)
    assert G == pytest.approx(np.full(3, 1 + np.log(2)), rel=1e-14)
    for scale in (1.0, 1e-110):
        dv = llm.optimal_decoder_variance(np.eye(2), scale * np.diag([2.0, 1.0]), 1, 2.0)
        assert dv.status == "unique" and dv.s == pytest.approx(2.5 * scale**2, rel=1e-14)


def test_origin_hessian_with_default_dimensions_and_variances():
    """With d0, d2, η_enc and η_dec left out (d0 = d2 = d* = 2, η's = 1), the eigenvalues are
    those of the central-difference Hessian of the reference training-set loss in (U, W) at
    U = W = 0 (A = I, so V = W), σ = (0.7, 1.3) fixed: d1 (d0 + d2) = 8 of them."""
    M, sigma, beta = np.array([[1.5, 1.0], [-0.5, 0.8]]), np.array([0.7, 1.3]), 0.8
    X, Y = ref.exact_data(np.eye(2), M)
    origin = {"U": np.zeros((2, 2)), "W": np.zeros((2, 2)), "f": sigma}

    def grad(x):
        g = ref.loss_and_grad({**origin, "U": x[:4].reshape(2, 2), "W": x[4:].reshape(2, 2)}, X, Y, beta)[1]
        return np.concatenate([g["U"].ravel(), g["W"].ravel()])
    H = np.column_stack([directional(grad, np.zeros(8), e, h=1e-4) for e in np.eye(8)])
    numeric = np.linalg.eigvalsh((H + H.T) / 2)
    closed = llm.origin_hessian_eigenvalues(np.linalg.svd(M, compute_uv=False), sigma, beta)
    assert closed.shape == (8,)
    assert np.max(np.abs(numeric - closed)) < 1e-6 * np.max(np.abs(closed))


@pytest.mark.parametrize("D0", [2, 5])
def test_moments_pseudo_inverse_uses_the_rank_rule_of_spectrum(D0):
    """A training set whose A has one direction of eigenvalue φ = factor x 16 D0 ε (the rank
    tolerance) and y = that coordinate / sqrt(φ): at 2x the direction is kept (M sees it, the
    residual is 0, ζ = 1); at 0.25x (still 4 D0 ε, above numpy's own pinv cutoff D0 ε) it is
    rounding noise for ``spectrum`` and so for ``moments`` too: M = 0 and the whole E||y||² = 1
    is residual, so that the loss counts it once (not as a ζ = 0 mode and a zero residual)."""
    tol = 16 * D0 * EPS
    for factor, kept in ((2.0, True), (0.25, False)):
        t = np.sqrt(factor * tol)
        X = np.zeros((2 * D0, D0))
        for j in range(D0):
            X[2 * j: 2 * j + 2, j] = (1.0, -1.0) if j < D0 - 1 else (t, -t)
        X *= np.sqrt(D0)                                   # A = diag(1, ..., 1, t²) exactly
        Y = X[:, -1:] / t
        A, M_data, residual = llm.moments(X, Y)
        assert np.diag(A)[-1] == pytest.approx(factor * tol, rel=1e-12)
        assert np.count_nonzero(llm.spectrum(A, M_data).zeta) == int(kept)
        if kept:
            assert M_data[0, -1] == pytest.approx(1 / t, rel=1e-12) and residual == pytest.approx(0.0, abs=1e-12)
        else:
            assert np.all(M_data == 0.0) and residual == pytest.approx(1.0, rel=1e-12)
