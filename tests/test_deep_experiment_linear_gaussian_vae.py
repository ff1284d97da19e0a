"""`collapse experiment linear-gaussian-vae`: the grid of the two-phase protocol, the criteria on known numbers, a smoke run."""
import json

import numpy as np
import pytest

from collapse.cli import main
from deep.experiments import linear_gaussian_vae as experiment

pytestmark = pytest.mark.deep


def test_grid_has_both_phases_and_the_lambda_0_column_is_the_beta_vae():
    cfg = experiment.config()
    runs = experiment.runs(cfg)
    first = [r for r in runs if r.init_from is None]
    second = [r for r in runs if r.init_from is not None]
    assert len(first) == len(cfg["datasets"]) * len(cfg["betas"]) * len(cfg["seeds"])
    assert len(second) == len(cfg["betas"]) * len(cfg["seeds"]) * len(cfg["l2_weights"])
    names = {r.name: r for r in runs}
    for r in second:
        parent = names[r.init_from]
        assert parent.values["beta"] == r.values["beta"] and parent.values["seed"] == r.values["seed"]
        assert r.config["steps"] == cfg["phase1_steps"] + cfg["phase2_steps"] and r.values["data"] == "dsprites"
        assert {k: v for k, v in r.config.items() if k not in ("objective", "steps")} == \
               {k: v for k, v in parent.config.items() if k not in ("objective", "steps")}
        warmup = {"warmup_steps": cfg["warmup_steps"], "warmup_start": 0}
        if r.values["l2_weight"]:
            assert r.config["objective"] == {"name": "lambda-beta", "beta": r.values["beta"],
                                             "l2_weight": r.values["l2_weight"], "phase1_steps": cfg["phase1_steps"], **warmup}
        else:
            assert r.config["objective"] == parent.config["objective"] == {"name": "beta", "beta": r.values["beta"],
                                                                           **warmup}
    assert all(r.config["model"]["init_logvar"] == cfg["init_logvar"] for r in runs)


def fake_metrics(runs, mig, nll, mse=None):
    """Metrics whose MIG/SAP/NLL/MSE are given functions of the grid values (seed adds a small jitter)."""
    out = {}
    for r in runs:
        v = r.values
        jitter = 1e-3 * v["seed"]
        mi = np.zeros((3, 2))
        mi[0, 0], mi[1, 1], mi[2, 0] = 1.0, 1.0, 0.5 if v["beta"] < 8 else 0.05
        out[r.name] = {"mig": mig(v) + jitter, "sap": mig(v) + jitter, "active_units": 0 if v["beta"] > 100 else 3,
                       "kl": 0.01 if v["beta"] > 100 else 20.0,
                       "mutual_information": (mi * (0.01 if v["beta"] > 100 else 1)).tolist(),
                       "reconstruction_nll": nll(v) + jitter, "reconstruction_mse": (mse or nll)(v) + jitter}
    return out


def test_criteria_hold_on_a_grid_that_shows_the_paper_and_fail_on_one_that_does_not():
    cfg = experiment.config()
    runs = experiment.runs(cfg)
    peak = {1.0: 0.1, 8.0: 0.3, 64.0: 0.2, 256.0: 0.01}

    def paper_mig(v):  # rise and fall; lambda > 0 restores at high beta
        return peak[v["beta"]] + (0.1 * v["l2_weight"] / 32 if v.get("l2_weight") and v["beta"] > 8 else 0.0)

    def paper_nll(v):
        return 100 * np.log2(v["beta"]) - (50 * v["l2_weight"] / 32 if v.get("l2_weight") else 0.0)

    metrics = fake_metrics(runs, paper_mig, paper_nll)
    p1 = experiment.prediction_1(cfg, runs, metrics)
    assert all(block["criteria"]["rise_and_fall"]["holds"] and block["criteria"]["collapse"]["holds_as_fixed"]
               and block["criteria"]["collapse"]["holds_kl_bound"] for block in p1.values())
    p2, grid = experiment.prediction_2(cfg, runs, metrics)
    assert p2["criterion"]["holds"]
    s6 = experiment.section_6(cfg, grid)
    assert [s["beta"] for s in s6["selections"]][0] <= [s["beta"] for s in s6["selections"]][-1]
    assert s6["criteria"]["lambda_recovers_reconstruction"]["holds"]
    assert experiment.appendix_f(cfg, grid)["blur_at_l2_weight_0"]["holds"]
    flat = fake_metrics(runs, lambda v: 0.2, lambda v: 100.0)
    assert not experiment.prediction_1(cfg, runs, flat)["dsprites"]["criteria"]["rise_and_fall"]["holds"]
    assert not experiment.prediction_2(cfg, runs, flat)[0]["criterion"]["holds"]


def test_localisation_is_the_share_of_the_best_latent():
    metrics = {"mutual_information": [[0.6, 0.0], [0.2, 0.5], [0.2, 0.5]]}
    assert experiment.localisation(metrics) == pytest.approx((0.6 + 0.5) / 2)
    assert experiment.factor_information(metrics) == pytest.approx(1.1)


@pytest.mark.integration
def test_smoke_run_writes_a_well_formed_result(tmp_path):
    out = tmp_path / "out"
    assert main(["experiment", "linear-gaussian-vae", "--smoke", "--workers", "0", "--output-dir", str(out),
                 "--work-dir", str(tmp_path / "work"), "--no-progress"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert (out / "config.toml").is_file() and len(list((out / "runs").iterdir())) == len(result["records"])
    cfg = experiment.config(smoke=True)
    assert cfg == result["config"] and result["provenance"]["scale"]["description"].startswith("smoke")
    assert set(result["prediction_1"]) == set(cfg["datasets"])
    for block in result["prediction_1"].values():
        assert set(block["beta"]) == {f"{b:g}" for b in cfg["betas"]}
        assert set(block["criteria"]) == {"rise_and_fall", "collapse"}
    assert len(result["prediction_2"]["cells"]) == len(cfg["betas"]) * len(cfg["l2_weights"])
    assert len(result["section_6"]["selections"]) == len(cfg["preferences"])
    for key in ("blur_at_l2_weight_0", "localisation", "holds"):
        assert key in result["appendix_f"]
    for name in result["figures"]:
        assert (out / "figures" / name).stat().st_size > 5_000
