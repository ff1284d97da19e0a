"""The lambda-VAE experiment of [lambda_vae] §6.2-6.3 (deep/experiments/lambda_vae.py) and the deep/
pieces it added: binarised and split digits, the Gaussian mixture, the reconstruction gradient g^sigma
and the gradient ratios, the Monte Carlo I(X;Z) estimator, and a smoke run of the whole pipeline.
"""
import numpy as np
import pytest
import torch
from torch import nn

from deep import metrics
from deep.data import Digits, GaussianMixture, build_data
from deep.models import VAE, Gaussian

pytestmark = pytest.mark.deep


# ---------------------------------------------------------------- data


def test_digits_split_is_a_partition_and_binarisation_keeps_the_grey_level():
    grey = Digits()
    train, test = Digits(binarize="stochastic", split="train"), Digits(binarize="stochastic", split="test")
    assert len(train) + len(test) == len(grey) == 1797 and len(test) == 360
    x = train.observations(np.arange(len(train)))
    assert set(np.unique(x)) == {0.0, 1.0}
    # the whole binarised set, split back together, has the grey levels as pixel means
    both = Digits(binarize="stochastic").observations(np.arange(1797))
    assert abs(both.mean() - grey.observations(np.arange(1797)).mean()) < 5 * np.sqrt(0.25 / both.size)
    rows = lambda d: {r.tobytes() for r in d.observations(np.arange(len(d)))}
    assert len(rows(Digits(binarize="threshold", split="test"))) > 300
    assert Digits(split="train").factor_classes(np.arange(5)).shape == (5, 1)
    with pytest.raises(ValueError, match="binarize"):
        Digits(binarize="yes")
    with pytest.raises(ValueError, match="split"):
        Digits(split="valid")


def test_gaussian_mixture_moments_and_balance():
    data = GaussianMixture(means=[[-2.0, 0.0], [2.0, 0.0]], stds=[[1.0, 0.2], [1.0, 0.2]], n=20_000, seed=1)
    x, c = data.observations(np.arange(len(data))), data.factor_classes(np.arange(len(data))).ravel()
    assert np.bincount(c).tolist() == [10_000, 10_000]
    assert np.allclose(x[c == 1].mean(0), [2.0, 0.0], atol=5 * 1.0 / np.sqrt(10_000))
    assert np.allclose(x.std(0), [np.sqrt(5.0), 0.2], rtol=0.03)
    assert build_data({"name": "mixture", "n": 40}).observations(np.arange(40)).shape == (40, 2)
    with pytest.raises(ValueError, match="stds"):
        GaussianMixture(stds=[0.5, -1.0])
    with pytest.raises(ValueError, match="data has an unknown key 'variance'; valid keys: name, subset, subset_seed, "
                                         "means, stds, n, seed"):
        build_data({"name": "mixture", "variance": 1.0})


# ---------------------------------------------------------------- g^sigma and rho against a linear decoder


class _Fixed(nn.Module):
    """mu = x A^T, log sigma^2 = x b + c: an encoder with known outputs."""

    def __init__(self, A, b, c):
        super().__init__()
        self.A, self.b, self.c = (torch.as_tensor(v, dtype=torch.float32) for v in (A, b, c))

    def forward(self, x):
        return x @ self.A.T, x @ self.b + self.c


def test_gradient_ratios_match_the_linear_decoder_closed_form():
    """log p = -||x - Wz||^2 / 2 eta^2: g_i = -(W^T W)_ii E[sigma_i^lambda] / eta^2 exactly (eq. 19),
    and the amplified g is -(W^T W)_ii E[lambda sigma_i^(2 lambda - 1)] / eta^2 (eq. 11)."""
    from deep.evaluate import encode

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n, m, eta = 3, 2, 0.7
    W = rng.normal(size=(n, m))
    decoder = nn.Linear(m, n, bias=False)
    decoder.weight.data = torch.as_tensor(W, dtype=torch.float32)
    model = VAE(_Fixed(rng.normal(size=(m, n)), rng.normal(0, 0.3, size=(n, m)), [-0.5, -1.0]), decoder,
                Gaussian(eta), m)
    data = GaussianMixture(means=[[0.0] * n], stds=[1.0] * n, n=40_000, seed=2)
    lam = np.array([1.0, 3.0])
    enc = encode(model, data, np.arange(len(data)), exponent=lam, seed=0, batch_size=4096)
    r = metrics.gradient_ratios(enc["grad_eps"], enc["logvar"], lam)
    sigma = np.exp(0.5 * enc["logvar"])
    wtw = np.diag(W.T @ W)
    exact_g = -wtw * (sigma ** lam).mean(0) / eta**2
    exact_eff = -wtw * (lam * sigma ** (2 * lam - 1)).mean(0) / eta**2
    stderr = enc["grad_eps"].std(0, ddof=1) / np.sqrt(len(data))
    np.testing.assert_allclose(r["g_sigma_stderr"], stderr, rtol=1e-12)
    assert np.all(np.abs(r["g_sigma"] - exact_g) < 5 * stderr)
    assert np.all(np.abs(r["g_sigma_effective"] - exact_eff) < 5 * r["g_sigma_effective_stderr"])
    np.testing.assert_allclose(r["kl_force"], (1 / sigma - sigma).mean(0), rtol=1e-12)
    np.testing.assert_allclose(r["rho"], np.abs(r["g_sigma"]) / np.abs(r["kl_force"]), rtol=1e-12)
    assert r["rho"][0] == r["rho_effective"][0]          # lambda = 1: no amplification
    with pytest.raises(ValueError, match="exponent"):
        metrics.gradient_ratios(enc["grad_eps"], enc["logvar"], [1.0, 0.5])
    with pytest.raises(ValueError, match="logvar"):
        metrics.gradient_ratios(enc["grad_eps"], enc["logvar"][:, :1], lam)


# ---------------------------------------------------------------- Monte Carlo I(X;Z)


@pytest.mark.parametrize("scale", [0.05, 0.5, 3.0])
def test_monte_carlo_information_matches_quadrature(scale):
    """Against numerics.lambda_vae.finite_data_information (Gauss-Hermite quadrature of the same
    finite-data I(X;Z), no sampling) within 5 standard errors; gap = log N - I."""
    from numerics.lambda_vae import finite_data_information

    rng = np.random.default_rng(3)
    mu = rng.normal(size=(40, 2))
    noise = scale * rng.uniform(0.5, 1.5, size=(40, 2))
    mc = metrics.mutual_information(mu, noise, samples=500, seed=4)
    exact = finite_data_information(mu, noise, order=48)
    assert abs(mc["estimate"] - exact.mutual_information) < 5 * mc["stderr"] + 1e-9
    assert mc["log_n"] == pytest.approx(np.log(40)) and mc["gap"] == pytest.approx(np.log(40) - mc["estimate"])
    assert abs(mc["gap"] - exact.gap) < 5 * mc["stderr"] + 1e-9
    with pytest.raises(ValueError, match="noise_std"):
        metrics.mutual_information(mu, -noise)


# ---------------------------------------------------------------- the pipeline, at toy size


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """`collapse experiment lambda-vae --smoke`: both studies end to end, in this process (about 20 s
    of one core; worker pools are tested in test_deep_sweep.py)."""
    from collapse.cli import main

    out = tmp_path_factory.mktemp("lambda_vae")
    assert main(["experiment", "lambda-vae", "--smoke", "--workers", "0", "--output-dir", str(out), "--no-progress",
                 "--work-dir", str(tmp_path_factory.mktemp("lambda_vae_work"))]) == 0
    return out


def _smoke_result(out, study):
    from deep.experiments import lambda_vae

    return lambda_vae.stored(study, root=out, default=lambda_vae.default(study, smoke=True))


@pytest.mark.parametrize("study", ["synthetic", "digits"])
@pytest.mark.integration
def test_smoke_run_writes_well_formed_results(smoke, study):
    from deep.experiments.lambda_vae import default

    result = _smoke_result(smoke, study)
    config = default(study, smoke=True)
    assert result["config"] == config
    assert {"commit", "dirty", "date", "versions", "device", "seeds", "scale"} <= set(result["provenance"])
    assert result["provenance"]["seeds"] == list(config["seeds"])
    assert result["provenance"]["scale"]["description"].startswith("smoke")
    settings = list(config["settings"]) if study == "synthetic" else ["digits"]
    assert len(result["runs"]) == len(settings) * len(config["objectives"]) * len(config["seeds"])
    m = config["model"]["m"]
    for run in result["runs"]:
        assert [s["step"] for s in run["snapshots"]] == list(config["snapshots"])
        for snap in run["snapshots"]:
            for key in ("sigma", "lambda", "sigma_star", "g_sigma", "rho", "rho_effective", "kl", "latent_variance"):
                assert len(snap[key]) == m, key
            assert snap["information"] > -0.1 and snap["gap"] > -0.1    # 0 <= I <= log N, up to MC error
        final = run["final"]
        assert 0 <= final["active_units"] <= m and final["snr_capacity"] >= 0
        if run["model"] == "vae":
            assert all(s == [1.0] * m for s in (snap["lambda"] for snap in run["snapshots"]))
        if study == "digits":
            test = final["test"]
            assert test["nll_elbo"] >= test["nll_lambda"] - 1e-9          # the excess of eq. (14) is >= 0
            assert 0 < test["iwae"]["lambda"]["ess_fraction"] <= 1
            assert test["observations"] == config["data"]["test_size"]
        else:
            assert set(final["information"]) == {str(n) for n in config["information_points"]}
            assert len(final["codes"]["mu"]) == len(final["codes"]["reconstruction"])
    assert set(result["summary"]) == set(settings)
    assert (smoke / study / "config.toml").is_file()
    assert (smoke / study / "figures" / f"{study}.png").stat().st_size > 10_000
    rows = (smoke / study / "figures" / f"{study}.csv").read_text().splitlines()
    assert rows[0].startswith("setting,model,seed") and len(rows) == len(result["runs"]) + 1


@pytest.mark.integration
def test_smoke_run_resumes_from_its_runs(smoke):
    """A second invocation reuses every finished run's record (same numbers, no retraining)."""
    from collapse.cli import main

    before = _smoke_result(smoke, "digits")["runs"]
    records = sorted((smoke / "digits" / "runs").iterdir())
    stamps = [p.stat().st_mtime_ns for p in records]
    assert main(["experiment", "lambda-vae", "--smoke", "--study", "digits", "--output-dir", str(smoke),
                 "--no-progress", "--work-dir", str(smoke / "elsewhere")]) == 0
    assert _smoke_result(smoke, "digits")["runs"] == before
    assert [p.stat().st_mtime_ns for p in records] == stamps


def test_unknown_study_and_config_keys_are_refused(tmp_path):
    from deep.config import UserError
    from deep.experiments import lambda_vae

    with pytest.raises(ValueError, match="study"):
        lambda_vae.default("mnist")
    with pytest.raises(UserError, match=r"unknown key 'epoch' \(did you mean 'epochs'\?\)"):
        lambda_vae.read({**lambda_vae.default("digits"), "epoch": 3})
    with pytest.raises(UserError, match="the 'synthetic' study only"):
        lambda_vae.read({**lambda_vae.default("digits"), "n": 3})
