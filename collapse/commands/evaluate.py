"""``collapse evaluate CHECKPOINT``: the metrics of a trained VAE, each in a named variant, and its information budget."""
import argparse
import textwrap
from pathlib import Path

from collapse.cli import UserError, checked, count, writable_file
from deep import io
from numerics import validation

HELP = "evaluate a checkpoint of `collapse train`: MIG, SAP, DCI, active units (by variant), KL, capacities, reconstruction"


def _variant_table() -> str:
    """The metric variants with their sources, for --help (deep.metrics imports no torch)."""
    import deep.metrics
    from deep.metrics import DEFAULT_METRICS, VARIANTS

    lines = ["metric variants (--metric METRIC:VARIANT; a bare METRIC means its default, listed first):", ""]
    for v in VARIANTS.values():
        lines.append(f"  {v.spec:<20}{v.source}")
        lines += textwrap.wrap(v.convention, 96, initial_indent=" " * 22, subsequent_indent=" " * 22)
    lines += ["", f"default: {' '.join(DEFAULT_METRICS)} (the first of each metric gives the top-level mig, sap, ...)",
              "", deep.metrics.__doc__[deep.metrics.__doc__.index("References"):].strip()]
    return "\n".join(lines)


def add_arguments(parser):
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _variant_table()
    parser.add_argument("checkpoint", type=Path, help="a checkpoint.pt, or the run directory holding one")
    parser.add_argument("--metric", action="append", metavar="METRIC[:VARIANT]",
                        help="a metric to compute, repeatable (default: see below); e.g. --metric sap:dlib "
                             "--metric sap:logistic --metric mig:chen --metric active_units:0.05")
    parser.add_argument("--samples", type=int, default=10_000, help="observations drawn for the metrics")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draw, the noise and the splits")
    parser.add_argument("--chen-samples", type=int, default=2_000, help="draws scored by mig:chen")
    parser.add_argument("--no-dci", action="store_true", help="skip DCI (gradient-boosted trees)")
    parser.add_argument("--dci-estimators", type=int, default=100)
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, ...")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--output", type=Path, help="JSON file (default: evaluation.json next to the checkpoint)")


def _fmt(v):
    return "n/a" if v is None else f"{v:.4g}"


def budget_lines(budget: dict) -> list[str]:
    """The information budget in words: for each estimator, the most it reads from one latent against that latent's KL."""
    kl = budget["kl_per_dim"]
    lines = [f"information budget (I(z_i; v_j) <= E_x KL_i; KL per latent {_fmt(min(kl))}..{_fmt(max(kl))} nats):"]
    for spec, est in budget["estimators"].items():
        read = [(x if x is not None else float("-inf")) for x in est["information"]]
        i = max(range(len(read)), key=lambda k: read[k])
        status = (f"EXCEEDS the KL at {len(est['flagged'])} latent(s) {est['flagged']}" if est["flagged"]
                  else "within the KL")
        lines.append(f"  {spec:<12} reads up to {_fmt(est['information'][i])} nats (latent {i}, KL {_fmt(kl[i])}): {status}")
    return lines


def summary(metrics: dict) -> str:
    """A few lines for the terminal: the headline numbers of :func:`deep.evaluate.evaluate`, with their variants."""
    dci = metrics.get("dci") or {}
    variants = metrics.get("variants", {})
    tag = lambda name: f"{name.upper()}[{variants[name]}]" if name in variants else name.upper()
    scores = "   ".join(f"{spec} {_fmt(rec.get('score'))}" for spec, rec in metrics.get("by_variant", {}).items()
                        if "score" in rec)
    lines = [f"{tag('mig')} {_fmt(metrics['mig'])}   {tag('sap')} {_fmt(metrics['sap'])}   DCI D/C/I "
             f"{_fmt(dci.get('disentanglement'))}/{_fmt(dci.get('completeness'))}/{_fmt(dci.get('informativeness'))}",
             f"by variant: {scores}",
             f"active units {metrics['active_units']}/{len(metrics['kl_per_dim'])}   KL {_fmt(metrics['kl'])} nats   "
             f"SNR capacity {_fmt(metrics['snr_capacity'])} nats   decoder capacity {_fmt(metrics['decoder_capacity'])}",
             f"reconstruction: -log p(x|z) {_fmt(metrics['reconstruction_nll'])}   "
             f"||x - E[x|mu]||^2 {_fmt(metrics['reconstruction_mse'])}   ({metrics['samples']} samples)",
             *budget_lines(metrics["information_budget"])]
    return "\n".join(lines)


def run(args) -> int:
    import torch

    from deep.evaluate import evaluate_checkpoint
    from deep.runs import CHECKPOINT, load_checkpoint, resolve_device

    count("--threads", args.threads, maximum=1024)
    checked("--samples", validation.positive_int, args.samples, minimum=4)
    checked("--dci-estimators", validation.positive_int, args.dci_estimators)
    checked("--seed", validation.positive_int, args.seed, minimum=0)
    checked("--chen-samples", validation.positive_int, args.chen_samples, minimum=2)
    device = resolve_device(args.device)
    path = args.checkpoint / CHECKPOINT if args.checkpoint.is_dir() else args.checkpoint
    load_checkpoint(path, device, fallback=False)  # a damaged or missing file is refused in one line
    out = writable_file(args.output or path.with_name("evaluation.json"), "--output")
    torch.set_num_threads(args.threads)
    try:
        metrics = evaluate_checkpoint(args.checkpoint, device=args.device, samples=args.samples, seed=args.seed,
                                      dci=not args.no_dci, dci_estimators=args.dci_estimators, metrics=args.metric,
                                      chen_samples=args.chen_samples)
    except ValueError as err:
        raise UserError(str(err)) from None
    io.write_json(out, metrics, indent=1)
    print(summary(metrics))
    print(f"wrote {out}")
    return 0
