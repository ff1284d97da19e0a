"""Speed of Algorithm 1 on the Fig. 2+3 grid of [mi_collapse] (n=50, m=10, s=5, sigma^2=0.05,
100 trials per (beta, lambda), beta from 1/4 to 512, lambda in {0, 4, 8, 16, 32}).

The compiled / NumPy ratios are measured side by side in one run, in interleaved rounds
(A B A B ..., benchmarks/interleave.py), with equal budgets (the same caps and tolerance) on
both sides, and reported as the minimum and the median over rounds, in wall time and in CPU
time (user + sys of the process, all threads): on a shared machine wall time is inflated by
the other jobs.

- compiled (numba kernel, ``engine="numba"``) against the NumPy path (``engine="numpy"``,
  the code before the kernel: ``alternating`` cell by cell), for Algorithm 1 alone and for
  the whole phase diagram (metrics included);
- the flop bound: flops of the kernel's step (``kernel.step_flops``) x trial-steps taken,
  divided by the float64 GFLOP/s of a 2000 x 2000 matmul measured in the same run;
- the literal transcription of the paper's algorithm (one trial at a time, an n x n inverse
  per step; numerics.reference.alternating_literal) at the same caps, and, separately, at the
  paper's 50k cap everywhere (the old headline), timed once (not interleaved) on one
  initialisation per cell and scaled to 100: an estimate.

    python -m pytest benchmarks/bench_linear_gaussian_vae.py --benchmark-only -s
"""
import numpy as np
import pytest

from benchmarks.interleave import abab, report, timed
from numerics import linear_gaussian_vae as lgv
from numerics.reference.linear_gaussian_vae import alternating_literal

BETAS = 2.0 ** np.arange(-2, 10)
LAMBDAS = (0.0, 4.0, 8.0, 16.0, 32.0)
TRIALS, ROUNDS = 100, 3
CELLS = [(float(b), float(l)) for l in LAMBDAS for b in BETAS]


def _caps(max_iter=50_000, drift_max_iter=2_000):
    return [max_iter if lgv.converges_to_stationary_point(b, l) else min(max_iter, drift_max_iter) for b, l in CELLS]


def _peak_gflops():
    """float64 GFLOP/s of a 2000 x 2000 matmul (best of 3), per wall second and per CPU second."""
    x = np.random.default_rng(0).standard_normal((2000, 2000))
    x @ x
    runs = [timed(lambda: x @ x) for _ in range(3)]
    flops = 2 * 2000**3
    return flops / min(r[1] for r in runs) / 1e9, flops / min(r[2] for r in runs) / 1e9


def test_fig_2_3_grid_compiled_against_numpy(benchmark):
    kernel = pytest.importorskip("numerics.linear_gaussian_vae.kernel")
    Gamma, Sigma_v, Sigma_y = lgv.figure_model()
    B0, Sw0 = lgv.random_initialisation(10, 50, TRIALS, np.random.default_rng(0))
    grid = lambda engine: lambda: lgv.alternating_grid(Sigma_y, CELLS, B0=B0, Sigma_w0=Sw0, max_iter=_caps(),
                                                       engine=engine)
    phase = lambda engine: lambda: lgv.phase_diagram(Sigma_y, Gamma, Sigma_v, BETAS, LAMBDAS, m=10, trials=TRIALS,
                                                     engine=engine)
    (_, results), walls, cpus = abab(grid("numpy"), grid("numba"), rounds=ROUNDS)   # warm-up compiles
    info = {"algorithm_1_" + k: v for k, v in report("Algorithm 1, NumPy / numba", walls, cpus).items()}
    _, pw, pc = abab(phase("numpy"), phase("numba"), rounds=2, warmup=False)   # both engines warm
    info.update({"phase_diagram_" + k: v for k, v in report("phase diagram, NumPy / numba", pw, pc).items()})

    steps = int(sum(r.iterations.sum() for r in results))
    k = lgv.algorithm._prepare(Sigma_y, None, None, None, B0, Sw0)[3].size
    flops = kernel.step_flops(10, k) * steps
    peak_wall, peak_cpu = _peak_gflops()
    bound_wall, bound_cpu = flops / peak_wall / 1e9, flops / peak_cpu / 1e9
    kw, kc = np.median(walls[:, 1]), np.median(cpus[:, 1])
    print(f"flops: {kernel.step_flops(10, k)} per step x {steps} trial-steps = {flops / 1e9:.1f} Gflop; matmul peak "
          f"{peak_wall:.0f} GFLOP/s (wall, all threads), {peak_cpu:.0f} GFLOP per CPU-second")
    print(f"flop bound {bound_wall:.2f} s wall / {bound_cpu:.2f} s CPU; kernel {kw:.2f} s / {kc:.2f} s CPU: "
          f"{kw / bound_wall:.1f}x / {kc / bound_cpu:.1f}x the bound")
    info.update(gflop=flops / 1e9, peak_gflops_wall=peak_wall, peak_gflop_per_cpu_s=peak_cpu,
                kernel_over_bound_wall=kw / bound_wall, kernel_over_bound_cpu=kc / bound_cpu)
    benchmark.extra_info.update(info)
    benchmark.pedantic(grid("numba"), rounds=1, iterations=1)


def _literal_grid_seconds(Sigma_y, caps, trials=1):
    """Seconds of the literal algorithm over the grid, one initialisation per cell, scaled to TRIALS."""
    B0, Sw0 = lgv.random_initialisation(10, Sigma_y.shape[0], trials, np.random.default_rng(0))
    wall = cpu = 0.0
    for (beta, lam), cap in zip(CELLS, caps):
        for i in range(trials):
            with np.errstate(all="ignore"):
                try:
                    _, w, c = timed(lambda: alternating_literal(Sigma_y, beta, lam, B0[i], Sw0[i], tol=1e-6,
                                                                max_iter=cap))
                except np.linalg.LinAlgError:   # the literal algorithm can hit a singular Sigma_w
                    continue
            wall, cpu = wall + w * TRIALS / trials, cpu + c * TRIALS / trials
    return wall, cpu


def test_fig_2_3_grid_against_literal_baseline(benchmark):
    """The literal algorithm at the same caps (the headline) and at 50k everywhere (shown apart)."""
    _, _, Sigma_y = lgv.figure_model()
    B0, Sw0 = lgv.random_initialisation(10, 50, TRIALS, np.random.default_rng(0))
    fast = lambda: lgv.alternating_grid(Sigma_y, CELLS, B0=B0, Sigma_w0=Sw0, max_iter=_caps())
    fast()
    rows = []
    for caps in (_caps(), _caps(drift_max_iter=50_000)):
        _, fw, fc = timed(lambda: lgv.alternating_grid(Sigma_y, CELLS, B0=B0, Sigma_w0=Sw0, max_iter=caps))
        lw, lc = _literal_grid_seconds(Sigma_y, caps)
        rows.append((lw / fw, lc / fc))
    print(f"literal / {'compiled' if lgv.compiled_available() else 'NumPy'}, same caps: {rows[0][0]:.0f}x wall, "
          f"{rows[0][1]:.0f}x CPU; with 50k caps on both sides: {rows[1][0]:.0f}x wall, {rows[1][1]:.0f}x CPU")
    benchmark.extra_info.update(literal_ratio_same_caps_wall=rows[0][0], literal_ratio_same_caps_cpu=rows[0][1],
                                literal_ratio_50k_caps_wall=rows[1][0], literal_ratio_50k_caps_cpu=rows[1][1])
    benchmark.pedantic(fast, rounds=1, iterations=1)
