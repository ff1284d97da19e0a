"""Pre-registered criteria of the reduced-size deep runs (issue 19): power, seed counts, compute.

The files ``deep/preregistered/*.toml`` (shipped with the package, fixed before any full
run) name, for each open deep claim, the statistic, the decision rule, the effect size,
alpha, the power, the grid, the convergence criterion and the seed count. This module
reads them (:func:`load`) and computes what they state, so a test can hold every stated
number to its computation:

- :func:`upper_sd`: the one-sided upper confidence limit of a standard deviation
  estimated with ``df`` degrees of freedom (chi-square): a pilot's sd from few seeds is
  itself uncertain, and seeds sized for the upper limit keep their power if the true sd
  is that large;
- :func:`power_two_sample` / :func:`power_one_sample`: the power of the one-sided t-test
  (two samples of n with a pooled sd; one sample of n against a margin) by the noncentral
  t distribution;
- :func:`seeds_for_power`: the smallest n per cell with at least ``power^(1/k)`` per
  comparison, for a criterion that needs ``k`` comparisons to hold together
  (intersection-union: each at ``alpha``, the conjunction's false-positive rate is at
  most ``alpha``; the power of the conjunction is at least the product of the
  comparisons' when they are independent or positively dependent);
- :func:`fraction_of_paper_compute`: multiply-accumulates per run at the caps (forward
  MACs of the scaled network at ``size`` times training examples) over the paper's
  protocol at 64 px (:func:`deep.models.forward_macs`);
- :func:`cpu_hours`: the CPU time the grid needs at the measured cost per step;
- :func:`phase1_configs` / :func:`phase2_config`: the run configurations the files describe,
  at ``scale`` "reduced" or "paper" (which differ only in image size, step caps and batch:
  the experiment driver trains them with :func:`deep.train.train`).

A stated number is checked by ``tests/test_deep_preregistration.py``; nothing here runs a
network beyond one forward pass for counting.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import field
from importlib import resources

from scipy import stats

from deep import experiment
from deep.config import check
from numerics import validation

FILES = ("mi_collapse_reduced", "lambda_vae_reduced")
"""The pre-registration files of ``deep/preregistered/``."""


def load(name: str) -> dict:
    """The pre-registration ``deep/preregistered/<name>.toml`` as a mapping."""
    if name not in FILES:
        raise ValueError(f"name must be one of {', '.join(FILES)}; got {name!r}")
    return tomllib.loads(resources.files("deep").joinpath("preregistered", f"{name}.toml").read_text())


def upper_sd(sd: float, df: int, confidence: float = 0.8) -> float:
    """One-sided ``confidence`` upper limit of a normal standard deviation estimated as ``sd`` with ``df`` dof:
    sd sqrt(df / chi2_{1 - confidence}(df))."""
    sd = validation.nonnegative("sd", sd)
    df = validation.positive_int("df", df)
    confidence = validation.array_in("confidence", confidence, 0.0, 1.0)
    return float(sd * math.sqrt(df / stats.chi2.ppf(1 - confidence, df)))


def power_two_sample(delta: float, sd: float, n: int, alpha: float) -> float:
    """Power of the one-sided pooled two-sample t-test (n per group, level ``alpha``) when the true
    difference of means is ``delta`` and both groups have standard deviation ``sd``."""
    n = validation.positive_int("n", n, minimum=2)
    df = 2 * n - 2
    ncp = validation.positive("delta", delta) / (validation.positive("sd", sd) * math.sqrt(2 / n))
    return float(stats.nct.sf(stats.t.ppf(1 - alpha, df), df, ncp))


def power_one_sample(delta: float, sd: float, n: int, alpha: float) -> float:
    """Power of the one-sided one-sample t-test of n values against a margin that the true mean
    clears by ``delta`` (standard deviation ``sd``, level ``alpha``)."""
    n = validation.positive_int("n", n, minimum=2)
    ncp = validation.positive("delta", delta) / (validation.positive("sd", sd) / math.sqrt(n))
    return float(stats.nct.sf(stats.t.ppf(1 - alpha, n - 1), n - 1, ncp))


DESIGNS = {"two-sample": power_two_sample, "one-sample": power_one_sample}


def seeds_for_power(delta: float, sd: float, alpha: float, power: float = 0.8, *, k: int = 1,
                    design: str = "two-sample", most: int = 10_000) -> int:
    """The smallest n >= 2 whose ``design`` test has at least ``power ** (1 / k)`` (module docstring)."""
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {', '.join(DESIGNS)}; got {design!r}")
    alpha = validation.array_in("alpha", alpha, 0.0, 0.5)
    power = validation.array_in("power", power, 0.0, 1.0)
    k = validation.positive_int("k", k)
    target = float(power) ** (1 / k)
    for n in range(2, most + 1):
        if DESIGNS[design](delta, sd, n, alpha) >= target:
            return n
    raise ValueError(f"no n up to most = {most} reaches power {target:.3g} (delta {delta}, sd {sd})")


def comparison_seeds(prereg: dict, comparison: dict) -> int:
    """The seeds one comparison of a pre-registration needs (its spread, effect, alpha, k, design)."""
    s = prereg["statistics"]
    spread = prereg["spread"][comparison["spread"]]
    sd = upper_sd(spread["sd"], spread["df"], s["sd_confidence"]) if s["sd_confidence"] else spread["sd"]
    alpha = s["alpha"] / comparison.get("candidates", 1)  # Bonferroni over a cell selected among candidates
    return seeds_for_power(comparison["effect"], sd, alpha, s["power"], k=comparison["k"],
                           design=comparison.get("design", "two-sample"))


def seeds(prereg: dict) -> dict:
    """Seeds per comparison id and ``"all"``, the largest: the count the runs use."""
    need = {f"{c['claim']}:{c['id']}": comparison_seeds(prereg, c) for c in prereg["comparison"]}
    return {**need, "all": max(need.values())}


def fraction_of_paper_compute(*, size: int, channels: int, m: int, steps: int, batch_size: int,
                              paper_steps: int, paper_batch_size: int, paper_size: int = 64) -> float:
    """Training multiply-accumulates of one run at ``size`` over the paper's run at ``paper_size``:
    (steps x batch x forward MACs of the scaled Table-1 net) / the same for the paper's protocol."""
    import torch

    from deep.models import build_model

    def macs(s):
        torch.manual_seed(0)
        from deep.models import forward_macs
        return forward_macs(build_model({"architecture": "conv", "m": m}, (channels, s, s)), (channels, s, s))

    return steps * batch_size * macs(size) / (paper_steps * paper_batch_size * macs(paper_size))


def scaled_beta(beta_paper: float, size: int, paper_size: int = 64) -> float:
    """beta at ``size`` px for the paper's beta at ``paper_size``: beta (size / paper_size)^2, the pixel ratio
    (Higgins et al.'s normalised beta held fixed; the reconstruction term sums over the pixels)."""
    return validation.positive("beta_paper", beta_paper) * (size / paper_size) ** 2


SCALES = ("reduced", "paper")


def _sized(prereg: dict, scale: str) -> dict:
    """The protocol with the size parameters of ``scale`` (the only ones that differ between them)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
    protocol = {k: v for k, v in prereg["protocol"].items() if k != "paper_scale"}
    return {**protocol, **prereg["protocol"]["paper_scale"]} if scale == "paper" else protocol


def _run(protocol: dict, data: str, objective: dict, steps: int, seed: int, convergence: dict) -> dict:
    return {"data": {"name": data, "size": protocol["size"]},
            "model": {"architecture": protocol["architecture"], "m": protocol["m"],
                      "likelihood": protocol["likelihood"], **({"init_logvar": protocol["init_logvar"]}
                                                              if "init_logvar" in protocol else {})},
            "objective": objective, "steps": steps, "batch_size": protocol["batch_size"], "lr": protocol["lr"],
            "seed": seed, "checkpoint_every": 1000, "log_every": 250,
            "evaluation": {"samples": protocol["eval_samples"], "dci": False,
                           **({"metrics": protocol["metrics"]} if "metrics" in protocol else {})},
            "convergence": dict(convergence)}


def phase1_configs(prereg: dict, *, scale: str = "reduced", data: str, seed: int) -> dict:
    """The run configurations (:class:`deep.train.RunConfig` mappings) of one data set and seed, by name:
    paper 000's beta-VAEs over ``beta_paper`` (beta mapped by :func:`scaled_beta`), or the lambda-VAE
    file's models. ``scale`` "paper" changes only the size parameters."""
    protocol = _sized(prereg, scale)
    if data not in protocol["datasets"]:
        raise ValueError(f"data must be one of {', '.join(protocol['datasets'])}; got {data!r}")
    if prereg["paper"] == "mi_collapse":
        return {f"{data},beta={b:g},seed={seed}": _run(
            protocol, data, {"name": "beta", "beta": scaled_beta(b, protocol["size"]),
                             "warmup_steps": protocol["warmup_steps"]},
            protocol["phase1_cap"], seed, prereg["convergence"]["phase1"]) for b in protocol["beta_paper"]}
    schedule = {"ema_decay": 0.9, "update_every": protocol["update_every"], "ramp_steps": protocol["ramp_steps"],
                "lambda_max": protocol["lambda_max"]}
    return {f"{data},{name},seed={seed}": _run(
        protocol, data, {**objective, **(schedule if objective["name"] == "lambda" else {})},
        protocol["steps_cap"], seed, prereg["convergence"]) for name, objective in protocol["models"].items()}


def phase2_config(prereg: dict, phase1: dict, step: int, l2_weight: float, *, scale: str = "reduced") -> dict:
    """Paper 000's restoration run continuing ``phase1`` (its run config) from its converged ``step``: the
    lambda-beta objective with ``l2_weight`` from that step on, capped ``phase2_cap`` steps later (start it
    with ``init_from`` the phase-1 checkpoint)."""
    protocol = _sized(prereg, scale)
    objective = {"name": "lambda-beta", "beta": phase1["objective"]["beta"], "l2_weight": l2_weight,
                 "phase1_steps": step, "warmup_steps": phase1["objective"]["warmup_steps"]}
    return {**phase1, "objective": objective, "steps": step + protocol["phase2_cap"],
            "convergence": dict(prereg["convergence"]["phase2"])}


def cpu_hours(budget: dict, seeds_: int) -> float:
    """CPU-hours of a grid: seeds x sum over its cell classes of (cells per seed x expected steps) x the
    measured CPU milliseconds per step."""
    steps = sum(c["cells"] * c["steps"] for c in budget["cells"])
    return seeds_ * steps * budget["cpu_ms_per_step"] / 1e3 / 3600


# ------------------------------------------------------------------ running and deciding (the experiments
# deep/experiments/mi_collapse_reduced.py and lambda_vae_reduced.py)


def t_test(a, b=None, *, alternative: str, alpha: float, margin: float = 0.0) -> dict:
    """The pre-registered one-sided t-test at level ``alpha``: pooled two-sample (``a`` against ``b``) or,
    with ``b`` None, one-sample (``a`` against ``margin``).

    ``alternative`` "greater": H1 mean(a) > mean(b) (or > margin); "less": below. Returns the
    effect ``difference`` (mean(a) - mean(b), or mean(a) - margin), its two-sided (1 - 2 alpha)
    confidence interval ``ci`` (its one end is the one-sided (1 - alpha) bound, so the test
    rejects exactly when the interval lies on the alternative's side of 0), the standardised
    effect ``d`` (over the pooled, or the one-sample, sd), ``t``, ``df``, ``p`` and ``rejects``.
    With fewer than 2 values per group nothing is estimated and nothing rejects.
    """
    import numpy as np

    if alternative not in ("greater", "less"):
        raise ValueError(f"alternative must be 'greater' or 'less'; got {alternative!r}")
    alpha = float(validation.array_in("alpha", alpha, 0.0, 0.5))
    a = np.asarray(a, dtype=float)
    b = None if b is None else np.asarray(b, dtype=float)
    if a.size < 2 or (b is not None and b.size < 2):
        return {"difference": None, "ci": None, "d": None, "t": None, "df": None, "p": None, "alpha": alpha,
                "rejects": False, "n": [int(a.size)] + ([] if b is None else [int(b.size)])}
    if b is None:
        difference, df = a.mean() - margin, a.size - 1
        sd = a.std(ddof=1)
        se = sd / math.sqrt(a.size)
    else:
        difference, df = a.mean() - b.mean(), a.size + b.size - 2
        sd = math.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / df)
        se = sd * math.sqrt(1 / a.size + 1 / b.size)
    sign = 1.0 if alternative == "greater" else -1.0
    if se > 0:
        t = difference / se
        p = float(stats.t.sf(sign * t, df))
    else:   # no spread: the sign of the difference decides
        t = math.copysign(math.inf, difference) if difference else math.nan
        p = 0.0 if sign * difference > 0 else 1.0
    half = stats.t.ppf(1 - alpha, df) * se
    return {"difference": float(difference), "ci": [float(difference - half), float(difference + half)],
            "d": float(difference / sd) if sd > 0 else None, "t": float(t), "df": int(df), "p": p,
            "alpha": alpha, "rejects": bool(p < alpha), "n": [int(a.size)] + ([] if b is None else [int(b.size)])}


def localisation(mutual_information) -> float:
    """The share of each factor's binned MI held by its best latent, averaged over factors (a factor that
    no latent carries counts 0); ``mutual_information`` is m x K (deep.evaluate's)."""
    import numpy as np

    mi = np.asarray(mutual_information, dtype=float)
    total = mi.sum(axis=0)
    return float(np.mean(np.where(total > 0, mi.max(axis=0) / np.where(total > 0, total, 1.0), 0.0)))


def with_overrides(prereg: dict, protocol: dict, convergence: dict) -> dict:
    """``prereg`` with [protocol] keys replaced by ``protocol`` (at both scales: a key of ``paper_scale``
    is replaced there too) and the convergence criteria updated by ``convergence``; an unknown key is an
    error naming it. The pre-registered experiment has both empty."""
    from deep.config import unknown_keys

    unknown_keys(protocol, [k for k in prereg["protocol"] if k != "paper_scale"], where="protocol")
    base = prereg["protocol"]
    sized = {**base, **protocol,
             "paper_scale": {k: protocol.get(k, v) for k, v in base["paper_scale"].items()}}
    crit = prereg["convergence"]
    phases = [p for p in ("phase1", "phase2") if p in crit] or [None]
    for phase in phases:
        keys = crit[phase] if phase else crit
        unknown_keys(convergence, [*keys, "heldout_batch"], where="convergence")
    crit = ({p: {**crit[p], **convergence} for p in phases} if phases != [None] else {**crit, **convergence})
    return {**prereg, "protocol": sized, "convergence": crit}


def _scale(name, value):
    if value not in SCALES:
        raise ValueError(f"{name} must be one of {', '.join(SCALES)}; got {value!r}")
    return value


def _subset(name, value):
    return None if value is None else validation.positive_int(name, value)


@experiment.configuration
class Config(experiment.Config):
    """Base of a pre-registered experiment's configuration (the file ``deep/preregistered/<FILE>.toml``)
    at ``scale``; ``protocol``, ``convergence``, ``subset`` only for a pipeline check (empty / None: the
    file's values). A subclass names FILE and gives ``seeds`` the file's stated count as default."""

    FILE = ""
    scale: str = field(default="reduced", metadata=check(_scale))
    seeds: tuple[int, ...] = field(default=(), metadata=check(experiment.seeds))
    protocol: dict = field(default_factory=dict)
    convergence: dict = field(default_factory=dict)
    subset: int | None = field(default=None, metadata=check(_subset))

    def __post_init__(self):
        self.prereg()   # an unknown override is refused by name

    def prereg(self) -> dict:
        """The pre-registration with this configuration's overrides (:func:`with_overrides`)."""
        return with_overrides(load(self.FILE), dict(self["protocol"]), dict(self["convergence"]))

    @classmethod
    def at(cls, scale: str, smoke=None):
        """The experiment at ``scale``; with ``smoke`` (a pipeline-check configuration), that one at ``scale``."""
        _scale("scale", scale)
        return cls(scale=scale) if smoke is None else smoke.replace(scale=scale)


def stated_seeds(name: str) -> tuple[int, ...]:
    """Seeds 0 .. n-1, n the seed count the pre-registration ``name`` states."""
    return tuple(range(load(name)["stated"]["seeds"]))


def finalise(config: dict, subset) -> dict:
    """A run configuration of :func:`phase1_configs` / :func:`phase2_config` complete and checked
    (:func:`deep.sweep.run_config`), on a ``subset`` of the data when it is not None."""
    from deep.sweep import run_config

    if subset is not None:
        config = {**config, "data": {**config["data"], "subset": subset}}
    return run_config(config)


def train_run(one, work_dir, device: str, phase2=None) -> dict:
    """Train (or resume, or read back) the run ``one`` (:class:`deep.sweep.Run`); its metrics.

    A run that continues another (``one.init_from``) has a template config; ``phase2(config, step)``
    makes its run config from the phase-1 run's converged step (or the step it stopped at)."""
    import json
    from pathlib import Path

    from deep import sweep

    if one.init_from is not None:
        parent = Path(work_dir) / "runs" / one.init_from
        training = json.loads((parent / "metrics.json").read_text())["training"]
        step = (training.get("convergence") or {}).get("step") or training["steps"]
        one = sweep.Run(one.name, phase2(one.config, step), one.values, one.init_from)
        init = str(parent / "checkpoint.pt")
    else:
        init = None
    if sweep.finished(one, work_dir):
        return json.loads((one.directory(work_dir) / "metrics.json").read_text())
    return sweep.train_task([one.config], [str(one.directory(work_dir))], [init], device, 1)[0]


def run_record(metrics: dict) -> dict:
    """What the decisions read of a run's metrics: the statistics and the training's steps and convergence."""
    training = metrics["training"]
    conv = training.get("convergence") or {}
    return {"mig": metrics["mig"], "sap": metrics["sap"], "active_units": metrics["active_units"],
            "kl": metrics["kl"], "nll": metrics["reconstruction_nll"], "blur": metrics["reconstruction_mse"],
            "localisation": (None if metrics.get("mutual_information") is None
                             else localisation(metrics["mutual_information"])),
            "sigma_mean": metrics["sigma_mean"], "exponent": metrics["exponent"],
            "latent_variance": metrics["latent_variance"],
            "steps": training["steps"], "steps_run": conv.get("steps_run", training["steps"]),
            "converged": conv.get("converged"), "convergence_step": conv.get("step"),
            "forward_macs": training.get("forward_macs"), "shape": training.get("shape")}
