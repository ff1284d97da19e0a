"""Speed of the closed forms of [wang_ziyin] (paper 004) against their numerical baselines.

    python -m pytest benchmarks/bench_linear_latent_model.py --benchmark-only -s

Each ratio (baseline / closed form) is measured side by side in one process, in interleaved
rounds (benchmarks/interleave.py), on the same inputs, one BLAS thread on both sides, and
reported as the minimum and the median over rounds in wall and CPU time (``extra_info``,
printed with ``-s``); pytest-benchmark then times the closed form alone.

* the global minimum (Theorem 2) against the L-BFGS minimiser of the raw objective (one
  start, at most 5000 iterations) at d0 = d2 in {5, 50, 200}; where L-BFGS stops above the
  closed-form minimum the ratio is a lower bound (printed as ">=");
* a full β-scan (the same 1000 values on both sides) of the collapse classifier at d = 200,
  fixed and learnable η_dec, against one closed-form global minimum / optimal decoder
  variance per β.
"""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from benchmarks.interleave import abab, report
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


@pytest.mark.parametrize("d", [5, 50, 200])
def test_global_minimum_vs_numerical_minimiser(benchmark, d):
    R, M = _problem(d)
    A = R @ R.T
    d1, beta = min(d, 20), 0.05
    X, Y = ref.exact_data(R, M)
    (numeric, closed), walls, cpus = abab(lambda: ref.minimise(X, Y, d1, beta, starts=1, maxiter=5000),
                                          lambda: llm.global_minimum(A, M, d1, beta), number_b=200 if d < 200 else 20)
    converged = numeric.loss - closed.loss <= 1e-8 * closed.loss
    label = f"d0 = d2 = {d}, d1 = {d1}: L-BFGS / closed form" + ("" if converged else
                                                                  " (>=: 5000 iterations did not converge)")
    benchmark.extra_info.update(report(label, walls, cpus), d=d, d1=d1, converged=converged,
                                rel_gap=(numeric.loss - closed.loss) / closed.loss)
    benchmark(llm.global_minimum, A, M, d1, beta)
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
    (baseline, (fixed, learnable)), walls, cpus = abab(lambda: _scan_baseline(A, M, betas),
                                                       lambda: _scan(A, M, betas), number_b=10)
    benchmark.extra_info.update(report("1000-beta scan at d = 200: one global minimum per beta / batched",
                                       walls, cpus))
    benchmark(_scan, A, M, betas)
    assert list(zip(fixed.n_active, learnable.n_active)) == baseline
