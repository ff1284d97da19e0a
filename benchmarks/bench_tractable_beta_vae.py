"""Speed of the tractable β-VAE of [optimal_beta] (paper 003) against its baselines.

    python -m pytest benchmarks/bench_tractable_beta_vae.py --benchmark-only -s

Each benchmark times the fast route with pytest-benchmark and its baseline once in the
same process and records the ratio in ``extra_info``:

* the closed-form optimum of eq. (21) against many-start BFGS of the reference objective
  (numerics.reference, N = 5, k = 2, 4 starts), which is how the paper solves eq. (23);
* the batched Fig. 1 sweep (1000 β, TIE on all 8 branches, N = 128) against one call of
  ``quantities`` per β and optimum;
* the best relabelling of the §V experiment (assignment + descent) against enumerating
  all 2^k k! signed permutations, k = 6 (46,080) at the optimum for the §V-like A.
"""
import time

import numpy as np

from numerics import tractable_beta_vae as tbv
from numerics.reference import tractable_beta_vae as ref


def _speedup(benchmark, label, baseline):
    """Run ``baseline`` once, record its time over the benchmark's mean; return its result."""
    start = time.perf_counter()
    result = baseline()
    seconds = time.perf_counter() - start
    benchmark.extra_info.update(baseline_s=seconds, speedup=seconds / benchmark.stats.stats.mean)
    print(f"\n{label}: {benchmark.stats.stats.mean * 1e3:.3g} ms vs {seconds:.3g} s "
          f"(x{benchmark.extra_info['speedup']:.3g})")
    return result


def test_closed_form_optimum_vs_multistart(benchmark):
    A = np.random.default_rng(0).standard_normal((5, 2))
    best = benchmark(tbv.optimum, A, 0.5)
    _, values = _speedup(benchmark, "optimum of eq. (21): closed form vs 4-start BFGS",
                         lambda: ref.maximise_objective(A, 0.5, starts=4))
    assert abs(np.nanmax(values) - tbv.objective(best, A, 0.5)) < 1e-8 * abs(values).max()


def test_figure_1_sweep_vs_loop(benchmark):
    A = tbv.paper_mixing()
    betas = np.geomspace(0.01, 1000.0, 1000)
    sweep = benchmark(tbv.sweep, A, betas)

    def loop():
        return [[tbv.quantities(o, A, b).tie for o in (tbv.relabel(tbv.optimum(A, b), *g) for g in sweep.branches)]
                for b in betas]
    looped = _speedup(benchmark, "Fig. 1 sweep (1000 beta x 8 branches): batched vs loop", loop)
    assert np.allclose(looped, sweep.tie, rtol=1e-10)


def test_best_relabelling_vs_enumeration(benchmark):
    A = np.random.default_rng(1).uniform(0, 1, (64, 6))     # non-negative columns, like digit images
    m = tbv.encoder_moments(tbv.optimum(A, 0.5), A)
    _, _, best = benchmark(tbv.best_relabelling, m)
    enumerated = _speedup(benchmark, "best of 2^6 6! relabellings: assignment vs enumeration",
                          lambda: min(tbv.relabelled_tie(m, p, s) for p, s in tbv.signed_permutations(6)))
    assert abs(best - enumerated) < 1e-10 * abs(enumerated)
