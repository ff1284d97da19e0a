"""numerics.tractable_beta_vae and `collapse phase tractable-beta-vae`: bad input, the CLI."""
import csv
import math

import numpy as np
import pytest

from collapse.cli import main
from numerics import tractable_beta_vae as t

A = t.paper_mixing(5, 2)
GOOD = t.optimum(A, 0.5)


def replace(**changes):
    return t.Parameters(**{**GOOD.as_dict(), **changes})


@pytest.mark.parametrize("call, message", [
    (lambda: t.optimum(np.ones((2, 3)), 1.0), "A's number of rows N must be an integer >= 3"),
    (lambda: t.optimum(np.ones(4), 1.0), "A must have 2 dimension"),
    (lambda: t.optimum(A, 0.0), "beta must be a finite number > 0"),
    (lambda: t.optimum(A, -1.0), "beta must be a finite number > 0"),
    (lambda: t.objective(GOOD, A, float("nan")), "beta must be a finite number > 0"),
    (lambda: t.optima(np.full((3, 2), np.nan), 1.0), "A must be finite"),
    (lambda: t.objective(replace(D=np.ones((4, 2))), A, 1.0), r"D must have shape \(5, 2\)"),
    (lambda: t.terms(replace(W_mu=np.ones((2, 5, 1))), A), "W_mu must have 2 dimension"),
    (lambda: t.mie(replace(b_sigma=np.ones(3)), A), r"b_sigma must have shape \(2,\)"),
    (lambda: t.encoder_optimum(np.ones((5, 2)), np.ones(4), 1.0), r"b_D must have shape \(5,\)"),
    (lambda: t.encoder_optimum(np.ones((5, 2)), np.ones(5), 0.0), "^beta must be a finite number > 0"),
    (lambda: t.encoder_optimum(np.full((5, 2), np.nan), np.ones(5), 1.0), "^D must be finite"),
    (lambda: t.encoder_optimum(np.ones((5, 2)), np.full(5, np.inf), 1.0), "^b_D must be finite"),
    (lambda: t.encoder_optimum(np.ones((5, 2)), np.ones((5, 1)), 1.0), "^b_D must have 1 dimension"),
    (lambda: t.sweep(A, [1.0, 0.0]), r"betas must lie in \(0, inf\)"),
    (lambda: t.number_of_optima(A, 0.0), "^beta must be a finite number > 0"),
    (lambda: t.signed_permutations(0), "^k must be an integer >= 1"),
    (lambda: t.paper_mixing(1, 2), "A's number of rows N must be an integer >= 2"),
])
def test_bad_input_is_refused_with_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.integration
def test_phase_command_writes_figure_csv_and_extrema(tmp_path, capsys):
    assert main(["phase", "optimal-beta", "--N", "6", "--points", "60", "--output-dir", str(tmp_path),
                 "--name", "fig"]) == 0
    assert (tmp_path / "fig.png").stat().st_size > 10_000
    with open(tmp_path / "fig.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 60 and {"beta", "elbo", "mie", "tie_min", "tie (+u1, -u2)"} <= set(rows[0])
    elbo = np.array([float(r["elbo"]) for r in rows])
    beta = np.array([float(r["beta"]) for r in rows])
    assert abs(np.log(beta[np.argmax(elbo)])) < np.log(beta[1] / beta[0])
    with open(tmp_path / "fig_extrema.csv") as fh:
        extrema = list(csv.DictReader(fh))
    assert {e["quantity"] for e in extrema} == {"elbo", "log_likelihood", "mie", "tie"}
    assert "tie" in capsys.readouterr().out


def test_phase_command_reads_a_mixing_matrix_and_refuses_bad_ranges(tmp_path, capsys):
    path = tmp_path / "A.csv"
    np.savetxt(path, np.array([[2.0, 0.73], [0.73, 2.0]]), delimiter=",")
    assert main(["phase", "tractable-beta-vae", "--mixing", str(path), "--points", "20",
                 "--output-dir", str(tmp_path), "--name", "fig3"]) == 0
    assert (tmp_path / "fig3.csv").exists()
    assert main(["phase", "optimal-beta", "--beta-min", "2", "--beta-max", "1", "--output-dir", str(tmp_path)]) == 2
    assert "--beta-max must exceed --beta-min" in capsys.readouterr().err
    assert main(["phase", "optimal-beta", "--points", "2", "--output-dir", str(tmp_path)]) == 2
    assert "--points must be an integer >= 3" in capsys.readouterr().err


def test_a_tie_between_collapsed_eigenvalues_leaves_the_optima_finite():
    """λ = (5, 1) and the appended noise eigenvalue 1 of N > k tie below β = 2: only latent 1 is
    active, so there are k!/(k-1)! 2 = 4 isolated optima (the continuum needs an active tie);
    at β = 0.5 the tie is active and the optima form a continuum."""
    A3 = np.array([[2.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    assert t.number_of_optima(A3, 2.0) == len(t.optima(A3, 2.0)) == 4
    assert t.number_of_optima(A3, 0.5) == math.inf


def test_the_tie_rule_of_number_of_optima():
    """Two eigenvalues tie iff |λ_i - λ_{i+1}| <= rtol λ_{i+1} (relative only; rtol = 1e-9 by
    default), and only a square A (N = k) has no (k+1)-th eigenvalue 1 to tie with."""
    # N = k = 3, s_3 = 0: λ = (5, 2, 1), all active at β = 0.5 and distinct: 3! 2³ isolated optima
    assert t.number_of_optima(np.diag([2.0, 1.0, 0.0]), 0.5) == 48
    assert t.number_of_optima(np.array([[2.0, 0.0], [0.0, 0.0], [0.0, 0.0]]), 0.5) == math.inf   # N > k: λ_2 = 1 ties
    # λ = (2 + 5e-9, 2): a relative gap of 2.5e-9, apart at rtol 1e-9 (an absolute 1e-8 would tie them)
    A = np.array([[1.0, 0.0], [0.0, np.sqrt(1 + 5e-9)], [0.0, 0.0]])
    assert t.number_of_optima(A, 0.5) == 8
    assert t.number_of_optima(A, 0.5, rtol=1e-8) == math.inf
