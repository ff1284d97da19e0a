"""Evaluate a trained VAE on data with known factors: every metric of :mod:`deep.metrics` in one dict.

References
----------
[mi_collapse] shared/papers/000_6e757ef8f718962b.txt, §5.2 (reconstruction, SAP, MIG).
[lambda_vae] shared/papers/002_9357fcd1557682b2.txt, §6.1 (AU, capacity eq. 7, decoder capacity eq. 18).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from deep import metrics
from deep.data import FactorData
from deep.objectives import kl_per_dimension
from deep.train import CHECKPOINT, build, resolve_device, step_generator
from numerics import validation
from numerics.lambda_vae import kl_excess


def _jsonable(value):
    """Arrays to lists, NaN to None, numpy scalars to Python numbers, recursively."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (np.ndarray, list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


@torch.no_grad()
def encode(model, data: FactorData, index, *, exponent=None, seed: int = 0, batch_size: int = 256,
           device: torch.device | None = None) -> dict:
    """Posterior parameters and per-sample reconstruction terms over ``data[index]``.

    Returns numpy arrays: ``mu``, ``logvar`` (N, m); ``nll`` (N,) = -log p(x|z) at
    z = mu + sigma^lambda eps; ``mse`` (N,) = ||x - E[x|mu]||^2; ``grad_sq`` (N, m) the
    squared decoder gradients at the sampled z (eq. 18 of [lambda_vae]); ``grad_eps``
    (N, m) the decoder gradients times eps (the integrand of g^sigma, eq. 19).
    """
    device = device or next(model.parameters()).device
    lam = torch.as_tensor(np.ones(model.m) if exponent is None else exponent, dtype=torch.float32, device=device)
    model.eval()
    out = {k: [] for k in ("mu", "logvar", "nll", "mse", "grad_sq", "grad_eps")}
    for b, start in enumerate(range(0, len(index), batch_size)):
        x = torch.from_numpy(data.observations(index[start:start + batch_size])).to(device)
        mu, logvar = (t.float() for t in model.encode(x))
        eps = torch.randn(mu.shape, generator=step_generator(seed, b, device), device=device)
        z = mu + torch.exp(0.5 * lam * logvar) * eps  # eq. (9) of [lambda_vae]
        out["nll"].append(model.likelihood.nll(model.decode(z).float(), x))
        mean = model.likelihood.mean(model.decode(mu).float())
        out["mse"].append((x - mean).pow(2).flatten(1).sum(1))
        grad = metrics.decoder_gradient(model, x, z)
        out["grad_sq"].append(grad.pow(2))
        out["grad_eps"].append(grad * eps)
        out["mu"].append(mu)
        out["logvar"].append(logvar)
    return {k: torch.cat(v).cpu().double().numpy() for k, v in out.items()}


def evaluate(model, data: FactorData, *, samples: int = 10_000, seed: int = 0, exponent=None,
             batch_size: int = 256, bins: int = 20, dci: bool = True, dci_estimators: int = 100,
             device=None) -> dict:
    """All metrics of a VAE on ``samples`` observations drawn (with replacement) from ``data``.

    Parameters
    ----------
    model : deep.models.VAE
    data : FactorData
    samples : int
        Observations drawn with ``seed``; SAP and DCI split them in halves (train/test).
    seed : int
        The draw, the sampling noise and the metric splits.
    exponent : array (m,) or None
        The lambda-VAE's sampling exponents (None: 1), for the sampled reconstruction,
        the capacity's noise power sigma^(2 lambda) and the decoder capacity.
    batch_size, bins : int
        Evaluation batch; MIG's histogram bins.
    dci : bool
        Compute DCI (gradient-boosted trees: the slowest metric).
    dci_estimators : int
        Trees per factor.
    device : torch.device or None
        Where the model is (default: where its parameters are).

    Returns
    -------
    dict (JSON-able)
        ``mig``, ``sap``, ``dci`` (dict or None) with per-factor parts, ``mutual_information``
        (m x K, nats: the binned MI of each code with each factor that MIG uses) and
        ``factor_entropy`` (K, nats), ``active_units``,
        ``latent_variance``, ``kl_per_dim``, ``kl``, ``sigma_mean``, ``exponent``,
        ``snr_capacity_per_dim``, ``snr_capacity`` (nats), ``decoder_capacity_per_dim``,
        ``decoder_capacity``, ``reconstruction_nll`` (sampled z), ``reconstruction_mse``
        (z = mu), ``kl_sampling_excess`` (E sum_i of eq. 14 of [lambda_vae]: the KL of the
        sampling distribution N(mu, sigma^(2 lambda)) minus ``kl``, 0 at lambda = 1),
        ``reconstruction_gradient_per_dim`` (g^sigma, eq. 19), ``gradient_ratio_per_dim``
        (rho, eq. A.3) and ``effective_gradient_ratio_per_dim`` (rho^lambda, §4.1; see
        :func:`deep.metrics.gradient_ratios`), ``factor_names``, ``samples``, ``seed``.

        ``reconstruction_nll + kl`` is -L_lambda of eq. (10) of [lambda_vae]; it is not a
        bound on -log p(x) for lambda > 1. The ELBO of the distribution the decoder is
        trained on, N(mu, sigma^(2 lambda)), is -(``reconstruction_nll`` + ``kl`` +
        ``kl_sampling_excess``) <= log p(x).

    References
    ----------
    [mi_collapse] §5.2; [lambda_vae] §6.1, eq. (7) and (18).
    """
    samples = validation.positive_int("samples", samples, minimum=4)
    index = data.sample(samples, seed)
    lam = np.ones(model.m) if exponent is None else validation.finite_array("exponent", exponent, ndim=1)
    enc = encode(model, data, index, exponent=lam, seed=seed, batch_size=batch_size, device=device)
    mu, logvar = enc["mu"], enc["logvar"]
    classes, values = data.factor_classes(index), data.factor_values(index)
    discrete = np.asarray(data.discrete)
    sap_factors = np.where(discrete, classes, values)  # SAP: classes for a classifier, values for a correlation
    kl = kl_per_dimension(torch.from_numpy(mu), torch.from_numpy(logvar)).mean(0).numpy()
    capacity = metrics.snr_capacity(mu, np.exp(lam * logvar))  # noise sigma^(2 lambda) of eq. (9)
    dec_capacity = np.sqrt(enc["grad_sq"].mean(0))
    ratios = metrics.gradient_ratios(enc["grad_eps"], logvar, lam)
    mig = metrics.mig(mu, classes, bins=bins)
    sap = metrics.sap(mu, sap_factors, discrete, seed=seed)
    result = {
        "samples": samples, "seed": seed, "factor_names": list(data.factor_names),
        "mig": mig["score"], "mig_per_factor": mig["per_factor"],
        "mutual_information": mig["mutual_information"], "factor_entropy": mig["entropy"],
        "sap": sap["score"], "sap_per_factor": sap["per_factor"],
        "dci": None,
        "active_units": metrics.active_units(mu)["count"], "latent_variance": mu.var(0, ddof=1),
        "kl_per_dim": kl, "kl": float(kl.sum()),
        "sigma_mean": np.exp(0.5 * logvar).mean(0), "exponent": lam,
        "snr_capacity_per_dim": capacity, "snr_capacity": float(capacity.sum()),
        "decoder_capacity_per_dim": dec_capacity, "decoder_capacity": float(dec_capacity.sum()),
        "reconstruction_nll": float(enc["nll"].mean()), "reconstruction_mse": float(enc["mse"].mean()),
        "kl_sampling_excess": float(kl_excess(lam, np.exp(0.5 * logvar)).sum(1).mean()),
        "reconstruction_gradient_per_dim": ratios["g_sigma"], "gradient_ratio_per_dim": ratios["rho"],
        "effective_gradient_ratio_per_dim": ratios["rho_effective"],
    }
    if dci:
        d = metrics.dci(mu, classes, seed=seed, n_estimators=dci_estimators)
        result["dci"] = {k: d[k] for k in ("disentanglement", "completeness", "informativeness")}
    return _jsonable(result)


def evaluate_checkpoint(path, *, device="auto", **kwargs) -> dict:
    """:func:`evaluate` the model of a checkpoint (a file, or a run directory holding ``checkpoint.pt``).

    The data, model and objective are rebuilt from the configuration stored in the
    checkpoint; the lambda-VAE's exponents are those in force at the checkpoint's step.
    ``kwargs`` go to :func:`evaluate`. The result also holds ``checkpoint`` and ``step``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise ValueError(f"checkpoint must be a checkpoint file or a run directory holding {CHECKPOINT}; {path} is neither")
    device = resolve_device(device)
    ckpt = torch.load(path, map_location=device, weights_only=True)
    if not ckpt.get("config"):
        raise ValueError(f"{path} holds no run configuration; evaluate it with deep.evaluate.evaluate")
    data, model, objective = build(ckpt["config"])
    model.load_state_dict(ckpt["model"])
    objective.load_state_dict(ckpt["objective"])
    model.to(device)
    result = evaluate(model, data, exponent=objective.exponent(ckpt["step"], model.m), device=device, **kwargs)
    return {"checkpoint": str(path), "step": ckpt["step"], **result}
