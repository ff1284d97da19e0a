"""Provenance of stored results: commit, environment, device, seeds and scale."""
from __future__ import annotations

import datetime
import platform
import subprocess
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1]
"""The folder the package was imported from (the checkout in an editable install)."""


def commit() -> tuple[str | None, bool | None]:
    """The checkout's HEAD commit and whether it has uncommitted changes ((None, None) outside git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=SOURCE, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=SOURCE,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return head, bool(dirty)


PACKAGES = ("numpy", "scipy", "torch", "scikit-learn", "matplotlib")
"""The packages whose versions a result records (besides Python)."""


def versions() -> dict:
    """Python's version and those of :data:`PACKAGES` (None: not installed)."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def record(*, seeds, scale: dict, device: str | None = None) -> dict:
    """Where and how a result was produced: commit, dirty flag, date, versions, device, seeds and
    ``scale`` (:func:`scale`, with a ``description`` of how the runs differ from the paper's)."""
    head, dirty = commit()
    return {"commit": head, "dirty": dirty,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "versions": versions(), "device": device, "seeds": list(seeds), "scale": dict(scale)}


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
