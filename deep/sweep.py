"""Sweeps: a grid of training runs executed through a ``concurrent.futures`` executor.

A sweep config (TOML or JSON) holds a ``base`` run (the fields of
:class:`deep.train.RunConfig`), a ``grid`` of axes whose every combination is a run, and
optionally a second phase ``then`` that continues every run of the grid from its last
checkpoint (the two-phase protocol of [mi_collapse] §5.2)::

    name = "beta-lambda"
    [base]
    steps = 2000
    batch_size = 32
    lr = 1e-3
    data = {name = "dsprites", subset = 4096}
    model = {architecture = "conv", m = 10}
    objective = {name = "beta"}
    evaluation = {samples = 2000, dci = false}
    [grid]
    beta = [1, 4, 16, 64]
    seed = [0, 1]
    [then]                      # optional: continue each run above for 500 more steps
    steps = 2500
    objective = {name = "lambda-beta", phase1_steps = 2000}
    [then.grid]
    l2_weight = [0, 8, 32]

Axis names: ``beta``, ``l2_weight`` (the L2 weight of [mi_collapse] eq. 7, paper 000's
lambda), ``delta`` ([lambda_vae] eq. 16), ``seed`` (alias ``seeds``), ``data`` (the data
set's name) and any dotted path into the run config (``objective.warmup_steps``,
``objective.fixed_exponent``, ``model.eta_dec``, ``data.subset``), quoted or as a TOML
table (``objective.warmup_steps = [0, 2]`` unquoted is the table ``objective``). In a
``lambda-beta`` run l2_weight = 0 means the beta-VAE (the 0 column of the grid). The
config and every run it expands to are checked strictly (:mod:`deep.config`): an unknown
key or axis, or a parameter the run's objective does not use, is an error naming it.

:func:`execute` trains the runs that have no ``metrics.json`` yet through an executor:
a local process pool by default, or a Dask cluster (``distributed.Client(address)``;
tasks can ask for worker resources such as ``{"GPU": 1}``, which GPU workers declare
with ``dask worker ADDRESS --resources GPU=1``). A task is one run
(:func:`deep.train.train`) or, with ``pack`` > 1, up to ``pack`` runs that share data,
model and schedule trained side by side (:func:`deep.ensemble.train_side_by_side`).
Every run writes its directory atomically and resumes from its checkpoint, so a sweep
that is stopped and started again continues where it was; a local worker process dies
with the sweep that started it, and a run directory has one writer at a time
(:func:`deep.runs.run_lock`). A run whose ``metrics.json`` or ``config.json`` is damaged
is named in a warning and evaluated again from its checkpoint. A second-phase run starts
once the run it continues has finished. :func:`summary` collects the metrics of every
run into a table; :func:`figures` draws them as heatmaps over two axes (mean over seeds).

References
----------
[mi_collapse] shared/papers/000_6e757ef8f718962b.txt, §5.2 (two-phase protocol), Table 2.
[lambda_vae] shared/papers/002_9357fcd1557682b2.txt, eq. (16).
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import itertools
import json
import multiprocessing
import os
import threading
import time
import tomllib
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from deep import io
from deep.config import RunWarning, UserError, strict, unknown_keys
from numerics import validation

AXES = {"beta": "objective.beta", "l2_weight": "objective.l2_weight", "delta": "objective.delta",
        "seed": "seed", "seeds": "seed", "data": "data.name"}
"""Short axis names and the config paths they set."""
RENAMED_AXES = {"lam": "paper 000's L2 weight is the axis 'l2_weight'",
                "lambda": "paper 000's L2 weight is the axis 'l2_weight'; paper 002's exponent is "
                          "'objective.fixed_exponent' or 'delta' (objective 'lambda')"}
SUMMARY_METRICS = ("mig", "sap", "active_units", "kl", "reconstruction_nll", "reconstruction_mse")


class RunsFailed(UserError):
    """Runs of a sweep failed (each named with its error); the others were trained."""


@dataclass
class Run:
    """One run of a sweep: its directory name, its run config, the grid values and the run it continues."""

    name: str
    config: dict
    values: dict = field(default_factory=dict)
    init_from: str | None = None

    def directory(self, root) -> Path:
        return Path(root) / "runs" / self.name


@dataclass(frozen=True, kw_only=True)
class SweepConfig:
    """The top level of a sweep config: ``name``, ``base`` (a run), ``grid`` (axes), ``then`` (a second phase)."""

    name: str | None = None
    base: dict
    grid: dict = field(default_factory=dict)
    then: dict | None = None


def load_config(path) -> dict:
    """A sweep config from a ``.toml`` or ``.json`` file (UserError naming the file when it cannot be read)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config must be an existing .toml or .json file; {path} "
                        f"{'is a directory' if path.is_dir() else 'does not exist'}")
    if path.suffix not in (".toml", ".json"):
        raise UserError(f"config must be a .toml or .json file; got {path.name}")
    try:
        text = path.read_text()
        config = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as err:  # TOMLDecodeError, JSONDecodeError are ValueErrors
        raise UserError(f"config {path} is not valid {path.suffix[1:].upper()}: {err}") from None
    if not isinstance(config, dict):
        raise UserError(f"config {path} must hold a table (a JSON object); got {type(config).__name__}")
    return config


def _flatten(grid: dict, prefix: str = "") -> dict:
    """Grid axes with TOML tables flattened into dotted paths ({"objective": {"beta": [..]}} -> "objective.beta")."""
    out = {}
    for key, value in grid.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _check_axes(grid: dict, where: str) -> dict:
    """The grid's axes flattened and checked: known names, non-empty lists."""
    from deep.train import RunConfig

    grid = _flatten(grid)
    top = [f.name for f in fields(RunConfig)]
    for axis, values in grid.items():
        if axis in RENAMED_AXES:
            raise UserError(f"{where} axis {axis!r} was renamed: {RENAMED_AXES[axis]}")
        if axis not in AXES and axis.split(".")[0] not in top:
            unknown_keys([axis], list(dict.fromkeys([*AXES, *top])), where=f"{where} (axes: these or dotted paths)")
        if not isinstance(values, list) or not values:
            raise UserError(f"{where} axis {axis!r} must be a non-empty list; got {values!r}")
    return grid


def _set(config: dict, path: str, value) -> None:
    keys = AXES.get(path, path).split(".")
    node = config
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise UserError(f"grid axis {path!r} goes through a non-table value")
    node[keys[-1]] = value


def _merge(base: dict, override: dict) -> dict:
    """``base`` with the tables of ``override`` merged in recursively."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _label(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _combinations(grid: dict) -> list[dict]:
    return [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]


def run_config(config: dict) -> dict:
    """A complete run config, checked strictly (:class:`deep.train.RunConfig`) with every default filled in;
    l2_weight = 0 in a lambda-beta run is the beta-VAE."""
    from deep.train import RunConfig

    objective = config.get("objective")
    if isinstance(objective, dict) and objective.get("name") == "lambda-beta" and objective.get("l2_weight") == 0:
        config = {**config, "objective": {k: v for k, v in objective.items() if k not in ("l2_weight", "phase1_steps")}
                  | {"name": "beta"}}
    return RunConfig.from_dict(config).to_dict()


def _phase(base: dict, grid: dict, prefix: str = "") -> list[tuple[str, dict, dict]]:
    out = []
    for values in _combinations(grid):
        config = copy.deepcopy(base)
        for axis, value in values.items():
            _set(config, axis, value)
        name = prefix + ",".join(f"{axis}={_label(v)}" for axis, v in values.items())
        try:
            out.append((name or "run", run_config(config), values))
        except UserError as err:
            raise UserError(f"run {name or 'run'}: {err}") from None
    return out


def expand(config: dict) -> list[Run]:
    """The runs of a sweep config (module docstring), first-phase runs first.

    Returns
    -------
    list of Run
        Names like ``beta=4,seed=0`` (and ``beta=4,seed=0+l2_weight=8`` in the second phase).

    Raises
    ------
    UserError
        An unknown or renamed key or axis, a value out of range, two runs with one name.
    """
    from deep.train import RunConfig

    sweep = strict(SweepConfig, config, where="sweep config")
    grid = _check_axes(sweep.grid, "grid")
    runs = [Run(name, cfg, values) for name, cfg, values in _phase(sweep.base, grid)]
    if sweep.then is not None:
        then = dict(sweep.then)
        then_grid = _check_axes(then.pop("grid", {}), "then.grid")
        unknown_keys(then, [f.name for f in fields(RunConfig)] + ["grid"], where="then")
        second = []
        for first in runs:
            base = _merge(first.config, then)
            for name, cfg, values in _phase(base, then_grid, prefix=first.name + "+"):
                second.append(Run(name, cfg, {**first.values, **values}, init_from=first.name))
        runs += second
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise UserError("sweep config gives two runs the same name (repeated grid values?)")
    return runs


def finished(run: Run, root) -> bool:
    """The run's directory holds final metrics of this very configuration.

    A damaged ``metrics.json`` or ``config.json`` is named in a :class:`deep.config.RunWarning`
    and the run counts as unfinished: training it again resumes from its checkpoint (nothing
    to train when it is complete) and writes both files anew.
    """
    from deep.train import canonical

    directory = run.directory(root)
    if not (directory / "metrics.json").exists():
        return False
    for name in ("config.json", "metrics.json"):
        try:
            content = json.loads((directory / name).read_text())
            if not isinstance(content, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as err:
            warnings.warn(f"{directory / name} is corrupt or missing ({err}); the run will be evaluated again from "
                          "its checkpoint", RunWarning, stacklevel=2)
            return False
        if name == "config.json":
            stored = content
    stored.pop("init_from", None)
    return canonical(stored) == canonical(run.config)


def train_task(configs: list[dict], run_dirs: list[str], init_from: list, device: str, threads: int | None):
    """Train one run, or several side by side; runs in a worker process. Returns their metrics."""
    from deep.train import RunConfig, train

    if len(configs) == 1:
        return [train(RunConfig(**configs[0]), run_dirs[0], device=device, threads=threads,
                      init_from=init_from[0], progress=False)]
    from deep.ensemble import train_side_by_side

    return train_side_by_side(configs, run_dirs, device=device, threads=threads,
                              init_from=None if init_from[0] is None else init_from, progress=False)


def pack_key(run: Run) -> str:
    """Runs with one key can be trained side by side (same data, model and schedule)."""
    from deep.ensemble import SHARED

    return json.dumps([run.config.get(k) for k in SHARED] + [run.init_from is None], sort_keys=True)


def _packs(runs: list[Run], pack: int) -> list[list[Run]]:
    """Runs grouped into tasks of at most ``pack`` runs that can be trained side by side."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(pack_key(run), []).append(run)
    return [group[i:i + pack] for group in groups.values() for i in range(0, len(group), pack)]


@contextlib.contextmanager
def executor(workers: int = 1, scheduler: str | None = None, resources: dict | None = None):
    """A ``concurrent.futures`` executor: a process pool of ``workers``, or a Dask cluster at ``scheduler``.

    ``workers = 0`` trains in this process (one thread: no start-up cost, for small runs and
    debugging). ``resources`` (Dask only) are the worker resources every task asks for, e.g. {"GPU": 1}.
    """
    if scheduler is not None:
        from distributed import Client

        with Client(scheduler) as client:
            yield client.get_executor(pure=False, resources=resources)
        return
    if resources:
        raise UserError("resources need a Dask scheduler (--scheduler ADDRESS)")
    try:
        workers = validation.positive_int("workers", workers, minimum=0)
    except ValueError as err:
        raise UserError(str(err)) from None
    if workers == 0:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            yield pool
        return
    # spawn: a forked child of a process that already ran torch can deadlock in its thread pool
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_worker_start, initargs=(os.getpid(),)) as pool:
        yield pool


def _worker_start(parent: int) -> None:
    """In a local worker: exit as soon as the process that started it is gone (a killed sweep leaves no
    orphan training on), and print warnings as one line."""
    from deep.config import one_line_warnings

    one_line_warnings("collapse sweep worker")

    def watch():
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)  # the run directory's lock and half-written temporary files die with us
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def schedule(runs: list, submit, collect, *, done: set, progress: bool, desc: str) -> None:
    """Run every run of ``runs`` not in ``done`` in waves: a run is ready once the run it continues
    (``init_from``) is done. ``submit(ready)`` starts tasks, {future: the runs it trains};
    ``collect(runs, result)`` takes each finished task's result. Raises RunsFailed naming the
    runs that failed (and those continuing them), after every other run has finished."""
    done = set(done)
    failed: dict[str, str] = {}
    remaining = [r for r in runs if r.name not in done]
    with tqdm(total=len(runs), initial=len(done), disable=not progress, desc=desc, unit="run") as bar:
        while remaining:
            for run in remaining:
                if run.init_from in failed:
                    failed[run.name] = f"the run it continues ({run.init_from}) failed"
            ready = [r for r in remaining if r.name not in failed and (r.init_from is None or r.init_from in done)]
            if not ready:
                break
            futures = submit(ready)
            for future in concurrent.futures.as_completed(futures):
                group = futures[future]
                try:
                    collect(group, future.result())
                    done.update(r.name for r in group)
                except Exception as err:  # noqa: BLE001 - recorded, reported after the other runs
                    message = str(err) if isinstance(err, UserError) else f"{type(err).__name__}: {err}"
                    failed.update({r.name: message for r in group})
                bar.update(len(group))
            remaining = [r for r in remaining if r.name not in done and r.name not in failed]
    if failed:
        raise RunsFailed("runs failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))


def execute(runs: list[Run], root, pool: concurrent.futures.Executor, *, pack: int = 1, device: str = "auto",
            threads: int | None = 1, progress: bool = True) -> dict:
    """Train every run of ``runs`` without final metrics in ``root``; return {name: metrics} of all runs.

    Parameters
    ----------
    runs : list of Run
        From :func:`expand` or built by an experiment.
    root : path
        Run directories go to ``root/runs/<name>``.
    pool : concurrent.futures.Executor
        Where tasks run (:func:`executor`).
    pack : int
        Runs trained side by side per task (1: one run per task, :func:`deep.train.train`).
    device, threads
        For every task (see :func:`deep.train.fit`).
    progress : bool
        A tqdm bar over runs.

    Returns
    -------
    dict
        Metrics by run name. Raises RunsFailed (a UserError) naming the runs that failed (their
        error messages included), after every other run has been trained.
    """
    try:
        pack = validation.positive_int("pack", pack)
    except ValueError as err:
        raise UserError(str(err)) from None
    by_name = {r.name: r for r in runs}
    for run in runs:
        if run.init_from is not None and run.init_from not in by_name:
            raise ValueError(f"run {run.name!r} continues {run.init_from!r}, which is not in the sweep")
    root = Path(root)

    def submit(ready):
        futures = {}
        for group in _packs(ready, pack):
            init = [None if r.init_from is None else str(by_name[r.init_from].directory(root) / "checkpoint.pt")
                    for r in group]
            futures[pool.submit(train_task, [r.config for r in group], [str(r.directory(root)) for r in group],
                                init, device, threads)] = group
        return futures

    schedule(runs, submit, lambda group, result: None, done={r.name for r in runs if finished(r, root)},
             progress=progress, desc="sweep")
    return {r.name: _metrics(r.directory(root)) for r in runs}


def _metrics(directory: Path) -> dict:
    path = directory / "metrics.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{path} cannot be read ({err}); delete it and run the sweep again to evaluate the run "
                        "from its checkpoint") from None


def summary(runs: list[Run], metrics: dict, keys=SUMMARY_METRICS) -> list[dict]:
    """One row per run: its name, grid values and the metrics ``keys``."""
    return [{"run": r.name, **r.values, **{k: metrics[r.name].get(k) for k in keys}} for r in runs]


def write_summary(rows: list[dict], root) -> tuple[Path, Path]:
    """``summary.csv`` and ``summary.json`` in ``root`` (atomically)."""
    root = Path(root)
    return io.write_csv(root / "summary.csv", rows), io.write_json(root / "summary.json", {"runs": rows}, indent=1)


def table(rows: list[dict]) -> str:
    """The rows as an aligned text table (numbers with 4 significant digits)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else ("" if v is None else str(v))  # noqa: E731
    cells = [[fmt(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = lambda values: "  ".join(v.rjust(w) for v, w in zip(values, widths))  # noqa: E731
    return "\n".join([line(columns), *(line(r) for r in cells)])


def grid_means(rows: list[dict], x: str, y: str | None, key: str):
    """(x values, y values, mean of ``key`` over the other axes (seeds), standard error), as arrays.

    Rows without the axes (first-phase runs of a two-phase sweep have no l2_weight) are left out.
    """
    rows = [row for row in rows if x in row and (y is None or y in row)]
    xs = sorted({row[x] for row in rows}, key=float if all(isinstance(r[x], (int, float)) for r in rows) else str)
    ys = [None] if y is None else sorted({row[y] for row in rows}, key=lambda v: (isinstance(v, str), v))
    mean, stderr = np.full((len(ys), len(xs)), np.nan), np.full((len(ys), len(xs)), np.nan)
    for i, yv in enumerate(ys):
        for j, xv in enumerate(xs):
            vals = np.array([row[key] for row in rows if row[x] == xv and (y is None or row[y] == yv)
                             and row.get(key) is not None], dtype=float)
            if vals.size:
                mean[i, j] = vals.mean()
                stderr[i, j] = vals.std(ddof=1) / np.sqrt(vals.size) if vals.size > 1 else np.nan
    return np.array(xs), np.array(ys, dtype=object), mean, stderr


def figures(rows: list[dict], root, keys=SUMMARY_METRICS) -> list[Path]:
    """Heatmaps (two grid axes besides seed) or lines (one axis) of each metric, mean over seeds, as PNG."""
    axes = [a for a in dict.fromkeys(k for row in rows for k in row) if a not in ("run", "seed", "seeds", *keys)]
    axes = [a for a in axes if len({row.get(a) for row in rows}) > 1]
    if not axes:
        return []
    x, y = axes[0], (axes[1] if len(axes) > 1 else None)
    keys = [k for k in keys if any(isinstance(row.get(k), (int, float)) for row in rows)]
    fig, panels = io.figure(1, len(keys), figsize=(3.6 * len(keys), 3.2), squeeze=False)
    for ax, key in zip(panels[0], keys):
        xs, ys, mean, stderr = grid_means(rows, x, y, key)
        if y is None:
            ax.errorbar(range(len(xs)), mean[0], yerr=np.nan_to_num(stderr[0]), marker="o", capsize=3)
            ax.set_xticks(range(len(xs)), [_label(v) for v in xs])
        else:
            image = ax.imshow(mean, origin="lower", aspect="auto", cmap="viridis")
            ax.set_xticks(range(len(xs)), [_label(v) for v in xs])
            ax.set_yticks(range(len(ys)), [_label(v) for v in ys])
            ax.set_ylabel(y)
            fig.colorbar(image, ax=ax)
            for (i, j), value in np.ndenumerate(mean):
                if np.isfinite(value):
                    ax.text(j, i, f"{value:.3g}", ha="center", va="center", color="w", fontsize=7)
        ax.set_xlabel(x)
        ax.set_title(key)
    fig.tight_layout()
    return [io.save_figure(fig, Path(root) / "summary.png", dpi=120)]
