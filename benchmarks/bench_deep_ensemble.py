"""Side-by-side training (deep.ensemble.Stack) against one model at a time: aggregate images/s.

One Adam step of N Table-1 conv VAEs (m = 10, Bernoulli decoder, dSprites-shaped inputs)
stacked and vmapped, for N = 1, 8, 32, 80 (80 = paper 000's β-VAE grid, 8 β x 10 seeds),
against one model's step timed in the same process (the one-at-a-time baseline: N models
one after another take N times as long). Each benchmark stores in ``extra_info`` the
aggregate images/s of the stack, the baseline's, their ratio, and the time the paper's
grid (80 models x 150k steps of batch 64) would take at the stack's rate. That time is
an extrapolation from a few steps, not a measurement.

On the CPU (one thread, as deep.train uses) the batch is 16 instead of the paper's 64 so
that a step of 80 models takes seconds, not a minute; the output says which batch and
device were used. The GPU targets of issue 7 (>= 10x the one-at-a-time throughput on an
H200 and the grid in under one GPU-hour, with bfloat16, TF32 and torch.compile) need a
CUDA device: on one, the same file runs at batch 64 with those settings.

    python -m pytest benchmarks/bench_deep_ensemble.py --benchmark-only -s
"""

import pytest
import torch

from deep.ensemble import Stack
from deep.gpu_report import GRID_BATCH, GRID_MODELS, GRID_STEPS, M, images, models, one_model_images_per_s

CUDA = torch.cuda.is_available()
DEVICE = torch.device("cuda" if CUDA else "cpu")
BATCH = 64 if CUDA else 16


def batch(n: int):
    """Stacked inputs for n models: binary images, noise, exponents, beta, l2_weight."""
    x, eps = images(n, BATCH, DEVICE)
    return (x, eps, torch.ones((n, M), device=DEVICE), torch.linspace(1, 256, n, device=DEVICE),
            torch.zeros(n, device=DEVICE))


@pytest.fixture(scope="module")
def baseline():
    if not CUDA:
        torch.set_num_threads(1)
    else:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    return one_model_images_per_s(DEVICE, BATCH, 5, amp=CUDA)


@pytest.mark.parametrize("n", [1, 8, 32, 80])
def test_side_by_side_throughput(benchmark, baseline, n):
    stack = Stack(models(n, DEVICE), lr=1e-4, amp=CUDA, compile=CUDA)
    inputs = batch(n)

    def step():
        stack.step(*inputs)
        if CUDA:
            torch.cuda.synchronize()
    benchmark.pedantic(step, rounds=2 if n >= 32 else 3, iterations=1, warmup_rounds=1)
    rate = n * BATCH / benchmark.stats.stats.median
    grid_hours = GRID_MODELS * GRID_STEPS * GRID_BATCH / rate / 3600  # at this rate per image, whatever the batch
    benchmark.extra_info.update({
        "device": torch.cuda.get_device_name(0) if CUDA else "cpu (1 thread)", "batch_per_model": BATCH,
        "models": n, "aggregate_images_per_s": rate, "one_at_a_time_images_per_s": baseline,
        "speedup_over_one_at_a_time": rate / baseline,
        "extrapolated_paper_000_grid_hours": grid_hours})
    print(f"\n{n:>3} models side by side on {benchmark.extra_info['device']}, batch {BATCH} each: "
          f"{rate:,.0f} images/s aggregate vs {baseline:,.0f} one at a time ({rate / baseline:.2f}x); "
          f"paper 000's grid (80 x 150k steps x 64 images) at this rate: {grid_hours:,.1f} h (extrapolated)")
