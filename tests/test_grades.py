"""Evidence grades: derived from what the checks did, tied to verdicts, held to the recorded file."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from collapse import ROOT, catalogue, grades
from collapse.catalogue import Claim
from collapse.pytest_plugin import run_grades
from collapse.verify import build_rows, to_json, to_latex, to_markdown, to_text

CHECK = "property_tests/test_m.py::test_a"
EXACT = {"grade": "exact", "detail": "symbolic"}
REDUCED = grades.experiment_detail(0.01, False, "conv VAEs")


def test_scale_is_ordered_and_rank_refuses_unknown_grades():
    assert [grades.rank(g) for g in grades.GRADES] == list(range(len(grades.GRADES)))
    with pytest.raises(ValueError, match="grade must be one of"):
        grades.rank("proved")


def test_check_grade_takes_the_strongest_declaration_else_fuzzed_or_numerical():
    assert grades.check_grade([REDUCED, EXACT], None)["grade"] == "exact"
    assert grades.check_grade([], "x=integers(1, 3)") == {"grade": "fuzzed", "detail": "x=integers(1, 3)"}
    assert grades.check_grade([], None)["grade"] == "numerical"


@pytest.mark.parametrize("fraction, converged, grade", [
    (0.0026, False, "experiment-reduced"), (1.0, None, "experiment"), (2.5, True, "experiment"),
    (None, None, "experiment-reduced"), (None, False, "experiment-reduced"), (None, True, "experiment")])
def test_experiment_grade_needs_the_papers_scale_or_convergence_where_the_paper_states_none(fraction, converged, grade):
    assert grades.experiment_detail(fraction, converged, "runs")["grade"] == grade


def test_experiment_fraction_must_be_positive():
    with pytest.raises(ValueError, match="fraction must be > 0"):
        grades.experiment_detail(0.0, None, "runs")


def test_a_reduced_scale_experiment_alone_never_refutes():
    assert grades.verdict_problems("refuted", "experiment-reduced")
    assert not grades.verdict_problems("refuted", "numerical")
    assert not grades.verdict_problems("not_reproduced", "experiment-reduced")
    assert grades.verdict_problems("not_reproduced", "exact")


def report(*tests, deselected=(), collected=None):
    return {"tests": list(tests), "deselected": list(deselected),
            "collected": collected if collected is not None else [t["nodeid"] for t in tests]}


def test_entry(nodeid=CHECK, grade=EXACT, outcome="passed", slow=False):
    return {"nodeid": nodeid, "claims": ["mi_collapse.eq_1"], "outcome": outcome, "evidence": {},
            "grade": grade, "slow": slow}


test_entry.__test__ = False


def claim(verdict="verified", checks=(CHECK,), **kw):
    return Claim(id="mi_collapse.eq_1", source="000 (1)", statement="s", verdict=verdict, checks=checks, **kw)


def test_row_grade_is_the_strongest_passing_check():
    other = "property_tests/test_m.py::test_b"
    r = report(test_entry(grade=REDUCED), test_entry(other, grade=EXACT),
               test_entry("property_tests/test_m.py::test_c", grade={"grade": "certified", "detail": "c"},
                          outcome="failed"))
    (row,) = build_rows({"mi_collapse.eq_1": claim(checks=(CHECK, other))}, r)
    assert row.grade == "exact" and row.weakest == "experiment-reduced" and len(row.check_grades) == 2


def test_refuted_on_a_reduced_experiment_is_a_problem_and_not_reproduced_is_not():
    (row,) = build_rows({"mi_collapse.eq_1": claim("refuted", counterexample="c")}, report(test_entry(grade=REDUCED)))
    assert not row.ok and any("reduced-scale" in p for p in row.problems)
    (row,) = build_rows({"mi_collapse.eq_1": claim("not_reproduced", reason="AU 2 vs 3 at 1 %")},
                        report(test_entry(grade=REDUCED)))
    assert row.ok and row.grade == "experiment-reduced"


def test_every_output_carries_the_grade(tmp_path):
    (row,) = build_rows({"mi_collapse.eq_1": claim()}, report(test_entry()))
    assert json.loads(to_json([row]))[0]["grade"] == "exact"
    assert "| exact | exact |" in to_markdown([row])
    assert "mi_collapse: 1 exact" in to_text([row])
    tex = to_latex([row])
    assert r"mi\_collapse.eq\_1 & 000 (1) & verified & exact & exact" in tex and tex.rstrip().endswith(r"\end{document}")


def test_run_grades_needs_every_listed_check_and_ignores_slow_ones():
    slow = "property_tests/test_m.py::test_slow"
    claims = {"mi_collapse.eq_1": claim(checks=(CHECK, slow))}
    deselected = [{"nodeid": slow, "claims": ["mi_collapse.eq_1"], "slow": True}]
    assert run_grades(report(test_entry(), deselected=deselected, collected=[CHECK, slow]), claims) == \
        {"mi_collapse.eq_1": EXACT}
    # the same check deselected by -k: the claim was not fully run, so it is not judged
    by_k = [{**deselected[0], "slow": False}]
    assert run_grades(report(test_entry(), deselected=by_k, collected=[CHECK, slow]), claims) == {}
    # an unlisted test carrying the claim's marker deselected by -k: not fully run either
    unlisted = [{"nodeid": "property_tests/test_m.py::test_z", "claims": ["mi_collapse.eq_1"], "slow": False}]
    assert run_grades(report(test_entry(), deselected=deselected + unlisted, collected=[CHECK, slow]), claims) == {}
    # a listed check that was never collected (e.g. the deep extra is missing)
    assert run_grades(report(test_entry(), collected=[CHECK]), claims) == {}
    # a slow check that ran does not change the default-run grade
    ran_slow = test_entry(slow, grade={"grade": "certified", "detail": "c"}, slow=True)
    assert run_grades(report(test_entry(), ran_slow), claims)["mi_collapse.eq_1"]["grade"] == "exact"


# ----------------------------------------------------------------- the plugin, in a real pytest run

PLUGIN_TESTS = '''
import json
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from collapse import ROOT

@pytest.mark.claim("mi_collapse.eq_6")
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(x=st.integers(1, 3))
def test_fuzz(x, evidence):
    assert x > 0

@pytest.mark.claim("mi_collapse.eq_6")
def test_exact(evidence):
    assert 1 + 1 == 2
    evidence.exact("integer arithmetic")

@pytest.mark.claim("mi_collapse.eq_6")
def test_reads_result_undeclared(evidence):
    json.loads((ROOT / "results" / "linear_latent_model" / "result.json").read_text())

@pytest.mark.claim("mi_collapse.eq_6")
def test_reads_result_declared(evidence):
    json.loads((ROOT / "results" / "linear_latent_model" / "result.json").read_text())
    evidence.experiment(0.01, None, "stored runs")

@pytest.mark.claim("mi_collapse.eq_6")
def test_exact_needs_digits(evidence):
    evidence.exact("mpmath", digits=12)
'''


@pytest.mark.integration
def test_plugin_derives_each_checks_grade_from_what_it_did(pytester):
    pytester.makepyfile(test_plugin_probe=PLUGIN_TESTS)
    out = pytester.path / "claims.json"
    result = pytester.runpytest_subprocess("-p", "collapse.pytest_plugin", "--claims-report", str(out))
    tests = {t["nodeid"].split("::")[1]: t for t in json.loads(out.read_text())["tests"]}
    assert tests["test_fuzz"]["grade"]["grade"] == "fuzzed"
    assert "integers(min_value=1, max_value=3)" in tests["test_fuzz"]["grade"]["detail"]
    assert tests["test_exact"]["grade"]["grade"] == "exact"
    assert tests["test_reads_result_undeclared"]["outcome"] == "failed"
    assert "declares no scale" in tests["test_reads_result_undeclared"]["message"]
    assert tests["test_reads_result_declared"]["grade"]["grade"] == "experiment-reduced"
    assert tests["test_exact_needs_digits"]["outcome"] == "failed"
    result.assert_outcomes(passed=3, failed=2)


@pytest.mark.integration
def test_a_run_whose_grades_differ_from_the_recorded_ones_fails(tmp_path):
    """The real plugin on a real check: tamper the recorded grade of its claim, expect failure."""
    recorded = grades.load_stored()
    cid = "mi_collapse.eq_14"
    assert cid in recorded, "pick a claim whose checks are fast"
    checks = catalogue.load()[cid].checks
    tampered = tmp_path / "grades.json"
    grades.write_stored({**recorded, cid: {"grade": "certified", "detail": "tampered"}}, tampered)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *checks]
    # the honest run in one process, the tampered one with the default options' pytest-xdist workers
    # (the controller learns the collection from the workers and holds the grades at the end)
    honest = subprocess.run(cmd + ["-n", "0"], cwd=ROOT, capture_output=True, text=True)
    assert honest.returncode == 0, honest.stdout[-2000:]
    proc = subprocess.run(cmd + ["--grades-file", str(tampered)], cwd=ROOT, capture_output=True, text=True)
    assert "bringing up nodes" in proc.stdout, proc.stdout[-2000:]   # it ran on xdist workers
    assert proc.returncode == 1
    assert f"{cid}: recorded certified, this run {recorded[cid]['grade']}" in proc.stdout


# ----------------------------------------------------------------- the README and the recorded grades


def test_recorded_grades_obey_the_verdict_rules_and_name_only_catalogue_claims():
    recorded, claims = grades.load_stored(), catalogue.load()
    assert set(recorded) <= set(claims)
    for cid, g in recorded.items():
        assert not grades.verdict_problems(claims[cid].verdict, g["grade"]), cid


def test_readme_grade_table_matches_the_recorded_grades():
    """The README's table of grades per paper is the recorded grades, counted
    (`collapse verify --write-grades` prints it)."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert grades.table(catalogue.load(), grades.load_stored()) in readme


@pytest.mark.parametrize("covers, verdict, grade", [
    ("statement", "verified", "certified"), ("counterexample", "refuted", "certified"),
    ("counterexample", "verified_with_correction", "certified"), ("instances", "verified", "exact"),
    ("instances", "verified_with_correction", "exact"), ("statement", "refuted", "exact")])
def test_a_certificate_certifies_only_what_the_verdict_asserts(covers, verdict, grade):
    assert grades.certificate_grade(covers, verdict, "c.json", "s")["grade"] == grade
