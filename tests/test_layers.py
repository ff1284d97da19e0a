"""Layers are a contract: derivations <- numerics <- deep <- collapse, and the checks on top.

Every ``import`` of every module of the four packages counts, including imports inside
functions: a lazy import still makes the lower layer depend on the higher one. A module
may import its own layer and the layers below it, never one above; the only exception is
``collapse.verify``, which runs the claim checks and imports ``property_tests`` to find
where they are installed. No modules form an import cycle (within a layer; across layers
a cycle needs an upward import). ``numerics.reference`` imports no model code at all: a
check comparing a claim with a reference route then shares no formula code with it.

An ast-based test rather than import-linter: a hundred lines, no new dependency, and the
same graph answers the layer, cycle and reference rules. Dynamic imports
(``importlib.import_module``) are not seen; today they load plugin modules of the
importer's own layer or one below (``derivations.document``, ``collapse.cli``,
``collapse.certify``).
"""
from __future__ import annotations

import ast
from pathlib import Path

from collapse import ROOT

LAYERS = ("derivations", "numerics", "deep", "collapse", "property_tests")
"""Bottom to top; the first four are scanned, ``property_tests`` only imported."""
EXCEPTIONS = {("collapse.verify", "property_tests")}
REFERENCE_MAY_IMPORT = {"numerics.validation", "numerics.precision"}


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the scanned layers."""
    files = {}
    for package in LAYERS[:-1]:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def imports(name: str, path: Path, known) -> set[str]:
    """The modules ``name`` imports anywhere in its file; ``from p import m`` is ``p.m`` when that is a module."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return found


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    files = module_files(root)
    return {name: imports(name, path, files) for name, path in files.items()}


def layer(module: str) -> int | None:
    top = module.split(".")[0]
    return LAYERS.index(top) if top in LAYERS else None


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} imports {b}" for a, targets in edges.items() for b in targets
                  if layer(b) is not None and layer(b) > layer(a) and (a, b.split(".")[0]) not in EXCEPTIONS)


def reference_imports_of_model_code(edges: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} imports {b}" for a, targets in edges.items() if a.startswith("numerics.reference")
                  for b in targets if layer(b) is not None and not b.startswith("numerics.reference")
                  and b not in REFERENCE_MAY_IMPORT)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in edges:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_a_higher_layer():
    found = upward_imports(graph())
    assert not found, "\n".join(found)


def test_no_import_cycles_between_modules():
    found = cycles(graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_reference_routes_import_no_derivation_or_model_code():
    found = reference_imports_of_model_code(graph())
    assert not found, "\n".join(found)


def test_the_rules_catch_planted_violations(tmp_path):
    """A lazy upward import, a cycle through a lazy import and a model import in a reference route all fail."""
    for package in LAYERS[:-1]:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "numerics" / "reference").mkdir()
    (tmp_path / "numerics" / "reference" / "__init__.py").write_text("")
    (tmp_path / "numerics" / "model.py").write_text("def f():\n    from deep import train\n")
    (tmp_path / "numerics" / "reference" / "route.py").write_text("from .. import model\nfrom numerics import validation\n")
    (tmp_path / "numerics" / "validation.py").write_text("")
    (tmp_path / "deep" / "train.py").write_text("def fit():\n    import deep.evaluate\n")
    (tmp_path / "deep" / "evaluate.py").write_text("from deep.train import fit\nimport numpy\n")
    (tmp_path / "collapse" / "verify.py").write_text("import property_tests\n")
    (tmp_path / "collapse" / "cli.py").write_text("from property_tests import strategies\n")
    edges = graph(tmp_path)
    assert upward_imports(edges) == ["collapse.cli imports property_tests", "numerics.model imports deep.train"]
    assert cycles(edges) == [["deep.evaluate", "deep.train"]]
    assert reference_imports_of_model_code(edges) == ["numerics.reference.route imports numerics.model"]
