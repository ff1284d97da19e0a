"""Paper 000's four open deep claims by the pre-registered reduced-size protocol (issue 19).

``collapse experiment mi-collapse-reduced --scale reduced`` runs the grid of
``deep/preregistered/mi_collapse_reduced.toml`` (:mod:`deep.preregistration`): phase 1, every
data set x ``beta_paper`` x seed, trained to the phase-1 convergence criterion (capped at
``phase1_cap``); phase 2 on ``restoration_data``, every phase-1 run continued with each L2
weight λ from its converged step (criterion of phase 2, capped ``phase2_cap`` later).
``--scale paper`` is the same command with the file's ``paper_scale`` sizes (64 px, the
paper's step caps). The configuration names the scale and the seeds (default: the file's
``[stated] seeds``); ``protocol`` / ``convergence`` / ``subset`` override sizes for a tiny
pipeline check and are empty in the pre-registered experiment.

``summarise`` applies the file's decision rules (one-sided t-tests, :func:`deep.preregistration.t_test`,
each comparison at α / candidates where a cell is selected among candidates; a criterion holds
when all its comparisons reject) and records the effect sizes with their (1 - 2α) intervals,
whether every run converged, the steps run, and the fraction of the paper's compute those steps
are (steps x batch x forward MACs at ``size`` over Table 2's 150k + 50k steps of batch 64 at 64 px).

References
----------
[mi_collapse] shared/papers/000_6e757ef8f718962b.txt, §5.2, Fig. 5, §6 (eq. 13-14), App. F; Table 2.
"""
from __future__ import annotations

import itertools
from dataclasses import field
from pathlib import Path

import numpy as np

from deep import experiment as protocol
from deep import io, preregistration, provenance
from deep.config import check

HELP = ("paper 000's open deep claims (section_5_2, figure_5, section_6, appendix_f) by the pre-registered "
        "reduced-size protocol: --scale reduced (16 px, ~112 CPU-hours) or paper (64 px, a GPU)")
NAME = "mi_collapse_reduced"
FILE = "mi_collapse_reduced"
PARTS = preregistration.SCALES
PART = "scale"
DEFAULT_PART = "reduced"
NOT_RUN = ("the pre-registered runs need about 112 CPU-hours (deep/preregistered/mi_collapse_reduced.toml, "
           "[stated] cpu_hours): no stored result yet")
NEAR_COLLAPSE = 128          # figure_5's and section_6's beta_paper ([[claim]] amendment)
PREFERENCES = ((0.8, 0.2), (0.5, 0.5), (0.2, 0.8))
RHO, BOOTSTRAPS = 1e-3, 2000
LOCALISED = ((8, 32), (1, 0))   # appendix_f: (beta_paper, lambda) compared


@protocol.configuration
class Config(preregistration.Config):
    """The pre-registered experiment of ``deep/preregistered/{FILE}.toml`` (:class:`deep.preregistration.Config`)."""

    WHAT = "mi-collapse-reduced config"
    FILE = FILE
    seeds: tuple[int, ...] = field(default_factory=lambda: preregistration.stated_seeds(FILE),
                                   metadata=check(protocol.seeds))


def default(part: str = "reduced", smoke: bool = False) -> Config:
    """The pre-registered experiment at scale ``part`` (``smoke``: 8 px, a few dozen steps, 2 seeds)."""
    return Config.at(part, SMOKE if smoke else None)


SMOKE = Config(seeds=(0, 1), subset=600, protocol={
    "datasets": ["dsprites"], "size": 8, "m": 3, "batch_size": 16, "beta_paper": [1, NEAR_COLLAPSE, 256],
    "l2_weights": [8], "phase1_cap": 60, "phase2_cap": 20, "warmup_steps": 10, "eval_samples": 200,
    "metrics": ["mig:binned", "sap:dlib", "active_units:0.01"]},
    convergence={"every": 10, "window": 20, "tol": 0.05, "min_steps": 20, "heldout": 100, "heldout_batch": 100})
"""A pipeline check: every stage, no claim (the caps stop most runs before the criterion)."""


def plan(cfg) -> list:
    """Phase 1 (data x beta_paper x seed), then phase 2 (each restoration run x lambda, continuing it)."""
    from deep.sweep import Run

    p = cfg.prereg()
    sized = preregistration._sized(p, cfg["scale"])
    first, second = [], []
    for data in sized["datasets"]:
        for seed in cfg["seeds"]:
            configs = preregistration.phase1_configs(p, scale=cfg["scale"], data=data, seed=seed)
            for beta, (name, run_cfg) in zip(sized["beta_paper"], configs.items()):
                values = {"data": data, "beta_paper": beta, "seed": seed, "l2_weight": 0}
                first.append(Run(name, preregistration.finalise(run_cfg, cfg["subset"]), values))
                if data in sized["restoration_data"]:
                    second += [Run(f"{name}+l2_weight={lam:g}", {"phase1": first[-1].config, "l2_weight": lam},
                                   {**values, "l2_weight": lam}, init_from=name) for lam in sized["l2_weights"]]
    return first + second


def run(cfg, one, work_dir: Path, device: str) -> dict:
    """Train ``one`` to the criterion (phase 2 from the phase-1 run's converged step); :func:`run_record`."""
    p = cfg.prereg()

    def phase2(template, step):
        return preregistration.finalise(preregistration.phase2_config(
            p, template["phase1"], step, template["l2_weight"], scale=cfg["scale"]), cfg["subset"])

    metrics = preregistration.train_run(one, work_dir, device, phase2)
    return {**preregistration.run_record(metrics),
            "batch_size": one.config["phase1"]["batch_size"] if one.init_from else one.config["batch_size"]}


# ------------------------------------------------------------------ decisions


class Cells:
    """The records by (data, beta_paper, lambda): seed-ordered values of a statistic."""

    def __init__(self, runs_, records):
        self.by = {}
        for r in runs_:
            v = r.values
            self.by.setdefault((v["data"], v["beta_paper"], v["l2_weight"]), []).append(records[r.name])

    def values(self, data, beta, lam, key):
        cell = self.by.get((data, beta, lam))
        return None if cell is None else [rec[key] for rec in cell]

    def mean(self, data, beta, lam, key):
        return float(np.mean(self.values(data, beta, lam, key)))


def _compare(cells, a, b, key, alternative, alpha):
    """One pre-registered comparison of cell ``a`` with cell ``b`` ((data, beta, lambda)) on ``key``."""
    va, vb = cells.values(*a, key), cells.values(*b, key)
    where = {"a": list(a), "b": list(b), "statistic": key}
    if va is None or vb is None:
        return {**where, "rejects": False, "missing": "a cell is not in the grid"}
    return {**where, **preregistration.t_test(va, vb, alternative=alternative, alpha=alpha)}


def _criterion(comparisons: list, **extra) -> dict:
    return {"holds": bool(comparisons) and all(c["rejects"] for c in comparisons), "comparisons": comparisons,
            **extra}


def _collapsed(cells, data, betas, beta) -> bool:
    """Mean active units <= 1 and total KL below 10 % of the smallest beta's (lambda = 0)."""
    return (cells.mean(data, beta, 0, "active_units") <= 1
            and cells.mean(data, beta, 0, "kl") < 0.1 * cells.mean(data, betas[0], 0, "kl"))


def _selection(cells, data, betas, lams, pick=None) -> dict:
    """The Tchebycheff selection (f1 = -log p(x|z), f2 = 1 - MIG, seed means; ``pick`` the seed indices)."""
    from numerics import tchebycheff

    grid = [(b, lam) for b in betas for lam in (0, *lams)]

    def mean(b, lam, key):
        v = np.asarray(cells.values(data, b, lam, key))
        return float(v[pick].mean() if pick is not None else v.mean())

    F = np.array([[mean(b, lam, "nll"), 1 - mean(b, lam, "mig")] for b, lam in grid])
    chosen = [grid[tchebycheff.select(F, w, RHO)] for w in PREFERENCES]
    selected = [b for b, _ in chosen]
    return {"selected": [list(c) for c in chosen],
            "holds": all(y >= x for x, y in itertools.pairwise(selected)) and selected[-1] > selected[0]}


def decide(cfg, runs_: list, records: dict) -> dict:
    """The pre-registered decision of each claim (module docstring; the rules of the file's [[comparison]])."""
    p = cfg.prereg()
    sized = preregistration._sized(p, cfg["scale"])
    alpha = p["statistics"]["alpha"]
    cells = Cells(runs_, records)
    betas, lams, datasets = list(sized["beta_paper"]), list(sized["l2_weights"]), sized["datasets"]
    restore = sized["restoration_data"][0]
    middle = betas[1:-1]
    # section_5_2: the highest intermediate cell exceeds both ends, MIG and SAP, on each data set
    rise = []
    for data in datasets:
        for key in ("mig", "sap"):
            if not middle:
                continue
            peak = max(middle, key=lambda b: cells.mean(data, b, 0, key))
            rise += [_compare(cells, (data, peak, 0), (data, end, 0), key, "greater", alpha / len(middle))
                     for end in (betas[0], betas[-1])]
    last = {data: [{"active_units": r["active_units"], "kl": r["kl"]} for r in cells.by[(data, betas[-1], 0)]]
            for data in datasets}
    collapse = {"holds": all(r["active_units"] <= 1 and r["kl"] < 0.1 * cells.mean(data, betas[0], 0, "kl")
                             for data in datasets for r in last[data]), "at_beta_paper": betas[-1], "seeds": last}
    rise_and_fall = _criterion(rise, candidates=len(middle))
    section_5_2 = {"reproduced": rise_and_fall["holds"] and collapse["holds"], "rise_and_fall": rise_and_fall,
                   "collapse": collapse}
    # figure_5: near collapse, lambda > 0 against lambda = 0
    near = (restore, NEAR_COLLAPSE, 0)
    restoration = _criterion([_compare(cells, (restore, NEAR_COLLAPSE, lam), near, key, alt, alpha)
                              for lam in lams for key, alt in (("mig", "greater"), ("sap", "greater"),
                                                               ("nll", "less"))])
    figure_5 = {"reproduced": restoration["holds"], "restoration": restoration}
    # section_6: recovery (the best lambda > 0 against lambda = 0, at alpha / candidates) and the selection
    section_6 = {"reproduced": False}
    if cells.values(*near, "nll") is not None and lams:
        best = min(lams, key=lambda lam: cells.mean(restore, NEAR_COLLAPSE, lam, "nll"))
        recovery = _criterion([_compare(cells, near, (restore, NEAR_COLLAPSE, best), "nll", "greater",
                                        alpha / len(lams))], best_l2_weight=best, candidates=len(lams))
    else:
        recovery = _criterion([], missing=f"beta_paper {NEAR_COLLAPSE} is not in the grid")
    selection = _selection(cells, restore, betas, lams)
    n = len(cfg["seeds"])
    draws = np.random.default_rng(0).integers(0, n, size=(BOOTSTRAPS, n))
    selection["bootstrap_support"] = float(np.mean([_selection(cells, restore, betas, lams, d)["holds"]
                                                    for d in draws]))
    section_6 = {"reproduced": recovery["holds"] and selection["holds"], "recovery": recovery,
                 "selection": selection}
    # appendix_f: blur grows up to the first collapsed beta, lambda = max sharpens, localisation
    first = next((b for b in betas[1:] if _collapsed(cells, restore, betas, b)), None)
    if first is None:
        blur_grows = _criterion([], missing="no collapsed beta_paper in the grid")
    else:
        upto = betas[:betas.index(first) + 1]
        decreases = [_compare(cells, (restore, y, 0), (restore, x, 0), "blur", "less", alpha)
                     for x, y in itertools.pairwise(upto)]
        grows = [_compare(cells, (restore, first, 0), (restore, betas[0], 0), "blur", "greater", alpha)]
        blur_grows = {**_criterion(grows, first_collapsed=first),
                      "no_significant_decrease": not any(c["rejects"] for c in decreases),
                      "consecutive": decreases}
        blur_grows["holds"] = blur_grows["holds"] and blur_grows["no_significant_decrease"]
    top = max(lams) if lams else None
    sharpened = _criterion([_compare(cells, (restore, b, top), (restore, b, 0), "blur", "less", alpha)
                            for b in betas[1:]] if top is not None else [])
    localised = _criterion([_compare(cells, (restore, *LOCALISED[0]), (restore, *LOCALISED[1]), "localisation",
                                     "greater", alpha)])
    appendix_f = {"reproduced": blur_grows["holds"] and sharpened["holds"] and localised["holds"],
                  "blur_grows": blur_grows, "sharpened": sharpened, "localised": localised}
    return {"mi_collapse.section_5_2": section_5_2, "mi_collapse.figure_5": figure_5,
            "mi_collapse.section_6": section_6, "mi_collapse.appendix_f": appendix_f}


def compute(cfg, runs_: list, records: dict) -> dict:
    """Whether every run converged, the steps run, and the fraction of the paper's compute of the largest
    chain (a phase-1 run and its longest continuation) and of the mean chain: steps x batch x forward MACs
    over Table 2's 150k + 50k steps at 64 px."""
    from deep.preregistration import fraction_of_paper_compute

    p = cfg.prereg()
    sized, paper = preregistration._sized(p, cfg["scale"]), p["paper_protocol"]
    examples = {r.name: records[r.name]["steps_run"] * records[r.name]["batch_size"] for r in runs_}
    firsts = [r for r in runs_ if r.init_from is None]
    chains = {r.name: examples[r.name] + max([examples[c.name] for c in runs_ if c.init_from == r.name], default=0)
              for r in firsts}   # a chain: a phase-1 run and one of its continuations (the longest), as Table 2's
    per_example = {c: fraction_of_paper_compute(size=sized["size"], channels=c, m=sized["m"], steps=1, batch_size=1,
                                                paper_steps=paper["phase1_steps"] + paper["phase2_steps"],
                                                paper_batch_size=paper["batch_size"], paper_size=paper["size"])
                   for c in {records[r.name]["shape"][0] for r in firsts}}   # image channels of the data
    macs = [chains[r.name] * per_example[records[r.name]["shape"][0]] for r in firsts]
    chains = list(chains.values())
    paper_examples = (paper["phase1_steps"] + paper["phase2_steps"]) * paper["batch_size"]
    return {"scale": cfg["scale"], "runs": len(runs_),
            "converged": {r.name: records[r.name]["converged"] for r in runs_},
            "every_run_converged": all(records[r.name]["converged"] is True for r in runs_),
            "steps": {r.name: records[r.name]["steps"] for r in runs_},
            "steps_run": sum(records[r.name]["steps_run"] for r in runs_),
            "fraction_of_paper_compute": {"largest_chain": max(macs), "mean_chain": float(np.mean(macs))},
            "fraction_of_paper_examples": {"largest_chain": max(chains) / paper_examples,
                                           "mean_chain": float(np.mean(chains)) / paper_examples}}


def summarise(cfg, runs_: list, records: dict, figures: Path, work_dir: Path | None = None) -> dict:
    """The decisions, the compute, and the cell table ``figures/cells.csv`` (mean and sd per cell)."""
    cells = Cells(runs_, records)
    keys = ("mig", "sap", "active_units", "kl", "nll", "blur", "localisation", "steps")
    rows = [{"data": d, "beta_paper": b, "l2_weight": lam, "seeds": len(v),
             **{f"{k}_{s}": float(f(np.asarray([x[k] for x in v], dtype=float))) for k in keys
                for s, f in (("mean", np.mean), ("sd", lambda a: a.std(ddof=1) if a.size > 1 else np.nan))}}
            for (d, b, lam), v in cells.by.items()]
    io.write_csv(figures / "cells.csv", rows)
    return {"preregistration": f"deep/preregistered/{FILE}.toml", "decisions": decide(cfg, runs_, records),
            "compute": compute(cfg, runs_, records)}


def measured_scale(cfg, summary: dict) -> dict:
    """The result's scale from the steps actually run: training examples of the largest chain over the
    paper's, converged when every run met its criterion."""
    c = summary["compute"]
    return {"fraction": c["fraction_of_paper_examples"]["largest_chain"], "converged": c["every_run_converged"]}


def scale(cfg) -> dict:
    """At the caps (the result replaces it by :func:`measured_scale`)."""
    p = cfg.prereg()
    sized, paper = preregistration._sized(p, cfg["scale"]), p["paper_protocol"]
    return provenance.scale((sized["phase1_cap"] + sized["phase2_cap"]) * sized["batch_size"],
                            (paper["phase1_steps"] + paper["phase2_steps"]) * paper["batch_size"],
                            what=f"conv VAEs at {sized['size']} px, {len(cfg['seeds'])} seeds, pre-registered "
                                 f"criterion ({cfg['scale']} scale)")


def describe(cfg) -> str:
    if cfg != default(cfg["scale"]):
        return "a configuration other than the pre-registered one (see config): not evidence"
    return (f"pre-registered protocol deep/preregistered/{FILE}.toml at {cfg['scale']} scale: trained to the "
            "stated convergence criterion, the file's seeds and grid")


def report(result: dict) -> str:
    c = result["compute"]
    lines = [f"{claim}: {'reproduced' if d['reproduced'] else 'not reproduced'}"
             for claim, d in result["decisions"].items()]
    last = (f"every run converged: {c['every_run_converged']}; fraction of the paper's compute (largest chain): "
            f"{c['fraction_of_paper_compute']['largest_chain']:.3g}")
    return "\n".join([*lines, last])
