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

import torch
from torch import nn
from torch.nn import functional as F

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


def build_model(spec: dict, shape: tuple[int, ...]) -> VAE:
    """A VAE for observations of ``shape`` from a spec.

    ``spec`` keys: ``architecture`` ("conv": Table 1, needs C x 64 x 64; "mlp": vectors),
    ``m`` (latents), ``likelihood`` ("bernoulli" or "gaussian"), ``eta_dec`` (Gaussian
    only, default 1), ``hidden`` (MLP widths, default three layers of 300),
    ``decoder_hidden`` (the decoder's widths from z on, default ``hidden``; App. C of
    [optimal_beta] uses 256, 200, 200 and 200, 200, 256), ``activation`` ("relu", default,
    or "tanh"), ``init_logvar`` (the initial bias of the encoder's log sigma^2 outputs;
    e.g. -6 starts with sigma = 0.05, default: PyTorch's initialisation).
    """
    m = validation.positive_int("m", spec.get("m", 10))
    arch = spec.get("architecture", "conv")
    if spec.get("likelihood", "bernoulli") == "bernoulli":
        likelihood = Bernoulli()
    elif spec["likelihood"] == "gaussian":
        likelihood = Gaussian(spec.get("eta_dec", 1.0))
    else:
        raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian'; got {spec['likelihood']!r}")
    if arch == "conv":
        if len(shape) != 3 or shape[1:] != (64, 64):
            raise ValueError(f"the conv architecture needs C x 64 x 64 observations; got shape {shape}")
        encoder, decoder = ConvEncoder(shape[0], m), ConvDecoder(shape[0], m)
    elif arch == "mlp":
        if len(shape) != 1:
            raise ValueError(f"the mlp architecture needs vector observations; got shape {shape}")
        hidden = tuple(validation.positive_int("hidden", h) for h in spec.get("hidden", (300, 300, 300)))
        decoder_hidden = tuple(validation.positive_int("decoder_hidden", h)
                               for h in spec.get("decoder_hidden", hidden))
        activation = spec.get("activation", "relu")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {activation!r}")
        encoder = MLPEncoder(shape[0], m, hidden, activation)
        decoder = MLPDecoder(shape[0], m, decoder_hidden, activation)
    else:
        raise ValueError(f"architecture must be 'conv' or 'mlp'; got {arch!r}")
    if "init_logvar" in spec:  # start with small posterior noise: the decoder sees mu before the KL bites
        with torch.no_grad():
            encoder.net[-1].bias[m:] = float(validation.finite_array("init_logvar", spec["init_logvar"], ndim=0))
    return VAE(encoder, decoder, likelihood, m)
