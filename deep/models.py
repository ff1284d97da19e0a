"""VAE encoders, decoders and likelihoods: the conv net of Table 1 of [mi_collapse] and an MLP.

A :class:`VAE` is an encoder (x -> (mu, log sigma^2)), a decoder (z -> decoder output) and a
likelihood that turns the decoder output into -log p(x|z) and the decoder mean. The
training loop and the metrics only use that interface, so any architecture fits.

References
----------
[mi_collapse] "Mutual Information Collapse Explains Disentanglement Failure in beta-VAEs",
    shared/papers/000_6e757ef8f718962b.txt, §5.2 Table 1.
[lambda_vae] G. Demisse, "λ-VAE: Variance Equalization for Posterior Collapse",
    shared/papers/002_9357fcd1557682b2.txt, §6.1 (3-layer MLP, 300 units).
[optimal_beta] "β-VAE with a finite optimal β", shared/papers/003_a1eafab620a812b7.txt,
    App. C (tanh MLPs, encoder 256-200-200, decoder 200-200-256).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from deep.config import UserError, check, strict
from numerics import validation


class ConvEncoder(nn.Module):
    """Table 1 encoder of [mi_collapse]: four 4x4 stride-2 convs (32, 32, 64, 64), FC 256, FC 2m."""

    def __init__(self, channels: int, m: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, 32, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(32, 32, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(64, 64, 4, 2, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(64 * 4 * 4, 256), nn.ReLU(),
            nn.Linear(256, 2 * m))

    def forward(self, x):
        mu, logvar = self.net(x).chunk(2, dim=1)
        return mu, logvar


class ConvDecoder(nn.Module):
    """Table 1 decoder of [mi_collapse]: FC 256, FC 4x4x64, transposed convs (64, 32, 32, C)."""

    def __init__(self, channels: int, m: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(m, 256), nn.ReLU(),
            nn.Linear(256, 4 * 4 * 64), nn.ReLU(), nn.Unflatten(1, (64, 4, 4)),
            nn.ConvTranspose2d(64, 64, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(32, 32, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(32, channels, 4, 2, 1))

    def forward(self, z):
        return self.net(z)


ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
"""Hidden-layer activations of the MLPs by name (tanh: App. C of [optimal_beta])."""


def _mlp(sizes: list[int], activation: str = "relu") -> nn.Sequential:
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), ACTIVATIONS[activation]()]
    return nn.Sequential(*layers[:-1])


class MLPEncoder(nn.Module):
    """MLP (ReLU or tanh) from a vector of size ``n`` to (mu, log sigma^2) in R^m each."""

    def __init__(self, n: int, m: int, hidden=(300, 300, 300), activation: str = "relu"):
        super().__init__()
        self.net = _mlp([n, *hidden, 2 * m], activation)

    def forward(self, x):
        mu, logvar = self.net(x).chunk(2, dim=1)
        return mu, logvar


class MLPDecoder(nn.Module):
    """MLP (ReLU or tanh) from z in R^m to a decoder output of size ``n``."""

    def __init__(self, n: int, m: int, hidden=(300, 300, 300), activation: str = "relu"):
        super().__init__()
        self.net = _mlp([m, *hidden, n], activation)

    def forward(self, z):
        return self.net(z)


class Bernoulli:
    """Bernoulli pixels: the decoder output is logits; -log p(x|z) sums binary cross-entropy."""

    name = "bernoulli"

    def nll(self, out, x):
        """-log p(x|z) per sample (targets in [0, 1])."""
        return F.binary_cross_entropy_with_logits(out, x, reduction="none").flatten(1).sum(1)

    def mean(self, out):
        """The decoder mean E[x|z] = sigmoid(logits)."""
        return torch.sigmoid(out)


class Gaussian:
    """Gaussian pixels with fixed standard deviation ``eta_dec``; the decoder output is the mean."""

    name = "gaussian"

    def __init__(self, eta_dec: float = 1.0):
        self.eta_dec = validation.positive("eta_dec", eta_dec)

    def nll(self, out, x):
        """-log p(x|z) = ||x - out||^2 / (2 eta^2) + D/2 log(2 pi eta^2), per sample."""
        sq = (x - out).pow(2).flatten(1).sum(1)
        return sq / (2 * self.eta_dec ** 2) + 0.5 * out[0].numel() * math.log(2 * math.pi * self.eta_dec ** 2)

    def mean(self, out):
        return out


class VAE(nn.Module):
    """An encoder, a decoder, a likelihood and the latent dimension ``m``."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, likelihood, m: int):
        super().__init__()
        self.encoder, self.decoder, self.likelihood, self.m = encoder, decoder, likelihood, m

    def encode(self, x):
        """(mu, log sigma^2), each (N, m)."""
        return self.encoder(x)

    def decode(self, z):
        """The decoder output (logits or mean) for latents (N, m)."""
        return self.decoder(z)


MAX_WIDTH = 2 ** 16
"""The largest latent dimension or layer width a configuration may ask for (a typo, not a network)."""


def _width(name, value):
    value = validation.positive_int(name, value)
    if value > MAX_WIDTH:
        raise ValueError(f"{name} must be at most {MAX_WIDTH}; got {value}")
    return value


def _widths(name, value):
    return tuple(_width(f"{name}[{i}]", h) for i, h in enumerate(value))


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """A VAE: ``architecture`` ("conv": Table 1 of [mi_collapse], needs C x 64 x 64
    observations; "mlp": vectors), ``m`` latents, ``likelihood`` ("bernoulli" or "gaussian"),
    ``eta_dec`` (the Gaussian decoder's standard deviation, default 1; gaussian only),
    ``hidden`` (MLP widths, default three layers of 300), ``decoder_hidden`` (the decoder's
    widths from z on, default ``hidden``; App. C of [optimal_beta] uses 256, 200, 200 and
    200, 200, 256), ``activation`` ("relu", default, or "tanh"; these three: mlp only),
    ``init_logvar`` (the initial bias of the encoder's log sigma^2 outputs; e.g. -6 starts
    with sigma = 0.05; default: PyTorch's initialisation). A parameter the chosen
    architecture or likelihood does not use is an error.
    """

    architecture: Literal["conv", "mlp"] = "conv"
    m: int = field(default=10, metadata=check(_width))
    likelihood: Literal["bernoulli", "gaussian"] = "bernoulli"
    eta_dec: float | None = field(default=None, metadata=check(validation.positive))
    hidden: tuple[int, ...] | None = field(default=None, metadata=check(_widths))
    decoder_hidden: tuple[int, ...] | None = field(default=None, metadata=check(_widths))
    activation: Literal["relu", "tanh"] | None = None
    init_logvar: float | None = field(default=None, metadata=check(
        lambda n, v: float(validation.finite_array(n, v, ndim=0))))

    def __post_init__(self):
        if self.eta_dec is not None and self.likelihood != "gaussian":
            raise ValueError("eta_dec is the Gaussian decoder's standard deviation; likelihood "
                             f"{self.likelihood!r} does not use it")
        unused = [k for k in ("hidden", "decoder_hidden", "activation") if getattr(self, k) is not None]
        if unused and self.architecture != "mlp":
            raise ValueError(f"{', '.join(unused)} set the MLP's layers; architecture {self.architecture!r} "
                             "does not use them")


def build_model(spec, shape: tuple[int, ...]) -> VAE:
    """A VAE for observations of ``shape`` from a spec (a mapping or a :class:`ModelConfig`; see there)."""
    config = spec if isinstance(spec, ModelConfig) else strict(ModelConfig, spec, where="model")
    m = config.m
    if config.likelihood == "bernoulli":
        likelihood = Bernoulli()
    else:
        likelihood = Gaussian(1.0 if config.eta_dec is None else config.eta_dec)
    if config.architecture == "conv":
        if len(shape) != 3 or shape[1:] != (64, 64):
            raise UserError(f"the conv architecture needs C x 64 x 64 observations; got shape {shape}")
        encoder, decoder = ConvEncoder(shape[0], m), ConvDecoder(shape[0], m)
    else:
        if len(shape) != 1:
            raise UserError(f"the mlp architecture needs vector observations; got shape {shape}")
        hidden = (300, 300, 300) if config.hidden is None else config.hidden
        decoder_hidden = hidden if config.decoder_hidden is None else config.decoder_hidden
        activation = config.activation or "relu"
        encoder = MLPEncoder(shape[0], m, hidden, activation)
        decoder = MLPDecoder(shape[0], m, decoder_hidden, activation)
    if config.init_logvar is not None:  # start with small posterior noise: the decoder sees mu before the KL bites
        with torch.no_grad():
            encoder.net[-1].bias[m:] = config.init_logvar
    return VAE(encoder, decoder, likelihood, m)
