"""Speed of Algorithm 1 on the Fig. 2+3 grid of [mi_collapse] (n=50, m=10, s=5, sigma^2=0.05,
100 trials per (beta, lambda), beta from 1/4 to 512, lambda in {0, 4, 8, 16, 32}).

The baseline is the paper's algorithm written straightforwardly, run in the same
process: one trial at a time, an n x n inverse at every step, tolerance 1e-6 on the
Frobenius change, at most 50k steps (numerics.reference.alternating_literal). A full
baseline grid takes most of an hour, so it is timed on a fixed subsample of
initialisations in every cell and scaled to 100 trials per cell; the ratio printed is
baseline-grid estimate / measured fast grid.

    python -m pytest benchmarks/bench_linear_gaussian_vae.py --benchmark-only -s
"""
import time

import numpy as np

from numerics import linear_gaussian_vae as lgv
from numerics.reference.linear_gaussian_vae import alternating_literal

BETAS = 2.0 ** np.arange(-2, 10)
LAMBDAS = (0.0, 4.0, 8.0, 16.0, 32.0)
TRIALS, BASELINE_TRIALS = 100, 1


def baseline_grid_seconds(Sigma_y, drift_max_iter=None):
    """Seconds per cell of the literal algorithm, scaled from BASELINE_TRIALS to TRIALS."""
    B0, Sw0 = lgv.random_initialisation(10, Sigma_y.shape[0], BASELINE_TRIALS, np.random.default_rng(0))
    total = 0.0
    for lam in LAMBDAS:
        for beta in BETAS:
            cap = 50_000
            if drift_max_iter and not lgv.converges_to_stationary_point(beta, lam):
                cap = drift_max_iter
            start = time.perf_counter()
            for i in range(BASELINE_TRIALS):
                with np.errstate(all="ignore"):
                    try:
                        alternating_literal(Sigma_y, beta, lam, B0[i], Sw0[i], tol=1e-6, max_iter=cap)
                    except np.linalg.LinAlgError:   # the literal algorithm can hit a singular Sigma_w
                        pass
            total += (time.perf_counter() - start) * TRIALS / BASELINE_TRIALS
    return total


def test_fig_2_3_grid_against_literal_baseline(benchmark):
    Gamma, Sigma_v, Sigma_y = lgv.figure_model()
    rows = benchmark.pedantic(lgv.phase_diagram, args=(Sigma_y, Gamma, Sigma_v, BETAS, LAMBDAS),
                              kwargs=dict(m=10, trials=TRIALS), rounds=1, iterations=1)
    fast = benchmark.stats.stats.mean
    same_budget = baseline_grid_seconds(Sigma_y, drift_max_iter=2_000)
    paper_budget = baseline_grid_seconds(Sigma_y)
    benchmark.extra_info.update(fast_seconds=fast, baseline_same_budget_seconds=same_budget,
                                baseline_50k_seconds=paper_budget, ratio_same_budget=same_budget / fast,
                                ratio_50k=paper_budget / fast)
    print(f"\nfast grid (metrics included): {fast:.1f} s for {len(rows)} cells x {TRIALS} trials")
    print(f"literal baseline, same iteration caps: ~{same_budget:.0f} s  -> {same_budget / fast:.1f}x")
    print(f"literal baseline, 50k caps everywhere: ~{paper_budget:.0f} s  -> {paper_budget / fast:.1f}x")
    assert len(rows) == len(BETAS) * len(LAMBDAS)
