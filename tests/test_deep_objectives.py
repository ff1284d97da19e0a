"""deep.models and deep.objectives against torch.distributions and Monte Carlo.

The likelihoods and the KL are compared with torch.distributions (code that shares
nothing with deep/); the lambda-VAE's sampling noise with its Monte Carlo spread.
"""
from dataclasses import fields

import numpy as np
import pytest
import torch
from torch import distributions as dist
from torch import nn

from deep.config import UserError, as_dict
from deep.models import Bernoulli, Gaussian, VAE, build_model
from deep.objectives import CONFIGS, LambdaSchedule, Objective, build_objective, kl_per_dimension, objective_config
from numerics.lambda_vae import lambda_star

torch.set_num_threads(1)


class Fixed(nn.Module):
    """An encoder returning fixed (mu, log sigma^2) for every input."""

    def __init__(self, mu, logvar):
        super().__init__()
        self.mu, self.logvar = nn.Parameter(torch.as_tensor(mu)), nn.Parameter(torch.as_tensor(logvar))

    def forward(self, x):
        return self.mu.expand(len(x), -1), self.logvar.expand(len(x), -1)


class Recorder(nn.Module):
    """A linear decoder that remembers the latents it was given."""

    def __init__(self, m, n):
        super().__init__()
        self.linear = nn.Linear(m, n)
        self.seen = None

    def forward(self, z):
        self.seen = z.detach().clone()
        return self.linear(z)


def test_conv_and_mlp_shapes():
    conv = build_model({"architecture": "conv", "m": 15}, (3, 64, 64))
    mu, logvar = conv.encode(torch.zeros(2, 3, 64, 64))
    assert mu.shape == logvar.shape == (2, 15)
    assert conv.decode(torch.zeros(2, 15)).shape == (2, 3, 64, 64)
    mlp = build_model({"architecture": "mlp", "m": 2, "hidden": [16, 16]}, (64,))
    assert mlp.decode(mlp.encode(torch.zeros(5, 64))[0]).shape == (5, 64)
    assert sum(isinstance(layer, nn.Linear) for layer in mlp.encoder.net) == 3


@pytest.mark.parametrize("spec, shape, message", [
    ({"architecture": "conv"}, (64,), "conv architecture needs C x 64 x 64"),
    ({"architecture": "mlp"}, (1, 64, 64), "mlp architecture needs vector"),
    ({"architecture": "rnn"}, (64,), "architecture must be"),
    ({"likelihood": "poisson"}, (1, 64, 64), "likelihood must be"),
    ({"m": 0}, (1, 64, 64), "m must be an integer >= 1"),
    ({"likelihood": "gaussian", "eta_dec": -1}, (1, 64, 64), "eta_dec must be a finite number > 0"),
    ({"hiden": [3]}, (64,), r"model has an unknown key 'hiden' \(did you mean 'hidden'\?\)"),
    ({"latnets": 3}, (64,), "model has an unknown key 'latnets'; valid keys: architecture, m,"),
    ({"architecture": "mlp", "hidden": [8, 0]}, (64,), r"model.hidden\[1\] must be an integer >= 1"),
    ({"architecture": "mlp", "activation": "sigmoid"}, (64,), "model.activation must be one of 'relu', 'tanh'"),
    ({"eta_dec": 0.5}, (1, 64, 64), "likelihood 'bernoulli' does not use it"),
    ({"architecture": "conv", "hidden": [8]}, (1, 64, 64), "architecture 'conv' does not use them"),
])
def test_bad_model_specs_are_named(spec, shape, message):
    with pytest.raises(UserError, match=message):
        build_model(spec, shape)


def test_likelihoods_match_torch_distributions():
    gen = torch.Generator().manual_seed(0)
    out = torch.randn(4, 1, 8, 8, generator=gen, dtype=torch.float64)
    x = torch.rand(4, 1, 8, 8, generator=gen, dtype=torch.float64).round()
    expected = -dist.Bernoulli(logits=out).log_prob(x).sum((1, 2, 3))
    torch.testing.assert_close(Bernoulli().nll(out, x), expected, rtol=1e-12, atol=0)
    x = torch.randn(4, 1, 8, 8, generator=gen, dtype=torch.float64)
    expected = -dist.Normal(out, 0.3).log_prob(x).sum((1, 2, 3))
    torch.testing.assert_close(Gaussian(0.3).nll(out, x), expected, rtol=1e-12, atol=0)


def test_kl_matches_torch_distributions():
    mu = torch.linspace(-2, 2, 12, dtype=torch.float64).reshape(3, 4)
    logvar = torch.linspace(-3, 1, 12, dtype=torch.float64).reshape(3, 4)
    expected = dist.kl_divergence(dist.Normal(mu, (0.5 * logvar).exp()), dist.Normal(0.0, 1.0))
    torch.testing.assert_close(kl_per_dimension(mu, logvar), expected, rtol=1e-12, atol=1e-15)


def make_model(mu, logvar, n=6, likelihood=None):
    torch.manual_seed(0)
    return VAE(Fixed(mu, logvar), Recorder(len(mu), n), likelihood or Bernoulli(), len(mu))


@pytest.mark.parametrize("objective, step, weight", [
    (Objective("beta", beta=3.0), 10, 0.0),
    (Objective("lambda-beta", beta=3.0, l2_weight=7.0, phase1_steps=20), 19, 0.0),  # phase 1: a beta-VAE
    (Objective("lambda-beta", beta=3.0, l2_weight=7.0, phase1_steps=20), 20, 7.0),  # phase 2
])
def test_loss_is_nll_plus_beta_kl_plus_lambda_l2(objective, step, weight):
    """eq. (5) and (7) of [mi_collapse], term by term, with torch.distributions."""
    mu, logvar = [0.5, -1.0, 0.0], [-1.0, 0.2, -2.0]
    model = make_model(mu, logvar)
    x = torch.rand(16, 6, generator=torch.Generator().manual_seed(1)).round()
    loss, parts = objective.loss(model, x, step, torch.Generator().manual_seed(2))
    z = model.decoder.seen
    out = model.decoder.linear(z)
    nll = -dist.Bernoulli(logits=out).log_prob(x).sum(1)
    q = dist.Normal(torch.tensor(mu), torch.tensor(logvar).mul(0.5).exp())
    kl = dist.kl_divergence(q, dist.Normal(0.0, 1.0)).sum()
    l2 = (x - torch.sigmoid(out)).pow(2).sum(1)
    expected = (nll + objective.beta * kl + weight * l2).mean()
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-5)
    assert objective.l2_weight_at(step) == weight
    torch.testing.assert_close(parts["l2"], l2.mean(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("lam", [1.0, 2.0, 5.0])
def test_lambda_vae_samples_with_sigma_to_the_lambda_but_penalises_sigma_squared(lam):
    """eq. (9)-(10) of [lambda_vae]: z - mu has std sigma^lambda; the KL keeps sigma^2."""
    mu, logvar = [0.3, -0.2], [np.log(0.6 ** 2), np.log(0.9 ** 2)]
    model = make_model(mu, logvar, n=2)
    objective = Objective("lambda", schedule=LambdaSchedule(2, delta=None, fixed_exponent=lam))
    n = 20_000
    _, parts = objective.loss(model, torch.zeros(n, 2), 0, torch.Generator().manual_seed(3))
    spread = (model.decoder.seen - torch.tensor(mu)).std(0).double().numpy()
    target = np.array([0.6, 0.9]) ** lam
    # the sample std of n normals has relative standard error 1/sqrt(2n)
    np.testing.assert_allclose(spread, target, rtol=5 / np.sqrt(2 * n))
    expected_kl = dist.kl_divergence(dist.Normal(torch.tensor(mu), torch.tensor([0.6, 0.9])), dist.Normal(0.0, 1.0))
    torch.testing.assert_close(parts["kl"], expected_kl.float(), rtol=1e-5, atol=1e-6)


def test_lambda_schedule_uses_an_ema_of_sigma_and_proposition_3():
    sched = LambdaSchedule(3, delta=1.01, update_every=4, ema_decay=0.9, lambda_max=20.0)
    np.testing.assert_array_equal(sched.exponent(0), [1, 1, 1])  # lambda = 1 until the first update
    first, second = np.array([0.995, 0.7, 0.99]), np.array([0.995, 0.8, 0.95])
    for step in range(4):
        sched.observe(torch.tensor(first + (step - 1.5) * 1e-3), step)  # batch means average to `first`
    np.testing.assert_allclose(sched.ema, first, rtol=1e-12)
    np.testing.assert_allclose(sched.exponent(4), np.minimum(20, lambda_star(first, 1.01)), rtol=1e-12)
    assert sched.exponent(4)[0] == 20.0  # sigma -> 1 sends lambda* to infinity: clamped (Fig. 7)
    for step in range(4, 8):
        sched.observe(torch.tensor(second), step)
    ema = 0.9 * first + 0.1 * second
    np.testing.assert_allclose(sched.ema, ema, rtol=1e-12)
    np.testing.assert_allclose(sched.exponent(8), np.minimum(20, lambda_star(ema, 1.01)), rtol=1e-12)
    # state round trip (what a checkpoint stores)
    clone = LambdaSchedule(3, delta=1.01, update_every=4)
    clone.load_state_dict(sched.state_dict())
    np.testing.assert_array_equal(clone.exponent(9), sched.exponent(9))


def test_lambda_schedule_ramps_linearly_from_one():
    sched = LambdaSchedule(2, delta=1.01, update_every=1, ramp_steps=100)
    sched.observe(torch.tensor([0.99, 0.05]), 0)
    target = sched.lambdas
    for step, r in [(0, 0.0), (25, 0.25), (100, 1.0), (500, 1.0)]:
        np.testing.assert_allclose(sched.exponent(step), 1 + r * (target - 1), rtol=1e-12)
    assert target[0] > 1 and target[1] == 1.0  # below sigma_c = sqrt(1 - 1/delta) ~ 0.0995: lambda* = 1 (eq. 17)


@pytest.mark.parametrize("spec, message", [
    ({"name": "vae"}, "objective.name must be one of"),
    ({"name": "lambda-beta", "beta": 2.0}, "objective needs the key 'l2_weight'"),
    ({"name": "lambda-beta", "l2_weight": 0.0}, "objective.l2_weight must be a finite number > 0"),
    ({"name": "beta", "beta": 0.0}, "beta must be a finite number > 0"),
    ({"name": "beta", "beta": "4"}, "objective.beta must be a number; got '4'"),
    ({"name": "lambda", "delta": 1.0}, r"delta must lie in \(1, inf\)"),
    ({"name": "lambda", "fixed_exponent": 0.5}, r"fixed_exponent must lie in \[1, inf\)"),
    ({"name": "lambda", "update_every": 0}, "update_every must be an integer >= 1"),
    ({"name": "lambda", "update_every": 2.5}, "update_every must be an integer; got 2.5"),
    ({"name": "lambda-beta", "l2_weight": 1.0, "phase1_steps": -5}, "phase1_steps must be an integer >= 0"),
    # typos name the closest valid keys
    ({"name": "beta", "betta": 2.0}, r"unknown key 'betta' \(did you mean 'beta'\?\); valid keys: name, beta,"),
    ({"name": "lambda", "ema_decy": 0.5}, r"unknown key 'ema_decy' \(did you mean 'ema_decay'\?\)"),
    # a parameter the chosen objective does not use is an error, never ignored (issue 17)
    ({"name": "lambda", "l2_weight": 32.0}, "'l2_weight', a parameter of the 'lambda-beta' objective only, which "
                                            "'lambda' does not use"),
    ({"name": "beta", "delta": 1.1}, "'delta', a parameter of the 'lambda' objective only"),
    ({"name": "beta", "phase1_steps": 10}, "'phase1_steps', a parameter of the 'lambda-beta' objective only"),
    ({"name": "lambda", "fixed_exponent": 2.0, "delta": 1.1}, "give either delta or fixed_exponent"),
    ({"name": "lambda", "fixed_exponent": 2.0, "ramp_steps": 10}, r"ramp_steps belong to the lambda\* schedule"),
    # paper 000's lambda and paper 002's exponent have their own names; the old ones say so
    ({"name": "lambda", "lam": 32.0}, "key 'lam' was renamed: the L2 weight of paper 000 .* is 'l2_weight'"),
    ({"name": "lambda-beta", "lambda": 2.0}, "key 'lambda' was renamed: .*'l2_weight'.*'fixed_exponent'"),
    ({"name": "lambda", "fixed": 2.0}, "key 'fixed' was renamed: .*'fixed_exponent'"),
])
def test_bad_objective_specs_are_named(spec, message):
    with pytest.raises(UserError, match=message):
        build_objective(spec, 4)


def test_objective_configs_round_trip_with_their_defaults():
    """The stored form names every parameter in force; reading it back gives the same configuration."""
    for spec in ({"name": "beta"}, {"name": "lambda-beta", "l2_weight": 8, "phase1_steps": 3},
                 {"name": "lambda", "fixed_exponent": 2}, {"name": "lambda", "delta": 1.1, "ramp_steps": 5}):
        config = objective_config(spec)
        assert objective_config(as_dict(config)) == config
        assert set(as_dict(config)) == {f.name for f in fields(CONFIGS[spec["name"]])}
    assert as_dict(objective_config({"name": "lambda"}))["delta"] == 1.01
    fixed = build_objective({"name": "lambda", "fixed_exponent": 2}, 3)
    assert fixed.exponent(10, 3).tolist() == [2.0, 2.0, 2.0]


def test_kl_warm_up_ramps_beta_from_zero():
    objective = build_objective({"name": "beta", "beta": 8.0, "warmup_steps": 4}, 3)
    assert [objective.kl_weight(t) for t in range(6)] == [0.0, 2.0, 4.0, 6.0, 8.0, 8.0]
    assert build_objective({"name": "beta", "beta": 8.0}, 3).kl_weight(0) == 8.0
    model = build_model({"architecture": "mlp", "m": 3, "hidden": [8]}, (5,))
    x = torch.rand(4, 5)
    with torch.no_grad():
        zero, parts = objective.loss(model, x, 0, torch.Generator().manual_seed(0))
    assert zero.item() == pytest.approx(parts["nll"].item(), rel=1e-6)  # beta = 0 at step 0: no KL term
    later = build_objective({"name": "lambda-beta", "beta": 8.0, "l2_weight": 1.0, "warmup_steps": 2, "warmup_start": 3}, 3)
    assert [later.kl_weight(t) for t in range(7)] == [0.0, 0.0, 0.0, 0.0, 4.0, 8.0, 8.0]
    for key in ("warmup_steps", "warmup_start"):
        with pytest.raises(ValueError, match=f"{key} must be an integer >= 0"):
            build_objective({"name": "beta", key: -1}, 3)


def test_init_logvar_sets_the_encoders_log_variance_bias():
    model = build_model({"architecture": "conv", "m": 4, "init_logvar": -6.0}, (1, 64, 64))
    bias = model.encoder.net[-1].bias
    assert torch.equal(bias[4:], torch.full((4,), -6.0)) and not torch.equal(bias[:4], torch.full((4,), -6.0))
    mlp = build_model({"architecture": "mlp", "m": 2, "hidden": [8], "init_logvar": 1.5}, (5,))
    assert mlp.encoder.net[-1].bias[2:].tolist() == [1.5, 1.5]
    with pytest.raises(ValueError, match="init_logvar must be finite"):
        build_model({"architecture": "mlp", "m": 2, "hidden": [8], "init_logvar": float("nan")}, (5,))
