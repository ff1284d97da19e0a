"""Every number a claim quotes is asserted by one of its checks (issue 18): extraction, evidence.quote, the rule."""
import json

import pytest

from collapse import catalogue
from collapse.catalogue import Claim
from collapse.pytest_plugin import unasserted

GOOD = '''
[[claim]]
id = "mi_collapse.eq_6"
source = "000 eq. (6)"
statement = "At beta = 4 (eq. (16), §5.2, Fig. 3, Lemma 3.1) the gain is 0.458 and x_1 = 2 and sigma^2; 1e-3; 512 steps."
verdict = "verified"
checks = ["property_tests/test_x.py::test_y"]
'''


def test_numbers_are_the_measured_looking_ones_not_references_names_or_small_integers(tmp_path):
    (tmp_path / "mi_collapse.toml").write_text(GOOD)
    claim = catalogue.load(tmp_path)["mi_collapse.eq_6"]
    assert catalogue.quoted_numbers(claim) == ["0.458", "1e-3", "512"]


def test_unquoted_must_excuse_a_quoted_number_with_a_reason(tmp_path):
    (tmp_path / "mi_collapse.toml").write_text(GOOD + 'unquoted = {"0.458" = "the paper\'s value"}\n')
    assert catalogue.load(tmp_path)["mi_collapse.eq_6"].unquoted == {"0.458": "the paper's value"}
    (tmp_path / "mi_collapse.toml").write_text(GOOD + 'unquoted = {"0.459" = "typo"}\n')
    with pytest.raises(catalogue.CatalogueError, match="which the texts do not quote"):
        catalogue.load(tmp_path)
    (tmp_path / "mi_collapse.toml").write_text(GOOD + 'unquoted = {"0.458" = ""}\n')
    with pytest.raises(catalogue.CatalogueError, match="must be a table"):
        catalogue.load(tmp_path)


def test_unasserted_lists_what_no_passing_check_quotes():
    check = "property_tests/test_x.py::test_y"
    claim = Claim(id="mi_collapse.eq_6", source="s", statement="gain 0.458 at 512 steps, 1e-3", verdict="verified",
                  checks=(check,), unquoted={"1e-3": "an input"})
    test = {"nodeid": check, "claims": ["mi_collapse.eq_6"], "outcome": "passed", "quoted": ["512"]}
    report = {"tests": [test], "deselected": [], "collected": [check]}
    assert unasserted(report, {claim.id: claim}) == {"mi_collapse.eq_6": ["0.458"]}
    test["quoted"].append("0.458")
    assert unasserted(report, {claim.id: claim}) == {}
    open_claim = Claim(id="mi_collapse.eq_6", source="s", statement="0.458", verdict="open", reason="r")
    assert unasserted(report, {claim.id: open_claim}) == {}


QUOTING = '''
import pytest

@pytest.mark.claim("mi_collapse.eq_6")
def test_quotes_to_the_printed_digits(evidence):
    evidence.quote("0.458", 0.45849)
    evidence.quote("1e-3", 0.00104)
    evidence.quote("512", 512.4)

@pytest.mark.claim("mi_collapse.eq_6")
def test_a_wrong_number_fails(evidence):
    evidence.quote("0.458", 0.4586)

@pytest.mark.claim("mi_collapse.eq_6")
def test_a_stated_tolerance(evidence):
    evidence.quote("0.458", 0.46, rel=0.01)
'''


def test_quote_asserts_to_half_a_unit_in_the_last_printed_digit_and_records(pytester):
    pytester.makepyfile(test_quote_probe=QUOTING)
    out = pytester.path / "claims.json"
    result = pytester.runpytest_subprocess("-p", "collapse.pytest_plugin", "--claims-report", str(out))
    tests = {t["nodeid"].split("::")[1]: t for t in json.loads(out.read_text())["tests"]}
    assert tests["test_quotes_to_the_printed_digits"]["quoted"] == ["0.458", "1e-3", "512"]
    assert "the catalogue quotes 0.458, the check finds 0.4586" in tests["test_a_wrong_number_fails"]["message"]
    assert tests["test_a_stated_tolerance"]["outcome"] == "passed"
    result.assert_outcomes(passed=2, failed=1)
