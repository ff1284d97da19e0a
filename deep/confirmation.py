"""What the confirmation experiments of issue 7 share: training their grids through a sweep
executor, statistics across seeds, and results stored with provenance.

An experiment module in :mod:`deep.experiments` builds its runs (:class:`deep.sweep.Run`),
trains them with :func:`train` (a local process pool, or a Dask cluster with
``--scheduler``; runs that already finished are read back, unfinished ones resume), turns
their metrics into a result and stores it with :func:`store` as ``result.json`` (its
configuration, the criteria and their outcome, provenance) next to its figures. The
claim checks read that file back with :func:`load` and refuse a stale one (a result whose
configuration differs from the command's current default).
"""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np

from deep import results
from deep.config import UserError, writable_dir

RESULT = "result.json"


def add_arguments(parser, name: str) -> None:
    """The options every confirmation experiment takes."""
    parser.add_argument("--smoke", action="store_true", help="tiny networks and data: checks the pipeline in seconds")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help=f"where result.json and the figures go (default results/{name}, or runs/{name}-smoke "
                             "with --smoke)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help=f"run directories with checkpoints (default runs/{name}[-smoke]); an interrupted "
                             "experiment resumes from them")
    parser.add_argument("--workers", type=int, default=1, help="training processes (default 1; 0: in this process)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="train on a Dask distributed cluster instead")
    parser.add_argument("--gpus-per-task", type=float, default=None, metavar="N",
                        help="Dask: each task asks for N of the workers' 'GPU' resource")
    parser.add_argument("--pack", type=int, default=1, help="runs trained side by side per task (default 1)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, ...")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def setup(args, name: str, default: dict, smoke: dict) -> tuple[Path, Path, dict]:
    """(output directory, work directory, a copy of the configuration) of an experiment's arguments.

    Every common option is checked here, before any work (UserError naming it).
    """
    base = Path("runs") / (name + ("-smoke" if args.smoke else ""))
    output = writable_dir(args.output_dir or (base if args.smoke else results.path(name)), "--output-dir")
    work = writable_dir(args.work_dir or base, "--work-dir")
    for option, value, minimum in (("--workers", args.workers, 0), ("--pack", args.pack, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise UserError(f"{option} must be an integer >= {minimum}; got {value!r}")
    if args.gpus_per_task is not None and not (math.isfinite(args.gpus_per_task) and args.gpus_per_task > 0):
        raise UserError(f"--gpus-per-task must be a finite number > 0; got {args.gpus_per_task!r}")
    if args.gpus_per_task is not None and args.scheduler is None:
        raise UserError("--gpus-per-task needs a Dask scheduler (--scheduler ADDRESS)")
    if args.device != "auto":
        from deep.runs import resolve_device

        resolve_device(args.device)
    output.mkdir(parents=True, exist_ok=True)
    return output, work, copy.deepcopy(smoke if args.smoke else default)


def train(runs, args, work_dir) -> dict:
    """Train ``runs`` (skipping finished ones) as the arguments say; {run name: metrics}."""
    from deep import sweep

    resources = None if args.gpus_per_task is None else {"GPU": args.gpus_per_task}
    with sweep.executor(args.workers, args.scheduler, resources) as pool:
        return sweep.execute(runs, work_dir, pool, pack=args.pack, device=args.device,
                             progress=not args.no_progress)


def device_name(device: str) -> str:
    """The device a run on ``device`` ("auto", "cpu", "cuda", ...) uses, by name (the GPU's model on CUDA)."""
    import torch

    from deep.runs import resolve_device

    resolved = resolve_device(device)
    return torch.cuda.get_device_name(resolved) if resolved.type == "cuda" else "cpu"


def logs(runs, work_dir) -> dict:
    """{run name: its log lines} of trained runs."""
    return {r.name: [json.loads(line) for line in (r.directory(work_dir) / "log.jsonl").read_text().splitlines()]
            for r in runs}


def mean_se(values) -> tuple[float, float]:
    """Mean and standard error (NaN for fewer than two values) of a sequence."""
    values = np.asarray(values, dtype=float)
    se = values.std(ddof=1) / math.sqrt(values.size) if values.size > 1 else math.nan
    return float(values.mean()), float(se)


def exceeds(a, b, k: float = 2.0) -> tuple[bool, float]:
    """Whether mean(a) - mean(b) > k sqrt(se_a^2 + se_b^2), and that margin in standard errors.

    With one value per side the standard errors are unknown and nothing exceeds.
    """
    (ma, sa), (mb, sb) = mean_se(a), mean_se(b)
    se = math.sqrt(sa ** 2 + sb ** 2)
    if not math.isfinite(se):
        return False, math.nan
    z = (ma - mb) / se if se > 0 else (math.inf if ma > mb else -math.inf if ma < mb else 0.0)
    return bool(z > k), z


def store(args, output: Path, result: dict, scale: str) -> Path:
    """Write ``result`` with provenance (its config's seeds, the device, ``scale`` or "smoke") to ``output/result.json``."""
    from deep.provenance import record, write_json

    provenance = record(seeds=result["config"]["seeds"], device=device_name(args.device),
                        scale="smoke: pipeline check only" if args.smoke else scale)
    return write_json(writable_dir(output, "--output-dir") / RESULT, {**result, "provenance": provenance})


def load(name: str, default_config: dict) -> dict:
    """The stored result of experiment ``name``; ValueError when it was made with another configuration."""
    path = results.path(name) / RESULT
    if not path.is_file():
        raise UserError(f"no stored result {path}: run `collapse experiment {name.replace('_', '-')}`")
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{path} cannot be read ({err}): restore it with git or run "
                        f"`collapse experiment {name.replace('_', '-')}` again") from None
    if not isinstance(result, dict) or result.get("config") != json.loads(json.dumps(default_config)):
        raise UserError(f"{path} is stale: its configuration differs from the command's default; run "
                         f"`collapse experiment {name.replace('_', '-')}` again")
    return result
