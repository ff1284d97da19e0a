"""CPU options for the reduced-size protocol (issue 19), measured on one small training loop.

    python benchmarks/bench_reduced.py [--size 16] [--steps 150] [--repeats 3] [--out FILE]

Each variant trains the scaled Table-1 VAE (m = 10, Bernoulli, Adam lr 1e-3, batch 64) on
procedural dSprites at ``--size`` px from the same initialisation on the same batches and
noise, and reports CPU seconds per step (process time, so the other workers on a shared
machine inflate the wall time, not this number; CPU / wall beside it) and, against the
plain variant, the relative parameter difference and the mean-loss difference over the
last 50 steps after ``--steps`` steps:

- ``rendered``: every batch rendered at 64 px and block-averaged (what the loader does
  without ``Downsampled``);
- ``in_memory``: the set rendered once and held (:class:`deep.data.Downsampled`), the plain
  reference;
- ``channels_last``: in memory, model and batches in ``torch.channels_last``;
- ``compile``: in memory, ``torch.compile`` (inductor) on the loss; its compile time is
  reported apart;
- ``threads2``: in memory, ``torch.set_num_threads(2)`` (CPU time counts both threads).

Variants are interleaved over ``--repeats`` rounds; the median is reported.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
import torch

from deep import data as D
from deep.models import build_model
from deep.objectives import build_objective

VARIANTS = ("in_memory", "rendered", "channels_last", "compile", "threads2")


def _batches(n: int, steps: int, batch: int) -> list[np.ndarray]:
    return [D.batch_indices(n, batch, 0, t) for t in range(steps)]


def _train(variant: str, size: int, steps: int, batch: int, held: D.Downsampled, base: D.FactorData, init: dict):
    torch.set_num_threads(2 if variant == "threads2" else 1)
    torch.manual_seed(0)
    model = build_model({"architecture": "conv", "m": 10, "init_logvar": -6.0}, (1, size, size))
    model.load_state_dict(init)
    objective = build_objective({"name": "beta", "beta": 0.25}, model.m)
    if variant == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = objective.loss
    compile_s = 0.0
    if variant == "compile":
        loss_fn = torch.compile(objective.loss)
    losses = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for t, idx in enumerate(_batches(len(held), steps, batch)):
        if variant == "rendered":
            x = D.downsample(base.observations(idx), size)
        else:
            x = held.observations(idx)
        x = torch.from_numpy(x)
        if variant == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
        gen = torch.Generator().manual_seed(t)
        c = time.process_time()
        loss, _ = loss_fn(model, x, t, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if variant == "compile" and t == 0:
            compile_s = time.process_time() - c
        losses.append(float(loss))
    cpu, wall = time.process_time() - cpu0 - compile_s, time.perf_counter() - wall0
    params = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    return {"cpu_s_per_step": cpu / (steps - (variant == "compile")), "cpu_per_wall": (cpu + compile_s) / wall,
            "compile_cpu_s": compile_s, "params": params, "tail_loss": float(np.mean(losses[-50:]))}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=8192)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    base = D.Subset(D.DSprites(), np.sort(np.random.default_rng(0).choice(737_280, args.images, replace=False)))
    cpu0 = time.process_time()
    held = D.Downsampled(base, args.size)
    render_s = time.process_time() - cpu0
    torch.manual_seed(0)
    init = build_model({"architecture": "conv", "m": 10, "init_logvar": -6.0}, (1, args.size, args.size)).state_dict()
    runs = {v: [] for v in args.variants}
    for _ in range(args.repeats):
        for v in args.variants:
            runs[v].append(_train(v, args.size, args.steps, args.batch, held, base, init))
    ref = runs["in_memory"][0]
    table = {}
    for v, rs in runs.items():
        p = rs[0]["params"]
        table[v] = {"cpu_ms_per_step": 1e3 * statistics.median(r["cpu_s_per_step"] for r in rs),
                    "cpu_ms_per_step_all": [1e3 * r["cpu_s_per_step"] for r in rs],
                    "cpu_per_wall": statistics.median(r["cpu_per_wall"] for r in rs),
                    "compile_cpu_s": rs[0]["compile_cpu_s"],
                    "param_rel_diff": float((p - ref["params"]).norm() / ref["params"].norm()),
                    "tail_loss": rs[0]["tail_loss"], "tail_loss_diff": rs[0]["tail_loss"] - ref["tail_loss"],
                    "repeatable": bool(len(rs) < 2 or torch.equal(rs[0]["params"], rs[1]["params"]))}
    out = {"size": args.size, "steps": args.steps, "repeats": args.repeats, "batch": args.batch,
           "images": args.images, "render_once_cpu_s": render_s, "torch": torch.__version__,
           "load_average": os.getloadavg(), "variants": table}
    text = json.dumps(out, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text)
    return out


if __name__ == "__main__":
    main()
