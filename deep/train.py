"""The one training loop: any VAE, any :class:`~deep.data.FactorData`, any :class:`~deep.objectives.Objective`.

:func:`fit` runs Adam on a model for a number of steps, with checkpoints that resume
exactly (batch t and its noise are pure functions of (seed, t); the checkpoint holds the
model, Adam's moments and the lambda schedule), a tqdm bar, JSON-lines logs and CPU or
CUDA chosen automatically (bfloat16 autocast on CUDA). :func:`train` builds data, model
and objective from a :class:`RunConfig`, calls :func:`fit` and writes the final metrics.

A run directory holds ``config.json``, ``checkpoint.pt`` (written atomically), ``log.jsonl``
(one line per ``log_every`` steps: losses averaged over those steps, per-dimension KL,
sigma and lambda, images/s) and, from :func:`train`, ``metrics.json``.

References
----------
[mi_collapse] "Mutual Information Collapse Explains Disentanglement Failure in beta-VAEs",
    shared/papers/000_6e757ef8f718962b.txt, §5.2 Table 2 (Adam, lr 1e-4, batch 64).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from deep.data import FactorData, batch_loader, build_data
from deep.models import build_model
from deep.objectives import Objective, build_objective
from numerics import validation

CHECKPOINT, LOG, CONFIG, METRICS = "checkpoint.pt", "log.jsonl", "config.json", "metrics.json"


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU; otherwise ``torch.device(name)``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for but CUDA is not available")
    return device


def step_generator(seed: int, step: int, device: torch.device) -> torch.Generator:
    """The generator of step ``step``'s reparameterisation noise (independent of the batch's)."""
    gen = torch.Generator(device=device)
    gen.manual_seed(int(np.random.SeedSequence([seed, step, 1]).generate_state(1, np.uint64)[0]))
    return gen


def atomic_write(path: Path, write) -> None:
    """Write via ``write(tmp_path)`` and rename, so a killed process never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines past ``step`` (written by a run killed after its last checkpoint)."""
    if path.exists():
        lines = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        atomic_write(path, lambda p: p.write_text("".join(line + "\n" for line in lines)))


def log_line(step: int, sums: dict, count: int, lam: float, images_per_s: float) -> dict:
    """One line of ``log.jsonl``: the parts averaged over the window's ``count`` steps."""
    line = {"step": step, **{k: (v / count).tolist() for k, v in sums.items()}, "lam": lam,
            "images_per_s": images_per_s}
    line["kl_total"] = float(np.sum(line["kl"]))
    return line


def append_log(run_dir: Path, line: dict) -> None:
    with open(Path(run_dir) / LOG, "a") as f:
        f.write(json.dumps(line) + "\n")


def _same_run(a: dict, b: dict) -> list[str]:
    """Keys on which two run configs differ in a way that changes the trajectory."""
    keys = ("data", "model", "objective", "batch_size", "lr", "seed")
    return [k for k in keys if a.get(k) != b.get(k)]


def fit(model, data: FactorData, objective: Objective, run_dir, *, steps: int, batch_size: int = 64,
        lr: float = 1e-4, seed: int = 0, checkpoint_every: int = 1000, log_every: int = 100,
        device: str | torch.device = "auto", amp: bool | None = None, num_workers: int | None = None,
        threads: int | None = 1, config: dict | None = None, init_from=None, progress: bool = True) -> dict:
    """Train ``model`` with Adam for ``steps`` steps in total, resuming from ``run_dir`` if it holds a checkpoint.

    Parameters
    ----------
    model : deep.models.VAE (or any module with ``encode``, ``decode``, ``likelihood``)
    data : FactorData
        Batch t is ``data.observations(batch_indices(len(data), batch_size, seed, t))``.
    objective : Objective
    run_dir : path
        Checkpoint, logs and config go here; an existing checkpoint is resumed (its
        config must agree with ``config`` on data, model, objective, batch size, lr, seed)
        and the log continues as if the run had never stopped (the partial log window is
        part of the checkpoint).
    steps : int
        Total number of steps (a resumed run continues to this count).
    batch_size, lr : Table 2 of [mi_collapse] by default (64, 1e-4).
    seed : int
        Seeds the batches and the noise; the caller seeds the model's initialisation.
    checkpoint_every, log_every : int
        Steps between checkpoints / log lines; the last step always checkpoints.
    device : "auto", "cpu", "cuda", ...
    amp : bool or None
        bfloat16 autocast; None: on for CUDA, off on CPU.
    num_workers : int or None
        Loader processes; None: none on CPU, min(8, cores - 1) on CUDA.
    threads : int or None
        ``torch.set_num_threads`` on CPU (1 by default: two threads on two cores were
        measured 3-8x slower and erratic for this small batched work); None leaves it.
    config : dict or None
        The run's description, stored in the checkpoint and ``config.json``.
    init_from : path or None
        A checkpoint whose model, optimiser state and step start a fresh run (the second
        phase of the two-phase protocol continues a beta-VAE run this way).
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    dict
        ``steps``, ``wall_s`` (this call), ``images_per_s``, ``device``.

    References
    ----------
    [mi_collapse] §5.2 Table 2 and the two-phase protocol.
    """
    steps = validation.positive_int("steps", steps)
    batch_size = validation.positive_int("batch_size", batch_size)
    lr = validation.positive("lr", lr)
    checkpoint_every = validation.positive_int("checkpoint_every", checkpoint_every)
    log_every = validation.positive_int("log_every", log_every)
    device = resolve_device(device) if isinstance(device, str) else device
    amp = device.type == "cuda" if amp is None else bool(amp)
    if device.type == "cpu" and threads is not None:
        torch.set_num_threads(validation.positive_int("threads", threads))
    if num_workers is None:
        num_workers = 0 if device.type == "cpu" else max(0, min(8, (os.cpu_count() or 1) - 1))
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = dict(config or {})

    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    start, sums, count = 0, {}, 0  # sums/count: the log line being accumulated
    if (run_dir / CHECKPOINT).exists():
        ckpt = torch.load(run_dir / CHECKPOINT, map_location=device, weights_only=True)
        differ = _same_run(ckpt.get("config", {}), config) if config else []
        if differ:
            raise ValueError(f"run_dir {run_dir} holds a run whose {', '.join(differ)} differ; "
                             "use another run_dir or the same configuration")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        objective.load_state_dict(ckpt["objective"])
        start, count = ckpt["step"], ckpt["log_count"]
        sums = {k: torch.tensor(v, device=device) for k, v in ckpt["log_sums"].items()}
        if "init_from" in ckpt.get("config", {}):
            config["init_from"] = ckpt["config"]["init_from"]
    elif init_from is not None:
        ckpt = torch.load(Path(init_from), map_location=device, weights_only=True)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        start = ckpt["step"]
        config["init_from"] = {"path": str(init_from), "step": start}
    _truncate_log(run_dir / LOG, start)
    atomic_write(run_dir / CONFIG, lambda p: p.write_text(json.dumps(config, indent=1)))

    def save(step):
        state = {"step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "objective": objective.state_dict(), "config": config,
                 "log_sums": {k: v.tolist() for k, v in sums.items()}, "log_count": count}
        atomic_write(run_dir / CHECKPOINT, lambda p: torch.save(state, p))

    loader = batch_loader(data, batch_size, seed, start, steps, num_workers=num_workers,
                          pin_memory=device.type == "cuda")
    t_log = t0 = time.perf_counter()
    timed = 0  # steps of the current log window run by this process (a resumed window began earlier)
    model.train()
    with tqdm(total=steps, initial=start, disable=not progress, desc=f"train {objective.name}") as bar:
        for step, x in loader:
            x = x.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss, parts = objective.loss(model, x, step, step_generator(seed, step, device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            objective.after_step(parts, step)
            parts = {"loss": loss.detach(), **parts}
            sums = {k: sums.get(k, 0) + v for k, v in parts.items()}
            count, timed = count + 1, timed + 1
            done = step + 1
            if done % log_every == 0 or done == steps:
                now = time.perf_counter()
                line = log_line(done, sums, count, objective.l2_weight(step), timed * batch_size / (now - t_log))
                append_log(run_dir, line)
                bar.set_postfix(loss=f"{line['loss']:.4g}", kl=f"{line['kl_total']:.3g}")
                sums, count, timed, t_log = {}, 0, 0, now
            if done % checkpoint_every == 0 or done == steps:
                save(done)
            bar.update(1)
    wall = time.perf_counter() - t0
    return {"steps": steps, "wall_s": wall, "images_per_s": (steps - start) * batch_size / wall if wall else None,
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}


@dataclass
class RunConfig:
    """A JSON-able description of a run (see :func:`fit` for the training fields).

    ``data``: spec for :func:`deep.data.build_data`; ``model``: spec for
    :func:`deep.models.build_model`; ``objective``: spec for
    :func:`deep.objectives.build_objective`; ``evaluation``: keyword arguments of
    :func:`deep.evaluate.evaluate` for the final metrics.
    """

    data: dict
    model: dict
    objective: dict
    steps: int
    batch_size: int = 64
    lr: float = 1e-4
    seed: int = 0
    checkpoint_every: int = 1000
    log_every: int = 100
    evaluation: dict = field(default_factory=dict)


def build(config: dict, data: FactorData | None = None):
    """(data, model, objective) of a run config, the model initialised from the config's seed.

    ``data`` reuses an already built data set (it must be the one ``config["data"]`` describes).
    """
    data = build_data(config["data"]) if data is None else data
    torch.manual_seed(config.get("seed", 0))
    model = build_model(config["model"], data.shape)
    return data, model, build_objective(config["objective"], model.m)


def train(config: RunConfig, run_dir, *, device="auto", amp=None, num_workers=None, threads=1,
          init_from=None, progress=True) -> dict:
    """Build, :func:`fit` and evaluate a run; write and return its final metrics.

    Returns
    -------
    dict
        The metrics of :func:`deep.evaluate.evaluate` plus ``training`` (the summary of
        :func:`fit`); also written to ``run_dir/metrics.json``.
    """
    spec = asdict(config)
    data, model, objective = build(spec)
    summary = fit(model, data, objective, run_dir, steps=config.steps, batch_size=config.batch_size,
                  lr=config.lr, seed=config.seed, checkpoint_every=config.checkpoint_every,
                  log_every=config.log_every, device=device, amp=amp, num_workers=num_workers,
                  threads=threads, config=spec, init_from=init_from, progress=progress)
    return write_metrics(model, data, objective, spec, run_dir, summary)


def write_metrics(model, data: FactorData, objective: Objective, config: dict, run_dir, summary: dict) -> dict:
    """Evaluate a trained model as ``config["evaluation"]`` says; write and return ``metrics.json``.

    The metrics of :func:`deep.evaluate.evaluate` (with the sampling exponents in force
    at the last step) plus ``training``, the summary of the training call.
    """
    from deep.evaluate import evaluate

    metrics = evaluate(model, data, exponent=objective.exponent(config["steps"], model.m),
                       **config.get("evaluation", {}))
    metrics["training"] = summary
    atomic_write(Path(run_dir) / METRICS, lambda p: p.write_text(json.dumps(metrics, indent=1)))
    return metrics
