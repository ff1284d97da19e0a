"""Run each objective briefly on CUDA and record throughput and metrics: ``python -m deep.gpu_report``.

Writes ``results/deep_gpu.json`` with the commit, the device name and, per objective
(beta, lambda-beta, lambda on procedural dSprites, Table 1 architecture, batch 64,
bfloat16 autocast), images/s and the final metrics, plus the bfloat16-vs-float32 loss
difference on one batch. Where no CUDA device is available the file says that the GPU
path is untested, so a results file never claims more than was run.
"""
from __future__ import annotations

import argparse
import datetime
import json
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from deep import results
from deep.provenance import commit
from deep.runs import atomic_write, build
from deep.train import RunConfig, train

OUTPUT = results.STORED / "deep_gpu.json"
OBJECTIVES = {"beta": {"name": "beta", "beta": 4.0},
              "lambda-beta": {"name": "lambda-beta", "beta": 4.0, "l2_weight": 8.0},
              "lambda": {"name": "lambda", "delta": 1.01, "update_every": 100}}
KEPT = ("mig", "sap", "dci", "active_units", "kl", "snr_capacity", "decoder_capacity",
        "reconstruction_nll", "reconstruction_mse")


def amp_agreement(config: dict, device: torch.device) -> float:
    """|loss(bfloat16 autocast) - loss(float32)| / |loss(float32)| on one batch of 64."""
    data, model, objective = build(config)
    model.to(device)
    x = torch.from_numpy(data.observations(np.arange(64))).to(device)
    losses = []
    for amp in (False, True):
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            loss, _ = objective.loss(model, x, 0, torch.Generator(device=device).manual_seed(0))
        losses.append(loss.item())
    return abs(losses[1] - losses[0]) / abs(losses[0])


def report(steps: int = 500, eval_samples: int = 5000) -> dict:
    """The results record (module docstring); trains only when CUDA is available."""
    record = {"commit": commit(), "torch": torch.__version__,
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    if not torch.cuda.is_available():
        return {**record, "status": "untested", "device": None,
                "reason": "no CUDA device was available where this ran: the CUDA path (automatic device "
                          "choice, bfloat16 autocast, pinned-memory loader workers) has not been run, and "
                          "tests/test_deep_train.py::test_cuda_mixed_precision_agrees_with_float32 was skipped"}
    device = torch.device("cuda")
    record.update(status="tested", device=torch.cuda.get_device_name(device), steps=steps, runs={})
    for name, objective in OBJECTIVES.items():
        if name == "lambda-beta":
            objective = {**objective, "phase1_steps": steps // 2}
        config = RunConfig(data={"name": "dsprites"}, model={"architecture": "conv", "m": 10}, objective=objective,
                           steps=steps, evaluation={"samples": eval_samples, "dci_estimators": 20})
        with tempfile.TemporaryDirectory() as run_dir:
            metrics = train(config, run_dir, device="cuda", progress=False)
        record["runs"][name] = {"images_per_s": metrics["training"]["images_per_s"],
                                "wall_s": metrics["training"]["wall_s"],
                                "amp_relative_loss_difference": amp_agreement(
                                    asdict(config), device),
                                **{k: metrics[k] for k in KEPT}}
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="training steps per objective")
    parser.add_argument("--eval-samples", type=int, default=5000)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    record = report(args.steps, args.eval_samples)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.output, lambda p: p.write_text(json.dumps(record, indent=1) + "\n"))
    print(f"{record['status']}: wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
