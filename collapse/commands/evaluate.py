"""``collapse evaluate CHECKPOINT``: every metric of a trained VAE (MIG, SAP, DCI, AU, KL, capacities, reconstruction)."""
import json
from pathlib import Path

from collapse.cli import UserError, checked, count, writable_file
from numerics import validation

HELP = "evaluate a checkpoint of `collapse train`: MIG, SAP, DCI, active units, KL, capacities, reconstruction"


def add_arguments(parser):
    parser.add_argument("checkpoint", type=Path, help="a checkpoint.pt, or the run directory holding one")
    parser.add_argument("--samples", type=int, default=10_000, help="observations drawn for the metrics")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draw, the noise and the splits")
    parser.add_argument("--no-dci", action="store_true", help="skip DCI (gradient-boosted trees)")
    parser.add_argument("--dci-estimators", type=int, default=100)
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, ...")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--output", type=Path, help="JSON file (default: evaluation.json next to the checkpoint)")


def summary(metrics: dict) -> str:
    """A few lines for the terminal: the headline numbers of :func:`deep.evaluate.evaluate`."""
    dci = metrics.get("dci") or {}

    def fmt(v):
        return "n/a" if v is None else f"{v:.4g}"

    lines = [f"MIG {fmt(metrics['mig'])}   SAP {fmt(metrics['sap'])}   DCI D/C/I "
             f"{fmt(dci.get('disentanglement'))}/{fmt(dci.get('completeness'))}/{fmt(dci.get('informativeness'))}",
             f"active units {metrics['active_units']}/{len(metrics['kl_per_dim'])}   KL {fmt(metrics['kl'])} nats   "
             f"SNR capacity {fmt(metrics['snr_capacity'])} nats   decoder capacity {fmt(metrics['decoder_capacity'])}",
             f"reconstruction: -log p(x|z) {fmt(metrics['reconstruction_nll'])}   "
             f"||x - E[x|mu]||^2 {fmt(metrics['reconstruction_mse'])}   ({metrics['samples']} samples)"]
    return "\n".join(lines)


def run(args) -> int:
    import torch

    from deep.evaluate import evaluate_checkpoint
    from deep.train import CHECKPOINT, load_checkpoint, resolve_device

    count("--threads", args.threads, maximum=1024)
    checked("--samples", validation.positive_int, args.samples, minimum=4)
    checked("--dci-estimators", validation.positive_int, args.dci_estimators)
    checked("--seed", validation.positive_int, args.seed, minimum=0)
    device = resolve_device(args.device)
    path = args.checkpoint / CHECKPOINT if args.checkpoint.is_dir() else args.checkpoint
    load_checkpoint(path, device, fallback=False)  # a damaged or missing file is refused in one line
    out = writable_file(args.output or path.with_name("evaluation.json"), "--output")
    torch.set_num_threads(args.threads)
    try:
        metrics = evaluate_checkpoint(args.checkpoint, device=args.device, samples=args.samples, seed=args.seed,
                                      dci=not args.no_dci, dci_estimators=args.dci_estimators)
    except ValueError as err:
        raise UserError(str(err)) from None
    out.write_text(json.dumps(metrics, indent=1))
    print(summary(metrics))
    print(f"wrote {out}")
    return 0
