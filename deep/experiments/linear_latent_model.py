"""Do the collapse thresholds of [wang_ziyin] transfer to trained conv VAEs? (issue 7, prediction 3)

Theory. For the linear VAE (y = x) with a Gaussian decoder of fixed standard deviation
η_dec, learnable biases (App. B: the same as centred data) and a β-weighted KL, Theorems 1-2
make latent i collapse iff ζ_i² ≤ β η_dec², where ζ_i² are the eigenvalues of the centred
second moment of the training set (§4.1: "ζ_i² are the eigenvalues of A"); complete
collapse iff β ≥ β_c = ζ_1² / η_dec². At the global minimum (η_enc = 1) an active latent
has σ_i* = √β η_dec / ζ_i (eq. 19), Var_x μ_i = θ_i² = 1 - σ_i*² (eq. 18) and
KL_i = -log σ_i*, so the predicted number of active units (Var μ_i > 0.01, the threshold of
:func:`deep.metrics.active_units`) and total KL follow from ζ alone
(:func:`numerics.linear_latent_model.beta_thresholds`, ``classify`` and ``sigma_star``).
§5 of the paper reports that for nonlinear networks "the threshold of complete posterior
collapse is also perfectly predicted".

Experiment. The Table-1 conv VAE of [mi_collapse] (m = 10 latents) with the Gaussian
decoder N(dec(z), η_dec² I), η_dec = 1, on a fixed subset of the procedural dSprites;
ζ from that subset (:func:`zeta`). Runs at β = c β_c for c in {0.5, 0.9, 1.1, 2} and two
seeds, Adam (lr 1e-3, batch 32).

Every run approaches its β from the informative side, so that collapse at the end means
that β pushed an informative representation to the prior. Pilot runs showed why: from a
cold start a conv VAE at 0.9 β_c collapsed within its first 100 steps (total KL 6e-4
nats at step 100, 1e-4 at step 500), and so did runs whose KL weight was ramped up from
0 over 300 steps (KL 0.005 at step 300 at 0.5 β_c) and runs that also started with
σ = 0.05: the decoder has not learnt even the mean image when the KL term removes the
signal, and the origin, a saddle of the landscape, then holds gradient descent for
longer than these runs last. So per seed one network is pretrained for
``pretrain_steps`` at β = ``pretrain_beta`` (practically an autoencoder; encoder
log σ² biases initialised to ``init_logvar``), and each run continues it (weights and
Adam state) with the KL weight ramped linearly from 0 to its β over ``ramp_steps``
and then held, to ``pretrain_steps + steps`` in all.

Criterion, fixed before the runs: a run has collapsed iff it has no active unit
(Var_x μ_i ≤ 0.01 for every latent, on ``eval_samples`` training images). The thresholds
transfer iff, for every seed, the runs at 0.5 and 0.9 β_c have not collapsed and the runs
at 1.1 and 2 β_c have. Reported besides: active units and total KL per run against the
theory's values, and the sorted latent variances against 1 - σ_i*².

References
----------
[wang_ziyin] Z. Wang and L. Ziyin, "Posterior Collapse of a Linear Latent Variable Model",
    shared/papers/004_1e5dba7473d2cfc0.txt, Theorems 1-2, Proposition 3, App. B, §5.
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

HELP = ("paper 004 on conv VAEs: train at 0.5, 0.9, 1.1 and 2 x the complete-collapse beta predicted from the "
        "data spectrum (Gaussian decoder, fixed eta_dec); does collapse appear above and not below? "
        "(results/linear_latent_model)")
ALIASES = ["thresholds"]
NAME = "linear_latent_model"
PARTS = ()


@protocol.configuration
class Config(protocol.Config):
    """The experiment's settings; the defaults are the stored result's (CPU-reduced: see :func:`describe`)."""

    WHAT = "linear-latent-model config"
    data: dict = field(default_factory=lambda: {"name": "dsprites", "subset": 4096})
    m: int = field(default=10, metadata=check(validation.positive_int))
    eta_dec: float = field(default=1.0, metadata=check(validation.positive))
    multiples: tuple[float, ...] = field(default=(0.5, 0.9, 1.1, 2.0), metadata=check(protocol.increasing))
    seeds: tuple[int, ...] = field(default=(0, 1), metadata=check(protocol.seeds))
    init_logvar: float = -6.0
    pretrain_beta: float = field(default=1e-3, metadata=check(validation.positive))
    pretrain_steps: int = field(default=400, metadata=check(validation.positive_int))
    steps: int = field(default=600, metadata=check(validation.positive_int))
    ramp_steps: int = field(default=200, metadata=check(protocol.count(0)))
    batch_size: int = field(default=32, metadata=check(validation.positive_int))
    lr: float = field(default=1e-3, metadata=check(validation.positive))
    eval_samples: int = field(default=2000, metadata=check(validation.positive_int))
    active_threshold: float = field(default=0.01, metadata=check(validation.positive))


DEFAULT = Config()
"""The stored result's configuration."""
SMOKE = DEFAULT.replace(data={"name": "dsprites", "subset": 96}, m=3, seeds=[0], pretrain_steps=2, steps=4,
                        ramp_steps=2, batch_size=8, eval_samples=48)
"""A pipeline check of a few seconds: every stage, no claim."""


def default(part=None, smoke: bool = False) -> Config:
    """The stored result's configuration (``smoke``: the tiny one)."""
    return SMOKE if smoke else DEFAULT


def describe(cfg) -> str:
    return (f"cpu-reduced: {cfg['pretrain_steps']} pretraining steps then {cfg['steps']} Adam steps of batch "
            f"{cfg['batch_size']} at each beta ({cfg['ramp_steps']} of them ramping the KL weight) on "
            f"{cfg['data'].get('subset', 'all')} fixed {cfg['data']['name']} images, {len(cfg['seeds'])} seeds, "
            f"m = {cfg['m']}; the paper (§5) trains MLPs to convergence on MNIST and synthetic data")


def scale(cfg) -> dict:
    """§5 of [wang_ziyin] trains "to convergence" and states no length; these runs measure no convergence."""
    return provenance.scale((cfg["pretrain_steps"] + cfg["steps"]) * cfg["batch_size"], None,
                            what=f"conv VAEs on {cfg['data']['subset']} dSprites images, {len(cfg['seeds'])} seeds")


def config(smoke: bool = False) -> Config:
    """The command's default configuration (``smoke``: the tiny one)."""
    return default(smoke=smoke)


def zeta(data) -> np.ndarray:
    """ζ_i of [wang_ziyin] §3 for y = x: square roots of the eigenvalues of the centred second moment.

    Computed from the n x n Gram matrix of the centred observations (its non-zero
    eigenvalues are those of the D x D covariance), largest first, min(n, D) of them.
    """
    x = data.observations(np.arange(len(data))).reshape(len(data), -1).astype(np.float64)
    x -= x.mean(axis=0)
    small = x @ x.T if x.shape[0] <= x.shape[1] else x.T @ x
    eigenvalues = np.linalg.eigvalsh(small / len(data))[::-1]
    return np.sqrt(np.clip(eigenvalues, 0.0, None))


def theory(zeta_, betas, m: int, eta_dec: float, threshold: float) -> dict:
    """The linear theory at each β: active latents (Var μ_i > threshold), total KL, latent variances (m each)."""
    from numerics import linear_latent_model as llm

    zeta_m = zeta_[:m]
    variance = np.array([1 - llm.sigma_star(zeta_m, b, eta_dec=eta_dec) ** 2 for b in betas])  # θ_i², eq. (18)-(19)
    kl = np.array([0.0 - np.log(llm.sigma_star(zeta_m, b, eta_dec=eta_dec)).sum() for b in betas])  # 0.0: no -0
    surviving = llm.classify(zeta_m, m, np.asarray(betas), eta_dec=eta_dec)
    return {"beta": list(map(float, betas)), "surviving": surviving.n_active.tolist(),
            "active_units": (variance > threshold).sum(axis=1).tolist(), "kl": kl.tolist(),
            "latent_variance": variance.tolist()}


def runs(cfg: dict, beta_c: float) -> list:
    """Per seed a pretraining run, and one run per multiple of β_c continuing it."""
    from deep.sweep import Run, run_config

    model = {"architecture": "conv", "m": cfg["m"], "likelihood": "gaussian", "eta_dec": cfg["eta_dec"],
             "init_logvar": cfg["init_logvar"]}

    def run(objective, steps, seed):
        return run_config({"data": cfg["data"], "model": model, "objective": objective, "steps": steps,
                           "batch_size": cfg["batch_size"], "lr": cfg["lr"], "seed": seed, "checkpoint_every": 200,
                           "log_every": 50, "evaluation": {"samples": cfg["eval_samples"], "dci": False,
                                                           "metrics": [f"active_units:{cfg['active_threshold']:g}"]}})

    n0 = cfg["pretrain_steps"]
    out = [Run(f"pretrain,seed={seed}", run({"name": "beta", "beta": cfg["pretrain_beta"]}, n0, seed), {"seed": seed})
           for seed in cfg["seeds"]]
    for c in cfg["multiples"]:
        for seed in cfg["seeds"]:
            objective = {"name": "beta", "beta": c * beta_c, "warmup_start": n0, "warmup_steps": cfg["ramp_steps"]}
            out.append(Run(f"x{c:g},seed={seed}", run(objective, n0 + cfg["steps"], seed), {"multiple": c, "seed": seed},
                           init_from=f"pretrain,seed={seed}"))
    return out


def analyse(cfg: dict, zeta_: np.ndarray, runs_: list, metrics: dict, logs: dict) -> dict:
    """Per multiple: the network's active units, KL and sorted latent variances per seed, the theory's, the verdict.

    ``logs`` holds each run's log lines; the result keeps the total KL along training.
    """
    beta_c = float(zeta_[0] ** 2 / cfg["eta_dec"] ** 2)
    predicted = theory(zeta_, [c * beta_c for c in cfg["multiples"]], cfg["m"], cfg["eta_dec"],
                       cfg["active_threshold"])
    rows = []
    for j, c in enumerate(cfg["multiples"]):
        mine = [metrics[r.name] for r in runs_ if r.values.get("multiple") == c]
        variances = [sorted((float(v) for v in m_["latent_variance"]), reverse=True) for m_ in mine]
        rows.append({"multiple": c, "beta": c * beta_c, "seeds": cfg["seeds"],
                     "active_units": [m_["active_units"] for m_ in mine],
                     "kl": [m_["kl"] for m_ in mine], "latent_variance": variances,
                     "reconstruction_mse": [m_["reconstruction_mse"] for m_ in mine],
                     "collapsed": [m_["active_units"] == 0 for m_ in mine],
                     "kl_during_training": [[[line["step"], line["kl_total"]] for line in logs[r.name]]
                                            for r in runs_ if r.values.get("multiple") == c],
                     "theory": {k: predicted[k][j] for k in ("surviving", "active_units", "kl", "latent_variance")}})
    below = [r for r in rows if r["multiple"] < 1]
    above = [r for r in rows if r["multiple"] > 1]
    transfers = all(not any(r["collapsed"]) for r in below) and all(all(r["collapsed"]) for r in above)
    thresholds = [float(t) for t in predicted["beta"]]
    return {"beta_c": beta_c, "zeta_squared": (zeta_[:20] ** 2).tolist(),
            "mode_thresholds": (zeta_[:cfg["m"]] ** 2 / cfg["eta_dec"] ** 2).tolist(), "betas": thresholds,
            "rows": rows,
            "criterion": {"statement": "every seed: no collapse (AU > 0) at 0.5 and 0.9 beta_c; collapse (AU = 0) "
                                       "at 1.1 and 2 beta_c",
                          "transfers": transfers,
                          "smallest_multiple_with_collapse_in_every_seed":
                              min((r["multiple"] for r in rows if all(r["collapsed"])), default=None),
                          "largest_multiple_without_collapse_in_any_seed":
                              max((r["multiple"] for r in rows if not any(r["collapsed"])), default=None)}}


def figure(result: dict, path: Path) -> Path:
    """Total KL and active units against β / β_c (network per seed, theory as a curve) and latent variances."""
    from deep import io

    cfg, rows = result["config"], result["rows"]
    zeta_ = np.sqrt(np.asarray(result["zeta_squared"]))
    grid = np.linspace(0.2, max(cfg["multiples"]) * 1.15, 400)
    curve = theory(zeta_, grid * result["beta_c"], cfg["m"], cfg["eta_dec"], cfg["active_threshold"])
    fig, (a, b, c, d) = io.figure(1, 4, figsize=(17, 3.8))
    for ax, key, label in ((a, "kl", "total KL (nats)"), (b, "active_units", "active units")):
        ax.plot(grid, curve[key], color="k", lw=1.2, label="linear theory (Thm. 1-2)")
        for k, seed in enumerate(cfg["seeds"]):
            ax.plot([r["multiple"] for r in rows], [r[key][k] for r in rows], "o", ms=6, alpha=0.8,
                    label=f"conv VAE, seed {seed}")
        ax.axvline(1.0, color="grey", ls=":", lw=1)
        ax.set_xlabel(r"$\beta / \beta_c$,  $\beta_c = \zeta_1^2/\eta_{dec}^2$" + f" = {result['beta_c']:.3g}")
        ax.set_ylabel(label)
    a.set_yscale("symlog", linthresh=0.01)
    a.set_ylim(bottom=0)
    a.legend(fontsize=7)
    for k, r in enumerate(rows):
        colour = f"C{k}"
        c.plot(range(1, cfg["m"] + 1), r["latent_variance"][0], "o-", color=colour, ms=3,
               label=f"{r['multiple']:g} $\\beta_c$ (seed {cfg['seeds'][0]})")
        c.plot(range(1, cfg["m"] + 1), r["theory"]["latent_variance"], "--", color=colour, lw=1)
    c.axhline(cfg["active_threshold"], color="grey", ls=":", lw=1)
    c.set_yscale("symlog", linthresh=1e-3)
    c.set_ylim(bottom=0)
    c.set_xlabel("latent (sorted)")
    c.set_ylabel(r"Var$_x\,\mu_i$ (dashed: $1-\sigma_i^{*2}$)")
    c.legend(fontsize=7)
    for k, r in enumerate(rows):
        for j, curve_ in enumerate(r["kl_during_training"]):
            steps, kl = np.asarray(curve_).T
            d.plot(steps, kl, color=f"C{k}", ls="-" if j == 0 else "--", lw=1,
                   label=f"{r['multiple']:g} $\\beta_c$" if j == 0 else None)
    d.axvline(cfg["pretrain_steps"] + cfg["ramp_steps"], color="grey", ls=":", lw=1)
    d.set_yscale("symlog", linthresh=0.01)
    d.set_ylim(bottom=0)
    d.set_xlabel("step (dotted: end of the KL ramp)")
    d.set_ylabel("total KL in training (nats)")
    d.legend(fontsize=7)
    fig.suptitle(f"Collapse thresholds of [wang_ziyin] on a conv VAE ({cfg['data']['name']}, "
                 f"{cfg['data'].get('subset', 'all')} images): transfers = {result['criterion']['transfers']}",
                 fontsize=10)
    fig.tight_layout()
    return io.save_figure(fig, path, dpi=120)


def beta_c(cfg) -> tuple[np.ndarray, float]:
    """(ζ of the training data, β_c = ζ_1² / η_dec²)."""
    from deep.data import build_data

    zeta_ = zeta(build_data(cfg["data"]))
    return zeta_, float(zeta_[0] ** 2 / cfg["eta_dec"] ** 2)


def plan(cfg) -> list:
    """Per seed a pretraining run and one run per multiple of β_c (from the data's spectrum) continuing it."""
    return runs(cfg, beta_c(cfg)[1])


def run(cfg, one, work_dir: Path, device: str) -> dict:
    """Train ``one``: its final metrics and its total KL along training (``kl_during_training``)."""
    metrics = confirmation.train(one, work_dir, device)
    return {**metrics, "kl_during_training": [[line["step"], line["kl_total"]]
                                              for line in confirmation.log(one, work_dir)]}


def run_together(cfg, runs_, work_dir: Path, device: str) -> list[dict]:
    metrics = confirmation.train_together(runs_, work_dir, device)
    return [{**m, "kl_during_training": [[line["step"], line["kl_total"]] for line in confirmation.log(r, work_dir)]}
            for r, m in zip(runs_, metrics)]


def summarise(cfg, runs_: list, records: dict, figures: Path, work_dir: Path | None = None) -> dict:
    """:func:`analyse` of the records, and the figure ``thresholds.png``."""
    zeta_, _ = beta_c(cfg)
    logs = {name: [{"step": s, "kl_total": k} for s, k in rec["kl_during_training"]] for name, rec in records.items()}
    result = analyse(cfg, zeta_, runs_, records, logs)
    result["figure"] = figure({"config": protocol.as_dict(cfg), **result}, figures / "thresholds.png").name
    return result


def report(result: dict) -> str:
    lines = [f"{r['multiple']:>4g} beta_c (beta = {r['beta']:.4g}): AU {r['active_units']} (theory "
             f"{r['theory']['active_units']}), KL {np.round(r['kl'], 3).tolist()} (theory {r['theory']['kl']:.3f})"
             for r in result["rows"]]
    return "\n".join([*lines, f"thresholds transfer: {result['criterion']['transfers']}"])
