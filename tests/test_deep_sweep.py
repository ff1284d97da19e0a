"""deep.sweep and `collapse sweep`: grid expansion, a process pool, a Dask LocalCluster, resumption, failures."""
import concurrent.futures
import json
import re

import pytest

from collapse.cli import main
from deep import sweep
from deep.config import UserError

pytestmark = pytest.mark.deep

BASE = {"steps": 12, "batch_size": 32, "lr": 3e-3, "log_every": 6, "checkpoint_every": 6,
        "data": {"name": "digits"}, "model": {"architecture": "mlp", "m": 2, "hidden": [16]},
        "objective": {"name": "beta"}, "evaluation": {"samples": 100, "dci": False}}
TWO_PHASE = {"name": "tiny", "base": BASE, "grid": {"beta": [0.5, 2.0], "seed": [0]},
             "then": {"steps": 18, "objective": {"name": "lambda-beta", "phase1_steps": 12},
                      "grid": {"l2_weight": [0, 4]}}}


def write_config(tmp_path, config=TWO_PHASE, name="sweep.json"):
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return path


def test_expand_builds_the_grid_and_the_second_phase():
    runs = sweep.expand(TWO_PHASE)
    assert [r.name for r in runs] == ["beta=0.5,seed=0", "beta=2,seed=0", "beta=0.5,seed=0+l2_weight=0",
                                      "beta=0.5,seed=0+l2_weight=4", "beta=2,seed=0+l2_weight=0",
                                      "beta=2,seed=0+l2_weight=4"]
    first, lam0, lam4 = runs[0], runs[2], runs[3]
    beta = {"name": "beta", "beta": 0.5, "warmup_steps": 0, "warmup_start": 0}  # every default is stored
    assert first.config["objective"] == beta and first.init_from is None
    assert lam0.config["objective"] == beta  # l2_weight = 0 is the beta-VAE column
    assert lam4.config["objective"] == {**beta, "name": "lambda-beta", "l2_weight": 4.0, "phase1_steps": 12}
    assert lam4.init_from == "beta=0.5,seed=0" and lam4.config["steps"] == 18
    assert lam4.values == {"beta": 0.5, "seed": 0, "l2_weight": 4}
    assert first.config["checkpoint_every"] == 6 and first.config["seed"] == 0
    dotted = sweep.expand({"base": BASE, "grid": {"objective.warmup_steps": [0, 5], "data": ["digits"]}})
    assert [r.config["objective"]["warmup_steps"] for r in dotted] == [0, 5]


def test_an_unquoted_dotted_axis_in_toml_is_a_table_and_works(tmp_path):
    """`objective.warmup_steps = [0, 2]` in [grid] is TOML for the table objective = {warmup_steps = [0, 2]}."""
    (tmp_path / "s.toml").write_text('[base]\nsteps = 3\ndata = {name = "digits"}\nmodel = {architecture = "mlp"}\n'
                                     '[grid]\nobjective.warmup_steps = [0, 2]\nseed = [0]\n')
    runs = sweep.expand(sweep.load_config(tmp_path / "s.toml"))
    assert [r.name for r in runs] == ["objective.warmup_steps=0,seed=0", "objective.warmup_steps=2,seed=0"]
    assert [r.config["objective"]["warmup_steps"] for r in runs] == [0, 2]


@pytest.mark.parametrize("config, message", [
    ({"grid": {"beta": [1]}}, "sweep config needs the key 'base'"),
    ({"base": BASE, "grid": {"beta": 1}}, "must be a non-empty list"),
    ({"base": BASE, "grid": {"beta": []}}, "must be a non-empty list"),
    ({"base": {**BASE, "epochs": 3}}, "run config has an unknown key 'epochs'"),
    ({"base": {**BASE, "step": 3}}, r"unknown key 'step' \(did you mean 'steps'\?\)"),
    ({"base": {k: v for k, v in BASE.items() if k != "steps"}}, "run config needs the key 'steps'"),
    ({"base": BASE, "sweep": {}}, "sweep config has an unknown key 'sweep'"),
    ({"base": BASE, "gird": {}}, r"unknown key 'gird' \(did you mean 'grid'\?\)"),
    ({"base": BASE, "grid": {"seed": [0, 0]}}, "the same name"),
    ({"base": BASE, "then": {"stepz": 3}}, r"then has an unknown key 'stepz' \(did you mean 'steps'\?\)"),
    # an axis that would do nothing is refused instead of giving a grid of identical runs (issue 17)
    ({"base": BASE, "grid": {"objective.betta": [1, 2]}}, r"run objective.betta=1: objective has an unknown key "
                                                          r"'betta' \(did you mean 'beta'\?\)"),
    ({"base": BASE, "grid": {"betta": [1, 2]}}, r"grid \(axes: these or dotted paths\) has an unknown key 'betta' "
                                                r"\(did you mean 'beta'"),
    ({"base": {**BASE, "objective": {"name": "lambda"}}, "grid": {"l2_weight": [2, 30]}},
     "'l2_weight', a parameter of the 'lambda-beta' objective only, which 'lambda' does not use"),
    ({"base": {**BASE, "model": {"architecture": "mlp", "hiden": [3]}}}, "unknown key 'hiden'"),
    # the old axis names of the two lambdas say the new ones
    ({"base": BASE, "grid": {"lambda": [2, 30]}}, "grid axis 'lambda' was renamed: paper 000's L2 weight is the "
                                                  "axis 'l2_weight'; paper 002's exponent is"),
    ({"base": BASE, "grid": {"lam": [2]}}, "grid axis 'lam' was renamed"),
])
def test_bad_sweep_configs_are_named(config, message):
    with pytest.raises(UserError, match=message):
        sweep.expand(config)


def test_load_config_reads_toml_and_json(tmp_path):
    (tmp_path / "s.toml").write_text('name = "t"\n[base]\nsteps = 3\n[grid]\nbeta = [1, 4]\n')
    assert sweep.load_config(tmp_path / "s.toml") == {"name": "t", "base": {"steps": 3}, "grid": {"beta": [1, 4]}}
    assert sweep.load_config(write_config(tmp_path)) == TWO_PHASE
    (tmp_path / "bad.toml").write_text("[base\nsteps = 3\n")
    (tmp_path / "bad.json").write_text('{"base": {steps: 3}}')
    (tmp_path / "list.json").write_text("[1, 2]")
    for path, message in [(tmp_path / "none.toml", "does not exist"), (tmp_path, "is a directory"),
                          (write_config(tmp_path, name="s.yaml"), "got s.yaml"),
                          (tmp_path / "bad.toml", f"config {tmp_path / 'bad.toml'} is not valid TOML"),
                          (tmp_path / "bad.json", f"config {tmp_path / 'bad.json'} is not valid JSON: Expecting"),
                          (tmp_path / "list.json", "must hold a table")]:
        with pytest.raises(UserError, match=re.escape(message)):
            sweep.load_config(path)


@pytest.mark.integration
def test_process_pool_runs_both_phases_and_a_rerun_trains_nothing(tmp_path):
    runs = sweep.expand(TWO_PHASE)
    with sweep.executor(workers=1) as pool:
        metrics = sweep.execute(runs, tmp_path, pool, progress=False)
    assert set(metrics) == {r.name for r in runs}
    continued = json.loads((tmp_path / "runs" / "beta=2,seed=0+l2_weight=4" / "config.json").read_text())
    assert continued["init_from"]["step"] == 12 and continued["objective"]["l2_weight"] == 4
    log = [json.loads(line)
           for line in (tmp_path / "runs" / "beta=2,seed=0+l2_weight=4" / "log.jsonl").read_text().splitlines()]
    assert [line["step"] for line in log] == [18] and log[0]["l2_weight"] == 4
    stamps = {r.name: (r.directory(tmp_path) / "metrics.json").stat().st_mtime_ns for r in runs}
    with sweep.executor(workers=1) as pool:
        again = sweep.execute(runs, tmp_path, pool, progress=False)
    assert again == metrics
    assert stamps == {r.name: (r.directory(tmp_path) / "metrics.json").stat().st_mtime_ns for r in runs}


@pytest.mark.integration
def test_dask_local_cluster_with_gpu_resources_and_side_by_side_packs(tmp_path, capsys):
    """`collapse sweep --scheduler` on a LocalCluster whose worker declares a 'GPU' resource; packs of 2 runs."""
    distributed = pytest.importorskip("distributed")
    config = write_config(tmp_path)
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=1, resources={"GPU": 1},
                                  dashboard_address=None) as cluster:
        args = ["sweep", str(config), "--root", str(tmp_path / "out"), "--scheduler", cluster.scheduler_address,
                "--gpus-per-task", "1", "--pack", "2", "--device", "cpu", "--no-progress"]
        assert main(args) == 0
        out = capsys.readouterr().out
        assert "beta=2,seed=0+l2_weight=4" in out and "summary.png" in out
        assert main(["sweep", str(config), "--root", str(tmp_path / "out"), "--dry-run"]) == 0
        assert capsys.readouterr().out.count("done ") == 6
    rows = json.loads((tmp_path / "out" / "summary.json").read_text())["runs"]
    assert [row["run"] for row in rows] == [r.name for r in sweep.expand(TWO_PHASE)]
    assert all(isinstance(row["kl"], float) and row["active_units"] >= 0 for row in rows)
    assert (tmp_path / "out" / "summary.csv").read_text().splitlines()[0].startswith("run,beta,seed")
    assert (tmp_path / "out" / "summary.png").stat().st_size > 0
    first = json.loads((tmp_path / "out" / "runs" / "beta=0.5,seed=0" / "metrics.json").read_text())
    assert first["training"]["models"] == 2  # trained side by side with beta=2


def test_a_failing_run_is_reported_and_the_others_finish(tmp_path):
    runs = sweep.expand({"base": BASE, "grid": {"data.subset": [100, 10 ** 6]}})
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # any concurrent.futures executor
        with pytest.raises(sweep.RunsFailed, match="data.subset=1000000: data.subset must be at most the data size 1797"):
            sweep.execute(runs, tmp_path, pool, progress=False)
    assert (tmp_path / "runs" / "data.subset=100" / "metrics.json").exists()


def test_resuming_with_a_changed_run_config_is_refused(tmp_path):
    runs = sweep.expand({"base": BASE, "grid": {"beta": [1.0]}})
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        sweep.execute(runs, tmp_path, pool, progress=False)
        changed = sweep.expand({"base": {**BASE, "lr": 1e-2}, "grid": {"beta": [1.0]}})
        assert not sweep.finished(changed[0], tmp_path)
        with pytest.raises(sweep.RunsFailed, match="holds a run whose lr differ"):
            sweep.execute(changed, tmp_path, pool, progress=False)


def test_table_and_means_over_seeds():
    rows = [{"run": "a", "beta": 1, "seed": 0, "mig": 0.2}, {"run": "b", "beta": 1, "seed": 1, "mig": 0.4},
            {"run": "c", "beta": 4, "seed": 0, "mig": 0.5}, {"run": "d", "beta": 4, "seed": 1, "mig": None}]
    xs, ys, mean, stderr = sweep.grid_means(rows, "beta", None, "mig")
    assert xs.tolist() == [1, 4] and mean[0].tolist() == pytest.approx([0.3, 0.5])
    assert stderr[0, 0] == pytest.approx(0.1) and stderr[0, 1] != stderr[0, 1]  # one value: no standard error
    text = sweep.table(rows)
    assert text.splitlines()[0].split() == ["run", "beta", "seed", "mig"] and "0.4" in text


def test_resources_need_a_scheduler():
    with pytest.raises(UserError, match="resources need a Dask scheduler"):
        with sweep.executor(resources={"GPU": 1}):
            pass


def test_the_shipped_example_grid_expands_and_lists(tmp_path, capsys):
    """examples/grid.toml (the README's sweep, with an unquoted dotted axis): 16 runs, each continued 3 ways."""
    from collapse import ROOT

    path = ROOT / "examples" / "grid.toml"
    runs = sweep.expand(sweep.load_config(path))
    first = [r for r in runs if r.init_from is None]
    assert len(first) == 16 and len(runs) == 16 + 48
    assert {r.config["objective"]["warmup_steps"] for r in first} == {0, 200}
    assert {r.config["objective"]["name"] for r in runs if r.init_from} == {"beta", "lambda-beta"}
    assert main(["sweep", str(path), "--root", str(tmp_path / "out"), "--dry-run"]) == 0
    assert capsys.readouterr().out.count("todo  ") == 64 and not (tmp_path / "out").exists()
