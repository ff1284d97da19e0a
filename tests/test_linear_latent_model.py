"""numerics.linear_latent_model's argument checks, rank rule, doctests and `collapse phase wang-ziyin`."""
import csv
import doctest

import numpy as np
import pytest

from collapse.cli import main
from numerics import linear_latent_model as llm

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
    (lambda: llm.moments(np.ones((3, 2)), np.ones((4, 1))), "Y must have shape 3x?"),
    (lambda: llm.equivalent_offset(np.ones((2, 3)), [1.0], np.eye(3)), "f must have length 2"),
    (lambda: llm.optimal_biases(np.ones((3, 2)), [1.0], [0.0]), "mean_x must have length 3"),
])
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


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
