"""Certified claim checks: every stored Arb certificate is re-derived from its inputs.

One test per stored certificate (collapse/certificates/<claim id>.json), marked with the
claim it certifies. It re-runs the certificate's builder on the stored exact inputs at the
stored precision (collapse.certify.core.check): every enclosure must come out the same and
contain the recomputation, every sign and inequality must be proved again.
"""
import json
from pathlib import Path

import pytest

from collapse import certify
from collapse.certify import core

CERTIFICATES = certify.stored()


def _param(path: Path):
    claim = certify.claim_of(path)
    return pytest.param(path, marks=pytest.mark.claim(claim), id=claim)


@pytest.mark.parametrize("path", [_param(p) for p in CERTIFICATES])
def test_certificate(path, evidence):
    """Re-derive the stored certificate; it must reproduce every enclosure and fact."""
    certify.builders()
    problems = core.check(path)
    assert not problems, "\n".join(problems)
    data = json.loads(path.read_text())
    assert data["claim"] == path.stem
    evidence.certified(f"collapse/certificates/{path.name}", data["covers"], data["statement"])
    evidence("statement", data["statement"])
    evidence("enclosures, facts", f"{len(data['enclosures'])}, {len(data['facts'])}")
