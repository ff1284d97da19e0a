"""``collapse experiment lambda-vae``: the CPU experiments of §6.2-6.3 of [lambda_vae].

Standard VAE (lambda = 1) against the lambda-VAE (per-dimension lambda* of eq. 16 from an
EMA of sigma, :class:`deep.objectives.LambdaSchedule`), both trained by the one loop
:func:`deep.train.fit` with the 3-layer 300-unit MLPs of §6.1.

- ``synthetic`` (§6.2 "Synthetic data", Fig. 3): 2-D Gaussian mixtures, K = 2 latents,
  Gaussian decoder with fixed std ``eta_dec``, delta = 1.001. ``k2``: two clusters
  stretched along x (per-axis stds 1 and 0.35), so the y-axis variance 0.1225 lies below
  the linear collapse threshold eta_dec^2 = 0.25; ``k4``: four clusters at (+-2, +-2)
  with std 0.5. Tracked over training (snapshots of the whole training set): sigma_i,
  lambda_i, sigma*(lambda_i) (eq. 13), g^sigma (eq. 19), rho (eq. A.3) and rho^lambda
  (§4.1), KL_i and the Monte Carlo I(X;Z) of §6.1 with the gap log N - I (eq. 5).
- ``digits`` (§6.2 "Binary data", §6.3, Table 1, Fig. 4, 5, 7 at the scale of
  scikit-learn's 8 x 8 digits, stochastically binarised): K = 30, Bernoulli decoder,
  standard VAE, beta-VAE (beta 0.5, 2) and the lambda-VAE at delta 1.19, 1.10, 1.01;
  active units, SNR capacity (eq. 7) and decoder capacity (eq. 18) on the training
  images; on the 360 held-out images the paper's "ELBO-BPD" -L_lambda (eq. 10), the
  ELBO of the sampling distribution N(mu, sigma^(2 lambda)) (a bound on log p(x)) and an
  importance-weighted bound (IWAE, footnote 2) with its effective sample size; and the
  ELBO of greedy prior samples (Fig. 5b).

The training protocol is §6.1's for binary data, in epochs of the training set: 200
epochs, batch 100, Adam lr 1e-3, lambda* updated every 2 epochs from an EMA (decay 0.9)
of each dimension's mean sigma, a linear ramp of lambda over the first 150 epochs,
lambda_max = 20. The synthetic study uses the same protocol on 1000 points, plus a
lambda-VAE without the ramp (``lambda_no_ramp``), because the ramp decides the outcome
there. Every run resumes from its checkpoint in the work folder (snapshots are recorded in
``snapshots.jsonl``; a run is a sequence of :func:`deep.train.fit` calls to the snapshot
steps, identical to one uninterrupted call).

Each study is a part of the experiment (:mod:`deep.experiment`): ``<output>/<study>/`` holds
``config.toml``, ``runs/`` (one record per run: trajectories and final metrics, floats to 5
significant digits), ``result.json`` (summaries over seeds, provenance) and ``figures/``
(``<study>.png``, ``<study>.csv``).

References
----------
[lambda_vae] G. Demisse, "λ-VAE: Variance Equalization for Posterior Collapse",
    shared/papers/002_9357fcd1557682b2.txt, §6.1-6.3, Fig. 3-5, 7, Table 1, footnote 2.
"""
from __future__ import annotations

import json
import math
import shutil
import sys
from dataclasses import field
from pathlib import Path

import numpy as np

from deep import experiment as protocol
from deep import provenance
from deep.config import check, strict_choice
from numerics import validation

HELP = ("paper 002 §6.2-6.3 on CPU: standard VAE vs lambda-VAE on 2-D Gaussian mixtures (k = 2, 4) "
        "and binarised 8x8 digits (AU, capacity, rho, sigma vs sigma*, I(X;Z))")
ALIASES = ["lambda"]
NAME = "lambda_vae"
PARTS = STUDIES = ("synthetic", "digits")
PART = "study"
DEVICES = ("auto", "cpu")   # the stored runs were made on the CPU, in float32, one thread
FINAL_VERSION = 2   # bump when the final metrics change: finished runs recompute them from their checkpoint

_MLP = {"architecture": "mlp", "hidden": [300, 300, 300]}                      # §6.1
_SCHEDULE = {"name": "lambda", "ema_decay": 0.9, "lambda_max": 20.0}          # §6.1, Fig. 7


def _protocol(n: int, batch_size: int, epochs: int, ramp_epochs: int, update_epochs: int) -> dict:
    """Steps of the §6.1 protocol for ``n`` training points: epochs -> steps."""
    per_epoch = n / batch_size
    return {"steps": round(epochs * per_epoch), "ramp_steps": round(ramp_epochs * per_epoch),
            "update_every": max(1, round(update_epochs * per_epoch))}


PAPER_EXAMPLES = {"digits": 200 * 60_000,   # §6.1: 200 epochs of binarised MNIST's 60,000 training images
                  "synthetic": None}        # §6: no data size or length stated for the mixtures


def scale(config: dict) -> dict:
    """Against §6.1's protocol for ``config["study"]``."""
    study = config["study"]
    return provenance.scale(config["steps"] * config["batch_size"], PAPER_EXAMPLES[study],
                            what=f"MLP VAEs ({study}), {len(config['seeds'])} seeds")


def default_config(study: str, smoke: bool = False) -> dict:
    """The configuration of a study (the stored result must have been produced by exactly this).

    ``smoke``: the same pipeline at toy size (one seed, a few dozen steps) for the tests.
    """
    if study not in STUDIES:
        raise ValueError(f"study must be one of {STUDIES}; got {study!r}")
    if study == "synthetic":
        n, batch_size, epochs = (200, 50, 10) if smoke else (1000, 100, 200)
        p = _protocol(n, batch_size, epochs, ramp_epochs=round(0.75 * epochs), update_epochs=2)
        lam = {**_SCHEDULE, "delta": 1.001, "update_every": p["update_every"]}
        config = {
            "settings": {"k2": {"means": [[-2.0, 0.0], [2.0, 0.0]], "stds": [1.0, 0.35]},
                         "k4": {"means": [[-2.0, -2.0], [-2.0, 2.0], [2.0, -2.0], [2.0, 2.0]], "stds": [0.5, 0.5]}},
            "n": n, "data_seed": 0,
            "model": {**_MLP, "m": 2, "likelihood": "gaussian", "eta_dec": 0.5},
            "objectives": {"vae": {"name": "beta", "beta": 1.0},
                           "lambda": {**lam, "ramp_steps": p["ramp_steps"]},
                           "lambda_no_ramp": {**lam, "ramp_steps": 0}},
            "information_points": [64, 512] if smoke else [256, 4096], "information_seed": 1,
            "dense_until": 4 if smoke else 80,    # the standard VAE loses a dimension within ~40 steps
        }
    else:
        n, batch_size, epochs = (400, 100, 4) if smoke else (1437, 100, 200)
        p = _protocol(n, batch_size, epochs, ramp_epochs=round(0.75 * epochs), update_epochs=2)
        lam = {**_SCHEDULE, "update_every": p["update_every"], "ramp_steps": p["ramp_steps"]}
        config = {
            "data": {"name": "digits", "binarize": "stochastic", "seed": 0, "test_size": 360,
                     **({"subset": n} if smoke else {})},     # smoke: 400 of the 1437 training images
            "model": {**_MLP, "m": 30, "likelihood": "bernoulli"},
            "objectives": {"vae": {"name": "beta", "beta": 1.0},
                           "beta_0.5": {"name": "beta", "beta": 0.5},
                           "beta_2": {"name": "beta", "beta": 2.0},
                           **{f"lambda_{d}": {**lam, "delta": d} for d in (1.19, 1.1, 1.01)}},
            "test_noise_draws": 2 if smoke else 10, "iwae_images": 8 if smoke else 100,
            "iwae_samples": 20 if smoke else 1000, "prior_samples": 16 if smoke else 256, "dense_until": 0,
        }
        if smoke:
            config["objectives"] = {k: config["objectives"][k] for k in ("vae", "lambda_1.01")}
    config.update(study=study, smoke=smoke, epochs=epochs, batch_size=batch_size, lr=1e-3,
                  steps=p["steps"], seeds=[0] if smoke else [0, 1, 2],
                  snapshots=_snapshot_steps(p["steps"], 4 if smoke else 30, config["dense_until"]),
                  snapshot_draws=4, snapshot_seed=7)
    return config


def _snapshot_steps(steps: int, count: int, every_until: int = 0) -> list[int]:
    """Every step up to ``every_until``, then about ``count`` geometrically spaced steps up to ``steps``."""
    return sorted({int(s) for s in np.geomspace(1, steps, count).round()} | set(range(1, every_until + 1)) | {steps})


@protocol.configuration
class _Study(protocol.Config):
    """What both studies share: the §6.1 protocol in steps, the seeds and the snapshots."""

    study: str
    smoke: bool = False
    model: dict
    objectives: dict
    dense_until: int = field(metadata=check(protocol.count(0)))
    epochs: int = field(metadata=check(validation.positive_int))
    batch_size: int = field(metadata=check(validation.positive_int))
    lr: float = field(metadata=check(validation.positive))
    steps: int = field(metadata=check(validation.positive_int))
    seeds: tuple[int, ...] = field(metadata=check(protocol.seeds))
    snapshots: tuple[int, ...] = field(metadata=check(lambda n, v: protocol.increasing(n, v)))
    snapshot_draws: int = field(metadata=check(validation.positive_int))
    snapshot_seed: int = field(metadata=check(protocol.count(0)))

    def __post_init__(self):
        if self.snapshots[-1] != self.steps:
            raise ValueError(f"snapshots must end at steps = {self.steps}; got {self.snapshots[-1]}")


@protocol.configuration
class SyntheticConfig(_Study):
    """§6.2 "Synthetic data": 2-D Gaussian mixtures (``settings``: their means and per-axis stds)."""

    WHAT = "lambda-vae synthetic config"
    settings: dict
    n: int = field(metadata=check(validation.positive_int))
    data_seed: int = field(metadata=check(protocol.count(0)))
    information_points: tuple[int, ...] = field(metadata=check(lambda n, v: protocol.increasing(n, v)))
    information_seed: int = field(metadata=check(protocol.count(0)))


@protocol.configuration
class DigitsConfig(_Study):
    """§6.2 "Binary data", §6.3 on scikit-learn's 8 x 8 digits (``data``: :func:`deep.data.build_data`'s spec)."""

    WHAT = "lambda-vae digits config"
    data: dict
    test_noise_draws: int = field(metadata=check(validation.positive_int))
    iwae_images: int = field(metadata=check(validation.positive_int))
    iwae_samples: int = field(metadata=check(validation.positive_int))
    prior_samples: int = field(metadata=check(validation.positive_int))


Config = {"synthetic": SyntheticConfig, "digits": DigitsConfig}
"""The configuration of each study, chosen by its key ``study``."""


def read(mapping, where: str = ""):
    """A study's configuration from a mapping (its ``study`` key picks the class), checked strictly."""
    return strict_choice(Config, mapping, key="study", where=where, what="study")


def default(study: str = "synthetic", smoke: bool = False):
    """The stored result's configuration of ``study`` (``smoke``: toy size)."""
    return read(default_config(study, smoke))


def describe(config) -> str:
    if config["study"] == "synthetic":
        return (f"cpu-reduced: {config['epochs']} epochs of {config['n']} points per mixture ({config['steps']} "
                f"steps), {len(config['seeds'])} seeds; the paper states neither its synthetic data size, epochs "
                "nor seeds")
    return (f"cpu-reduced: {config['epochs']} epochs of the 1437 training images of scikit-learn's 8x8 digits "
            f"({config['steps']} steps), {len(config['seeds'])} seeds, instead of binarised MNIST / Omniglot "
            "(28x28, 200 epochs)")


# ---------------------------------------------------------------- runs


def plan(config) -> list:
    """One run per (setting, model, seed); a run's settings are everything that decides its record."""
    from deep.sweep import Run

    settings = list(config["settings"]) if config["study"] == "synthetic" else ["digits"]
    shared = {k: v for k, v in protocol.as_dict(config).items() if k not in ("seeds", "objectives", "settings")}
    return [Run(f"{setting},{name},seed={seed}",
                {"spec": _spec(config, setting, name, seed), "study": shared, "final_version": FINAL_VERSION},
                {"setting": setting, "model": name, "seed": seed})
            for setting in settings for name in config["objectives"] for seed in config["seeds"]]


def _spec(config, setting: str, name: str, seed: int) -> dict:
    return {"data": _data_spec(config, setting, "train"), "model": config["model"],
            "objective": config["objectives"][name], "batch_size": config["batch_size"], "lr": config["lr"],
            "seed": seed}


def run(config, one, work_dir: Path, device: str) -> dict:
    """Train one (setting, model, seed) in one thread, snapshot by snapshot: its record (floats to 5 significant
    digits; the latent codes for the figure in the first seed only)."""
    import torch

    torch.set_num_threads(1)
    values = one.values
    rec = _run_one(config, values["setting"], values["model"], values["seed"],
                   Path(work_dir) / values["setting"] / values["model"] / f"seed{values['seed']}")
    if values["seed"] != config["seeds"][0]:
        rec["final"].pop("codes", None)
    return _rounded(rec)


def _run_one(config, setting: str, name: str, seed: int, run_dir: Path) -> dict:
    """One run: fit to each snapshot step in turn, recording a snapshot after each; then the final metrics."""
    import torch

    from deep import io
    from deep.data import build_data
    from deep.models import build_model
    from deep.objectives import build_objective

    spec = _spec(config, setting, name, seed)
    data = build_data(spec["data"])
    torch.manual_seed(seed)
    model = build_model(config["model"], data.shape)
    objective = build_objective(config["objectives"][name], model.m)
    snap_path = run_dir / "snapshots.jsonl"
    recorded = {}
    if (run_dir / "checkpoint.pt").exists() and snap_path.exists():
        recorded = {s["step"]: s for s in map(json.loads, snap_path.read_text().splitlines())}
    elif run_dir.exists():
        shutil.rmtree(run_dir)
    index = np.arange(len(data))
    trained = False
    for step in config["snapshots"]:
        if step in recorded:
            continue
        _fit(model, data, objective, run_dir, step, config, spec)
        trained = True
        recorded[step] = snapshot(model, objective, data, index, step, config)
        io.write_text(snap_path, "".join(json.dumps(recorded[s]) + "\n" for s in sorted(recorded)))
    if not trained:  # every snapshot was recorded by an earlier process: load the final state
        _fit(model, data, objective, run_dir, config["snapshots"][-1], config, spec)
    final = (_final_synthetic if config["study"] == "synthetic" else _final_digits)(model, objective, data, config,
                                                                                  setting)
    return {"setting": setting, "model": name, "seed": seed,
            "snapshots": [recorded[s] for s in config["snapshots"]], "final": final}


def _fit(model, data, objective, run_dir, step, config, spec):
    """Train to ``step`` (resuming from ``run_dir``); checkpoints only at the snapshot steps."""
    from deep.train import fit

    fit(model, data, objective, run_dir, steps=step, batch_size=config["batch_size"], lr=config["lr"],
        seed=spec["seed"], checkpoint_every=10**9, log_every=max(1, config["steps"] // 50), config=spec,
        progress=False)


def _data_spec(config: dict, setting: str, split: str) -> dict:
    """The :func:`deep.data.build_data` spec of a study's training data (or held-out data)."""
    if config["study"] == "synthetic":
        return {"name": "mixture", **config["settings"][setting], "n": config["n"], "seed": config["data_seed"]}
    data = {**config["data"], "split": split}
    if split == "test":
        data.pop("subset", None)          # a subset (smoke runs) thins the training images only
    return data


def snapshot(model, objective, data, index, step: int, config: dict) -> dict:
    """The tracked quantities of §6.2 at ``step``, over ``data[index]`` (per latent dimension).

    The gradients average ``config["snapshot_draws"]`` noise draws per point.
    ``sigma`` (mean over x), ``lambda`` (the exponents in force), ``sigma_star`` (eq. 13
    at lambda; None where lambda = 1, which has no attractor), ``g_sigma``,
    ``g_sigma_effective``, ``kl_force``, ``rho``, ``rho_effective``
    (:func:`deep.metrics.gradient_ratios`), ``kl``, ``latent_variance``; ``information``
    and ``gap``: the Monte Carlo I(X;Z) of §6.1 over the points (sampling noise
    sigma^lambda) and log N - I.
    """
    import torch

    from deep import metrics
    from deep.evaluate import _jsonable, encode
    from deep.objectives import kl_per_dimension
    from numerics.lambda_vae import sigma_star

    lam = objective.exponent(step, model.m)
    n = len(index)   # each point ``snapshot_draws`` times, with independent noise, for the gradients
    enc = encode(model, data, np.tile(index, config["snapshot_draws"]), exponent=lam, seed=config["snapshot_seed"],
                 batch_size=n)
    mu, logvar = enc["mu"][:n], enc["logvar"][:n]
    sigma = np.exp(0.5 * logvar)
    kl = kl_per_dimension(torch.from_numpy(mu), torch.from_numpy(logvar)).mean(0).numpy()
    info = metrics.mutual_information(mu, sigma ** lam, seed=config["snapshot_seed"])
    return _jsonable({"step": step, "sigma": sigma.mean(0), "lambda": lam,
                      "sigma_star": [float(sigma_star(x)) if x > 1 else None for x in lam],
                      **metrics.gradient_ratios(enc["grad_eps"], enc["logvar"], lam), "kl": kl,
                      "latent_variance": mu.var(0, ddof=1), "information": info["estimate"], "gap": info["gap"]})


def _final_synthetic(model, objective, data, config, setting) -> dict:
    """Final metrics on the training points, I(X;Z) on fresh mixture samples, codes for the figure."""
    from deep import metrics
    from deep.data import build_data
    from deep.evaluate import _jsonable, encode

    lam = objective.exponent(config["steps"], model.m)
    final = _final_common(model, data, lam, config)
    spec = {**_data_spec(config, setting, "train"), "n": max(config["information_points"]),
            "seed": config["information_seed"]}
    fresh = build_data(spec)
    enc = encode(model, fresh, np.arange(len(fresh)), exponent=lam, seed=config["snapshot_seed"], batch_size=1024)
    noise = np.exp(0.5 * lam * enc["logvar"])
    final["information"] = {str(n): metrics.mutual_information(enc["mu"][:n], noise[:n], samples=4,
                                                               seed=config["information_seed"])
                            for n in config["information_points"]}
    shown = np.arange(min(400, len(fresh)))
    x = fresh.observations(shown)
    final["codes"] = {"x": x, "component": fresh.factor_classes(shown)[:, 0], "mu": enc["mu"][shown],
                      "reconstruction": _decode(model, enc["mu"][shown] + noise[shown] * _normal(shown, config))}
    return _jsonable(final)


def _final_common(model, data, exponent, config) -> dict:
    """:func:`deep.evaluate.evaluate` on the training data (4 draws per point, no DCI) and where
    lambda-scaling amplifies the noise: ``amplified_fraction_per_dim`` (the fraction of training
    points with sigma_i(x) > 1 in a dimension with lambda_i > 1, where sigma^lambda > sigma: eq. 16
    sets lambda_i from the mean sigma, which can be < 1 while sigma_i(x) > 1), ``sigma_max_per_dim``
    and ``noise_std_max_per_dim`` (the largest sigma_i(x)^lambda_i)."""
    from deep.evaluate import encode, evaluate

    final = evaluate(model, data, samples=len(data) * 4, exponent=exponent, seed=config["snapshot_seed"], dci=False)
    sigma = np.exp(0.5 * encode(model, data, np.arange(len(data)), exponent=exponent, batch_size=2048)["logvar"])
    final.update(amplified_fraction_per_dim=((sigma > 1) & (exponent > 1)).mean(0).tolist(),
                 sigma_max_per_dim=sigma.max(0).tolist(), noise_std_max_per_dim=(sigma ** exponent).max(0).tolist())
    return final


def _normal(index, config):
    return np.random.default_rng(config["snapshot_seed"]).standard_normal((len(index), config["model"]["m"]))


def _decode(model, z) -> np.ndarray:
    """The decoder mean E[x|z] at latents ``z``."""
    import torch

    with torch.no_grad():
        out = model.decode(torch.as_tensor(z, dtype=torch.float32))
        return model.likelihood.mean(out).double().numpy()


def _final_digits(model, objective, data, config, setting) -> dict:
    """Final metrics: training-set AU and capacities; held-out ELBOs, IWAE and ESS; prior-sample ELBO."""
    from deep.data import ArrayData, build_data
    from deep.evaluate import _jsonable

    lam = objective.exponent(config["steps"], model.m)
    final = _final_common(model, data, lam, config)
    test = build_data(_data_spec(config, setting, "test"))
    final["test"] = elbo_terms(model, test, np.arange(len(test)), lam, draws=config["test_noise_draws"],
                               seed=config["snapshot_seed"])
    iwae_index = np.arange(min(config["iwae_images"], len(test)))
    final["test"]["iwae"] = {proposal: importance_weighted(model, test, iwae_index, lam, samples=config["iwae_samples"],
                                                           proposal=proposal, seed=config["snapshot_seed"])
                             for proposal in ("lambda", "standard")}
    z = np.random.default_rng(config["snapshot_seed"]).standard_normal((config["prior_samples"], model.m))
    greedy = (_decode(model, z) > 0.5).astype(np.float32)                       # Fig. 5: greedy Bernoulli samples
    prior = ArrayData(greedy, np.zeros(len(greedy), dtype=np.int64))
    final["prior_samples"] = elbo_terms(model, prior, np.arange(len(prior)), lam, draws=config["test_noise_draws"],
                                        seed=config["snapshot_seed"])
    return _jsonable(final)


def elbo_terms(model, data, index, exponent, *, draws: int = 10, seed: int = 0) -> dict:
    """Per-observation bounds of [lambda_vae] on ``data[index]``, averaged over ``draws`` noise draws (nats).

    ``reconstruction``: E -log p(x|z) at z = mu + sigma^lambda eps; ``kl``: KL(N(mu,
    sigma^2) || N(0, I)); ``kl_sampling_excess``: eq. (14) summed over dimensions;
    ``nll_lambda`` = reconstruction + kl = -L_lambda (eq. 10), the paper's "ELBO"
    (§6.1), not a bound on -log p(x) for lambda > 1; ``nll_elbo`` = nll_lambda +
    kl_sampling_excess, the negative ELBO of the distribution the decoder is sampled
    from, >= -log p(x); ``bpd_lambda``, ``bpd_elbo``: divided by D log 2 (§6.1).
    """
    import torch

    from deep.evaluate import encode
    from deep.objectives import kl_per_dimension
    from numerics.lambda_vae import kl_excess

    recon = np.mean([encode(model, data, index, exponent=exponent, seed=seed + d, batch_size=1024)["nll"]
                     for d in range(draws)], axis=0)
    enc = encode(model, data, index, exponent=exponent, seed=seed, batch_size=1024)
    kl = kl_per_dimension(torch.from_numpy(enc["mu"]), torch.from_numpy(enc["logvar"])).sum(1).numpy()
    excess = kl_excess(exponent, np.exp(0.5 * enc["logvar"])).sum(1)
    dims = int(np.prod(data.shape))
    out = {"reconstruction": recon.mean(), "kl": kl.mean(), "kl_sampling_excess": excess.mean(),
           "nll_lambda": (recon + kl).mean(), "nll_elbo": (recon + kl + excess).mean(), "observations": len(index)}
    out.update(bpd_lambda=out["nll_lambda"] / (dims * math.log(2)), bpd_elbo=out["nll_elbo"] / (dims * math.log(2)))
    return {k: float(v) for k, v in out.items()}


def importance_weighted(model, data, index, exponent, *, samples: int = 1000, proposal: str = "lambda",
                        seed: int = 0) -> dict:
    """Importance-weighted bound on -log p(x) (IWAE, [lambda_vae] footnote 2) and its effective sample size.

    log p(x) >= log (1/K) sum_k p(x|z_k) p(z_k) / r(z_k|x), z_k ~ r, for any proposal r
    with full support; ``proposal`` "lambda" is the sampling distribution N(mu,
    sigma^(2 lambda)) the decoder is trained on, "standard" is N(mu, sigma^2). The bound
    tightens as K grows and is never looser than the single-sample ELBO of the same
    proposal.

    Returns
    -------
    dict
        ``nll`` (mean over observations of the bound on -log p(x), nats),
        ``ess_fraction`` (mean of ESS / K, ESS = (sum w)^2 / sum w^2), ``samples``.
    """
    import torch
    from scipy.special import logsumexp

    if proposal not in ("lambda", "standard"):
        raise ValueError(f"proposal must be 'lambda' or 'standard'; got {proposal!r}")
    lam = np.asarray(exponent, dtype=float) if proposal == "lambda" else np.ones(model.m)
    rng = np.random.default_rng(seed)
    nll, ess = [], []
    with torch.no_grad():
        for i in index:
            x = torch.from_numpy(data.observations(np.array([i])))
            mu, logvar = (t.double().numpy()[0] for t in model.encode(x))
            std = np.exp(0.5 * lam * logvar)
            eps = rng.standard_normal((samples, model.m))
            z = mu + std * eps
            log_px_z = -model.likelihood.nll(model.decode(torch.as_tensor(z, dtype=torch.float32)).float(),
                                             x.expand(samples, *x.shape[1:])).double().numpy()
            log_w = (log_px_z - 0.5 * np.sum(z * z, axis=1)
                     + 0.5 * np.sum(eps * eps, axis=1) + np.sum(np.log(std)))   # log p(z) - log r(z|x), 2 pi cancels
            nll.append(math.log(samples) - logsumexp(log_w))
            ess.append(math.exp(2 * logsumexp(log_w) - logsumexp(2 * log_w)) / samples)
    return {"nll": float(np.mean(nll)), "ess_fraction": float(np.mean(ess)), "samples": samples}


# ---------------------------------------------------------------- summaries, figures


def _mean_se(values) -> dict:
    values = np.asarray(values, dtype=float)
    se = values.std(ddof=1, axis=0) / np.sqrt(len(values)) if len(values) > 1 else np.full(values.shape[1:], np.nan)
    return {"mean": values.mean(0).tolist(), "se": np.asarray(se).tolist()}


def _final_numbers(rec: dict, config: dict) -> dict:
    """The per-run numbers that the summary averages over seeds."""
    f, last = rec["final"], rec["snapshots"][-1]
    out = {"active_units": f["active_units"], "kl": f["kl"], "snr_capacity": f["snr_capacity"],
           "decoder_capacity": f["decoder_capacity"], "reconstruction_nll": f["reconstruction_nll"],
           "reconstruction_mse": f["reconstruction_mse"], "lambda_mean": float(np.mean(last["lambda"])),
           "sigma_mean": float(np.mean(last["sigma"]))}
    if config["study"] == "synthetic":
        out.update({f"gap_{n}": f["information"][n]["gap"] for n in f["information"]})
        out.update({f"information_{n}": f["information"][n]["estimate"] for n in f["information"]})
    else:
        t = f["test"]
        out.update(bpd_lambda=t["bpd_lambda"], bpd_elbo=t["bpd_elbo"], nll_lambda=t["nll_lambda"],
                   nll_elbo=t["nll_elbo"], iwae_lambda=t["iwae"]["lambda"]["nll"],
                   iwae_standard=t["iwae"]["standard"]["nll"], prior_elbo=-f["prior_samples"]["nll_elbo"],
                   prior_elbo_lambda=-f["prior_samples"]["nll_lambda"])
    return out


def _summary(config, records: list) -> dict:
    """Mean and standard error over seeds of every final number, per setting and model."""
    out = {}
    for rec in records:
        out.setdefault(rec["setting"], {}).setdefault(rec["model"], []).append(_final_numbers(rec, config))
    return {s: {m: {k: _mean_se([r[k] for r in rows]) for k in rows[0]} for m, rows in models.items()}
            for s, models in out.items()}


def summarise(config, runs: list, records: dict, figures: Path, work_dir: Path | None = None) -> dict:
    """The summary over seeds (:func:`_summary`); ``<study>.csv`` (one row per run) and ``<study>.png``
    (Fig. 3, or Fig. 4/7 and Table 1) in ``figures``."""
    from deep import io

    study, recs = config["study"], [records[r.name] for r in runs]
    result = {"config": protocol.as_dict(config), "runs": recs, "summary": _summary(config, recs)}
    io.write_csv(figures / f"{study}.csv", [{"setting": r["setting"], "model": r["model"], "seed": r["seed"],
                                             **_final_numbers(r, config)} for r in recs])
    fig = (_figure_synthetic if study == "synthetic" else _figure_digits)(result)
    io.save_figure(fig, figures / f"{study}.png", dpi=100)
    return {"summary": result["summary"]}


def report(result: dict) -> str:
    """A text table of the summary."""
    lines = [f"lambda-vae {result['config']['study']} ({result['provenance']['scale']['description']})"]
    for setting, models in result["summary"].items():
        keys = list(next(iter(models.values())))
        lines.append(f"[{setting}] " + " | ".join(keys))
        for name, numbers in models.items():
            lines.append(f"  {name:16s} " + " | ".join(f"{numbers[k]['mean']:.4g}±{numbers[k]['se']:.2g}" for k in keys))
    return "\n".join(lines)


def _shaped(result: dict) -> dict:
    """A result of :func:`deep.experiment.load` as the checks read it: config, runs (records), summary, provenance."""
    return {"config": result["config"], "runs": [r["record"] for r in result["runs"]], "summary": result["summary"],
            "provenance": result["provenance"]}


def stored(study: str, *, root=None, default=None) -> dict:
    """The stored result of ``study`` (results/lambda_vae/<study>, or ``root/<study>``) made from
    ``default`` (the command's default configuration unless given); UserError when stale or missing."""
    return _shaped(protocol.load(sys.modules[__name__], study, root=root, default=default))


def run_study(config, directory: Path, *, progress: bool = True) -> dict:
    """Run a study from scratch in this process under ``directory`` (result in ``directory/result``);
    the result as :func:`stored` gives it."""
    from deep.sweep import executor

    module = sys.modules[__name__]
    output = Path(directory) / "result"
    with executor(0) as pool:
        protocol.drive(module, config, output, Path(directory) / "work", pool, device="cpu", progress=progress,
                       smoke=config["smoke"])
    return _shaped(protocol.load(module, root=output, default=config))


def _rounded(value, digits: int = 5):
    """Floats to ``digits`` significant digits, recursively (the stored JSON stays small)."""
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v, digits) for v in value]
    if isinstance(value, float) and math.isfinite(value) and value != 0:
        return round(value, digits - 1 - math.floor(math.log10(abs(value))))
    return value


_COLOURS = {"vae": "tab:blue", "lambda": "tab:red", "lambda_no_ramp": "tab:orange", "beta_0.5": "tab:green",
            "beta_2": "tab:olive", "lambda_1.19": "tab:purple", "lambda_1.1": "tab:pink", "lambda_1.01": "tab:red"}


def _series(runs, key, rank=None):
    """(steps, values per run) of a snapshot quantity; ``rank`` r picks each run's dimension with the
    r-th largest final KL (dimensions are exchangeable across seeds)."""
    steps = np.array([s["step"] for s in runs[0]["snapshots"]])
    values = []
    for r in runs:
        dim = None if rank is None else int(np.argsort(r["final"]["kl_per_dim"])[::-1][rank])
        values.append([np.nan if (v := (s[key] if dim is None else s[key][dim])) is None else v
                       for s in r["snapshots"]])
    return steps, np.array(values, dtype=float)


def _figure_synthetic(result):
    """Fig. 3 of [lambda_vae] per mixture: over training, rho^lambda_i, sigma_i with sigma*(lambda_i),
    lambda_i, KL_i (z1: the dimension with the larger final KL, z2: the smaller), I(X;Z) and the gap
    log N - I; for seed 0 of each model the latent means and the reconstructions E[x|z]."""
    from deep import io

    config = result["config"]
    settings, models = list(config["settings"]), list(config["objectives"])
    cols = max(6, 2 * len(models))
    fig, axes = io.figure(2 * len(settings), cols, figsize=(3.6 * cols, 3.3 * 2 * len(settings)), squeeze=False)
    for k, setting in enumerate(settings):
        top, bottom = axes[2 * k], axes[2 * k + 1]
        for name in models:
            runs = [r for r in result["runs"] if r["setting"] == setting and r["model"] == name]
            for rank, style in ((0, "-"), (1, "--")):
                for ax, key, reduce in ((top[0], "rho_effective", np.nanmedian), (top[1], "sigma", np.nanmean),
                                        (top[2], "lambda", np.nanmean), (top[3], "kl", np.nanmean)):
                    steps, values = _series(runs, key, rank)
                    ax.plot(steps, reduce(values, 0), style, color=_COLOURS[name], label=f"{name} z{rank + 1}")
                steps, star = _series(runs, "sigma_star", rank)
                live = np.isfinite(star).all(0)           # lambda > 1 in every seed
                if live.any():
                    top[1].plot(steps[live], star[:, live].mean(0), ":", color=_COLOURS[name], lw=1)
            for ax, key in ((top[4], "information"), (top[5], "gap")):
                steps, values = _series(runs, key)
                ax.plot(steps, values.mean(0), color=_COLOURS[name], label=name)
            rec = next(r for r in runs if r["seed"] == config["seeds"][0])
            codes = rec["final"]["codes"]
            c = np.array(codes["component"])
            j = models.index(name)
            bottom[2 * j].scatter(*np.array(codes["mu"]).T, s=3, c=c, cmap="tab10", vmin=0, vmax=9)
            bottom[2 * j].set(title=f"{setting} {name}: latent means (AU {rec['final']['active_units']})")
            bottom[2 * j + 1].scatter(*np.array(codes["x"]).T, s=3, c="0.8")
            bottom[2 * j + 1].scatter(*np.array(codes["reconstruction"]).T, s=3, c=c, cmap="tab10", vmin=0, vmax=9)
            bottom[2 * j + 1].set(title=f"{setting} {name}: data (grey), E[x|z]", aspect="equal")
        titles = ("rho^lambda (median over seeds)", "sigma_i (dotted: sigma*(lambda_i))", "lambda_i",
                  "KL_i (nats)", f"I(X;Z), {config['n']} training points", "gap log N - I(X;Z)")
        for ax, title in zip(top, titles):
            ax.set(xscale="log", title=f"{setting}: {title}", xlabel="step")
            ax.legend(fontsize=6)
        top[0].set_yscale("log")
        top[0].axhline(1, color="k", lw=0.5)
        for ax in list(top[6:]) + list(bottom[2 * len(models):]):
            ax.axis("off")
    fig.tight_layout()
    return fig


def _figure_digits(result):
    """Fig. 4, 7 and Table 1 of [lambda_vae] on the digits: the final sigma_i per model, mean sigma and
    lambda over training, lambda_i against sigma_i with eq. (16), AU and capacity per model, held-out
    -L_lambda against the importance-weighted bounds, and how often lambda-scaling amplifies the noise."""
    from deep import io
    from numerics.lambda_vae import lambda_star, sigma_star

    config, summary = result["config"], result["summary"]["digits"]
    models = list(config["objectives"])
    fig, axes = io.figure(2, 4, figsize=(21, 9))
    bins = np.linspace(0, 1.05, 43)
    for name in models:
        runs = [r for r in result["runs"] if r["model"] == name]
        final_sigma = np.concatenate([r["snapshots"][-1]["sigma"] for r in runs])
        axes[0, 0].hist(final_sigma, bins=bins, histtype="step", color=_COLOURS[name], label=name)
        steps = np.array([s["step"] for s in runs[0]["snapshots"]])
        sig = np.array([[np.mean(s["sigma"]) for s in r["snapshots"]] for r in runs])
        axes[0, 1].plot(steps, sig.mean(0), color=_COLOURS[name], label=name)
        spread = np.array([[np.std(s["sigma"]) for s in r["snapshots"]] for r in runs])
        axes[0, 1].fill_between(steps, sig.mean(0) - spread.mean(0), sig.mean(0) + spread.mean(0),
                                color=_COLOURS[name], alpha=0.1)
        lam = np.array([[np.mean(s["lambda"]) for s in r["snapshots"]] for r in runs])
        axes[0, 2].plot(steps, lam.mean(0), color=_COLOURS[name], label=name)
        if name.startswith("lambda"):
            last = [r["snapshots"][-1] for r in runs]
            axes[1, 0].scatter(np.concatenate([s["sigma"] for s in last]), np.concatenate([s["lambda"] for s in last]),
                               s=8, color=_COLOURS[name], label=f"{name}: (sigma_i, lambda_i)")
            star = np.concatenate([[np.nan if v is None else v for v in s["sigma_star"]] for s in last])
            axes[0, 0].hist(star[np.isfinite(star)], bins=bins, histtype="stepfilled", alpha=0.15,
                            color=_COLOURS[name])
    s = np.linspace(0.01, 0.999, 400)
    for name in models:
        if name.startswith("lambda"):
            delta = config["objectives"][name]["delta"]
            axes[1, 0].plot(s, np.minimum(20, lambda_star(s, delta)), color=_COLOURS[name], lw=1)
    lam_grid = np.linspace(1.001, 20, 200)
    axes[1, 0].plot(sigma_star(lam_grid), lam_grid, "k:", lw=1, label="sigma = sigma*(lambda) (eq. 13)")
    axes[0, 0].set(title="final sigma_i (all dims, seeds); shaded: sigma*(lambda_i)", xlabel="sigma")
    axes[0, 1].set(xscale="log", title="mean sigma over dims (band: std over dims)", xlabel="step")
    axes[0, 2].set(xscale="log", title="mean lambda over dims", xlabel="step")
    axes[1, 0].set(title="final (sigma_i, lambda_i) with eq. (16), clamp 20", xlabel="sigma", ylabel="lambda",
                   ylim=(0.5, 21))
    x = np.arange(len(models))
    for ax, key, title in ((axes[1, 1], "active_units", "active units (Var mu > 0.01) of 30"),
                           (axes[1, 2], "snr_capacity", "SNR capacity eq. (7), nats")):
        ax.bar(x, [summary[m][key]["mean"] for m in models], yerr=[summary[m][key]["se"] for m in models],
               color=[_COLOURS[m] for m in models])
        ax.set(title=title, xticks=x)
        ax.set_xticklabels(models, rotation=30, fontsize=8)
    width = 0.27
    for j, (key, label) in enumerate((("nll_lambda", "-L_lambda (the paper's ELBO-BPD)"),
                                      ("iwae_standard", "IWAE bound, proposal N(mu, sigma^2)"),
                                      ("iwae_lambda", "IWAE bound, proposal N(mu, sigma^(2 lambda))"))):
        axes[0, 3].bar(x + (j - 1) * width, [summary[m][key]["mean"] for m in models], width,
                       yerr=[summary[m][key]["se"] for m in models], label=label)
    axes[0, 3].set(title=f"held-out -log p(x) estimates (nats, {config['iwae_samples']} samples)", xticks=x,
                   ylim=(0, 1.6 * max(summary[m]["iwae_standard"]["mean"] for m in models)))
    axes[0, 3].set_xticklabels(models, rotation=30, fontsize=8)
    amplified = [np.mean([np.mean(r["final"]["amplified_fraction_per_dim"]) for r in result["runs"] if r["model"] == m])
                 for m in models]
    axes[1, 3].bar(x, amplified, color=[_COLOURS[m] for m in models])
    axes[1, 3].set(title="fraction of (x, i) with sigma_i(x) > 1, lambda_i > 1", xticks=x)
    axes[1, 3].set_xticklabels(models, rotation=30, fontsize=8)
    for ax in axes[0]:
        ax.legend(fontsize=7)
    axes[1, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig
