"""§V of [optimal_beta]: tanh-MLP β-VAEs on x = A s + η (digit images as the columns of A)
over a β grid, against the closed-form tractable model for the same A.

Setting (§V and App. C). x = A s + η (eq. 17), s ~ N(0, I_k), η ~ N(0, I_N); the k = 10
columns of A are digit images (§V: "mixing 10 MNIST digits"; here the first image of each
digit 0-9 of scikit-learn's 8 x 8 digits, N = 64, pixels in [0, 1]: :func:`deep.data.digit_mixing`).
Encoder 256-200-200 and decoder 200-200-256 tanh MLPs with k latents, Gaussian decoder
N(dec(z), I) (σ_y = 1 as in §IV.B), Adam at lr 1e-3 (App. C). App. C gives the encoder
"2 neurons ... for k = 2 latent variables", which fits Fig. 3 (N = k = 2), not §V's ten
sources; here the encoder has k = 10 latents, as §V's "each parameterized by k encoding
units" says.

Two training regimes: ``population`` draws (practically) fresh data every step, the regime
the tractable model describes; ``paper`` trains on one fixed set of 1000 examples (App. C).
Every network is evaluated on held-out draws of p(x) (the expectations of the theory) and,
in the ``paper`` regime, also on its training set. Per network: reconstruction
E_x E_q log p(x|z) (one z per x, as App. C samples the encoder), KL(q(z|x) || p(z)) in
closed form per latent, ELBO = reconstruction - KL, and TIE = E_x KL(q(z|x) || p_{g-t}(s|x))
(eq. 3) from the network's μ_z, Σ_z averaged over the data (App. C), both as the paper
defines it (latent j against source j) and after the signed permutation of the latents
that minimises it (:func:`numerics.tractable_beta_vae.best_relabelling`): the β-VAE
objective cannot tell the labellings apart, so TIE as printed depends on which one a
network happens to learn.

Theory (:mod:`numerics.tractable_beta_vae`, the linear limit of the experiment): ELBO*,
reconstruction*, KL* and per-latent KL* of the optimum; TIE averaged over all 2^k k!
equivalent optima (:func:`~numerics.tractable_beta_vae.mean_relabelled_tie`: what TIE as
printed averages to when the labelling is random across seeds) and on the best one.

Criteria, fixed before the runs. m(β), se(β): mean and standard error over seeds at each
grid β; "a exceeds b" means a - b > 2 sqrt(se_a² + se_b²).

- terms (§V, Fig. 2C-D): for KL and reconstruction, no grid step increases the mean
  significantly, and the value at the smallest β exceeds the value at the largest.
- elbo (Fig. 2A): the grid argmax of the mean ELBO lies in [1/2, 2], no step from β ≥ 1 on
  increases it significantly, and ELBO(1) exceeds ELBO(β_max).
- tie (Fig. 2B): the grid argmin β* of the mean TIE is interior and TIE at the smallest
  and at the largest β both exceed TIE(β*). Evaluated for TIE as printed and for the
  best-relabelled TIE.
- agreement with the tractable model (§I item 3, §VI "good agreements"): at every grid β
  the network's mean lies within 10 % of the theory curve's range over the grid
  (max - min) of the theory value, for KL, reconstruction, ELBO, best-relabelled TIE and
  (against the mean over relabellings) TIE as printed.

Each criterion is evaluated on held-out data in both regimes, and on the training set in
the ``paper`` regime; the same functions applied to the theory curve give its prediction.

References
----------
[optimal_beta] "β-VAE with a finite optimal β", shared/papers/003_a1eafab620a812b7.txt,
    §IV.B (eq. 17-27), §V (Fig. 2), App. C.
"""
from __future__ import annotations

import copy
import csv
import json
import math
import os
from pathlib import Path

import numpy as np

from collapse import ROOT
from numerics import tractable_beta_vae as tbv
from numerics import validation

HELP = ("paper 003 §V: tanh-MLP β-VAEs on x = As + η with digit images as columns of A over a β grid; "
        "KL, reconstruction, ELBO and TIE against the tractable model (results/tractable_beta_vae)")
ALIASES = ["optimal-beta"]
NAME = "tractable_beta_vae"
RESULT = "result.json"

DEFAULT = {
    "k": 10,
    "betas": [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 128.0],
    "seeds": [0, 1, 2],
    "regimes": {"population": None, "paper": 1000},   # training-set size; None: steps x batch draws
    "steps": 2000,
    "batch_size": 100,
    "lr": 1e-3,
    "model": {"architecture": "mlp", "likelihood": "gaussian", "eta_dec": 1.0, "hidden": [256, 200, 200],
              "decoder_hidden": [200, 200, 256], "activation": "tanh"},
    "data_seed": 0,
    "eval_seed": 1,
    "eval_size": 5000,
}
"""The stored run (results/tractable_beta_vae): CPU-reduced, see :data:`SCALE`."""

SMOKE = {**DEFAULT, "k": 3, "betas": [0.5, 2.0, 64.0], "seeds": [0, 1], "regimes": {"population": None, "paper": 64},
         "steps": 30, "batch_size": 16, "eval_size": 128,
         "model": {**DEFAULT["model"], "hidden": [16], "decoder_hidden": [16]}}
"""A pipeline check of a few seconds: every stage, tiny networks, no claim."""

SCALE = ("cpu-reduced: 2000 Adam steps of batch 100 (200 epochs of 1000 examples in the paper regime) instead "
         "of 1000 epochs; 3 seeds per beta instead of 100 (Fig. 2) or 300 (App. C); 9 betas; 8 x 8 scikit-learn "
         "digits (N = 64) instead of MNIST; batch size not given in the paper")

QUANTITIES = ("kl", "reconstruction", "elbo", "tie", "tie_best", "tie_mean")


def config(smoke: bool = False) -> dict:
    """A copy of the command's default configuration (``smoke``: the tiny one)."""
    return copy.deepcopy(SMOKE if smoke else DEFAULT)


def check_config(cfg: dict) -> dict:
    """``cfg`` with its numbers validated; errors name the field and the condition."""
    validation.positive_int("k", cfg["k"])
    betas = validation.array_in("betas", cfg["betas"], 0.0)
    if betas.ndim != 1 or betas.size < 2 or np.any(np.diff(betas) <= 0):
        raise ValueError(f"betas must be at least 2 increasing values; got {cfg['betas']}")
    if not cfg["seeds"] or len(set(cfg["seeds"])) != len(cfg["seeds"]):
        raise ValueError(f"seeds must be a non-empty list of distinct integers; got {cfg['seeds']}")
    for name, size in cfg["regimes"].items():
        if size is not None:
            validation.positive_int(f"regimes[{name!r}]", size)
    for key in ("steps", "batch_size", "eval_size"):
        validation.positive_int(key, cfg[key])
    validation.positive("lr", cfg["lr"])
    return cfg


# ------------------------------------------------------------------ one network


def _data(A, size, cfg):
    from deep.data import LinearMixture

    n = cfg["steps"] * cfg["batch_size"] if size is None else size
    return LinearMixture(A, n, seed=cfg["data_seed"])


def _measure(model, data, A, seed) -> dict:
    """Reconstruction, KL (total and per latent), ELBO and TIE of a network on all of ``data``."""
    from deep.evaluate import encode

    index = np.arange(len(data))
    enc = encode(model, data, index, seed=seed)
    x = data.observations(index).astype(np.float64)
    moments = tbv.sample_moments(enc["mu"], enc["logvar"], x, A)
    latent_kl = tbv.latent_kl(moments)
    perm, signs, tie_best = tbv.best_relabelling(moments)
    corr = np.corrcoef(enc["mu"].T)
    reconstruction = -float(enc["nll"].mean())
    return {"reconstruction": reconstruction, "kl": float(latent_kl.sum()),
            "elbo": reconstruction - float(latent_kl.sum()), "latent_kl": latent_kl.tolist(),
            "tie": tbv.relabelled_tie(moments), "tie_best": tie_best, "tie_mean": tbv.mean_relabelled_tie(moments),
            "relabelling": {"perm": list(perm), "signs": list(signs)},
            "max_mu_correlation": float(np.max(np.abs(corr - np.diag(np.diag(corr))))) if len(corr) > 1 else 0.0,
            "reconstruction_se": float(enc["nll"].std(ddof=1) / math.sqrt(len(index)))}


def run_one(task: dict) -> dict:
    """Train (or resume) one network and measure it: the unit of work of the sweep.

    ``task`` holds ``cfg``, ``regime``, ``beta``, ``seed`` and ``run_dir``; the result holds
    ``heldout`` (and ``train`` when the training set is finite) from :func:`_measure`.
    """
    import torch

    from deep.data import digit_mixing
    from deep.models import build_model
    from deep.objectives import Objective
    from deep.train import fit

    cfg, beta, seed = task["cfg"], task["beta"], task["seed"]
    size = cfg["regimes"][task["regime"]]
    A = digit_mixing(cfg["k"])
    data = _data(A, size, cfg)
    spec = {**cfg["model"], "m": cfg["k"]}
    torch.manual_seed(seed)
    model = build_model(spec, data.shape)
    run_config = {"data": {"name": "linear-mixture", "k": cfg["k"], "size": len(data), "seed": cfg["data_seed"]},
                  "model": spec, "objective": {"name": "beta", "beta": beta}, "batch_size": cfg["batch_size"],
                  "lr": cfg["lr"], "seed": seed, "steps": cfg["steps"]}
    fit(model, data, Objective(beta=beta), task["run_dir"], steps=cfg["steps"], batch_size=cfg["batch_size"],
        lr=cfg["lr"], seed=seed, checkpoint_every=cfg["steps"], log_every=max(1, cfg["steps"] // 10),
        device="cpu", config=run_config, progress=False)
    heldout = _data_heldout(A, cfg)
    out = {"regime": task["regime"], "beta": beta, "seed": seed, "heldout": _measure(model, heldout, A, seed)}
    if size is not None:
        out["train"] = _measure(model, data, A, seed)
    return out


def _data_heldout(A, cfg):
    from deep.data import LinearMixture

    return LinearMixture(A, cfg["eval_size"], seed=cfg["eval_seed"])


# ------------------------------------------------------------------ theory, summaries, criteria


def theory(A, betas) -> dict:
    """The tractable model's optimum for mixing matrix A at each β (lists, in nats).

    ``tie`` is TIE as printed on the canonical optimum (latents in decreasing λ), ``tie_mean``
    its mean over all equivalent optima, ``tie_best`` its minimum over them.
    """
    out = {key: [] for key in ("beta", "objective", "elbo", "reconstruction", "kl", "log_likelihood", "mie",
                               "tie", "tie_mean", "tie_best", "latent_kl")}
    for beta in betas:
        p = tbv.optimum(A, beta)
        q = tbv.quantities(p, A, beta)
        m = tbv.encoder_moments(p, A)
        values = {**{k: getattr(q, k) for k in ("objective", "elbo", "reconstruction", "kl", "log_likelihood",
                                                "mie", "tie")},
                  "beta": float(beta), "tie_mean": tbv.mean_relabelled_tie(m),
                  "tie_best": tbv.best_relabelling(m)[2], "latent_kl": tbv.latent_kl(m).tolist()}
        for key, value in values.items():
            out[key].append(value)
    return out


def summarise(runs: list[dict], betas, seeds, where: str) -> dict:
    """Mean, standard error (over seeds), min and max of each quantity at each β."""
    out = {}
    for q in QUANTITIES:
        table = np.array([[next(r[where][q] for r in runs if r["beta"] == b and r["seed"] == s) for s in seeds]
                          for b in betas])
        se = table.std(1, ddof=1) / math.sqrt(len(seeds)) if len(seeds) > 1 else np.zeros(len(betas))
        out[q] = {"mean": table.mean(1).tolist(), "se": se.tolist(), "min": table.min(1).tolist(),
                  "max": table.max(1).tolist(), "per_seed": table.tolist()}
    return out


def _exceeds(m, se, i, j) -> bool:
    """m[i] exceeds m[j] by more than two combined standard errors."""
    return bool(m[i] - m[j] > 2 * math.hypot(se[i], se[j]))


def _no_increase(m, se, start: int = 0) -> bool:
    return not any(_exceeds(m, se, g + 1, g) for g in range(start, len(m) - 1))


def criteria(summary: dict, betas) -> dict:
    """The criteria of the module docstring on one summary ({quantity: {"mean", "se"}})."""
    betas = np.asarray(betas, dtype=float)
    stats = {q: (np.asarray(summary[q]["mean"]), np.asarray(summary[q]["se"])) for q in summary}
    last = len(betas) - 1
    out = {}
    for q in ("kl", "reconstruction"):
        m, se = stats[q]
        out[f"{q}_decreases"] = _no_increase(m, se) and _exceeds(m, se, 0, last)
    m, se = stats["elbo"]
    g, one = int(np.argmax(m)), int(np.argmin(np.abs(np.log(betas))))
    out["elbo_argmax_beta"] = float(betas[g])
    out["elbo_max_near_1"] = (0.5 <= betas[g] <= 2.0 and _no_increase(m, se, one)
                              and _exceeds(m, se, one, last))
    for q in ("tie", "tie_best"):
        m, se = stats[q]
        g = int(np.argmin(m))
        out[f"{q}_argmin_beta"] = float(betas[g])
        out[f"{q}_finite_optimum"] = bool(0 < g < last and _exceeds(m, se, 0, g) and _exceeds(m, se, last, g))
    return out


AGREEMENT = {"kl": "kl", "reconstruction": "reconstruction", "elbo": "elbo", "tie_best": "tie_best",
             "tie": "tie_mean"}
"""Network quantity -> the theory quantity it is compared with (TIE as printed: the mean over labellings)."""


def theory_summary(th: dict) -> dict:
    """The theory curve as a summary with zero standard errors (for :func:`criteria`).

    Its "tie" is the mean over labellings: the prediction for TIE as printed averaged over
    seeds that pick their labelling at random.
    """
    zero = [0.0] * len(th["beta"])
    return {q: {"mean": th[AGREEMENT.get(q, q)], "se": zero} for q in QUANTITIES}


def agreement(summary: dict, th: dict) -> dict:
    """Largest |network mean - theory| over the grid, absolute and relative to the theory's range."""
    out = {}
    for q, t in AGREEMENT.items():
        m, ref = np.asarray(summary[q]["mean"]), np.asarray(th[t])
        dev = m - ref
        spread = float(np.ptp(ref)) or 1.0
        out[q] = {"deviation": dev.tolist(), "max_abs": float(np.max(np.abs(dev))),
                  "max_relative_to_range": float(np.max(np.abs(dev)) / spread),
                  "within_10_percent": bool(np.max(np.abs(dev)) <= 0.1 * spread)}
    return out


# ------------------------------------------------------------------ the sweep


def sweep(cfg: dict, work_dir: Path, *, workers: int = 1, progress: bool = True) -> list[dict]:
    """Every (regime, β, seed) network, trained or resumed under ``work_dir`` and measured.

    ``workers`` > 1 runs them in a process pool (any ``concurrent.futures`` executor fits).
    """
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    tasks = [{"cfg": cfg, "regime": regime, "beta": beta, "seed": seed,
              "run_dir": str(work_dir / regime / f"beta{beta:g}-seed{seed}")}
             for regime in cfg["regimes"] for beta in cfg["betas"] for seed in cfg["seeds"]]
    bar = tqdm(total=len(tasks), desc="beta-VAE runs", disable=not progress)
    if workers == 1:
        results = []
        for task in tasks:
            results.append(run_one(task))
            bar.update(1)
    else:
        with ProcessPoolExecutor(workers) as pool:
            results = []
            for result in pool.map(run_one, tasks):
                results.append(result)
                bar.update(1)
    bar.close()
    return results


def analyse(cfg: dict, runs: list[dict], A) -> dict:
    """Summaries, criteria and the comparison with the theory for every regime and data split."""
    th = theory(A, cfg["betas"])
    out = {"theory": th, "theory_criteria": criteria(theory_summary(th), cfg["betas"]), "regimes": {}}
    for regime, size in cfg["regimes"].items():
        mine = [r for r in runs if r["regime"] == regime]
        splits = {}
        for where in ("heldout", "train") if size is not None else ("heldout",):
            summary = summarise(mine, cfg["betas"], cfg["seeds"], where)
            splits[where] = {"summary": summary, "criteria": criteria(summary, cfg["betas"]),
                             "agreement": agreement(summary, th)}
        out["regimes"][regime] = splits
    return out


def _write_csv(path: Path, result: dict) -> None:
    rows = []
    for regime, splits in result["regimes"].items():
        for where, split in splits.items():
            for g, beta in enumerate(result["config"]["betas"]):
                row = {"regime": regime, "data": where, "beta": beta}
                for q in QUANTITIES:
                    row[f"{q}_mean"] = split["summary"][q]["mean"][g]
                    row[f"{q}_se"] = split["summary"][q]["se"][g]
                for q in ("kl", "reconstruction", "elbo", "tie_mean", "tie_best"):
                    row[f"theory_{q}"] = result["theory"][q][g]
                rows.append(row)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def figure(result: dict, A, path: Path) -> None:
    """Fig. 2 of [optimal_beta] with the theory: ELBO, TIE, reconstruction, KL against log β."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    betas = np.asarray(result["config"]["betas"])
    fine = np.geomspace(betas[0], betas[-1], 120)
    th = theory(A, fine)
    panels = [("elbo", "ELBO (A)", [("elbo", "theory ELBO*")]),
              ("tie", "TIE as printed (B)", [("tie_mean", "theory: mean over labellings"),
                                            ("tie_best", "theory: best labelling")]),
              ("tie_best", "TIE, best relabelling (B')", [("tie_best", "theory: best labelling")]),
              ("reconstruction", "reconstruction (C)", [("reconstruction", "theory")]),
              ("kl", "KL to the prior (D)", [("kl", "theory KL*")])]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6))
    colours = {"population": "C0", "paper": "C3"}
    for ax, (q, title, refs) in zip(axes, panels):
        for t, label in refs:
            ax.plot(fine, th[t], "k-" if t != "tie_mean" else "k--", lw=1, label=label)
        for regime, splits in result["regimes"].items():
            for where, split in splits.items():
                s = split["summary"][q]
                style = "o-" if where == "heldout" else "s:"
                c = colours.get(regime, "C2")
                ax.errorbar(betas, s["mean"], yerr=s["se"], fmt=style, color=c, ms=3, capsize=2,
                            label=f"{regime}, {where}")
                ax.fill_between(betas, s["min"], s["max"], color=c, alpha=0.08)
        ax.set_xscale("log")
        ax.set_xlabel("β")
        ax.set_title(title, fontsize=10)
        ax.axvline(1.0, color="0.7", lw=0.5)
    axes[0].legend(fontsize=6)
    axes[1].legend(fontsize=6)
    fig.suptitle(f"tanh-MLP β-VAE on x = As + η, k = {A.shape[1]} digit columns (mean ± se over seeds, "
                 "band: min-max) vs the tractable model", fontsize=10)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def experiment(cfg: dict, output_dir: Path, work_dir: Path, *, workers: int = 1, progress: bool = True,
               scale: str = SCALE) -> dict:
    """Run the sweep, analyse it, write ``result.json``, a CSV and the figure; return the result."""
    from deep import provenance
    from deep.data import digit_mixing

    cfg = check_config(cfg)
    output_dir, work_dir = Path(output_dir), Path(work_dir)
    A = digit_mixing(cfg["k"])
    runs = sweep(cfg, work_dir, workers=workers, progress=progress)
    lam, _ = np.linalg.eigh(tbv.Sigma_x(A))
    result = {"config": cfg, "collapse_thresholds": sorted(lam[-cfg["k"]:].tolist(), reverse=True),
              **analyse(cfg, runs, A), "runs": runs,
              "provenance": provenance.record(seeds=cfg["seeds"], scale=scale, device="cpu")}
    provenance.write_json(output_dir / RESULT, result)
    _write_csv(output_dir / "summary.csv", result)
    figure(result, A, output_dir / "figure_2.png")
    return result


# ------------------------------------------------------------------ command line


def add_arguments(parser):
    parser.add_argument("--smoke", action="store_true", help="tiny networks and data: checks the pipeline in seconds")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help=f"where result.json, summary.csv and figure_2.png go (default results/{NAME}, "
                             f"or runs/{NAME}-smoke with --smoke)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help=f"run directories with checkpoints (default runs/{NAME}[-smoke]/networks); "
                             "an interrupted sweep resumes from them")
    parser.add_argument("--workers", type=int, default=1, help="training processes (default 1)")
    parser.add_argument("--no-progress", action="store_true")


def run(args) -> int:
    cfg = config(args.smoke)
    base = ROOT / "runs" / (NAME + ("-smoke" if args.smoke else ""))
    output_dir = args.output_dir or (base if args.smoke else ROOT / "results" / NAME)
    work_dir = args.work_dir or base / "networks"
    workers = validation.positive_int("workers", args.workers)
    result = experiment(cfg, output_dir, work_dir, workers=workers, progress=not args.no_progress,
                        scale="smoke: pipeline check only" if args.smoke else SCALE)
    print(json.dumps({"theory": result["theory_criteria"],
                      **{f"{regime}/{where}": split["criteria"] for regime, splits in result["regimes"].items()
                         for where, split in splits.items()}}, indent=1))
    print(f"wrote {output_dir / RESULT}")
    return 0
