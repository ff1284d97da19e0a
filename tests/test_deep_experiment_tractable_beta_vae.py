"""The §V experiment of [optimal_beta] (deep/experiments/tractable_beta_vae.py) and the deep/ pieces
it added: x = A s + η data with digit columns, tanh MLPs with separate decoder widths, a smoke run
of the whole pipeline (train, resume, measure, theory, criteria, JSON, CSV, PNG) and bad input.
"""
import csv

import numpy as np
import pytest
import torch

from collapse.cli import main
from deep.data import DigitCanvas, LinearMixture, digit_mixing
from deep.experiments import tractable_beta_vae as experiment
from deep.models import build_model
from numerics import tractable_beta_vae as t

pytestmark = pytest.mark.deep


def test_digit_mixing_has_one_digit_per_column():
    A = digit_mixing(10)
    assert A.shape == (64, 10) and A.min() == 0.0 and A.max() == 1.0
    assert np.linalg.matrix_rank(A) == 10
    assert np.array_equal(digit_mixing(3), A[:, :3])
    with pytest.raises(ValueError, match="k must be at most 10"):
        digit_mixing(11)
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        digit_mixing(0)


def test_linear_mixture_has_the_covariance_of_eq_18():
    A = digit_mixing(4)
    data = LinearMixture(A, 50_000, seed=3)
    x = data.observations(np.arange(len(data))).astype(float)
    S = t.Sigma_x(A)
    stderr = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S**2) / len(x))   # Var(x_i x_j), centred Gaussian
    assert np.max(np.abs(x.T @ x / len(x) - S) / stderr) < 5
    s = data.factor_values(np.arange(len(data)))
    residual = x - s @ A.T   # = η
    assert abs(residual.var() - 1) < 0.01 and np.abs(residual.T @ s / len(x)).max() < 0.03
    assert set(np.unique(data.factor_classes(np.arange(len(data))))) == set(range(10))
    again = LinearMixture(A, 50_000, seed=3).observations(np.arange(5))
    assert np.array_equal(again, data.observations(np.arange(5)))


@pytest.mark.parametrize("A, message", [
    (np.ones((2, 3)), "A's number of rows N must be an integer >= 3"),
    (np.ones(4), "A must have 2 dimension"),
    (np.full((4, 2), np.nan), "A must be finite"),
])
def test_linear_mixture_refuses_a_bad_mixing_matrix(A, message):
    with pytest.raises(ValueError, match=message):
        LinearMixture(A, 10)


def test_tanh_mlp_with_its_own_decoder_widths():
    spec = {"architecture": "mlp", "m": 3, "hidden": [8, 5], "decoder_hidden": [4, 6], "activation": "tanh"}
    model = build_model(spec, (7,))
    linear = [layer.out_features for layer in model.decoder.net if isinstance(layer, torch.nn.Linear)]
    assert linear == [4, 6, 7]
    assert [layer.out_features for layer in model.encoder.net if isinstance(layer, torch.nn.Linear)] == [8, 5, 6]
    assert any(isinstance(layer, torch.nn.Tanh) for layer in model.encoder.net)
    assert not any(isinstance(layer, torch.nn.ReLU) for layer in model.decoder.net)
    with pytest.raises(ValueError, match="activation must be one of"):
        build_model({**spec, "activation": "gelu"}, (7,))


@pytest.mark.parametrize("change, message", [
    ({"betas": [1.0, 0.0]}, r"betas must lie in \(0, inf\)"),
    ({"betas": [-1.0, 2.0]}, r"betas must lie in \(0, inf\)"),
    ({"betas": [2.0, 1.0]}, "betas must be at least 2 increasing values"),
    ({"seeds": []}, "seeds must be a non-empty list"),
    ({"steps": 0}, "steps must be an integer >= 1"),
    ({"regimes": {"paper": 0}}, r"regimes\['paper'\] must be an integer >= 1"),
    ({"k": 0}, "k must be an integer >= 1"),
    ({"setting": "rings"}, "setting must be one of"),
    ({"step": 3}, r"unknown key 'step' \(did you mean 'steps'\?\)"),
    ({"A": [[1.0, 0.0], [0.0, 1.0]]}, "the 'canvas' setting only"),
])
def test_bad_mixture_configurations_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        experiment.check_config({**experiment.config("mixture", smoke=True), **change})


@pytest.mark.parametrize("change, message", [
    ({"A": [[1.0, 2.0, 3.0]]}, "A's number of rows N must be an integer >= 3"),
    ({"A": [[1.0, np.inf], [0.0, 1.0]]}, "A must be finite"),
    ({"size": 4}, "size must be an integer >= 8"),
])
def test_bad_canvas_configurations_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        experiment.check_config({**experiment.config("canvas", smoke=True), **change})


def test_more_sources_than_pixels_is_refused(tmp_path):
    cfg = {**experiment.config("mixture", smoke=True), "k": 11}
    with pytest.raises(ValueError, match="k must be at most 10"):
        experiment.experiment(cfg, tmp_path / "out", tmp_path / "nets", progress=False)


def test_digit_canvas_places_the_digit_at_x():
    A = np.array(experiment.config("canvas")["A"])
    data = DigitCanvas(A, 2000, seed=0)
    images = data.observations(np.arange(len(data))).reshape(-1, 24, 24)
    x = data.mixed(np.arange(len(data)))
    inside = np.all(np.abs(x) < 7, axis=1)   # the whole digit on the canvas: its mass is conserved
    assert np.allclose(images[inside].sum((1, 2)), data.image.sum(), rtol=1e-5)
    rows, cols = np.arange(24)[:, None], np.arange(24)[None, :]
    mass = images[inside].sum((1, 2))
    centre = np.stack([(images[inside] * cols).sum((1, 2)), (images[inside] * rows).sum((1, 2))], 1) / mass[:, None]
    digit_centre = np.array([(data.image * np.arange(8)[None, :]).sum(), (data.image * np.arange(8)[:, None]).sum()])
    assert np.allclose(centre, 8 + x[inside] + digit_centre / data.image.sum(), atol=1e-4)
    s = data.factor_values(np.arange(len(data)))
    assert np.max(np.abs(np.cov((x - s @ A.T).T) - np.eye(2))) < 0.1
    with pytest.raises(ValueError, match="A must be 2 x 2"):
        DigitCanvas(np.ones((3, 2)), 5)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """`collapse experiment optimal-beta --smoke`, run twice: the second run resumes every network."""
    root = tmp_path_factory.mktemp("smoke")
    args = ["experiment", "optimal-beta", "--smoke", "--output-dir", str(root / "out"),
            "--work-dir", str(root / "nets"), "--no-progress"]
    assert main(args) == 0
    first = {s: _result(root, s) for s in experiment.SETTINGS}
    assert main([*args, "--setting", "mixture"]) == 0
    return root, first, _result(root, "mixture")


def _result(root, setting):
    return experiment.stored(setting, root=root / "out", default=experiment.config(setting, smoke=True))


@pytest.mark.parametrize("setting", experiment.SETTINGS)
@pytest.mark.integration
def test_smoke_run_writes_a_complete_result(smoke, setting):
    root, results, _ = smoke
    result, cfg = results[setting], experiment.config(setting, smoke=True)
    assert result["config"] == cfg
    assert result["provenance"]["seeds"] == list(cfg["seeds"])
    assert result["provenance"]["scale"]["description"].startswith("smoke")
    A = np.array(result["A"])
    assert A.shape == ((64, cfg["k"]) if setting == "mixture" else (2, 2))
    assert len(result["runs"]) == len(cfg["regimes"]) * len(cfg["betas"]) * len(cfg["seeds"])
    assert set(result["regimes"]) == set(cfg["regimes"])
    for regime, splits in result["regimes"].items():
        assert set(splits) == ({"heldout"} if experiment.size(cfg, regime) is None else {"heldout", "train"})
        for split in splits.values():
            for q in experiment.QUANTITIES:
                assert np.array(split["summary"][q]["per_seed"]).shape == (len(cfg["betas"]), len(cfg["seeds"]))
                assert np.all(np.isfinite(split["summary"][q]["mean"]))
            assert set(split["criteria"]) >= {"kl_decreases", "elbo_max_near_1", "tie_finite_optimum",
                                              "tie_best_finite_optimum", "tie_seed_min_finite_optimum"}
            assert ("agreement" in split) == (setting == "mixture")
    assert ("theory" in result) == (setting == "mixture")
    for run in result["runs"]:
        h = run["heldout"]
        assert h["tie_best"] <= h["tie"] + 1e-9 and h["kl"] >= 0 and len(h["latent_kl"]) == A.shape[1]
        assert h["elbo"] == pytest.approx(h["reconstruction"] - h["kl"])
    assert (root / "out" / setting / "figures" / experiment.FIGURES[setting]).stat().st_size > 20_000
    with open(root / "out" / setting / "figures" / f"{setting}.csv") as fh:
        rows = list(csv.DictReader(fh))
    splits = sum(len(v) for v in result["regimes"].values())
    assert len(rows) == splits * len(cfg["betas"]) and "tie_best_mean" in rows[0]
    assert ("theory_tie_best" in rows[0]) == (setting == "mixture")


@pytest.mark.integration
def test_smoke_rerun_resumes_to_the_same_numbers(smoke):
    root, first, second = smoke
    assert first["mixture"]["runs"] == second["runs"] and first["mixture"]["regimes"] == second["regimes"]
    ckpt = torch.load(root / "nets" / "mixture" / "paper" / "beta2-seed1" / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == experiment.config(smoke=True)["steps"]


@pytest.mark.integration
def test_smoke_theory_is_the_tractable_model(smoke):
    _, first, _ = smoke
    result = first["mixture"]
    A = np.array(result["A"])
    assert np.array_equal(A, digit_mixing(result["config"]["k"]))
    for g, beta in enumerate(result["config"]["betas"]):
        q = t.quantities(t.optimum(A, beta), A, beta)
        assert result["theory"]["elbo"][g] == pytest.approx(q.elbo, rel=1e-12)
        assert result["theory"]["tie_best"][g] <= result["theory"]["tie_mean"][g] * (1 + 1e-12)
