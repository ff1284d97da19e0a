"""Every subcommand of `collapse` on generated input (issue 17): exit 0, or exit 2 with one line, never a
traceback, and no file that existed before is changed.

Hypothesis draws a subcommand and an argument list from the live parser: every option the
subcommand has, each with a value from a pool of wrong types, out-of-range numbers, NaN/inf,
empty strings, renamed options, missing, damaged and misplaced files and folders (a workspace
of them is made once: sweep configs, a mixing matrix, a trained run, a corrupt checkpoint);
`sweep` also gets generated config files (unknown and renamed keys, wrong types, typo axes).
The CLI runs in this process (collapse.cli.main with stdout/stderr captured). The functions
where each command starts its real work (training, evaluation, the pytest run of verify, the
LaTeX writer, the phase numerics, the experiments after their argument checks) are replaced by
one that raises :class:`WorkStarted`, so an example costs milliseconds and the property also
says when the checks ran: input with a value that is certainly invalid (a negative or
non-finite number, a word where a number goes, an unknown choice, a renamed option) must be
refused before the work starts. Example counts follow the Hypothesis profile
(``COLLAPSE_HYPOTHESIS_PROFILE=thorough`` draws 20x more).
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collapse import ROOT
from collapse.cli import Renamed, build_parser, main
from collapse.pytest_plugin import missing
from property_tests.strategies import examples

DEEP = not missing("deep")
DEEP_COMMANDS = ("train", "evaluate", "sweep", "experiment")


class WorkStarted(BaseException):
    """Raised where a command would start its real work: every check before it passed."""


WORK = [("derivations.document", "write"), ("collapse.commands.verify", "verify"),
        ("collapse.phase.lambda_vae", "flows"), ("numerics.linear_gaussian_vae", "phase_diagram"),
        ("collapse.phase.linear_latent_model", "curves"), ("numerics.tractable_beta_vae", "sweep"),
        ("collapse.certify.core", "compute"), ("collapse.certify.core", "check")]
DEEP_WORK = [("deep.train", "fit"), ("deep.evaluate", "evaluate_checkpoint"), ("deep.sweep", "executor"),
             ("deep.experiment", "drive")]

# values with whether they are certainly invalid for a numeric option (every numeric option of
# the CLI is a finite number >= 0): True = must be refused, False = may be fine
INTS = [("1", False), ("2", False), ("5", False), ("0", False), ("1000000000000", False), ("-1", True), ("x", True),
        ("1.5", True), ("", True)]
FLOATS = [("0.5", False), ("2", False), ("1e-300", False), ("1e300", False), ("0", False), ("-1", True),
          ("nan", True), ("inf", True), ("-inf", True), ("x", True)]
PATHS = ["good.json", "bad.toml", "bad.json", "typo.json", "list.json", "A.csv", "bad.csv", "file.txt", "dir",
         "missing.json", "corrupt.pt", "run", "run/checkpoint.pt", "new/out", "dir/new.json", "", "."]
WORDS = ["auto", "cpu", "tpu", "cuda:x", "", "8,8", "x", "tcp://127.0.0.1:1"]
TINY_RUN = {"data": {"name": "digits"}, "model": {"architecture": "mlp", "m": 2, "hidden": [8]},
            "objective": {"name": "beta"}, "steps": 2, "batch_size": 8, "evaluation": {"samples": 16, "dci": False}}


def leaves(parser: argparse.ArgumentParser, path=()):
    """(command words, parser) of every runnable subcommand, aliases once."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    seen = set()
    for name, sub in subs[0].choices.items():
        if id(sub) not in seen:
            seen.add(id(sub))
            yield from leaves(sub, (*path, name))


COMMANDS = [(words, parser) for words, parser in leaves(build_parser())
            if DEEP or words[0] not in DEEP_COMMANDS]


def value_strategy(action):
    """A strategy of (list of argument strings, certainly invalid) for one option's value(s)."""
    if isinstance(action, Renamed):
        return st.just((["3"], True))
    if action.nargs == 0:
        return st.just(([], False))
    if action.choices is not None:
        return st.sampled_from([([str(c)], False) for c in action.choices] + [(["nope"], True)])
    pool = {int: INTS, float: FLOATS}.get(action.type)
    if pool is None:
        one = st.sampled_from([(p, False) for p in (PATHS if action.type is Path else WORDS)])
    else:
        one = st.sampled_from(pool)
    if action.nargs in ("+", "*"):
        return st.lists(one, min_size=1, max_size=3).map(lambda vs: ([v for v, _ in vs], any(b for _, b in vs)))
    return one.map(lambda v: ([v[0]], v[1]))


@st.composite
def invocations(draw, command):
    """(argv, whether it holds a certainly invalid value) for one subcommand (its words and parser)."""
    words, parser = command
    argv, invalid = list(words), False
    options = [a for a in parser._actions if a.option_strings and a.dest not in ("help", "debug")]
    for action in [a for a in parser._actions if not a.option_strings and a.nargs not in ("*", "?")]:
        argv.append(draw(st.sampled_from(PATHS)))  # positional: a checkpoint or a config file
    if words[0] == "sweep" and draw(st.booleans()):
        argv[1] = draw(sweep_configs())
    chosen = draw(st.lists(st.sampled_from(options), max_size=4, unique_by=lambda a: a.dest)) if options else []
    for action in chosen:
        values, bad = draw(value_strategy(action))
        argv += [action.option_strings[0], *values]
        invalid |= bad
    return argv, invalid


KEYS = {"steps": st.sampled_from([1, 0, -3, 2.5, "x", None]), "lr": st.sampled_from([1e-3, 0, -1.0, "x"]),
        "seed": st.sampled_from([0, -1, 1.5]), "epochs": st.just(3), "batch_size": st.sampled_from([4, 0, True]),
        "objective": st.sampled_from([{"name": "beta", "betta": 2}, {"name": "lambda", "lam": 3},
                                      {"name": "lambda", "l2_weight": 3}, {"name": "lambda-beta"},
                                      {"name": "vae"}, {"name": "lambda", "fixed_exponent": 0}, "beta", [1]]),
        "model": st.sampled_from([{"latnets": 3}, {"architecture": "mlp", "hiden": [3]}, {"m": -1}, {"m": 10 ** 9},
                                  {"architecture": "conv"}, {"likelihood": "gaussian", "eta_dec": 0}]),
        "data": st.sampled_from([{"name": "mnist"}, {"name": "digits", "subset": 0}, {"name": "dsprites-npz"},
                                 {"name": "digits", "binarise": "x"}, "digits"]),
        "evaluation": st.sampled_from([{"sample": 3}, {"samples": -1}, {"dci": "no"}])}
AXES = st.sampled_from(["beta", "lambda", "lam", "l2_weight", "seed", "objective.betta", "betta", "data",
                        "objective.warmup_steps", "delta", "steps"])


@st.composite
def sweep_configs(draw):
    """A JSON sweep config (a file name in the workspace): the tiny valid run with some keys broken."""
    base = dict(TINY_RUN)
    for key in draw(st.lists(st.sampled_from(sorted(KEYS)), max_size=2, unique=True)):
        base[key] = draw(KEYS[key])
    config = {"name": "gen", "base": base}
    if draw(st.booleans()):
        config["grid"] = {draw(AXES): draw(st.sampled_from([[1, 2], [0], [], 3, [-1]]))}
    if draw(st.booleans()):
        config[draw(st.sampled_from(["then", "thn", "grid"]))] = draw(st.sampled_from(
            [{"steps": 3, "grid": {"l2_weight": [0, 2]}, "objective": {"name": "lambda-beta"}}, {"stepz": 3}, []]))
    name = f"gen-{hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:10]}.json"
    return name, config


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder of files the generated arguments point at (made once; compared after every example)."""
    root = tmp_path_factory.mktemp("workspace")
    (root / "good.json").write_text(json.dumps({"name": "w", "base": TINY_RUN, "grid": {"seed": [0]}}))
    (root / "bad.toml").write_text("[base\nsteps = 3\n")
    (root / "bad.json").write_text('{"base": {steps: 3}}')
    (root / "typo.json").write_text(json.dumps({"base": {**TINY_RUN, "objective": {"name": "beta", "betta": 2}}}))
    (root / "list.json").write_text("[1, 2]")
    (root / "A.csv").write_text("2.73,0.73\n0.73,2.73\n")
    (root / "bad.csv").write_text("a,b\n1\n")
    (root / "file.txt").write_text("text")
    (root / "dir").mkdir()
    (root / "corrupt.pt").write_bytes(b"not a checkpoint")
    if DEEP:
        from deep.train import train

        train(TINY_RUN, root / "run", progress=False)
    return root


def snapshot(folders) -> dict:
    """(mtime, size) of every file under ``folders`` (run folders' .lock files are bookkeeping)."""
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for folder in folders for p in Path(folder).rglob("*")
            if p.is_file() and p.name != ".lock" and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def stop_work():
    """Replace every command's work by WorkStarted for this module's tests."""
    import importlib

    patch = pytest.MonkeyPatch()

    def started(*args, **kwargs):
        raise WorkStarted
    for module, name in WORK + (DEEP_WORK if DEEP else []):
        patch.setattr(importlib.import_module(module), name, started)
    yield
    patch.undo()


def run_cli(argv, folder: Path):
    """(outcome, stderr) of ``collapse argv`` run in ``folder``: outcome is "work" or the exit status."""
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                outcome = main(argv)
            except WorkStarted:
                outcome = "work"
            except SystemExit as exit_:
                outcome = exit_.code
    finally:
        os.chdir(cwd)
    return outcome, err.getvalue()


def check_outcome(argv, invalid, outcome, err):
    assert "Traceback" not in err, (argv, err)
    if invalid:
        assert outcome == 2, f"collapse {' '.join(argv)}: certainly invalid input reached {outcome!r}\n{err}"
    assert outcome in (0, 2, "work"), (argv, outcome, err)
    if outcome == 2:
        lines = [line for line in err.splitlines() if line.strip() and ": warning: " not in line]
        assert lines and ": error: " in lines[-1], (argv, err)
        if not lines[-1].startswith("usage:") and not any(line.startswith("usage:") for line in lines):
            assert len(lines) == 1, (argv, err)  # ours: exactly one line (argparse's own adds its usage)


SNAPSHOT = ("results", "docs", "examples")


def run_and_check(argv, invalid, workspace):
    if argv[0] == "sweep" and isinstance(argv[1], tuple):
        name, config = argv[1]
        (workspace / name).write_text(json.dumps(config))
        argv = [argv[0], name, *argv[2:]]
    before = snapshot([workspace, *(ROOT / f for f in SNAPSHOT)])
    check_outcome(argv, invalid, *run_cli(argv, workspace))
    after = snapshot([workspace, *(ROOT / f for f in SNAPSHOT)])
    changed = [str(p) for p, stamp in before.items() if after.get(p) != stamp]
    assert not changed, f"collapse {' '.join(argv)} changed {changed}"


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(words) for words, _ in COMMANDS])
def test_every_subcommand_refuses_bad_input_in_one_line_before_any_work(command, workspace, stop_work):
    @examples(10)
    @given(call=invocations(command))
    def property_(call):
        run_and_check(*call, workspace)
    property_()


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(words) for words, _ in COMMANDS])
def test_each_numeric_option_refuses_each_certainly_invalid_value(command, workspace, stop_work):
    """Exhaustive over one option at a time: every numeric option with every certainly invalid value."""
    words, parser = command
    positional = ["good.json" if words[0] == "sweep" else "run"] if words[0] in ("sweep", "evaluate") else []
    for action in parser._actions:
        pool = {int: INTS, float: FLOATS}.get(action.type)
        if not action.option_strings or pool is None:
            continue
        for value, bad in pool:
            if bad and not (value.startswith("-") and value != "-1"):  # "-inf" parses as an option: argparse's error
                run_and_check([*words, *positional, action.option_strings[0], value], True, workspace)


@pytest.mark.parametrize("argv", [
    ["phase", "lambda-vae", "--exponent", "nan"], ["phase", "wang-ziyin", "--zeta", "1e300"],
    ["phase", "optimal-beta", "--mixing", "bad.csv"], ["phase", "optimal-beta", "--mixing", "dir"],
    ["phase", "linear-gaussian-vae", "--output", "file.txt"], ["latex", "--output", "dir"],
    ["verify", "--json", "dir"], ["verify", "--markdown", "missing/v.md"],
])
def test_known_bad_inputs_of_the_core_commands(argv, workspace, stop_work):
    """A few inputs of issue 17, also in the core install (no torch)."""
    check_outcome(argv, True, *run_cli(argv, workspace))


@pytest.mark.skipif(not DEEP, reason="needs the deep extra")
@pytest.mark.parametrize("argv", [
    ["train", "--steps", "3", "--device", "tpu"], ["train", "--steps", "3", "--init-from", "corrupt.pt"],
    ["train", "--steps", "3", "--init-from", "missing.pt"], ["train", "--steps", "3", "--out", "file.txt"],
    ["train", "--steps", "3", "--subset", "0"], ["train", "--steps", "3", "--fixed-lambda", "0"],
    ["evaluate", "corrupt.pt"], ["evaluate", "run", "--output", "dir"], ["sweep", "bad.json"],
    ["sweep", "typo.json", "--dry-run"], ["sweep", "list.json"], ["sweep", "good.json", "--workers", "-1"],
    ["experiment", "linear-latent-model", "--output-dir", "file.txt"],
    ["experiment", "lambda-vae-conv", "--workers", "-1", "--smoke", "--output-dir", "new/out"],
])
def test_known_bad_inputs_of_the_deep_commands(argv, workspace, stop_work):
    check_outcome(argv, True, *run_cli(argv, workspace))
