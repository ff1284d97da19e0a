"""The experiment protocol and its driver (deep/experiment.py) on a toy experiment that trains nothing:
strict configs, atomic resumable records, runs that continue others, failures reported by name,
the results contract, and the command line's defaults and refusals."""
import json
import sys
import textwrap
import tomllib

import pytest

from collapse.cli import main
from deep import experiment as protocol
from deep import io
from deep.config import UserError, strict
from deep.sweep import RunsFailed, executor

TOY = textwrap.dedent('''
    """A toy experiment: each run squares its value; a run that continues another adds its parent's record."""
    from dataclasses import field
    from pathlib import Path

    from deep import experiment as protocol
    from deep import io
    from deep.config import check
    from deep.sweep import Run

    NAME, HELP, PARTS = "toy", "a toy", ()
    CALLS = []


    @protocol.configuration
    class Config(protocol.Config):
        values: tuple[int, ...] = field(default=(1, 2, 3), metadata=check(protocol.seeds))
        seeds: tuple[int, ...] = field(default=(0,), metadata=check(protocol.seeds))
        fail: int = -1


    def default(part=None, smoke=False):
        return Config()


    def plan(config):
        runs = [Run(f"v={v}", {"v": v}, {"v": v}) for v in config["values"]]
        return runs + [Run(f"v={v}+next", {"v": v, "next": True}, {"v": v}, init_from=f"v={v}")
                       for v in config["values"]]


    def run(config, one, work_dir, device):
        CALLS.append(one.name)
        if one.values["v"] == config["fail"] and one.init_from is None:
            raise ValueError("this run fails")
        if one.init_from is not None:
            parent = io.read_json(Path(work_dir) / f"{one.init_from}.json")
            return {"square": parent["square"], "total": parent["square"] + 1}
        io.write_json(Path(work_dir) / f"{one.name}.json", {"square": one.values["v"] ** 2})
        return {"square": one.values["v"] ** 2}


    def summarise(config, runs, records, figures, work_dir):
        io.write_csv(figures / "table.csv", [{"run": r.name, **records[r.name]} for r in runs])
        return {"sum": sum(records[r.name]["square"] for r in runs if r.init_from is None)}


    def scale(config):
        return {"fraction": 0.5, "converged": None, "what": "toy"}


    def describe(config):
        return "toy scale"
''')


@pytest.fixture
def toy(tmp_path, monkeypatch):
    folder = tmp_path / "toy_module"
    folder.mkdir()
    (folder / "toy_experiment.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(folder))
    import toy_experiment

    yield toy_experiment
    sys.modules.pop("toy_experiment", None)


def drive(toy, tmp_path, config=None):
    with executor(0) as pool:
        return protocol.drive(toy, config or toy.default(), tmp_path / "out", tmp_path / "work", pool,
                              progress=False)


def test_the_driver_writes_the_results_contract_and_resumes(toy, tmp_path):
    assert isinstance(toy, protocol.Experiment)
    result = drive(toy, tmp_path)
    out = tmp_path / "out"
    assert result["sum"] == 14 and result["experiment"] == "toy" and protocol.validate(result) == []
    assert sorted(p.name for p in out.iterdir()) == ["config.toml", "figures", "result.json", "runs"]
    assert tomllib.loads((out / "config.toml").read_text()) == result["config"] == {"values": [1, 2, 3],
                                                                                   "seeds": [0], "fail": -1}
    assert "\n" not in (out / "result.json").read_text()
    assert result["provenance"]["scale"] == {"fraction": 0.5, "converged": None, "what": "toy",
                                             "description": "toy scale"}
    assert set(result["provenance"]) >= {"commit", "dirty", "versions", "device", "seeds"}
    assert result["figures"] == ["table.csv"]
    # a continuation ran after the run it continues, and read its work
    assert toy.CALLS.index("v=2+next") > toy.CALLS.index("v=2")
    loaded = protocol.load(toy, root=out)
    assert [r["record"] for r in loaded["runs"]][3] == {"square": 1, "total": 2}
    # a second call runs nothing: every record is read back
    toy.CALLS.clear()
    assert drive(toy, tmp_path)["sum"] == 14 and toy.CALLS == []
    # a damaged record, or one made from other settings, is run again; the others are not
    protocol.record_path(out, "v=1").write_bytes(b"not gzip")
    stored = io.read_json(protocol.record_path(out, "v=3"))
    io.write_json(protocol.record_path(out, "v=3"), {**stored, "config": {"v": 30}})
    drive(toy, tmp_path)
    assert sorted(toy.CALLS) == ["v=1", "v=3"]
    # another configuration: the records of runs it does not plan are removed
    drive(toy, tmp_path, toy.Config(values=[1]))
    assert sorted(p.name for p in (tmp_path / "out" / "runs").iterdir()) == ["v=1+next.json.gz", "v=1.json.gz"]


def test_a_failed_run_is_named_after_the_others_ran(toy, tmp_path):
    with pytest.raises(RunsFailed, match=r"v=2: ValueError: this run fails; v=2\+next: the run it continues"):
        drive(toy, tmp_path, toy.Config(fail=2))
    assert sorted(p.name for p in (tmp_path / "out" / "runs").iterdir()) == [
        "v=1+next.json.gz", "v=1.json.gz", "v=3+next.json.gz", "v=3.json.gz"]


def test_a_stale_or_broken_result_is_refused(toy, tmp_path):
    drive(toy, tmp_path)
    with pytest.raises(UserError, match="is stale"):
        protocol.load(toy, root=tmp_path / "out", default=toy.Config(values=[1, 2]))
    path = tmp_path / "out" / "result.json"
    io.write_json(path, {k: v for k, v in io.read_json(path).items() if k != "figures"})
    with pytest.raises(UserError, match="does not follow deep/result_schema.json: result needs the key 'figures'"):
        protocol.load(toy, root=tmp_path / "out")


def test_configs_are_strict_frozen_mappings(toy):
    config = toy.default()
    assert config["values"] == (1, 2, 3) and dict(config) == {"values": (1, 2, 3), "seeds": (0,), "fail": -1}
    assert config == {"values": [1, 2, 3], "seeds": [0], "fail": -1}
    with pytest.raises(AttributeError):
        config.values = (4,)
    with pytest.raises(UserError, match=r"unknown key 'value' \(did you mean 'values'\?\)"):
        strict(toy.Config, {"value": [1]})
    with pytest.raises(UserError, match="seeds must be a non-empty list of distinct integers >= 0"):
        config.replace(seeds=[0, 0])


def test_toml_of_a_config_reads_back_equal():
    data = {"a": 1, "b": [0.5, 1e-3], "name": "x", "t": {"u": {"v": True}, "w": [[1, 2]]}, "beta_0.5": {"x": 2.0}}
    assert tomllib.loads(io.toml(data)) == data
    with pytest.raises(ValueError, match="t.x is None"):
        io.toml({"t": {"x": None}})


@pytest.mark.parametrize("name", ["lambda-vae", "tractable-beta-vae", "linear-latent-model"])
def test_an_experiment_command_refuses_a_misspelt_config_key(name, tmp_path, capsys):
    bad = tmp_path / "config.toml"
    bad.write_text("seed = [0]\n")
    args = ["experiment", name, "--config", str(bad), "--output-dir", str(tmp_path / "out")]
    assert main([*args, *(["--study", "digits"] if name == "lambda-vae" else
                          ["--setting", "canvas"] if name == "tractable-beta-vae" else [])]) == 2
    err = capsys.readouterr().err
    assert "has an unknown key 'seed' (did you mean 'seeds'" in err
    assert not (tmp_path / "out").exists()


def test_an_experiment_writes_under_runs_by_default(tmp_path, monkeypatch):
    """Only an explicit --output-dir results/<name> writes the stored evidence."""
    seen = {}

    def fake_drive(experiment, config, output, work_dir, pool, **kwargs):
        seen.update(output=output, work=work_dir)
        raise UserError("stopped before any work")
    monkeypatch.setattr(protocol, "drive", fake_drive)
    monkeypatch.chdir(tmp_path)
    assert main(["experiment", "linear-latent-model", "--workers", "0", "--no-progress"]) == 2
    assert seen["output"] == protocol.OUTPUT / "linear_latent_model"
    assert seen["work"] == protocol.WORK / "linear_latent_model"
    assert main(["experiment", "lambda-vae-conv", "--smoke", "--workers", "0", "--no-progress"]) == 2
    assert seen["output"] == protocol.OUTPUT / "lambda_vae_conv-smoke"
    assert main(["experiment", "lambda-vae", "--study", "digits", "--workers", "0", "--no-progress",
                 "--output-dir", "results/lambda_vae"]) == 2
    assert seen["output"] == protocol.Path("results/lambda_vae/digits")
    assert json.dumps(str(protocol.OUTPUT)) == '"runs/experiments"'
