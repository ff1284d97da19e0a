"""Reference routes share no formula code with the claims they check."""
import ast
from pathlib import Path

from collapse import ROOT

ALLOWED = {"numerics.validation", "numerics.precision"}


def imported_modules(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import inside numerics.reference
                yield "numerics.reference." + (node.module or "")
            else:
                yield node.module or ""


def test_reference_routes_import_no_derivation_or_model_code():
    offenders = []
    for path in sorted((ROOT / "numerics" / "reference").glob("*.py")):
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top in {"derivations", "deep", "collapse"} or (
                    top == "numerics" and not name.startswith("numerics.reference")
                    and name not in ALLOWED):
                offenders.append(f"{path.name} imports {name}")
    assert not offenders, offenders
