"""The one training loop: any VAE, any :class:`~deep.data.FactorData`, any :class:`~deep.objectives.Objective`.

:func:`fit` runs Adam on a model for a number of steps, with checkpoints that resume
exactly (batch t and its noise are pure functions of (seed, t); the checkpoint holds the
model, Adam's moments and the lambda schedule), a tqdm bar, JSON-lines logs and CPU or
CUDA chosen automatically (bfloat16 autocast on CUDA). :func:`train` builds data, model
and objective from a :class:`RunConfig`, calls :func:`fit` and writes the final metrics.

The run directory (verified checkpoints, the last two kept, a lock per run folder, the
JSON-lines log) is :mod:`deep.runs`. Training fails safely:

- a non-finite loss, gradient or parameter stops training at once (:class:`Diverged`,
  naming the step and what diverged); the checkpoints on disk are the finite ones;
- a finished run is never taken back to fewer steps.

Convergence (issue 19). With a :class:`ConvergenceConfig` a run trains until a stated
criterion holds on held-out data, ``steps`` being the cap: every ``every`` steps the
objective in force (-log p(x|z) + beta KL + l2_weight ||x - E[x|z]||^2) is evaluated on
``heldout`` images kept out of the training draws, with fixed reparameterisation noise
(common random numbers: two evaluations differ only by the parameters). With L_a the mean
of these values over the last ``window / 2`` steps and L_b over the ``window / 2`` steps
before, the run has converged at step t when t is at least ``min_steps`` past the step the
run (or its phase, for a run started ``init_from`` another) began and
(L_b - L_a) / |L_a| <= ``tol``: the held-out loss fell by at most ``tol`` relative over
half a window (a rise, e.g. over-fitting, stops too). The window restarts whenever the KL
or L2 weight in force changes (the KL warm-up, the switch to the lambda-beta objective),
so it only compares one objective. The summary records the step at which it held
(``convergence.step``) and whether it held before the cap (``convergence.converged``);
a converged run's checkpoint records it, and resuming it trains no further.

References
----------
[mi_collapse] "Mutual Information Collapse Explains Disentanglement Failure in beta-VAEs",
    shared/papers/000_6e757ef8f718962b.txt, §5.2 Table 2 (Adam, lr 1e-4, batch 64).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from deep import io
from deep.config import UserError, as_dict, check, from_signature, strict, writable_dir
from deep.data import FactorData, Subset, batch_loader, data_config
from deep.evaluate import evaluate
from deep.models import ModelConfig, forward_macs
from deep.objectives import Objective, loss_terms, objective_config
from deep.runs import (CHECKPOINT, CONFIG, LOG, METRICS, _resume_state, _truncate_log, append_log, build,
                       load_checkpoint, log_line, resolve_device, run_lock, save_checkpoint, step_generator)
from numerics import validation


class Diverged(UserError):
    """Training met a non-finite loss, gradient or parameter; the checkpoints on disk are finite."""


# ---------------------------------------------------------------- convergence


def _nonnegative_int(name, value):
    return validation.positive_int(name, value, minimum=0)


def _fraction(name, value):
    value = validation.positive(name, value)
    if value >= 1:
        raise ValueError(f"{name} must be a relative change in (0, 1); got {value!r}")
    return value


@dataclass(frozen=True, kw_only=True)
class ConvergenceConfig:
    """The held-out convergence criterion of the module docstring.

    ``every`` steps between held-out evaluations; ``window`` steps compared (a multiple
    of 2 ``every``); ``tol`` the relative change in (0, 1) below which the run has
    converged; ``min_steps`` before the criterion may stop the run (counted from the
    step the run or its phase began); ``heldout`` images drawn once with ``heldout_seed``
    and excluded from training; ``heldout_batch`` the evaluation batch (it does not change
    the value). Defaults: issue 19's pre-registered protocol (window 8000, tol 1e-3, at
    least 20,000 steps, 4096 held-out images evaluated every 250 steps).
    """

    WHAT = "convergence"
    every: int = field(default=250, metadata=check(validation.positive_int))
    window: int = field(default=8000, metadata=check(validation.positive_int))
    tol: float = field(default=1e-3, metadata=check(_fraction))
    min_steps: int = field(default=20_000, metadata=check(_nonnegative_int))
    heldout: int = field(default=4096, metadata=check(validation.positive_int))
    heldout_seed: int = field(default=12345, metadata=check(_nonnegative_int))
    heldout_batch: int = field(default=512, metadata=check(validation.positive_int))

    def __post_init__(self):
        if self.window % (2 * self.every):
            raise ValueError(f"window must be a multiple of 2 * every = {2 * self.every}; got {self.window}")


def heldout_split(data: FactorData, convergence: ConvergenceConfig) -> tuple[FactorData, FactorData]:
    """(training data, held-out data): ``convergence.heldout`` distinct indices drawn with ``heldout_seed``
    are held out; the training draws see only the others."""
    n = convergence.heldout
    if n >= len(data):
        raise UserError(f"convergence.heldout must be below the data size {len(data)}; got {n}")
    held = np.sort(np.random.default_rng(convergence.heldout_seed).choice(len(data), n, replace=False))
    keep = np.ones(len(data), bool)
    keep[held] = False
    return Subset(data, np.flatnonzero(keep)), Subset(data, held)


class Convergence:
    """Tracks the held-out criterion of a run (module docstring); its state goes into the checkpoint."""

    def __init__(self, config: ConvergenceConfig, heldout: FactorData, m: int, device, start: int):
        self.config, self.start = config, int(start)
        self.x = torch.from_numpy(heldout.observations(np.arange(len(heldout)))).to(device)
        gen = torch.Generator().manual_seed(config.heldout_seed)
        self.eps = torch.randn((len(heldout), m), generator=gen).to(device)
        self.history: list[list] = []   # [step, held-out loss, KL weight, L2 weight]
        self.step: int | None = None     # the step at which the criterion held

    def state_dict(self) -> dict:
        return {"start": self.start, "history": self.history, "step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.start, self.history, self.step = int(state["start"]), [list(h) for h in state["history"]], state["step"]

    @torch.no_grad()
    def heldout_loss(self, model, objective: Objective, step: int) -> dict:
        """The mean objective in force at ``step`` and its parts on the held-out images, with the fixed noise."""
        was_training = model.training
        model.eval()
        exponent = torch.as_tensor(objective.exponent(step, model.m), dtype=torch.float32, device=self.x.device)
        beta, l2_weight = objective.kl_weight(step), objective.l2_weight_at(step)
        sums = {"loss": 0.0, "nll": 0.0, "kl": 0.0, "l2": 0.0}
        b = self.config.heldout_batch
        for s in range(0, len(self.x), b):
            loss, parts = loss_terms(model, self.x[s:s + b], self.eps[s:s + b], exponent, beta, l2_weight)
            n = len(self.x[s:s + b])
            for key, value in (("loss", loss), ("nll", parts["nll"]), ("kl", parts["kl"].sum()), ("l2", parts["l2"])):
                sums[key] += float(value) * n
        model.train(was_training)
        return {k: v / len(self.x) for k, v in sums.items()}

    def add(self, step: int, loss: float, kl_weight: float, l2_weight: float) -> bool:
        """Record the held-out loss after ``step`` steps (the weights in force); whether the criterion holds now."""
        self.history.append([int(step), float(loss), float(kl_weight), float(l2_weight)])
        if self.step is None and step - self.start >= self.config.min_steps:
            change = self.relative_change()
            if change is not None and change <= self.config.tol:
                self.step = int(step)
        return self.step is not None

    def relative_change(self) -> float | None:
        """(L_b - L_a) / |L_a| over the last window of one objective; None before a full window."""
        k = self.config.window // (2 * self.config.every)
        weights = tuple(self.history[-1][2:]) if self.history else None
        same = []
        for entry in reversed(self.history):
            if tuple(entry[2:]) != weights or len(same) == 2 * k:
                break
            same.append(entry[1])
        if len(same) < 2 * k:
            return None
        last, before = np.mean(same[:k]), np.mean(same[k:])
        return float((before - last) / abs(last))

    def summary(self, final: int) -> dict:
        return {"converged": self.step is not None, "step": self.step, "start": self.start,
                "steps_run": int(final - self.start), "relative_change": self.relative_change(),
                "heldout_loss": self.history[-1][1] if self.history else None,
                "criterion": as_dict(self.config)}


# ---------------------------------------------------------------- run identity


def canonical(config: dict) -> dict:
    """``config`` with its data, model, objective and convergence in their full strict form (defaults filled
    in) where they parse, so that a spec and its stored form compare equal."""
    parsers = {"data": data_config, "model": lambda v: strict(ModelConfig, v, where="model"),
               "objective": objective_config,
               "convergence": lambda v: v if v is None else strict(ConvergenceConfig, v, where="convergence")}
    out = dict(config)
    for key, parse in parsers.items():
        if key in out:
            try:
                out[key] = as_dict(parse(out[key]))
            except UserError:
                pass
    return out


def _same_run(a: dict, b: dict) -> list[str]:
    """Keys on which two run configs differ in a way that changes the trajectory."""
    a, b = canonical(a), canonical(b)
    keys = ("data", "model", "objective", "batch_size", "lr", "seed", "convergence")
    return [k for k in keys if a.get(k) != b.get(k)]


def _finite_or_raise(model, loss, parts, step: int, objective, run_dir, saved) -> None:
    """Raise :class:`Diverged` unless the loss and every gradient are finite (one host sync)."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    ok = torch.isfinite(loss).all()
    if grads:
        ok = ok & torch.stack([torch.isfinite(g).all() for g in grads]).all()
    if bool(ok):
        return
    raise Diverged(_diverged(step, _what_diverged(model, loss, parts, objective, step), run_dir, saved))


def _what_diverged(model, loss, parts, objective, step) -> str:
    loss = loss.detach()
    if not torch.isfinite(loss).all():
        values = {k: float(parts[k].sum()) for k in ("nll", "kl", "l2")}
        bad = {k: v for k, v in values.items() if not np.isfinite(v)}
        if bad:
            return f"the loss is {float(loss):g} ({', '.join(f'{k} {v:g}' for k, v in bad.items())})"
        return (f"the loss is {float(loss):g} while nll, kl and l2 are finite ({values['nll']:.4g}, {values['kl']:.4g}, "
                f"{values['l2']:.4g}): their weights overflow it (beta {objective.kl_weight(step):g}, "
                f"l2_weight {objective.l2_weight_at(step):g})")
    name = next(n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all())
    return f"the gradient of {name} is not finite"


def _diverged(step: int, what: str, run_dir, saved) -> str:
    kept = f"the last finite checkpoint (step {saved}) is kept" if saved else "no checkpoint was written"
    return f"training diverged at step {step}: {what}; {kept} in {run_dir}; lower lr or beta"


def _check_parameters(params, step: int, run_dir, saved) -> None:
    """Refuse to checkpoint non-finite parameters (an optimiser step that overflowed)."""
    for name, p in params:
        if not torch.isfinite(p).all():
            raise Diverged(_diverged(step, f"parameter {name} is not finite after the update", run_dir, saved))


def fit(model, data: FactorData, objective: Objective, run_dir, *, steps: int, batch_size: int = 64,
        lr: float = 1e-4, seed: int = 0, checkpoint_every: int = 1000, log_every: int = 100,
        device: str | torch.device = "auto", amp: bool | None = None, num_workers: int | None = None,
        threads: int | None = 1, config: dict | None = None, init_from=None, progress: bool = True,
        convergence: ConvergenceConfig | None = None, heldout: FactorData | None = None) -> dict:
    """Train ``model`` with Adam for ``steps`` steps in total, resuming from ``run_dir`` if it holds a checkpoint.

    Parameters
    ----------
    model : deep.models.VAE (or any module with ``encode``, ``decode``, ``likelihood``)
    data : FactorData
        Batch t is ``data.observations(batch_indices(len(data), batch_size, seed, t))``.
    objective : Objective
    run_dir : path
        Checkpoints, logs and config go here; an existing checkpoint is resumed (its
        config must agree with ``config`` on data, model, objective, batch size, lr, seed,
        and it must not be past ``steps``) and the log continues as if the run had never
        stopped (the partial log window is part of the checkpoint).
    steps : int
        Total number of steps (a resumed run continues to this count); with ``convergence``
        the cap.
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
    convergence : ConvergenceConfig or None
        Stop once the held-out criterion of the module docstring holds (``steps`` is the
        cap); ``heldout`` (the images kept out of ``data``, see :func:`heldout_split`) is
        then required.

    Returns
    -------
    dict
        ``steps`` (the step training ended at), ``wall_s`` (this call), ``images_per_s``,
        ``device``, ``shape`` (of one observation) and ``forward_macs`` (per observation,
        :func:`deep.models.forward_macs`: with the steps, the run's compute); with ``convergence`` also ``convergence``: ``converged`` (whether the
        criterion held before the cap), ``step`` (where it held), ``start``, ``steps_run``,
        ``relative_change``, ``heldout_loss``, ``criterion``.

    Raises
    ------
    UserError
        Before anything is written: a bad argument, an unusable ``run_dir`` or
        ``init_from``, another process writing ``run_dir``, a run of another configuration
        or already past ``steps`` there, damaged checkpoints or log.
    Diverged
        A non-finite loss, gradient or parameter, at the step it happened; the
        checkpoints written before are finite.

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
    if (convergence is None) != (heldout is None):
        raise UserError("convergence and heldout go together: the criterion is evaluated on the held-out images")
    run_dir = writable_dir(run_dir, "run_dir")
    config = dict(config or {})
    start_state = None
    if init_from is not None:
        start_state = load_checkpoint(init_from, device, fallback=False)
        if start_state["step"] > steps:
            raise UserError(f"init_from {init_from} is at step {start_state['step']}, beyond steps = {steps}")

    with run_lock(run_dir):
        model.to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        start, sums, count = 0, {}, 0  # sums/count: the log line being accumulated
        ckpt = _resume_state(run_dir, device)
        if ckpt is not None:
            differ = _same_run(ckpt.get("config", {}), config) if config else []
            if differ:
                raise UserError(f"run_dir {run_dir} holds a run whose {', '.join(differ)} differ; "
                                "use another run_dir or the same configuration")
            if ckpt["step"] > steps:
                raise UserError(f"run_dir {run_dir} holds a run trained to step {ckpt['step']}, beyond "
                                f"steps = {steps} (--steps {steps}); give at least {ckpt['step']} steps or another "
                                "run_dir")
            _load_states(model, optimizer, ckpt, run_dir / CHECKPOINT)
            objective.load_state_dict(ckpt["objective"])
            start, count = ckpt["step"], ckpt["log_count"]
            sums = {k: torch.tensor(v, device=device) for k, v in ckpt["log_sums"].items()}
            if "init_from" in ckpt.get("config", {}):
                config["init_from"] = ckpt["config"]["init_from"]
        elif start_state is not None:
            _load_states(model, optimizer, start_state, Path(init_from))
            start = start_state["step"]
            config["init_from"] = {"path": str(init_from), "step": start}
        saved = start if ckpt is not None else None  # the step of the newest finite checkpoint on disk
        tracker = None
        if convergence is not None:
            tracker = Convergence(convergence, heldout, model.m, device, start)
            if ckpt is not None and "convergence" in ckpt:
                tracker.load_state_dict(ckpt["convergence"])
        stop = steps if tracker is None or tracker.step is None else start  # a converged run trains no further
        _truncate_log(run_dir / LOG, start)
        io.remove_temporaries(run_dir / CHECKPOINT)  # left by a process killed while saving
        io.write_json(run_dir / CONFIG, config, indent=1)

        def save(step):
            _check_parameters(model.named_parameters(), step, run_dir, saved)
            state = {"step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "objective": objective.state_dict(), "config": config,
                     "log_sums": {k: v.tolist() for k, v in sums.items()}, "log_count": count}
            if tracker is not None:
                state["convergence"] = tracker.state_dict()
            save_checkpoint(run_dir, state)
            return step

        loader = batch_loader(data, batch_size, seed, start, stop, num_workers=num_workers,
                              pin_memory=device.type == "cuda")
        done = start
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
                _finite_or_raise(model, loss, parts, step, objective, run_dir, saved)
                optimizer.step()
                objective.after_step(parts, step)
                parts = {"loss": loss.detach(), **parts}
                sums = {k: sums.get(k, 0) + v for k, v in parts.items()}
                count, timed = count + 1, timed + 1
                done = step + 1
                converged = tracker is not None and done % convergence.every == 0 and tracker.add(
                    done, tracker.heldout_loss(model, objective, step)["loss"], objective.kl_weight(step),
                    objective.l2_weight_at(step))
                if done % log_every == 0 or done == steps or converged:
                    now = time.perf_counter()
                    line = log_line(done, sums, count, objective.l2_weight_at(step), timed * batch_size / (now - t_log))
                    append_log(run_dir, line)
                    bar.set_postfix(loss=f"{line['loss']:.4g}", kl=f"{line['kl_total']:.3g}")
                    sums, count, timed, t_log = {}, 0, 0, now
                if done % checkpoint_every == 0 or done == steps or converged:
                    saved = save(done)
                bar.update(1)
                if converged:
                    break
    wall = time.perf_counter() - t0
    summary = {"steps": done, "wall_s": wall, "images_per_s": (done - start) * batch_size / wall if wall else None,
               "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               "shape": list(data.shape), "forward_macs": forward_macs(model, tuple(data.shape))}
    if tracker is not None:
        summary["convergence"] = tracker.summary(done)
    return summary


def _load_states(model, optimizer, state: dict, path: Path) -> None:
    """Load a checkpoint's model and optimiser states; UserError when they belong to another model."""
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as err:
        raise UserError(f"{path} holds another model than this configuration builds "
                        f"({str(err).splitlines()[0]})") from None


_EVALUATION_CHECKS = {"samples": validation.positive_int, "batch_size": validation.positive_int,
                      "bins": lambda n, v: validation.positive_int(n, v, minimum=2),
                      "dci_estimators": validation.positive_int,
                      "seed": lambda n, v: validation.positive_int(n, v, minimum=0)}


def evaluation_config_class() -> type:
    """The configuration of the final evaluation: the keyword arguments of :func:`deep.evaluate.evaluate`."""
    global _EVALUATION
    if _EVALUATION is None:
        _EVALUATION = from_signature(evaluate, "EvaluationConfig", skip=("model", "data", "exponent", "device"),
                                     checks=_EVALUATION_CHECKS)
    return _EVALUATION


_EVALUATION = None


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """A run: what :func:`train` builds and how long it trains (see :func:`fit` for the training fields).

    ``data``: :func:`deep.data.data_config`; ``model``: :class:`deep.models.ModelConfig`;
    ``objective``: :func:`deep.objectives.objective_config`; ``evaluation``: keyword
    arguments of :func:`deep.evaluate.evaluate` for the final metrics; ``convergence``:
    a :class:`ConvergenceConfig` (train until it holds, ``steps`` the cap) or None (train
    ``steps`` steps, the default). Each may be given
    as a mapping and is checked strictly (:mod:`deep.config`): an unknown key, a value out
    of range or a parameter the chosen objective does not use is a UserError.
    :meth:`from_dict` reads a whole run from a mapping, :meth:`to_dict` writes it back.
    """

    WHAT = "run config"
    data: Any
    model: Any
    objective: Any
    steps: int = field(metadata=check(validation.positive_int))
    batch_size: int = field(default=64, metadata=check(validation.positive_int))
    lr: float = field(default=1e-4, metadata=check(validation.positive))
    seed: int = field(default=0, metadata=check(_nonnegative_int))
    checkpoint_every: int = field(default=1000, metadata=check(validation.positive_int))
    log_every: int = field(default=100, metadata=check(validation.positive_int))
    evaluation: Any = field(default_factory=dict)
    convergence: ConvergenceConfig | None = None

    def __post_init__(self):
        parsed = {"data": data_config(self.data, "data"),
                  "model": self.model if isinstance(self.model, ModelConfig) else strict(ModelConfig, self.model,
                                                                                          where="model"),
                  "objective": objective_config(self.objective, "objective"),
                  "evaluation": self.evaluation if not isinstance(self.evaluation, dict)
                  else strict(evaluation_config_class(), self.evaluation, where="evaluation"),
                  "convergence": strict(ConvergenceConfig, self.convergence, where="convergence")
                  if isinstance(self.convergence, dict) else self.convergence}
        for key, value in parsed.items():
            object.__setattr__(self, key, value)

    @classmethod
    def from_dict(cls, mapping, where: str = "") -> "RunConfig":
        """A run from a mapping (a stored ``config.json`` may carry ``init_from``, which is dropped)."""
        mapping = {k: v for k, v in mapping.items() if k != "init_from"} if isinstance(mapping, dict) else mapping
        return strict(cls, mapping, where=where)

    def to_dict(self) -> dict:
        """The JSON-able run, every default filled in."""
        return as_dict(self)



def train(config, run_dir, *, device="auto", amp=None, num_workers=None, threads=1,
          init_from=None, progress=True) -> dict:
    """Build, :func:`fit` and evaluate a run (a :class:`RunConfig` or its mapping); write and return its final metrics.

    Returns
    -------
    dict
        The metrics of :func:`deep.evaluate.evaluate` plus ``training`` (the summary of
        :func:`fit`); also written to ``run_dir/metrics.json``.
    """
    config = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
    spec = config.to_dict()
    device = resolve_device(device) if isinstance(device, str) else device
    run_dir = writable_dir(run_dir, "run_dir")
    data, model, objective = build(spec)
    heldout = None
    if config.convergence is not None:
        data, heldout = heldout_split(data, config.convergence)
    if init_from is not None:  # refused before the run directory is made (fit loads it again)
        load_checkpoint(init_from, device, fallback=False)
    with run_lock(run_dir):  # held from training to metrics.json
        summary = fit(model, data, objective, run_dir, steps=config.steps, batch_size=config.batch_size,
                      lr=config.lr, seed=config.seed, checkpoint_every=config.checkpoint_every,
                      log_every=config.log_every, device=device, amp=amp, num_workers=num_workers,
                      threads=threads, config=spec, init_from=init_from, progress=progress,
                      convergence=config.convergence, heldout=heldout)
        return write_metrics(model, data, objective, spec, run_dir, summary)


def write_metrics(model, data: FactorData, objective: Objective, config: dict, run_dir, summary: dict) -> dict:
    """Evaluate a trained model as ``config["evaluation"]`` says; write and return ``metrics.json``.

    The metrics of :func:`deep.evaluate.evaluate` (with the sampling exponents in force
    at the last step: ``summary["steps"]``, where a converged run stopped) plus
    ``training``, the summary of the training call.
    """
    metrics = evaluate(model, data, exponent=objective.exponent(summary.get("steps", config["steps"]), model.m),
                       **config.get("evaluation", {}))
    metrics["training"] = summary
    io.write_json(Path(run_dir) / METRICS, metrics, indent=1)
    return metrics
