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


CONV_SIZES = (64, 32, 16, 8)
"""Input sizes of the conv net: Table 1's 64 px, and 64 / 2^k scaled by :data:`ENCODER_LAYERS`' rule."""
ENCODER_LAYERS = ((32, 64), (32, 32), (64, 16), (64, 8))
"""Table 1's encoder convs (4x4, stride 2) as (output channels, input resolution)."""
DECODER_LAYERS = ((64, 8), (32, 16), (32, 32))
"""Table 1's hidden decoder transposed convs (4x4, stride 2) as (output channels, output resolution)."""


def _conv_size(size: int) -> int:
    if isinstance(size, bool) or size not in CONV_SIZES:
        raise ValueError(f"size must be one of {', '.join(map(str, CONV_SIZES))}; got {size!r}")
    return size


class ConvEncoder(nn.Module):
    """Table 1 encoder of [mi_collapse]: four 4x4 stride-2 convs (32, 32, 64, 64), FC 256, FC 2m.

    ``size`` < 64 scales it mechanically (issue 19): each of Table 1's convs acts at one
    input resolution (64, 32, 16, 8 px); the net keeps exactly those with input resolution
    <= ``size``, so one stride-2 layer fewer per halving, removed at the image end. Every
    kept layer keeps its width and kernel; the 4 x 4 x 64 bottleneck, FC 256 and FC 2m are
    Table 1's. At 64 px it is Table 1 (same layers, names and initialisation).
    """

    def __init__(self, channels: int, m: int, size: int = 64):
        super().__init__()
        size = _conv_size(size)
        layers, c = [], channels
        for out, resolution in ENCODER_LAYERS:
            if resolution <= size:
                layers += [nn.Conv2d(c, out, 4, 2, 1), nn.ReLU()]
                c = out
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(64 * 4 * 4, 256), nn.ReLU(), nn.Linear(256, 2 * m))

    def forward(self, x):
        mu, logvar = self.net(x).chunk(2, dim=1)
        return mu, logvar


class ConvDecoder(nn.Module):
    """Table 1 decoder of [mi_collapse]: FC 256, FC 4x4x64, transposed convs (64, 32, 32, C).

    ``size`` < 64: the mirror of :class:`ConvEncoder`'s rule: the hidden transposed convs
    with output resolution < ``size`` are kept (one fewer per halving, removed at the image
    end), then the last transposed conv to C channels produces the ``size`` x ``size`` image.
    """

    def __init__(self, channels: int, m: int, size: int = 64):
        super().__init__()
        size = _conv_size(size)
        layers, c = [nn.Linear(m, 256), nn.ReLU(), nn.Linear(256, 4 * 4 * 64), nn.ReLU(),
                     nn.Unflatten(1, (64, 4, 4))], 64
        for out, resolution in DECODER_LAYERS:
            if resolution < size:
                layers += [nn.ConvTranspose2d(c, out, 4, 2, 1), nn.ReLU()]
                c = out
        self.net = nn.Sequential(*layers, nn.ConvTranspose2d(c, channels, 4, 2, 1))

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


@torch.no_grad()
def forward_macs(model: VAE, shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one observation of ``shape`` through the encoder and the decoder (convs,
    transposed convs and linear layers, counted from the shapes they see; biases and activations not
    counted): the cost measure behind a run's fraction of the paper's compute."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):  # each output value: C_in / groups x kernel products
            total += output[0].numel() * module.in_channels // module.groups * math.prod(module.kernel_size)
        elif isinstance(module, nn.ConvTranspose2d):  # each input value scatters into C_out x kernel outputs
            total += inputs[0][0].numel() * module.out_channels // module.groups * math.prod(module.kernel_size)
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in model.modules()
             if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    try:
        device = next(model.parameters()).device
        mu, _ = model.encode(torch.zeros((1, *shape), device=device))
        model.decode(mu)
    finally:
        for hook in hooks:
            hook.remove()
    return int(total)


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
    observations, or C x s x s for s in 32, 16, 8: Table 1 scaled by :class:`ConvEncoder`'s
    rule, the size taken from the data; "mlp": vectors), ``m`` latents, ``likelihood`` ("bernoulli" or "gaussian"),
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
        if len(shape) != 3 or shape[1] != shape[2] or shape[1] not in CONV_SIZES:
            raise UserError(f"the conv architecture needs C x 64 x 64 observations (or C x s x s, s in 32, 16, 8: "
                            f"Table 1 scaled); got shape {shape}")
        encoder, decoder = ConvEncoder(shape[0], m, shape[1]), ConvDecoder(shape[0], m, shape[1])
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
