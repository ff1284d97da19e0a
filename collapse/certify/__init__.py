"""Certified verdicts: rigorous Arb ball-arithmetic proofs of scalar claims, re-checkable by anyone.

One module per model (``linear_gaussian_vae`` for paper 000, ``lambda_vae`` for 002,
``tractable_beta_vae`` for 003, ``linear_latent_model`` for 004) registers a builder per
claim; :mod:`collapse.certify.core` holds the certificate format, the interval tools,
writing and re-checking. The certificates are stored as package data in
``collapse/certificates/<claim id>.json``; ``collapse certify --check`` re-derives each
from its stored inputs. Needs python-flint (the ``certify`` extra).
"""
from __future__ import annotations

import importlib
from pathlib import Path

from collapse.certify import core

MODULES = {"linear_gaussian_vae": "mi_collapse", "lambda_vae": "lambda_vae",
           "tractable_beta_vae": "optimal_beta", "linear_latent_model": "wang_ziyin"}
"""Certificate module -> the paper (catalogue key) whose claims it certifies."""


def builders() -> dict[str, core.Spec]:
    """Every registered certificate builder by claim id (imports python-flint)."""
    core.flint()
    for name in MODULES:
        importlib.import_module(f"collapse.certify.{name}")
    return core.REGISTRY


def stored(directory: Path = core.DIRECTORY) -> list[Path]:
    """The stored certificate files, sorted by claim id."""
    return sorted(Path(directory).glob("*.json"))


def claim_of(path: Path) -> str:
    """The claim a stored certificate file is named after."""
    return Path(path).stem
