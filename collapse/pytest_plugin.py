"""pytest as a proof-checker: claim markers, an ``evidence`` fixture and a claims report.

A check is a test marked ``@pytest.mark.claim("paper.label", ...)``. The test records
its key numbers with ``evidence("max rel. error", 3e-14)``. With
``--claims-report PATH`` the plugin writes every marked test's outcome and evidence as
JSON, which ``collapse verify`` joins with the catalogue.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from collapse import catalogue

MARKERS = {
    "claim(*ids)": "check backing the given catalogue claims",
    "slow": "takes minutes; excluded from the default run",
    "gpu": "needs CUDA; skipped without it",
    "deep": "trains neural networks",
}


def pytest_addoption(parser):
    parser.addoption("--claims-report", default=None, metavar="PATH",
                     help="write the outcome of every claim-marked test as JSON to PATH")
    parser.addoption("--claims-paper", default=None, metavar="KEY",
                     help="run only the checks of claims of this paper (e.g. mi_collapse)")


def pytest_configure(config):
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")
    config._claims = {"tests": {}, "deselected": []}


def _claim_ids(item) -> tuple[str, ...]:
    return tuple(i for mark in item.iter_markers("claim") for i in mark.args)


def pytest_collection_modifyitems(session, config, items):
    known = catalogue.load()
    for item in items:
        for cid in _claim_ids(item):
            if cid not in known:
                raise pytest.UsageError(f"{item.nodeid}: claim id {cid!r} is not in the catalogue")
    paper = config.getoption("--claims-paper")
    if paper:
        keep = [i for i in items if any(c.split(".")[0] == paper for c in _claim_ids(i))]
        dropped = [i for i in items if i not in keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep


def pytest_deselected(items):
    config = items[0].config if items else None
    if config is not None and hasattr(config, "_claims"):
        config._claims["deselected"].extend(
            {"nodeid": i.nodeid, "claims": list(_claim_ids(i))} for i in items if _claim_ids(i))


def pytest_runtest_makereport(item, call):
    ids = _claim_ids(item)
    if ids:
        entry = item.config._claims["tests"].setdefault(
            item.nodeid, {"nodeid": item.nodeid, "claims": list(ids), "outcome": "passed",
                          "evidence": {}, "duration": 0.0})
        entry["duration"] += call.duration
        if call.excinfo is not None:
            skipped = call.excinfo.errisinstance(pytest.skip.Exception)
            if skipped and entry["outcome"] == "passed":
                entry["outcome"] = "skipped"
            elif not skipped:
                entry["outcome"] = "failed"
                entry["message"] = call.excinfo.exconly()[:500]
        for key, name, value in item.user_properties:
            if key == "evidence":
                entry["evidence"][name] = value


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


@pytest.fixture
def evidence(request):
    """Record a key number of this check: ``evidence("name", value)``.

    Repeated calls with one name (e.g. once per Hypothesis example) keep
    ``reduce(old, new)``, by default the maximum, so name the number accordingly.
    """
    seen = {}

    def record(name: str, value, reduce=max):
        value = _jsonable(value)
        if name in seen and isinstance(value, (int, float)) and isinstance(seen[name], (int, float)):
            value = reduce(seen[name], value)
        seen[name] = value
        request.node.user_properties[:] = [p for p in request.node.user_properties
                                           if p[:2] != ("evidence", name)]
        request.node.user_properties.append(("evidence", name, value))
    return record


def pytest_sessionfinish(session, exitstatus):
    path = session.config.getoption("--claims-report")
    if path and not hasattr(session.config, "workerinput"):
        data = {"tests": list(session.config._claims["tests"].values()),
                "deselected": session.config._claims["deselected"],
                "exitstatus": int(exitstatus)}
        target = Path(path)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, target)
