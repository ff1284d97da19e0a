"""A run's parts below the training loop: its device and noise stream, (data, model, objective)
built from its config, and the files of its run directory.

A run directory holds ``config.json``, ``checkpoint.pt`` and ``checkpoint.prev.pt`` (the
last two checkpoints), ``log.jsonl`` (one line per ``log_every`` steps: losses averaged
over those steps, per-dimension KL, sigma and exponent, the L2 weight in force, images/s),
``.lock`` and, from :func:`deep.train.train`, ``metrics.json``. It fails safely:

- a checkpoint is written to a temporary file and renamed into place, with a SHA-256 of
  its contents inside; :func:`load_checkpoint` verifies it and falls back to the previous
  checkpoint with a warning, or refuses in one line;
- one process writes a run directory at a time (:func:`run_lock`, an advisory lock that
  dies with its process);
- a damaged log line is named.

:mod:`deep.train` (the loop) and :mod:`deep.evaluate` (the metrics of a checkpoint) both
stand on this module.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import threading
import warnings
from pathlib import Path

import numpy as np
import torch

from deep import io
from deep.config import RunWarning, UserError, as_dict
from deep.data import FactorData, build_data
from deep.models import build_model
from deep.objectives import build_objective

try:
    import fcntl
except ImportError:  # not POSIX: run folders are not locked
    fcntl = None

CHECKPOINT, PREVIOUS = "checkpoint.pt", "checkpoint.prev.pt"
LOG, CONFIG, METRICS, LOCK = "log.jsonl", "config.json", "metrics.json", ".lock"


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


def build(config, data: FactorData | None = None):
    """(data, model, objective) of a run config (a mapping or a :class:`deep.train.RunConfig`), the
    model initialised from the config's seed.

    ``data`` reuses an already built data set (it must be the one ``config["data"]`` describes).
    """
    if dataclasses.is_dataclass(config):  # a RunConfig: its mapping, as RunConfig.to_dict gives it
        config = as_dict(config)
    data = build_data(config["data"]) if data is None else data
    torch.manual_seed(config.get("seed", 0))
    model = build_model(config["model"], data.shape)
    return data, model, build_objective(config["objective"], model.m)



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
    io.atomic(run_dir / name, lambda tmp: torch.save(state, tmp), keep_as=run_dir / PREVIOUS if name == CHECKPOINT else None)


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
        io.write_text(path, "".join(line + "\n" for line in kept))


def log_line(step: int, sums: dict, count: int, l2_weight: float, images_per_s: float) -> dict:
    """One line of ``log.jsonl``: the parts averaged over the window's ``count`` steps."""
    line = {"step": step, **{k: (v / count).tolist() for k, v in sums.items()}, "l2_weight": l2_weight,
            "images_per_s": images_per_s}
    line["kl_total"] = float(np.sum(line["kl"]))
    return line


def append_log(run_dir: Path, line: dict) -> None:
    with open(Path(run_dir) / LOG, "a") as f:
        f.write(json.dumps(line) + "\n")
