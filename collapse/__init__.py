"""The proof-checker's user-facing layer: the claim catalogue, the pytest plugin and the CLI."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The source checkout this package was installed from (editable installs only)."""
