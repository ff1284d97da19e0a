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


# ---------------------------------------------------------------- every argument by name (issue 20)

_A3 = t.paper_mixing(3, 2)
_P3 = t.optimum(_A3, 0.7)
_M3 = t.encoder_moments(_P3, _A3)
_X = np.random.default_rng(0).standard_normal((4, 3))


def _tractable_calls():
    return [
        (t.check_mixing, {"A": _A3}),
        (t.paper_mixing, {"N": 3, "k": 2}),
        (t.Sigma_x, {"A": _A3}),
        (t.posterior, {"M": _A3}),
        (t.terms, {"params": _P3, "A": _A3}),
        (t.objective, {"params": _P3, "A": _A3, "beta": 0.7}),
        (t.gradient, {"params": _P3, "A": _A3, "beta": 0.7}),
        (t.log_likelihood, {"params": _P3, "A": _A3}),
        (t.mie, {"params": _P3, "A": _A3}),
        (t.tie, {"params": _P3, "A": _A3}),
        (t.quantities, {"params": _P3, "A": _A3, "beta": 0.7}),
        (t.encoder_moments, {"params": _P3, "A": _A3}),
        (t.sweep, {"A": _A3, "betas": [0.5, 0.7]}),
        (t.minimise_over_beta, {"f": lambda b: (b - 0.6) ** 2, "betas": [0.5, 0.7]}),   # no 1-D rule here
        (t.sample_moments, {"mu": _X[:, :2], "log_sigma2": _X[:, 1:], "x": _X, "A": _A3}),
        (t.relabelled_tie, {"m": _M3, "perm": [1, 0], "signs": [1, -1]}),
    ]


_BAD = {"A": [np.full((3, 2), np.nan), np.ones(3), np.ones((3, 2, 1))], "M": [np.full((3, 2), np.inf), np.ones(3)],
        "N": [0, 1.5], "k": [0], "beta": [np.nan, 0.0, -1.0], "betas": [[0.5, np.nan], [0.5, 0.0], [[0.5, 0.7]]],
        "mu": [np.full((4, 2), np.nan), np.ones((3, 2)), np.ones((4, 3)), np.ones(4)],
        "log_sigma2": [np.full((4, 2), np.nan), np.ones((3, 2)), np.ones((4, 1))],
        "x": [np.full((4, 3), np.nan), np.ones((4, 2)), np.ones(3)],
        "perm": [[0, 0], [0, 1, 2], [1, 2]], "signs": [[1, 0], [1, -1, 1], [[1, -1]]]}


@pytest.mark.parametrize("function, kwargs", _tractable_calls(), ids=lambda x: getattr(x, "__name__", ""))
def test_every_argument_of_the_tractable_functions_is_checked_by_name(function, kwargs):
    """Each public function runs on valid arguments and, for each argument made invalid in turn (a
    NaN, a wrong number of dimensions, a wrong shape, β = 0, a repeated label), refuses it with a
    ValueError whose message starts with the argument's exact name (kills the mutants that rename,
    drop or replace a name, an ndim or a shape in a check)."""
    function(**kwargs)
    for name in kwargs:
        for bad in _BAD.get(name, []):
            if function is t.minimise_over_beta and np.ndim(bad) > 1:
                continue
            with pytest.raises(ValueError, match=rf"^{name} must (be|have|lie)"):
                function(**{**kwargs, name: bad})


_SHAPES = {"W_mu": (2, 3), "b_mu": (2,), "W_sigma": (2, 3), "b_sigma": (2,), "D": (3, 2), "b_D": (3,)}


@pytest.mark.parametrize("function", [t.terms, t.log_likelihood, t.mie, t.tie, t.encoder_moments, t.check_parameters,
                                      lambda p, A: t.objective(p, A, 0.7), lambda p, A: t.gradient(p, A, 0.7),
                                      lambda p, A: t.quantities(p, A, 0.7)])
def test_every_parameter_is_checked_by_name_for_finiteness_dimensions_and_shape(function):
    """Each of the six parameters, in every function that takes a network: a NaN, one dimension too
    many and the wrong size (transposed for matrices, one entry short for vectors) are each refused
    with the parameter's name, the shape expected for A (3 x 2) and the one received."""
    for name, shape in _SHAPES.items():
        good = getattr(_P3, name)
        wrong = good.T if good.ndim == 2 else good[:-1]
        cases = [(np.full(shape, np.nan), f"{name} must be finite; it contains NaN or inf"),
                 (good[..., None], f"{name} must have {len(shape)} dimension(s); got shape {shape + (1,)}"),
                 (wrong, f"{name} must have shape {shape} for A of shape (3, 2); got {wrong.shape}")]
        for value, message in cases:
            with pytest.raises(ValueError) as info:
                function(t.Parameters(**{**_P3.as_dict(), name: value}), _A3)
            assert str(info.value) == message


def test_the_mixing_matrix_rules_and_the_paper_default():
    """A square A (N = k) and a 1 x 1 A are accepted, N < k refused by its own rule; paper_mixing
    defaults to the N = 128, k = 2 matrix of Fig. 1 with A_ij = (1 + δ_ij)/2 (§IV.B)."""
    assert t.check_mixing(np.eye(2)).shape == (2, 2)
    assert t.paper_mixing(1, 1).tolist() == [[1.0]]
    assert t.paper_mixing(2, 2).tolist() == [[1.0, 0.5], [0.5, 1.0]]
    with pytest.raises(ValueError, match=r"^A's number of rows N must be an integer >= 3; got 2$"):
        t.check_mixing(np.ones((2, 3)))
    A = t.paper_mixing()
    assert A.shape == (128, 2)
    assert A[0].tolist() == [1.0, 0.5] and A[1].tolist() == [0.5, 1.0] and np.all(A[2:] == 0.5)


def test_relabelling_defaults_are_the_identity():
    """Without perm/signs, relabelled_tie is the paper's TIE (latent j against source j): the
    moments route equals model.tie (eq. 25 with the ground-truth posterior, a separate code path)
    and the explicit identity; a flipped sign gives another value."""
    value = t.relabelled_tie(_M3)
    assert value == pytest.approx(t.tie(_P3, _A3), rel=1e-12)
    assert value == t.relabelled_tie(_M3, [0, 1], [1, 1]) == t.relabelled_tie(_M3, perm=[0, 1]) \
        == t.relabelled_tie(_M3, signs=[1, 1])
    assert t.relabelled_tie(_M3, signs=[-1, 1]) > value + 1e-3


def test_sweep_defaults_chunks_and_scalar_beta(capsys):
    """A sweep split into chunks of one β equals the default chunking; no progress bar by default;
    a scalar β is a grid of one; the counts are number_of_optima's."""
    betas = [0.3, 0.9, 1.6, 4.0]
    whole, split = t.sweep(_A3, betas), t.sweep(_A3, betas, chunk=1)
    assert capsys.readouterr().err == ""
    for name in ("objective", "elbo", "reconstruction", "kl", "log_likelihood", "mie", "tie"):
        assert getattr(split, name) == pytest.approx(getattr(whole, name), rel=1e-12, abs=1e-14)
    assert whole.tie.shape == (4, 8) and len(whole.branches) == 8
    assert whole.n_optima.tolist() == [t.number_of_optima(_A3, b) for b in betas]
    one = t.sweep(_A3, 0.9)
    assert one.beta.shape == (1,) and one.elbo[0] == pytest.approx(whole.elbo[1], rel=1e-14)
    q = t.quantities(t.optimum(_A3, 0.9), _A3, 0.9)
    assert whole.elbo[1] == pytest.approx(q.elbo, rel=1e-12) and whole.mie[1] == pytest.approx(q.mie, rel=1e-12)


def test_minimise_over_beta_edges_refinement_and_the_grid_fallback():
    """The grid minimum on an end point is returned as it is; inside, Brent's search in log β
    between the neighbours finds f = (log β - log 2)² at β = 2; when the given grid values lie below
    what f gives there (Brent cannot match them), the grid point is kept; when Brent only ties the
    grid value, the refined point is taken."""
    grid = np.array([0.5, 1.0, 1.5, 3.0, 4.0])

    def f(b):
        return (math.log(b) - math.log(2.0)) ** 2

    assert t.minimise_over_beta(lambda b: b, grid) == (0.5, 0.5)
    assert t.minimise_over_beta(lambda b: -b, grid) == (4.0, -4.0)
    beta, value = t.minimise_over_beta(f, grid)
    assert beta == pytest.approx(2.0, rel=1e-8) and value == pytest.approx(0.0, abs=1e-15)
    values = np.array([f(b) for b in grid]) - 1.0
    assert t.minimise_over_beta(f, grid, values) == (1.5, values[2])
    beta, value = t.minimise_over_beta(lambda b: 0.0, grid, [1.0, 0.0, 1.0, 1.0, 1.0])
    assert value == 0.0 and 0.5 < beta < 1.5 and beta != 1.0


def test_sweep_objective_progress_bar_and_moments_of_a_network_off_the_optimum(capsys):
    """The sweep's objective is reconstruction - β KL (eq. 6) as quantities gives it; progress=True
    draws the 'beta sweep' bar; at a random network with b_μ ≠ 0 the moments route (relabelled_tie,
    latent_kl) equals model.tie and the KL of terms (eq. 25, 39: another code path)."""
    betas = [0.3, 1.6]
    sw = t.sweep(_A3, betas, progress=True)
    assert "beta sweep" in capsys.readouterr().err
    for j, b in enumerate(betas):
        assert sw.objective[j] == pytest.approx(t.quantities(t.optimum(_A3, b), _A3, b).objective, rel=1e-12)
    rng = np.random.default_rng(5)
    p = t.Parameters(**{name: 0.4 * rng.standard_normal(shape) for name, shape in _SHAPES.items()})
    m = t.encoder_moments(p, _A3)
    assert t.relabelled_tie(m) == pytest.approx(t.tie(p, _A3), rel=1e-12)
    assert np.sum(t.latent_kl(m)) == pytest.approx(t.terms(p, _A3)[1], rel=1e-12)
