"""Paper 000's deep experiments at CPU scale: non-monotone disentanglement and collapse in β
(§5.2, Fig. 4), restoration by λ in the two-phase protocol (Fig. 5), the Tchebycheff
selection of (β, λ) (§6, Fig. 6) and App. F's reconstructions and MI maps (Fig. 7-8).
Issue 7, predictions 1 and 2.

Setting. The Table-1 conv VAE of [mi_collapse] with a Bernoulli decoder (m = 10 latents
instead of 15), Adam (lr 1e-3, batch 32), on fixed subsets of 4096 images of the
procedural dSprites and of the procedural Shapes3D-like scenes (MPI3D-real is not
available). Unlike Table 2, the KL weight is ramped from 0 over the first
``warmup_steps`` and the encoder's log σ² biases start at ``init_logvar``: in a first
attempt without them, one of the two β = 1 networks on dSprites collapsed completely in
its first 150 steps (total KL 29.5 nats at step 50, 0.05 at step 150, 0.01 at step 800;
the other reached 20.6 nats), a failure of these short runs, not of β, which would
have decided the β = 1 column. Phase 1 (the "stabilisation phase"): β-VAEs over a coarse part of Table 2's
β grid, {1, 8, 64, 256}, two seeds, ``phase1_steps`` steps, on both data sets. Phase 2
(the "restoration phase", dSprites): every phase-1 network continues for ``phase2_steps``
steps with the λβ objective, λ in {0, 8, 32} (λ = 0: the β-VAE trained as long), Adam's
state carried over. Metrics on ``eval_samples`` training images (:data:`METRICS`): MIG and
SAP as disentanglement_lib computes them (``mig:binned``, ``sap:dlib``, the conventions of
the paper's figures; the result records them under ``metric_variants``), the posterior
MIG of Chen et al. (``mig:chen``) beside them, active units, total KL, the binned factor
information Σ_j max_i I(μ_i; v_j) (the MI that ``mig:binned`` reads), reconstruction
-log p(x|z) and ||x - E[x|μ]||². The stored result (made before issue 16) has SAP from the
logistic-regression variant (``sap:logistic``) and no ``metric_variants``.

Statistics: for a cell, mean and standard error over seeds; "a exceeds b" means
mean(a) - mean(b) > 2 sqrt(se_a² + se_b²) (:func:`deep.confirmation.exceeds`).

Criteria, fixed before the runs.

- prediction 1 / section_5_2, per data set at the end of phase 1:
  (a) ``rise_and_fall``: for MIG and for SAP, the best intermediate β (8 or 64) exceeds
  both β = 1 and the largest β; (b) ``collapse``: at the largest β the mean number of
  active units is at most 1 and the factor information is below 10 % of its value at β = 1
  (``holds_as_fixed``).

  Amended after the runs (both are stored): the binned factor information reads μ alone,
  and a histogram is blind to scale, so a collapsed encoder whose μ(x) still varies by
  1e-3 under noise of σ ≈ 1 keeps nats of "information" (β = 256 on dSprites: no active
  unit, total KL 0.01 nats, binned information 1.4-2.0 nats). The information the
  sampled latent carries obeys I(z; v) ≤ I(z; x) ≤ E_x KL(q(z|x) || p(z)), the total KL,
  so ``holds_kl_bound`` asks for at most one active unit and a total KL below 10 % of its
  value at β = 1.
- prediction 2 / figure_5, dSprites after phase 2: at the largest β, for every λ > 0,
  MIG(λ) exceeds MIG(0) and SAP(λ) exceeds SAP(0), and the reconstruction -log p(x|z) at
  λ = 0 exceeds the one at λ (reported at every β).
- section_6, dSprites after phase 2, f₁ = reconstruction -log p(x|z), f₂ = 1 - MIG (means
  over seeds), eq. (13)-(14) with ρ = 1e-3 for ω = (0.8, 0.2), (0.5, 0.5), (0.2, 0.8): the
  selected β never decreases along these ω and ends above where it starts; and λ > 0
  recovers reconstruction: at the largest β the best λ > 0 has a lower -log p(x|z) than
  λ = 0 (exceeds).
- appendix_f, dSprites after phase 2: (a) at λ = 0 the mean ||x - E[x|μ]||² never
  decreases along the β grid and at the largest β exceeds its value at β = 1; (b) at
  every β > 1 the mean ||x - E[x|μ]||² is lower with λ = 32 than with λ = 0; (c) the MI
  of (β, λ) = (8, 32) is more localised than that of (1, 0): the share of each factor's
  MI held by its most informative latent, averaged over factors, exceeds.

The figures: MIG, SAP, active units and reconstruction against β per data set (Fig. 4),
heatmaps over (β, λ) of MIG, SAP and reconstruction with the Tchebycheff selections
(Fig. 5-6), reconstructions of dSprites images (Fig. 7) and MI maps (Fig. 8) of seed 0.

References
----------
[mi_collapse] "Mutual Information Collapse Explains Disentanglement Failure in β-VAEs",
    shared/papers/000_6e757ef8f718962b.txt, §5.2 (Tables 1-2, Fig. 4-5), §6 eq. (13)-(14)
    (Fig. 6), App. F (Fig. 7-8).
"""
from __future__ import annotations

import json
from dataclasses import field
from pathlib import Path

import numpy as np

from deep import confirmation, provenance
from deep import experiment as protocol
from deep.config import check, unknown_keys
from deep.sweep import pack_key  # noqa: F401 - runs with one key share a task under --pack
from numerics import validation

HELP = ("paper 000 on conv VAEs: beta-VAEs over beta on dSprites and Shapes3D (MIG/SAP rise and fall, collapse), "
        "then l2_weight > 0 in the two-phase protocol, Tchebycheff selection and App. F (results/linear_gaussian_vae)")
ALIASES = ["beta-lambda"]
NAME = "linear_gaussian_vae"
PARTS = ()


def _preferences(name: str, value) -> tuple:
    for i, omega in enumerate(value):
        if len(omega) != 2 or min(omega) < 0 or not np.isclose(sum(omega), 1.0):
            raise ValueError(f"{name}[{i}] must be two weights >= 0 that sum to 1; got {list(omega)}")
    return value


def _appendix_f(name: str, value: dict) -> dict:
    unknown_keys(value, ("baseline", "restored"), where=name)
    for key in ("baseline", "restored"):
        if len(value.get(key, ())) != 2:
            raise ValueError(f"{name}.{key} must be a (beta, l2_weight) pair of the grid; got {value.get(key)!r}")
    return value


@protocol.configuration
class Config(protocol.Config):
    """The experiment's settings; the defaults are the stored result's (CPU-reduced: see :func:`describe`).

    ``l2_weights``: paper 000's λ (the L2 weight of eq. 7) of the restoration phase (0: the β-VAE
    trained as long).
    """

    WHAT = "linear-gaussian-vae config"
    RENAMED = {"lams": "paper 000's L2 weights are 'l2_weights'"}
    datasets: dict = field(default_factory=lambda: {"dsprites": {"name": "dsprites", "subset": 4096},
                                                    "shapes3d": {"name": "shapes3d", "subset": 4096}})
    restoration_data: str = "dsprites"
    m: int = field(default=10, metadata=check(validation.positive_int))
    betas: tuple[float, ...] = field(default=(1.0, 8.0, 64.0, 256.0),
                                     metadata=check(lambda n, v: protocol.increasing(n, v, size=3)))
    l2_weights: tuple[float, ...] = field(default=(0.0, 8.0, 32.0),
                                          metadata=check(lambda n, v: protocol.increasing(n, v, low=-1.0, size=2)))
    seeds: tuple[int, ...] = field(default=(0, 1), metadata=check(protocol.seeds))
    phase1_steps: int = field(default=800, metadata=check(validation.positive_int))
    phase2_steps: int = field(default=250, metadata=check(validation.positive_int))
    warmup_steps: int = field(default=300, metadata=check(protocol.count(0)))
    init_logvar: float = -6.0
    batch_size: int = field(default=32, metadata=check(validation.positive_int))
    lr: float = field(default=1e-3, metadata=check(validation.positive))
    eval_samples: int = field(default=2000, metadata=check(validation.positive_int))
    preferences: tuple[tuple[float, ...], ...] = field(default=((0.8, 0.2), (0.5, 0.5), (0.2, 0.8)),
                                                       metadata=check(_preferences))
    rho: float = field(default=1e-3, metadata=check(validation.positive))
    appendix_f: dict = field(default_factory=lambda: {"baseline": [1.0, 0.0], "restored": [8.0, 32.0]},
                             metadata=check(_appendix_f))

    def __post_init__(self):
        if self.restoration_data not in self.datasets:
            raise ValueError(f"restoration_data must be one of the datasets ({', '.join(self.datasets)}); "
                             f"got {self.restoration_data!r}")
        if self.l2_weights[0] != 0:
            raise ValueError("l2_weights must start with 0 (the beta-VAE trained as long); "
                             f"got {list(self.l2_weights)}")


DEFAULT = Config()
"""The stored result's configuration (CPU-reduced: see :func:`describe`)."""
SMOKE = DEFAULT.replace(datasets={"dsprites": {"name": "dsprites", "subset": 64},
                                  "shapes3d": {"name": "shapes3d", "subset": 64}},
                        m=3, betas=[1.0, 8.0, 256.0], l2_weights=[0.0, 32.0], seeds=[0], phase1_steps=3,
                        phase2_steps=2, warmup_steps=2, batch_size=4, eval_samples=40)
"""A pipeline check: every stage, no claim."""


def default(part=None, smoke: bool = False) -> Config:
    """The stored result's configuration (``smoke``: the tiny one)."""
    return SMOKE if smoke else DEFAULT


def describe(cfg) -> str:
    if cfg != DEFAULT:
        return "a configuration other than the stored one (see config): not the stored evidence"
    return ("cpu-reduced: beta-VAEs for 800 Adam steps of batch 32 (lr 1e-3; KL weight ramped from 0 over the first "
            "300, encoder log sigma^2 biases -6 at the start) instead of 150k steps of batch 64 (lr 1e-4), then 250 "
            "lambda-beta steps instead of 50k; beta in {1, 8, 64, 256} of Table 2's 8 values, "
            "lambda in {0, 8, 32} of 5; 2 seeds instead of 10; m = 10 instead of 15; 4096 fixed images of the "
            "procedural dSprites and Shapes3D-like sets; no MPI3D-real")


METRICS = ("mig:binned", "sap:dlib", "mig:chen", "active_units:0.01")
"""The metric variants of every run (:mod:`deep.metrics`): paper 000's first."""

PAPER_STEPS = {"phase1": 150_000, "phase2": 50_000, "batch_size": 64}   # Table 2 of [mi_collapse]


def scale(cfg, phase: str = "phase2") -> dict:
    """The scale of the runs up to the end of ``phase`` ("phase1" or "phase2"), against Table 2's protocol."""
    steps = cfg["phase1_steps"] + (cfg["phase2_steps"] if phase == "phase2" else 0)
    paper = PAPER_STEPS["phase1"] + (PAPER_STEPS["phase2"] if phase == "phase2" else 0)
    return provenance.scale(steps * cfg["batch_size"], paper * PAPER_STEPS["batch_size"],
                            what=f"conv VAEs on procedural data, {len(cfg['seeds'])} seeds, to the end of {phase}")


def config(smoke: bool = False) -> Config:
    """The command's default configuration (``smoke``: the tiny one)."""
    return default(smoke=smoke)


def _phase1_name(data: str, beta: float, seed: int) -> str:
    return f"{data},beta={beta:g},seed={seed}"


def runs(cfg: dict) -> list:
    """Phase-1 β-VAEs on every data set, then the phase-2 continuations on ``restoration_data``."""
    from deep.sweep import Run, run_config

    def run(data, objective, steps, seed):
        objective = {**objective, "warmup_steps": cfg["warmup_steps"]}
        return run_config({"data": cfg["datasets"][data],
                           "model": {"architecture": "conv", "m": cfg["m"], "likelihood": "bernoulli",
                                     "init_logvar": cfg["init_logvar"]},
                           "objective": objective, "steps": steps, "batch_size": cfg["batch_size"], "lr": cfg["lr"],
                           "seed": seed, "checkpoint_every": 200, "log_every": 50,
                           "evaluation": {"samples": cfg["eval_samples"], "dci": False, "metrics": list(METRICS)}})

    n1, total = cfg["phase1_steps"], cfg["phase1_steps"] + cfg["phase2_steps"]
    out = []
    for data in cfg["datasets"]:
        for beta in cfg["betas"]:
            for seed in cfg["seeds"]:
                out.append(Run(_phase1_name(data, beta, seed), run(data, {"name": "beta", "beta": beta}, n1, seed),
                               {"data": data, "beta": beta, "seed": seed}))
    data = cfg["restoration_data"]
    for beta in cfg["betas"]:
        for seed in cfg["seeds"]:
            for lam in cfg["l2_weights"]:
                objective = ({"name": "lambda-beta", "beta": beta, "l2_weight": lam, "phase1_steps": n1} if lam
                             else {"name": "beta", "beta": beta})
                first = _phase1_name(data, beta, seed)
                out.append(Run(f"{first}+l2_weight={lam:g}", run(data, objective, total, seed),
                               {"data": data, "beta": beta, "seed": seed, "l2_weight": lam}, init_from=first))
    return out


def metric_variants(metrics: dict) -> dict | None:
    """The variants behind every run's ``mig``, ``sap``, ... (one dict; ValueError if runs disagree; None if unrecorded)."""
    found = {json.dumps(m.get("variants"), sort_keys=True) for m in metrics.values()}
    if len(found) > 1:
        raise ValueError(f"the runs' metrics were computed with different variants: {sorted(found)}")
    return json.loads(found.pop()) if found else None


def factor_information(metrics: dict) -> float:
    """Σ_j max_i I(z_i; v_j) (nats), the binned MI that MIG uses."""
    return float(np.asarray(metrics["mutual_information"]).max(axis=0).sum())


def localisation(metrics: dict) -> float:
    """The share of each factor's MI held by its most informative latent, averaged over factors."""
    mi = np.asarray(metrics["mutual_information"])
    total = mi.sum(axis=0)
    return float(np.mean(np.where(total > 0, mi.max(axis=0) / np.where(total > 0, total, 1.0), 0.0)))


QUANTITIES = {"mig": lambda m: m["mig"], "sap": lambda m: m["sap"], "active_units": lambda m: m["active_units"],
              "kl": lambda m: m["kl"], "factor_information": factor_information, "localisation": localisation,
              "reconstruction_nll": lambda m: m["reconstruction_nll"],
              "reconstruction_mse": lambda m: m["reconstruction_mse"]}


def cells(runs_: list, metrics: dict, **where) -> dict:
    """{quantity: values over seeds} of the runs whose grid values match ``where`` (phase 1 without ``l2_weight``)."""
    chosen = [r for r in runs_ if all(r.values.get(k) == v for k, v in where.items())
              and ("l2_weight" in where) == ("l2_weight" in r.values)]
    return {q: [f(metrics[r.name]) for r in chosen] for q, f in QUANTITIES.items()}


def _summary(values: dict) -> dict:
    return {q: {"values": v, "mean": confirmation.mean_se(v)[0], "se": confirmation.mean_se(v)[1]}
            for q, v in values.items()}


def _exceeds(a, b) -> dict:
    ok, z = confirmation.exceeds(a, b)
    return {"holds": ok, "z": z}


def prediction_1(cfg: dict, runs_: list, metrics: dict) -> dict:
    """Phase-1 curves per data set and the rise-and-fall and collapse criteria."""
    betas = cfg["betas"]
    out = {}
    for data in cfg["datasets"]:
        grid = {b: cells(runs_, metrics, data=data, beta=b) for b in betas}
        criteria = {}
        for q in ("mig", "sap"):
            middle = max(betas[1:-1], key=lambda b: np.mean(grid[b][q]))
            criteria[q] = {"best_intermediate_beta": middle, "over_beta_1": _exceeds(grid[middle][q], grid[betas[0]][q]),
                           "over_largest_beta": _exceeds(grid[middle][q], grid[betas[-1]][q])}
            criteria[q]["holds"] = criteria[q]["over_beta_1"]["holds"] and criteria[q]["over_largest_beta"]["holds"]
        info_1, info_max = np.mean(grid[betas[0]]["factor_information"]), np.mean(grid[betas[-1]]["factor_information"])
        kl_1, kl_max = np.mean(grid[betas[0]]["kl"]), np.mean(grid[betas[-1]]["kl"])
        au_max = float(np.mean(grid[betas[-1]]["active_units"]))
        collapse = {"active_units_at_largest_beta": au_max,
                    "factor_information_ratio": float(info_max / info_1) if info_1 > 0 else None,
                    "kl_ratio": float(kl_max / kl_1) if kl_1 > 0 else None,
                    "holds_as_fixed": bool(au_max <= 1 and info_1 > 0 and info_max < 0.1 * info_1),
                    "holds_kl_bound": bool(au_max <= 1 and kl_1 > 0 and kl_max < 0.1 * kl_1)}
        out[data] = {"beta": {f"{b:g}": _summary(grid[b]) for b in betas},
                     "criteria": {"rise_and_fall": {**criteria, "holds": criteria["mig"]["holds"] and criteria["sap"]["holds"]},
                                  "collapse": collapse}}
    return out


def prediction_2(cfg: dict, runs_: list, metrics: dict) -> dict:
    """Phase-2 cells over (β, λ) on the restoration data and the restoration criterion at every β."""
    data, betas, lams = cfg["restoration_data"], cfg["betas"], cfg["l2_weights"]
    grid = {(b, lam): cells(runs_, metrics, data=data, beta=b, l2_weight=lam) for b in betas for lam in lams}
    per_beta = {}
    for b in betas:
        base = grid[b, 0.0]
        per_beta[f"{b:g}"] = {f"{lam:g}": {"mig_over_l2_weight_0": _exceeds(grid[b, lam]["mig"], base["mig"]),
                                           "sap_over_l2_weight_0": _exceeds(grid[b, lam]["sap"], base["sap"]),
                                           "nll_below_l2_weight_0": _exceeds(base["reconstruction_nll"],
                                                                             grid[b, lam]["reconstruction_nll"])}
                              for lam in lams if lam > 0}
    top = per_beta[f"{betas[-1]:g}"]
    holds = all(c["mig_over_l2_weight_0"]["holds"] and c["sap_over_l2_weight_0"]["holds"]
                and c["nll_below_l2_weight_0"]["holds"]
                for c in top.values())
    return {"cells": {f"beta={b:g},l2_weight={lam:g}": _summary(grid[b, lam]) for b in betas for lam in lams},
            "restoration": per_beta, "criterion": {"largest_beta": betas[-1], "holds": holds}}, grid


def section_6(cfg: dict, grid: dict) -> dict:
    """The augmented Tchebycheff selection over the phase-2 grid for each preference vector."""
    from numerics import tchebycheff

    keys = list(grid)
    F = np.array([[np.mean(grid[k]["reconstruction_nll"]), 1 - np.mean(grid[k]["mig"])] for k in keys])
    selections = []
    for omega in cfg["preferences"]:
        b, lam = keys[tchebycheff.select(F, omega, cfg["rho"])]
        selections.append({"omega": omega, "beta": b, "l2_weight": lam,
                           "score": tchebycheff.score(F, omega, cfg["rho"]).tolist()})
    chosen = [s["beta"] for s in selections]
    top = cfg["betas"][-1]
    recovery = max((_exceeds(grid[top, 0.0]["reconstruction_nll"], grid[top, lam]["reconstruction_nll"])
                    for lam in cfg["l2_weights"] if lam > 0), key=lambda e: e["z"] if np.isfinite(e["z"]) else -np.inf)
    moves = bool(all(x <= y for x, y in zip(chosen, chosen[1:])) and chosen[-1] > chosen[0])
    return {"grid": [f"beta={b:g},l2_weight={lam:g}" for b, lam in keys], "f": F.tolist(), "selections": selections,
            "criteria": {"moves_to_higher_beta": moves, "lambda_recovers_reconstruction": recovery,
                         "holds": moves and recovery["holds"]}}


def appendix_f(cfg: dict, grid: dict) -> dict:
    """Blur along β at λ = 0, its removal by λ = 32, and the localisation of (8, 32) against (1, 0)."""
    betas = cfg["betas"]
    mse0 = [np.mean(grid[b, 0.0]["reconstruction_mse"]) for b in betas]
    lam = max(cfg["l2_weights"])
    blur = {"mse_l2_weight_0": mse0, "non_decreasing": bool(all(x <= y for x, y in zip(mse0, mse0[1:]))),
            "largest_over_beta_1": _exceeds(grid[betas[-1], 0.0]["reconstruction_mse"],
                                            grid[betas[0], 0.0]["reconstruction_mse"])}
    blur["holds"] = blur["non_decreasing"] and blur["largest_over_beta_1"]["holds"]
    restore = {f"{b:g}": bool(np.mean(grid[b, lam]["reconstruction_mse"]) < np.mean(grid[b, 0.0]["reconstruction_mse"]))
               for b in betas[1:]}
    base, restored = tuple(cfg["appendix_f"]["baseline"]), tuple(cfg["appendix_f"]["restored"])
    local = {"baseline": _summary({"localisation": grid[base]["localisation"]})["localisation"],
             "restored": _summary({"localisation": grid[restored]["localisation"]})["localisation"],
             **_exceeds(grid[restored]["localisation"], grid[base]["localisation"])}
    return {"blur_at_l2_weight_0": blur,
            f"l2_weight_{lam:g}_sharper": {"per_beta": restore, "holds": all(restore.values())},
            "localisation": local,
            "holds": blur["holds"] and all(restore.values()) and local["holds"]}


def reconstructions(runs_: list, work_dir: Path, cfg: dict, pairs, n: int = 6) -> dict:
    """Seed-0 reconstructions E[x|μ] of ``n`` fixed images for each (β, λ) of ``pairs``: {label: array}."""
    import torch

    from deep.runs import build

    by_values = {(r.values["beta"], r.values.get("l2_weight")): r for r in runs_
                 if r.values["data"] == cfg["restoration_data"] and r.values["seed"] == cfg["seeds"][0]}
    out = {}
    for beta, lam in pairs:
        run = by_values[beta, lam]
        data, model, _ = build(run.config)
        ckpt = torch.load(run.directory(work_dir) / "checkpoint.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(ckpt["model"])
        x = torch.from_numpy(data.observations(np.linspace(0, len(data) - 1, n).astype(int)))
        with torch.no_grad():
            out["original"] = x.numpy()
            out[f"beta={beta:g},l2_weight={lam:g}"] = model.likelihood.mean(model.decode(model.encode(x)[0])).numpy()
    return out


def figures(result: dict, images: dict, mi_maps: dict, output: Path) -> list[str]:
    """Fig. 4-8 analogues as PNG files in ``output``; returns their names."""
    from deep import io

    cfg = result["config"]
    betas = cfg["betas"]
    names = []
    quantities = ("mig", "sap", "active_units", "kl", "factor_information", "reconstruction_nll")
    fig, axes = io.figure(1, len(quantities), figsize=(3.4 * len(quantities), 3.2))
    for data, block in result["prediction_1"].items():
        for ax, q in zip(axes, quantities):
            mean = [block["beta"][f"{b:g}"][q]["mean"] for b in betas]
            se = [block["beta"][f"{b:g}"][q]["se"] for b in betas]
            ax.errorbar(betas, mean, yerr=np.nan_to_num(se), marker="o", capsize=3, label=data)
            ax.set_xscale("log", base=2)
            ax.set_xlabel(r"$\beta$")
            ax.set_title(q, fontsize=9)
    axes[0].legend(fontsize=7)
    fig.suptitle("Fig. 4 at CPU scale: beta-VAEs after phase 1 (mean +- s.e. over seeds)", fontsize=10)
    fig.tight_layout()
    io.save_figure(fig, output / "figure_4.png", dpi=120)
    names.append("figure_4.png")

    lams = cfg["l2_weights"]
    fig, axes = io.figure(1, 3, figsize=(12, 3.4))
    marks = {tuple(s["omega"]): (s["beta"], s["l2_weight"]) for s in result["section_6"]["selections"]}
    for ax, q in zip(axes, ("mig", "sap", "reconstruction_nll")):
        mean = np.array([[result["prediction_2"]["cells"][f"beta={b:g},l2_weight={lam:g}"][q]["mean"] for b in betas]
                         for lam in lams])
        image = ax.imshow(mean, origin="lower", aspect="auto", cmap="viridis")
        fig.colorbar(image, ax=ax)
        for (i, j), v in np.ndenumerate(mean):
            ax.text(j, i, f"{v:.3g}", ha="center", va="center", color="w", fontsize=7)
        for k, (omega, (b, lam)) in enumerate(marks.items()):
            ax.plot(betas.index(b), lams.index(lam), marker="s", mfc="none", mec="red", ms=14 + 5 * k, mew=1.5)
        ax.set_xticks(range(len(betas)), [f"{b:g}" for b in betas])
        ax.set_yticks(range(len(lams)), [f"{lam:g}" for lam in lams])
        ax.set_xlabel(r"$\beta$")
        ax.set_ylabel(r"$\lambda$")
        ax.set_title(q, fontsize=9)
    fig.suptitle("Fig. 5-6 at CPU scale (dSprites, after phase 2); red squares: Tchebycheff selections for "
                 + ", ".join(f"({o[0]:g}, {o[1]:g})" for o in marks), fontsize=9)
    fig.tight_layout()
    io.save_figure(fig, output / "figure_5_6.png", dpi=120)
    names.append("figure_5_6.png")

    rows = list(images)
    n = images["original"].shape[0]
    fig, axes = io.figure(len(rows), n, figsize=(1.3 * n, 1.35 * len(rows)), squeeze=False)
    for i, label in enumerate(rows):
        for j in range(n):
            axes[i, j].imshow(np.moveaxis(images[label][j], 0, -1).squeeze(), cmap="gray", vmin=0, vmax=1)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
        axes[i, 0].set_ylabel(label, fontsize=6)
    fig.suptitle("Fig. 7 at CPU scale: dSprites reconstructions E[x|mu], seed 0", fontsize=9)
    fig.tight_layout()
    io.save_figure(fig, output / "figure_7.png", dpi=110)
    names.append("figure_7.png")

    fig, axes = io.figure(1, len(mi_maps), figsize=(4 * len(mi_maps), 3.4), squeeze=False)
    for ax, (label, (mi, factors)) in zip(axes[0], mi_maps.items()):
        image = ax.imshow(np.asarray(mi), aspect="auto", cmap="magma")
        fig.colorbar(image, ax=ax)
        ax.set_xticks(range(len(factors)), factors, rotation=45, fontsize=7)
        ax.set_ylabel("latent")
        ax.set_title(f"I(z_i; v_j), {label}", fontsize=9)
    fig.tight_layout()
    io.save_figure(fig, output / "figure_8.png", dpi=120)
    names.append("figure_8.png")
    return names


plan = runs                                                              # the protocol: every run of the grid
run, run_together = confirmation.run, confirmation.run_together          # each a plain confirmation run


def summarise(cfg, grid_runs: list, metrics: dict, figures_dir: Path, work_dir: Path) -> dict:
    """Predictions 1-2, §6 and App. F from the runs' metrics; Fig. 4-8 analogues (Fig. 7 decodes the
    seed-0 networks' checkpoints under ``work_dir``)."""
    p2, grid = prediction_2(cfg, grid_runs, metrics)
    result = {"metric_variants": metric_variants(metrics), "prediction_1": prediction_1(cfg, grid_runs, metrics),
              "prediction_2": p2, "section_6": section_6(cfg, grid), "appendix_f": appendix_f(cfg, grid)}
    top = cfg["betas"][-1]
    top_l2 = max(cfg["l2_weights"])
    pairs = [(b, 0.0) for b in cfg["betas"]] + [(b, top_l2) for b in cfg["betas"][1:]]
    images = reconstructions(grid_runs, work_dir, cfg, pairs)
    seed0 = {(r.values["beta"], r.values.get("l2_weight")): metrics[r.name] for r in grid_runs
             if r.values["data"] == cfg["restoration_data"] and r.values["seed"] == cfg["seeds"][0]}
    mi_maps = {f"beta={b:g}, l2_weight={lam:g}": (seed0[b, lam]["mutual_information"], seed0[b, lam]["factor_names"])
               for b, lam in (tuple(cfg["appendix_f"]["baseline"]), tuple(cfg["appendix_f"]["restored"]), (top, 0.0))}
    result["figures"] = figures({"config": protocol.as_dict(cfg), **result}, images, mi_maps, figures_dir)
    return result


def report(result: dict) -> str:
    lines = []
    for data, block in result["prediction_1"].items():
        collapse = block["criteria"]["collapse"]
        lines.append(f"prediction 1 ({data}): rise and fall {block['criteria']['rise_and_fall']['holds']}, "
                     f"collapse {collapse['holds_as_fixed']} (as fixed), {collapse['holds_kl_bound']} (KL bound)")
    lines.append(f"prediction 2: restoration at the largest beta: {result['prediction_2']['criterion']['holds']}; "
                 f"section 6: {result['section_6']['criteria']['holds']}; appendix F: {result['appendix_f']['holds']}")
    return "\n".join(lines)
