"""One shape for every experiment on trained networks, and the one driver that runs them.

An experiment is a module of :mod:`deep.experiments` that follows :class:`Experiment`:

- ``Config``: a frozen configuration class (:func:`configuration`, a :class:`Config`; where
  the class depends on the part, ``read(mapping, where)`` picks it), read strictly from a
  mapping (:mod:`deep.config`: an unknown key is an error naming it and the closest valid
  keys, values are range-checked); ``default(part, smoke)`` is the stored result's
  configuration (``smoke``: the same pipeline at toy size).
- ``plan(config)`` -> the runs (:class:`deep.sweep.Run`: a name, the run's own settings, the
  values that identify it, the run it continues);
- ``run(config, one, work_dir, device)`` -> the run's record (a JSON-able dict); it trains or
  resumes from the checkpoints under ``work_dir``;
- ``summarise(config, runs, records, figures, work_dir)`` -> the result's numbers and verdict
  inputs from the records, drawing its figures into the folder ``figures`` (``work_dir`` only
  for a figure that decodes trained networks);
- ``scale(config)`` -> the scale as a fraction of the paper's compute
  (:func:`deep.provenance.scale`), ``describe(config)`` -> in words, how the runs differ from
  the paper's.

An experiment with several independent parts (the studies of ``lambda_vae``, the settings of
``tractable_beta_vae``) lists them in ``PARTS`` and names the configuration key that holds
the part in ``PART``; each part is an experiment of its own, in ``<output>/<part>/``.

:func:`execute` runs the plan through the one executor (:func:`deep.sweep.executor`: a local
process pool, or a Dask cluster) and is resumable: each finished run's record is written
atomically to ``<output>/runs/<name>.json.gz`` and read back on the next call (a record made
from other settings is run again), an unfinished run resumes from its checkpoint.
:func:`drive` does the rest of the results contract (README, "Layout")::

    <output>/config.toml     the configuration (every key; read back by --config)
    <output>/runs/           one compressed record per run
    <output>/result.json     compact: experiment, config, the summary, provenance (commit,
                             dirty flag, versions, device, seeds, scale), records, figures
    <output>/figures/        PNG figures and the CSV tables behind them

``deep/result_schema.json`` describes ``result.json``; :func:`load` reads a stored result back
and refuses a stale one (made from a configuration other than the default).
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import importlib
import math
import shutil
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from deep import io, provenance
from deep.config import UserError, as_dict, strict, writable_dir

CONFIG, RECORDS, RESULT, FIGURES = "config.toml", "runs", "result.json", "figures"
OUTPUT = Path("runs") / "experiments"
"""Where experiment commands write by default (git-ignored); the stored evidence is ``results/<name>``."""
WORK = Path("runs") / "checkpoints"
"""Where the run folders (checkpoints, logs) go by default."""


class Config(Mapping):
    """Base of the experiments' frozen configurations: fields read as attributes or, read-only, as a mapping.

    Equal to any mapping with the same content (tuples compare as lists, as in JSON).
    """

    WHAT = "config"

    def __getitem__(self, key):
        if key not in self._names():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(self._names())

    def __len__(self):
        return len(self._names())

    def _names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self) if f.init]

    def __eq__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        return as_dict(self) == as_dict(dict(other))

    def __hash__(self):
        return hash(io.dumps(as_dict(self)))

    def replace(self, **changes):
        """A copy with ``changes``, checked as strictly as the original."""
        return strict(type(self), {**as_dict(self), **changes})


def configuration(cls):
    """Decorator: ``cls`` (a :class:`Config` subclass) as a frozen, keyword-only dataclass."""
    return dataclasses.dataclass(frozen=True, kw_only=True, eq=False)(cls)


@runtime_checkable
class Experiment(Protocol):
    """What every module of :mod:`deep.experiments` defines (module docstring)."""

    NAME: str
    HELP: str
    PARTS: tuple
    Config: type

    def default(self, part: str | None = None, smoke: bool = False) -> Config: ...

    def plan(self, config) -> list: ...

    def run(self, config, one, work_dir: Path, device: str) -> dict: ...

    def summarise(self, config, runs: list, records: dict, figures: Path, work_dir: Path) -> dict: ...

    def scale(self, config) -> dict: ...

    def describe(self, config) -> str: ...


def module(name: str) -> Experiment:
    """The experiment module ``deep.experiments.<name>``."""
    return importlib.import_module(f"deep.experiments.{name}")


# ------------------------------------------------------------------ configuration


def read_config(experiment, path, part: str | None = None) -> Config:
    """A configuration from a TOML file, checked strictly (UserError naming the file and the key)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--config must be an existing .toml file; {path} does not exist")
    try:
        mapping = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise UserError(f"--config {path} is not valid TOML: {err}") from None
    if experiment.PARTS and part is not None and isinstance(mapping, dict):
        mapping = {experiment.PART: part, **mapping}
    reader = getattr(experiment, "read", None)
    config = reader(mapping, where=str(path)) if reader else strict(experiment.Config, mapping, where=str(path))
    if part is not None and config[experiment.PART] != part:
        raise UserError(f"{path} is the configuration of {experiment.PART} {config[experiment.PART]!r}, not {part!r}")
    return config


# ------------------------------------------------------------------ running


def record_path(output, name: str) -> Path:
    """Where run ``name``'s record is stored."""
    return Path(output) / RECORDS / f"{name}.json.gz"


def _stored_record(output, run):
    """The stored record of ``run`` if it was made from the same settings, else None."""
    path = record_path(output, run.name)
    if not path.is_file():
        return None
    try:
        stored = io.read_json(path)
    except (OSError, ValueError, EOFError):
        return None
    if not isinstance(stored, dict) or stored.get("config") != io.plain(run.config):
        return None
    return stored["record"]


def _task(name: str, config, runs: list, work_dir: str, device: str) -> list[dict]:
    """Run one run, or several side by side, of the experiment module ``name``; in a worker. Their records."""
    experiment = importlib.import_module(name)
    if len(runs) == 1:
        return [experiment.run(config, runs[0], Path(work_dir), device)]
    return experiment.run_together(config, runs, Path(work_dir), device)


def execute(experiment, config, runs: list, output, work_dir, pool: concurrent.futures.Executor, *,
            device: str = "cpu", pack: int = 1, progress: bool = True) -> dict:
    """Every run's record, running those without a stored record through ``pool`` ({name: record}).

    A run with ``init_from`` starts once the run it continues has finished. ``pack`` > 1 hands
    up to ``pack`` runs that can share a task (``experiment.pack_key``) to
    ``experiment.run_together``. Records are written atomically as the runs finish, so a call
    that is stopped resumes where it was. Raises :class:`deep.sweep.RunsFailed` naming the runs
    that failed, after every other run has finished.
    """
    from deep.sweep import schedule

    if pack > 1 and not hasattr(experiment, "run_together"):
        raise UserError(f"--pack: experiment {experiment.NAME} trains its runs one at a time; use --pack 1")
    by_name = {r.name: r for r in runs}
    if len(by_name) != len(runs):
        raise ValueError(f"experiment {experiment.NAME} plans two runs with one name")
    records = {}
    for run in runs:
        if run.init_from is not None and run.init_from not in by_name:
            raise ValueError(f"run {run.name!r} continues {run.init_from!r}, which is not planned")
        stored = _stored_record(output, run)
        if stored is not None:
            records[run.name] = stored

    def submit(ready):
        groups = ([[r] for r in ready] if pack == 1 else
                  [g[i:i + pack] for g in _grouped(experiment, ready).values() for i in range(0, len(g), pack)])
        return {pool.submit(_task, experiment.__name__, config, group, str(work_dir), device): group
                for group in groups}

    def collect(group, result):
        for run, record in zip(group, result):
            io.write_json(record_path(output, run.name), {"name": run.name, "values": run.values,
                                                          "init_from": run.init_from,
                                                          "config": run.config, "record": record})
            records[run.name] = io.plain(record)

    schedule(runs, submit, collect, done=set(records), progress=progress, desc=experiment.NAME)
    return {r.name: records[r.name] for r in runs}


def _grouped(experiment, runs) -> dict:
    groups: dict = {}
    for run in runs:
        groups.setdefault(experiment.pack_key(run), []).append(run)
    return groups


def drive(experiment, config, output, work_dir, pool, *, device: str = "cpu", pack: int = 1,
          progress: bool = True, smoke: bool = False) -> dict:
    """Plan, execute, summarise and store one experiment (part) in ``output`` (module docstring); the result."""
    output, work_dir = Path(output), Path(work_dir)
    output.mkdir(parents=True, exist_ok=True)
    io.write_toml(output / CONFIG, as_dict(config))
    runs = experiment.plan(config)
    records = execute(experiment, config, runs, output, work_dir, pool, device=device, pack=pack, progress=progress)
    planned = {record_path(output, r.name) for r in runs}
    for stale in (output / RECORDS).glob("*.json.gz"):   # records of runs another configuration planned
        if stale not in planned:
            stale.unlink()
    figures = output / FIGURES
    figures.mkdir(exist_ok=True)
    summary = experiment.summarise(config, runs, records, figures, work_dir)
    measured = getattr(experiment, "measured_scale", None)   # the scale of the steps actually run, if known
    scale = {**experiment.scale(config), **(measured(config, summary) if measured else {}),
             "description": "smoke: pipeline check only" if smoke else experiment.describe(config)}
    result = {"experiment": _label(experiment, config), "config": as_dict(config), **summary,
              "records": [r.name for r in runs], "figures": sorted(p.name for p in figures.iterdir()),
              "provenance": provenance.record(seeds=config["seeds"], scale=scale, device=device_name(device))}
    io.write_json(output / RESULT, result)
    return result


def _label(experiment, config) -> str:
    return experiment.NAME + (f"/{config[experiment.PART]}" if experiment.PARTS else "")


def device_name(device: str) -> str:
    """The device a run on ``device`` ("auto", "cpu", "cuda", ...) uses, by name (the GPU's model on CUDA)."""
    if device == "cpu":
        return "cpu"
    import torch

    from deep.runs import resolve_device

    resolved = resolve_device(device)
    return torch.cuda.get_device_name(resolved) if resolved.type == "cuda" else "cpu"


# ------------------------------------------------------------------ reading stored results

SCHEMA = Path(__file__).with_name("result_schema.json")
"""The JSON schema of ``result.json``."""

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def validate(instance, schema: dict | None = None, where: str = "result") -> list[str]:
    """The ways ``instance`` violates ``schema`` (default :data:`SCHEMA`), one line each naming the path.

    Understands the subset of JSON Schema that ``result_schema.json`` uses: ``type`` (a name or a
    list), ``required``, ``properties``, ``additionalProperties`` (false or a schema), ``items``,
    ``minItems``, ``pattern``, ``minimum`` and ``exclusiveMinimum``.
    """
    import json
    import re

    schema = json.loads(SCHEMA.read_text()) if schema is None else schema
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds

        def fits(kind):
            if kind == "integer":
                return isinstance(instance, int) and not isinstance(instance, bool)
            if kind == "number":
                return isinstance(instance, (int, float)) and not isinstance(instance, bool)
            return isinstance(instance, _TYPES[kind])
        if not any(fits(k) for k in kinds):
            return [f"{where} must be {' or '.join(kinds)}; got {type(instance).__name__}"]
    problems = []
    if isinstance(instance, str) and "pattern" in schema and not re.search(schema["pattern"], instance):
        problems.append(f"{where} must match {schema['pattern']!r}; got {instance!r}")
    if isinstance(instance, (int, float)) and not isinstance(instance, bool):
        if "minimum" in schema and instance < schema["minimum"]:
            problems.append(f"{where} must be >= {schema['minimum']}; got {instance!r}")
        if "exclusiveMinimum" in schema and instance <= schema["exclusiveMinimum"]:
            problems.append(f"{where} must be > {schema['exclusiveMinimum']}; got {instance!r}")
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        problems += [f"{where} needs the key {key!r}" for key in schema.get("required", ()) if key not in instance]
        extra = schema.get("additionalProperties", True)
        for key, value in instance.items():
            if key in properties:
                problems += validate(value, properties[key], f"{where}.{key}")
            elif extra is False:
                problems.append(f"{where} has an unknown key {key!r}")
            elif isinstance(extra, dict):
                problems += validate(value, extra, f"{where}.{key}")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            problems.append(f"{where} must have at least {schema['minItems']} items; got {len(instance)}")
        if "items" in schema:
            for i, value in enumerate(instance):
                problems += validate(value, schema["items"], f"{where}[{i}]")
    return problems



def load(experiment, part: str | None = None, *, root=None, default=None) -> dict:
    """A stored result with its records: ``result.json``'s content plus ``runs``, a list of
    {"name", "values", "init_from", "record"} in plan order.

    ``root`` is the experiment's folder (default: the stored ``results/<NAME>``). ``default``
    (default: ``experiment.default(part)``) is the configuration the result must have been made
    from; UserError when it was not (a stale result) or when a file is missing or damaged.
    """
    from deep import results

    folder = Path(root) if root is not None else results.path(experiment.NAME)
    if part is not None:
        folder = folder / part
    command = f"collapse experiment {experiment.NAME.replace('_', '-')} --output-dir results/{experiment.NAME}"
    path = folder / RESULT
    if not path.is_file():
        raise UserError(f"no stored result {path}: run `{command}`")
    try:
        result = io.read_json(path)
        runs = [io.read_json(record_path(folder, name)) for name in result["records"]]
    except (OSError, ValueError, KeyError, EOFError) as err:
        raise UserError(f"{folder} cannot be read ({err}): restore it with git or run `{command}` again") from None
    problems = validate(result)
    if problems:
        raise UserError(f"{path} does not follow deep/result_schema.json: {problems[0]}"
                        + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    expected = default if default is not None else experiment.default(part) if part else experiment.default()
    if result.get("config") != as_dict(expected):
        raise UserError(f"{path} is stale: its configuration differs from the command's default; run `{command}`")
    result["runs"] = runs
    return result


# ------------------------------------------------------------------ command line


def add_arguments(parser, experiment) -> None:
    """The options of every ``collapse experiment NAME`` command."""
    name = experiment.NAME
    if experiment.PARTS:
        parser.add_argument(f"--{experiment.PART}", dest="part", choices=(*experiment.PARTS, "all"),
                            default=getattr(experiment, "DEFAULT_PART", "all"),
                            help=f"which {experiment.PART} (default {getattr(experiment, 'DEFAULT_PART', 'all')}; "
                                 "all: each in its own folder)")
    parser.add_argument("--smoke", action="store_true", help="tiny networks and data: checks the pipeline in seconds")
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="a config.toml to run instead of the default (unknown keys are refused by name)")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help=f"where config.toml, runs/, result.json and figures/ go (default {OUTPUT}/{name}"
                             f"[-smoke]; the stored evidence: --output-dir results/{name})")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help=f"run folders with checkpoints (default {WORK}/{name}[-smoke]); an interrupted "
                             "experiment resumes from them")
    parser.add_argument("--fresh", action="store_true", help="delete the records and run folders first")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1; 0: in this process)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask distributed cluster instead")
    parser.add_argument("--gpus-per-task", type=float, default=None, metavar="N",
                        help="Dask: each task asks for N of the workers' 'GPU' resource")
    parser.add_argument("--pack", type=int, default=1, help="runs trained side by side per task (default 1)")
    parser.add_argument("--device", default=getattr(experiment, "DEVICE", "auto"),
                        help="auto (CUDA if available), cpu, cuda, ...")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def command(experiment, args, report=None) -> int:
    """``collapse experiment NAME``: check every option, then drive each part; print ``report(result)``."""
    from deep import sweep

    suffix = "-smoke" if args.smoke else ""
    output = writable_dir(args.output_dir or OUTPUT / (experiment.NAME + suffix), "--output-dir")
    work = writable_dir(args.work_dir or WORK / (experiment.NAME + suffix), "--work-dir")
    for option, value, minimum in (("--workers", args.workers, 0), ("--pack", args.pack, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise UserError(f"{option} must be an integer >= {minimum}; got {value!r}")
    if args.gpus_per_task is not None and not (math.isfinite(args.gpus_per_task) and args.gpus_per_task > 0):
        raise UserError(f"--gpus-per-task must be a finite number > 0; got {args.gpus_per_task!r}")
    if args.gpus_per_task is not None and args.scheduler is None:
        raise UserError("--gpus-per-task needs a Dask scheduler (--scheduler ADDRESS)")
    if args.device not in ("auto", "cpu"):
        from deep.runs import resolve_device

        resolve_device(args.device)
    allowed = getattr(experiment, "DEVICES", None)
    if allowed and args.device not in allowed:
        raise UserError(f"--device must be one of {', '.join(allowed)} for this experiment; got {args.device!r}")
    parts = getattr(args, "part", None)
    parts = [None] if not experiment.PARTS else list(experiment.PARTS) if parts == "all" else [parts]
    if args.config is not None and len(parts) > 1:
        raise UserError(f"--config holds one {experiment.PART}'s configuration: choose it with --{experiment.PART}")
    configs = [read_config(experiment, args.config, part) if args.config is not None
               else experiment.default(part, args.smoke) if part else experiment.default(smoke=args.smoke)
               for part in parts]
    resources = None if args.gpus_per_task is None else {"GPU": args.gpus_per_task}
    with sweep.executor(args.workers, args.scheduler, resources) as pool:
        for part, config in zip(parts, configs):
            out, wk = (output / part, work / part) if part else (output, work)
            if args.fresh:
                for folder in (out / RECORDS, wk):
                    shutil.rmtree(folder, ignore_errors=True)
            result = drive(experiment, config, out, wk, pool, device=args.device, pack=args.pack,
                           progress=not args.no_progress, smoke=args.smoke)
            if report is not None:
                print(report(result))
            print(f"wrote {out}")
    return 0


# ------------------------------------------------------------------ range checks for configuration fields


def seeds(name: str, value) -> tuple:
    """A non-empty tuple of distinct integers >= 0."""
    value = tuple(value)
    if not value or len(set(value)) != len(value) or any(isinstance(v, bool) or v < 0 for v in value):
        raise ValueError(f"{name} must be a non-empty list of distinct integers >= 0; got {list(value)}")
    return value


def increasing(name: str, value, *, low: float = 0.0, size: int = 1) -> tuple:
    """A tuple of at least ``size`` increasing finite numbers above ``low``."""
    value = tuple(value)
    if (len(value) < size or any(not math.isfinite(v) or v <= low for v in value)
            or any(b <= a for a, b in zip(value, value[1:]))):
        raise ValueError(f"{name} must be at least {size} increasing numbers > {low:g}; got {list(value)}")
    return value


def fraction(name: str, value) -> float:
    """A number in (0, 1)."""
    if not 0 < value < 1:
        raise ValueError(f"{name} must lie in (0, 1); got {value!r}")
    return value


def count(minimum: int = 1):
    """A range check: an integer >= ``minimum``."""
    from numerics import validation

    return lambda name, value: validation.positive_int(name, value, minimum=minimum)
