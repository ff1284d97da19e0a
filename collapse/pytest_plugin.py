"""pytest as a proof-checker: claim markers, an ``evidence`` fixture, evidence grades and a claims report.

A check is a test marked ``@pytest.mark.claim("paper.label", ...)``. The test records
its key numbers with ``evidence("max rel. error", 3e-14)`` and, where it is stronger than a
floating-point check, what kind of evidence it produced (``evidence.exact``,
``evidence.certified``, ``evidence.experiment``; see :mod:`collapse.grades`). With
``--claims-report PATH`` the plugin writes every marked test's outcome, evidence and
grade as JSON, which ``collapse verify`` joins with the catalogue.

The plugin also carries what every run of the checks needs, from a checkout or from an
installed wheel: the Hypothesis profiles (``ci``, the default: derandomised, moderate
example counts; ``thorough``: many more, with ``COLLAPSE_HYPOTHESIS_PROFILE=thorough``;
``mutation``: ``ci`` without shrinking, for benchmarks/mutation.py),
mpmath's precision restored after every test, BLAS on one thread in each pytest-xdist worker
(the workers already fill the cores), and the rule that test modules named
``test_deep_*`` are not collected without the ``deep`` extra (recorded, so that
``collapse verify`` reports their claims as skipped rather than failed).

Two guards keep grades honest: a claim check that reads a stored experiment result
(``results/``) or trains networks (marker ``deep``) fails unless it declares the scale of
the experiment, and at the end of a run every claim whose listed checks all ran is held
to the grade recorded in ``docs/grades.json`` (``--write-grades`` records them).
"""
from __future__ import annotations

import importlib.util
import math
import numbers
import os
import sys
from pathlib import Path

import mpmath
import pytest
from hypothesis import HealthCheck, Phase, settings
from threadpoolctl import threadpool_limits

from collapse import catalogue, grades
from deep import io
from deep import results as stored_results

MARKERS = {
    "claim(*ids)": "check backing the given catalogue claims",
    "slow": "takes minutes; excluded from the default run",
    "integration": "an end-to-end run of a pipeline or of processes (seconds each); excluded from the default run, "
                   "run by CI in its own step",
    "gpu": "needs CUDA; skipped without it",
    "deep": "trains neural networks",
}
RESULTS = stored_results.STORED
"""Stored experiment results; a claim check that reads one must declare the experiment's scale."""
EXTRAS = {"deep": ("torch", "sklearn", "h5py")}
"""The modules each optional extra installs; ``test_deep_*`` modules need the ``deep`` one."""

_HEALTH = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile("ci", derandomize=True, max_examples=20, deadline=None, print_blob=True,
                          suppress_health_check=_HEALTH)
settings.register_profile("thorough", max_examples=400, deadline=None, print_blob=True,
                          suppress_health_check=_HEALTH)
# benchmarks/mutation.py: the ci examples without shrinking, since a mutant only needs a failure
settings.register_profile("mutation", parent=settings.get_profile("ci"),
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.load_profile(os.environ.get("COLLAPSE_HYPOTHESIS_PROFILE", "ci"))


def missing(extra: str) -> list[str]:
    """The modules of optional ``extra`` that are not installed."""
    return [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]


@pytest.fixture(autouse=True)
def _restore_mpmath_precision():
    """mpmath's precision is global: restore it after every test."""
    dps = mpmath.mp.dps
    yield
    mpmath.mp.dps = dps


MUTATION = os.environ.get("COLLAPSE_HYPOTHESIS_PROFILE") == "mutation"


@pytest.fixture(autouse=MUTATION)
def _fresh_derivation_caches():
    """Under benchmarks/mutation.py every test starts with empty derivation caches: mutmut maps
    each test to the functions it runs, and a cached derivation runs only for the first test
    that asks for it, so the tests after it would never be tried on its mutants."""
    for name, module in list(sys.modules.items()):
        if name.startswith("derivations."):
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)) and not isinstance(value, type):
                    value.cache_clear()


def pytest_addoption(parser):
    parser.addoption("--claims-report", default=None, metavar="PATH",
                     help="write the outcome of every claim-marked test as JSON to PATH")
    parser.addoption("--claims-paper", default=None, metavar="KEY",
                     help="run only the checks of claims of this paper (e.g. mi_collapse)")
    parser.addoption("--write-grades", action="store_true",
                     help="record the grades of the claims whose checks all ran in the grades file")
    parser.addoption("--require-quotes", action="store_true",
                     help="fail when a fully run claim quotes a number that no check asserts (evidence.quote)")
    parser.addoption("--grades-file", default=str(grades.STORED), metavar="PATH",
                     help="the recorded grades that a run is held to (default: docs/grades.json)")


_blas_limit = None
"""pytest-xdist workers run BLAS on one thread each (see pytest_configure); kept while the worker lives."""


def pytest_configure(config):
    global _blas_limit
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")
    if getattr(config.option, "benchmark_only", False) and getattr(config.option, "dist", "no") != "no":
        # pytest-benchmark refuses to time under pytest-xdist (-n auto of the default options):
        # `--benchmark-only` runs in one process (this hook runs before xdist's, which is trylast)
        config.option.dist, config.option.tx, config.option.numprocesses = "no", [], 0
    if hasattr(config, "workerinput") and _blas_limit is None:
        # one process per core already: OpenBLAS threads on top only contend (and spin) for the cores;
        # a many-start BFGS on 3 x 3 matrices ran 40x slower with them on a busy 2-core machine
        _blas_limit = threadpool_limits(limits=1, user_api="blas")
    config._claims = {"tests": {}, "deselected": [], "collected": set(), "grade_changes": [],
                      "needs_extra": {}}


def pytest_ignore_collect(collection_path, config):
    """Without the ``deep`` extra, modules named test_deep_* are not collected (and say so)."""
    if collection_path.name.startswith("test_deep_") and collection_path.suffix == ".py":
        absent = missing("deep")
        if absent:
            rel = os.path.relpath(collection_path, config.rootpath).replace(os.sep, "/")
            config._claims["needs_extra"][rel] = f"needs the [deep] extra (missing: {', '.join(absent)})"
            return True
    return None


def _claim_ids(item) -> tuple[str, ...]:
    return tuple(i for mark in item.iter_markers("claim") for i in mark.args)


def _fuzz_domain(item) -> str | None:
    """``None`` unless the test is a Hypothesis property; then its strategies and example count."""
    handle = getattr(getattr(item, "obj", None), "hypothesis", None)
    if handle is None:
        return None
    given = getattr(handle, "_given_kwargs", {}) or {}
    domain = ", ".join(f"{k}={v!r}" for k, v in given.items()) or "strategies drawn inside the test"
    settings = getattr(item.obj, "_hypothesis_internal_use_settings", None)
    examples = getattr(settings, "max_examples", None)
    text = domain if len(domain) <= 300 else domain[:297] + "..."
    return text + (f"; up to {examples} examples" if examples else "")


def _slow(item) -> bool:
    """Outside the default run: marked slow, integration or gpu."""
    return any(item.get_closest_marker(m) is not None for m in ("slow", "integration", "gpu"))


def pytest_collection_modifyitems(session, config, items):
    known = catalogue.load()
    for item in items:
        ids = _claim_ids(item)
        for cid in ids:
            if cid not in known:
                raise pytest.UsageError(f"{item.nodeid}: claim id {cid!r} is not in the catalogue")
        if ids:
            config._claims["collected"].add(item.nodeid)
            # user properties travel with the test's reports (also from pytest-xdist workers)
            item.user_properties.append(("claims", list(ids)))
            item.user_properties.append(("fuzz_domain", _fuzz_domain(item)))
            item.user_properties.append(("slow", _slow(item)))
    paper = config.getoption("--claims-paper")
    if paper:
        keep = [i for i in items if any(c.split(".")[0] == paper for c in _claim_ids(i))]
        dropped = [i for i in items if i not in keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep


def pytest_deselected(items):
    config = items[0].config if items else None
    if config is not None and hasattr(config, "_claims"):
        config._claims["deselected"].extend(
            {"nodeid": i.nodeid, "claims": list(_claim_ids(i)),
             "slow": _slow(i)}
            for i in items if _claim_ids(i))


# ----------------------------------------------------------------- what a check did

_reads = {"count": 0, "fixtures": set()}
"""How many files under RESULTS were opened so far, and the fixtures whose set-up opened one."""
_RESULTS_PREFIX = os.path.join(str(RESULTS), "")


def _audit(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        try:
            if os.path.abspath(os.fsdecode(args[0])).startswith(_RESULTS_PREFIX):
                _reads["count"] += 1
        except (TypeError, ValueError):
            pass


sys.addaudithook(_audit)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    before = _reads["count"]
    try:
        return (yield)
    finally:
        if _reads["count"] > before:
            _reads["fixtures"].add(fixturedef.argname)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    if not _claim_ids(item):
        return (yield)
    before = _reads["count"]
    result = yield
    read_results = _reads["count"] > before or bool(_reads["fixtures"] & set(item.fixturenames))
    declared = [p[1] for p in item.user_properties if p[0] == "grade"]
    trains = item.get_closest_marker("deep") is not None
    inputs_only = any(p[0] == "stored_inputs_only" for p in item.user_properties)
    if (read_results or trains) and not inputs_only and not any(g["grade"].startswith("experiment")
                                                                for g in declared):
        why = "reads a stored experiment result" if read_results else "is marked deep (trains networks)"
        raise AssertionError(f"this claim check {why} but declares no scale: call "
                             f"evidence.experiment(fraction, converged, what)")
    return result


# ----------------------------------------------------------------- the evidence fixture


def _jsonable(value):
    """A plain JSON value (numpy scalars become Python ones: pytest-xdist sends these between processes)."""
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return value if math.isfinite(value) else repr(value)


class Evidence:
    """What a claim check records: key numbers, and the kind of evidence it produced."""

    def __init__(self, node):
        self._node = node
        self._seen = {}

    def __call__(self, name: str, value, reduce=max):
        """Record a key number. Repeated calls with one name keep ``reduce(old, new)`` (the maximum)."""
        value = _jsonable(value)
        if name in self._seen and isinstance(value, (int, float)) and isinstance(self._seen[name], (int, float)):
            value = reduce(self._seen[name], value)
        self._seen[name] = value
        self._node.user_properties[:] = [p for p in self._node.user_properties
                                         if not (p[0] == "evidence" and p[1] == name)]
        self._node.user_properties.append(("evidence", name, value))

    def _grade(self, entry: dict):
        entry = {k: _jsonable(v) for k, v in entry.items()}
        if ("grade", entry) not in self._node.user_properties:
            self._node.user_properties.append(("grade", entry))

    def exact(self, method: str, digits: int | None = None):
        """The assertion just made is exact: a symbolic identity or exact rational arithmetic
        (``digits=None``), or agreement to ``digits`` significant digits with an independent
        arbitrary-precision route. Call it after the assertion it describes."""
        if digits is not None and digits < grades.MIN_EXACT_DIGITS:
            raise ValueError(f"digits must be >= {grades.MIN_EXACT_DIGITS} for an exact check "
                             f"(fewer is within float64's reach: a numerical check), got {digits}")
        detail = method if digits is None else f"{method}; agreement to {digits} digits"
        self._grade({"grade": "exact", "detail": detail})

    def certified(self, certificate: str, covers: str, statement: str):
        """The check re-derived the ball-arithmetic certificate stored at ``certificate``, which
        ``covers`` its claim as stated, a counterexample, or instances only (see
        :func:`collapse.grades.certificate_grade`)."""
        known = catalogue.load()
        for cid in _claim_ids(self._node):
            self._grade(grades.certificate_grade(covers, known[cid].verdict, certificate, statement))

    def experiment(self, fraction: float | None, converged: bool | None, what: str):
        """The check rests on networks trained at ``fraction`` of the paper's training (1 = paper
        scale; None: the paper states none), converged or not (None: not measured). Pass an
        experiment's ``scale(config)`` as keywords."""
        self._grade(grades.experiment_detail(fraction, converged, what))

    def quote(self, text: str, value, *, rel: float | None = None, abs: float | None = None):
        """Assert that ``value`` is the number ``text`` the catalogue quotes (as printed there:
        "0.458", "1e-3"), to half a unit in its last printed digit unless ``rel`` or ``abs`` is
        given, and record that this check asserts it. Inputs quoted by a text are asserted the
        same way (the check uses the stated input)."""
        quoted = float(text)
        if abs is None and rel is None:
            mantissa, _, exponent = text.lower().partition("e")
            decimals = len(mantissa.partition(".")[2])
            abs = 0.5 * 10.0 ** (int(exponent or 0) - decimals)
        tol = max(abs or 0.0, (rel or 0.0) * math.fabs(quoted))
        value = float(value)
        if not math.fabs(value - quoted) <= tol:
            raise AssertionError(f"the catalogue quotes {text}, the check finds {value!r} (tolerance {tol:.3g})")
        if ("quoted", text) not in self._node.user_properties:
            self._node.user_properties.append(("quoted", text))

    def stored_inputs_only(self, why: str):
        """The check reads a stored experiment result only for inputs (e.g. a data matrix), and
        asserts nothing about the trained networks: its grade is what its own assertions show."""
        self._node.user_properties.append(("stored_inputs_only", why))


@pytest.fixture
def evidence(request):
    """Record a check's key numbers (``evidence(name, value)``) and kind (``evidence.exact(...)``)."""
    return Evidence(request.node)


# ----------------------------------------------------------------- the report


def pytest_runtest_logreport(report):
    props = {p[0]: p[1] for p in report.user_properties if len(p) == 2 and p[0] in ("claims", "fuzz_domain", "slow")}
    if "claims" not in props:
        return
    config = _config
    entry = config._claims["tests"].setdefault(
        report.nodeid, {"nodeid": report.nodeid, "claims": props["claims"], "outcome": "passed",
                        "evidence": {}, "duration": 0.0, "slow": props.get("slow", False)})
    entry["duration"] += report.duration
    if report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"
    elif report.failed:
        entry["outcome"] = "failed"
        entry["message"] = str(report.longrepr)[-500:] if report.longrepr else ""
    for prop in report.user_properties:
        if prop[0] == "evidence":
            entry["evidence"][prop[1]] = prop[2]
    declared = [p[1] for p in report.user_properties if p[0] == "grade"]
    entry["grade"] = grades.check_grade(declared, props.get("fuzz_domain"))
    entry["quoted"] = sorted({p[1] for p in report.user_properties if p[0] == "quoted"})


_config = None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    global _config
    _config = session.config


def fully_run(report: dict, claims: dict[str, catalogue.Claim]) -> dict[str, list | None]:
    """The claims whose listed checks were all collected and none deselected except slow or GPU
    ones, with their non-slow test entries; ``None`` for a claim that lists no check."""
    other = [d for d in report["deselected"] if not d.get("slow")]
    other_deselected = {d["nodeid"] for d in other}
    collected = set(report.get("collected", ()))
    out = {}
    for claim in claims.values():
        if not claim.checks:
            out[claim.id] = None
            continue

        def covered(check):
            hits = [n for n in collected if n == check or n.startswith(check + "[")]
            return hits and not any(n in other_deselected for n in hits)
        if all(covered(c) for c in claim.checks) and not any(claim.id in d["claims"] for d in other):
            out[claim.id] = [t for t in report["tests"] if claim.id in t["claims"] and not t.get("slow")]
    return out


def _passed(mine) -> bool:
    return bool(mine) and all(t["outcome"] == "passed" for t in mine)


def run_grades(report: dict, claims: dict[str, catalogue.Claim]) -> dict[str, dict]:
    """The grade of every fully run claim whose checks all passed (the grade of the default run);
    ``None`` for a claim that lists no check."""
    out = {}
    for cid, mine in fully_run(report, claims).items():
        if mine is None:
            out[cid] = None  # nothing checks it: no grade to record
        elif _passed(mine):
            out[cid] = {k: v for k, v in grades.claim_grade([t["grade"] for t in mine]).items()
                        if k in ("grade", "detail")}
    return out


def unasserted(report: dict, claims: dict[str, catalogue.Claim]) -> dict[str, list[str]]:
    """For every fully run claim with a verdict and passing checks, the numbers its texts quote
    that no check asserted (``evidence.quote``) and its ``unquoted`` table does not excuse."""
    out = {}
    for cid, mine in fully_run(report, claims).items():
        claim = claims[cid]
        if claim.verdict == "open" or not _passed(mine):
            continue
        quoted = {q for t in mine for q in t.get("quoted", ())}
        missing = [n for n in catalogue.quoted_numbers(claim) if n not in quoted and n not in claim.unquoted]
        if missing:
            out[cid] = missing
    return out


_SHARED = ("deselected", "collected", "needs_extra")
"""What a pytest-xdist worker learns at collection and the controller needs (tests arrive as reports)."""


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist: merge a finished worker's collection into the controller's record."""
    shared = getattr(node, "workeroutput", {}).get("collapse_claims")
    if shared:
        state = node.config._claims
        known = {d["nodeid"] for d in state["deselected"]}
        state["deselected"] += [d for d in shared["deselected"] if d["nodeid"] not in known]
        state["collected"] |= set(shared["collected"])
        state["needs_extra"].update(shared["needs_extra"])


def pytest_sessionfinish(session, exitstatus):
    state = session.config._claims
    if hasattr(session.config, "workerinput"):
        session.config.workeroutput["collapse_claims"] = {
            "deselected": state["deselected"], "collected": sorted(state["collected"]),
            "needs_extra": state["needs_extra"]}
        return
    data = {"tests": list(state["tests"].values()), "deselected": state["deselected"],
            "collected": sorted(state["collected"]), "needs_extra": state["needs_extra"],
            "exitstatus": int(exitstatus)}
    path = session.config.getoption("--claims-report")
    if path:
        io.write_json(path, data, indent=1)
    if not state["tests"]:
        return
    claims = catalogue.load()
    if session.config.getoption("--require-quotes"):
        state["unasserted"] = unasserted(data, claims)
        if state["unasserted"]:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    ran = run_grades(data, claims)
    stored_path = Path(session.config.getoption("--grades-file"))
    if session.config.getoption("--write-grades"):
        grades.write_stored(ran, stored_path)
        return
    stored = grades.load_stored(stored_path)
    if not stored:
        return
    changes = [(cid, stored.get(cid, {}).get("grade"), g and g["grade"]) for cid, g in ran.items()
               if stored.get(cid, {}).get("grade") != (g and g["grade"])]
    if changes:
        state["grade_changes"] = changes
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    missing = config._claims.get("unasserted", {})
    if missing:
        terminalreporter.section("numbers the catalogue quotes that no check asserts", red=True)
        for cid, numbers in missing.items():
            terminalreporter.line(f"{cid}: {', '.join(numbers)}")
        terminalreporter.line("Assert each in a check of the claim with evidence.quote(text, value), or excuse it "
                              "in the claim's `unquoted` table with the reason.")
    changes = config._claims["grade_changes"]
    if changes:
        terminalreporter.section("evidence grades differ from the recorded ones "
                                 f"({config.getoption('--grades-file')})", red=True)
        for cid, old, new in changes:
            terminalreporter.line(f"{cid}: recorded {old}, this run {new}")
        terminalreporter.line("A check changed what it proves: if that is intended, record it with "
                              "`python -m pytest --write-grades` (and update the README's grade table).")
