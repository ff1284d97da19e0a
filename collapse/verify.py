"""``collapse verify``: run the claim checks with pytest and join them with the catalogue.

A claim's row is a *problem* (and the command exits non-zero) when any of its checks
failed, when its verdict is not ``open`` but no check of it passed in this run, or when
the catalogue lists a check that pytest does not know.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from collapse import ROOT, catalogue

TEST_DIRS = ("property_tests", "tests")


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

    @property
    def ok(self) -> bool:
        return not self.problems


def run_checks(markexpr: str, keyword: str | None, paper: str | None, report: Path,
               extra: list[str]) -> int:
    """Run the marked tests under pytest in a subprocess; return pytest's exit status."""
    missing = [d for d in TEST_DIRS if not (ROOT / d).is_dir()]
    if missing:
        raise SystemExit(f"collapse verify needs the source checkout (pip install -e .); "
                         f"{ROOT} has no {', '.join(missing)}")
    cmd = [sys.executable, "-m", "pytest", *TEST_DIRS, "-m", markexpr, "-q",
           "-p", "no:cacheprovider", "--claims-report", str(report), *extra]
    if keyword:
        cmd += ["-k", keyword]
    if paper:
        cmd += ["--claims-paper", paper]
    return subprocess.call(cmd, cwd=ROOT)


def _matches(nodeid: str, check: str) -> bool:
    return nodeid == check or nodeid.startswith(check + "[")


def build_rows(claims: dict[str, catalogue.Claim], report: dict) -> list[Row]:
    """Join the catalogue with a claims report from the pytest plugin."""
    tests = report["tests"]
    deselected = report.get("deselected", [])
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
        row.not_run += sum(claim.id in d["claims"] for d in deselected)
        for check in claim.checks:
            if not any(_matches(nodeid, check) for nodeid in known):
                row.problems.append(f"listed check not found or not marked with this claim: {check}")
            elif not any(_matches(t["nodeid"], check) and claim.id in t["claims"]
                         for t in tests + deselected):
                row.problems.append(f"listed check does not carry the marker claim({claim.id!r}): {check}")
        if claim.verdict != "open" and row.passed == 0:
            row.problems.append(f"verdict {claim.verdict!r} is not backed by a passing check in this run")
        rows.append(row)
    return rows


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def evidence_text(row: Row, limit: int = 3) -> str:
    items = list(row.evidence.items())[:limit]
    return "; ".join(f"{k}={_fmt(v)}" for k, v in items)


def to_text(rows: list[Row]) -> str:
    header = ("claim", "source", "verdict", "run", "passed", "key evidence")
    table = [header] + [(r.id, r.source[:38], r.verdict + ("" if r.ok else "  <-- PROBLEM"),
                         str(r.run), str(r.passed), evidence_text(r)[:90]) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line[:-1], widths)) + "  " + line[-1]
             for line in table]
    lines.insert(1, "-" * min(160, max(len(l) for l in lines)))
    problems = [f"  {r.id}: {p}" for r in rows for p in r.problems]
    counts = {v: sum(r.verdict == v for r in rows) for v in catalogue.VERDICTS}
    lines.append("")
    lines.append(f"{len(rows)} claims: " + ", ".join(f"{n} {v}" for v, n in counts.items())
                 + f"; {sum(not r.ok for r in rows)} with problems")
    if problems:
        lines.append("Problems:")
        lines.extend(problems)
    return "\n".join(lines)


def to_markdown(rows: list[Row]) -> str:
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    lines = ["| claim | source | verdict | checks run | passed | key evidence |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        verdict = r.verdict if r.ok else f"{r.verdict} (**problem**)"
        lines.append(f"| `{r.id}` | {esc(r.source)} | {verdict} | {r.run} | {r.passed} | "
                     f"{esc(evidence_text(r, limit=6))} |")
    details = [r for r in rows if r.corrected_statement or r.reason or r.problems]
    if details:
        lines += ["", "## Corrections, counterexamples, open reasons and problems", ""]
        for r in details:
            lines.append(f"- **`{r.id}`** ({r.verdict})")
            for label, text in (("corrected", r.corrected_statement), ("counterexample", r.counterexample),
                                ("open because", r.reason)):
                if text:
                    lines.append(f"  - {label}: {esc(text)}")
            lines.extend(f"  - problem: {esc(p)}" for p in r.problems)
    return "\n".join(lines) + "\n"


def to_json(rows: list[Row]) -> str:
    return json.dumps([{**asdict(r), "ok": r.ok} for r in rows], indent=1)


def verify(*, paper: str | None = None, include_slow: bool = False, keyword: str | None = None,
           json_path: Path | None = None, markdown_path: Path | None = None,
           pytest_args: list[str] | None = None, out=sys.stdout) -> int:
    """Run the checks, print the verdict table, write the requested files; return the exit code."""
    claims = catalogue.load()
    if paper is not None:
        if paper not in catalogue.PAPERS:
            raise SystemExit(f"--paper must be one of {sorted(catalogue.PAPERS)}, got {paper!r}")
        claims = {k: c for k, c in claims.items() if c.paper == paper}
    markexpr = "claim and not gpu" if include_slow else "claim and not slow and not gpu"
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "claims.json"
        status = run_checks(markexpr, keyword, paper, report_path, pytest_args or [])
        if not report_path.exists():
            print(f"pytest exited with status {status} before writing a report", file=out)
            return status or 2
        report = json.loads(report_path.read_text())
    if keyword:  # a keyword selects checks, so only the claims it touched are judged
        touched = {c for t in report["tests"] for c in t["claims"]}
        claims = {k: c for k, c in claims.items() if k in touched}
    rows = build_rows(claims, report)
    print(to_text(rows), file=out)
    if json_path:
        Path(json_path).write_text(to_json(rows))
    if markdown_path:
        Path(markdown_path).write_text(to_markdown(rows))
    return 0 if status == 0 and all(r.ok for r in rows) else 1
