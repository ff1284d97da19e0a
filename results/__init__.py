"""The stored results of the confirmation experiments (``collapse experiment NAME``).

This folder is shipped as the package ``deep.results`` (see pyproject.toml), so that the
claim checks that read a stored result work from an installed wheel as from a checkout.
Each experiment keeps its result under ``<name>/`` (or ``<name>/<part>/``): ``config.toml``,
``runs/``, ``result.json`` and ``figures/`` (:mod:`deep.experiment`, ``deep/result_schema.json``);
``phase/<model>/`` holds the stored figures of ``collapse phase``.
"""
from pathlib import Path

STORED = Path(__file__).resolve().parent


def path(name: str) -> Path:
    """The folder of experiment ``name``'s stored result."""
    return STORED / name
