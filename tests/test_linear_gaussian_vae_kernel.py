"""The compiled Algorithm 1 (numerics/linear_gaussian_vae/kernel.py, numba) against the NumPy
reference path (``alternating`` cell by cell): the same phase-diagram rows to 1e-12 relative,
the same stopping decisions, and the fallback when numba is missing."""
import re

import numpy as np
import pytest

from numerics import linear_gaussian_vae as lgv
from numerics.linear_gaussian_vae import algorithm

BETAS, LAMBDAS = 2.0 ** np.arange(-2, 10), (0.0, 4.0, 8.0, 16.0, 32.0)


def _compare(fast, ref):
    """Rows of ``phase_diagram``: means to 1e-12 relative, spreads to 1e-12 of the mean (a spread of
    1e-9 among trials that reach one point is rounding, not a quantity), flags and counts exactly."""
    assert [(r["beta"], r["l2_weight"]) for r in fast] == [(r["beta"], r["l2_weight"]) for r in ref]
    for f, r in zip(fast, ref):
        for key in lgv.PHASE_METRICS:
            assert f[key] == pytest.approx(r[key], rel=1e-12, abs=0), (key, f["beta"], f["l2_weight"])
            assert f[key + "_sd"] == pytest.approx(r[key + "_sd"], rel=0, abs=1e-12 * abs(r[key])), key
        for key in ("converged", "stationary", "regular", "iterations", "beta_c"):
            assert f[key] == r[key], (key, f["beta"], f["l2_weight"])


def test_compiled_phase_rows_equal_the_numpy_reference():
    """Every kind of cell of the Fig. 2-3 grid (drift to the Sigma_w floor at beta < 1, the
    continuum at beta = 1 = lambda + 1, the 2000-step drift at beta = 1 < 1 + lambda, active modes
    and complete collapse); 24 trials, so that the lanes of the kernel hold pairs of two cells."""
    pytest.importorskip("numba")
    Gamma, Sigma_v, Sigma_y = lgv.figure_model()
    args = (Sigma_y, Gamma, Sigma_v, [0.5, 1.0, 2.0, 16.0, 512.0], [0.0, 8.0])
    fast = lgv.phase_diagram(*args, m=10, trials=24, seed=1, engine="numba")
    ref = lgv.phase_diagram(*args, m=10, trials=24, seed=1, engine="numpy")
    _compare(fast, ref)
    assert {r["iterations"] for r in ref if (r["beta"], r["l2_weight"]) == (1.0, 8.0)} == {2000}


def test_compiled_iterates_follow_the_reference_trial_by_trial():
    """B and Sigma_w of each trial, relative Frobenius error. In the beta = 1 < 1 + lambda cell the
    iterates drift along a neutral direction for 2000 steps and rounding accumulates: 1.4e-12 was
    measured there, 1e-14 elsewhere, hence 1e-11 for that cell and 1e-12 for the others."""
    pytest.importorskip("numba")
    _, _, Sigma_y = lgv.figure_model()
    B0, Sigma_w0 = lgv.random_initialisation(10, 50, 12, np.random.default_rng(2))
    cells, caps = [(0.25, 4.0), (1.0, 0.0), (1.0, 4.0), (4.0, 4.0), (64.0, 32.0)], [50_000, 50_000, 2000, 50_000, 50_000]
    fast = lgv.alternating_grid(Sigma_y, cells, B0=B0, Sigma_w0=Sigma_w0, max_iter=caps, engine="numba")
    ref = lgv.alternating_grid(Sigma_y, cells, B0=B0, Sigma_w0=Sigma_w0, max_iter=caps, engine="numpy")
    for cell, f, r in zip(cells, fast, ref):
        for key in ("converged", "printed_stop", "stationary", "regular", "iterations"):
            np.testing.assert_array_equal(getattr(f, key), getattr(r, key), err_msg=f"{key} at {cell}")
        rtol = 1e-11 if cell == (1.0, 4.0) else 1e-12
        for key in ("A", "B", "Sigma_z", "Sigma_w"):
            a, b = getattr(f, key), getattr(r, key)
            error = np.linalg.norm(a - b, axis=(1, 2)) / np.linalg.norm(b, axis=(1, 2))
            assert error.max() < rtol, (key, cell, error.max())
        assert f.residuals.shape == (0, 12) and r.residuals.shape[1] == 12


@pytest.mark.slow
def test_compiled_default_grid_equals_the_numpy_reference():
    """The whole default grid of ``collapse phase linear-gaussian-vae`` (60 cells x 100 trials)."""
    pytest.importorskip("numba")
    Gamma, Sigma_v, Sigma_y = lgv.figure_model()
    fast = lgv.phase_diagram(Sigma_y, Gamma, Sigma_v, BETAS, LAMBDAS, m=10, trials=100, engine="numba")
    ref = lgv.phase_diagram(Sigma_y, Gamma, Sigma_v, BETAS, LAMBDAS, m=10, trials=100, engine="numpy")
    _compare(fast, ref)


def test_without_numba_auto_runs_the_numpy_path_and_numba_is_refused(monkeypatch, capsys):
    _, _, Sigma_y = lgv.figure_model(n=6, s=2)
    B0, Sigma_w0 = lgv.random_initialisation(2, 6, 3, np.random.default_rng(0))
    grid = lambda engine, **kw: lgv.alternating_grid(Sigma_y, [(2.0, 1.0)], B0=B0, Sigma_w0=Sigma_w0,
                                                     max_iter=[100], engine=engine, **kw)
    (r,) = grid("numpy")
    assert r.residuals.shape[0] > 0                         # the NumPy path records its history
    (loose,) = grid("numpy", tol=1e-2)                      # the tolerance reaches alternating
    assert loose.iterations.max() < r.iterations.min()
    assert capsys.readouterr() == ("", "")                  # no progress bar unless asked for
    grid("numpy", progress=True)
    bar = capsys.readouterr().err
    assert "Algorithm 1 (NumPy): 100%" in bar and "1/1" in bar and "cell/s" in bar
    monkeypatch.setattr(algorithm, "compiled_available", lambda: False)
    (r,) = grid("auto")
    assert r.residuals.shape[0] > 0
    assert grid("numpy")[0].residuals.shape[0] > 0
    with pytest.raises(ValueError, match="^" + re.escape(
            "engine='numba' needs numba (pip install 'collapse-proofcheck[fast]'); engine='numpy' runs the reference "
            "path without it") + "$"):
        grid("numba")
    with pytest.raises(ValueError, match="engine must be one of"):
        lgv.alternating_grid(Sigma_y, [(2.0, 1.0)], B0=B0, Sigma_w0=Sigma_w0, max_iter=[100], engine="cuda")
    with pytest.raises(ValueError, match="one cap per cell"):
        lgv.alternating_grid(Sigma_y, [(2.0, 1.0)], B0=B0, Sigma_w0=Sigma_w0, max_iter=[100, 5])



def test_no_reported_value_moves_with_the_cap_unless_labelled():
    """The beta = 1 < 1 + lambda cells never stop; every metric of every cell is either equal at
    two caps (300 and 600 drift steps; 50k and 100k elsewhere) or named in ``cap_dependent``."""
    Gamma, Sigma_v, Sigma_y = lgv.figure_model()
    args = (Sigma_y, Gamma, Sigma_v, [0.5, 1.0, 4.0], [0.0, 4.0, 32.0])
    short = lgv.phase_diagram(*args, m=10, trials=6, drift_max_iter=300)
    long = lgv.phase_diagram(*args, m=10, trials=6, drift_max_iter=600, max_iter=100_000)
    labelled = set()
    for a, b in zip(short, long):
        assert a["cap_dependent"] == b["cap_dependent"]
        for key in lgv.PHASE_METRICS:
            if key in a["cap_dependent"].split(";"):
                labelled.add((a["beta"], a["l2_weight"], key))
            else:
                assert a[key] == b[key], (key, a["beta"], a["l2_weight"])
    # the labels are where the values really move: SAP, MIG, LIM of the two drifting cells
    assert labelled == {(1.0, lam, key) for lam in (4.0, 32.0) for key in ("sap", "mig", "lim")}
    for a, b in zip(short, long):
        if a["beta"] == 1 and a["l2_weight"] > 0:
            assert all(a[key] != b[key] for key in ("sap", "mig", "lim"))


def test_sublinear_limits_are_where_the_long_run_iteration_goes():
    """Aitken's extrapolation of the beta = 1 < 1 + lambda iteration from t = 4000, 8000, 16000
    steps against ``sublinear_limits``. The errors shrink by a constant factor per doubling of t
    (a power law): 0.5 (1/t) for E||y - Ax||^2 and I(x; v), 0.5 for ||B||_2 at lambda = 4 but
    0.65 at lambda = 32, so a fixed 1/t Richardson step would be wrong there."""
    pytest.importorskip("numba")
    Gamma, Sigma_v, Sigma_y = lgv.figure_model()
    limits = lgv.sublinear_limits(Sigma_y, Gamma, Sigma_v, 10)
    assert limits["reconstruction"] == pytest.approx(40 * 0.05, rel=1e-12)   # the 40 noise modes
    B0, Sigma_w0 = lgv.random_initialisation(10, 50, 8, np.random.default_rng(4))
    for lam in (4.0, 32.0):
        runs = lgv.alternating_grid(Sigma_y, [(1.0, lam)] * 3, B0=B0, Sigma_w0=Sigma_w0, max_iter=[4000, 8000, 16000])
        values = {key: [] for key in limits}
        for r in runs:
            R = np.eye(50) - r.A @ r.B
            values["reconstruction"].append(np.trace(R @ Sigma_y @ R.swapaxes(1, 2) + r.A @ r.Sigma_w @ r.A.swapaxes(1, 2),
                                                     axis1=1, axis2=2))
            values["spectral_norm_B"].append(np.linalg.svd(r.B, compute_uv=False)[:, 0])
            values["information"].append(lgv.mutual_information(r.B, r.Sigma_w, Gamma, Sigma_v, Sigma_y))
        for key, limit in limits.items():
            v1, v2, v4 = values[key]
            ratio = (v4 - v2) / (v2 - v1)
            assert np.all((0.3 < ratio) & (ratio < 0.7)), (key, lam, ratio)      # a power law, still approaching
            assert v4 + (v4 - v2) * ratio / (1 - ratio) == pytest.approx(np.full(8, limit), rel=1e-4), (key, lam)


def test_a_trial_that_overflows_is_not_regular_in_the_kernel():
    """Data of condition 1e14 at (beta, lambda) = (0.5, 1e8): one trial's Omega overflows in its
    first step. The NumPy path stops it there as not regular; the kernel, compiled with numba's
    full fast-math (which lets LLVM assume no NaN or inf and fold the finiteness checks away),
    ran it on to the cap as regular, and Lemma 3.1's decoder then failed on its non-finite
    Sigma_w. Now it is stopped at the same step, and every trial returned is finite."""
    pytest.importorskip("numba")
    rng = np.random.default_rng(0)
    for log10_cond in (0, 6, 10, 14):                  # the draws of the search that found it
        d = np.logspace(0, -log10_cond, 6)
        Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
        for scale in (1e-150, 1.0, 1e150):
            inits = lgv.random_initialisation(3, 6, 8, rng)
            if (log10_cond, scale) == (14, 1.0):
                Sigma_y, (B0, Sigma_w0) = (Q * d) @ Q.T, inits
    Sigma_y = (Sigma_y + Sigma_y.T) / 2
    run = lambda engine: lgv.alternating_grid(Sigma_y, [(0.5, 1e8)], B0=B0, Sigma_w0=Sigma_w0, max_iter=[300],
                                              engine=engine)[0]
    fast, ref = run("numba"), run("numpy")
    assert not ref.regular[5] and ref.iterations[5] == 1
    assert not fast.regular[5] and fast.iterations[5] == 1
    for r in (fast, ref):
        assert np.all(np.isfinite(r.A)) and np.all(np.isfinite(r.Sigma_z)) and np.all(np.isfinite(r.Sigma_w))


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_grid_arguments_are_checked_by_name_and_results_carry_their_start(engine):
    pytest.importorskip("numba")
    _, _, Sigma_y = lgv.figure_model(n=6, s=2)
    B0, Sigma_w0 = lgv.random_initialisation(2, 6, 3, np.random.default_rng(0))
    grid = lambda cells=((2.0, 1.0),), max_iter=(50,), **kw: lgv.alternating_grid(
        Sigma_y, list(cells), B0=B0, Sigma_w0=Sigma_w0, max_iter=list(max_iter), engine=engine, **kw)
    (r,) = grid()
    assert np.array_equal(r.B0, B0) and np.array_equal(r.Sigma_w0, Sigma_w0)
    assert r.residuals.dtype == np.float32 and r.residuals.shape[1] == 3
    for kwargs, message in [({"cells": [(2.0, 1.0), (-1.0, 0.0)], "max_iter": (5, 5)}, "beta must be a finite number > 0"),
                            ({"cells": [(2.0, -1.0)]}, "lam must be a finite number >= 0"),
                            ({"max_iter": (0,)}, "max_iter must be an integer >= 1"),
                            ({"tol": 0.0}, "tol must be a finite number > 0")]:
        with pytest.raises(ValueError, match="^" + re.escape(message)):
            grid(**kwargs)


def test_the_batched_solve_gives_nan_for_a_singular_system_and_solves_the_others():
    """``_solve`` of the NumPy path: a singular system in a batch is NaN, the others exact."""
    a = np.stack([2 * np.eye(2), np.zeros((2, 2)), np.array([[1.0, 1.0], [0.0, 1.0]])])
    b = np.stack([np.ones((2, 3)), np.ones((2, 3)), np.arange(6.0).reshape(2, 3)])
    x = algorithm._solve(a, b)
    assert x.shape == (3, 2, 3) and np.all(np.isnan(x[1]))
    assert np.array_equal(x[0], np.full((2, 3), 0.5)) and np.allclose(a[2] @ x[2], b[2], rtol=0, atol=1e-15)
    assert np.array_equal(algorithm._solve(a[[0, 2]], b[[0, 2]]), np.linalg.solve(a[[0, 2]], b[[0, 2]]))


def test_a_start_singular_in_float64_is_flagged_in_its_own_trial_only():
    """A trial whose Sigma_w0 = 1e-320 I has an inverse that overflows: both engines stop it at
    its first step as not regular with a NaN decoder; the other trials of each cell are regular
    (or not) exactly as in the NumPy path, with finite parameters."""
    pytest.importorskip("numba")
    Sigma_y = np.diag([3.0, 2.0, 1.0])
    B0, Sigma_w0 = lgv.random_initialisation(2, 3, 3, np.random.default_rng(4))
    Sigma_w0[1] = 1e-320 * np.eye(2)
    cells, caps = [(2.0, 1.0), (1.5, 0.0)], [1000, 1000]
    fast = lgv.alternating_grid(Sigma_y, cells, B0=B0, Sigma_w0=Sigma_w0, max_iter=caps, engine="numba")
    ref = lgv.alternating_grid(Sigma_y, cells, B0=B0, Sigma_w0=Sigma_w0, max_iter=caps, engine="numpy")
    for cell, f, r in zip(cells, fast, ref):
        assert list(r.regular) == [True, False, True], cell
        for key in ("converged", "stationary", "regular", "iterations"):
            np.testing.assert_array_equal(getattr(f, key), getattr(r, key), err_msg=f"{key} at {cell}")
        for result in (f, r):
            assert np.all(np.isnan(result.A[1])) and np.all(np.isfinite(result.A[[0, 2]])), cell
