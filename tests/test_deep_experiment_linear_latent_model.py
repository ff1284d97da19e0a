"""`collapse experiment linear-latent-model`: the data spectrum, the theory it predicts, and a smoke run."""
import json

import numpy as np
import pytest

from collapse.cli import main
from deep.data import ArrayData, Digits
from deep.experiments import linear_latent_model as experiment
from numerics import linear_latent_model as llm

pytestmark = pytest.mark.deep


def test_zeta_is_the_spectrum_of_numerics_linear_latent_model_for_y_equal_x():
    """The Gram-matrix route against llm.spectrum of the centred moments (A, M) = moments(X, X, center=True)."""
    data = Digits()
    X = data.observations(np.arange(len(data))).astype(np.float64)
    A, M, residual = llm.moments(X, X, center=True)
    reference = llm.spectrum(A, M).zeta
    mine = experiment.zeta(data)
    assert residual == pytest.approx(0.0, abs=1e-10)
    k = int(np.sum(reference > 1e-6 * reference[0]))
    np.testing.assert_allclose(mine[:k], reference[:k], rtol=1e-9)
    wide = ArrayData(np.random.default_rng(0).random((20, 50)), np.zeros(20, int))  # n < D: the n x n Gram matrix
    x = wide.observations(np.arange(20)).astype(np.float64)
    sv = np.linalg.svd(x - x.mean(0), compute_uv=False) / np.sqrt(20)
    np.testing.assert_allclose(experiment.zeta(wide)[:19], sv[:19], rtol=1e-9)


def test_theory_switches_each_mode_off_at_its_threshold():
    zeta = np.array([4.0, 3.0, 2.0, 1.0])
    betas = [z ** 2 * f for z in zeta for f in (0.99, 1.01)]
    t = experiment.theory(zeta, betas, m=3, eta_dec=1.0, threshold=0.0)
    assert t["surviving"] == [1, 0, 2, 1, 3, 2, 3, 3]
    assert t["active_units"] == t["surviving"]  # threshold 0: Var mu_i > 0 iff the mode survives
    assert t["kl"][1] == 0.0 and t["kl"][0] == pytest.approx(-np.log(np.sqrt(0.99)))  # KL = -log sigma* = log(zeta/sqrt(beta))
    np.testing.assert_allclose(t["latent_variance"][6], 1 - 1.0 ** 2 * 0.99 / zeta[:3] ** 2)
    strict = experiment.theory(zeta, [1.0], m=3, eta_dec=0.5, threshold=0.95)  # Var mu_i = 1 - beta eta^2 / zeta_i^2
    assert strict["active_units"] == [2] and strict["surviving"] == [3]


@pytest.mark.integration
def test_smoke_run_writes_a_well_formed_result(tmp_path):
    out = tmp_path / "out"
    assert main(["experiment", "linear-latent-model", "--smoke", "--workers", "0", "--output-dir", str(out),
                 "--work-dir", str(tmp_path / "work"), "--no-progress"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert (out / "config.toml").is_file() and len(list((out / "runs").iterdir())) == len(result["records"])
    cfg = experiment.config(smoke=True)
    assert cfg == result["config"] and result["provenance"]["scale"]["description"].startswith("smoke")
    assert result["provenance"]["seeds"] == list(cfg["seeds"]) and result["provenance"]["device"] == "cpu"
    assert [r["multiple"] for r in result["rows"]] == list(cfg["multiples"])
    for row in result["rows"]:
        assert row["beta"] == pytest.approx(row["multiple"] * result["beta_c"])
        assert len(row["active_units"]) == len(row["kl"]) == len(row["collapsed"]) == len(cfg["seeds"])
        assert len(row["latent_variance"][0]) == cfg["m"] and len(row["theory"]["latent_variance"]) == cfg["m"]
        assert [step for step, _ in row["kl_during_training"][0]][-1] == cfg["pretrain_steps"] + cfg["steps"]
    assert result["beta_c"] == pytest.approx(result["zeta_squared"][0] / cfg["eta_dec"] ** 2)
    assert isinstance(result["criterion"]["transfers"], bool)
    assert (out / "figures" / result["figure"]).stat().st_size > 10_000
    run_config = json.loads((tmp_path / "work" / "runs" / "x2,seed=0" / "config.json").read_text())
    assert run_config["objective"] == {"name": "beta", "beta": pytest.approx(2 * result["beta_c"]),
                                       "warmup_start": cfg["pretrain_steps"], "warmup_steps": cfg["ramp_steps"]}
    assert run_config["init_from"]["step"] == cfg["pretrain_steps"] and run_config["model"]["init_logvar"] == -6.0
