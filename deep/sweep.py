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
    lam = [0, 8, 32]

Axis names: ``beta``, ``lam`` (alias ``lambda``: the L2 weight of [mi_collapse] eq. 7),
``delta`` ([lambda_vae] eq. 16), ``seed`` (alias ``seeds``), ``data`` (the data set's
name) and any dotted path into the run config (``objective.warmup_steps``,
``model.eta_dec``, ``data.subset``). In a ``lambda-beta`` run lam = 0 means the
beta-VAE (the lam = 0 column of the grid).

:func:`execute` trains the runs that have no ``metrics.json`` yet through an executor:
a local process pool by default, or a Dask cluster (``distributed.Client(address)``;
tasks can ask for worker resources such as ``{"GPU": 1}``, which GPU workers declare
with ``dask worker ADDRESS --resources GPU=1``). A task is one run
(:func:`deep.train.train`) or, with ``pack`` > 1, up to ``pack`` runs that share data,
model and schedule trained side by side (:func:`deep.ensemble.train_side_by_side`).
Every run writes its directory atomically and resumes from its checkpoint, so a sweep
that is stopped and started again continues where it was. A second-phase run starts
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
import csv
import itertools
import json
import multiprocessing
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from numerics import validation

AXES = {"beta": "objective.beta", "lam": "objective.lam", "lambda": "objective.lam",
        "delta": "objective.delta", "seed": "seed", "seeds": "seed", "data": "data.name"}
"""Short axis names and the config paths they set."""
SUMMARY_METRICS = ("mig", "sap", "active_units", "kl", "reconstruction_nll", "reconstruction_mse")


@dataclass
class Run:
    """One run of a sweep: its directory name, its run config, the grid values and the run it continues."""

    name: str
    config: dict
    values: dict = field(default_factory=dict)
    init_from: str | None = None

    def directory(self, root) -> Path:
        return Path(root) / "runs" / self.name


def load_config(path) -> dict:
    """A sweep config from a ``.toml`` or ``.json`` file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config must be an existing .toml or .json file; {path} does not exist")
    if path.suffix == ".toml":
        return tomllib.loads(path.read_text())
    if path.suffix == ".json":
        return json.loads(path.read_text())
    raise ValueError(f"config must be a .toml or .json file; got {path.name}")


def _set(config: dict, path: str, value) -> None:
    keys = AXES.get(path, path).split(".")
    node = config
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ValueError(f"grid axis {path!r} goes through a non-table value")
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
    for axis, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"grid axis {axis!r} must be a non-empty list; got {values!r}")
    return [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]


def run_config(config: dict) -> dict:
    """A complete run config (RunConfig defaults filled in); lam = 0 in a lambda-beta run is the beta-VAE."""
    from deep.train import RunConfig

    allowed = [f.name for f in fields(RunConfig)]
    unknown = set(config) - set(allowed)
    if unknown:
        raise ValueError(f"run config has unknown field(s) {sorted(unknown)}; allowed: {', '.join(allowed)}")
    missing = {"data", "model", "objective", "steps"} - set(config)
    if missing:
        raise ValueError(f"run config needs {sorted(missing)}")
    objective = config["objective"]
    if objective.get("name") == "lambda-beta" and not objective.get("lam"):
        config = {**config, "objective": {k: v for k, v in objective.items() if k not in ("lam", "phase1_steps")}
                  | {"name": "beta"}}
    return asdict(RunConfig(**config))


def _phase(base: dict, grid: dict, prefix: str = "") -> list[tuple[str, dict, dict]]:
    out = []
    for values in _combinations(grid):
        config = copy.deepcopy(base)
        for axis, value in values.items():
            _set(config, axis, value)
        name = prefix + ",".join(f"{axis}={_label(v)}" for axis, v in values.items())
        out.append((name or "run", run_config(config), values))
    return out


def expand(config: dict) -> list[Run]:
    """The runs of a sweep config (module docstring), first-phase runs first.

    Returns
    -------
    list of Run
        Names like ``beta=4,seed=0`` (and ``beta=4,seed=0+lam=8`` in the second phase).
    """
    unknown = set(config) - {"name", "base", "grid", "then"}
    if unknown:
        raise ValueError(f"sweep config has unknown key(s) {sorted(unknown)}; allowed: name, base, grid, then")
    if "base" not in config:
        raise ValueError("sweep config needs a [base] table (a run configuration)")
    runs = [Run(name, cfg, values) for name, cfg, values in _phase(config["base"], config.get("grid", {}))]
    if "then" in config:
        then = dict(config["then"])
        grid = then.pop("grid", {})
        second = []
        for first in runs:
            base = _merge(first.config, then)
            for name, cfg, values in _phase(base, grid, prefix=first.name + "+"):
                second.append(Run(name, cfg, {**first.values, **values}, init_from=first.name))
        runs += second
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise ValueError("sweep config gives two runs the same name (repeated grid values?)")
    return runs


def finished(run: Run, root) -> bool:
    """The run's directory holds final metrics of this very configuration."""
    directory = run.directory(root)
    if not (directory / "metrics.json").exists():
        return False
    stored = json.loads((directory / "config.json").read_text())
    stored.pop("init_from", None)
    return stored == run.config


def _train_task(configs: list[dict], run_dirs: list[str], init_from: list, device: str, threads: int | None):
    """Train one run, or several side by side; runs in a worker process. Returns their metrics."""
    from deep.train import RunConfig, train

    if len(configs) == 1:
        return [train(RunConfig(**configs[0]), run_dirs[0], device=device, threads=threads,
                      init_from=init_from[0], progress=False)]
    from deep.ensemble import train_side_by_side

    return train_side_by_side(configs, run_dirs, device=device, threads=threads,
                              init_from=None if init_from[0] is None else init_from, progress=False)


def _packs(runs: list[Run], pack: int) -> list[list[Run]]:
    """Runs grouped into tasks of at most ``pack`` runs that can be trained side by side."""
    from deep.ensemble import SHARED

    groups: dict[str, list[Run]] = {}
    for run in runs:
        key = json.dumps([run.config.get(k) for k in SHARED] + [run.init_from is None], sort_keys=True)
        groups.setdefault(key, []).append(run)
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
        raise ValueError("resources need a Dask scheduler (--scheduler ADDRESS)")
    workers = validation.positive_int("workers", workers, minimum=0)
    if workers == 0:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            yield pool
        return
    # spawn: a forked child of a process that already ran torch can deadlock in its thread pool
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


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
        Metrics by run name. Raises RuntimeError naming the runs that failed (their
        error messages included), after every other run has been trained.
    """
    pack = validation.positive_int("pack", pack)
    by_name = {r.name: r for r in runs}
    for run in runs:
        if run.init_from is not None and run.init_from not in by_name:
            raise ValueError(f"run {run.name!r} continues {run.init_from!r}, which is not in the sweep")
    root = Path(root)
    failed: dict[str, str] = {}
    done = {r.name for r in runs if finished(r, root)}
    remaining = [r for r in runs if r.name not in done]
    with tqdm(total=len(runs), initial=len(done), disable=not progress, desc="sweep", unit="run") as bar:
        while remaining:
            ready = [r for r in remaining if r.init_from is None or r.init_from in done]
            blocked = [r for r in remaining if r.init_from in failed]
            for run in blocked:
                failed[run.name] = f"the run it continues ({run.init_from}) failed"
            if not ready:
                break
            futures = {}
            for group in _packs(ready, pack):
                init = [None if r.init_from is None else str(by_name[r.init_from].directory(root) / "checkpoint.pt")
                        for r in group]
                future = pool.submit(_train_task, [r.config for r in group], [str(r.directory(root)) for r in group],
                                     init, device, threads)
                futures[future] = group
            for future in concurrent.futures.as_completed(futures):
                group = futures[future]
                try:
                    future.result()
                    done.update(r.name for r in group)
                except Exception as err:  # noqa: BLE001 - recorded, reported after the other runs
                    failed.update({r.name: f"{type(err).__name__}: {err}" for r in group})
                bar.update(len(group))
            remaining = [r for r in remaining if r.name not in done and r.name not in failed]
    if failed:
        raise RuntimeError("runs failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    return {r.name: json.loads((r.directory(root) / "metrics.json").read_text()) for r in runs}


def summary(runs: list[Run], metrics: dict, keys=SUMMARY_METRICS) -> list[dict]:
    """One row per run: its name, grid values and the metrics ``keys``."""
    return [{"run": r.name, **r.values, **{k: metrics[r.name].get(k) for k in keys}} for r in runs]


def write_summary(rows: list[dict], root) -> tuple[Path, Path]:
    """``summary.csv`` and ``summary.json`` in ``root`` (atomically)."""
    from deep.provenance import write_json
    from deep.train import atomic_write

    root = Path(root)
    columns = list(dict.fromkeys(k for row in rows for k in row))

    def write_csv(path):
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            writer.writerows(rows)
    atomic_write(root / "summary.csv", write_csv)
    return root / "summary.csv", write_json(root / "summary.json", {"runs": rows})


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

    Rows without the axes (first-phase runs of a two-phase sweep have no lam) are left out.
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = [a for a in dict.fromkeys(k for row in rows for k in row) if a not in ("run", "seed", "seeds", *keys)]
    axes = [a for a in axes if len({row.get(a) for row in rows}) > 1]
    if not axes:
        return []
    x, y = axes[0], (axes[1] if len(axes) > 1 else None)
    keys = [k for k in keys if any(isinstance(row.get(k), (int, float)) for row in rows)]
    fig, panels = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.2), squeeze=False)
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
    path = Path(root) / "summary.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return [path]
