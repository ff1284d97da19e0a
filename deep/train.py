"""The one training loop: any VAE, any :class:`~deep.data.FactorData`, any :class:`~deep.objectives.Objective`.

:func:`fit` runs Adam on a model for a number of steps, with checkpoints that resume
exactly (batch t and its noise are pure functions of (seed, t); the checkpoint holds the
model, Adam's moments and the lambda schedule), a tqdm bar, JSON-lines logs and CPU or
CUDA chosen automatically (bfloat16 autocast on CUDA). :func:`train` builds data, model
and objective from a :class:`RunConfig`, calls :func:`fit` and writes the final metrics.

A run directory holds ``config.json``, ``checkpoint.pt`` and ``checkpoint.prev.pt`` (the
last two checkpoints), ``log.jsonl`` (one line per ``log_every`` steps: losses averaged
over those steps, per-dimension KL, sigma and exponent, the L2 weight in force, images/s),
``.lock`` and, from :func:`train`, ``metrics.json``. It fails safely:

- a checkpoint is written to a temporary file and renamed into place, with a SHA-256 of
  its contents inside; :func:`load_checkpoint` verifies it and falls back to the previous
  checkpoint with a warning, or refuses in one line;
- one process writes a run directory at a time (:func:`run_lock`, an advisory lock that
  dies with its process);
- a non-finite loss, gradient or parameter stops training at once (:class:`Diverged`,
  naming the step and what diverged); the checkpoints on disk are the finite ones;
- a finished run is never taken back to fewer steps, and a damaged log line is named.

References
----------
[mi_collapse] "Mutual Information Collapse Explains Disentanglement Failure in beta-VAEs",
    shared/papers/000_6e757ef8f718962b.txt, §5.2 Table 2 (Adam, lr 1e-4, batch 64).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from deep.config import RunWarning, UserError, as_dict, check, from_signature, strict, writable_dir
from deep.data import FactorData, batch_loader, build_data, data_config
from deep.models import ModelConfig, build_model
from deep.objectives import Objective, build_objective, objective_config
from numerics import validation

try:
    import fcntl
except ImportError:  # not POSIX: run folders are not locked
    fcntl = None

CHECKPOINT, PREVIOUS = "checkpoint.pt", "checkpoint.prev.pt"
LOG, CONFIG, METRICS, LOCK = "log.jsonl", "config.json", "metrics.json", ".lock"


class Diverged(UserError):
    """Training met a non-finite loss, gradient or parameter; the checkpoints on disk are finite."""


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU; otherwise ``torch.device(name)`` (UserError if unusable)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise UserError(f"device must be auto, cpu, cuda or cuda:N; got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name!r} was asked for but CUDA is not available")
    if device.type not in ("cpu", "cuda"):
        raise UserError(f"device must be auto, cpu, cuda or cuda:N; got {name!r}")
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


# ---------------------------------------------------------------- checkpoints


def _digest(state) -> str:
    """SHA-256 of a checkpoint's contents (tensors by dtype, shape and bytes; dicts in key order)."""
    h = hashlib.sha256()

    def feed(obj):
        if torch.is_tensor(obj):
            t = obj.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}:".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(obj, dict):
            h.update(b"{")
            for key in sorted(obj, key=repr):
                h.update(repr(key).encode() + b":")
                feed(obj[key])
            h.update(b"}")
        elif isinstance(obj, (list, tuple)):
            h.update(b"[")
            for value in obj:
                feed(value)
            h.update(b"]")
        else:
            h.update(repr(obj).encode() + b",")
    feed(state)
    return h.hexdigest()


def save_checkpoint(run_dir, state: dict, name: str = CHECKPOINT) -> None:
    """Write ``state`` with its checksum as ``run_dir/name`` atomically; the one it replaces becomes
    ``checkpoint.prev.pt`` (for the default name), so the last two are kept."""
    run_dir = Path(run_dir)
    state = {**state, "sha256": _digest(state)}
    tmp = run_dir / (name + ".tmp")
    torch.save(state, tmp)
    if name == CHECKPOINT and (run_dir / CHECKPOINT).exists():
        os.replace(run_dir / CHECKPOINT, run_dir / PREVIOUS)
    os.replace(tmp, run_dir / name)


def _read(path: Path, device) -> tuple[dict | None, str]:
    """(state, "") of a verified checkpoint file, or (None, why it cannot be used)."""
    if not path.is_file():
        return None, "missing"
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises RuntimeError, EOFError, UnpicklingError, ...
        return None, f"corrupt: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    if not isinstance(state, dict) or "step" not in state:
        return None, "corrupt: not a checkpoint of deep.train"
    digest = state.pop("sha256", None)  # checkpoints written before checksums carry none
    if digest is not None and digest != _digest(state):
        return None, "corrupt: its checksum does not match its contents"
    return state, ""


def load_checkpoint(path, device="cpu", *, fallback: bool | None = None) -> dict:
    """A verified checkpoint: a file, or a run directory's latest (falling back to the previous one).

    Parameters
    ----------
    path : path
        A checkpoint file, or a run directory holding ``checkpoint.pt``.
    device : where tensors go.
    fallback : bool or None
        Fall back to ``checkpoint.prev.pt`` (with a warning) when the latest one is missing
        or corrupt; None: only when ``path`` is a directory.

    Raises
    ------
    UserError
        One line naming the file(s) and what is wrong with them.
    """
    return _load(Path(path), device, fallback)[0]


def _load(path: Path, device, fallback: bool | None) -> tuple[dict, Path]:
    """(verified state, the file it came from) of :func:`load_checkpoint`."""
    directory = path.is_dir()
    latest = path / CHECKPOINT if directory else path
    fallback = directory if fallback is None else fallback
    state, why = _read(latest, device)
    if state is not None:
        return state, latest
    previous = latest.with_name(PREVIOUS)
    if fallback and previous != latest:
        older, why_older = _read(previous, device)
        if older is not None:
            warnings.warn(f"{latest} is {why}; falling back to {PREVIOUS} (step {older['step']})", RunWarning,
                          stacklevel=3)
            return older, previous
        if why_older != "missing" or why != "missing":
            raise UserError(f"{latest} is {why} and {previous.name} is {why_older}; delete {latest.parent} "
                            "to train from the start")
    hint = f" ({previous.name} next to it may be usable)" if previous.is_file() and previous != latest else ""
    if why == "missing":
        raise UserError(f"checkpoint {latest} does not exist{hint}")
    raise UserError(f"checkpoint {latest} is {why}{hint}")


def _resume_state(run_dir: Path, device) -> dict | None:
    """The run directory's checkpoint to resume from, None for a fresh run.

    A damaged latest checkpoint that was fallen back from is set aside as
    ``checkpoint.pt.corrupt``, so that the next save does not rotate it over the good one.
    """
    if not (run_dir / CHECKPOINT).exists() and not (run_dir / PREVIOUS).exists():
        return None
    state, used = _load(run_dir, device, True)
    if used.name == PREVIOUS and (run_dir / CHECKPOINT).exists():
        os.replace(run_dir / CHECKPOINT, run_dir / (CHECKPOINT + ".corrupt"))
    return state


# ---------------------------------------------------------------- one writer per run directory

_HELD: dict[str, list] = {}  # resolved run directory -> [open lock file, depth, holding thread]
_HELD_GUARD = threading.Lock()


@contextlib.contextmanager
def run_lock(run_dir):
    """Hold ``run_dir``'s lock (made if needed): a second process or thread writing it gets a UserError.

    The lock is an advisory ``flock`` on ``run_dir/.lock``, released by the system when the
    holder dies, so a killed run never leaves a stale lock. Re-entrant within a thread.
    """
    run_dir = Path(run_dir)
    key, me = str(run_dir.resolve()), threading.get_ident()
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is not None and held[2] != me:
            raise UserError(f"{run_dir} is being written by another thread of this process; wait for it to finish")
        if held is not None:
            held[1] += 1
    if held is not None:
        try:
            yield
        finally:
            with _HELD_GUARD:
                held[1] -= 1
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = open(run_dir / LOCK, "a+")
    if fcntl is not None:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise UserError(f"{run_dir} is being written by another process (pid {holder}); wait for it to "
                            "finish or stop it") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    with _HELD_GUARD:
        _HELD[key] = [handle, 1, me]
    try:
        yield
    finally:
        with _HELD_GUARD:
            del _HELD[key]
        handle.close()  # releases the flock


# ---------------------------------------------------------------- logs


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines past ``step`` (written by a run killed after its last checkpoint).

    A damaged last line is dropped too (a process killed while appending it, necessarily
    after its last checkpoint); a damaged earlier line is named in a UserError.
    """
    if not path.exists():
        return
    lines = path.read_text(errors="replace").splitlines()
    kept = []
    for i, line in enumerate(lines):
        if not line:
            continue
        try:
            record = json.loads(line)
            line_step = record["step"]
        except (ValueError, KeyError, TypeError) as err:
            if i == len(lines) - 1:
                continue
            raise UserError(f"{path} line {i + 1} is not JSON with a step ({err}); delete that line or the file "
                            "to resume (the checkpoint holds the run)") from None
        if line_step <= step:
            kept.append(line)
    if kept != lines:
        atomic_write(path, lambda p: p.write_text("".join(line + "\n" for line in kept)))


def log_line(step: int, sums: dict, count: int, l2_weight: float, images_per_s: float) -> dict:
    """One line of ``log.jsonl``: the parts averaged over the window's ``count`` steps."""
    line = {"step": step, **{k: (v / count).tolist() for k, v in sums.items()}, "l2_weight": l2_weight,
            "images_per_s": images_per_s}
    line["kl_total"] = float(np.sum(line["kl"]))
    return line


def append_log(run_dir: Path, line: dict) -> None:
    with open(Path(run_dir) / LOG, "a") as f:
        f.write(json.dumps(line) + "\n")


# ---------------------------------------------------------------- run identity


def canonical(config: dict) -> dict:
    """``config`` with its data, model and objective in their full strict form (defaults filled in) where
    they parse, so that a spec and its stored form compare equal."""
    parsers = {"data": data_config, "model": lambda v: strict(ModelConfig, v, where="model"),
               "objective": objective_config}
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
    keys = ("data", "model", "objective", "batch_size", "lr", "seed")
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
        threads: int | None = 1, config: dict | None = None, init_from=None, progress: bool = True) -> dict:
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
        _truncate_log(run_dir / LOG, start)
        (run_dir / (CHECKPOINT + ".tmp")).unlink(missing_ok=True)  # left by a process killed while saving
        atomic_write(run_dir / CONFIG, lambda p: p.write_text(json.dumps(config, indent=1)))

        def save(step):
            _check_parameters(model.named_parameters(), step, run_dir, saved)
            save_checkpoint(run_dir, {"step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                      "objective": objective.state_dict(), "config": config,
                                      "log_sums": {k: v.tolist() for k, v in sums.items()}, "log_count": count})
            return step

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
                _finite_or_raise(model, loss, parts, step, objective, run_dir, saved)
                optimizer.step()
                objective.after_step(parts, step)
                parts = {"loss": loss.detach(), **parts}
                sums = {k: sums.get(k, 0) + v for k, v in parts.items()}
                count, timed = count + 1, timed + 1
                done = step + 1
                if done % log_every == 0 or done == steps:
                    now = time.perf_counter()
                    line = log_line(done, sums, count, objective.l2_weight_at(step), timed * batch_size / (now - t_log))
                    append_log(run_dir, line)
                    bar.set_postfix(loss=f"{line['loss']:.4g}", kl=f"{line['kl_total']:.3g}")
                    sums, count, timed, t_log = {}, 0, 0, now
                if done % checkpoint_every == 0 or done == steps:
                    saved = save(done)
                bar.update(1)
    wall = time.perf_counter() - t0
    return {"steps": steps, "wall_s": wall, "images_per_s": (steps - start) * batch_size / wall if wall else None,
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}


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
        from deep.evaluate import evaluate

        _EVALUATION = from_signature(evaluate, "EvaluationConfig", skip=("model", "data", "exponent", "device"),
                                     checks=_EVALUATION_CHECKS)
    return _EVALUATION


_EVALUATION = None


def _nonnegative_int(name, value):
    return validation.positive_int(name, value, minimum=0)


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """A run: what :func:`train` builds and how long it trains (see :func:`fit` for the training fields).

    ``data``: :func:`deep.data.data_config`; ``model``: :class:`deep.models.ModelConfig`;
    ``objective``: :func:`deep.objectives.objective_config`; ``evaluation``: keyword
    arguments of :func:`deep.evaluate.evaluate` for the final metrics. Each may be given
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

    def __post_init__(self):
        parsed = {"data": data_config(self.data, "data"),
                  "model": self.model if isinstance(self.model, ModelConfig) else strict(ModelConfig, self.model,
                                                                                          where="model"),
                  "objective": objective_config(self.objective, "objective"),
                  "evaluation": self.evaluation if not isinstance(self.evaluation, dict)
                  else strict(evaluation_config_class(), self.evaluation, where="evaluation")}
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


def build(config, data: FactorData | None = None):
    """(data, model, objective) of a run config (a mapping or a :class:`RunConfig`), the model
    initialised from the config's seed.

    ``data`` reuses an already built data set (it must be the one ``config["data"]`` describes).
    """
    if isinstance(config, RunConfig):
        config = config.to_dict()
    data = build_data(config["data"]) if data is None else data
    torch.manual_seed(config.get("seed", 0))
    model = build_model(config["model"], data.shape)
    return data, model, build_objective(config["objective"], model.m)


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
    if init_from is not None:  # refused before the run directory is made (fit loads it again)
        load_checkpoint(init_from, device, fallback=False)
    with run_lock(run_dir):  # held from training to metrics.json
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
