"""Evidence grades: how strong the evidence behind a verdict is, derived from the checks that ran.

A check's grade is never typed by hand. While a claim check runs it records what it did
(through the ``evidence`` fixture of :mod:`collapse.pytest_plugin`), and the plugin adds
what it sees itself:

``certified``           the check re-derived a stored ball-arithmetic certificate
                        (``evidence.certified(path)``; re-checkable with ``collapse certify --check``)
``exact``               a symbolic identity or exact rational arithmetic (``evidence.exact(method)``),
                        or agreement to a stated number of digits (at least 20) with an
                        independent arbitrary-precision route (``evidence.exact(method, digits=d)``)
``numerical``           floating-point checks at stated inputs (the default)
``fuzzed``              a Hypothesis property over a stated domain (seen by the plugin)
``experiment``          trained networks at the paper's scale (``evidence.experiment(fraction >= 1)``)
``experiment-reduced``  trained networks at a stated fraction of the paper's compute

A claim's grade is the strongest grade among its checks that passed in the run. Two rules
tie grades to verdicts: a reduced-scale experiment alone never refutes (``refuted`` needs a
grade above ``experiment-reduced``), and ``not_reproduced`` is the verdict for exactly that
case.
"""
from __future__ import annotations

import json
from pathlib import Path

from deep import io

GRADES = ("certified", "exact", "numerical", "fuzzed", "experiment", "experiment-reduced")
"""From strongest to weakest."""

MIN_EXACT_DIGITS = 20
"""Agreement below this many digits is within reach of float64 and is ``numerical``."""


def rank(grade: str) -> int:
    """Position of ``grade`` on the scale (0 = strongest)."""
    if grade not in GRADES:
        raise ValueError(f"grade must be one of {GRADES}, got {grade!r}")
    return GRADES.index(grade)


def check_grade(declared: list[dict], fuzz_domain: str | None) -> dict:
    """The grade of one check run from what it declared and whether it is a Hypothesis property.

    ``declared`` holds ``{"grade": ..., "detail": ...}`` entries recorded through the
    evidence fixture; the strongest wins. Without a declaration a Hypothesis property is
    ``fuzzed`` over ``fuzz_domain`` and any other check is ``numerical``.
    """
    if declared:
        return min(declared, key=lambda d: rank(d["grade"]))
    if fuzz_domain is not None:
        return {"grade": "fuzzed", "detail": fuzz_domain}
    return {"grade": "numerical", "detail": "floating-point checks at the inputs in the test"}


def claim_grade(check_grades: list[dict]) -> dict:
    """The strongest grade among a claim's passing checks; an empty dict when none passed."""
    if not check_grades:
        return {}
    return min(check_grades, key=lambda d: rank(d["grade"]))


def weakest(check_grades: list[dict]) -> str:
    """The weakest grade among a claim's passing checks ('' when none passed): where its checks
    cover different parts of a claim, that part rests on no more than this."""
    return max((d["grade"] for d in check_grades), key=rank, default="")


def verdict_problems(verdict: str, grade: str) -> list[str]:
    """The rules that tie a verdict to the grade of its evidence."""
    if verdict == "refuted" and grade == "experiment-reduced":
        return ["verdict 'refuted' rests on a reduced-scale experiment alone; "
                "such a run can fail to reproduce a claim, not refute it (use 'not_reproduced')"]
    if verdict == "not_reproduced" and grade and grade != "experiment-reduced":
        return [f"verdict 'not_reproduced' is for claims whose evidence is a reduced-scale experiment; "
                f"this claim's evidence is {grade!r} (verified, verified_with_correction or refuted)"]
    return []


def certificate_grade(covers: str, verdict: str, certificate: str, statement: str) -> dict:
    """The grade a ball-arithmetic certificate gives a claim with ``verdict``.

    ``certified`` when the certificate proves what the verdict asserts: the claim as stated
    (``covers == "statement"``; an unbounded domain cut to a stated box) for a verified one,
    the failure of the printed statement (``"counterexample"``) for a refuted or corrected
    one. A certificate of a general statement at stated points only (``"instances"``) is a
    rigorous proof at those inputs, not of the claim: ``exact``.
    """
    where = f"certificate {certificate}: {statement}"
    if covers == "statement" and verdict == "verified" or covers == "counterexample" and verdict in (
            "refuted", "verified_with_correction"):
        part = "" if covers == "statement" else ("; the refutation is certified, the corrected statement rests "
                                                 "on the other checks" if verdict == "verified_with_correction" else "")
        return {"grade": "certified", "detail": where + part}
    return {"grade": "exact", "detail": f"ball arithmetic at stated inputs only ({covers}); {where}"}


def experiment_detail(fraction: float | None, converged: bool | None, what: str) -> dict:
    """The grade of a check on networks trained at ``fraction`` of the paper's training.

    ``fraction`` is ``None`` when the paper states no training length; such runs are at the
    paper's scale only if they were shown to converge (the paper trains "to convergence").
    """
    if fraction is not None and not fraction > 0:
        raise ValueError(f"fraction must be > 0 (the share of the paper's training) or None, got {fraction!r}")
    state = {True: "converged", False: "not converged", None: "convergence not measured"}[converged]
    full = fraction >= 1 if fraction is not None else converged is True
    share = ("paper states no training length" if fraction is None
             else f"{fraction:.3g} of the paper's training examples per run")
    return {"grade": "experiment" if full else "experiment-reduced", "detail": f"{what}; {share}; {state}",
            "fraction": fraction, "converged": converged}


# ----------------------------------------------------------------- the recorded grades

STORED = Path(__file__).resolve().parents[1] / "docs" / "grades.json"
"""Each claim's grade in the default run, written by ``pytest --write-grades`` (source checkout only)."""


def table(claims: dict, stored: dict[str, dict]) -> str:
    """The README's table of recorded grades per paper (Markdown): claims, then one column per grade."""
    columns = [*GRADES, "no passing check"]
    lines = ["| paper | claims | " + " | ".join(f"`{c}`" if c in GRADES else c for c in columns) + " |",
             "|---" * (len(columns) + 2) + "|"]
    for paper in sorted({c.paper for c in claims.values()}, key=["mi_collapse", "lambda_vae", "optimal_beta",
                                                                 "wang_ziyin"].index):
        mine = [cid for cid, c in claims.items() if c.paper == paper]
        counts = {c: 0 for c in columns}
        for cid in mine:
            counts[stored[cid]["grade"] if cid in stored else "no passing check"] += 1
        lines.append(f"| `{paper}` | {len(mine)} | " + " | ".join(str(counts[c]) if counts[c] else ""
                                                                   for c in columns) + " |")
    return "\n".join(lines)


def load_stored(path: Path = STORED) -> dict[str, dict]:
    return json.loads(path.read_text())["claims"] if path.exists() else {}


def write_stored(grades: dict[str, dict], path: Path = STORED) -> None:
    """Merge ``grades`` into the stored file (atomically); a claim mapped to None is dropped."""
    merged = {k: v for k, v in {**load_stored(path), **grades}.items() if v is not None}
    data = {"generated": "by `python -m pytest --write-grades` (or `collapse verify --write-grades`); "
                         "do not edit: a run whose grades differ from this file fails",
            "claims": {k: merged[k] for k in sorted(merged)}}
    io.write_json(path, data, indent=1)
