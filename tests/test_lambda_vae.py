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
