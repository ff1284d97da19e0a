"""§V and App. C of [optimal_beta]: tanh-MLP β-VAEs over a β grid, measured as the paper
measures them and compared with the closed-form tractable model.

Settings.

- ``mixture`` (§V, Fig. 2): x = A s + η (eq. 17), s ~ N(0, I_k), η ~ N(0, I_N), the k = 10
  columns of A digit images (§V: "mixing 10 MNIST digits"; here the first image of each
  digit 0-9 of scikit-learn's 8 x 8 digits, N = 64, pixels in [0, 1]:
  :func:`deep.data.digit_mixing`). The encoder has k = 10 latents, as §V's "each
  parameterized by k encoding units" says; App. C's "2 neurons ... for k = 2 latent
  variables" fits Fig. 3, not §V's ten sources.
- ``canvas`` (App. C, Fig. 3): one digit (the first 0 of the 8 x 8 digits) on a blank
  24 x 24 canvas, its top-left corner at (8, 8) + x pixels with x = A s + η, N = k = 2,
  A_ij = 2δ_ij + 0.73 (:class:`deep.data.DigitCanvas`; the paper gives neither the canvas
  size, nor the scale of x in pixels, nor the likelihood). The network sees the image; TIE
  compares q(z|image) with p_{g-t}(s|x) (the image determines x). Bernoulli likelihood on
  the grey levels, as usual for digit images: with the Gaussian σ_y = 1 of §IV.B on pixels
  in [0, 1] a first run found every latent collapsed for β ≥ 1. β grid 1/8 ... 64 (every
  latent has collapsed by β = 4 here). The tractable model does not describe pixels, so
  this setting has no theory curve.

Both: encoder 256-200-200 and decoder 200-200-256 tanh MLPs and Adam at lr 1e-3 (App. C);
the mixture's decoder is Gaussian N(dec(z), I) (σ_y = 1 as in §IV.B). Training regimes:
``population`` draws fresh data (200k draws, about one pass), the regime the tractable
model describes; ``paper`` (mixture only) trains on one fixed set of 1000 examples
(App. C). Every network is
evaluated on 5000 held-out draws of p(x) (the expectations of the theory) and, in the
``paper`` regime, also on its training set. Per network: reconstruction E_x E_q log p(x|z)
(one z per x, as App. C samples the encoder), KL(q(z|x) || p(z)) in closed form per latent,
ELBO = reconstruction - KL, and TIE = E_x KL(q(z|x) || p_{g-t}(s|x)) (eq. 3) from the
network's μ_z, Σ_z averaged over the data (App. C), both as the paper defines it (latent
j against source j) and after the signed permutation of the latents that minimises it
(:func:`numerics.tractable_beta_vae.best_relabelling`): the β-VAE objective cannot tell
the labellings apart, so TIE as printed depends on which one a network happens to learn.

Theory (mixture; :mod:`numerics.tractable_beta_vae`, the linear limit of the experiment):
ELBO*, reconstruction*, KL* and per-latent KL* of the optimum; TIE averaged over all
2^k k! equivalent optima (:func:`~numerics.tractable_beta_vae.mean_relabelled_tie`: what
TIE as printed averages to when the labelling is random across seeds) and on the best one.

Criteria, fixed before the runs. m(β), se(β): mean and standard error over seeds at each
grid β; "a exceeds b" means a - b > 2 sqrt(se_a² + se_b²).

- terms (§V, Fig. 2C-D, Fig. 3C-D): for KL and reconstruction, no grid step increases the
  mean significantly, and the value at the smallest β exceeds the value at the largest.
- elbo (Fig. 2A, 3A): the grid argmax of the mean ELBO lies in [1/2, 2], no step from β ≥ 1
  on increases it significantly, and ELBO(1) exceeds ELBO(β_max).
- tie (Fig. 2B): the grid argmin β* of the mean TIE is interior and TIE at the smallest
  and at the largest β both exceed TIE(β*). Evaluated for TIE as printed and for the
  best-relabelled TIE.
- tie minima (Fig. 3B, "its minima over various random initialization follow a
  non-monotonic trend"): the grid argmin β* of the minimum over seeds of TIE as printed
  is interior, and that minimum at the smallest and at the largest β exceeds it at β* by
  more than twice the larger of the two standard errors.
- agreement with the tractable model (mixture; §I item 3, §VI "good agreements"): at
  every grid β the network's mean lies within 10 % of the theory curve's range over the
  grid (max - min) of the theory value, for KL, reconstruction, ELBO, best-relabelled TIE
  and (against the mean over relabellings) TIE as printed.

Each criterion is evaluated on held-out data in every regime, and on the training set in
the ``paper`` regime; the same functions applied to the theory curve give its prediction.

Added after the first runs, to test why the population networks' TIE departs from the
theory while their ELBO does not: ``long`` trains two of them (β = 0.25, 2; seed 0) for
8000 instead of 2000 steps (four passes over the 200k population draws).

References
----------
[optimal_beta] "β-VAE with a finite optimal β", shared/papers/003_a1eafab620a812b7.txt,
    §IV.B (eq. 17-27), §V (Fig. 2), App. C (Fig. 3).
"""
from __future__ import annotations

import math
import sys
from dataclasses import field
from pathlib import Path

import numpy as np

from deep import experiment as protocol
from deep import io
from deep import provenance
from deep.config import check, strict_choice, unknown_keys
from numerics import tractable_beta_vae as tbv
from numerics import validation

HELP = ("paper 003 §V and App. C: tanh-MLP β-VAEs over a β grid on x = As + η with digit images as columns of A "
        "(setting mixture, Fig. 2) and on one digit placed at x on a canvas (setting canvas, Fig. 3); KL, "
        "reconstruction, ELBO and TIE, against the tractable model (results/tractable_beta_vae)")
ALIASES = ["optimal-beta"]
NAME = "tractable_beta_vae"
PARTS = SETTINGS = ("mixture", "canvas")
PART = "setting"
DEVICES = ("auto", "cpu")   # the stored runs were made on the CPU
FRESH = "fresh"
"""The training-set size of the population regime: every batch is a fresh draw of p(x)."""

MODEL = {"architecture": "mlp", "likelihood": "gaussian", "eta_dec": 1.0, "hidden": [256, 200, 200],
         "decoder_hidden": [200, 200, 256], "activation": "tanh"}
"""App. C: tanh MLPs, encoder 256-200-200, decoder 200-200-256; Gaussian decoder with σ_y = 1 (§IV.B)."""


def _bernoulli(model: dict) -> dict:
    """``model`` with Bernoulli pixels (no decoder standard deviation: a Bernoulli decoder has none)."""
    return {**{k: v for k, v in model.items() if k != "eta_dec"}, "likelihood": "bernoulli"}


def _regimes(name: str, regimes: dict) -> dict:
    for regime, size in regimes.items():
        if size != FRESH:
            validation.positive_int(f"{name}[{regime!r}]", size)
    if not regimes:
        raise ValueError(f"{name} must name at least one regime")
    return regimes


def _betas(name: str, betas) -> tuple:
    values = validation.array_in(name, betas, 0.0)
    if values.ndim != 1 or values.size < 2 or np.any(np.diff(values) <= 0):
        raise ValueError(f"{name} must be at least 2 increasing values; got {list(betas)}")
    return tuple(betas)


@protocol.configuration
class _Setting(protocol.Config):
    """What both settings share: the β grid, the seeds, the training and the evaluation.

    ``regimes``: training-set size per regime (:data:`FRESH`: fresh draws, the population regime).
    """

    setting: str
    betas: tuple[float, ...] = field(metadata=check(_betas))
    seeds: tuple[int, ...] = field(metadata=check(protocol.seeds))
    steps: int = field(metadata=check(validation.positive_int))
    batch_size: int = field(metadata=check(validation.positive_int))
    lr: float = field(metadata=check(validation.positive))
    model: dict
    data_seed: int = field(metadata=check(protocol.count(0)))
    eval_seed: int = field(metadata=check(protocol.count(0)))
    eval_size: int = field(metadata=check(validation.positive_int))
    population: int = field(metadata=check(validation.positive_int))
    regimes: dict = field(metadata=check(_regimes))


def _long(name: str, value: dict) -> dict:
    unknown_keys(value, ("betas", "seeds", "steps"), where=name)
    return value


@protocol.configuration
class MixtureConfig(_Setting):
    """§V, Fig. 2: ``k`` digit images as the columns of A; ``long``: networks of the population regime
    trained longer (``betas``, ``seeds``, ``steps``; added after the first runs)."""

    WHAT = "tractable-beta-vae mixture config"
    k: int = field(metadata=check(validation.positive_int))
    long: dict | None = field(default=None, metadata=check(_long))


@protocol.configuration
class CanvasConfig(_Setting):
    """App. C, Fig. 3: one ``digit`` on a ``size`` x ``size`` canvas at the position x = A s + η."""

    WHAT = "tractable-beta-vae canvas config"
    A: tuple[tuple[float, ...], ...]
    size: int = field(metadata=check(lambda n, v: validation.positive_int(n, v, minimum=8)))
    digit: int = field(metadata=check(protocol.count(0)))

    def __post_init__(self):
        tbv.check_mixing(self.A)


Config = {"mixture": MixtureConfig, "canvas": CanvasConfig}
"""The configuration of each setting, chosen by its key ``setting``."""


TRAINING = {"betas": [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 128.0], "seeds": [0, 1, 2], "steps": 2000,
            "batch_size": 100, "lr": 1e-3, "model": MODEL, "data_seed": 0, "eval_seed": 1, "eval_size": 5000,
            "population": 200_000}   # draws of the population regime: one pass at 2000 steps of 100

DEFAULT = {
    "mixture": {"setting": "mixture", "k": 10, **TRAINING,
                "regimes": {"population": FRESH, "paper": 1000},  # training-set size; FRESH: "population" draws
                "long": {"betas": [0.25, 2.0], "seeds": [0], "steps": 8000}},
    "canvas": {"setting": "canvas", "A": [[2.73, 0.73], [0.73, 2.73]], "size": 24, "digit": 0, **TRAINING,
               "model": _bernoulli(MODEL), "regimes": {"population": FRESH},
               "betas": [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0]},
}
"""The stored runs (results/tractable_beta_vae), CPU-reduced: see :func:`describe`."""

_TINY = {"betas": [0.5, 2.0, 64.0], "seeds": [0, 1], "steps": 30, "batch_size": 16, "eval_size": 128,
         "population": 480, "model": {**MODEL, "hidden": [16], "decoder_hidden": [16]}}
SMOKE = {"mixture": {**DEFAULT["mixture"], **_TINY, "k": 3, "regimes": {"population": FRESH, "paper": 64},
                     "long": {"betas": [0.5], "seeds": [0], "steps": 60}},
         "canvas": {**DEFAULT["canvas"], **_TINY, "size": 12, "model": _bernoulli(_TINY["model"])}}
"""A pipeline check of a few seconds per setting: every stage, tiny networks, no claim."""


def describe(cfg) -> str:
    if cfg != default(cfg["setting"]):
        return "a configuration other than the stored one (see config): not the stored evidence"
    return ("cpu-reduced: 2000 Adam steps of batch 100 (200 epochs of 1000 examples in the paper regime) instead "
            "of 1000 epochs; 3 seeds per beta instead of 100 (Fig. 2) or 300 (App. C); 9 betas; 8 x 8 scikit-learn "
            "digits instead of MNIST (N = 64; canvas 24 x 24); batch size not given in the paper")


FIGURES = {"mixture": "figure_2.png", "canvas": "figure_3.png"}
QUANTITIES = ("kl", "reconstruction", "elbo", "tie", "tie_best", "tie_mean")


PAPER_EXAMPLES = 1000 * 1000   # App. C of [optimal_beta]: 1000 epochs over 1000 examples per network


def scale(cfg) -> dict:
    """Against App. C's protocol (1000 epochs of 1000 examples; 300 realisations per beta)."""
    return provenance.scale(cfg["steps"] * cfg["batch_size"], PAPER_EXAMPLES,
                            what=f"tanh-MLP beta-VAEs ({cfg['setting']}), {len(cfg['seeds'])} seeds per beta")


def read(mapping, where: str = ""):
    """A setting's configuration from a mapping (its ``setting`` key picks the class), checked strictly;
    errors name the field and the condition."""
    return strict_choice(Config, mapping, key="setting", where=where, what="setting")


check_config = read


def default(setting: str = "mixture", smoke: bool = False):
    """The command's default configuration of ``setting`` (``smoke``: the tiny one)."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {SETTINGS}; got {setting!r}")
    return read((SMOKE if smoke else DEFAULT)[setting])


def config(setting: str = "mixture", smoke: bool = False):
    """The command's default configuration of ``setting`` (``smoke``: the tiny one)."""
    return default(setting, smoke)


def size(cfg, regime: str) -> int | None:
    """The training-set size of ``regime`` (None: fresh draws)."""
    value = cfg["regimes"][regime]
    return None if value == FRESH else value


# ------------------------------------------------------------------ one network


def mixing(cfg: dict) -> np.ndarray:
    """The mixing matrix A of a setting: digit columns (mixture) or the 2 x 2 of Fig. 3 (canvas)."""
    from deep.data import digit_mixing

    return digit_mixing(cfg["k"]) if cfg["setting"] == "mixture" else tbv.check_mixing(cfg["A"])


def _data(cfg: dict, A, n: int, seed: int):
    from deep.data import DigitCanvas, LinearMixture

    if cfg["setting"] == "mixture":
        return LinearMixture(A, n, seed=seed)
    return DigitCanvas(A, n, seed=seed, size=cfg["size"], digit=cfg["digit"])


def _data_spec(cfg: dict, n: int) -> dict:
    """How a run's training data were made (stored with its checkpoint)."""
    if cfg["setting"] == "mixture":
        return {"name": "linear-mixture", "k": cfg["k"], "size": n, "seed": cfg["data_seed"]}
    return {"name": "digit-canvas", "A": cfg["A"], "canvas": cfg["size"], "digit": cfg["digit"], "size": n,
            "seed": cfg["data_seed"]}


def _measure(model, data, A, seed) -> dict:
    """Reconstruction, KL (total and per latent), ELBO and TIE of a network on all of ``data``."""
    from deep.evaluate import encode

    index = np.arange(len(data))
    enc = encode(model, data, index, seed=seed)
    moments = tbv.sample_moments(enc["mu"], enc["logvar"], data.mixed(index), A)
    latent_kl = tbv.latent_kl(moments)
    perm, signs, tie_best = tbv.best_relabelling(moments)
    used = enc["mu"][:, enc["mu"].std(0) > 0]          # a collapsed linear latent is constant
    corr = np.corrcoef(used.T) if used.shape[1] > 1 else np.eye(1)
    reconstruction = -float(enc["nll"].mean())
    return {"reconstruction": reconstruction, "kl": float(latent_kl.sum()),
            "elbo": reconstruction - float(latent_kl.sum()), "latent_kl": latent_kl.tolist(),
            "tie": tbv.relabelled_tie(moments), "tie_best": tie_best, "tie_mean": tbv.mean_relabelled_tie(moments),
            "relabelling": {"perm": list(perm), "signs": list(signs)},
            "max_mu_correlation": float(np.max(np.abs(corr - np.diag(np.diag(corr))))),
            "reconstruction_se": float(enc["nll"].std(ddof=1) / math.sqrt(len(index)))}


def run_one(task: dict) -> dict:
    """Train (or resume) one network and measure it: the unit of work of the sweep.

    ``task`` holds ``cfg`` (a plain mapping), ``regime``, its training-set ``size`` (None: fresh
    draws), ``beta``, ``seed`` and ``run_dir``; the result holds ``heldout`` (and ``train`` when
    the training set is finite) from :func:`_measure`.
    """
    import torch

    from deep.models import build_model
    from deep.objectives import Objective
    from deep.train import fit

    cfg, beta, seed = task["cfg"], task["beta"], task["seed"]
    size = task["size"]
    A = mixing(cfg)
    n = cfg["population"] if size is None else size
    data = _data(cfg, A, n, cfg["data_seed"])
    spec = {**cfg["model"], "m": A.shape[1]}
    torch.manual_seed(seed)
    model = build_model(spec, data.shape)
    run_config = {"data": _data_spec(cfg, n), "model": spec, "objective": {"name": "beta", "beta": beta},
                  "batch_size": cfg["batch_size"], "lr": cfg["lr"], "seed": seed, "steps": cfg["steps"]}
    fit(model, data, Objective(beta=beta), task["run_dir"], steps=cfg["steps"], batch_size=cfg["batch_size"],
        lr=cfg["lr"], seed=seed, checkpoint_every=cfg["steps"], log_every=max(1, cfg["steps"] // 10),
        device="cpu", config=run_config, progress=False)
    heldout = _data(cfg, A, cfg["eval_size"], cfg["eval_seed"])
    out = {"regime": task["regime"], "beta": beta, "seed": seed, "heldout": _measure(model, heldout, A, seed)}
    if size is not None:
        out["train"] = _measure(model, data, A, seed)
    return out


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


def summarise_split(runs: list[dict], betas, seeds, where: str) -> dict:
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
    """The criteria of the module docstring on one summary ({quantity: {"mean", "se", "min"}})."""
    betas = np.asarray(betas, dtype=float)
    stats = {q: (np.asarray(summary[q]["mean"]), np.asarray(summary[q]["se"])) for q in summary}
    last = len(betas) - 1
    out = {}
    for q in ("kl", "reconstruction"):
        m, se = stats[q]
        out[f"{q}_decreases"] = bool(_no_increase(m, se) and _exceeds(m, se, 0, last))
    m, se = stats["elbo"]
    g, one = int(np.argmax(m)), int(np.argmin(np.abs(np.log(betas))))
    out["elbo_argmax_beta"] = float(betas[g])
    out["elbo_max_near_1"] = bool(0.5 <= betas[g] <= 2.0 and _no_increase(m, se, one)
                                  and _exceeds(m, se, one, last))
    for q in ("tie", "tie_best"):
        m, se = stats[q]
        g = int(np.argmin(m))
        out[f"{q}_argmin_beta"] = float(betas[g])
        out[f"{q}_finite_optimum"] = bool(0 < g < last and _exceeds(m, se, 0, g) and _exceeds(m, se, last, g))
    # Fig. 3(B): "its minima over various random initialization follow a non-monotonic trend"
    low, se = np.asarray(summary["tie"]["min"]), stats["tie"][1]
    g = int(np.argmin(low))
    out["tie_seed_min_argmin_beta"] = float(betas[g])
    out["tie_seed_min_finite_optimum"] = bool(0 < g < last and all(low[e] - low[g] > 2 * max(se[e], se[g])
                                                                   for e in (0, last)))
    return out


AGREEMENT = {"kl": "kl", "reconstruction": "reconstruction", "elbo": "elbo", "tie_best": "tie_best",
             "tie": "tie_mean", "tie_mean": "tie_mean"}
"""Network quantity -> the theory quantity it is compared with. TIE as printed is compared with the
mean over labellings (pre-registered); ``tie_mean`` (each network's own mean over its 2^k k!
relabellings, the seed average of TIE as printed without the labelling noise: the init is
invariant under signed relabellings) was added after the runs."""


def theory_summary(th: dict) -> dict:
    """The theory curve as a summary with zero standard errors (for :func:`criteria`).

    Its "tie" is the mean over labellings: the prediction for TIE as printed averaged over
    seeds that pick their labelling at random.
    """
    zero = [0.0] * len(th["beta"])
    return {q: {"mean": th[AGREEMENT.get(q, q)], "se": zero, "min": th[AGREEMENT.get(q, q)]} for q in QUANTITIES}


def linear_optimum(A, beta):
    """The tractable model's optimum (eq. 20-22, :func:`numerics.tractable_beta_vae.optimum`) as a
    :class:`deep.models.VAE`, so that it is measured exactly like the networks."""
    import torch

    from deep.models import build_model

    p = tbv.optimum(A, beta)
    N, k = A.shape
    model = build_model({"architecture": "mlp", "m": k, "likelihood": "gaussian", "eta_dec": 1.0, "hidden": []},
                        (N,))
    encoder, decoder = model.encoder.net[0], model.decoder.net[0]
    with torch.no_grad():
        encoder.weight.copy_(torch.from_numpy(np.vstack([p.W_mu, p.W_sigma])))
        encoder.bias.copy_(torch.from_numpy(np.concatenate([p.b_mu, p.b_sigma])))
        decoder.weight.copy_(torch.from_numpy(p.D))
        decoder.bias.copy_(torch.from_numpy(p.b_D))
    return model


def agreement(summary: dict, th: dict, paired: dict) -> dict:
    """Largest |network mean - theory| over the grid, absolute and relative to the range of the
    exact theory curve. The theory value is the linear optimum measured on the same data and
    noise as the networks (``paired``), which cancels the sampling error of the finite
    evaluation set (about 2 nats in TIE at 5000 draws); ``vs_exact`` keeps the exact one."""
    out = {}
    for q, t in AGREEMENT.items():
        m, ref, exact = (np.asarray(v) for v in (summary[q]["mean"], paired[t], th[t]))
        dev = m - ref
        spread = float(np.ptp(exact)) or 1.0
        out[q] = {"deviation": dev.tolist(), "max_abs": float(np.max(np.abs(dev))),
                  "max_relative_to_range": float(np.max(np.abs(dev)) / spread),
                  "within_10_percent": bool(np.max(np.abs(dev)) <= 0.1 * spread),
                  "vs_exact": (m - exact).tolist()}
    return out


# ------------------------------------------------------------------ the experiment protocol


def plan(cfg) -> list:
    """Every (regime, β, seed) network, then (mixture) the ``long`` ones: one run each."""
    from deep.sweep import Run

    mixing(cfg)   # a setting that cannot be built fails here, before any training
    shared = {k: v for k, v in protocol.as_dict(cfg).items() if k not in ("betas", "seeds", "regimes", "long")}
    grids = [(False, cfg)]
    if cfg.get("long"):
        grids.append((True, {**protocol.as_dict(cfg), **cfg["long"], "regimes": {"population": FRESH}}))
    out = []
    for long, grid in grids:
        for regime in grid["regimes"]:
            for beta in grid["betas"]:
                for seed in grid["seeds"]:
                    steps = grid["steps"]
                    out.append(Run(f"{'long,' if long else ''}{regime},beta={beta:g},seed={seed}",
                                   {**shared, "steps": steps, "size": size(grid, regime), "regime": regime,
                                    "beta": beta, "seed": seed},
                                   {"regime": regime, "beta": beta, "seed": seed, "long": long}))
    return out


def run(cfg, one, work_dir: Path, device: str) -> dict:
    """Train (or resume) one network under ``work_dir`` on the CPU and measure it (:func:`run_one`)."""
    values = one.values
    folder = Path(work_dir) / ("long" if values["long"] else "") / values["regime"]
    plain = {**protocol.as_dict(cfg), "steps": one.config["steps"]}
    return run_one({"cfg": plain, "size": one.config["size"], "regime": values["regime"], "beta": values["beta"],
                    "seed": values["seed"], "run_dir": str(folder / f"beta{values['beta']:g}-seed{values['seed']}")})


def summarise(cfg, runs_: list, records: dict, figures: Path, work_dir: Path | None = None) -> dict:
    """Summaries, criteria and (mixture) the theory (:func:`analyse`); ``figure_2.png`` or ``figure_3.png`` and
    ``<setting>.csv`` in ``figures``."""
    plain = protocol.as_dict(cfg)
    A = mixing(plain)
    networks = [records[r.name] for r in runs_ if not r.values["long"]]
    lam = np.sort(np.linalg.eigvalsh(tbv.Sigma_x(A)))[::-1][:A.shape[1]]
    result = {"A": A.tolist(), "collapse_thresholds": lam.tolist(), **analyse(plain, networks, A)}
    _write_csv(figures / f"{cfg['setting']}.csv", {"config": plain, **result})
    figure({"config": plain, "runs": networks, **result}, A, figures / FIGURES[cfg["setting"]])
    return result


def report(result: dict) -> str:
    verdicts = {f"{regime}/{where}": split["criteria"] for regime, splits in result["regimes"].items()
                for where, split in splits.items()}
    if "theory_criteria" in result:
        verdicts = {"theory": result["theory_criteria"], **verdicts}
    return io.dumps({result["config"]["setting"]: verdicts}, indent=1)


def _shaped(result: dict) -> dict:
    """A result of :func:`deep.experiment.load` as the checks read it: the networks' records as ``runs``
    (and ``long_runs``), besides the summaries, the theory and the provenance."""
    networks = [r["record"] for r in result["runs"] if not r["values"]["long"]]
    long = [r["record"] for r in result["runs"] if r["values"]["long"]]
    return {**{k: v for k, v in result.items() if k not in ("runs", "records")}, "runs": networks,
            **({"long_runs": long} if long else {})}


def stored(setting: str, *, root=None, default=None) -> dict:
    """The stored result of ``setting`` (results/tractable_beta_vae/<setting>, or ``root/<setting>``) made
    from ``default`` (the command's default configuration unless given); UserError when stale or missing."""
    return _shaped(protocol.load(sys.modules[__name__], setting, root=root, default=default))


def experiment(cfg, output_dir: Path, work_dir: Path, *, workers: int = 1, progress: bool = True) -> dict:
    """Run one setting (records, result.json and figures in ``output_dir``, networks in ``work_dir``);
    the result as :func:`stored` gives it.

    A second call resumes every finished or interrupted network.
    """
    from deep.sweep import executor

    cfg = cfg if isinstance(cfg, _Setting) else read(cfg)
    module = sys.modules[__name__]
    with executor(workers) as pool:
        protocol.drive(module, cfg, output_dir, work_dir, pool, device="cpu", progress=progress)
    return _shaped(protocol.load(module, root=output_dir, default=cfg))


def analyse(cfg: dict, runs: list[dict], A) -> dict:
    """Summaries, criteria and (mixture) the comparison with the theory for every regime and data split."""
    th = theory(A, cfg["betas"]) if cfg["setting"] == "mixture" else None
    out = {"regimes": {}}
    if th is not None:
        out.update(theory=th, theory_criteria=criteria(theory_summary(th), cfg["betas"]))
    for regime in cfg["regimes"]:
        n = size(cfg, regime)
        mine = [r for r in runs if r["regime"] == regime]
        splits = {}
        for where in ("heldout", "train") if n is not None else ("heldout",):
            summary = summarise_split(mine, cfg["betas"], cfg["seeds"], where)
            splits[where] = {"summary": summary, "criteria": criteria(summary, cfg["betas"])}
            if th is not None:
                data = (_data(cfg, A, cfg["eval_size"], cfg["eval_seed"]) if where == "heldout"
                        else _data(cfg, A, n, cfg["data_seed"]))
                measured = [_measure(linear_optimum(A, beta), data, A, 0) for beta in cfg["betas"]]
                paired = {q: [m[q] for m in measured] for q in QUANTITIES}
                splits[where].update(theory_on_data=paired, agreement=agreement(summary, th, paired))
        out["regimes"][regime] = splits
    return out


def _write_csv(path: Path, result: dict) -> None:
    rows = []
    for regime, splits in result["regimes"].items():
        for where, split in splits.items():
            for g, beta in enumerate(result["config"]["betas"]):
                row = {"regime": regime, "data": where, "beta": beta}
                for q in QUANTITIES:
                    row.update({f"{q}_{stat}": split["summary"][q][stat][g] for stat in ("mean", "se", "min")})
                if "theory" in result:
                    row.update({f"theory_{q}": result["theory"][q][g]
                                for q in ("kl", "reconstruction", "elbo", "tie_mean", "tie_best")})
                rows.append(row)
    io.write_csv(path, rows)


def figure(result: dict, A, path: Path) -> None:
    """Fig. 2 (mixture) or Fig. 3 (canvas) of [optimal_beta]: ELBO, TIE, reconstruction, KL and
    the per-latent KL against β, with the tractable model's curves for the mixture."""
    betas = np.asarray(result["config"]["betas"])
    fine = np.geomspace(betas[0], betas[-1], 120)
    th = theory(A, fine) if "theory" in result else None
    panels = [("elbo", "(A) ELBO", [("elbo", "theory ELBO*")]),
              ("tie", "(B) TIE as printed (band: min-max over seeds)",
               [("tie_mean", "theory: mean over labellings"), ("tie_best", "theory: best labelling")]),
              ("tie_best", "(B') TIE after the best relabelling", [("tie_best", "theory: best labelling")]),
              ("reconstruction", "(C) reconstruction E log p(x|z)", [("reconstruction", "theory")]),
              ("kl", "(D) KL(q(z|x) || p(z))", [("kl", "theory KL*")])]
    fig, axes = io.figure(2, 3, figsize=(14, 8))
    colours = {"population": "C0", "paper": "C3"}
    on_data = result["regimes"][next(iter(result["regimes"]))]["heldout"].get("theory_on_data")
    for ax, (q, title, refs) in zip(axes.flat, panels):
        for t, label in refs if th is not None else ():
            ax.plot(fine, th[t], "k--" if t == "tie_mean" else "k-", lw=1, label=label)
            ax.plot(betas, on_data[t], "kx", ms=5, label="(x: on the held-out draws)" if t == refs[0][0] else None)
        for regime, splits in result["regimes"].items():
            for where, split in splits.items():
                s, c = split["summary"][q], colours.get(regime, "C2")
                ax.errorbar(betas, s["mean"], yerr=s["se"], fmt="o-" if where == "heldout" else "s:", color=c,
                            ms=3, capsize=2, label=f"{regime}, {where} (mean ± se)")
                ax.fill_between(betas, s["min"], s["max"], color=c, alpha=0.08)
        ax.set(xscale="log", xlabel="β")
        ax.set_title(title, fontsize=10)
        ax.axvline(1.0, color="0.7", lw=0.5)
    axes[0, 0].legend(fontsize=7)
    axes[0, 1].legend(fontsize=7)
    ax = axes[1, 2]   # (E) per-latent KL, sorted, at three β
    for g, c in zip(np.linspace(0, len(betas) - 1, 3).astype(int), ("C0", "C1", "C2")):
        runs = [r["heldout"]["latent_kl"] for r in result["runs"]
                if r["beta"] == betas[g] and r["regime"] == next(iter(result["regimes"]))]
        ax.plot(np.mean(np.sort(runs, axis=1), 0)[::-1], "o", color=c, label=f"network, β = {betas[g]:g}")
        if th is not None:
            ax.plot(np.sort(result["theory"]["latent_kl"][g])[::-1], "_", ms=14, color=c, label="theory")
    ax.set(xlabel="latent (sorted)", ylabel="KL per latent (nats)")
    ax.set_title("(E) per-latent KL, held out", fontsize=10)
    ax.legend(fontsize=7)
    data = ("x = As + η, digit images as the columns of A" if result["config"]["setting"] == "mixture"
            else "one digit on a canvas at position x = As + η")
    fig.suptitle(f"tanh-MLP β-VAE, {data}, k = {A.shape[1]}; {len(result['config']['seeds'])} seeds", fontsize=11)
    fig.tight_layout()
    io.save_figure(fig, path, dpi=100)
