"""Mutation testing of numerics/ and derivations/ with mutmut, module by module (issue 20).

    python benchmarks/mutation.py numerics/lambda_vae.py ...    # the modules to run (default: all of TESTS)
    python benchmarks/mutation.py derivations/x.py --functions f,g   # only the mutants of these functions
    python benchmarks/mutation.py derivations/x.py --survivors   # only the mutants not caught last time
    python benchmarks/mutation.py --report                       # only rewrite the tables from the JSON

The modules named that share a test selection (TESTS[module]: the test files that exercise a
module) run as one group, in one mutmut call: mutmut maps the tests to functions and runs them
clean once per call, minutes that a module alone would pay again. Each group runs in its own
scratch folder ``runs/mutation/<module>+<module>.../`` (links to the checkout, mutmut's
``mutants/`` copy, its caches, ``mutmut.log``), with ``only_mutate`` set to its modules, so one
run fits a scheduled job (it is not part of the default pytest run). The rest of the configuration is
``[tool.mutmut]`` in pyproject.toml. A second run of a group reuses the cache and retests
only the functions that changed.

The tests run under the Hypothesis profile ``mutation`` (collapse/pytest_plugin.py): the
default examples, without the shrink phase, since a mutant only needs one failure.

Afterwards every mutant of the module is one of killed (a test failed), timeout (ran past
mutmut's CPU limit: the mutant changed behaviour, counted as caught), survived, no tests
(no selected test reaches the function: counted as not caught), or equivalent (a survivor
listed in docs/mutation_equivalent.toml with the reason it cannot change any result). The
kill rate is (killed + timeout) / (all - equivalent). docs/mutation.json keeps each module's
latest run (modules not run are absent, never estimated); docs/mutation.md is the table and
the surviving mutants' diffs; the README's table is held equal to the JSON by
tests/test_mutation.py.

mutmut does not mutate decorated functions. The derivations therefore cache by assignment
(``f = cache(f)``, see derivations/__init__.py), and their ``sections()`` (the document's
prose) carry a ``# pragma: no mutate block``. Still unmutated: the four ``@nb.njit``
functions of numerics/linear_gaussian_vae/kernel.py (the compiled kernel, held to the NumPy
path at 1e-12 by its tests; uncompiled under mutmut it would run too slowly to test) and five
``@property`` accessors (linear_latent_model, matrix_calculus). Under the ``mutation`` profile
every test starts with empty derivation caches (collapse/pytest_plugin.py): mutmut maps each
test to the functions it runs, and a cached derivation would otherwise run, and be mapped,
only for the first test that asked for it.

The derivations are run without tests/test_latex.py: its byte comparison of the generated
LaTeX fails on any change of an expression, which says nothing about whether a numeric or
symbolic check would catch a wrong formula (the gap issue 20 found).
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import tomllib
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT_JSON = ROOT / "docs" / "mutation.json"
REPORT_MD = ROOT / "docs" / "mutation.md"
EQUIVALENT = ROOT / "docs" / "mutation_equivalent.toml"
SCRATCH = ROOT / "runs" / "mutation"
LINKED = ("numerics", "derivations", "collapse", "deep", "property_tests", "tests", "conftest.py", "docs", "results",
          "examples", "README.md", "pyproject.toml", "benchmarks")

# the fast tests/ files first: mutmut's forced-fail check runs the selection until a test fails
_LGV = ["tests/test_linear_gaussian_vae.py", "property_tests/test_linear_gaussian_vae.py",
        "property_tests/test_derivations_linear_gaussian_vae.py", "property_tests/test_deep_metrics.py",
        "tests/test_linear_gaussian_vae_kernel.py"]
_TBV = ["tests/test_tractable_beta_vae.py", "property_tests/test_tractable_beta_vae.py",
        "property_tests/test_optimal_beta.py", "property_tests/test_tractable_beta_vae_experiment.py"]
_LVAE = ["tests/test_lambda_vae.py", "property_tests/test_lambda_vae.py", "property_tests/test_lambda_vae_experiments.py"]
_LLM = ["tests/test_linear_latent_model.py", "property_tests/test_linear_latent_model.py"]
TESTS = {
    **{f"numerics/linear_gaussian_vae/{m}.py": _LGV for m in ("model", "algorithm", "metrics", "optimizer", "phase")},
    **{f"numerics/tractable_beta_vae/{m}.py": _TBV for m in ("model", "optimum", "phase", "relabelling")},
    # the compiled kernel runs uncompiled under mutmut (NUMBA_DISABLE_JIT, see run_group): its
    # trampolines are Python; the kernel tests hold it to the NumPy path at 1e-12
    "numerics/linear_gaussian_vae/kernel.py": ["tests/test_linear_gaussian_vae_kernel.py"],
    "numerics/lambda_vae.py": _LVAE,
    "numerics/linear_latent_model.py": _LLM,
    "numerics/tchebycheff.py": ["tests/test_tchebycheff.py", "property_tests/test_tchebycheff.py"],
    "numerics/precision.py": ["tests/test_precision.py", *_LGV],
    "numerics/validation.py": ["tests/test_validation.py", "tests/test_linear_gaussian_vae.py", "tests/test_tractable_beta_vae.py",
                               "tests/test_lambda_vae.py", "tests/test_linear_latent_model.py"],
    "numerics/backend.py": ["tests/test_backend.py", *_LGV, *_LLM, *_LVAE],
    "derivations/linear_gaussian_vae.py": ["property_tests/test_derivations_linear_gaussian_vae.py"],
    "derivations/tractable_beta_vae.py": ["tests/test_derivations_tractable_beta_vae.py",
                                          "property_tests/test_tractable_beta_vae.py"],
    "derivations/lambda_vae.py": ["property_tests/test_lambda_vae.py"],
    "derivations/linear_latent_model.py": ["tests/test_derivations_linear_latent_model.py",
                                           "property_tests/test_linear_latent_model.py"],
    "derivations/matrix_calculus.py": ["tests/test_matrix_calculus.py",
                                       "property_tests/test_derivations_linear_gaussian_vae.py",
                                       "property_tests/test_tractable_beta_vae.py",
                                       "property_tests/test_linear_latent_model.py"],
    "derivations/latex.py": ["tests/test_latex.py"],
    "derivations/document.py": ["tests/test_latex.py"],
}
"""Module -> the test files that exercise it (the mutmut test selection of its run)."""

CAUGHT = ("killed", "timeout")
README_START, README_END = "<!-- mutation table: generated by benchmarks/mutation.py -->", "<!-- end of mutation table -->"

# Runs in the scratch folder: mutmut with these modules and tests, then a summary per module as JSON.
_RUN = r"""
import dataclasses, fnmatch, json, sys
import mutmut.configuration as configuration
modules, children, retest, only, warmup, passes = (json.loads(sys.argv[1]), sys.argv[2], *map(json.loads, sys.argv[3:5]),
                                                  sys.argv[5], json.loads(sys.argv[6]))
tests = sys.argv[7:]
configuration._config = dataclasses.replace(configuration._load_config(), only_mutate=modules,
                                            pytest_add_cli_args_test_selection=tests,
                                            forkserver_warmup=configuration.ForkServerWarmup(warmup))
from mutmut.__main__ import cli
from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code

def load():
    data = {module: SourceFileMutationData(path=module) for module in modules}
    for d in data.values():
        d.load()
    return data

chosen = lambda name: not only or any(fnmatch.fnmatch(name, glob) for glob in only)
for again in passes if children != "0" else ():
    names = [n for d in load().values() for n in retest if n in d.exit_code_by_key and chosen(n)] if again else only
    if again and not names:
        continue
    try:
        cli(["run", "--max-children", children, *names], standalone_mode=False)
    except SystemExit as stop:
        if stop.code:
            raise
summary = {}
for module, data in load().items():
    status = {name: status_by_exit_code[code] for name, code in sorted(data.exit_code_by_key.items()) if chosen(name)}
    diffs = {name: get_diff_for_mutant(name, path=module) for name, s in status.items()
             if s not in ("killed", "timeout", "not checked")}
    summary[module] = {"status": status, "diffs": diffs}
json.dump(summary, open("summary.json", "w"), indent=1)
"""


def slug(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


def equivalent() -> dict[str, dict]:
    """Accepted equivalent mutants: mutant id -> entry (module, mutation, reason)."""
    entries = tomllib.loads(EQUIVALENT.read_text())["equivalent"] if EQUIVALENT.exists() else []
    return {e["id"]: e for e in entries}


def warmup(module: str) -> str:
    """What mutmut's fork server loads before forking a worker per mutant.

    ``collect`` (pytest --collect-only: every test module imported once, a worker starts in
    ~1 s) for numerics/, which caches nothing. ``import`` (the third-party modules of
    [tool.mutmut] preload_modules_file only) for derivations/: their SymPy results are
    lru_cached, and a cache filled by an import-time call in a test module would replay the
    unmutated expression to every mutant."""
    return "import" if module.startswith("derivations/") else "collect"


def groups(modules: list[str]) -> list[list[str]]:
    """``modules`` grouped by test selection (and warm-up): a group runs in one mutmut call, which
    maps its tests to functions and runs them clean once for all its modules (minutes per call)."""
    by_key: dict = {}
    for module in modules:
        by_key.setdefault((tuple(TESTS[module]), warmup(module)), []).append(module)
    return list(by_key.values())


def run_group(modules: list[str], max_children: int, retest: list[str], functions: list[str],
              survivors_only: bool = False) -> dict:
    """Run mutmut on ``modules`` (one test selection) in runs/mutation/<modules>/; {module: report entry}.

    mutmut keeps a cached result unless the function changed (per scratch folder, i.e. per group);
    the mutants named in ``retest`` (those not caught by the previous run) are run again, since new
    tests may catch them now. ``functions`` (names of top-level functions of a single module)
    restricts the run and the entry to their mutants; the entry records it and the tables show the
    module as partial. ``survivors_only``: only the second pass (the mutants in ``retest``), so the
    mutants an interrupted run never reached stay "not checked". Wall and CPU time are the group's."""
    for module in modules:
        if module not in TESTS:
            raise SystemExit(f"module must be one of TESTS in benchmarks/mutation.py, got {module!r}")
    if functions and len(modules) > 1:
        raise SystemExit("--functions names the functions of one module; got several modules")
    tests = TESTS[modules[0]]
    scratch = SCRATCH / "+".join(slug(m) for m in modules)
    scratch.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        if not (scratch / name).exists():
            (scratch / name).symlink_to(ROOT / name)
    # mutmut updates its test -> function map only for new tests, so a function added since
    # the last run would count as "no tests": the map is rebuilt on every run
    (scratch / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    env = {**os.environ, "COLLAPSE_HYPOTHESIS_PROFILE": "mutation",
           **({"NUMBA_DISABLE_JIT": "1"} if any(m.endswith("/kernel.py") for m in modules) else {})}
    start = datetime.now(timezone.utc)
    cpu = os.times()
    with open(scratch / "mutmut.log", "w") as log:
        code = subprocess.run([sys.executable, "-c", _RUN, json.dumps(modules), str(max_children), json.dumps(retest),
                               json.dumps([f"{slug(modules[0])}.x_{f}__mutmut_*" for f in functions]),
                               warmup(modules[0]), json.dumps([True] if survivors_only else [False, True]), *tests],
                              cwd=scratch, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    if code:
        raise SystemExit(f"mutmut failed on {', '.join(modules)} (exit {code}); see {scratch / 'mutmut.log'}")
    cpu_s = sum(os.times()[2:4]) - sum(cpu[2:4])
    summary = json.loads((scratch / "summary.json").read_text())
    empty = [m for m in modules if not summary[m]["status"]]
    if empty:   # e.g. --survivors in a folder where mutmut never ran: keep the report's entry
        raise SystemExit(f"no mutant of {', '.join(empty)} is recorded in {scratch}; run without --survivors first")
    shared = {"tests": tests, "functions": functions, "run_at": start.strftime("%Y-%m-%dT%H:%MZ"),
              **({"collected": True} if max_children == 0 else
                 {"wall_s": round((datetime.now(timezone.utc) - start).total_seconds()), "cpu_s": round(cpu_s)})}
    return {m: {**shared, **({"together": [o for o in modules if o != m]} if len(modules) > 1 else {}), **summary[m]}
            for m in modules}


def tally(entry: dict, accepted: dict[str, dict]) -> dict:
    """Counts of one module's entry; survivors listed as equivalent leave the denominator."""
    counts = {k: 0 for k in ("killed", "timeout", "survived", "no tests", "equivalent", "not checked", "other")}
    for name, status in entry["status"].items():
        if status not in CAUGHT and name in accepted:
            status = "equivalent"
        counts[status if status in counts else "other"] += 1
    total = sum(counts.values()) - counts["not checked"]
    relevant = total - counts["equivalent"]
    counts.update(total=total, kill_rate=round((counts["killed"] + counts["timeout"]) / relevant, 4) if relevant else None)
    return counts


def _percent(rate) -> str:
    return "not run" if rate is None else f"{100 * rate:.1f} %"


def table(report: dict) -> str:
    """The kill-rate table (markdown), one row per module run; the README holds a copy."""
    accepted = equivalent()
    lines = ["| module | mutants | killed | timeout | survived | no tests | equivalent | kill rate |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for module, entry in sorted(report.items()):
        c = tally(entry, accepted)
        scope = f" (only {', '.join(entry['functions'])})" if entry.get("functions") else ""
        if c["not checked"]:
            scope += f" (interrupted: {c['not checked']} mutants not run)"
        lines.append(f"| `{module}`{scope} | {c['total']} | {c['killed']} | {c['timeout']} | {c['survived']} | "
                     f"{c['no tests']} | {c['equivalent']} | {_percent(c['kill_rate'])} |")
    return "\n".join(lines)


def write_markdown(report: dict) -> None:
    accepted = equivalent()
    out = ["# Mutation testing (generated by `python benchmarks/mutation.py`; do not edit)", "",
           "Kill rate = (killed + timeout) / (mutants - accepted equivalent); see benchmarks/mutation.py.", "",
           table(report), ""]
    for module, entry in sorted(report.items()):
        together = f" (one run with {', '.join(f'`{m}`' for m in entry['together'])})" if entry.get("together") else ""
        timing = ("recorded with --collect after an interrupted run (its time not measured)" if entry.get("collected")
                  else f"{entry['wall_s']} s wall, {entry['cpu_s']} s CPU")
        out += [f"## `{module}`", "", f"Run {entry['run_at']}, {timing}{together}; "
                "tests: " + ", ".join(f"`{t}`" for t in entry["tests"]) + ".", ""]
        for name, diff in sorted(entry["diffs"].items()):
            label = "equivalent: " + accepted[name]["reason"] if name in accepted else entry["status"][name]
            out += [f"- `{name}` ({label})", "", "```diff", *diff.splitlines()[2:], "```", ""]
    REPORT_MD.write_text("\n".join(out))


def write_readme_table(report: dict) -> None:
    """Put the kill-rate table between the README's two markers."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    head, rest = text.split(README_START + "\n", 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_START}\n{table(report)}\n{README_END}{tail}")


def _merge(result: dict) -> dict:
    """Write a group's entries into docs/mutation.json as it is now, under a lock: runs of other
    groups may have finished since this one started. Returns the whole report."""
    with open(REPORT_JSON.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        report = json.loads(REPORT_JSON.read_text()) if REPORT_JSON.exists() else {}
        report.update(result)
        REPORT_JSON.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="modules to run (default: every module of TESTS)")
    parser.add_argument("--max-children", type=int, default=1, help="parallel mutmut workers (default 1)")
    parser.add_argument("--functions", default="", help="comma-separated top-level functions: run only their mutants")
    parser.add_argument("--survivors", action="store_true",
                        help="only run again the mutants the last run did not catch (after an interrupted run: "
                             "the mutants it never reached stay 'not checked')")
    parser.add_argument("--collect", action="store_true",
                        help="run nothing; record the modules' results as mutmut left them (an interrupted run: "
                             "its mutants not yet run count as 'not checked', outside the kill rate)")
    parser.add_argument("--report", action="store_true",
                        help="only rewrite docs/mutation.md and the README table from docs/mutation.json")
    args = parser.parse_args(argv)
    report = json.loads(REPORT_JSON.read_text()) if REPORT_JSON.exists() else {}
    if not args.report:
        functions = [f for f in args.functions.split(",") if f]
        for group in groups(args.modules or sorted(TESTS)):
            before = [n for m in group for n, s in report.get(m, {}).get("status", {}).items()
                      if s not in (*CAUGHT, "not checked")]
            result = run_group(group, 0 if args.collect else args.max_children, before, functions,
                               survivors_only=args.survivors)
            report = _merge(result)
            for module in group:
                c = tally(report[module], equivalent())
                print(f"{module}: {c['killed'] + c['timeout']}/{c['total'] - c['equivalent']} caught "
                      f"({_percent(c['kill_rate'])}), {c['survived']} survived, {c['no tests']} without tests")
    write_markdown(report)
    write_readme_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
