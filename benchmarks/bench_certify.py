"""Speed of the Arb certificates: re-checking each paper's stored certificates against computing them.

    python -m pytest benchmarks/bench_certify.py --benchmark-only -s

Computing a paper's certificates runs every builder of that paper at its default inputs
(subdivision, root isolation, rigorous integrals); re-checking loads each stored file and
re-derives it from its stored inputs at its stored precision, then compares (what
``collapse certify --check`` does). The stored inputs and precision are the defaults
(asserted), so both sides run the same builders on the same inputs once per certificate;
computing also writes the JSON data (decimal enclosures, and the package versions, looked
up per certificate, about 2 ms each), re-checking reads the file and compares. A ratio near
1 says that a check costs a full recomputation: it trusts no stored number. Measured side by
side in one process, in interleaved rounds (benchmarks/interleave.py), min and median over
rounds in wall and CPU time (``extra_info``, printed with ``-s``); pytest-benchmark then
times the re-check alone.
"""
import pytest

from benchmarks.interleave import abab, report
from collapse import catalogue, certify
from collapse.certify import core

certify.builders()


def _same_budget(files):
    for path in files:
        data, spec = core.load(path), core.REGISTRY[certify.claim_of(path)]
        assert (data["inputs"], data["precision_bits"]) == (spec.inputs, spec.prec), f"{path}: not the defaults"


@pytest.mark.parametrize("paper", sorted(catalogue.PAPERS))
def test_recheck_against_compute(benchmark, paper):
    files = [f for f in certify.stored() if certify.claim_of(f).startswith(paper + ".")]
    assert files, f"no stored certificates for {paper}"
    _same_budget(files)
    recheck = lambda: [p for f in files for p in core.check(f)]
    compute = lambda: [core.compute(certify.claim_of(f)) for f in files]
    number = {"mi_collapse": 10, "wang_ziyin": 3}.get(paper, 1)      # ~0.3 s per round or more
    (problems, _), walls, cpus = abab(recheck, compute, number_a=number, number_b=number)
    benchmark.extra_info.update(report(f"{paper}, {len(files)} certificates: re-check / compute", walls, cpus),
                                certificates=len(files))
    benchmark.pedantic(recheck, rounds=1, iterations=1)
    assert not problems
