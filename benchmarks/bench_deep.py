"""Speed of the deep module on CPU: procedural rendering against the training step it feeds.

The loader keeps the model busy when rendering a batch takes less than a training step on
the same batch; each benchmark stores that ratio (render time / step time, both measured
in this process) in ``extra_info``. The tiny configuration of ``collapse train --tiny`` is
timed whole.

    python -m pytest benchmarks/bench_deep.py --benchmark-only
"""
import time

import numpy as np
import pytest
import torch

from collapse.cli import main
from deep.data import DSprites, Shapes3D
from deep.models import build_model
from deep.objectives import build_objective

BATCH = 64


def step_time(shape) -> float:
    """Seconds per Adam step of the Table 1 VAE on one CPU thread, batch 64 (median of 5)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model({"architecture": "conv", "m": 10}, shape)
    objective = build_objective({"name": "beta", "beta": 4.0}, 10)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.rand((BATCH, *shape)).round()
    times = []
    for step in range(6):
        start = time.perf_counter()
        loss, _ = objective.loss(model, x, step, torch.Generator().manual_seed(step))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


@pytest.mark.parametrize("data", [DSprites(), Shapes3D()], ids=lambda d: d.name)
def test_render_batch_against_train_step(benchmark, data):
    index = data.sample(BATCH, 0)
    benchmark(data.observations, index)
    benchmark.extra_info["render / train step"] = benchmark.stats.stats.median / step_time(data.shape)


def test_tiny_configuration(benchmark, tmp_path):
    """The whole `collapse train --tiny` (training and final metrics), once."""
    result = benchmark.pedantic(main, args=(["train", "--tiny", "--no-progress", "--out", str(tmp_path)],),
                                rounds=1, iterations=1)
    assert result == 0
