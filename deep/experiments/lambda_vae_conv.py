"""Variance equalisation of [lambda_vae] on a conv VAE (issue 7, prediction 4).

§6.2-6.3 of the paper train MLPs on binarised MNIST/Omniglot and ResNets on CIFAR-10 and
CelebA; ``collapse experiment lambda-vae`` reproduces the MLP studies on 8 x 8 digits.
This experiment asks the same questions of the conv VAE of Table 1 of [mi_collapse]: with
the λ* schedule (eq. 16 on an EMA of each dimension's σ, :class:`deep.objectives.LambdaSchedule`),
do the per-dimension σ_i concentrate around σ*(λ_i) (eq. 13), do more units stay active,
and do the (σ_i, λ_i) pairs lie on the curve λ*(σ, δ) of Proposition 3, compared with a
standard VAE and a β-VAE of the same size?

Setting. Table-1 conv VAE with m = 20 latents (more than dSprites' five factors need, so
that a standard VAE leaves some inactive, as the K = 30 MLP does on MNIST), Bernoulli
decoder, a fixed subset of 4096 procedural dSprites images, Adam (lr 1e-3, batch 32), two
seeds. Models: standard VAE (β = 1, λ = 1), β-VAE with β = 0.5 (the β-VAE of Table 1
with the most active units), λ-VAE with δ = 1.01 (§6.1's value for binary data), λ*
updated every ``update_every`` steps from an EMA (decay 0.9) of σ, ramped linearly over
``ramp_steps``, clamped at λ_max = 20; the schedule keeps §6.1's proportions (40 updates
per run, a ramp over 75 % of it). A first run with 1200 steps, updates every 100 and a
600-step ramp (12 updates) did not test the λ-VAE: the EMA still held the σ > 1 of the
first steps while the runs collapsed (steps 300-900, total KL 0.02 nats) and escaped
(steps 1000-1100), so λ stayed 1 throughout and the λ-VAE followed the standard VAE of
its seed step for step; at the end every model had all 20 units active and λ_i sat at
the clamp, far from eq. (16) (that run is not stored). Measured on ``eval_samples`` training images:
active units (Var_x μ_i > 0.01), σ_i = E_x σ_i(x), the exponents λ_i in force at the end,
SNR capacity (eq. 7), decoder capacity (eq. 18), reconstruction -log p(x|z).

Criteria, fixed before the runs ("a exceeds b": mean(a) - mean(b) > 2 sqrt(se_a² + se_b²)
over seeds).

- ``active_units``: the λ-VAE's active units exceed the standard VAE's and the β-VAE's.
- ``equalisation``: in every seed the spread of σ_i across dimensions (their standard
  deviation) is smaller for the λ-VAE than for the standard VAE, and the λ-VAE's σ_i lie
  around σ*(λ_i): the median over dimensions of |σ_i - σ*(λ_i)| / σ*(λ_i) is at most 0.1.
- ``on_the_curve`` (Fig. 7): in every seed every λ-VAE dimension has
  |λ_i - min(λ_max, λ*(σ_i, δ))| at most 10 % of min(λ_max, λ*(σ_i, δ)). The schedule
  computes λ_i from the EMA of σ_i by eq. (16), so this holds by construction up to the
  EMA's lag; it is checked, not taken as evidence that an optimum was reached.

Reported besides: the joint fixed point (λ_J, σ_J) of eq. (13) and (16)
(:func:`numerics.lambda_vae.joint_fixed_point`) against the dimensions' (λ_i, σ_i).

References
----------
[lambda_vae] G. Demisse, "λ-VAE: Variance Equalization for Posterior Collapse",
    shared/papers/002_9357fcd1557682b2.txt, §4.3 (eq. 13), §4.4 (Prop. 3, eq. 16), §6.1-6.3
    (Table 1, Fig. 4, Fig. 7).
[mi_collapse] shared/papers/000_6e757ef8f718962b.txt, Table 1 (architecture).
"""
from __future__ import annotations

from dataclasses import field
from pathlib import Path

import numpy as np

from deep import confirmation, provenance
from deep import experiment as protocol
from deep.config import check
from deep.sweep import pack_key  # noqa: F401 - runs with one key share a task under --pack
from numerics import validation

HELP = ("paper 002 on a conv VAE: standard VAE, beta-VAE (0.5) and lambda-VAE (delta 1.01) on dSprites; "
        "do sigma_i concentrate at sigma*(lambda_i), do more units stay active, do (sigma, lambda*) lie on "
        "Prop. 3's curve? (results/lambda_vae_conv)")
ALIASES = ["variance-equalisation"]
NAME = "lambda_vae_conv"
PARTS = ()

_LAMBDA = {"name": "lambda", "beta": 1.0, "delta": 1.01, "ema_decay": 0.9, "update_every": 60, "ramp_steps": 1800,
           "lambda_max": 20.0}


def _models(name: str, models: dict) -> dict:
    if "lambda" not in models or "vae" not in models:
        raise ValueError(f"{name} must hold the models 'vae' and 'lambda' (the criteria compare them); "
                         f"got {', '.join(models)}")
    return models


@protocol.configuration
class Config(protocol.Config):
    """The experiment's settings; the defaults are the stored result's (CPU-reduced: see :func:`describe`)."""

    WHAT = "lambda-vae-conv config"
    data: dict = field(default_factory=lambda: {"name": "dsprites", "subset": 4096})
    m: int = field(default=20, metadata=check(validation.positive_int))
    seeds: tuple[int, ...] = field(default=(0, 1), metadata=check(protocol.seeds))
    steps: int = field(default=2400, metadata=check(validation.positive_int))
    batch_size: int = field(default=32, metadata=check(validation.positive_int))
    lr: float = field(default=1e-3, metadata=check(validation.positive))
    eval_samples: int = field(default=2000, metadata=check(validation.positive_int))
    models: dict = field(default_factory=lambda: {"vae": {"name": "beta", "beta": 1.0},
                                                  "beta_0.5": {"name": "beta", "beta": 0.5}, "lambda": dict(_LAMBDA)},
                         metadata=check(_models))
    tolerance: float = field(default=0.1, metadata=check(validation.positive))


DEFAULT = Config()
"""The stored result's configuration (CPU-reduced: see :func:`describe`)."""
SMOKE = DEFAULT.replace(data={"name": "dsprites", "subset": 64}, m=4, seeds=[0], steps=6, batch_size=4,
                        eval_samples=40,
                        models={**DEFAULT.models, "lambda": {**_LAMBDA, "update_every": 2, "ramp_steps": 3}})
"""A pipeline check: every stage, no claim."""


def default(part=None, smoke: bool = False) -> Config:
    """The stored result's configuration (``smoke``: the tiny one)."""
    return SMOKE if smoke else DEFAULT


def describe(cfg) -> str:
    if cfg != DEFAULT:
        return "a configuration other than the stored one (see config): not the stored evidence"
    return ("cpu-reduced: 2400 Adam steps of batch 32 (about 19 epochs of 4096 dSprites images; lambda* every 60 "
            "steps, ramp over 1800: 40 updates and a ramp over 75 % of training, as §6.1's 200 epochs with updates "
            "every 5 and a 150-epoch ramp) instead of 200 epochs of MNIST/Omniglot with an MLP; conv VAE of "
            "[mi_collapse] Table 1 with m = 20; 2 seeds")


PAPER_EXAMPLES = 200 * 60_000   # §6.1 of [lambda_vae]: 200 epochs of binarised MNIST's 60,000 training images


def scale(cfg) -> dict:
    """Against §6.1's binary-data protocol (the paper has no conv-VAE run of this kind)."""
    return provenance.scale(cfg["steps"] * cfg["batch_size"], PAPER_EXAMPLES,
                            what=f"conv VAEs on {cfg['data']['subset']} dSprites images, {len(cfg['seeds'])} seeds")


def config(smoke: bool = False) -> Config:
    """The command's default configuration (``smoke``: the tiny one)."""
    return default(smoke=smoke)


def runs(cfg: dict) -> list:
    """One run per (model, seed)."""
    from deep.sweep import Run, run_config

    return [Run(f"{name},seed={seed}",
                run_config({"data": cfg["data"], "model": {"architecture": "conv", "m": cfg["m"], "likelihood": "bernoulli"},
                            "objective": objective, "steps": cfg["steps"], "batch_size": cfg["batch_size"],
                            "lr": cfg["lr"], "seed": seed, "checkpoint_every": 300, "log_every": 100,
                            "evaluation": {"samples": cfg["eval_samples"], "dci": False}}),
                {"model": name, "seed": seed})
            for name, objective in cfg["models"].items() for seed in cfg["seeds"]]


def dimensions(cfg: dict, metrics: dict) -> dict:
    """Per dimension of one run: σ_i, λ_i, σ*(λ_i), the capped λ*(σ_i, δ), Var μ_i."""
    from numerics import lambda_vae as lv

    sigma = np.asarray(metrics["sigma_mean"], dtype=float)
    lam = np.asarray(metrics["exponent"], dtype=float)
    schedule = cfg["models"]["lambda"]
    target = np.minimum(schedule["lambda_max"], lv.lambda_star(sigma, schedule["delta"]))
    return {"sigma": sigma.tolist(), "lambda": lam.tolist(), "sigma_star": lv.sigma_star(lam).tolist(),
            "lambda_star": target.tolist(), "latent_variance": metrics["latent_variance"]}


def analyse(cfg: dict, runs_: list, metrics: dict) -> dict:
    """Per model the numbers over seeds; the three criteria."""
    from numerics import lambda_vae as lv

    per_model = {}
    for name in cfg["models"]:
        mine = [metrics[r.name] for r in runs_ if r.values["model"] == name]
        dims = [dimensions(cfg, m) for m in mine]
        per_model[name] = {"active_units": [m["active_units"] for m in mine],
                           "sigma_spread": [float(np.std(d["sigma"])) for d in dims],
                           "snr_capacity": [m["snr_capacity"] for m in mine],
                           "decoder_capacity": [m["decoder_capacity"] for m in mine],
                           "reconstruction_nll": [m["reconstruction_nll"] for m in mine],
                           "kl": [m["kl"] for m in mine], "dimensions": dims}
    lam = per_model["lambda"]
    au = {other: dict(zip(("holds", "z"), confirmation.exceeds(lam["active_units"], per_model[other]["active_units"])))
          for other in cfg["models"] if other != "lambda"}
    tol = cfg["tolerance"]
    deviation = [float(np.median(np.abs(np.subtract(d["sigma"], d["sigma_star"])) / np.asarray(d["sigma_star"])))
                 for d in lam["dimensions"]]
    narrower = [a < b for a, b in zip(lam["sigma_spread"], per_model["vae"]["sigma_spread"])]
    curve = [float(np.max(np.abs(np.subtract(d["lambda"], d["lambda_star"])) / np.asarray(d["lambda_star"])))
             for d in lam["dimensions"]]
    lambda_j, sigma_j = lv.joint_fixed_point(cfg["models"]["lambda"]["delta"])
    return {"models": per_model,
            "joint_fixed_point": {"lambda": float(lambda_j), "sigma": float(sigma_j)},
            "criteria": {
                "active_units": {**au, "holds": all(v["holds"] for v in au.values())},
                "equalisation": {"narrower_than_vae": narrower, "median_relative_deviation_from_sigma_star": deviation,
                                 "holds": all(narrower) and all(d <= tol for d in deviation)},
                "on_the_curve": {"max_relative_deviation": curve, "holds": all(c <= tol for c in curve)}}}


def figure(result: dict, path: Path) -> Path:
    """σ_i per model (strip plot), (σ_i, λ_i) of the λ-VAE on the curves λ*(σ, δ) and σ*(λ), AU per model."""
    from deep import io
    from numerics import lambda_vae as lv

    cfg, models = result["config"], result["models"]
    schedule = cfg["models"]["lambda"]
    fig, (a, b, c) = io.figure(1, 3, figsize=(14, 4))
    for k, (name, block) in enumerate(models.items()):
        for j, d in enumerate(block["dimensions"]):
            a.plot(np.full(len(d["sigma"]), k + 0.15 * (j - 0.5)), d["sigma"], "o", ms=4, alpha=0.7, color=f"C{k}")
    a.axhline(result["joint_fixed_point"]["sigma"], color="k", ls=":", lw=1,
              label=rf"joint $\sigma_J$ = {result['joint_fixed_point']['sigma']:.3f}")
    a.set_xticks(range(len(models)), list(models))
    a.set_ylabel(r"$\sigma_i = E_x\,\sigma_i(x)$ per dimension")
    a.legend(fontsize=7)
    sigma = np.linspace(0.05, 0.999, 400)
    b.plot(sigma, np.minimum(schedule["lambda_max"], lv.lambda_star(sigma, schedule["delta"])), "k",
           label=rf"$\lambda^*(\sigma, \delta={schedule['delta']})$ (eq. 16, capped)")
    lam = np.linspace(1.001, schedule["lambda_max"], 400)
    b.plot(lv.sigma_star(lam), lam, "k--", lw=1, label=r"$\sigma^*(\lambda)$ (eq. 13)")
    for j, d in enumerate(models["lambda"]["dimensions"]):
        b.plot(d["sigma"], d["lambda"], "o", ms=5, color=f"C{j + 3}", label=f"lambda-VAE, seed {cfg['seeds'][j]}")
    b.set_xlabel(r"$\sigma_i$")
    b.set_ylabel(r"$\lambda_i$")
    b.legend(fontsize=7)
    for k, (name, block) in enumerate(models.items()):
        c.bar(k, np.mean(block["active_units"]), yerr=np.std(block["active_units"]), color=f"C{k}", capsize=4)
    c.set_xticks(range(len(models)), list(models))
    c.set_ylabel(f"active units (of m = {cfg['m']})")
    fig.suptitle("Variance equalisation of [lambda_vae] on a conv VAE (dSprites)", fontsize=10)
    fig.tight_layout()
    return io.save_figure(fig, path, dpi=120)


plan = runs                                                              # the protocol: every run of the grid
run, run_together = confirmation.run, confirmation.run_together          # each a plain confirmation run


def summarise(cfg, runs_: list, records: dict, figures: Path, work_dir: Path | None = None) -> dict:
    """:func:`analyse` of the records, and the figure ``variance_equalisation.png``."""
    result = analyse(cfg, runs_, records)
    result["figure"] = figure({"config": protocol.as_dict(cfg), **result}, figures / "variance_equalisation.png").name
    return result


def report(result: dict) -> str:
    lines = [f"{name:>9}: AU {block['active_units']}, sigma spread {np.round(block['sigma_spread'], 3).tolist()}, "
             f"-log p(x|z) {np.round(block['reconstruction_nll'], 1).tolist()}"
             for name, block in result["models"].items()]
    return "\n".join([*lines, str({k: v["holds"] for k, v in result["criteria"].items()})])
