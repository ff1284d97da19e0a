"""The deep module on an accelerator, in one resumable script: ``python -m deep.gpu_report``.

When a GPU is lent (the device tool), this runs in well under 10 minutes and writes one
JSON file; on the CPU it runs the same sections at the sizes it is given (``--tiny``: a
pipeline check in seconds, as the tests run it). Sections, each timed, each skipped when
the output file already holds it (a killed run resumes; ``--again`` recomputes):

``single``     images/s of one Table-1 conv VAE (m = 10, batch 64) trained alone, median over the
               timed steps: float32, and on CUDA also bfloat16 autocast (on the CPU one thread,
               the figure a CPU run of the deep experiments can plan with)
``stack``      N models side by side (:class:`deep.ensemble.Stack`, N = 1, 8, 32, 80: 80 is
               paper 000's beta-VAE grid) against one model trained alone, both measured in
               the same interleaved rounds (one step, N-model step, one step, ...; one untimed
               step of each first; as many steps on each side): aggregate images/s, the
               ratio to one at a time, and the paper's grid (80 models x 150k steps x 64
               images) extrapolated at the stack's rate (an extrapolation, not a run). On
               CUDA both sides run under bfloat16 autocast, and the stack alone is also
               compiled (torch.compile); on the CPU both are float32, one thread. Needs no
               other section.
``precision``  float32 against bfloat16 autocast and TF32 (CUDA only) for each objective
               (beta, lambda-beta, lambda): relative difference of the loss and of the
               gradient on one batch of 64
``grid``       a resumable slice of paper 000's grid (Table 2: beta in {1, 8, 64, 256},
               Bernoulli Table-1 VAEs on procedural dSprites), ``--grid-steps`` Adam steps
               each, trained as one side-by-side pack through :func:`deep.sweep.execute`;
               run directories under ``--work-dir`` (a second call continues them)

The record (JSON): ``commit``, ``dirty``, ``torch``, ``device``, ``device_type``, ``tiny``,
``date``, and ``sections``: one object per section, each with its ``wall_s``, or
``{"not run": reason}``. ``sections.stack`` is::

    {"batch_per_model": 64, "rounds": 5, "threads": null,
     "precision": {"one_at_a_time": "bfloat16 autocast", "stack": "bfloat16 autocast, torch.compile"},
     "models": {"8": {"aggregate_images_per_s": ..., "one_at_a_time_images_per_s": ...,
                      "ratio_min": ..., "ratio_median": ...,
                      "seconds_per_step": {"one_at_a_time": [...], "stack": [...]},
                      "extrapolated_paper_000_grid_hours": ...}, ...},
     "wall_s": ...}

where, for each N, ``seconds_per_step`` holds each side's step time in each round (the two
lists have ``rounds`` entries each), both images/s are medians over the rounds, and the
ratio (aggregate images/s of the stack / images/s of one model, i.e. N t_one / t_stack in
one round) is taken in each round, then its minimum and median. ``threads`` is torch's
thread count on the CPU (1), null on CUDA.

Every section records where it ran; a section that needs CUDA says "not applicable" on
the CPU rather than claiming anything. ``--budget-s`` stops before a section that would
start after the budget (the remaining ones are recorded as not run).
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch

from deep import sweep
from deep.config import UserError, writable_dir, writable_file
from deep.ensemble import Stack
from deep.models import build_model
from deep.objectives import build_objective
from deep.provenance import commit
from deep import io

OUTPUT = Path("runs") / "gpu" / "report.json"
OBJECTIVES = {"beta": {"name": "beta", "beta": 4.0},
              "lambda-beta": {"name": "lambda-beta", "beta": 4.0, "l2_weight": 8.0, "phase1_steps": 0},
              "lambda": {"name": "lambda", "delta": 1.01, "update_every": 100}}
M = 10
GRID_MODELS, GRID_STEPS, GRID_BATCH = 80, 150_000, 64   # Table 2 of [mi_collapse]
SIZES = {"full": {"batch": 64, "stack": [1, 8, 32, 80], "repeats": 5, "grid_steps": 2000, "subset": None},
         "tiny": {"batch": 4, "stack": [1, 2], "repeats": 2, "grid_steps": 3, "subset": 64}}
SECTIONS = ("single", "stack", "precision", "grid")
PRECISION = {False: {"one_at_a_time": "float32", "stack": "float32"},      # the stack section's two sides
             True: {"one_at_a_time": "bfloat16 autocast", "stack": "bfloat16 autocast, torch.compile"}}


def models(n: int, device: torch.device) -> list:
    """n Table-1 conv VAEs (m = 10, Bernoulli), seeds 0..n-1."""
    out = []
    for k in range(n):
        torch.manual_seed(k)
        out.append(build_model({"architecture": "conv", "m": M}, (1, 64, 64)).to(device))
    return out


def images(n: int, batch: int, device: torch.device, seed: int = 0):
    """Binary 64 x 64 inputs and reparameterisation noise for n models (dSprites-shaped)."""
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand((n, batch, 1, 64, 64), generator=gen) < 0.05).float().to(device)
    eps = torch.randn((n, batch, M), generator=gen).to(device)
    return x, eps


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def one_model_step(device: torch.device, batch: int, *, amp: bool = False):
    """One Table-1 model's Adam step (loss, backward, update) on a fixed batch, as a callable
    (bfloat16 autocast with ``amp``); it returns when the device is done."""
    model = models(1, device)[0]
    objective = build_objective({"name": "beta", "beta": 4.0}, M)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = images(1, batch, device)[0][0]
    counter = itertools.count()

    def step():
        t = next(counter)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss, _ = objective.loss(model, x, t, torch.Generator(device=device).manual_seed(t))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        _sync(device)
    return step


def stack_step(n: int, device: torch.device, batch: int):
    """One Adam step of n models side by side (bfloat16 and torch.compile on CUDA), as a callable."""
    cuda = device.type == "cuda"
    stack = Stack(models(n, device), lr=1e-4, amp=cuda, compile=cuda)
    x, eps = images(n, batch, device)
    args = (x, eps, torch.ones((n, M), device=device), torch.linspace(1, 256, n, device=device),
            torch.zeros(n, device=device))

    def step():
        stack.step(*args)
        _sync(device)
    return step


def _seconds(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def one_model_images_per_s(device: torch.device, batch: int, repeats: int, *, amp: bool = False) -> float:
    """Images/s of one Table-1 model's Adam step, median over ``repeats`` steps after one untimed one."""
    step = one_model_step(device, batch, amp=amp)
    step()
    return float(np.median([batch / _seconds(step) for _ in range(repeats)]))


def side_by_side(n: int, device: torch.device, batch: int, rounds: int) -> dict:
    """One model's step and n models' stacked step in ``rounds`` interleaved rounds (one, stack, one,
    stack, ...) after one untimed step of each: the ``sections.stack.models[n]`` entry of the record.

    Interleaving lets a change of load hit both sides alike, so the ratio is taken in each
    round (the house style of benchmarks/interleave.py); one at a time uses the stack's
    precision (bfloat16 autocast on CUDA) but is not compiled.
    """
    one, stack = one_model_step(device, batch, amp=device.type == "cuda"), stack_step(n, device, batch)
    one(), stack()                                        # warm-up: lazy init, compilation
    seconds = np.array([[_seconds(one), _seconds(stack)] for _ in range(rounds)])
    ratio = n * seconds[:, 0] / seconds[:, 1]
    aggregate = float(np.median(n * batch / seconds[:, 1]))
    return {"aggregate_images_per_s": aggregate,
            "one_at_a_time_images_per_s": float(np.median(batch / seconds[:, 0])),
            "ratio_min": float(ratio.min()), "ratio_median": float(np.median(ratio)),
            "seconds_per_step": {"one_at_a_time": seconds[:, 0].tolist(), "stack": seconds[:, 1].tolist()},
            "extrapolated_paper_000_grid_hours": GRID_MODELS * GRID_STEPS * GRID_BATCH / aggregate / 3600}


def _loss_and_gradient(objective_spec: dict, device: torch.device, *, amp: bool, tf32: bool):
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    model = models(1, device)[0]
    objective = build_objective(objective_spec, M)
    x = images(1, 64, device)[0][0]
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        loss, _ = objective.loss(model, x, 0, torch.Generator(device=device).manual_seed(0))
    loss.backward()
    grad = torch.cat([p.grad.flatten().float() for p in model.parameters() if p.grad is not None])
    return float(loss), grad


def precision(device: torch.device) -> dict:
    """Per objective: |loss - loss_fp32| / |loss_fp32| and ||g - g_fp32|| / ||g_fp32|| for bf16 and TF32."""
    out = {}
    for name, spec in OBJECTIVES.items():
        loss32, grad32 = _loss_and_gradient(spec, device, amp=False, tf32=False)
        row = {}
        for label, amp, tf32 in (("bfloat16", True, False), ("tf32", False, True)):
            if device.type != "cuda":
                row[label] = "not applicable on the CPU"
                continue
            loss, grad = _loss_and_gradient(spec, device, amp=amp, tf32=tf32)
            row[label] = {"loss_rel": abs(loss - loss32) / abs(loss32),
                          "gradient_rel": float((grad - grad32).norm() / grad32.norm())}
        out[name] = row
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    return out


def grid_slice(device_name: str, work_dir: Path, steps: int, subset: int | None) -> dict:
    """Paper 000's beta column (Table 2) for ``steps`` steps, as one side-by-side pack; resumes."""
    data = {"name": "dsprites", **({"subset": subset} if subset else {})}
    config = {"name": "gpu-grid-slice",
              "base": {"steps": steps, "batch_size": 64, "lr": 1e-4, "data": data,
                       "model": {"architecture": "conv", "m": M}, "objective": {"name": "beta"},
                       "checkpoint_every": max(1, steps // 4), "log_every": max(1, steps // 10),
                       "evaluation": {"samples": 512 if subset is None else 32, "dci": False}},
              "grid": {"beta": [1, 8, 64, 256]}}
    runs = sweep.expand(config)
    start = time.perf_counter()
    with sweep.executor(workers=0) as pool:
        metrics = sweep.execute(runs, work_dir, pool, pack=len(runs), device=device_name, progress=False)
    return {"runs": {r.name: {k: metrics[r.name].get(k) for k in ("kl", "active_units", "reconstruction_nll")}
                     for r in runs},
            "steps": steps, "batch_size": 64, "wall_s_this_call": time.perf_counter() - start,
            "images_per_s": {r.name: metrics[r.name]["training"]["images_per_s"] for r in runs}}


def report(output: Path, *, device: str = "auto", tiny: bool = False, work_dir: Path = Path("runs") / "gpu",
           budget_s: float = 540.0, again: bool = False, grid_steps: int | None = None,
           sections: tuple = SECTIONS) -> dict:
    """Run the ``sections`` not yet in ``output`` (all with ``again``) and write it after each one."""
    from deep.train import resolve_device

    resolved = resolve_device(device)
    size = SIZES["tiny" if tiny else "full"]
    record = json.loads(output.read_text()) if output.is_file() and not again else {}
    if record.get("device_type", resolved.type) != resolved.type or record.get("tiny", tiny) != tiny:
        raise UserError(f"{output} holds a run on another device or size: pass --again or another --output")
    name = torch.cuda.get_device_name(resolved) if resolved.type == "cuda" else "cpu"
    head, dirty = commit()
    record.update(commit=head, dirty=dirty, torch=torch.__version__, device=name, device_type=resolved.type, tiny=tiny,
                  date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    record.setdefault("sections", {})
    if resolved.type == "cpu":
        torch.set_num_threads(1)
    threads = torch.get_num_threads() if resolved.type == "cpu" else None
    start = time.perf_counter()
    jobs = {
        "single": lambda: {"batch": size["batch"], "threads": threads,
                           "float32_images_per_s": one_model_images_per_s(resolved, size["batch"], size["repeats"]),
                           **({"bfloat16_images_per_s": one_model_images_per_s(resolved, size["batch"], size["repeats"],
                                                                               amp=True)}
                              if resolved.type == "cuda" else {})},
        "stack": lambda: {"batch_per_model": size["batch"], "rounds": size["repeats"], "threads": threads,
                          "precision": PRECISION[resolved.type == "cuda"],
                          "models": {str(n): side_by_side(n, resolved, size["batch"], size["repeats"])
                                     for n in size["stack"]}},
        "precision": lambda: precision(resolved),
        "grid": lambda: grid_slice(device if device != "auto" else resolved.type, work_dir,
                                   grid_steps or size["grid_steps"], size["subset"]),
    }
    for section in (s_ for s_ in SECTIONS if s_ in sections):
        if section in record["sections"] and "not run" not in record["sections"][section]:
            continue
        if time.perf_counter() - start > budget_s:
            record["sections"][section] = {"not run": f"the {budget_s:g} s budget was spent"}
            continue
        began = time.perf_counter()
        result = jobs[section]()
        record["sections"][section] = {**result, "wall_s": time.perf_counter() - began}
        io.write_json(output, record, indent=1)
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"the JSON record (default {OUTPUT})")
    parser.add_argument("--work-dir", type=Path, default=Path("runs") / "gpu", help="run directories of the grid slice")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, ...")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: a pipeline check in seconds (CPU)")
    parser.add_argument("--grid-steps", type=int, default=None, help="Adam steps of the grid slice (default 2000)")
    parser.add_argument("--budget-s", type=float, default=540.0, help="start no section after this many seconds")
    parser.add_argument("--again", action="store_true", help="recompute every section")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="run only these (each stands alone); e.g. --device cpu --sections single for the "
                             "CPU throughput of one Table-1 model")
    args = parser.parse_args(argv)
    if args.grid_steps is not None and args.grid_steps < 1:
        parser.error(f"--grid-steps must be >= 1; got {args.grid_steps}")
    if not args.budget_s > 0:
        parser.error(f"--budget-s must be > 0; got {args.budget_s}")
    try:
        writable_dir(args.output.parent, "--output's folder").mkdir(parents=True, exist_ok=True)
        output = writable_file(args.output, "--output")
        record = report(output, device=args.device, tiny=args.tiny, work_dir=args.work_dir, budget_s=args.budget_s,
                        again=args.again, grid_steps=args.grid_steps, sections=tuple(args.sections))
    except UserError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    done = [s for s, v in record["sections"].items() if "not run" not in v]
    print(f"{record['device']}: sections {', '.join(done)} in {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
