"""Speed of the closed forms of [wang_ziyin] (paper 004) against their numerical baselines.

    python -m pytest benchmarks/bench_linear_latent_model.py --benchmark-only

Each benchmark times the closed form with pytest-benchmark and its baseline once in the
same process, and records the ratio in ``extra_info`` (printed with ``-s``):

* the global minimum (Theorem 2) against the many-start L-BFGS minimiser of the raw
  objective (one start) at d0 = d2 in {5, 50, 200};
* a full β-scan (1000 values) of the collapse classifier at d = 200, fixed and learnable
  η_dec, against one closed-form global minimum / optimal decoder variance per β.
"""
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from numerics import linear_latent_model as llm
from numerics.reference import linear_latent_model as ref


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """One BLAS thread: the same for both sides of each ratio, and no contention."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _problem(d, seed=0):
    rng = np.random.default_rng(seed)
    R = rng.standard_normal((d, d)) / np.sqrt(d)
    return R, rng.standard_normal((d, d)) / np.sqrt(d)


def _once(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


@pytest.mark.parametrize("d", [5, 50, 200])
def test_global_minimum_vs_numerical_minimiser(benchmark, d):
    R, M = _problem(d)
    A = R @ R.T
    d1, beta = min(d, 20), 0.05
    closed = benchmark(llm.global_minimum, A, M, d1, beta)
    X, Y = ref.exact_data(R, M)
    numeric, seconds = _once(ref.minimise, X, Y, d1, beta, starts=1, maxiter=5000)
    ratio = seconds / benchmark.stats.stats.mean
    converged = numeric.loss - closed.loss <= 1e-8 * closed.loss
    benchmark.extra_info.update(d=d, d1=d1, numerical_minimiser_s=seconds, speedup=ratio, converged=converged,
                                rel_gap=(numeric.loss - closed.loss) / closed.loss)
    print(f"\nd0 = d2 = {d}, d1 = {d1}: closed form {benchmark.stats.stats.mean * 1e3:.3g} ms, "
          f"numerical {seconds:.3g} s, ratio {'' if converged else '>= '}{ratio:.3g}"
          f"{'' if converged else ' (5000 L-BFGS iterations did not converge)'}")
    assert numeric.loss >= closed.loss * (1 - 1e-9)


def _scan(A, M, betas):
    zeta = llm.spectrum(A, M).zeta
    d1, d2 = zeta.size, M.shape[0]
    return (llm.classify(zeta, d1, betas), llm.classify(zeta, d1, betas, eta_dec=None, d2=d2))


def _scan_baseline(A, M, betas):
    d1 = min(A.shape[0], M.shape[0])
    return [(llm.global_minimum(A, M, d1, b).active.sum(), llm.optimal_decoder_variance(A, M, d1, b).n_active)
            for b in betas]


def test_beta_scan_of_the_classifier(benchmark):
    R, M = _problem(200)
    A = R @ R.T
    betas = np.logspace(-3, 1, 1000)
    fixed, learnable = benchmark(_scan, A, M, betas)
    baseline, seconds = _once(_scan_baseline, A, M, betas[::50])
    per_beta = seconds / 20
    ratio = per_beta * betas.size / benchmark.stats.stats.mean
    benchmark.extra_info.update(scan_s=benchmark.stats.stats.mean, baseline_s_per_beta=per_beta, speedup=ratio)
    print(f"\n1000-beta scan at d = 200: {benchmark.stats.stats.mean * 1e3:.3g} ms "
          f"(one global minimum per beta: {per_beta * 1e3:.3g} ms each, ratio {ratio:.3g})")
    assert [(f, l) for f, l in zip(fixed.n_active[::50], learnable.n_active[::50])] == baseline
