"""The beta-VAE, the lambda-beta-VAE and the lambda-VAE as parameters of one loss.

Two papers call different things lambda, so the code never does on its own:
``l2_weight`` is the lambda of [mi_collapse] (the weight of the L2 term, eq. 7-8) and
``exponent`` the lambda of [lambda_vae] (the power of sigma in the sampling noise, eq. 9).

For a batch x, with (mu, log sigma^2) = encoder(x), per-dimension exponents lambda_i and
eps ~ N(0, I):

    z     = mu + sigma^lambda * eps                       # eq. (9) of [lambda_vae]; lambda = 1: the usual VAE
    loss  = -log p(x|z) + beta KL(N(mu, sigma^2) || N(0, I))   # eq. (5) of [mi_collapse]; KL on sigma^2: eq. (10) of [lambda_vae]
          + l2_weight ||x - E[x|z]||^2                    # eq. (7) of [mi_collapse], deterministic decoder mean

- beta-VAE: exponent 1, l2_weight 0.
- lambda-beta-VAE: l2_weight > 0 from step N1 on (the two-phase protocol of [mi_collapse]
  §5.2: a beta-VAE for N1 steps, then the lambda-beta objective).
- lambda-VAE: exponents lambda_i from :class:`LambdaSchedule` ([lambda_vae] §4.4 and §6.1),
  or one ``fixed_exponent``, with any beta.

An objective is described by a configuration (:data:`CONFIGS`: :class:`BetaConfig`,
:class:`LambdaBetaConfig`, :class:`LambdaConfig`, chosen by ``name``); a parameter the
chosen objective does not use is an error (:func:`deep.config.strict_choice`).

References
----------
[mi_collapse] "Mutual Information Collapse Explains Disentanglement Failure in beta-VAEs",
    shared/papers/000_6e757ef8f718962b.txt.
[lambda_vae] G. Demisse, "λ-VAE: Variance Equalization for Posterior Collapse",
    shared/papers/002_9357fcd1557682b2.txt.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

import numpy as np
import torch

from deep.config import as_dict, check, strict_choice
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
        The KL weight and the weight of ||x - E[x|z]||^2 ([mi_collapse]'s lambda) in force at this step.
        Tensors let :mod:`deep.ensemble` give every model of a vmapped stack its own.

    Returns
    -------
    (loss, parts)
        The mean loss and the detached parts: nll, kl (per dim), l2, sigma (per dim),
        exponent (the exponents lambda_i of [lambda_vae]).

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
             "sigma": torch.exp(0.5 * logvar).mean(0).detach(), "exponent": exponent}
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
    Fig. 7. With ``fixed_exponent`` instead of ``delta`` every dimension uses that constant.
    """

    m: int
    delta: float | None = 1.01
    fixed_exponent: float | None = None
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
        if (self.delta is None) == (self.fixed_exponent is None):
            raise ValueError("give exactly one of delta (the lambda* schedule) and fixed_exponent; "
                             f"got delta={self.delta!r}, fixed_exponent={self.fixed_exponent!r}")
        if self.delta is not None:
            validation.array_in("delta", self.delta, 1.0)
        else:
            validation.array_in("fixed_exponent", self.fixed_exponent, 1.0, closed="low")
        validation.array_in("ema_decay", self.ema_decay, 0.0, 1.0, closed="low")
        validation.positive_int("update_every", self.update_every)
        validation.positive_int("ramp_steps", self.ramp_steps, minimum=0)
        validation.array_in("lambda_max", self.lambda_max, 1.0, closed="low")
        if self.lambdas is None:
            self.lambdas = np.full(self.m, 1.0 if self.delta is not None else float(self.fixed_exponent))
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


def _nonnegative_int(name, value):
    return validation.positive_int(name, value, minimum=0)


@dataclass(frozen=True, kw_only=True)
class BetaConfig:
    """The beta-VAE: KL weight ``beta`` (eq. 5 of [mi_collapse]) and an optional KL warm-up
    (0 before step ``warmup_start``, then ramped linearly to beta over ``warmup_steps``)."""

    RENAMED = {"lam": "the L2 weight of paper 000 (eq. 7) is 'l2_weight', objective 'lambda-beta'",
               "lambda": "the L2 weight of paper 000 (eq. 7) is 'l2_weight' (objective 'lambda-beta'); "
                         "the exponent of paper 002 is 'fixed_exponent' or the schedule 'delta' (objective 'lambda')",
               "fixed": "the constant exponent of paper 002 is 'fixed_exponent' (objective 'lambda')"}
    name: Literal["beta"] = "beta"
    beta: float = field(default=1.0, metadata=check(validation.positive))
    warmup_steps: int = field(default=0, metadata=check(_nonnegative_int))
    warmup_start: int = field(default=0, metadata=check(_nonnegative_int))


@dataclass(frozen=True, kw_only=True)
class LambdaBetaConfig(BetaConfig):
    """The lambda-beta-VAE of [mi_collapse] eq. (7): ``l2_weight`` (> 0; paper 000's lambda) from
    step ``phase1_steps`` (N1 of the two-phase protocol) on."""

    name: Literal["lambda-beta"] = "lambda-beta"
    l2_weight: float = field(metadata=check(validation.positive))
    phase1_steps: int = field(default=0, metadata=check(_nonnegative_int))


@dataclass(frozen=True, kw_only=True)
class LambdaConfig(BetaConfig):
    """The lambda-VAE of [lambda_vae]: the exponent schedule of :class:`LambdaSchedule` (``delta``,
    ``ema_decay``, ``update_every``, ``ramp_steps``, ``lambda_max``) or one ``fixed_exponent``
    for every dimension. ``delta`` defaults to 1.01 unless ``fixed_exponent`` is given; the
    schedule's parameters are refused with ``fixed_exponent``."""

    name: Literal["lambda"] = "lambda"
    delta: float | None = field(default=None, metadata=check(lambda n, v: float(validation.array_in(n, v, 1.0))))
    fixed_exponent: float | None = field(
        default=None, metadata=check(lambda n, v: float(validation.array_in(n, v, 1.0, closed="low"))))
    ema_decay: float = field(default=0.9, metadata=check(
        lambda n, v: float(validation.array_in(n, v, 0.0, 1.0, closed="low"))))
    update_every: int = field(default=100, metadata=check(validation.positive_int))
    ramp_steps: int = field(default=0, metadata=check(_nonnegative_int))
    lambda_max: float = field(default=20.0, metadata=check(
        lambda n, v: float(validation.array_in(n, v, 1.0, closed="low"))))

    def __post_init__(self):
        if self.fixed_exponent is None:
            if self.delta is None:
                object.__setattr__(self, "delta", 1.01)  # Prop. 3 of [lambda_vae], §6.1
            return
        if self.delta is not None:
            raise ValueError("fixed_exponent replaces the lambda* schedule; give either delta or fixed_exponent")
        schedule = ("ema_decay", "update_every", "ramp_steps", "lambda_max")
        changed = [f.name for f in fields(self) if f.name in schedule and getattr(self, f.name) != f.default]
        if changed:
            raise ValueError(f"{', '.join(changed)} belong to the lambda* schedule, which fixed_exponent replaces")


CONFIGS = {"beta": BetaConfig, "lambda-beta": LambdaBetaConfig, "lambda": LambdaConfig}
"""The objectives' configuration classes by name."""
OBJECTIVES = tuple(CONFIGS)


def objective_config(spec, where: str = "objective"):
    """The strict configuration of an objective spec (a mapping with ``name``, default "beta", or a config)."""
    if isinstance(spec, tuple(CONFIGS.values())):
        return spec
    return strict_choice(CONFIGS, spec, key="name", default="beta", where=where, what="objective")


@dataclass
class Objective:
    """One loss for the three objectives (module docstring); ``schedule`` None means exponent 1."""

    name: str = "beta"
    beta: float = 1.0
    l2_weight: float = 0.0
    phase1_steps: int = 0
    schedule: LambdaSchedule | None = None
    warmup_steps: int = 0
    warmup_start: int = 0

    def __post_init__(self):
        if self.name not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}; got {self.name!r}")
        self.beta = validation.positive("beta", self.beta)
        self.l2_weight = validation.nonnegative("l2_weight", self.l2_weight)
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

    def l2_weight_at(self, step: int) -> float:
        """The L2 weight from step N1 = ``phase1_steps`` on, 0 before (the two-phase protocol)."""
        return self.l2_weight if step >= self.phase1_steps else 0.0

    def exponent(self, step: int, m: int) -> np.ndarray:
        """The sampling exponents at ``step``, shape (m,)."""
        return np.ones(m) if self.schedule is None else self.schedule.exponent(step)

    def loss(self, model, x, step: int, generator: torch.Generator):
        """The batch-mean loss and its parts (detached): nll, kl (per dim), l2, sigma (per dim), exponent.

        ``generator`` draws eps, so a step's noise depends only on the generator's seed.
        """
        eps = torch.randn((x.shape[0], model.m), generator=generator, device=x.device, dtype=torch.float32)
        exponent = torch.as_tensor(self.exponent(step, model.m), dtype=torch.float32, device=x.device)
        return loss_terms(model, x, eps, exponent, self.kl_weight(step), self.l2_weight_at(step))

    def after_step(self, parts: dict, step: int) -> None:
        """Feed the step's mean sigma to the lambda schedule."""
        if self.schedule is not None:
            self.schedule.observe(parts["sigma"], step)

    def state_dict(self) -> dict:
        return {} if self.schedule is None else self.schedule.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if self.schedule is not None:
            self.schedule.load_state_dict(state)


def build_objective(spec, m: int) -> Objective:
    """An objective from a spec (a mapping or a configuration of :data:`CONFIGS`; see their docstrings).

    ``name`` in {"beta", "lambda-beta", "lambda"}; every objective takes ``beta``,
    ``warmup_steps`` and ``warmup_start``; lambda-beta also ``l2_weight`` (> 0) and
    ``phase1_steps``; lambda also ``delta`` or ``fixed_exponent`` and the schedule's
    ``ema_decay``, ``update_every``, ``ramp_steps``, ``lambda_max``. Anything else, or a
    parameter of another objective, raises :class:`deep.config.UserError`.
    """
    config = as_dict(objective_config(spec))
    name = config.pop("name")
    common = {k: config.pop(k) for k in ("beta", "warmup_steps", "warmup_start")}
    if name == "lambda":
        return Objective(name, **common, schedule=LambdaSchedule(m, **config))
    return Objective(name, **common, **config)
