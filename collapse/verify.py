"""``collapse verify``: run the claim checks with pytest and join them with the catalogue.

A claim's row is a *problem* (and the command exits non-zero) when any of its checks
failed, when its verdict is not ``open`` but no check of it passed in this run, when
the catalogue lists a check that pytest does not know, or when the verdict says more than
the grade of its evidence allows (:func:`collapse.grades.verdict_problems`). A claim whose
checks all need an optional extra that is not installed is *skipped*, not a problem.

The checks are the package ``property_tests``, run from wherever it is installed (the
checkout in an editable install, site-packages from a wheel) with the plugin
``collapse.pytest_plugin`` and no other configuration, so both behave the same.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import property_tests
from collapse import catalogue, grades
from collapse.pytest_plugin import unasserted
from deep import io

CHECKS = Path(property_tests.__file__).resolve().parent


@dataclass
class Row:
    id: str
    source: str
    verdict: str
    statement: str
    run: int = 0
    passed: int = 0
    failed: int = 0
    not_run: int = 0
    evidence: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    corrected_statement: str = ""
    counterexample: str = ""
    reason: str = ""
    grade: str = ""
    weakest: str = ""
    grade_detail: str = ""
    check_grades: list = field(default_factory=list)
    skipped: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


MAX_WORKERS = 4
"""``workers="auto"`` runs the checks in one process per core, at most this many (each process
collects every check first, a few seconds, so more workers than files with work gain nothing)."""


def _plugins(workers: int | str) -> list[str]:
    """The pytest plugins the checks need, and pytest-xdist's options for ``workers`` processes ("auto":
    one per core, at most MAX_WORKERS; 0: in the pytest process itself; a test file runs on one
    worker, so module fixtures run once). Installed plugins are not auto-loaded (see run_checks)."""
    plugins = ["-p", "collapse.pytest_plugin", "-p", "_hypothesis_pytestplugin"]
    if workers == "auto":
        return plugins + ["-p", "xdist.plugin", "-n", "auto", "--maxprocesses", str(MAX_WORKERS), "--dist", "loadfile"]
    if int(workers):
        return plugins + ["-p", "xdist.plugin", "-n", str(int(workers)), "--dist", "loadfile"]
    return plugins


def run_checks(markexpr: str, keyword: str | None, paper: str | None, report: Path,
               extra: list[str], workers: int | str = "auto") -> int:
    """Run the marked checks under pytest in a subprocess; return pytest's exit status.

    Only the plugins the checks need are loaded (PYTEST_DISABLE_PLUGIN_AUTOLOAD): another installed
    plugin cannot change a verdict, and pytest does not rewrite the asserts of every module of each
    installed plugin's package at start-up (seconds per process where bytecode is not cached)."""
    with tempfile.TemporaryDirectory() as tmp:
        ini = Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\n")  # no project configuration: the plugin carries what the checks need
        cmd = [sys.executable, "-m", "pytest", str(CHECKS), "-c", str(ini), "--rootdir", str(CHECKS.parent),
               *_plugins(workers), "--strict-markers", "--require-quotes", "-m", markexpr, "-q",
               "-p", "no:cacheprovider", "--claims-report", str(report), *extra]
        if keyword:
            cmd += ["-k", keyword]
        if paper:
            cmd += ["--claims-paper", paper]
        return subprocess.call(cmd, cwd=CHECKS.parent, env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})


def _matches(nodeid: str, check: str) -> bool:
    return nodeid == check or nodeid.startswith(check + "[")


def build_rows(claims: dict[str, catalogue.Claim], report: dict) -> list[Row]:
    """Join the catalogue with a claims report from the pytest plugin."""
    tests = report["tests"]
    deselected = report.get("deselected", [])
    needs_extra = report.get("needs_extra", {})
    known = [t["nodeid"] for t in tests] + [d["nodeid"] for d in deselected]
    rows = []
    for claim in claims.values():
        row = Row(claim.id, claim.source, claim.verdict, claim.statement,
                  corrected_statement=claim.corrected_statement,
                  counterexample=claim.counterexample, reason=claim.reason)
        for test in tests:
            if claim.id not in test["claims"]:
                continue
            if test["outcome"] == "skipped":
                row.not_run += 1
                continue
            row.run += 1
            if test["outcome"] == "passed":
                row.passed += 1
            else:
                row.failed += 1
                row.problems.append(f"check failed: {test['nodeid']}: {test.get('message', '')}")
            row.evidence.update(test["evidence"])
            if test["outcome"] == "passed" and "grade" in test:
                row.check_grades.append({"check": test["nodeid"], **test["grade"]})
        row.not_run += sum(claim.id in d["claims"] for d in deselected)
        without_extra = [needs_extra[c.split("::")[0]] for c in claim.checks if c.split("::")[0] in needs_extra]
        for check in claim.checks:
            if check.split("::")[0] in needs_extra:
                row.not_run += 1
            elif not any(_matches(nodeid, check) for nodeid in known):
                row.problems.append(f"listed check not found or not marked with this claim: {check}")
            elif not any(_matches(t["nodeid"], check) and claim.id in t["claims"]
                         for t in tests + deselected):
                row.problems.append(f"listed check does not carry the marker claim({claim.id!r}): {check}")
        if without_extra and row.run == 0:
            row.skipped = without_extra[0]
        elif claim.verdict != "open" and row.passed == 0:
            row.problems.append(f"verdict {claim.verdict!r} is not backed by a passing check in this run")
        best = grades.claim_grade(row.check_grades)
        row.grade, row.grade_detail = best.get("grade", ""), best.get("detail", "")
        row.weakest = grades.weakest(row.check_grades)
        row.problems += grades.verdict_problems(claim.verdict, row.grade)
        rows.append(row)
    return rows


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def evidence_text(row: Row, limit: int = 3) -> str:
    items = list(row.evidence.items())[:limit]
    return "; ".join(f"{k}={_fmt(v)}" for k, v in items)


def grade_summary(rows: list[Row]) -> list[str]:
    """One line per paper: how many of its claims rest on each grade of evidence."""
    lines = []
    for paper in sorted({r.id.split(".")[0] for r in rows}):
        mine = [r for r in rows if r.id.startswith(paper + ".")]
        counts = {g: sum(r.grade == g for r in mine) for g in grades.GRADES}
        skipped = sum(not r.grade and bool(r.skipped) for r in mine)
        none = sum(not r.grade and not r.skipped for r in mine)
        parts = ([f"{n} {g}" for g, n in counts.items() if n] + ([f"{none} without a passing check"] if none else [])
                 + ([f"{skipped} skipped (optional extra missing)"] if skipped else []))
        lines.append(f"  {paper}: " + ", ".join(parts))
    return lines


def to_text(rows: list[Row]) -> str:
    header = ("claim", "source", "verdict", "grade", "weakest", "run", "passed", "key evidence")
    table = [header] + [(r.id, r.source[:38], r.verdict + ("" if r.ok else "  <-- PROBLEM"),
                         r.grade or ("skipped" if r.skipped else "-"), r.weakest or "-",
                         str(r.run), str(r.passed), evidence_text(r)[:90]) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line[:-1], widths)) + "  " + line[-1]
             for line in table]
    lines.insert(1, "-" * min(160, max(len(l) for l in lines)))
    problems = [f"  {r.id}: {p}" for r in rows for p in r.problems]
    counts = {v: sum(r.verdict == v for r in rows) for v in catalogue.VERDICTS}
    lines.append("")
    skipped = [r for r in rows if r.skipped]
    lines.append(f"{len(rows)} claims: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
                 + f"; {sum(not r.ok for r in rows)} with problems"
                 + (f"; {len(skipped)} not checked in this install ({skipped[0].skipped})" if skipped else ""))
    lines.append("Evidence grades (strongest passing check; 'weakest' is the weakest one, which a claim "
                 "whose checks cover different parts rests on too; " + " > ".join(grades.GRADES) + "):")
    lines.extend(grade_summary(rows))
    if problems:
        lines.append("Problems:")
        lines.extend(problems)
    return "\n".join(lines)


def to_markdown(rows: list[Row]) -> str:
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    lines = ["| claim | source | verdict | grade | weakest | checks run | passed | key evidence |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        verdict = r.verdict if r.ok else f"{r.verdict} (**problem**)"
        lines.append(f"| `{r.id}` | {esc(r.source)} | {verdict} | {r.grade or '-'} | {r.weakest or '-'} | "
                     f"{r.run} | {r.passed} | "
                     f"{esc(evidence_text(r, limit=6))} |")
    lines += ["", "Evidence grades per paper:", ""] + [f"- {l.strip()}" for l in grade_summary(rows)]
    details = [r for r in rows if r.corrected_statement or r.reason or r.problems]
    if details:
        lines += ["", "## Corrections, counterexamples, open reasons and problems", ""]
        for r in details:
            lines.append(f"- **`{r.id}`** ({r.verdict}; {r.grade or 'no passing check'})")
            for label, text in (("corrected", r.corrected_statement), ("counterexample", r.counterexample),
                                ("reason", r.reason), ("grade", r.grade_detail)):
                if text:
                    lines.append(f"  - {label}: {esc(text)}")
            lines.extend(f"  - problem: {esc(p)}" for p in r.problems)
    return "\n".join(lines) + "\n"


_TEX = str.maketrans({"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                      "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}"})


def _tex(text: str) -> str:
    """Plain text for a LaTeX table cell."""
    return text.translate(_TEX)


def to_latex(rows: list[Row]) -> str:
    """A standalone LaTeX table of the verdicts and grades (longtable)."""
    lines = [r"% generated by collapse verify --latex; do not edit",
             r"\documentclass{article}", r"\usepackage[margin=2cm]{geometry}", r"\usepackage{longtable}",
             r"\begin{document}", r"\small",
             r"\begin{longtable}{p{4.6cm}p{3.2cm}p{2.8cm}p{2.2cm}p{2.2cm}r}",
             r"claim & source & verdict & grade & weakest & passed \\ \hline \endhead"]
    for r in rows:
        verdict = r.verdict.replace("_", " ") + ("" if r.ok else " (problem)")
        lines.append(f"{_tex(r.id)} & {_tex(r.source)} & {_tex(verdict)} & {_tex(r.grade or '-')} & "
                     f"{_tex(r.weakest or '-')} & {r.passed}/{r.run} \\\\")
    lines.append(r"\end{longtable}")
    lines.append(r"\begin{itemize}")
    lines.extend(rf"\item {_tex(l.strip())}" for l in grade_summary(rows))
    lines += [r"\end{itemize}", r"\end{document}"]
    return "\n".join(lines) + "\n"


def to_json(rows: list[Row]) -> str:
    return json.dumps([{**asdict(r), "ok": r.ok} for r in rows], indent=1)


def verify(*, paper: str | None = None, include_slow: bool = False, keyword: str | None = None,
           json_path: Path | None = None, markdown_path: Path | None = None,
           latex_path: Path | None = None, write_grades: bool = False,
           pytest_args: list[str] | None = None, workers: int | str = "auto", out=sys.stdout) -> int:
    """Run the checks (in ``workers`` processes, see :func:`_parallel`), print the verdict table,
    write the requested files; return the exit code."""
    claims = catalogue.load()
    if paper is not None:
        if paper not in catalogue.PAPERS:
            raise SystemExit(f"--paper must be one of {sorted(catalogue.PAPERS)}, got {paper!r}")
        claims = {k: c for k, c in claims.items() if c.paper == paper}
    markexpr = "claim and not gpu" if include_slow else "claim and not slow and not gpu"
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "claims.json"
        extra = [*(pytest_args or []), *(["--write-grades"] if write_grades else [])]
        status = run_checks(markexpr, keyword, paper, report_path, extra, workers)
        if not report_path.exists():
            print(f"pytest exited with status {status} before writing a report", file=out)
            return status or 2
        report = json.loads(report_path.read_text())
    if keyword:  # a keyword selects checks, so only the claims it touched are judged
        touched = {c for t in report["tests"] for c in t["claims"]}
        if not touched:
            from collapse.cli import UserError

            raise UserError(f"-k {keyword!r} selects no claim check (pytest exit status {status})")
        claims = {k: c for k, c in claims.items() if k in touched}
    rows = build_rows(claims, report)
    missing = unasserted(report, claims)
    for row in rows:
        if row.id in missing:
            row.problems.append("quotes numbers no check asserts (evidence.quote): " + ", ".join(missing[row.id]))
    print(to_text(rows), file=out)
    if json_path:
        io.write_text(json_path, to_json(rows))
    if markdown_path:
        io.write_text(markdown_path, to_markdown(rows))
    if latex_path:
        io.write_text(latex_path, to_latex(rows))
    if write_grades:
        print("\nRecorded grades per paper (the README's table):\n" +
              grades.table(catalogue.load(), grades.load_stored()), file=out)
    return 0 if status == 0 and all(r.ok for r in rows) else 1
