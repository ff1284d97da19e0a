"""numerics.linear_latent_model's argument checks, doctests and `collapse phase wang-ziyin`."""
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
