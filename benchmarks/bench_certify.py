"""Speed of the Arb certificates: computing each paper's certificates, and re-checking all stored ones.

    python -m pytest benchmarks/bench_certify.py --benchmark-only -s

Computing a paper's certificates runs every builder of that paper at its default inputs
(subdivision, root isolation, rigorous integrals); re-checking re-derives every stored
certificate from its inputs and compares (what ``collapse certify --check`` does). Needs
python-flint (the ``certify`` extra).
"""
import pytest

from collapse import catalogue, certify

pytest.importorskip("flint")

from collapse.certify import core  # noqa: E402

certify.builders()


@pytest.mark.parametrize("paper", sorted(catalogue.PAPERS))
def test_certify_paper(benchmark, paper):
    claims = [c for c in sorted(core.REGISTRY) if c.startswith(paper + ".")]
    out = benchmark.pedantic(lambda: [core.compute(c) for c in claims], rounds=3, iterations=1)
    benchmark.extra_info["certificates"] = len(out)


def test_recheck_all_stored(benchmark):
    files = certify.stored()
    problems = benchmark.pedantic(lambda: [p for f in files for p in core.check(f)], rounds=3, iterations=1)
    assert not problems
    benchmark.extra_info["certificates"] = len(files)
