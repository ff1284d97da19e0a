"""Speed of the tractable β-VAE of [optimal_beta] (paper 003) against its baselines.

    python -m pytest benchmarks/bench_tractable_beta_vae.py --benchmark-only -s

Each benchmark times the fast route with pytest-benchmark and its baseline once in the
same process and records the ratio in ``extra_info``:

* the closed-form optimum of eq. (21) against many-start BFGS of the reference objective
  (numerics.reference, N = 5, k = 2, 4 starts), which is how the paper solves eq. (23);
* the batched Fig. 1 sweep (1000 β, TIE on all 8 branches, N = 128) against one call of
  ``quantities`` per β and optimum.
"""
import time

import numpy as np

from numerics import tractable_beta_vae as tbv
from numerics.reference import tractable_beta_vae as ref


def _once(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def _report(benchmark, label, seconds):
    ratio = seconds / benchmark.stats.stats.mean
    benchmark.extra_info.update(baseline_s=seconds, speedup=ratio)
    print(f"\n{label}: fast {benchmark.stats.stats.mean * 1e3:.3g} ms, baseline {seconds:.3g} s, ratio {ratio:.3g}")


def test_closed_form_optimum_vs_multistart(benchmark):
    A = np.random.default_rng(0).standard_normal((5, 2))
    best = benchmark(tbv.optimum, A, 0.5)
    (_, values), seconds = _once(ref.maximise_objective, A, 0.5, starts=4)
    _report(benchmark, "optimum of eq. (21): closed form vs 4-start BFGS", seconds)
    assert abs(np.nanmax(values) - tbv.objective(best, A, 0.5)) < 1e-8 * abs(values).max()


def test_figure_1_sweep_vs_loop(benchmark):
    A = tbv.paper_mixing()
    betas = np.geomspace(0.01, 1000.0, 1000)
    sweep = benchmark(tbv.sweep, A, betas)

    def loop():
        return [[tbv.quantities(o, A, b).tie for o in (tbv.relabel(tbv.optimum(A, b), *g) for g in sweep.branches)]
                for b in betas]
    looped, seconds = _once(loop)
    _report(benchmark, "Fig. 1 sweep (1000 beta x 8 branches): batched vs loop", seconds)
    assert np.allclose(looped, sweep.tie, rtol=1e-10)
