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
import time

import numpy as np
import pytest
import torch

from deep.ensemble import Stack
from deep.models import build_model
from deep.objectives import build_objective

CUDA = torch.cuda.is_available()
DEVICE = torch.device("cuda" if CUDA else "cpu")
BATCH = 64 if CUDA else 16
M = 10
GRID_MODELS, GRID_STEPS, GRID_BATCH = 80, 150_000, 64  # Table 2 of [mi_collapse]


def models(n: int) -> list:
    out = []
    for k in range(n):
        torch.manual_seed(k)
        out.append(build_model({"architecture": "conv", "m": M}, (1, 64, 64)).to(DEVICE))
    return out


def batch(n: int, seed: int = 0):
    """Stacked inputs for n models: binary images, noise, exponents, beta, lam."""
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand((n, BATCH, 1, 64, 64), generator=gen) < 0.05).float().to(DEVICE)
    eps = torch.randn((n, BATCH, M), generator=gen).to(DEVICE)
    return (x, eps, torch.ones((n, M), device=DEVICE), torch.linspace(1, 256, n, device=DEVICE),
            torch.zeros(n, device=DEVICE))


def one_at_a_time_images_per_s(repeats: int = 5) -> float:
    """Images/s of one model trained alone (deep.objectives.Objective.loss + Adam, as deep.train.fit steps)."""
    model = models(1)[0]
    objective = build_objective({"name": "beta", "beta": 4.0}, M)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = batch(1)[0][0]
    times = []
    for step in range(repeats + 1):
        start = time.perf_counter()
        with torch.autocast(DEVICE.type, dtype=torch.bfloat16, enabled=CUDA):
            loss, _ = objective.loss(model, x, step, torch.Generator(device=DEVICE).manual_seed(step))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if CUDA:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return BATCH / float(np.median(times[1:]))


@pytest.fixture(scope="module")
def baseline():
    if not CUDA:
        torch.set_num_threads(1)
    else:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    return one_at_a_time_images_per_s()


@pytest.mark.parametrize("n", [1, 8, 32, 80])
def test_side_by_side_throughput(benchmark, baseline, n):
    stack = Stack(models(n), lr=1e-4, amp=CUDA, compile=CUDA)
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
