"""What the confirmation experiments of issue 7 share: conv-VAE training runs as the runs of an
experiment (:mod:`deep.experiment`), and statistics across seeds.

An experiment module in :mod:`deep.experiments` whose runs are training runs of
:func:`deep.train.train` (:class:`deep.sweep.Run`, made with :func:`deep.sweep.run_config`)
uses :func:`train` as its ``run`` (the record is the run's final metrics), and
:func:`train_together` and :func:`deep.sweep.pack_key` to train runs side by side (``--pack``).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


def _init(one, work_dir: Path):
    return None if one.init_from is None else str(Path(work_dir) / "runs" / one.init_from / "checkpoint.pt")


def train(one, work_dir: Path, device: str) -> dict:
    """Train (or resume, or read back when finished) the training run ``one`` under ``work_dir``; its metrics."""
    from deep import sweep

    if sweep.finished(one, work_dir):
        return json.loads((one.directory(work_dir) / "metrics.json").read_text())
    return sweep.train_task([one.config], [str(one.directory(work_dir))], [_init(one, work_dir)], device, 1)[0]


def train_together(runs, work_dir: Path, device: str) -> list[dict]:
    """Train the runs ``runs`` (one :func:`pack_key`) side by side; their metrics."""
    from deep import sweep

    init = [_init(r, work_dir) for r in runs]
    return sweep.train_task([r.config for r in runs], [str(r.directory(work_dir)) for r in runs],
                             init, device, 1)


def run(cfg, one, work_dir: Path, device: str) -> dict:
    """The protocol's ``run`` (:mod:`deep.experiment`) where a run is one confirmation run: train it."""
    return train(one, work_dir, device)


def run_together(cfg, runs, work_dir: Path, device: str) -> list[dict]:
    """The protocol's ``run_together``: train a pack of confirmation runs side by side."""
    return train_together(runs, work_dir, device)


def log(one, work_dir: Path) -> list[dict]:
    """The log lines of a trained run."""
    return [json.loads(line) for line in (one.directory(work_dir) / "log.jsonl").read_text().splitlines()]


def mean_se(values) -> tuple[float, float]:
    """Mean and standard error (NaN for fewer than two values) of a sequence."""
    values = np.asarray(values, dtype=float)
    se = values.std(ddof=1) / math.sqrt(values.size) if values.size > 1 else math.nan
    return float(values.mean()), float(se)


def exceeds(a, b, k: float = 2.0) -> tuple[bool, float]:
    """Whether mean(a) - mean(b) > k sqrt(se_a^2 + se_b^2), and that margin in standard errors.

    With one value per side the standard errors are unknown and nothing exceeds.
    """
    (ma, sa), (mb, sb) = mean_se(a), mean_se(b)
    se = math.sqrt(sa ** 2 + sb ** 2)
    if not math.isfinite(se):
        return False, math.nan
    z = (ma - mb) / se if se > 0 else (math.inf if ma > mb else -math.inf if ma < mb else 0.0)
    return bool(z > k), z
