"""``collapse phase linear-gaussian-vae``: Figures 2 and 3 of [mi_collapse] with the exact threshold.

Writes ``phase_linear_gaussian_vae.csv`` (one row per (beta, lambda) cell),
``fig2_beta_vae.png`` (the lambda = 0 row against beta) and ``fig3_lambda_beta_vae.png``
(heatmaps over (beta, lambda)), each with beta_c = 1 + 2 lambda ||Sigma_y||_2 overlaid and
the cells where Algorithm 1 only drifts (the only stationary point is the trivial saddle)
hatched. Values that still move with the iteration cap (``cap_dependent`` in the CSV: SAP,
MIG and LIM at beta = 1 < 1 + lambda, where the iteration drifts sublinearly forever) are
marked with a red cross; at those cells reconstruction, ||B||_2 and I(x; v) are the t -> infinity
limits (``sublinear_limits``).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from collapse.cli import Renamed, UserError, checked, count, writable_dir
from deep import io
from numerics import linear_gaussian_vae as lgv
from numerics import validation

HELP = "Figures 2-3 of paper 000: Algorithm 1 over (beta, lambda) with the exact collapse threshold"
ALIASES = ["mi-collapse"]
PANELS = (("reconstruction", "reconstruction error E||y - Ax||²"), ("sap", "SAP"),
          ("lim", "LIM (nats)"), ("spectral_norm_B", "||B||₂"))


def add_arguments(parser):
    parser.add_argument("--n", type=int, default=50, help="observation dimension (default 50)")
    parser.add_argument("--m", type=int, default=10, help="latent dimension (default 10)")
    parser.add_argument("--s", type=int, default=5, help="number of factors (default 5)")
    parser.add_argument("--sigma2", type=float, default=0.05, help="observation noise variance (default 0.05)")
    parser.add_argument("--trials", type=int, default=100, help="random initialisations per cell (default 100)")
    parser.add_argument("--betas", type=float, nargs="+", default=list(2.0 ** np.arange(-2, 10)),
                        help="beta grid (default 1/4, 1/2, ..., 512)")
    parser.add_argument("--l2-weights", type=float, nargs="+", default=[0.0, 4.0, 8.0, 16.0, 32.0],
                        help="grid of paper 000's lambda, the L2 weight of eq. 7-8 (default 0 4 8 16 32)")
    parser.add_argument("--lambdas", action=Renamed, new="paper 000's L2 weights are --l2-weights")
    parser.add_argument("--seed", type=int, default=0, help="seed of Gamma and of the initialisations")
    parser.add_argument("--max-iter", type=int, default=50_000, help="iteration cap per cell")
    parser.add_argument("--drift-max-iter", type=int, default=2_000,
                        help="iteration cap for cells that only drift (beta < 1, or beta = 1 with lambda > 0: "
                             "the only stationary point is the trivial saddle)")
    parser.add_argument("--engine", choices=lgv.ENGINES, default="auto",
                        help="Algorithm 1 compiled with numba (extra 'fast'), or the NumPy reference; "
                             "auto: numba when installed")
    parser.add_argument("--output", type=Path, default=Path("runs") / "phase" / "linear_gaussian_vae",
                        help="output folder (default runs/phase/linear_gaussian_vae; the stored figures are "
                             "results/phase/linear_gaussian_vae)")


def run(args) -> int:
    n, m, s = count("--n", args.n, maximum=2000), count("--m", args.m, maximum=2000), count("--s", args.s, maximum=2000)
    checked("--sigma2", validation.positive, args.sigma2)
    count("--trials", args.trials, maximum=10**5)
    checked("--betas", validation.array_in, args.betas, 0.0, 1e12)
    checked("--l2-weights", validation.array_in, args.l2_weights, 0.0, 1e12, closed="low")
    count("--seed", args.seed, 0, 2**63)
    count("--max-iter", args.max_iter, maximum=10**8)
    count("--drift-max-iter", args.drift_max_iter, maximum=10**8)
    writable_dir(args.output, "--output")
    Gamma, Sigma_v, Sigma_y = lgv.figure_model(n, s, args.sigma2, args.seed)
    if args.engine == "numba" and not lgv.compiled_available():
        raise UserError("--engine numba needs numba: pip install 'collapse-proofcheck[fast]'")
    if args.engine == "auto" and not lgv.compiled_available():
        print("note: numba is not installed, so Algorithm 1 runs on the NumPy path (several times slower); "
              "pip install 'collapse-proofcheck[fast]' for the compiled kernel")
    start = time.perf_counter()
    rows = lgv.phase_diagram(Sigma_y, Gamma, Sigma_v, args.betas, args.l2_weights, m=m,
                             trials=args.trials, seed=args.seed, max_iter=args.max_iter,
                             drift_max_iter=args.drift_max_iter, engine=args.engine, progress=True)
    elapsed = time.perf_counter() - start
    args.output.mkdir(parents=True, exist_ok=True)
    write_csv(rows, args.output / "phase_linear_gaussian_vae.csv")
    plot_fig2(rows, args.output / "fig2_beta_vae.png")
    plot_fig3(rows, args.output / "fig3_lambda_beta_vae.png")
    settings = {k: v for k, v in vars(args).items() if not k.startswith("_") and k not in ("output", "debug")}
    io.write_json(args.output / "settings.json",
                  {**settings, "norm_Sigma_y": float(np.linalg.eigvalsh(Sigma_y)[-1]), "seconds": elapsed}, indent=1)
    print(f"{len(rows)} cells x {args.trials} trials in {elapsed:.1f} s; wrote {args.output}")
    return 0


def write_csv(rows, path: Path):
    io.write_csv(path, rows)


def plot_fig2(rows, path: Path):
    """The lambda = 0 row: each metric against beta, mean +- sd over trials, beta_c = 1 marked."""
    row0 = [r for r in rows if r["l2_weight"] == 0]
    if not row0:
        return
    beta = np.array([r["beta"] for r in row0])
    fig, axes = io.figure(1, len(PANELS), figsize=(4 * len(PANELS), 3.2))
    for ax, (key, label) in zip(axes, PANELS):
        mean = np.array([r[key] for r in row0])
        sd = np.array([r[key + "_sd"] for r in row0])
        ax.plot(beta, mean, "o-", color="C0")
        ax.fill_between(beta, mean - sd, mean + sd, alpha=0.25, color="C0")
        ax.axvline(row0[0]["beta_c"], color="C3", ls="--", label="β_c = 1 (exact)")
        capped = [key in r["cap_dependent"].split(";") for r in row0]
        if any(capped):
            ax.plot(beta[capped], mean[capped], "x", color="C3", ms=9, label="value at the iteration cap")
        drift = beta[[r["stationary"] < 1 for r in row0]]
        if drift.size:
            ax.axvspan(beta.min() / 1.2, drift.max() * 1.1, color="0.85", zorder=0,
                       label="drift: only the trivial saddle")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("β")
        ax.set_title(label)
    axes[0].legend(fontsize=7)
    fig.suptitle("Fig. 2 (paper 000): β-VAE, Algorithm 1, λ = 0")
    fig.tight_layout()
    io.save_figure(fig, path, dpi=120)


def plot_fig3(rows, path: Path):
    """Heatmaps over (beta, lambda) with beta_c(lambda) drawn in each row."""
    plt = io.pyplot()
    betas = sorted({r["beta"] for r in rows})
    lams = sorted({r["l2_weight"] for r in rows})
    cell = {(r["beta"], r["l2_weight"]): r for r in rows}
    fig, axes = io.figure(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.4))
    x = np.log2(betas)
    for ax, (key, label) in zip(axes, PANELS):
        grid = np.array([[cell[(b, l)][key] for b in betas] for l in lams])
        image = ax.imshow(grid, aspect="auto", origin="lower", cmap="viridis",
                          extent=(x[0] - 0.5, x[-1] + 0.5, -0.5, len(lams) - 0.5))
        fig.colorbar(image, ax=ax, fraction=0.046)
        for j, l in enumerate(lams):
            beta_c = cell[(betas[0], l)]["beta_c"]
            ax.plot([np.log2(beta_c)] * 2, [j - 0.45, j + 0.45], color="red", lw=2)
            for i, b in enumerate(betas):
                if cell[(b, l)]["stationary"] < 1:
                    ax.add_patch(plt.Rectangle((x[i] - 0.5, j - 0.5), 1, 1, fill=False, hatch="///",
                                               edgecolor="white", lw=0))
                if key in cell[(b, l)]["cap_dependent"].split(";"):
                    ax.plot(x[i], j, "x", color="red", ms=10, mew=2)
        ax.set_xticks(x[::2], [f"{b:g}" for b in betas[::2]])
        ax.set_yticks(range(len(lams)), [f"{l:g}" for l in lams])
        ax.set_xlabel("β")
        ax.set_ylabel("λ")
        ax.set_title(label)
    fig.suptitle("Fig. 3 (paper 000): λβ-VAE; red line: exact β_c = 1 + 2λ||Σ_y||₂; hatched: drift, only the trivial "
                 "saddle; red ×: value at the iteration cap, still moving (β = 1 < 1 + λ: the other panels show the "
                 "t → ∞ limit)", fontsize=9)
    fig.tight_layout()
    io.save_figure(fig, path, dpi=120)
