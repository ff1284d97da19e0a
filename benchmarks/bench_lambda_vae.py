"""Speed of the closed forms of [lambda_vae] (paper 002) against their numerical baselines.

    python -m pytest benchmarks/bench_lambda_vae.py --benchmark-only -s

Each ratio (baseline / closed form) is measured side by side in one process, in interleaved
rounds (benchmarks/interleave.py), on the same inputs, and reported as the minimum and the
median over rounds in wall and CPU time (``extra_info``, printed with ``-s``); the closed
form runs many calls per round and its time is per call. pytest-benchmark then times the
closed form alone.

* λ* for every latent of a K = 512 code (the per-update cost of the λ* schedule of §6.1)
  against bounded numerical maximisation of J per dimension (numerics.reference);
* the joint σ*-λ* fixed point (Lambert W) against iterating the schedule for as many steps
  as it needs to agree with the closed form to the asserted 1e-10 (counted outside the
  clock; the former 200-step budget is shown apart);
* I(X;Z), KL(q(z)||p) and ΔI of a 2-D encoder on 8 points by quadrature against a Monte
  Carlo estimate with 200,000 samples. These budgets are not equal in accuracy: the
  quadrature's error (against order 128) and the Monte Carlo standard error are printed
  beside the ratio, and the ratio at equal accuracy is extrapolated (Monte Carlo's cost
  grows as 1 / error²), labelled as such.
"""
import numpy as np
import pytest

from benchmarks.interleave import abab, report
from numerics import lambda_vae as lv
from numerics.reference import lambda_vae as ref


def test_lambda_star_schedule_update(benchmark):
    sigma = np.random.default_rng(0).uniform(0.05, 0.99, 512)
    (numeric, closed), walls, cpus = abab(lambda: np.array([ref.lambda_star_maximise(s, 1.001) for s in sigma]),
                                          lambda: lv.lambda_star(sigma, 1.001), number_b=1000)
    benchmark.extra_info.update(report("lambda* for K = 512: maximisation / closed form", walls, cpus))
    benchmark(lv.lambda_star, sigma, 1.001)
    assert np.allclose(numeric, closed, rtol=1e-4)


def test_joint_fixed_point(benchmark):
    lam, sigma = lv.joint_fixed_point(1.01)
    error = np.abs(ref.schedule_iteration(1.01, 0.9, 200) / [lam, sigma] - 1).max(axis=1)
    steps = int(np.argmax(error <= 1e-10)) + 1      # the first iterate within the asserted tolerance
    for budget, label in ((steps, f"{steps} steps, to 1e-10"), (200, "200 steps, the former budget")):
        (iterated, _), walls, cpus = abab(lambda: ref.schedule_iteration(1.01, 0.9, budget),
                                          lambda: lv.joint_fixed_point(1.01), number_b=1000)
        ratios = report(f"joint fixed point: schedule iterated {label} / closed form", walls, cpus)
        benchmark.extra_info.update({f"{k}_{budget}_steps": v for k, v in ratios.items()})
        assert np.allclose(iterated[-1], [lam, sigma], rtol=1e-10)
    benchmark.extra_info["steps_to_1e-10"] = steps
    benchmark(lv.joint_fixed_point, 1.01)


@pytest.mark.parametrize("order", [32, 64])
def test_finite_data_information(benchmark, order):
    rng = np.random.default_rng(1)
    mu, noise = rng.standard_normal((8, 2)), rng.uniform(0.3, 1.0, (8, 2))
    (mc, info), walls, cpus = abab(lambda: ref.information_monte_carlo(mu, noise, samples=200_000),
                                   lambda: lv.finite_data_information(mu, noise, order=order),
                                   number_b=20 if order == 32 else 3)
    ratios = report(f"information: Monte Carlo (200,000 samples) / quadrature (order {order})", walls, cpus)
    est, err = mc["mutual_information"]
    quad_err = abs(info.mutual_information - lv.finite_data_information(mu, noise, order=128).mutual_information)
    equal = {k.replace("ratio", "ratio_extrapolated_equal_accuracy"): v * (err / quad_err) ** 2
             for k, v in ratios.items()}
    print(f"  I(X;Z): quadrature error {quad_err:.2g} (against order 128), Monte Carlo standard error {err:.2g}; "
          f"at equal accuracy (extrapolated, Monte Carlo cost ~ 1 / error^2) the CPU ratio would be "
          f"{equal['ratio_extrapolated_equal_accuracy_cpu_median']:.3g}")
    benchmark.extra_info.update(ratios, quadrature_error=quad_err, monte_carlo_stderr=err, **equal)
    benchmark(lv.finite_data_information, mu, noise, order=order)
    assert abs(est - info.mutual_information) < 5 * err + 1e-4
