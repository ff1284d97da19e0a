"""`collapse experiment lambda-vae-conv`: the criteria on known numbers and a smoke run."""
import json

import numpy as np
import pytest

from collapse.cli import main
from deep.experiments import lambda_vae_conv as experiment
from numerics import lambda_vae as lv

pytestmark = pytest.mark.deep


def fake(cfg, runs, sigma_of):
    """Metrics in which the model decides the active units and sigma_i; the lambda-VAE sits on eq. (13) and (16)."""
    out = {}
    delta = cfg["models"]["lambda"]["delta"]
    for r in runs:
        sigma = np.asarray(sigma_of(r.values["model"], cfg["m"]))
        lam = np.minimum(20.0, lv.lambda_star(sigma, delta)) if r.values["model"] == "lambda" else np.ones(cfg["m"])
        out[r.name] = {"active_units": int(np.sum(sigma < 0.95)), "sigma_mean": sigma.tolist(), "exponent": lam.tolist(),
                       "latent_variance": (1 - sigma).tolist(), "snr_capacity": 1.0, "decoder_capacity": 1.0,
                       "reconstruction_nll": 1.0, "kl": 1.0}
    return out


def test_criteria_on_known_numbers():
    cfg = experiment.config()
    runs = experiment.runs(cfg)
    lam_j, sigma_j = lv.joint_fixed_point(cfg["models"]["lambda"]["delta"])
    seed_shift = {}

    def equalised(model, m):
        if model == "lambda":
            return np.full(m, float(sigma_j))  # every dimension at the joint fixed point
        spread = np.linspace(0.1, 0.99, m) if model == "vae" else np.linspace(0.2, 0.99, m)
        seed_shift[model] = seed_shift.get(model, 0) + 1
        return np.where(np.arange(m) < m // 2 + seed_shift[model] % 2, spread, 1.0)
    result = experiment.analyse(cfg, runs, fake(cfg, runs, equalised))
    assert result["criteria"]["active_units"]["holds"]
    assert result["criteria"]["equalisation"]["holds"] and result["criteria"]["on_the_curve"]["holds"]
    assert result["joint_fixed_point"]["sigma"] == pytest.approx(float(sigma_j))
    same = experiment.analyse(cfg, runs, fake(cfg, runs, lambda model, m: np.linspace(0.3, 0.99, m)))
    assert not same["criteria"]["active_units"]["holds"] and not same["criteria"]["equalisation"]["holds"]


@pytest.mark.integration
def test_smoke_run_writes_a_well_formed_result(tmp_path):
    out = tmp_path / "out"
    assert main(["experiment", "lambda-vae-conv", "--smoke", "--workers", "0", "--output-dir", str(out),
                 "--work-dir", str(tmp_path / "work"), "--no-progress"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert (out / "config.toml").is_file() and len(list((out / "runs").iterdir())) == len(result["records"])
    cfg = experiment.config(smoke=True)
    assert cfg == result["config"] and result["provenance"]["scale"]["description"].startswith("smoke")
    assert set(result["models"]) == set(cfg["models"])
    for block in result["models"].values():
        assert len(block["active_units"]) == len(cfg["seeds"])
        assert all(len(d["sigma"]) == len(d["lambda"]) == cfg["m"] for d in block["dimensions"])
    assert set(result["criteria"]) == {"active_units", "equalisation", "on_the_curve"}
    assert (out / "figures" / result["figure"]).stat().st_size > 10_000
