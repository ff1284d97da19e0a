"""The claim catalogue: one TOML file per paper in ``collapse/claims/``.

Each ``[[claim]]`` entry has an ``id`` of the form ``<paper>.<label>``, the ``source``
(equations and sections of the paper), a one-line ``statement`` (LaTeX allowed), a
``verdict``, and the ``checks`` (pytest node ids ``path::test``) that back it.
``verified_with_correction`` needs ``corrected_statement`` and ``counterexample``;
``refuted`` needs ``counterexample``; ``open`` needs ``reason``; ``not_reproduced`` (a
prediction that a run far below the paper's scale did not reproduce: that fails to confirm
it, it does not refute it) needs ``reason`` with the measured numbers and the scale.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

CLAIMS_DIR = Path(__file__).with_name("claims")

PAPERS = {
    "mi_collapse": "000_6e757ef8f718962b.txt",
    "lambda_vae": "002_9357fcd1557682b2.txt",
    "optimal_beta": "003_a1eafab620a812b7.txt",
    "wang_ziyin": "004_1e5dba7473d2cfc0.txt",
}
VERDICTS = ("verified", "verified_with_correction", "refuted", "not_reproduced", "open")
_ID = re.compile(r"^(?P<paper>[a-z_]+)\.(?P<label>[a-z0-9_]+)$")
_FIELDS = {"id", "source", "statement", "verdict", "corrected_statement", "counterexample",
           "reason", "checks", "notes", "unquoted"}


class CatalogueError(ValueError):
    """A catalogue file breaks the schema above."""


@dataclass(frozen=True)
class Claim:
    id: str
    source: str
    statement: str
    verdict: str
    checks: tuple[str, ...] = ()
    corrected_statement: str = ""
    counterexample: str = ""
    reason: str = ""
    notes: str = ""
    unquoted: dict = field(default_factory=dict)
    paper: str = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "paper", self.id.split(".", 1)[0])


def _validate(entry: dict, where: str) -> Claim:
    unknown = set(entry) - _FIELDS
    if unknown:
        raise CatalogueError(f"{where}: unknown field(s) {sorted(unknown)}")
    for key in ("id", "source", "statement", "verdict"):
        if not str(entry.get(key, "")).strip():
            raise CatalogueError(f"{where}: field {key!r} is required")
    cid = entry["id"]
    match = _ID.match(cid)
    if not match or match["paper"] not in PAPERS:
        raise CatalogueError(f"{where}: id {cid!r} must be <paper>.<label> with paper in {sorted(PAPERS)}")
    verdict = entry["verdict"]
    if verdict not in VERDICTS:
        raise CatalogueError(f"{where}: {cid}: verdict {verdict!r} is not one of {VERDICTS}")
    needs = {"verified_with_correction": ("corrected_statement", "counterexample"),
             "refuted": ("counterexample",), "open": ("reason",),
             "not_reproduced": ("reason",)}.get(verdict, ())
    for key in needs:
        if not str(entry.get(key, "")).strip():
            raise CatalogueError(f"{where}: {cid}: verdict {verdict!r} needs {key!r}")
    unquoted = entry.get("unquoted", {})
    if not isinstance(unquoted, dict) or not all(isinstance(v, str) and v.strip() for v in unquoted.values()):
        raise CatalogueError(f"{where}: {cid}: unquoted must be a table number = \"reason\"")
    stray = set(unquoted) - set(quoted_numbers(entry))
    if stray:
        raise CatalogueError(f"{where}: {cid}: unquoted lists {sorted(stray)}, which the texts do not quote")
    checks = tuple(entry.get("checks", ()))
    if verdict != "open" and not checks:
        raise CatalogueError(f"{where}: {cid}: verdict {verdict!r} needs at least one check")
    for check in checks:
        if "::" not in check:
            raise CatalogueError(f"{where}: {cid}: check {check!r} is not a pytest node id path::test")
    return Claim(**{**entry, "checks": checks})


# A number the texts state: not part of a name (x_1, ζ₁), an exponent or a reference (eq. (16), §5.2,
# Fig. 3, Table 1, Lemma 3.1, (23a)). Those that need a check are the measured-looking ones: with a
# decimal point, in scientific notation, or with three or more digits.
_NUMBER = re.compile(r"(?<![\w.^_\d/])(\d+(?:\.\d+)?(?:e[-+]?\d+)?)(?![\w\d/]|\.\d)")
_REFERENCE = re.compile(r"(?:eqs?\.|Eqs?\.|§|Figs?\.|Table|App\.|Appendix|Lemma|Prop\.|Proposition|Theorem|Thm\.|"
                        r"Cor\.|Corollary|Section|Algorithm|Case|issue|paper|\()\s*\(?$")
QUOTED_TEXTS = ("statement", "corrected_statement", "counterexample")


def quoted_numbers(entry) -> list[str]:
    """The numbers a claim's statement, corrected statement and counterexample quote, each of which
    a check must assert (``evidence.quote``) or the entry's ``unquoted`` table must excuse."""
    out = []
    for name in QUOTED_TEXTS:
        text = entry.get(name, "") if isinstance(entry, dict) else getattr(entry, name)
        for m in _NUMBER.finditer(text):
            number = m.group(1)
            if _REFERENCE.search(text[max(0, m.start() - 14):m.start()]):
                continue
            if "." in number or "e" in number or len(number) >= 3:
                out.append(number)
    return list(dict.fromkeys(out))


def load(directory: Path = CLAIMS_DIR) -> dict[str, Claim]:
    """Read and validate every ``<paper>.toml`` in ``directory``; ids are unique."""
    claims: dict[str, Claim] = {}
    for path in sorted(directory.glob("*.toml")):
        if path.stem not in PAPERS:
            raise CatalogueError(f"{path.name}: file name must be one of {sorted(PAPERS)}")
        data = tomllib.loads(path.read_text())
        for i, entry in enumerate(data.get("claim", [])):
            claim = _validate(entry, f"{path.name}[claim {i}]")
            if claim.paper != path.stem:
                raise CatalogueError(f"{path.name}: claim {claim.id} belongs in {claim.paper}.toml")
            if claim.id in claims:
                raise CatalogueError(f"{path.name}: duplicate claim id {claim.id}")
            claims[claim.id] = claim
    return claims
