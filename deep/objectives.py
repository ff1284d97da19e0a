"""The beta-VAE, the lambda-beta-VAE and the lambda-VAE as parameters of one loss.

For a batch x, with (mu, log sigma^2) = encoder(x), per-dimension exponents lambda_i and
eps ~ N(0, I):

    z     = mu + sigma^lambda * eps                       # eq. (9) of [lambda_vae]; lambda = 1: the usual VAE
    loss  = -log p(x|z) + beta KL(N(mu, sigma^2) || N(0, I))   # eq. (5) of [mi_collapse]; KL on sigma^2: eq. (10) of [lambda_vae]
          + lam ||x - E[x|z]||^2                          # eq. (7) of [mi_collapse], deterministic decoder mean

- beta-VAE: lambda = 1, lam = 0.
- lambda-beta-VAE: lam > 0 from step N1 on (the two-phase protocol of [mi_collapse] §5.2:
  a beta-VAE for N1 steps, then the lambda-beta objective).
- lambda-VAE: lambda_i from :class:`LambdaSchedule` ([lambda_vae] §4.4 and §6.1), with any beta.

References
----------
[mi_collapse] "Mutual Information Collapse Explains Disentanglement Failure in beta-VAEs",
    shared/papers/000_6e757ef8f718962b.txt.
[lambda_vae] G. Demisse, "λ-VAE: Variance Equalization for Posterior Collapse",
    shared/papers/002_9357fcd1557682b2.txt.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from numerics import validation
from numerics.lambda_vae import lambda_star

OBJECTIVES = ("beta", "lambda-beta", "lambda")


def kl_per_dimension(mu, logvar):
    """KL(N(mu, sigma^2) || N(0, 1)) per sample and dimension.  # [lambda_vae] §2 (KL_i)"""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)


def reparameterise(mu, logvar, exponent, eps):
    """z = mu + sigma^lambda eps, sigma^lambda = exp(lambda log sigma^2 / 2).  # eq. (9) of [lambda_vae]"""
    return mu + torch.exp(0.5 * exponent * logvar) * eps


def loss_terms(model, x, eps, exponent, beta, l2_weight):
    """The batch-mean loss of the module docstring and its parts, for given noise and hyper-parameters.

    Parameters
    ----------
    model : deep.models.VAE (or any module with ``encode``, ``decode``, ``likelihood``)
    x : tensor (B, ...)
    eps : tensor (B, m)
        The reparameterisation noise.
    exponent : tensor (m,)
        The sampling exponents lambda_i.
    beta, l2_weight : float or 0-d tensor
        The KL weight and the weight lam of ||x - E[x|z]||^2 in force at this step.
        Tensors let :mod:`deep.ensemble` give every model of a vmapped stack its own.

    Returns
    -------
    (loss, parts)
        The mean loss and the detached parts: nll, kl (per dim), l2, sigma (per dim),
        lambda (the exponents).

    References
    ----------
    [mi_collapse] eq. (5), (7); [lambda_vae] eq. (9)-(10).
    """
    mu, logvar = (t.float() for t in model.encode(x))  # float32 also under bfloat16 autocast
    z = reparameterise(mu, logvar, exponent, eps)
    out = model.decode(z).float()
    nll = model.likelihood.nll(out, x)
    kl = kl_per_dimension(mu, logvar)
    total = nll + beta * kl.sum(1)
    l2 = (x - model.likelihood.mean(out)).pow(2).flatten(1).sum(1)
    if torch.is_tensor(l2_weight) or l2_weight:  # a tensor weight may be 0 for some models of a stack
        total = total + l2_weight * l2
    parts = {"nll": nll.mean().detach(), "kl": kl.mean(0).detach(), "l2": l2.mean().detach(),
             "sigma": torch.exp(0.5 * logvar).mean(0).detach(), "lambda": exponent}
    return total.mean(), parts


@dataclass
class LambdaSchedule:
    """Per-dimension sampling exponents lambda_i of the lambda-VAE [lambda_vae].

    With ``delta`` set, lambda_i = min(lambda_max, lambda*(sigma_ema_i, delta)) (Prop. 3,
    eq. 16), recomputed every ``update_every`` steps from an exponential moving average
    (decay ``ema_decay``) of each dimension's mean posterior sigma; the EMA takes one value
    per update, the mean of the batch means of sigma since the previous update (§6.1
    updates lambda* "every 5 epochs using an EMA of sigma (decay 0.9)" and does not say
    more). Until the first update lambda = 1. The exponent applied at step t is
    1 + r (lambda_i - 1) with the linear ramp r = min(1, t / ramp_steps) (§6.1: "a linear
    ramp ... to prevent premature compression"); ``lambda_max`` = 20 is the clamp of
    Fig. 7. With ``delta = None`` every dimension uses the constant ``fixed``.
    """

    m: int
    delta: float | None = 1.01
    fixed: float = 1.0
    ema_decay: float = 0.9
    update_every: int = 100
    ramp_steps: int = 0
    lambda_max: float = 20.0
    ema: np.ndarray | None = field(default=None, init=False, repr=False)
    lambdas: np.ndarray | None = field(default=None, init=False, repr=False)
    _sum: np.ndarray | None = field(default=None, init=False, repr=False)
    _count: int = field(default=0, init=False, repr=False)

    def __post_init__(self):
        self.m = validation.positive_int("m", self.m)
        if self.delta is not None:
            validation.array_in("delta", self.delta, 1.0)
        validation.array_in("fixed", self.fixed, 1.0, closed="low")
        validation.array_in("ema_decay", self.ema_decay, 0.0, 1.0, closed="low")
        validation.positive_int("update_every", self.update_every)
        validation.positive_int("ramp_steps", self.ramp_steps, minimum=0)
        validation.array_in("lambda_max", self.lambda_max, 1.0, closed="low")
        if self.lambdas is None:
            self.lambdas = np.full(self.m, 1.0 if self.delta is not None else float(self.fixed))
        if self._sum is None:
            self._sum = np.zeros(self.m)

    def exponent(self, step: int) -> np.ndarray:
        """The exponents lambda_i applied at ``step``, shape (m,)."""
        if self.delta is None or self.ramp_steps == 0:
            return self.lambdas.copy()
        ramp = min(1.0, step / self.ramp_steps)
        return 1 + ramp * (self.lambdas - 1)

    def observe(self, sigma_mean: torch.Tensor, step: int) -> None:
        """Record step ``step``'s batch mean of sigma per dimension; update lambda* when due.

        The sum stays on sigma's device between updates, so a GPU syncs once per update.
        """
        if self.delta is None:
            return
        self._sum = sigma_mean.double() + torch.as_tensor(self._sum, device=sigma_mean.device)
        self._count += 1
        if (step + 1) % self.update_every == 0:
            mean = (self._sum / self._count).cpu().numpy()
            self.ema = mean if self.ema is None else self.ema_decay * self.ema + (1 - self.ema_decay) * mean
            self.lambdas = np.minimum(self.lambda_max, lambda_star(self.ema, self.delta))
            self._sum, self._count = np.zeros(self.m), 0

    def state_dict(self) -> dict:
        """Plain lists and numbers (loadable with ``torch.load(weights_only=True)``)."""
        return {"ema": None if self.ema is None else self.ema.tolist(), "lambdas": self.lambdas.tolist(),
                "sum": torch.as_tensor(self._sum).cpu().tolist(), "count": self._count}

    def load_state_dict(self, state: dict) -> None:
        self.ema = None if state["ema"] is None else np.asarray(state["ema"], dtype=float)
        self.lambdas = np.asarray(state["lambdas"], dtype=float)
        self._sum, self._count = np.asarray(state["sum"], dtype=float), int(state["count"])


@dataclass
class Objective:
    """One loss for the three objectives (module docstring); ``schedule`` None means lambda = 1."""

    name: str = "beta"
    beta: float = 1.0
    lam: float = 0.0
    phase1_steps: int = 0
    schedule: LambdaSchedule | None = None
    warmup_steps: int = 0
    warmup_start: int = 0

    def __post_init__(self):
        if self.name not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}; got {self.name!r}")
        self.beta = validation.positive("beta", self.beta)
        self.lam = validation.nonnegative("lam", self.lam)
        self.phase1_steps = validation.positive_int("phase1_steps", self.phase1_steps, minimum=0)
        self.warmup_steps = validation.positive_int("warmup_steps", self.warmup_steps, minimum=0)
        self.warmup_start = validation.positive_int("warmup_start", self.warmup_start, minimum=0)

    def kl_weight(self, step: int) -> float:
        """The KL weight at ``step``: 0 before ``warmup_start``, then ramped linearly to beta over
        ``warmup_steps`` steps (KL warm-up; by default none: beta throughout)."""
        if step >= self.warmup_start + self.warmup_steps:
            return self.beta
        if step < self.warmup_start:
            return 0.0
        return self.beta * (step - self.warmup_start) / self.warmup_steps

    def l2_weight(self, step: int) -> float:
        """lam from step N1 = ``phase1_steps`` on, 0 before (the two-phase protocol)."""
        return self.lam if step >= self.phase1_steps else 0.0

    def exponent(self, step: int, m: int) -> np.ndarray:
        """The sampling exponents at ``step``, shape (m,)."""
        return np.ones(m) if self.schedule is None else self.schedule.exponent(step)

    def loss(self, model, x, step: int, generator: torch.Generator):
        """The batch-mean loss and its parts (detached): nll, kl (per dim), l2, sigma (per dim).

        ``generator`` draws eps, so a step's noise depends only on the generator's seed.
        """
        eps = torch.randn((x.shape[0], model.m), generator=generator, device=x.device, dtype=torch.float32)
        exponent = torch.as_tensor(self.exponent(step, model.m), dtype=torch.float32, device=x.device)
        return loss_terms(model, x, eps, exponent, self.kl_weight(step), self.l2_weight(step))

    def after_step(self, parts: dict, step: int) -> None:
        """Feed the step's mean sigma to the lambda schedule."""
        if self.schedule is not None:
            self.schedule.observe(parts["sigma"], step)

    def state_dict(self) -> dict:
        return {} if self.schedule is None else self.schedule.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if self.schedule is not None:
            self.schedule.load_state_dict(state)


def build_objective(spec: dict, m: int) -> Objective:
    """An objective from a spec: ``name`` in {"beta", "lambda-beta", "lambda"} and its parameters.

    beta: ``beta``. lambda-beta: ``beta``, ``lam``, ``phase1_steps`` (N1). lambda:
    ``beta`` (default 1), ``delta`` (None for the constant exponent ``fixed``),
    ``ema_decay``, ``update_every``, ``ramp_steps``, ``lambda_max``. Every objective:
    ``warmup_steps`` and ``warmup_start`` (KL warm-up, :meth:`Objective.kl_weight`; default none).
    """
    name = spec.get("name", "beta")
    common = {"name": name, "beta": spec.get("beta", 1.0), "warmup_steps": spec.get("warmup_steps", 0),
              "warmup_start": spec.get("warmup_start", 0)}
    if name == "beta":
        return Objective(**common)
    if name == "lambda-beta":
        if not spec.get("lam"):
            raise ValueError("the lambda-beta objective needs lam > 0")
        return Objective(**common, lam=spec["lam"], phase1_steps=spec.get("phase1_steps", 0))
    if name == "lambda":
        keys = ("delta", "fixed", "ema_decay", "update_every", "ramp_steps", "lambda_max")
        return Objective(**common, schedule=LambdaSchedule(m, **{k: spec[k] for k in keys if k in spec}))
    raise ValueError(f"objective must be one of {OBJECTIVES}; got {name!r}")
