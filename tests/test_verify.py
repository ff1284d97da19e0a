"""``collapse verify``'s judgement: which joins of catalogue and test outcomes are problems."""
import json
import subprocess
import sys

import pytest

from collapse import ROOT
from collapse.catalogue import Claim
from collapse.verify import build_rows, to_markdown, to_text

CHECK = "property_tests/test_m.py::test_a"


def claim(verdict="verified", **kw):
    return Claim(id="mi_collapse.eq_1", source="000 (1)", statement="s", verdict=verdict,
                 checks=kw.pop("checks", (CHECK,)), **kw)


def report(outcome="passed", claims=("mi_collapse.eq_1",), nodeid=CHECK, deselected=()):
    return {"tests": [{"nodeid": nodeid, "claims": list(claims), "outcome": outcome,
                       "evidence": {"err": 1e-12}}],
            "deselected": list(deselected)}


def rows_for(c, r):
    return build_rows({c.id: c}, r)


def test_passing_check_backs_the_verdict():
    (row,) = rows_for(claim(), report())
    assert row.ok and row.run == 1 and row.passed == 1 and row.evidence == {"err": 1e-12}


def test_failed_check_is_a_problem():
    (row,) = rows_for(claim(), report("failed"))
    assert not row.ok and any("check failed" in p for p in row.problems)


def test_verdict_without_a_passing_check_is_a_problem():
    (row,) = rows_for(claim(), report("skipped"))
    assert not row.ok and any("not backed" in p for p in row.problems)


def test_listed_check_that_does_not_exist_is_a_problem():
    (row,) = rows_for(claim(checks=(CHECK, "property_tests/test_m.py::test_gone")), report())
    assert any("not found" in p for p in row.problems)


def test_listed_check_without_the_marker_is_a_problem():
    (row,) = rows_for(claim(), report(claims=("mi_collapse.eq_2",)))
    assert any("does not carry the marker" in p for p in row.problems)


def test_parametrised_and_deselected_checks_count():
    r = report(nodeid=CHECK + "[1]", deselected=[{"nodeid": CHECK + "[slow]", "claims": ["mi_collapse.eq_1"]}])
    (row,) = rows_for(claim(), r)
    assert row.ok and row.not_run == 1


def test_open_claim_with_reason_is_fine_without_checks():
    (row,) = rows_for(claim("open", reason="needs GPU", checks=()), {"tests": [], "deselected": []})
    assert row.ok
    assert "needs GPU" in to_markdown([row]) and "1 claims" in to_text([row])


@pytest.mark.integration
def test_verify_end_to_end_writes_json_and_markdown(tmp_path):
    """The real command on one real check: exit 0, files written, the claim's row backed. One
    pytest-xdist worker: the report comes through the controller as in the default run, and one
    worker collects the checks instead of one per core."""
    out_json, out_md = tmp_path / "v.json", tmp_path / "v.md"
    proc = subprocess.run([sys.executable, "-m", "collapse", "verify", "--paper", "mi_collapse",
                           "-k", "test_objective_matches_monte_carlo", "--workers", "1",
                           "--json", str(out_json), "--markdown", str(out_md)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {r["id"]: r for r in json.loads(out_json.read_text())}
    assert rows["mi_collapse.eq_6"]["passed"] >= 1 and rows["mi_collapse.eq_6"]["ok"]
    assert "`mi_collapse.eq_6`" in out_md.read_text()


def test_claim_whose_checks_need_a_missing_extra_is_skipped_not_a_problem():
    deep_check = "property_tests/test_deep_m.py::test_a"
    r = {"tests": [], "deselected": [], "needs_extra": {"property_tests/test_deep_m.py": "needs the [deep] extra"}}
    (row,) = rows_for(claim(checks=(deep_check,)), r)
    assert row.ok and row.skipped == "needs the [deep] extra" and row.not_run == 1
    assert "not checked in this install" in to_text([row])
    # a check that is merely missing is still a problem
    (row,) = rows_for(claim(checks=("property_tests/test_m.py::test_gone",)), r)
    assert not row.ok
