"""Bad input and numerical edge cases of numerics.linear_gaussian_vae: clear errors that
name the argument, and no silent NaN on near-singular data or huge beta."""
import inspect
import re

import numpy as np
import pytest

from collapse.cli import main
from numerics import linear_gaussian_vae as lgv
from numerics.reference import finite_differences
from numerics.reference import linear_gaussian_vae as ref
from property_tests.strategies import spd_from

n, m = 4, 2
GOOD = dict(A=np.ones((n, m)), B=np.ones((m, n)), Sigma_z=np.eye(n), Sigma_w=np.eye(m), Sigma_y=np.eye(n))


@pytest.mark.parametrize("change, message", [
    ({"Sigma_y": np.array([[1.0, 0.5], [0.0, 1.0]])}, "Sigma_y must be symmetric"),
    ({"Sigma_y": -np.eye(n)}, "Sigma_y must be symmetric positive definite; smallest eigenvalue is -1"),
    ({"Sigma_z": np.eye(n + 1)}, "Sigma_z must have shape 4x4"),
    ({"A": np.ones((n, m + 1))}, "A must have shape 4x2"),
    ({"B": np.ones((m, n + 1))}, "B must have shape \\?x4"),
    ({"Sigma_w": np.full((m, m), np.nan)}, "Sigma_w must be finite"),
    ({"A": np.full((n, m), np.inf)}, "A must be finite"),
    ({"Sigma_w": np.diag([1.0, 0.0])}, "Sigma_w must be symmetric positive definite"),
])
def test_objective_rejects_bad_matrices(change, message):
    with pytest.raises(ValueError, match=message):
        lgv.objective(**{**GOOD, **change}, beta=2.0)


@pytest.mark.parametrize("beta, lam, message", [
    (0.0, 0.0, "beta must be a finite number > 0"), (-1.0, 0.0, "beta must be"),
    (np.nan, 0.0, "beta must be"), (1.0, -0.5, "lam must be a finite number >= 0"),
    (1.0, np.inf, "lam must be"),
])
def test_scalars_are_checked_everywhere(beta, lam, message):
    for call in (lambda: lgv.objective(**GOOD, beta=beta, lam=lam),
                 lambda: lgv.alternating(np.eye(n), beta, lam, m=m),
                 lambda: lgv.encoder_update(GOOD["A"], GOOD["Sigma_z"], beta, lam)):
        with pytest.raises(ValueError, match=message):
            call()


def test_alternating_checks_its_initialisation():
    with pytest.raises(ValueError, match="m must be an integer >= 1"):
        lgv.alternating(np.eye(n), 2.0, m=0)
    with pytest.raises(ValueError, match="B0 must have shape"):
        lgv.alternating(np.eye(n), 2.0, B0=np.ones((1, m, n + 1)), Sigma_w0=np.ones((1, m, m)))
    with pytest.raises(ValueError, match=r"Sigma_w0\[0\] must be symmetric positive definite"):
        lgv.alternating(np.eye(n), 2.0, B0=np.ones((1, m, n)), Sigma_w0=-np.ones((1, m, m)))
    with pytest.raises(ValueError, match="tol must be"):
        lgv.alternating(np.eye(n), 2.0, m=m, tol=0.0)


def _refused(message, call, *args, **kwargs):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        call(*args, **kwargs)


def test_fixed_point_refuses_regimes_without_an_attracting_one():
    _refused("for beta=0.5, lam=1.0 (beta < 1, or beta = 1 with lam > 0) the only stationary point is the "
             "trivial saddle (0, 0, Sigma_y, I)", lgv.fixed_point, np.eye(n), 0.5, 1.0, m)
    _refused("at beta = 1, lam = 0 the stationary points form a continuum; run `alternating` from an "
             "initialisation instead", lgv.fixed_point, np.eye(n), 1.0, 0.0, m)


def test_metrics_refuse_inputs_outside_their_definition():
    _refused("SAP needs at least 2 latent dimensions; S has shape (1, 3)", lgv.sap, np.ones((1, 3)))
    _refused("lim: Sigma_v must be diagonal (independent factors), as §4.1 assumes",
             lgv.lim, np.eye(2), np.ones((2, 2)), np.array([[1.0, 0.5], [0.5, 1.0]]))
    _refused("lim(method='assignment') needs s <= m; got m=1, s=2",
             lgv.lim, 2 * np.eye(1), np.ones((1, 2)), np.eye(2), method="assignment")
    _refused("method must be 'partition' or 'assignment'; got 'greedy'",
             lgv.lim, 2 * np.eye(2), np.ones((2, 2)), np.eye(2), method="greedy")
    _refused("MIG of eq. (11) needs H(v_j) > 0, i.e. Var(v_j) > 1/(2 pi e) = 0.0585; smallest variance is 0.05",
             lgv.mig, np.ones((2, 2)), np.diag([1.0, 0.05]))


@pytest.mark.parametrize("log10_cond", [6, 10])
@pytest.mark.parametrize("beta, lam", [(0.5, 0.0), (1.0, 0.0), (1.5, 2.0), (3.0, 0.0), (1e6, 0.0), (1e6, 8.0)])
def test_near_singular_data_and_huge_beta_never_give_silent_nan(log10_cond, beta, lam):
    """cond(Sigma_y) up to 1e10 and beta up to 1e6: every trial ends finite, flagged stationary
    or not; none silently NaN."""
    Sigma_y = spd_from(3, 8, log10_cond)
    r = lgv.alternating(Sigma_y, beta, lam, m=3, trials=5, seed=0, max_iter=5_000)
    for field in ("A", "B", "Sigma_z", "Sigma_w"):
        assert np.all(np.isfinite(getattr(r, field))), field
    assert np.all(r.regular | ~r.stationary)
    if lgv.converges_to_stationary_point(beta, lam):
        assert r.stationary.all() and r.converged.all()
    else:
        assert not r.stationary.any()


@pytest.mark.integration
def test_phase_command_writes_csv_and_figures(tmp_path):
    """A small grid through the CLI: CSV, both figures and the settings file."""
    code = main(["phase", "linear-gaussian-vae", "--n", "6", "--m", "2", "--s", "2", "--trials", "3",
                 "--betas", "0.5", "1", "2", "8", "--l2-weights", "0", "2", "--output", str(tmp_path)])
    assert code == 0
    text = (tmp_path / "phase_linear_gaussian_vae.csv").read_text().splitlines()
    assert len(text) == 1 + 8 and text[0].startswith("beta,l2_weight,beta_c,reconstruction")
    for name in ("fig2_beta_vae.png", "fig3_lambda_beta_vae.png", "settings.json"):
        assert (tmp_path / name).stat().st_size > 1000 or name == "settings.json"


def test_a_cap_that_stops_every_trial_labels_every_metric_but_the_drift_limits(capsys):
    """At a cap of 3 steps no trial of any cell has stopped moving, so every metric of every
    cell is ``cap_dependent``, except the three limits that replace the values at beta = 1,
    lambda > 0 (lambda = 0.5 and 4: the rule is lambda > 0, not lambda > 1). The library prints
    nothing unless asked for progress, and refuses an unknown engine before any work."""
    Gamma, Sigma_v, Sigma_y = lgv.figure_model()
    rows = lgv.phase_diagram(Sigma_y, Gamma, Sigma_v, [0.5, 1.0, 4.0], [0.0, 0.5, 4.0], m=10, trials=3,
                             max_iter=3, drift_max_iter=3)
    limits = lgv.sublinear_limits(Sigma_y, Gamma, Sigma_v, 10)
    for row in rows:
        assert row["iterations"] == 3 and row["stationary"] == 0
        if row["beta"] == 1 and row["l2_weight"] > 0:
            assert row["cap_dependent"] == "sap;mig;lim"
            assert {key: row[key] for key in limits} == limits
        else:
            assert row["cap_dependent"] == ";".join(lgv.PHASE_METRICS), (row["beta"], row["l2_weight"])
            assert all(row[key] != limits[key] for key in limits)
    assert capsys.readouterr() == ("", "")
    with pytest.raises(ValueError, match="engine must be one of"):
        lgv.phase_diagram(Sigma_y, Gamma, Sigma_v, [2.0], [0.0], m=10, trials=2, engine="cuda")


def test_a_trial_that_becomes_stationary_on_the_last_allowed_step_is_not_cap_dependent():
    """The boundary of the label: at (beta, lambda) = (4, 4) the trial is stationary after t steps;
    with the cap at t nothing moves with the cap, one step fewer and every metric does."""
    Gamma, Sigma_v, Sigma_y = lgv.figure_model()
    cell = lambda **kw: lgv.phase_diagram(Sigma_y, Gamma, Sigma_v, [4.0], [4.0], m=10, trials=1, **kw)[0]
    t = int(cell()["iterations"])
    assert cell(max_iter=t)["stationary"] == 1 and cell(max_iter=t)["cap_dependent"] == ""
    assert cell(max_iter=t - 1)["stationary"] == 0
    assert cell(max_iter=t - 1)["cap_dependent"] == ";".join(lgv.PHASE_METRICS)


def test_sublinear_limits_are_the_beta_to_one_end_of_the_closed_form_family():
    """``sublinear_limits`` against another route: the closed-form stationary points of
    ``fixed_point`` at c = (beta - 1) / (2 lambda) -> 0, their metrics computed by ``terms``, the
    SVD and eq. (28). On random models with distinct eigenvalues (the Fig. 3 model has 45 equal
    noise eigenvalues, where d_(m-1), d_m and d_(m+1) coincide), m below, equal to and above the
    number of signal modes."""
    rng = np.random.default_rng(11)
    for n, s, m in ((7, 3, 2), (7, 3, 3), (9, 4, 6)):
        Gamma = rng.standard_normal((n, s))
        Sigma_v = np.diag(rng.uniform(0.5, 2.0, s))
        Sigma_y = Gamma @ Sigma_v @ Gamma.T + np.diag(rng.uniform(0.05, 0.3, n))
        limits = lgv.sublinear_limits(Sigma_y, Gamma, Sigma_v, m)
        lam, c = 2.0, 1e-10
        fp = lgv.fixed_point(Sigma_y, 1 + 2 * lam * c, lam, m)
        closed = {"reconstruction": lgv.terms(fp.A, fp.B, fp.Sigma_z, fp.Sigma_w, Sigma_y)[2],
                  "spectral_norm_B": np.linalg.svd(fp.B, compute_uv=False)[0],
                  "information": float(lgv.mutual_information(fp.B, fp.Sigma_w, Gamma, Sigma_v, Sigma_y))}
        for key, value in closed.items():       # the family moves by O(c) = 1e-10
            assert limits[key] == pytest.approx(value, rel=1e-7), (key, n, m)


def test_phase_diagram_rows_are_the_metrics_of_direct_alternating_runs():
    """Every column of ``phase_diagram`` against ``alternating`` run directly and each metric
    computed again from its output by another call (||B||_2 as the largest singular value,
    E||y - Ax||^2 from ``terms``); on the Fig. 3 model at (beta, lambda) = (4, 4), where the
    Frobenius norm of B would read 1.70 instead of ||B||_2 = 0.79."""
    Gamma, Sigma_v, Sigma_y = lgv.figure_model()
    betas, lambdas, trials = [0.5, 1.0, 4.0, 64.0], [0.0, 0.5, 4.0], 4
    rows = lgv.phase_diagram(Sigma_y, Gamma, Sigma_v, betas, lambdas, m=10, trials=trials, seed=3,
                             drift_max_iter=300)
    assert [(r["beta"], r["l2_weight"]) for r in rows] == [(b, l) for l in lambdas for b in betas]
    B0, Sigma_w0 = lgv.random_initialisation(10, 50, trials, np.random.default_rng(3))
    for row in rows:
        beta, lam = row["beta"], row["l2_weight"]
        cap = 50_000 if lgv.converges_to_stationary_point(beta, lam) else 300
        r = lgv.alternating(Sigma_y, beta, lam, B0=B0, Sigma_w0=Sigma_w0, max_iter=cap)
        Sigma_x, Sigma_xv = lgv.latent_factor_covariances(r.B, r.Sigma_w, Gamma, Sigma_v, Sigma_y)
        S = lgv.squared_correlations(Sigma_x, Sigma_xv, Sigma_v)
        direct = {
            "reconstruction": [lgv.terms(A, B, Sz, Sw, Sigma_y)[2]
                               for A, B, Sz, Sw in zip(r.A, r.B, r.Sigma_z, r.Sigma_w)],
            "sap": lgv.sap(S), "mig": lgv.mig(S, Sigma_v), "lim": lgv.lim(Sigma_x, Sigma_xv, Sigma_v),
            "spectral_norm_B": [np.linalg.svd(B, compute_uv=False)[0] for B in r.B],
            "information": lgv.mutual_information(r.B, r.Sigma_w, Gamma, Sigma_v, Sigma_y),
        }
        assert set(row) == {"beta", "l2_weight", "beta_c", "converged", "stationary", "regular", "iterations",
                            "cap_dependent", *direct, *(k + "_sd" for k in direct)}
        if beta == 1 and lam > 0:           # the never-ending drift: limits, and the rest labelled
            direct.update({key: [value] for key, value in lgv.sublinear_limits(Sigma_y, Gamma, Sigma_v, 10).items()})
            assert row["cap_dependent"] == "sap;mig;lim"
        for key, values in direct.items():
            assert row[key] == pytest.approx(np.mean(values), rel=1e-9, abs=1e-12), key
            assert row[key + "_sd"] == pytest.approx(np.std(values), rel=1e-6, abs=1e-12), key
        assert row["beta_c"] == pytest.approx(1 + 2 * lam * np.linalg.eigvalsh(Sigma_y)[-1], rel=1e-12)
        for key in ("converged", "stationary", "regular"):
            assert row[key] == np.mean(getattr(r, key)), key
        assert row["iterations"] == np.median(r.iterations)
        if (beta, lam) == (4.0, 4.0):
            assert row["spectral_norm_B"] == pytest.approx(0.79, abs=0.005)
            assert np.mean([np.linalg.norm(B) for B in r.B]) == pytest.approx(1.70, abs=0.005)


@pytest.mark.parametrize("n, m, lam", [(1, 1, 0.0), (3, 2, 0.7), (2, 3, 0.0), (4, 4, 2.0)])
def test_reference_objective_and_its_gradient_against_numerics_and_central_differences(n, m, lam):
    """The many-start minimisers descend numerics.reference's objective of Cholesky factors: its value
    is numerics' objective, its hand-derived gradient the central differences of the value."""
    rng = np.random.default_rng(n + 10 * m)
    point = {"A": rng.standard_normal((n, m)), "B": rng.standard_normal((m, n)),
             "Lz": np.tril(rng.standard_normal((n, n))) + 2 * np.eye(n),
             "Lw": np.tril(rng.standard_normal((m, m))) - 2 * np.eye(m)}   # a negative diagonal too
    Sigma_y, beta = spd_from(n, n, 1.0), 2.3
    value, grad = ref.objective_cholesky(**point, Sigma_y=Sigma_y, beta=beta, lam=lam)
    Lz, Lw = point["Lz"], point["Lw"]
    assert np.isclose(value, lgv.objective(point["A"], point["B"], Lz @ Lz.T, Lw @ Lw.T, Sigma_y, beta, lam),
                      rtol=1e-12)
    for name, X in point.items():
        f = lambda Y: ref.objective_cholesky(**{**point, name: Y}, Sigma_y=Sigma_y, beta=beta, lam=lam)[0]
        numeric = finite_differences.gradient(f, X, h=1e-6)
        numeric = np.tril(numeric) if name.startswith("L") else numeric
        assert np.linalg.norm(grad[name] - numeric) <= 1e-7 * np.linalg.norm(numeric), name
    # the chain rule through the exponentiated diagonal of cholesky_factor
    values = rng.standard_normal(n * (n + 1) // 2)
    L = ref.cholesky_factor(values, n)
    f = lambda v: ref.objective_cholesky(**{**point, "Lz": ref.cholesky_factor(v, n)}, Sigma_y=Sigma_y,
                                         beta=beta, lam=lam)[0]
    g = ref.cholesky_factor_gradient(ref.objective_cholesky(**{**point, "Lz": L}, Sigma_y=Sigma_y, beta=beta,
                                                            lam=lam)[1]["Lz"], L)
    numeric = finite_differences.gradient(f, values, h=1e-6)
    assert np.linalg.norm(g - numeric) <= 1e-7 * np.linalg.norm(numeric)


# ---------------------------------------------------------- phase_diagram's own logic (mutation testing, issue 20)


def _small_phase(m, **kwargs):
    Gamma, Sigma_v, Sigma_y = lgv.figure_model(n=6, s=2, seed=1)
    return Gamma, Sigma_v, Sigma_y, lgv.phase_diagram(Sigma_y, Gamma, Sigma_v, [0.99, 2.0], [0.0], m=m, **kwargs)


def test_phase_diagram_defaults_are_the_documented_settings():
    """Called without them, phase_diagram uses trials=100, seed=0, tol=1e-6, max_iter=50 000,
    drift_max_iter=2 000 (its signature, the settings the README's figures state): every column
    equals the run with those values spelled out, and differs from the runs with one of them
    changed (the drift cell, beta = 0.99, runs into its 2 000-iteration cap)."""
    stated = dict(trials=100, seed=0, tol=1e-6, max_iter=50_000, drift_max_iter=2_000)
    assert {k: p.default for k, p in inspect.signature(lgv.phase_diagram).parameters.items() if k in stated} == stated
    *_, default = _small_phase(2)
    *_, explicit = _small_phase(2, **stated)
    assert default == explicit
    assert default[0]["iterations"] == 2_000 and default[1]["stationary"] == 1.0
    for change in (dict(trials=99), dict(seed=1), dict(drift_max_iter=1_999)):
        *_, other = _small_phase(2, **{**stated, **change})
        assert other != default, change


def test_phase_diagram_budget_tolerance_and_one_or_two_latents():
    """A converging cell (beta = 2) runs up to max_iter, not drift_max_iter, and stops at ``tol``
    (the same iterates as ``alternating`` with that tol); SAP and MIG need two latents: with
    m = 2 they are computed (equal to sap/mig of the direct run), with m = 1 they are 0."""
    Gamma, Sigma_v, Sigma_y, rows = _small_phase(2, trials=3, tol=1e-9, drift_max_iter=2)
    B0, Sigma_w0 = lgv.random_initialisation(2, 6, 3, np.random.default_rng(0))
    r = lgv.alternating(Sigma_y, 2.0, 0.0, B0=B0, Sigma_w0=Sigma_w0, tol=1e-9)
    assert rows[1]["iterations"] == np.median(r.iterations) > 2 and rows[1]["stationary"] == 1.0
    S = lgv.squared_correlations(*lgv.latent_factor_covariances(r.B, r.Sigma_w, Gamma, Sigma_v, Sigma_y), Sigma_v)
    assert rows[1]["sap"] == pytest.approx(np.mean(lgv.sap(S)), rel=1e-9) and rows[1]["sap"] > 0
    assert rows[1]["mig"] == pytest.approx(np.mean(lgv.mig(S, Sigma_v)), rel=1e-9) and rows[1]["mig"] > 0
    *_, single = _small_phase(1, trials=3, drift_max_iter=2)
    assert all(row[k] == 0.0 for row in single for k in ("sap", "sap_sd", "mig", "mig_sd"))


@pytest.mark.parametrize("kwargs, message", [
    (dict(Sigma_y=-np.eye(3)), "Sigma_y"), (dict(m=0), "m must"), (dict(trials=0), "trials must")])
def test_phase_diagram_errors_name_the_argument(kwargs, message):
    args = dict(Sigma_y=np.eye(3), Gamma=np.eye(3), Sigma_v=np.eye(3), betas=[2.0], l2_weights=[0.0], m=1, trials=1)
    with pytest.raises(ValueError, match=f"^{message}"):
        lgv.phase_diagram(**{**args, **kwargs})


def _valid_problem():
    """A small valid (A, B, Sigma_z, Sigma_w, Sigma_y) with n = 4, m = 2."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 4))
    return {"A": rng.standard_normal((4, 2)), "B": rng.standard_normal((2, 4)), "Sigma_z": np.eye(4),
            "Sigma_w": np.eye(2), "Sigma_y": X @ X.T + np.eye(4)}


_NOT_SPD = np.array([[1.0, 2.0], [0.0, 1.0]])
_BAD = {"A": np.ones((3, 2)), "B": np.ones((2, 3)), "Sigma_z": _NOT_SPD, "Sigma_w": _NOT_SPD, "Sigma_y": _NOT_SPD,
        "beta": -1.0, "lam": -1.0, "m": 0, "trials": 0, "tol": 0.0, "max_iter": 0, "steps": 0, "lr": -1.0,
        "n": 0, "s": 0, "sigma2": 0.0}


def _calls():
    p = _valid_problem()
    five = {k: p[k] for k in ("A", "B", "Sigma_z", "Sigma_w", "Sigma_y")}
    return [
        (lgv.terms, five),
        (lgv.objective, {**five, "beta": 2.0, "lam": 0.5}),
        (lgv.gradients, {**five, "beta": 2.0, "lam": 0.5}),
        (lgv.decoder_update, {k: p[k] for k in ("B", "Sigma_w", "Sigma_y")}),
        (lgv.encoder_update, {"A": p["A"], "Sigma_z": p["Sigma_z"], "beta": 2.0, "lam": 0.5}),
        (lgv.mode_thresholds, {"Sigma_y": p["Sigma_y"], "lam": 0.5}),
        (lgv.collapse_threshold, {"Sigma_y": p["Sigma_y"], "lam": 0.5}),
        (lgv.converges_to_stationary_point, {"beta": 2.0, "lam": 0.5}),
        (lgv.trivial_point_index, {"Sigma_y": p["Sigma_y"], "beta": 2.0, "lam": 0.5, "m": 2}),
        (lgv.fixed_point, {"Sigma_y": p["Sigma_y"], "beta": 2.0, "lam": 0.5, "m": 2}),
        (lgv.figure_model, {"n": 6, "s": 2, "sigma2": 0.05}),
        (lgv.alternating, {"Sigma_y": p["Sigma_y"], "beta": 2.0, "lam": 0.5, "m": 2, "trials": 2, "tol": 1e-6,
                           "max_iter": 5}),
        (lgv.adam, {"Sigma_y": p["Sigma_y"], "beta": 2.0, "lam": 0.5, "m": 2, "trials": 2, "steps": 3, "lr": 1e-2}),
    ]


@pytest.mark.parametrize("function, kwargs", _calls(), ids=lambda x: getattr(x, "__name__", ""))
def test_every_argument_of_the_model_functions_is_checked_by_name(function, kwargs):
    """Each public function of the linear-Gaussian model runs on valid arguments and, for each
    argument made invalid in turn (a non-square or non-symmetric matrix, a negative weight, a
    zero count), refuses it with a ValueError whose message starts with the argument's name."""
    function(**kwargs)
    for name in kwargs:
        with pytest.raises(ValueError, match=rf"^{name} (must|has)"):
            function(**{**kwargs, name: _BAD[name]})


def test_the_model_functions_default_to_the_beta_vae():
    """lambda = 0 when it is not given: the beta-VAE of eq. (6), not the lambda-beta-VAE of eq. (8)."""
    p = _valid_problem()
    five = [p[k] for k in ("A", "B", "Sigma_z", "Sigma_w", "Sigma_y")]
    assert lgv.objective(*five, 2.0) == lgv.objective(*five, 2.0, 0.0) != lgv.objective(*five, 2.0, 1.0)
    g0, g = lgv.gradients(*five, 2.0, 0.0), lgv.gradients(*five, 2.0)
    assert all(np.array_equal(g[k], g0[k]) for k in g0)
    assert not np.array_equal(g["A"], lgv.gradients(*five, 2.0, 1.0)["A"])
    e = lgv.encoder_update(p["A"], p["Sigma_z"], 2.0)
    assert all(np.array_equal(a, b) for a, b in zip(e, lgv.encoder_update(p["A"], p["Sigma_z"], 2.0, 0.0)))


def test_fixed_point_modes_exactly_at_c_and_at_lambda_0():
    """A mode whose eigenvalue equals c = (beta - 1) / (2 lambda) has gain sqrt(d - c) = 0: it is
    collapsed and not counted active (Sigma_y = diag(4, 2, 1), lambda = 1, beta = 5: c = 2, one
    active mode). At lambda = 0 (c = infinity) every beta > 1 gives the collapsed point."""
    Sigma_y = np.diag([4.0, 2.0, 1.0])
    fp = lgv.fixed_point(Sigma_y, 5.0, 1.0, 3)
    assert fp.c == 2.0 and fp.active == 1
    assert np.count_nonzero(np.abs(fp.B).sum(axis=1) > 0) == 1
    collapsed = lgv.fixed_point(Sigma_y, 1.5, 0.0, 2)
    assert collapsed.active == 0 and collapsed.c == np.inf
    assert np.array_equal(collapsed.B, np.zeros((2, 3))) and np.array_equal(collapsed.Sigma_w, np.eye(2))


def test_given_initialisations_are_checked_by_name_and_shape():
    Sigma_y = _valid_problem()["Sigma_y"]
    B0, Sw0 = np.ones((2, 3, 4)), np.broadcast_to(np.eye(3), (2, 3, 3)).copy()
    run = lambda **kw: lgv.alternating(Sigma_y, 2.0, **{"B0": B0, "Sigma_w0": Sw0, "max_iter": 3, **kw})
    run()
    _refused("B0 must have 3 dimension(s); got shape (3, 4)", run, B0=B0[0])
    _refused("B0 must have shape (trials, m, 4); got (2, 3, 5)", run, B0=np.ones((2, 3, 5)))
    _refused("Sigma_w0 must have shape (2, 3, 3); got (2, 2, 2)", run, Sigma_w0=np.ones((2, 2, 2)))
    _refused("Sigma_w0 must have 3 dimension(s); got shape (3, 3)", run, Sigma_w0=Sw0[0])
    bad = Sw0.copy()
    bad[1, 0, 0] = -1.0
    with pytest.raises(ValueError, match=r"^Sigma_w0\[1\] must be symmetric positive definite"):
        run(Sigma_w0=bad)


def test_adams_log_cholesky_parameters_and_their_gradient():
    """The parameters AdamW steps (optimizer.py): L = strictly lower part of theta plus
    diag(exp(theta_ii)), and the gradient of f(L L^T) in theta against central finite
    differences, for f(Sigma) = <W, Sigma> (df/dSigma = W), one matrix and a batch of two.
    Adam divides each coordinate by its own running scale, so a wrong factor in this gradient
    would hardly change where it goes: only this check sees it."""
    from numerics.linear_gaussian_vae.optimizer import _chol, _chol_grad

    rng = np.random.default_rng(5)
    for shape in ((4, 4), (2, 3, 3)):
        theta = rng.normal(0, 0.5, shape)
        W = rng.standard_normal(shape)
        W = W + np.swapaxes(W, -1, -2)
        L = _chol(theta)
        assert np.array_equal(np.tril(L, -1), np.tril(theta, -1)) and np.array_equal(np.triu(L, 1), np.zeros(shape))
        assert np.array_equal(np.diagonal(L, axis1=-2, axis2=-1), np.exp(np.diagonal(theta, axis1=-2, axis2=-1)))
        f = lambda t: float(np.sum(W * (_chol(t) @ np.swapaxes(_chol(t), -1, -2))))
        numeric = finite_differences.gradient(f, theta, h=1e-6)       # 0 above the diagonal: theta is unused there
        assert _chol_grad(theta, L, W) == pytest.approx(numeric, rel=1e-6, abs=1e-7)


def test_adam_defaults_and_its_record():
    """lambda = 0 and one trial unless given; the objective recorded at step 1 and every
    ``record_every`` steps (200 steps: 1, 100, 200), and it falls; no default budget."""
    Sigma_y = _valid_problem()["Sigma_y"]
    r = lgv.adam(Sigma_y, 2.0, m=2, seed=3, steps=200, lr=1e-2)
    assert r.A.shape == (1, 4, 2) and r.objective.shape == (3, 1)
    assert r.objective[-1, 0] < r.objective[0, 0]
    r0 = lgv.adam(Sigma_y, 2.0, 0.0, m=2, seed=3, steps=200, lr=1e-2)
    assert np.array_equal(r.objective, r0.objective)
    assert lgv.adam(Sigma_y, 2.0, m=2, seed=3, steps=200, lr=1e-2, record_every=50).objective.shape == (5, 1)
    with pytest.raises(TypeError, match="steps"):
        lgv.adam(Sigma_y, 2.0, m=2, lr=1e-2)


def test_sizes_must_agree_across_arguments():
    """m and n are read from B and Sigma_y; a covariance of another size is refused by name."""
    p = _valid_problem()
    _refused("Sigma_w must have shape 2x2; got 3x3", lgv.decoder_update, p["B"], np.eye(3), p["Sigma_y"])
    _refused("Sigma_w must have shape 2x2; got 3x3", lgv.terms, p["A"], p["B"], p["Sigma_z"], np.eye(3), p["Sigma_y"])
    _refused("Sigma_z must have shape 4x4; got 3x3", lgv.terms, p["A"], p["B"], np.eye(3), p["Sigma_w"], p["Sigma_y"])
    _refused("A must have shape 3x?; got 4x2", lgv.encoder_update, p["A"], np.eye(3), 2.0)


def _information(Sigma_x, Sigma_xv, Sigma_v, k, S):
    """I(x_k; v_S) = 1/2 log Var(x_k) / Var(x_k | v_S), the conditional variance by a linear solve."""
    if not S:
        return 0.0
    c = Sigma_xv[k, S]
    return 0.5 * np.log(Sigma_x[k, k] / (Sigma_x[k, k] - c @ np.linalg.solve(Sigma_v[np.ix_(S, S)], c)))


def _random_latents(rng, m, s, batch):
    """(Sigma_x, Sigma_xv) of ``batch`` random encoders (B, Sigma_w) of one model, and its Sigma_v."""
    Gamma, Sigma_v = rng.standard_normal((6, s)), np.diag(rng.uniform(0.5, 2.0, s))
    Sigma_y = Gamma @ Sigma_v @ Gamma.T + 0.3 * np.eye(6)
    B = rng.standard_normal((batch, m, 6))
    Sigma_w = np.stack([np.diag(rng.uniform(0.1, 1.0, m)) for _ in range(batch)])
    return (*lgv.latent_factor_covariances(B, Sigma_w, Gamma, Sigma_v, Sigma_y), Sigma_v)


def test_lim_is_the_best_split_of_the_factors_over_the_latents_by_brute_force():
    """Eq. (12) by enumeration: every map of the s factors to the m latents (m^s of them) and
    every injective one for the assignment reduction, against ``lim`` for each of three encoders
    and for the three as one batch (whose shape it keeps); one encoder gives a scalar."""
    import itertools

    rng = np.random.default_rng(8)
    for m, s in ((2, 3), (3, 2), (3, 3)):
        Sigma_x, Sigma_xv, Sigma_v = _random_latents(rng, m, s, 3)
        methods = ("partition", "assignment") if s <= m else ("partition",)
        brute = {method: [] for method in methods}
        for Sx, Sxv in zip(Sigma_x, Sigma_xv):
            info = lambda k, S: _information(Sx, Sxv, Sigma_v, k, list(S))
            brute["partition"].append(max(sum(info(k, [j for j in range(s) if owner[j] == k]) for k in range(m))
                                          for owner in itertools.product(range(m), repeat=s)))
            if s <= m:
                brute["assignment"].append(max(sum(info(k, [j]) for j, k in enumerate(ks))
                                               for ks in itertools.permutations(range(m), s)))
        for method in methods:
            one = [lgv.lim(Sx, Sxv, Sigma_v, method=method) for Sx, Sxv in zip(Sigma_x, Sigma_xv)]
            assert all(np.ndim(v) == 0 for v in one)
            assert [float(v) for v in one] == pytest.approx(brute[method], rel=1e-10), method
            batched = lgv.lim(Sigma_x, Sigma_xv, Sigma_v, method=method)
            assert batched.shape == (3,) and batched == pytest.approx(brute[method], rel=1e-10), method
        if s > m:
            for args in ((Sigma_x[0], Sigma_xv[0]), (Sigma_x, Sigma_xv)):
                _refused(f"lim(method='assignment') needs s <= m; got m={m}, s={s}",
                         lgv.lim, *args, Sigma_v, method="assignment")


def test_mig_is_refused_where_a_factor_entropy_is_not_positive():
    """Eq. (11) divides by H(v_j) = 1/2 log(2 pi e Var v_j): refused at Var = 1/(2 pi e) exactly
    (H = 0 in float64 too), computed at Var = 0.2 (0 < H = 0.61 < 1)."""
    S = np.array([[0.5, 0.1], [0.2, 0.4]])
    v0 = 1 / (2 * np.pi * np.e)
    assert lgv.factor_entropy(np.diag([v0, 1.0]))[0] == 0.0
    with pytest.raises(ValueError, match=r"^MIG of eq\. \(11\) needs H\(v_j\) > 0"):
        lgv.mig(S, np.diag([v0, 1.0]))
    H = lgv.factor_entropy(np.diag([0.2, 1.0]))
    assert 0 < H[0] < 1
    I = -0.5 * np.log1p(-S)
    expected = np.mean([(I[:, j].max() - I[:, j].min()) / H[j] for j in range(2)])
    assert lgv.mig(S, np.diag([0.2, 1.0])) == pytest.approx(expected, rel=1e-12)


def test_the_trivial_points_index_counts_modes_strictly_above_their_threshold():
    """Sigma_y = diag(4, 2, 1), lambda = 1: the thresholds 1 + 2 lambda d_i are 9, 5, 3 exactly. At
    beta = 5 the middle mode's Hessian eigenvalue is 0, not negative: m descent directions, not 2m."""
    Sigma_y = np.diag([4.0, 2.0, 1.0])
    assert list(lgv.mode_thresholds(Sigma_y, 1.0)) == [9.0, 5.0, 3.0]
    assert [lgv.trivial_point_index(Sigma_y, beta, 1.0, 2) for beta in (2.0, 3.0, 5.0, 8.0, 9.0)] == [6, 4, 2, 2, 0]


def test_alternating_defaults_flags_and_its_progress_bar(capsys):
    """lambda = 0 and one trial unless given; boolean flags and integer counts; silent unless
    asked, and then a bar named after the cell that is cleared when the run ends, whose total is
    the cap used without max_iter: 50 000, the signature's default (phase_diagram's too)."""
    _, _, Sigma_y = lgv.figure_model(n=6, s=2)
    r = lgv.alternating(Sigma_y, 2.0, m=2, seed=1)
    r0 = lgv.alternating(Sigma_y, 2.0, 0.0, m=2, seed=1, trials=1)
    assert r.B.shape == (1, 2, 6) and np.array_equal(r.B, r0.B) and np.array_equal(r.iterations, r0.iterations)
    for flag in ("converged", "stationary", "regular"):
        assert getattr(r, flag).dtype == bool, flag
    assert r.printed_stop.dtype.kind == "i" and r.iterations.dtype.kind == "i"
    assert capsys.readouterr() == ("", "")
    lgv.alternating(Sigma_y, 2.0, 0.5, m=2, seed=1, progress=True)
    bar = capsys.readouterr().err
    assert bar.startswith("\rAlgorithm 1 beta=2 lam=0.5:") and "\n" not in bar and bar.endswith("\r")
    assert inspect.signature(lgv.alternating).parameters["max_iter"].default == 50_000 and "| 0/50000 " in bar


def test_an_overflowing_run_warns_nothing_and_is_flagged():
    """Overflow and NaN inside Algorithm 1 are expected at extreme weights (beta = 1e-300 divides
    the encoder by beta; lambda = 1e300 multiplies it); they are handled by the regular flag, so
    no floating-point warning escapes (warnings as errors here) and the iterate kept is finite."""
    import warnings

    _, _, Sigma_y = lgv.figure_model(n=6, s=2)
    for beta, lam in ((1e-300, 0.0), (0.5, 1e300)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            r = lgv.alternating(Sigma_y, beta, lam, m=2, trials=3, seed=0, max_iter=50)
        assert not r.regular.any() and np.all(np.isfinite(r.B)), (beta, lam)


def test_adam_takes_the_adamw_steps_of_a_transcription_on_finite_difference_gradients():
    """Three steps of ``adam`` against AdamW written out here (Loshchilov & Hutter: moments,
    bias corrections, decoupled weight decay on A and B only) on the log-Cholesky parameters,
    with the gradient of eq. (6)/(8) taken by central finite differences of ``objective``: the
    parameters after each step and the recorded objective there (record_every = 1)."""
    _, _, Sigma_y = lgv.figure_model(n=4, s=2)
    B0, Sigma_w0 = lgv.random_initialisation(2, 4, 1, np.random.default_rng(1))
    beta, lam, lr, wd, (b1, b2), steps = 1.5, 0.3, 1e-2, 0.05, (0.8, 0.95), 3
    r = lgv.adam(Sigma_y, beta, lam, B0=B0, Sigma_w0=Sigma_w0, seed=9, steps=steps, lr=lr, weight_decay=wd,
                 betas=(b1, b2), record_every=1)

    def chol(theta):                                  # log-Cholesky: exp on the diagonal
        return np.tril(theta, -1) + np.diag(np.exp(np.diag(theta)))

    def unpack(x):
        A, B = x[:8].reshape(4, 2), x[8:16].reshape(2, 4)
        Lz, Lw = chol(x[16:32].reshape(4, 4)), chol(x[32:36].reshape(2, 2))
        return A, B, Lz @ Lz.T, Lw @ Lw.T

    def log_chol(S):
        L = np.linalg.cholesky(S)
        return np.tril(L, -1) + np.diag(np.log(np.diag(L)))

    f = lambda x: lgv.objective(*unpack(x), Sigma_y, beta, lam)
    A0 = np.random.default_rng(9).standard_normal((1, 4, 2))[0] / np.sqrt(2)     # adam's draw for A
    x = np.concatenate([A0.ravel(), B0[0].ravel(), log_chol(Sigma_y).ravel(), log_chol(Sigma_w0[0]).ravel()])
    lower = np.concatenate([np.ones(16), np.tril(np.ones((4, 4))).ravel(), np.tril(np.ones((2, 2))).ravel()])
    decayed = np.concatenate([np.ones(16), np.zeros(20)])
    m1, m2, objectives = np.zeros(36), np.zeros(36), []
    for t in range(1, steps + 1):
        g = finite_differences.gradient(f, x, h=1e-6) * lower
        m1, m2 = b1 * m1 + (1 - b1) * g, b2 * m2 + (1 - b2) * g**2
        x = x - lr * (m1 / (1 - b1**t) / (np.sqrt(m2 / (1 - b2**t)) + 1e-12) + wd * decayed * x)
        objectives.append(f(x))
    A, B, Sigma_z, Sigma_w = unpack(x)
    for got, want in ((r.A[0], A), (r.B[0], B), (r.Sigma_z[0], Sigma_z), (r.Sigma_w[0], Sigma_w)):
        assert got == pytest.approx(want, rel=1e-7, abs=1e-9)
    assert r.objective[:, 0] == pytest.approx(objectives, rel=1e-9)
    r2 = lgv.adam(Sigma_y, beta, lam, B0=B0, Sigma_w0=Sigma_w0, seed=9, steps=steps, lr=lr, weight_decay=wd,
                  betas=(b1, b2), record_every=2)
    assert r2.objective[:, 0] == pytest.approx(objectives[:2], rel=1e-9)      # after steps 1 and 2


def test_factor_entropy_and_squared_correlations_take_batches_of_factor_covariances():
    """Both read the diagonal of the last two axes: a batch of Sigma_v (and of Sigma_x, Sigma_xv)
    gives, element by element, the unbatched values."""
    rng = np.random.default_rng(12)
    Sigma_v = np.stack([np.diag(rng.uniform(0.5, 2.0, 3)) for _ in range(4)])
    Sigma_x = np.stack([np.diag(rng.uniform(1.0, 2.0, 2)) for _ in range(4)])
    Sigma_xv = rng.uniform(-0.3, 0.3, (4, 2, 3))
    H, S = lgv.factor_entropy(Sigma_v), lgv.squared_correlations(Sigma_x, Sigma_xv, Sigma_v)
    assert H.shape == (4, 3) and S.shape == (4, 2, 3)
    for i in range(4):
        assert H[i] == pytest.approx(0.5 * np.log(2 * np.pi * np.e * np.diag(Sigma_v[i])), rel=1e-14)
        expected = Sigma_xv[i] ** 2 / np.outer(np.diag(Sigma_x[i]), np.diag(Sigma_v[i]))
        assert S[i] == pytest.approx(expected, rel=1e-14)


def test_mig_names_the_smallest_factor_variance_of_a_batch():
    Sigma_v = np.stack([np.diag([1.0, 3.0]), np.diag([2.0, 0.04])])
    _refused("MIG of eq. (11) needs H(v_j) > 0, i.e. Var(v_j) > 1/(2 pi e) = 0.0585; smallest variance is 0.04",
             lgv.mig, np.full((2, 2, 2), 0.1), Sigma_v)
    ok = np.stack([np.diag([1.0, 3.0]), np.diag([2.0, 0.5])])
    S = np.random.default_rng(3).uniform(0, 0.5, (2, 2, 2))
    assert lgv.mig(S, ok) == pytest.approx([lgv.mig(S[i], ok[i]) for i in range(2)], rel=1e-14)


def test_trials_of_a_batch_do_not_influence_each_other():
    """Every stopping rule is per trial: five initialisations run together give, trial by trial,
    the iterations, flags and parameters of each run alone (a collapsing cell, where ||B|| -> 0
    and the relative rule uses max(1, ||B||), one with active modes, the continuum at beta = 1,
    lambda = 0, where the trials stop at encoders of different sizes, and the drift of beta < 1,
    where only the change relative to each trial's own ||Sigma_w|| stops it)."""
    _, _, Sigma_y = lgv.figure_model(n=6, s=2)
    B0, Sigma_w0 = lgv.random_initialisation(3, 6, 5, np.random.default_rng(7))
    B0[2] *= 50.0                                     # one start far from the others
    Sigma_w0[3] *= 1e-8                               # one with a tiny Sigma_w (its relative rule is stricter)
    B0[4] *= 1e155                                    # and one whose first step overflows
    for beta, lam in ((8.0, 0.0), (1.5, 2.0), (1.0, 0.0), (0.5, 0.0)):
        together = lgv.alternating(Sigma_y, beta, lam, B0=B0, Sigma_w0=Sigma_w0)
        assert not together.regular[4]
        for i in range(5):
            alone = lgv.alternating(Sigma_y, beta, lam, B0=B0[i:i + 1], Sigma_w0=Sigma_w0[i:i + 1])
            for key in ("iterations", "converged", "stationary", "regular", "printed_stop"):
                assert getattr(together, key)[i] == getattr(alone, key)[0], (key, beta, i)
            assert np.array_equal(together.B[i], alone.B[0]), (beta, i)


def test_the_residual_history_is_the_largest_change_of_each_step():
    """residuals[t, i] = max(||B^(t+1) - B^(t)||_F, ||Sigma_w^(t+1) - Sigma_w^(t)||_F) in float32,
    from the encoders of runs stopped after t and t + 1 steps; NaN once a trial has stopped."""
    _, _, Sigma_y = lgv.figure_model(n=6, s=2)
    B0, Sigma_w0 = lgv.random_initialisation(2, 6, 2, np.random.default_rng(3))
    B0[1] *= 30.0                                     # so that the two trials stop at different steps
    run = lambda steps: lgv.alternating(Sigma_y, 4.0, 1.0, B0=B0, Sigma_w0=Sigma_w0, max_iter=steps)
    full = run(10_000)
    assert full.residuals.dtype == np.float32 and full.residuals.shape == (full.iterations.max(), 2)
    previous = (B0, Sigma_w0)
    for t in range(1, 4):
        r = run(t)
        change = np.maximum(np.linalg.norm(r.B - previous[0], axis=(1, 2)),
                            np.linalg.norm(r.Sigma_w - previous[1], axis=(1, 2)))
        assert full.residuals[t - 1] == pytest.approx(change.astype(np.float32), rel=1e-6)
        previous = (r.B, r.Sigma_w)
    first = int(np.argmin(full.iterations))
    assert full.iterations[first] < full.iterations.max()
    assert np.all(np.isnan(full.residuals[full.iterations[first]:, first]))
    assert not np.any(np.isnan(full.residuals[:full.iterations[first], first]))


def test_terms_at_high_precision_check_numpy_covariances_and_trust_mpmath_ones():
    """With ``dps`` a covariance given in float64 is still checked positive definite in float64;
    one given as an mpmath matrix is judged by its mpmath Cholesky factor, so an iterate whose
    eigenvalue (1e-20) float64 rounds away is evaluated, as the same matrix in float64 is refused."""
    import mpmath as mp

    p = _valid_problem()
    five = [p[k] for k in ("A", "B", "Sigma_z", "Sigma_w", "Sigma_y")]
    bad = np.diag([1.0, 1.0, 1.0, -1.0])
    with pytest.raises(ValueError, match="^Sigma_z must be symmetric positive definite"):
        lgv.terms(five[0], five[1], bad, *five[3:], dps=30)
    with mp.workdps(40):
        tiny = mp.matrix([[1, 1], [1, 1 + mp.mpf("1e-20")]])       # eigenvalues about 2 and 5e-21
    reference = lgv.terms(five[0], five[1], five[2], tiny, five[4], dps=30)
    assert all(mp.isfinite(t) for t in reference)
    for dps in (None, 30):                       # the same matrix in float64 is singular: refused
        with pytest.raises(ValueError, match="^Sigma_w must be symmetric positive definite"):
            lgv.terms(five[0], five[1], five[2], np.array([[1.0, 1.0], [1.0, 1.0 + 1e-20]]), five[4], dps=dps)
    assert lgv.terms(*five) == pytest.approx([float(t) for t in lgv.terms(*five, dps=30)], rel=1e-12)
    with pytest.raises(ValueError, match=r"^Sigma_w must have shape 2x2; got 3x3$"):    # sizes still checked
        lgv.terms(five[0], five[1], five[2], mp.eye(3), five[4], dps=30)


def test_adam_takes_an_integer_initial_encoder():
    Sigma_y = _valid_problem()["Sigma_y"]
    B0, Sw0 = np.ones((1, 2, 4), dtype=int), np.eye(2, dtype=int)[None]
    r = lgv.adam(Sigma_y, 2.0, B0=B0, Sigma_w0=Sw0, seed=1, steps=5, lr=1e-2)
    r_float = lgv.adam(Sigma_y, 2.0, B0=B0.astype(float), Sigma_w0=Sw0.astype(float), seed=1, steps=5, lr=1e-2)
    assert np.array_equal(r.B, r_float.B)


def test_lim_keeps_every_batch_axis():
    rng = np.random.default_rng(4)
    Sigma_x, Sigma_xv, Sigma_v = _random_latents(rng, 3, 2, 6)
    grid_x, grid_xv = Sigma_x.reshape(2, 3, 3, 3), Sigma_xv.reshape(2, 3, 3, 2)
    for method in ("partition", "assignment"):
        values = lgv.lim(grid_x, grid_xv, Sigma_v, method=method)
        assert values.shape == (2, 3)
        assert values.ravel() == pytest.approx(lgv.lim(Sigma_x, Sigma_xv, Sigma_v, method=method), rel=1e-14)


def test_the_invariant_basis_groups_eigenvalues_relative_to_the_largest():
    """Eigenvalues within 1e-12 of the largest one (bound included) are one eigenspace, whatever the scale: the
    Fig. 3 model's 45 noise eigenvalues (equal up to rounding) reduce to m = 10 directions at
    every scale, and 1 + k 1e-8 (k = 0..3) beside 1e6 are one space cut to m = 1, not four."""
    from numerics.linear_gaussian_vae.algorithm import _invariant_basis

    _, _, Sigma_y = lgv.figure_model()
    G0 = np.random.default_rng(0).standard_normal((2, 10, 50))
    for c in (1e-6, 1.0, 1e6):
        d, U = np.linalg.eigh(c * Sigma_y)
        d_reduced, V = _invariant_basis(d[::-1], U[:, ::-1], G0, 10)
        assert d_reduced.size == 15 and V.shape == (2, 50, 15), c
    d = np.array([1e6, 1 + 3e-8, 1 + 2e-8, 1 + 1e-8, 1.0])
    d_reduced, V = _invariant_basis(d, np.eye(5), np.ones((1, 1, 5)), 1)
    assert list(d_reduced) == [1e6, 1 + 3e-8] and V.shape == (1, 5, 2)
    tie = 1e-12                     # 2e-12 - 1e-12 is exactly 1e-12 = rtol d_0: the bound is included
    d_reduced, V = _invariant_basis(np.array([1.0, 2 * tie, tie]), np.eye(3), np.ones((1, 1, 3)), 1)
    assert list(d_reduced) == [1.0, 2 * tie] and V.shape == (1, 3, 2)


def test_a_double_eigenvalue_beside_a_simple_one_follows_the_printed_algorithm():
    """Sigma_y = diag(2, 2, 1), m = 1: the double eigenvalue's plane is cut to the line of G0's row
    in it (multiplicity 2 > m), the simple eigenvalue kept as it is; three steps of ``alternating``
    equal three of Algorithm 1 as printed (n x n inverses, no reduction), relative Frobenius 1e-12."""
    Sigma_y = np.diag([2.0, 2.0, 1.0])
    B0, Sigma_w0 = lgv.random_initialisation(1, 3, 1, np.random.default_rng(5))
    r = lgv.alternating(Sigma_y, 1.5, 1.0, B0=B0, Sigma_w0=Sigma_w0, tol=1e-300, max_iter=3)
    assert r.iterations[0] == 3
    _, B, _, Sigma_w, steps, _ = ref.alternating_literal(Sigma_y, 1.5, 1.0, B0[0], Sigma_w0[0], tol=0.0, max_iter=3)
    assert steps == 3
    for got, want in ((r.B[0], B), (r.Sigma_w[0], Sigma_w)):
        assert np.linalg.norm(got - want) <= 1e-12 * np.linalg.norm(want)


def test_both_stopping_rules_include_equality():
    """||dB||_F <= tol and ||dSigma_w||_F <= tol (the printed rule, line 7/20 of Algorithm 1) and the
    relative rule's <= fire at equality. n = m = 1, Sigma_y = 1, where one step is exact in binary:
    from (B, Sigma_w) = (1/2, 1/4) at beta = 1, lambda = 1/2, Lemma 3.1 gives Sigma_z = 1/2, A = 1 and
    Lemma 4.1 M = 3, Sigma_w' = 1/4, B' = 3/4, so ||dB|| = 1/4 = tol = tol max(1, |B'|) and
    ||dSigma_w|| = 0; from (0, 1/2) the trivial point B' = 0, Sigma_w' = 1 is one step away, so
    ||dSigma_w|| = 1/2 = tol = tol |Sigma_w'| and ||dB|| = 0. Both trials stop after that step."""
    for B0, Sigma_w0, beta, lam, tol, (B1, Sigma_w1) in ((0.5, 0.25, 1.0, 0.5, 0.25, (0.75, 0.25)),
                                                          (0.0, 0.5, 2.0, 0.0, 0.5, (0.0, 1.0))):
        r = lgv.alternating(np.eye(1), beta, lam, B0=np.full((1, 1, 1), B0), Sigma_w0=np.full((1, 1, 1), Sigma_w0),
                            tol=tol, max_iter=5)
        assert (r.B[0, 0, 0], r.Sigma_w[0, 0, 0]) == (B1, Sigma_w1)
        assert r.converged[0] and r.stationary[0] and r.printed_stop[0] == 1 and r.iterations[0] == 1, B0


def test_a_step_that_overflows_only_the_encoder_gain_ends_the_trial_before_it():
    """B' = Sigma_w' G' can overflow while Sigma_w' stays regular: in natural coordinates G' =
    G (I + 2 lambda Sigma_z~) / beta is linear in G, Omega' = I + A^T M A quadratic, so a tiny start
    underflows in Omega' and overflows in G'. With Sigma_y = I, B0 = 1e-295, beta = 1e-303, lambda = 1e300 (Omega' = I
    exactly, G' = 2e308); and with Sigma_y = 1e-300 I, B0 = 2.85e5 I (m = 2), beta = 1e-303, where
    Omega' = (1 + 8.1e13) I has trace above 1e14 = 1 / SIGMA_W_FLOOR but no eigenvalue above it. The
    step is refused: not regular, 0 iterations, the start returned, no floating-point warning."""
    import warnings

    for Sigma_y, B0, beta, lam in ((np.eye(2), np.array([[[1e-295, 0.0]]]), 1e-303, 1e300),
                                   (1e-300 * np.eye(2), 2.85e5 * np.eye(2)[None], 1e-303, 0.0)):
        Sigma_w0 = np.eye(len(B0[0]))[None]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            r = lgv.alternating(Sigma_y, beta, lam, B0=B0, Sigma_w0=Sigma_w0, max_iter=5)
        assert not r.regular[0] and r.iterations[0] == 0 and not r.converged[0], lam
        assert np.array_equal(r.B, B0) and np.array_equal(r.Sigma_w, Sigma_w0), lam


def test_a_drift_stops_at_the_last_encoder_on_or_above_the_sigma_w_floor():
    """beta = 1/2 < 1: Sigma_w halves at every step until lambda_min(Sigma_w) would fall below
    SIGMA_W_FLOOR. The run returns the last encoder with lambda_min >= the floor, not regular; the
    next block update (Lemmas 3.1 and 4.1 by decoder_update and encoder_update) falls below it. An
    encoder exactly on the floor is still regular: from Sigma_w = I/4, B = diag(1/2, 0) at Sigma_y =
    I, lambda = 0, one step gives Omega' = diag(1 + 2 / beta, 1) = diag(1e14, 1) for
    beta = 2 / (1e14 - 1) (1 + 2 / beta is exactly 1e14 in float64), so Sigma_w' = diag(1e-14, 1)."""
    from numerics.linear_gaussian_vae.algorithm import SIGMA_W_FLOOR

    Sigma_y = np.diag([2.0, 1.0])
    B0, Sigma_w0 = lgv.random_initialisation(1, 2, 1, np.random.default_rng(0))
    r = lgv.alternating(Sigma_y, 0.5, B0=B0, Sigma_w0=Sigma_w0, max_iter=1_000)
    assert not r.regular[0] and 0 < r.iterations[0] < 1_000
    assert np.linalg.eigvalsh(r.Sigma_w[0])[0] >= SIGMA_W_FLOOR
    _, Sigma_w_next = lgv.encoder_update(*lgv.decoder_update(r.B[0], r.Sigma_w[0], Sigma_y), 0.5)
    assert np.linalg.eigvalsh(Sigma_w_next)[0] < SIGMA_W_FLOOR

    beta = 2 / (1e14 - 1)
    assert 1 + 2 / beta == 1e14
    r = lgv.alternating(np.eye(2), beta, B0=np.diag([0.5, 0.0])[None], Sigma_w0=np.eye(2)[None] / 4, max_iter=1)
    assert r.regular[0] and r.iterations[0] == 1
    assert np.array_equal(r.Sigma_w[0], np.diag([SIGMA_W_FLOOR, 1.0]))


def test_a_start_singular_in_float64_is_nan_and_leaves_the_other_trials_alone():
    """Sigma_w0 = 1e-320 I is positive definite in float64 but its inverse overflows: that trial's
    first step fails, it is not regular, and its returned decoder (Lemma 3.1 of a Sigma_w that is
    not positive definite in float64) is NaN. The other two trials of the batch are, field by field
    and flag by flag, the runs of each alone, and regular."""
    Sigma_y = np.diag([3.0, 2.0, 1.0])
    B0, Sigma_w0 = lgv.random_initialisation(2, 3, 3, np.random.default_rng(4))
    Sigma_w0[1] = 1e-320 * np.eye(2)
    together = lgv.alternating(Sigma_y, 2.0, 1.0, B0=B0, Sigma_w0=Sigma_w0)
    assert list(together.regular) == [True, False, True] and together.iterations[1] == 0
    assert np.all(np.isnan(together.A[1])) and np.all(np.isnan(together.Sigma_z[1]))
    for i in (0, 2):
        alone = lgv.alternating(Sigma_y, 2.0, 1.0, B0=B0[i:i + 1], Sigma_w0=Sigma_w0[i:i + 1])
        for key in ("iterations", "converged", "stationary", "regular", "printed_stop"):
            assert getattr(together, key)[i] == getattr(alone, key)[0], (key, i)
        for key in ("A", "B", "Sigma_z", "Sigma_w"):
            assert np.array_equal(getattr(together, key)[i], getattr(alone, key)[0]), (key, i)


def test_the_decoder_of_an_encoder_noise_not_positive_definite_is_nan_without_warnings():
    """``_decoder`` (Lemma 3.1 for a batch, used by Algorithm 1's final step) promises NaN for a
    Sigma_w that is not positive definite in float64, quietly (warnings are errors here), and the
    decoder of the other encoders of the batch. n = m = 1, Sigma_y = 2, B = 1/2: for Sigma_w = 1,
    eq. (21)-(22) give Sigma_z = (1/2 + 1/4)^-1 = 4/3 and A = Sigma_z B / Sigma_w = 2/3; for
    Sigma_w = -1 (its square root is NaN) and 0 (W^-1 = 1/0) both are NaN. With m = 2, Sigma_w =
    diag(1, 0) and diag(1, -1) give NaN (0/0 in W^-1 = V diag(w^-1/2) V^T) next to Sigma_w = I."""
    import warnings

    from numerics.linear_gaussian_vae.model import _decoder

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A, Sigma_z = _decoder(np.full((3, 1, 1), 0.5), np.array([1.0, -1.0, 0.0]).reshape(3, 1, 1), np.array([[2.0]]))
        assert A[0, 0, 0] == pytest.approx(2 / 3, rel=1e-14) and Sigma_z[0, 0, 0] == pytest.approx(4 / 3, rel=1e-14)
        assert np.all(np.isnan(A[1:])) and np.all(np.isnan(Sigma_z[1:]))
        B = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]])
        A, Sigma_z = _decoder(np.stack([B] * 3), np.stack([np.eye(2), np.diag([1.0, 0.0]), np.diag([1.0, -1.0])]),
                              np.eye(3))
    Sigma_z_21 = np.linalg.inv(np.eye(3) + B.T @ B)                     # eq. (21) at Sigma_y = I, Sigma_w = I
    assert np.linalg.norm(Sigma_z[0] - Sigma_z_21) <= 1e-14 * np.linalg.norm(Sigma_z_21)
    assert np.linalg.norm(A[0] - Sigma_z_21 @ B.T) <= 1e-14 * np.linalg.norm(Sigma_z_21 @ B.T)   # eq. (22)
    assert np.all(np.isnan(A[1:])) and np.all(np.isnan(Sigma_z[1:]))


def test_adams_first_step_adds_epsilon_to_the_root_mean_square():
    """AdamW's first step is lr g / (|g| + eps) (m^ = g, v^ = g^2 after bias correction), eps = 1e-12.
    Gradients of the size of eps make eps visible: at the start B = 0, Sigma_w = I, Sigma_z = Sigma_y
    = c I with c = 1e12, eq. (23a) gives dL/dA = A / c, so A moves by lr A / (|A| + 1) (c eps = 1)."""
    c, lr, seed = 1e12, 0.1, 3
    r = lgv.adam(c * np.eye(2), 1.0, B0=np.zeros((1, 1, 2)), Sigma_w0=np.eye(1)[None], seed=seed, steps=1, lr=lr)
    A0 = np.random.default_rng(seed).standard_normal((1, 2, 1))[0]        # adam's draw for A (m = 1)
    assert r.A[0] == pytest.approx(A0 - lr * A0 / (np.abs(A0) + 1), rel=1e-10)
