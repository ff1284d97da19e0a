"""Evaluate a trained VAE on data with known factors: the metrics of :mod:`deep.metrics`, by variant, in one dict.

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

from deep import metrics as M
from deep.data import FactorData
from deep.objectives import kl_per_dimension
from deep.runs import CHECKPOINT, build, resolve_device, step_generator
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
        grad = M.decoder_gradient(model, x, z)
        out["grad_sq"].append(grad.pow(2))
        out["grad_eps"].append(grad * eps)
        out["mu"].append(mu)
        out["logvar"].append(logvar)
    return {k: torch.cat(v).cpu().double().numpy() for k, v in out.items()}


def _metric(spec, mu, noise_std, classes, values, discrete, *, seed, bins, chen_samples, dci_estimators):
    """One ``metric:variant`` of the representation: (its record, the information it reads or None)."""
    v = M.variant(spec)
    if v.metric == "sap":
        if v.name == "dlib":  # sap_score.gin of [locatello2019]: continuous_factors = False, class indices
            out = M.sap(mu, classes, np.ones(classes.shape[1], bool), variant="dlib", seed=seed)
        else:  # classes for a classifier, values for a correlation
            out = M.sap(mu, np.where(discrete, classes, values), discrete, variant=v.name, seed=seed)
        return {k: out[k] for k in ("score", "per_factor", "matrix")}, (out["fano_information"], 0.0)
    if v.metric == "mig":
        out = M.mig(mu, classes, variant=v.name, noise_std=noise_std, bins=bins, samples=chen_samples, seed=seed)
        record = {k: out[k] for k in ("score", "per_factor", "mutual_information", "entropy")}
        return record, (out["mutual_information"], out["information_slack"])
    if v.metric == "lim":  # the Gaussian fit of (z, continuous factor values)
        if discrete.all():
            return {"score": None}, None
        out = M.lim(mu, values[:, ~discrete], variant=v.name, noise_var=noise_std ** 2)
        return {"score": out["score"]}, None
    if v.metric == "dci":
        d = M.dci(mu, classes, seed=seed, n_estimators=dci_estimators)
        return {k: d[k] for k in ("disentanglement", "completeness", "informativeness")}, None
    return {"count": M.active_units(mu, float(v.name))["count"]}, None


def evaluate(model, data: FactorData, *, samples: int = 10_000, seed: int = 0, exponent=None,
             batch_size: int = 256, bins: int = 20, dci: bool = True, dci_estimators: int = 100,
             metrics=None, chen_samples: int = 2_000, device=None) -> dict:
    """Metrics of a VAE on ``samples`` observations drawn (with replacement) from ``data``.

    Parameters
    ----------
    model : deep.models.VAE
    data : FactorData
    samples : int
        Observations drawn with ``seed``; SAP and DCI split them into train and test rows.
    seed : int
        The draw, the sampling noise and the metric splits.
    exponent : array (m,) or None
        The lambda-VAE's sampling exponents (None: 1), for the sampled reconstruction,
        the capacity's noise power sigma^(2 lambda), the decoder capacity, the noise of
        ``mig:chen`` and the KL of the information budget.
    batch_size, bins : int
        Evaluation batch; MIG's histogram bins.
    dci : bool
        False drops ``dci`` from ``metrics`` (gradient-boosted trees: the slowest metric).
    dci_estimators : int
        Trees per factor.
    metrics : sequence of str or None
        ``metric:variant`` specs (:data:`deep.metrics.VARIANTS`); None: :data:`deep.metrics.DEFAULT_METRICS`.
        ``sap:dlib`` treats every factor as discrete (class indices), as disentanglement_lib's
        sap_score.gin; ``sap:logistic`` uses the data's discrete flags (values for the
        continuous factors); ``lim:*`` reads the Gaussian fit of the sampled latent and the
        continuous factors' values (None without continuous factors).
    chen_samples : int
        Draws scored by ``mig:chen`` (each costs ``samples`` x m densities; [chen2018]'s
        code scores 10000).
    device : torch.device or None
        Where the model is (default: where its parameters are).

    Returns
    -------
    dict (JSON-able)
        ``variants`` (metric -> the variant behind the top-level numbers: the first of
        that metric in ``metrics``), ``by_variant`` (spec -> its numbers, every spec);
        from those first variants ``mig`` with ``mig_per_factor``, ``mutual_information``
        (m x K, nats: the MI of each code with each factor that this MIG reads) and
        ``factor_entropy`` (K, nats), ``sap`` with ``sap_per_factor``, ``dci`` (dict or
        None), ``active_units``, ``lim`` (None when not asked for);
        ``information_budget`` (:func:`deep.metrics.information_budget`: per latent the
        information each estimator reads, MIG's MI and SAP's Fano bound, against the KL of
        the sampling distribution, ``kl_per_dim`` + its lambda excess, and the estimators
        that read more than it allows); ``latent_variance``, ``kl_per_dim``, ``kl``,
        ``sigma_mean``, ``exponent``, ``snr_capacity_per_dim``, ``snr_capacity`` (nats),
        ``decoder_capacity_per_dim``, ``decoder_capacity``, ``reconstruction_nll`` (sampled
        z), ``reconstruction_mse`` (z = mu), ``kl_sampling_excess`` (E sum_i of eq. 14 of
        [lambda_vae]: the KL of the sampling distribution N(mu, sigma^(2 lambda)) minus
        ``kl``, 0 at lambda = 1), ``reconstruction_gradient_per_dim`` (g^sigma, eq. 19),
        ``gradient_ratio_per_dim`` (rho, eq. A.3) and ``effective_gradient_ratio_per_dim``
        (rho^lambda, §4.1; see :func:`deep.metrics.gradient_ratios`), ``factor_names``,
        ``samples``, ``seed``.

        ``reconstruction_nll + kl`` is -L_lambda of eq. (10) of [lambda_vae]; it is not a
        bound on -log p(x) for lambda > 1. The ELBO of the distribution the decoder is
        trained on, N(mu, sigma^(2 lambda)), is -(``reconstruction_nll`` + ``kl`` +
        ``kl_sampling_excess``) <= log p(x).

    References
    ----------
    [mi_collapse] §5.2; [lambda_vae] §6.1, eq. (7) and (18); [chen2018], [locatello2019]
    (see :mod:`deep.metrics`).
    """
    samples = validation.positive_int("samples", samples, minimum=4)
    specs = list(dict.fromkeys(M.variant(s).spec for s in (M.DEFAULT_METRICS if metrics is None else metrics)))
    if not dci:
        specs = [s for s in specs if not s.startswith("dci:")]
    if "mig:exact" in specs:
        raise ValueError("mig:exact is the closed form for linear-Gaussian codes (deep.metrics.mig with "
                         "covariances=); a trained network's code has none: use mig:binned or mig:chen")
    index = data.sample(samples, seed)
    lam = np.ones(model.m) if exponent is None else validation.finite_array("exponent", exponent, ndim=1)
    enc = encode(model, data, index, exponent=lam, seed=seed, batch_size=batch_size, device=device)
    mu, logvar = enc["mu"], enc["logvar"]
    classes, values = data.factor_classes(index), data.factor_values(index)
    discrete = np.asarray(data.discrete)
    kl = kl_per_dimension(torch.from_numpy(mu), torch.from_numpy(logvar)).mean(0).numpy()
    excess = kl_excess(lam, np.exp(0.5 * logvar))
    capacity = M.snr_capacity(mu, np.exp(lam * logvar))  # noise sigma^(2 lambda) of eq. (9)
    dec_capacity = np.sqrt(enc["grad_sq"].mean(0))
    ratios = M.gradient_ratios(enc["grad_eps"], logvar, lam)
    by_variant, reads = {}, {}
    for spec in specs:
        by_variant[spec], read = _metric(spec, mu, np.exp(0.5 * lam * logvar), classes, values, discrete, seed=seed,
                                         bins=bins, chen_samples=chen_samples, dci_estimators=dci_estimators)
        if read is not None:
            reads[spec] = read
    first = {}
    for spec in specs:
        first.setdefault(spec.partition(":")[0], spec)
    pick = lambda metric, key: by_variant[first[metric]][key] if metric in first else None
    result = {
        "samples": samples, "seed": seed, "factor_names": list(data.factor_names),
        "variants": {metric: spec.partition(":")[2] for metric, spec in first.items()}, "by_variant": by_variant,
        "mig": pick("mig", "score"), "mig_per_factor": pick("mig", "per_factor"),
        "mutual_information": pick("mig", "mutual_information"), "factor_entropy": pick("mig", "entropy"),
        "sap": pick("sap", "score"), "sap_per_factor": pick("sap", "per_factor"),
        "dci": by_variant[first["dci"]] if "dci" in first else None,
        "active_units": pick("active_units", "count"), "lim": pick("lim", "score"),
        "information_budget": M.information_budget(kl + excess.mean(0), reads),
        "latent_variance": mu.var(0, ddof=1),
        "kl_per_dim": kl, "kl": float(kl.sum()),
        "sigma_mean": np.exp(0.5 * logvar).mean(0), "exponent": lam,
        "snr_capacity_per_dim": capacity, "snr_capacity": float(capacity.sum()),
        "decoder_capacity_per_dim": dec_capacity, "decoder_capacity": float(dec_capacity.sum()),
        "reconstruction_nll": float(enc["nll"].mean()), "reconstruction_mse": float(enc["mse"].mean()),
        "kl_sampling_excess": float(excess.sum(1).mean()),
        "reconstruction_gradient_per_dim": ratios["g_sigma"], "gradient_ratio_per_dim": ratios["rho"],
        "effective_gradient_ratio_per_dim": ratios["rho_effective"],
    }
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
