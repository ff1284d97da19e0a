"""The results contract holds for every stored result (README, "Results").

results/<experiment>/ (or, for an experiment with parts, results/<experiment>/<part>/) holds
exactly config.toml, runs/ (one gzipped record per planned run), a compact result.json that
follows deep/result_schema.json, and figures/; results/phase/ holds the stored phase
diagrams of `collapse phase`. The whole folder stays small enough to ship in the wheel.
"""
import gzip
import importlib.util
import json
import tomllib
from pathlib import Path

import pytest

from collapse import ROOT
from deep import experiment as protocol

RESULTS = ROOT / "results"
LIMIT = 2_000_000
"""Bytes: the stored results ship with the package."""
UNIT = {"config.toml", "runs", "result.json", "figures"}


def units() -> list[Path]:
    """Every folder that holds one experiment's (or part's) result."""
    found = []
    for folder in sorted(p for p in RESULTS.iterdir() if p.is_dir() and p.name not in ("__pycache__", "phase")):
        if (folder / "result.json").is_file():
            found.append(folder)
        else:
            parts = [p for p in folder.iterdir() if p.name != "__pycache__"]
            assert parts and all((p / "result.json").is_file() for p in parts), \
                f"{folder} holds neither a result nor only parts with results: {sorted(p.name for p in parts)}"
            found += sorted(parts)
    return found


def test_every_experiment_has_a_stored_result():
    """Except an experiment whose module says in ``NOT_RUN`` why it has none yet (and then it has none)."""
    names = {p.relative_to(RESULTS).parts[0] for p in units()}
    modules = {p.stem for p in (ROOT / "deep" / "experiments").glob("*.py") if p.stem != "__init__"}
    pending = {m for m in modules if getattr(protocol.module(m), "NOT_RUN", None)}
    assert names == modules - pending and not names & pending


@pytest.mark.parametrize("folder", units(), ids=lambda p: str(p.relative_to(RESULTS)))
def test_result_follows_the_contract(folder):
    entries = {p.name for p in folder.iterdir()}
    text = (folder / "result.json").read_text()
    result = json.loads(text)
    assert entries == UNIT - ({"runs"} if not result["records"] else set()), f"{folder}: {sorted(entries)}"
    assert "\n" not in text, "result.json must be compact (no indentation)"
    assert protocol.validate(result) == []
    assert result["experiment"] == "/".join(folder.relative_to(RESULTS).parts)
    assert tomllib.loads((folder / "config.toml").read_text()) == result["config"]
    module = protocol.module(folder.relative_to(RESULTS).parts[0])
    assert isinstance(module, protocol.Experiment)
    if result["records"] and importlib.util.find_spec("torch") is not None:   # planning builds the data
        assert result["records"] == [r.name for r in module.plan(_default(module, folder))]
    stored = sorted(p.name for p in (folder / "runs").iterdir()) if result["records"] else []
    assert stored == sorted(f"{name}.json.gz" for name in result["records"])
    for name in result["records"]:
        record = json.loads(gzip.decompress(protocol.record_path(folder, name).read_bytes()))
        assert set(record) == {"name", "values", "init_from", "config", "record"} and record["name"] == name
    assert sorted(p.name for p in (folder / "figures").iterdir()) == result["figures"]
    assert result["provenance"]["seeds"] == result["config"]["seeds"]


def _default(module, folder):
    part = folder.name if module.PARTS else None
    return module.default(part) if part else module.default()


def test_stored_results_are_small():
    files = [p for p in RESULTS.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    total = sum(p.stat().st_size for p in files)
    assert total < LIMIT, f"results/ holds {total} bytes (limit {LIMIT}); largest: " + ", ".join(
        f"{p.relative_to(RESULTS)} {p.stat().st_size}" for p in sorted(files, key=lambda p: -p.stat().st_size)[:3])


def test_the_phase_diagrams_are_plain_files():
    phase = RESULTS / "phase"
    assert all(p.is_file() and p.suffix in (".png", ".csv", ".json") for model in phase.iterdir()
               for p in model.iterdir())


def test_the_schema_catches_a_broken_result():
    result = json.loads((units()[0] / "result.json").read_text())
    assert protocol.validate(result) == []
    broken = {**result, "provenance": {**result["provenance"], "seeds": [], "commit": "HEAD", "extra": 1}}
    del broken["figures"]
    problems = protocol.validate(broken)
    assert "result needs the key 'figures'" in problems
    assert "result.provenance.seeds must have at least 1 items; got 0" in problems
    assert any(p.startswith("result.provenance.commit must match") for p in problems)
    assert "result.provenance has an unknown key 'extra'" in problems
    scale = {**result["provenance"]["scale"], "fraction": 0}
    assert protocol.validate({**result, "provenance": {**result["provenance"], "scale": scale}}) == \
        ["result.provenance.scale.fraction must be > 0; got 0"]
    assert protocol.validate({**result, "records": "all"}) == ["result.records must be array; got str"]
