"""Speed of the deep module on CPU: procedural rendering against the training step it feeds.

The loader keeps the model busy when rendering a batch takes less than a training step on
the same batch. Each benchmark measures that ratio (render / train step, batch 64, one
thread) side by side in one process, in interleaved rounds (benchmarks/interleave.py), min
and median over rounds in wall and CPU time (``extra_info``, printed with ``-s``);
pytest-benchmark then times the rendering alone. The tiny configuration of ``collapse
train --tiny`` is timed whole.

    python -m pytest benchmarks/bench_deep.py --benchmark-only -s
"""
import pytest
import torch

from benchmarks.interleave import abab, report
from collapse.cli import main
from deep.data import DSprites, Shapes3D
from deep.models import build_model
from deep.objectives import build_objective

BATCH = 64


def train_step(shape):
    """One Adam step of the Table 1 VAE on one CPU thread on a fixed batch of 64 (a callable)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model({"architecture": "conv", "m": 10}, shape)
    objective = build_objective({"name": "beta", "beta": 4.0}, 10)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.rand((BATCH, *shape)).round()

    def step():
        loss, _ = objective.loss(model, x, 0, torch.Generator().manual_seed(0))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


@pytest.mark.parametrize("data", [DSprites(), Shapes3D()], ids=lambda d: d.name)
def test_render_batch_against_train_step(benchmark, data):
    index = data.sample(BATCH, 0)
    _, walls, cpus = abab(lambda: data.observations(index), train_step(data.shape), rounds=5, number_a=10)
    benchmark.extra_info.update(report(f"{data.name}, batch {BATCH}: render / train step", walls, cpus))
    benchmark(data.observations, index)


def test_tiny_configuration(benchmark, tmp_path):
    """The whole `collapse train --tiny` (training and final metrics), once."""
    result = benchmark.pedantic(main, args=(["train", "--tiny", "--no-progress", "--out", str(tmp_path)],),
                                rounds=1, iterations=1)
    assert result == 0
