"""Speed of the closed forms of [lambda_vae] (paper 002) against their numerical baselines.

    python -m pytest benchmarks/bench_lambda_vae.py --benchmark-only -s

Each benchmark times the closed form with pytest-benchmark and its baseline once in the
same process and records the ratio in ``extra_info``:

* λ* for every latent of a K = 512 code (the per-update cost of the λ* schedule of §6.1)
  against bounded numerical maximisation of J per dimension (numerics.reference);
* the joint σ*-λ* fixed point (Lambert W) against iterating the schedule;
* I(X;Z), KL(q(z)||p) and ΔI of a 2-D encoder on 8 points by quadrature against a
  Monte Carlo estimate with 200,000 samples.
"""
import time

import numpy as np
import pytest

from numerics import lambda_vae as lv
from numerics.reference import lambda_vae as ref


def _once(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def _report(benchmark, label, seconds):
    ratio = seconds / benchmark.stats.stats.mean
    benchmark.extra_info.update(baseline_s=seconds, speedup=ratio)
    print(f"\n{label}: closed form {benchmark.stats.stats.mean * 1e6:.3g} us, baseline {seconds:.3g} s, "
          f"ratio {ratio:.3g}")


def test_lambda_star_schedule_update(benchmark):
    sigma = np.random.default_rng(0).uniform(0.05, 0.99, 512)
    closed = benchmark(lv.lambda_star, sigma, 1.001)
    numeric, seconds = _once(lambda: np.array([ref.lambda_star_maximise(s, 1.001) for s in sigma]))
    _report(benchmark, "lambda* for K = 512", seconds)
    assert np.allclose(numeric, closed, rtol=1e-4)


def test_joint_fixed_point(benchmark):
    lam, sigma = benchmark(lv.joint_fixed_point, 1.01)
    iterated, seconds = _once(ref.schedule_iteration, 1.01, 0.9, 200)
    _report(benchmark, "joint fixed point", seconds)
    assert np.allclose(iterated[-1], [lam, sigma], rtol=1e-10)


@pytest.mark.parametrize("order", [32, 64])
def test_finite_data_information(benchmark, order):
    rng = np.random.default_rng(1)
    mu, noise = rng.standard_normal((8, 2)), rng.uniform(0.3, 1.0, (8, 2))
    info = benchmark(lv.finite_data_information, mu, noise, order=order)
    mc, seconds = _once(ref.information_monte_carlo, mu, noise, samples=200_000)
    _report(benchmark, f"information by quadrature (order {order}) vs Monte Carlo", seconds)
    est, err = mc["mutual_information"]
    assert abs(est - info.mutual_information) < 5 * err + 1e-4
