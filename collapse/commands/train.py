"""``collapse train``: train a VAE with the beta, lambda-beta or lambda objective on data with known factors.

Writes ``config.json``, ``checkpoint.pt``, ``log.jsonl`` and ``metrics.json`` to ``--out``;
running the same command again resumes from the checkpoint. torch is imported only when
the command runs, so ``collapse verify`` and the other commands never load it.
"""
from pathlib import Path

from collapse.cli import Renamed, UserError, checked, count, writable_dir
from numerics import validation

HELP = "train a VAE (objective beta, lambda-beta or lambda) with checkpoints, JSONL logs and final metrics"

DATA = ("digits", "dsprites", "dsprites-npz", "mixture", "shapes3d", "shapes3d-h5")  # deep.data.DATASETS
VECTOR_DATA = ("digits", "mixture")
OBJECTIVES = ("beta", "lambda-beta", "lambda")  # deep.objectives.OBJECTIVES

# Table 2 of [mi_collapse] (Adam, lr 1e-4, batch 64, m = 10 latents by default here);
# --tiny: a CPU smoke run of a few hundred steps on a small subset, under a minute.
DEFAULTS = {"steps": None, "batch_size": 64, "subset": None, "log_every": 100, "checkpoint_every": 1000,
            "eval_samples": 10_000, "dci_estimators": 100}
TINY = {"steps": 200, "batch_size": 16, "subset": 2048, "log_every": 20, "checkpoint_every": 100,
        "eval_samples": 500, "dci_estimators": 10}


def add_arguments(parser):
    g = parser.add_argument_group("objective (defaults: deep.objectives; an option the objective does not use is an error)")
    g.add_argument("--objective", choices=OBJECTIVES, default="beta",
                   help="beta: beta-VAE; lambda-beta: + l2_weight E||x - E[x|z]||^2 after --phase1-steps "
                        "(000 eq. 7); lambda: sampling noise sigma^lambda with lambda* per dimension (002)")
    g.add_argument("--beta", type=float, help="KL weight (default 1)")
    g.add_argument("--l2-weight", type=float,
                   help="lambda-beta: weight of the L2 term, paper 000's lambda (000 eq. 7; required, > 0)")
    g.add_argument("--phase1-steps", type=int,
                   help="lambda-beta: beta-VAE steps N1 before the L2 term is switched on (two-phase protocol)")
    g.add_argument("--delta", type=float, help="lambda: delta of Prop. 3 (002 eq. 16; default 1.01)")
    g.add_argument("--fixed-exponent", type=float,
                   help="lambda: one constant exponent (>= 1) for every dimension instead of lambda*")
    g.add_argument("--ema-decay", type=float, help="lambda: EMA decay of sigma (002 §6.1; default 0.9)")
    g.add_argument("--lambda-update-every", type=int, help="lambda: steps between lambda* updates (default 100)")
    g.add_argument("--ramp-steps", type=int, help="lambda: linear ramp of lambda from 1 (002 §6.1; default 0)")
    g.add_argument("--lambda-max", type=float, help="lambda: clamp of lambda* (002 Fig. 7; default 20)")
    g.add_argument("--lam", action=Renamed, new="paper 000's L2 weight is --l2-weight (objective lambda-beta); "
                   "paper 002's exponent is --fixed-exponent or --delta (objective lambda)")
    g.add_argument("--fixed-lambda", action=Renamed, new="the constant exponent of paper 002 is --fixed-exponent")

    g = parser.add_argument_group("data and model")
    g.add_argument("--data", choices=DATA, default="dsprites",
                   help="data set (default: procedural dSprites; mixture: 4 Gaussian clusters in R^2, 002 §6.2)")
    g.add_argument("--data-path", type=Path, help="the .npz / .h5 file for dsprites-npz / shapes3d-h5")
    g.add_argument("--subset", type=int, help="train on this many (>= 1) fixed random observations")
    g.add_argument("--architecture", choices=("conv", "mlp"),
                   help="conv: Table 1 of 000 (images); mlp: vectors (default: conv for images, mlp for vectors)")
    g.add_argument("--latents", type=int, default=10, help="latent dimension m (default 10)")
    g.add_argument("--likelihood", choices=("bernoulli", "gaussian"),
                   help="default: gaussian for the mixture, bernoulli otherwise")
    g.add_argument("--eta-dec", type=float, help="std of the Gaussian decoder (default 1)")
    g.add_argument("--hidden", help="MLP hidden widths, e.g. 300,300,300 (the default)")

    g = parser.add_argument_group("training")
    g.add_argument("--steps", type=int, help="total training steps (required unless --tiny)")
    g.add_argument("--batch-size", type=int)
    g.add_argument("--lr", type=float, default=1e-4)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--out", type=Path, help="run directory (default runs/<objective>-<data>-seed<seed>)")
    g.add_argument("--checkpoint-every", type=int)
    g.add_argument("--log-every", type=int)
    g.add_argument("--init-from", type=Path, metavar="CHECKPOINT",
                   help="start from this checkpoint's weights, optimiser and step (two-phase protocol)")
    g.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1, ...")
    g.add_argument("--amp", action="store_true", default=None, help="bfloat16 autocast (default: on for CUDA)")
    g.add_argument("--no-amp", dest="amp", action="store_false")
    g.add_argument("--workers", type=int, help="data loader processes (default: 0 on CPU, up to 8 on CUDA)")
    g.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    g.add_argument("--tiny", action="store_true",
                   help="CPU smoke configuration: " + ", ".join(f"{k}={v}" for k, v in TINY.items()))
    g.add_argument("--no-progress", action="store_true", help="no progress bar")

    g = parser.add_argument_group("final evaluation")
    g.add_argument("--eval-samples", type=int)
    g.add_argument("--no-dci", action="store_true", help="skip DCI (gradient-boosted trees)")
    g.add_argument("--dci-estimators", type=int)


OBJECTIVE_OPTIONS = {"beta": "beta", "l2_weight": "l2_weight", "phase1_steps": "phase1_steps", "delta": "delta",
                     "fixed_exponent": "fixed_exponent", "ema_decay": "ema_decay",
                     "lambda_update_every": "update_every", "ramp_steps": "ramp_steps", "lambda_max": "lambda_max"}
"""Objective options: argument name -> key of the objective's configuration (deep.objectives.CONFIGS)."""


def config_from(args):
    """The :class:`deep.train.RunConfig` that the arguments describe (UserError when they do not fit together)."""
    from deep.train import RunConfig

    preset = TINY if args.tiny else DEFAULTS

    def get(name):
        value = getattr(args, name)
        return preset[name] if value is None else value

    if get("steps") is None:
        raise UserError("--steps is required (or --tiny)")
    vector_data = args.data in VECTOR_DATA
    likelihood = args.likelihood or ("gaussian" if args.data == "mixture" else "bernoulli")
    model = {"architecture": args.architecture or ("mlp" if vector_data else "conv"), "m": args.latents,
             "likelihood": likelihood}
    if args.eta_dec is not None:
        model["eta_dec"] = args.eta_dec
    if args.hidden is not None:
        try:
            model["hidden"] = [int(h) for h in args.hidden.split(",")] if args.hidden.strip() else []
        except ValueError:
            raise UserError(f"--hidden must be comma-separated integers such as 300,300,300; got {args.hidden!r}") from None
    objective = {"name": args.objective} | {key: getattr(args, option) for option, key in OBJECTIVE_OPTIONS.items()
                                              if getattr(args, option) is not None}
    data = {"name": args.data}
    if args.data_path is not None:
        data["path"] = str(args.data_path)
    if get("subset") is not None:
        data["subset"] = get("subset")
    evaluation = {"samples": get("eval_samples"), "dci": not args.no_dci, "dci_estimators": get("dci_estimators")}
    return RunConfig.from_dict({"data": data, "model": model, "objective": objective, "steps": get("steps"),
                                "batch_size": get("batch_size"), "lr": args.lr, "seed": args.seed,
                                "checkpoint_every": get("checkpoint_every"), "log_every": get("log_every"),
                                "evaluation": evaluation})


def run(args) -> int:
    from collapse.commands.evaluate import summary
    from deep.runs import resolve_device
    from deep.train import train

    count("--threads", args.threads, maximum=1024)
    if args.workers is not None:
        checked("--workers", validation.positive_int, args.workers, minimum=0)
    device = resolve_device(args.device)
    out = writable_dir(args.out or Path("runs") / f"{args.objective}-{args.data}-seed{args.seed}", "--out")
    metrics = train(config_from(args), out, device=device, amp=args.amp, num_workers=args.workers,
                    threads=args.threads, init_from=args.init_from, progress=not args.no_progress)
    print(summary(metrics))
    print(f"wrote {out / 'metrics.json'} (checkpoint {out / 'checkpoint.pt'}, log {out / 'log.jsonl'})")
    return 0
