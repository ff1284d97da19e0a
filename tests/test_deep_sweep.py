"""deep.sweep and `collapse sweep`: grid expansion, a process pool, a Dask LocalCluster, resumption, failures."""
import concurrent.futures
import json

import pytest

from collapse.cli import main
from deep import sweep

pytestmark = pytest.mark.deep

BASE = {"steps": 12, "batch_size": 32, "lr": 3e-3, "log_every": 6, "checkpoint_every": 6,
        "data": {"name": "digits"}, "model": {"architecture": "mlp", "m": 2, "hidden": [16]},
        "objective": {"name": "beta"}, "evaluation": {"samples": 100, "dci": False}}
TWO_PHASE = {"name": "tiny", "base": BASE, "grid": {"beta": [0.5, 2.0], "seed": [0]},
             "then": {"steps": 18, "objective": {"name": "lambda-beta", "phase1_steps": 12}, "grid": {"lam": [0, 4]}}}


def write_config(tmp_path, config=TWO_PHASE, name="sweep.json"):
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return path


def test_expand_builds_the_grid_and_the_second_phase():
    runs = sweep.expand(TWO_PHASE)
    assert [r.name for r in runs] == ["beta=0.5,seed=0", "beta=2,seed=0", "beta=0.5,seed=0+lam=0",
                                      "beta=0.5,seed=0+lam=4", "beta=2,seed=0+lam=0", "beta=2,seed=0+lam=4"]
    first, lam0, lam4 = runs[0], runs[2], runs[3]
    assert first.config["objective"] == {"name": "beta", "beta": 0.5} and first.init_from is None
    assert lam0.config["objective"] == {"name": "beta", "beta": 0.5}  # lam = 0 is the beta-VAE column
    assert lam4.config["objective"] == {"name": "lambda-beta", "beta": 0.5, "lam": 4, "phase1_steps": 12}
    assert lam4.init_from == "beta=0.5,seed=0" and lam4.config["steps"] == 18
    assert lam4.values == {"beta": 0.5, "seed": 0, "lam": 4}
    assert first.config["checkpoint_every"] == 6 and first.config["seed"] == 0
    dotted = sweep.expand({"base": BASE, "grid": {"objective.warmup_steps": [0, 5], "data": ["digits"]}})
    assert [r.config["objective"].get("warmup_steps") for r in dotted] == [0, 5]


@pytest.mark.parametrize("config, message", [
    ({"grid": {"beta": [1]}}, r"needs a \[base\] table"),
    ({"base": BASE, "grid": {"beta": 1}}, "must be a non-empty list"),
    ({"base": BASE, "grid": {"beta": []}}, "must be a non-empty list"),
    ({"base": {**BASE, "epochs": 3}}, r"unknown field\(s\) \['epochs'\]"),
    ({"base": {k: v for k, v in BASE.items() if k != "steps"}}, r"needs \['steps'\]"),
    ({"base": BASE, "sweep": {}}, r"unknown key\(s\) \['sweep'\]"),
    ({"base": BASE, "grid": {"seed": [0, 0]}}, "the same name"),
])
def test_bad_sweep_configs_are_named(config, message):
    with pytest.raises(ValueError, match=message):
        sweep.expand(config)


def test_load_config_reads_toml_and_json(tmp_path):
    (tmp_path / "s.toml").write_text('name = "t"\n[base]\nsteps = 3\n[grid]\nbeta = [1, 4]\n')
    assert sweep.load_config(tmp_path / "s.toml") == {"name": "t", "base": {"steps": 3}, "grid": {"beta": [1, 4]}}
    assert sweep.load_config(write_config(tmp_path)) == TWO_PHASE
    for path, message in [(tmp_path / "none.toml", "does not exist"), (write_config(tmp_path, name="s.yaml"), "got s.yaml")]:
        with pytest.raises(ValueError, match=message):
            sweep.load_config(path)


def test_process_pool_runs_both_phases_and_a_rerun_trains_nothing(tmp_path):
    runs = sweep.expand(TWO_PHASE)
    with sweep.executor(workers=1) as pool:
        metrics = sweep.execute(runs, tmp_path, pool, progress=False)
    assert set(metrics) == {r.name for r in runs}
    continued = json.loads((tmp_path / "runs" / "beta=2,seed=0+lam=4" / "config.json").read_text())
    assert continued["init_from"]["step"] == 12 and continued["objective"]["lam"] == 4
    log = [json.loads(line) for line in (tmp_path / "runs" / "beta=2,seed=0+lam=4" / "log.jsonl").read_text().splitlines()]
    assert [line["step"] for line in log] == [18] and log[0]["lam"] == 4
    stamps = {r.name: (r.directory(tmp_path) / "metrics.json").stat().st_mtime_ns for r in runs}
    with sweep.executor(workers=1) as pool:
        again = sweep.execute(runs, tmp_path, pool, progress=False)
    assert again == metrics
    assert stamps == {r.name: (r.directory(tmp_path) / "metrics.json").stat().st_mtime_ns for r in runs}


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
        assert "beta=2,seed=0+lam=4" in out and "summary.png" in out
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
        with pytest.raises(RuntimeError, match="data.subset=1000000: ValueError: subset must be at most the data size 1797"):
            sweep.execute(runs, tmp_path, pool, progress=False)
    assert (tmp_path / "runs" / "data.subset=100" / "metrics.json").exists()


def test_resuming_with_a_changed_run_config_is_refused(tmp_path):
    runs = sweep.expand({"base": BASE, "grid": {"beta": [1.0]}})
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        sweep.execute(runs, tmp_path, pool, progress=False)
        changed = sweep.expand({"base": {**BASE, "lr": 1e-2}, "grid": {"beta": [1.0]}})
        assert not sweep.finished(changed[0], tmp_path)
        with pytest.raises(RuntimeError, match="holds a run whose lr differ"):
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
    with pytest.raises(ValueError, match="resources need a Dask scheduler"):
        with sweep.executor(resources={"GPU": 1}):
            pass
