"""The mutation-testing set-up of issue 20 stays consistent (cheap; the campaign itself is
``python benchmarks/mutation.py``, a scheduled job, not part of this run).

- every module of numerics/ and derivations/ that mutmut mutates has a test selection, and
  every listed test file exists;
- every accepted equivalent mutant has a reason and still names the change it was accepted
  for (mutmut numbers mutants per function, so an edit can renumber them);
- the README's kill-rate table is the one docs/mutation.json gives;
- every Hypothesis property that runs an optimiser per example skips the shrink phase in
  the default profile (a failure is reported in seconds) and shrinks under ``thorough``.
"""
from __future__ import annotations

import ast
import fnmatch
import importlib.util
import json
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import Phase, settings

from collapse import ROOT
from property_tests import strategies as s

_spec = importlib.util.spec_from_file_location("benchmarks_mutation", ROOT / "benchmarks" / "mutation.py")
mutation = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mutation)

CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
OPTIMISERS = re.compile(r"multistart|minimize|minimise\(|maximise_objective|lambda_star_maximise|\balternating\(|"
                        r"solve_ivp|integrate_flow|gradient_flow|schedule_iteration|optimize\.minimize")


def mutated_modules() -> list[str]:
    files = [p.relative_to(ROOT).as_posix() for folder in CONFIG["source_paths"] for p in (ROOT / folder).rglob("*.py")]
    return sorted(f for f in files if not any(fnmatch.fnmatch(f, pattern) for pattern in CONFIG["do_not_mutate"]))


def test_every_mutated_module_has_a_test_selection():
    assert sorted(mutation.TESTS) == mutated_modules()
    for module, tests in mutation.TESTS.items():
        assert tests and all((ROOT / t).is_file() for t in tests), module


@pytest.mark.integration
def test_accepted_equivalent_mutants_still_name_their_change():
    pytest.importorskip("mutmut", reason="the mutation extra")
    from mutmut.mutation.file_mutation import mutate_file_contents

    entries = tomllib.loads((ROOT / "docs" / "mutation_equivalent.toml").read_text())["equivalent"]
    assert len({e["id"] for e in entries}) == len(entries)
    by_module = {}
    for e in entries:
        assert set(e) == {"id", "before", "after", "reason"} and len(e["reason"]) > 20, e["id"]
        module = next(m for m in mutation.TESTS if e["id"].startswith(mutation.slug(m) + ".x"))
        by_module.setdefault(module, []).append(e)
    for module, listed in by_module.items():
        source = (ROOT / module).read_text()
        names = {e["id"][len(mutation.slug(module)) + 3:].partition("__mutmut_")[0] for e in listed}
        spans = [range(min([f.lineno, *(d.lineno for d in f.decorator_list)]), f.end_lineno + 1)
                 for f in ast.parse(source).body if isinstance(f, ast.FunctionDef) and f.name in names]
        # only the listed functions are mutated (whole functions, so their mutants keep their numbers)
        mutated = mutate_file_contents(module, source, covered_lines={n for span in spans for n in span})
        code = mutated.code.splitlines()

        def lines(name, as_name):
            span = mutated.line_span_by_function_name[name]
            return [x.strip().replace(name, as_name) for x in code[span.start - 1:span.end]]

        for e in listed:
            name = e["id"][len(mutation.slug(module)) + 1:]
            assert name in mutated.mutant_names, e["id"]
            orig = name.partition("__mutmut_")[0] + "__mutmut_orig"
            original, mutant = lines(orig, orig), lines(name, orig)
            changed = [(a, b) for a, b in zip(original, mutant) if a != b]
            assert len(original) == len(mutant) and changed == [(e["before"], e["after"])], (e["id"], changed)


def test_readme_kill_rate_table_matches_the_report():
    report = json.loads((ROOT / "docs" / "mutation.json").read_text())
    readme = (ROOT / "README.md").read_text()
    assert mutation.table(report) in readme
    assert set(report) <= set(mutation.TESTS)


def _optimising_properties():
    for path in sorted((ROOT / "property_tests").glob("test_*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and any("given" in ast.unparse(d) for d in node.decorator_list):
                body = ast.get_source_segment(source, node)
                if OPTIMISERS.search(body) and any("examples" in ast.unparse(d) for d in node.decorator_list):
                    yield path.stem, node


def test_properties_that_optimise_per_example_do_not_shrink_by_default():
    found = list(_optimising_properties())
    assert len(found) >= 10
    for module, node in found:
        assert any("shrink=False" in ast.unparse(d) for d in node.decorator_list), f"{module}::{node.name}"
    assert Phase.shrink not in s.examples(5, shrink=False).phases
    assert Phase.shrink in s.examples(5).phases
    current = settings.get_current_profile_name()
    try:
        settings.load_profile("thorough")
        assert Phase.shrink in s.examples(5, shrink=False).phases
    finally:
        settings.load_profile(current)


def test_a_run_that_records_no_mutant_keeps_the_reports_entry(tmp_path, monkeypatch):
    """A --survivors run in a folder where mutmut never ran loads no mutant: that must stop the
    script, not replace the module's entry with an empty one (it once did, for optimum.py)."""
    monkeypatch.setattr(mutation, "SCRATCH", tmp_path)

    class Done:
        returncode = 0

    def fake_mutmut(cmd, cwd, **kwargs):
        (Path(cwd) / "summary.json").write_text(json.dumps({"numerics/tchebycheff.py": {"status": {}, "diffs": {}}}))
        return Done()
    monkeypatch.setattr(mutation.subprocess, "run", fake_mutmut)
    with pytest.raises(SystemExit, match="no mutant of numerics/tchebycheff.py is recorded"):
        mutation.run_group(["numerics/tchebycheff.py"], 1, [], [], survivors_only=True)
