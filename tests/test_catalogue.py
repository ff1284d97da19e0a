"""The catalogue's schema: what a malformed entry must be refused for."""
import pytest

from collapse import catalogue

GOOD = '''
[[claim]]
id = "mi_collapse.eq_6"
source = "000 eq. (6)"
statement = "closed form"
verdict = "verified"
checks = ["property_tests/test_x.py::test_y"]
'''


def write(tmp_path, text, name="mi_collapse"):
    (tmp_path / f"{name}.toml").write_text(text)
    return tmp_path


def test_real_catalogue_loads_and_names_existing_papers():
    claims = catalogue.load()
    assert all(c.paper in catalogue.PAPERS for c in claims.values())
    assert {c.paper for c in claims.values()} >= {"mi_collapse"}


def test_good_entry_loads(tmp_path):
    claims = catalogue.load(write(tmp_path, GOOD))
    assert claims["mi_collapse.eq_6"].checks == ("property_tests/test_x.py::test_y",)


@pytest.mark.parametrize("change, message", [
    (('verdict = "verified"', 'verdict = "proved"'), "is not one of"),
    (('verdict = "verified"', 'verdict = "refuted"'), "needs 'counterexample'"),
    (('verdict = "verified"', 'verdict = "verified_with_correction"'), "needs 'corrected_statement'"),
    (('verdict = "verified"', 'verdict = "open"'), "needs 'reason'"),
    (('checks = ["property_tests/test_x.py::test_y"]', 'checks = []'), "at least one check"),
    (('checks = ["property_tests/test_x.py::test_y"]', 'checks = ["test_y"]'), "not a pytest node id"),
    (('id = "mi_collapse.eq_6"', 'id = "paper000.eq_6"'), "must be <paper>.<label>"),
    (('id = "mi_collapse.eq_6"', 'id = "wang_ziyin.eq_6"'), "belongs in wang_ziyin.toml"),
    (('statement = "closed form"', 'statment = "closed form"'), "unknown field"),
])
def test_malformed_entries_are_refused(tmp_path, change, message):
    with pytest.raises(catalogue.CatalogueError, match=message):
        catalogue.load(write(tmp_path, GOOD.replace(*change)))


def test_duplicate_ids_are_refused(tmp_path):
    with pytest.raises(catalogue.CatalogueError, match="duplicate"):
        catalogue.load(write(tmp_path, GOOD + GOOD))


def test_unknown_file_name_is_refused(tmp_path):
    with pytest.raises(catalogue.CatalogueError, match="file name"):
        catalogue.load(write(tmp_path, GOOD, name="paper000"))


def test_readme_verdict_counts_match_the_catalogue():
    """The counts the README quotes (Quickstart total, one line per paper) are the catalogue's."""
    import re
    from collections import Counter
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    claims = catalogue.load().values()

    def quoted(text):
        n = int(re.match(r"(\d+) claims", text).group(1))
        return n, {v: int(k) for k, v in re.findall(r"(\d+) (verified_with_correction|"
                                                       r"verified|refuted|not_reproduced|open)\b", text)}

    def actual(subset):
        counts = Counter(c.verdict for c in subset)
        return len(subset), {v: counts[v] for v in catalogue.VERDICTS if counts[v]}

    total = re.search(r"today (\d+ claims:[^.]*)", readme.replace("\n", " ")).group(1)
    n, by = quoted(total.replace("verified with a correction", "verified_with_correction")
                   .replace("not reproduced", "not_reproduced"))
    assert (n, by) == actual(list(claims))
    per_paper = re.findall(r"collapse verify --paper (\w+) +# (\d+ claims:[^(]*)", readme)
    assert {p for p, _ in per_paper} == set(catalogue.PAPERS)
    for paper, text in per_paper:
        assert quoted(text) == actual([c for c in claims if c.paper == paper]), paper
