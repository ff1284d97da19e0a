"""The stored results of the confirmation experiments (``collapse experiment NAME``).

This folder is shipped as the package ``deep.results`` (see pyproject.toml), so that the
claim checks that read a stored result work from an installed wheel as from a checkout.
Each experiment keeps its files under ``<name>/``.
"""
from pathlib import Path

STORED = Path(__file__).resolve().parent


def path(name: str) -> Path:
    """The folder of experiment ``name``'s stored result."""
    return STORED / name
