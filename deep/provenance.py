"""Provenance of stored results: commit, environment, device, seeds and scale."""
from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from pathlib import Path



SOURCE = Path(__file__).resolve().parents[1]
"""The folder the package was imported from (the checkout in an editable install)."""


def commit() -> str | None:
    """The checkout's HEAD commit, with ``+dirty`` when it has uncommitted changes (None outside git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=SOURCE, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=SOURCE,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def record(*, seeds, scale: str, device: str | None = None) -> dict:
    """Where and how a result was produced; ``scale`` says e.g. 'cpu-reduced' or 'gpu-full'."""
    import torch

    return {"commit": commit(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(), "torch": torch.__version__, "device": device,
            "seeds": list(seeds), "scale": scale}


def scale(examples_per_run: float, paper_examples_per_run: float | None, *, what: str,
          converged: bool | None = None) -> dict:
    """An experiment's scale, for the evidence grade of the checks that read it.

    ``fraction`` is the training examples one run processes (steps x batch) over the number
    the paper's protocol processes per run, ``None`` when the paper states no training length
    (then only a run shown to have converged counts as paper scale). ``converged``: whether
    every run met a stated convergence criterion (``None``: not measured).
    """
    fraction = None if paper_examples_per_run is None else examples_per_run / paper_examples_per_run
    return {"fraction": fraction, "converged": converged, "what": what}


def write_json(path: Path, data: dict) -> Path:
    """Write ``data`` as JSON atomically (a killed process never leaves half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)
    return path
