"""Speed of the tractable β-VAE of [optimal_beta] (paper 003) against its baselines.

    python -m pytest benchmarks/bench_tractable_beta_vae.py --benchmark-only -s

Each ratio (baseline / fast route) is measured side by side in one process, in interleaved
rounds (benchmarks/interleave.py), on the same inputs, and reported as the minimum and the
median over rounds in wall and CPU time (``extra_info``, printed with ``-s``); pytest-benchmark
then times the fast route alone.

* the closed-form optimum of eq. (21) against many-start BFGS of the reference objective
  (numerics.reference, N = 5, k = 2, 4 starts), which is how the paper solves eq. (23);
* the batched Fig. 1 sweep (1000 β, TIE on all 8 branches, N = 128) against one call of
  ``quantities`` per β and optimum;
* the best relabelling of the §V experiment (assignment + descent) against enumerating
  all 2^k k! signed permutations, k = 6 (46,080) at the optimum for the §V-like A.
"""
import numpy as np

from benchmarks.interleave import abab, report
from numerics import tractable_beta_vae as tbv
from numerics.reference import tractable_beta_vae as ref


def test_closed_form_optimum_vs_multistart(benchmark):
    A = np.random.default_rng(0).standard_normal((5, 2))
    ((_, values), best), walls, cpus = abab(lambda: ref.maximise_objective(A, 0.5, starts=4),
                                            lambda: tbv.optimum(A, 0.5), rounds=5, number_a=3, number_b=300)
    benchmark.extra_info.update(report("optimum of eq. (21): 4-start BFGS / closed form", walls, cpus))
    benchmark(tbv.optimum, A, 0.5)
    assert abs(np.nanmax(values) - tbv.objective(best, A, 0.5)) < 1e-8 * abs(values).max()


def test_figure_1_sweep_vs_loop(benchmark):
    A = tbv.paper_mixing()
    betas = np.geomspace(0.01, 1000.0, 1000)
    branches = tbv.sweep(A, betas).branches

    def loop():
        return [[tbv.quantities(o, A, b).tie for o in (tbv.relabel(tbv.optimum(A, b), *g) for g in branches)]
                for b in betas]
    (looped, sweep), walls, cpus = abab(loop, lambda: tbv.sweep(A, betas), number_b=3)
    benchmark.extra_info.update(report("Fig. 1 sweep (1000 beta x 8 branches): loop / batched", walls, cpus))
    benchmark(tbv.sweep, A, betas)
    assert np.allclose(looped, sweep.tie, rtol=1e-10)


def test_best_relabelling_vs_enumeration(benchmark):
    A = np.random.default_rng(1).uniform(0, 1, (64, 6))     # non-negative columns, like digit images
    m = tbv.encoder_moments(tbv.optimum(A, 0.5), A)
    (enumerated, (_, _, best)), walls, cpus = abab(
        lambda: min(tbv.relabelled_tie(m, p, s) for p, s in tbv.signed_permutations(6)),
        lambda: tbv.best_relabelling(m), number_b=10)
    benchmark.extra_info.update(report("best of 2^6 6! relabellings: enumeration / assignment", walls, cpus))
    benchmark(tbv.best_relabelling, m)
    assert abs(best - enumerated) < 1e-10 * abs(enumerated)
