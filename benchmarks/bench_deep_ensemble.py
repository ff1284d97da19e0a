"""Side-by-side training (deep.ensemble.Stack) against one model at a time: aggregate images/s.

One Adam step of N Table-1 conv VAEs (m = 10, Bernoulli decoder, dSprites-shaped inputs)
stacked and vmapped, for N = 1, 8, 32, 80 (80 = paper 000's β-VAE grid, 8 β x 10 seeds),
against the same N models stepped one after another (each its own Adam, the same loss
``deep.objectives.loss_terms`` on the same inputs, noise, β and exponents: equal work on
both sides). The ratio one-at-a-time / stack is measured side by side in one process, in
interleaved rounds (benchmarks/interleave.py), min and median over rounds in wall and CPU
time (``extra_info``, printed with ``-s``); pytest-benchmark then times the stack alone.
``extra_info`` also holds the time the paper's grid (80 models x 150k steps of batch 64)
would take at the stack's median rate: an extrapolation from a few steps, not a measurement.

On the CPU (one thread, as deep.train uses) the batch is 16 instead of the paper's 64 so
that a step of 80 models takes seconds, not a minute; the output says which batch and
device were used. The GPU targets of issue 7 (>= 10x the one-at-a-time throughput on an
H200 and the grid in under one GPU-hour, with bfloat16, TF32 and torch.compile) need a
CUDA device: on one, the same file runs at batch 64 with those settings (bfloat16 autocast
and TF32 on both sides, torch.compile on the stack).

    python -m pytest benchmarks/bench_deep_ensemble.py --benchmark-only -s
"""

import numpy as np
import pytest
import torch

from benchmarks.interleave import abab, report
from deep.ensemble import Stack
from deep.gpu_report import GRID_BATCH, GRID_MODELS, GRID_STEPS, M, images, models
from deep.objectives import loss_terms

CUDA = torch.cuda.is_available()
DEVICE = torch.device("cuda" if CUDA else "cpu")
BATCH = 64 if CUDA else 16


def batch(n: int):
    """Stacked inputs for n models: binary images, noise, exponents, beta, l2_weight."""
    x, eps = images(n, BATCH, DEVICE)
    return (x, eps, torch.ones((n, M), device=DEVICE), torch.linspace(1, 256, n, device=DEVICE),
            torch.zeros(n, device=DEVICE))


def _sync():
    if CUDA:
        torch.cuda.synchronize()


def one_at_a_time(n: int, inputs):
    """One Adam step of each of the n models in turn, member k on row k of ``inputs``."""
    members = models(n, DEVICE)
    optimizers = [torch.optim.Adam(m.parameters(), lr=1e-4) for m in members]

    def step():
        for k, (model, optimizer) in enumerate(zip(members, optimizers)):
            with torch.autocast(DEVICE.type, dtype=torch.bfloat16, enabled=CUDA):
                loss, _ = loss_terms(model, *(a[k] for a in inputs))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        _sync()
    return step


@pytest.fixture(scope="module", autouse=True)
def _settings():
    if not CUDA:
        torch.set_num_threads(1)
    else:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True


@pytest.mark.parametrize("n", [1, 8, 32, 80])
def test_side_by_side_throughput(benchmark, n):
    stack = Stack(models(n, DEVICE), lr=1e-4, amp=CUDA, compile=CUDA)
    inputs = batch(n)

    def step():
        stack.step(*inputs)
        _sync()
    _, walls, cpus = abab(one_at_a_time(n, inputs), step, rounds=3)      # warm-up compiles the stack on CUDA
    device = torch.cuda.get_device_name(0) if CUDA else "cpu (1 thread)"
    ratios = report(f"{n} models on {device}, batch {BATCH} each: one at a time / side by side", walls, cpus)
    rate = n * BATCH / float(np.median(walls[:, 1]))
    grid_hours = GRID_MODELS * GRID_STEPS * GRID_BATCH / rate / 3600  # at this rate per image, whatever the batch
    print(f"  stack {rate:,.0f} images/s (median wall); paper 000's grid (80 x 150k steps x 64 images) at this "
          f"rate: {grid_hours:,.1f} h (extrapolated)")
    benchmark.extra_info.update(ratios, device=device, batch_per_model=BATCH, models=n,
                                aggregate_images_per_s=rate, extrapolated_paper_000_grid_hours=grid_hours)
    benchmark.pedantic(step, rounds=1, iterations=1)
