"""``collapse sweep CONFIG``: train a grid of runs (a TOML/JSON sweep config, see deep.sweep) and summarise it.

Runs go to ``--root`` (default ``runs/<config name>``), one directory per run; a sweep
started again skips finished runs and resumes unfinished ones from their checkpoints.
At the end it prints a table of the metrics and writes ``summary.csv``, ``summary.json``
and ``summary.png`` (heatmaps over the grid, mean over seeds) to the root. torch is
imported only when the command runs.
"""
from pathlib import Path

from collapse.cli import checked, count, writable_dir
from numerics import validation

HELP = "train a grid of runs from a TOML/JSON sweep config on a process pool or a Dask cluster; summary table and heatmaps"


def add_arguments(parser):
    parser.add_argument("config", type=Path, metavar="CONFIG", help="sweep config (.toml or .json; see deep/sweep.py)")
    parser.add_argument("--root", type=Path, help="where the runs and the summary go (default runs/<name>)")
    parser.add_argument("--workers", type=int, default=1, help="local worker processes (default 1; 0: in this process)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on a Dask distributed cluster (e.g. tcp://host:8786) instead of local processes")
    parser.add_argument("--gpus-per-task", type=float, default=None, metavar="N",
                        help="Dask: each task asks for N of the workers' 'GPU' resource (workers started with "
                             "`dask worker ADDRESS --resources GPU=1`)")
    parser.add_argument("--pack", type=int, default=1,
                        help="runs trained side by side per task (deep.ensemble; default 1: one run per task)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, ...")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per task (default 1)")
    parser.add_argument("--dry-run", action="store_true", help="list the runs and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    from deep import sweep

    config = sweep.load_config(args.config)
    runs = sweep.expand(config)
    root = writable_dir(args.root or Path("runs") / (config.get("name") or args.config.stem), "--root")
    if args.dry_run:
        for r in runs:
            print(f"{'done' if sweep.finished(r, root) else 'todo'}  {r.name}")
        return 0
    count("--workers", args.workers, 0, maximum=1024)
    count("--pack", args.pack, maximum=4096)
    count("--threads", args.threads, maximum=1024)
    if args.gpus_per_task is not None:
        checked("--gpus-per-task", validation.positive, args.gpus_per_task)
    if args.device != "auto":
        from deep.runs import resolve_device

        resolve_device(args.device)
    resources = None if args.gpus_per_task is None else {"GPU": args.gpus_per_task}
    with sweep.executor(args.workers, args.scheduler, resources) as pool:
        metrics = sweep.execute(runs, root, pool, pack=args.pack, device=args.device, threads=args.threads,
                                progress=not args.no_progress)
    rows = sweep.summary(runs, metrics)
    print(sweep.table(rows))
    paths = [*sweep.write_summary(rows, root), *sweep.figures(rows, root)]
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
