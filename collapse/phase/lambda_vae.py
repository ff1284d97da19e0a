"""``collapse phase lambda-vae``: the attractor σ*, the optimal exponent λ* and where the
full λ-gradient really settles, for the λ-VAE of [lambda_vae] (paper 002, Fig. 2).

Three panels: (a) Fig. 2a, the correction flow dσ/dt = σ - λσ^λ from six starts
converging to σ*(λ), with the full gradient flow of eq. (11) for a linear decoder of
signal a (dashed), which settles at a signal-dependent σ instead; (b) Fig. 2b, λ*(σ, δ)
with the thresholds σ_c = sqrt(1 - 1/δ); (c) the stationary σ of eq. (11) over signal
a and exponent λ, with the curve σ = σ*(λ) and the spread over signals.

Writes ``<name>.png``, ``<name>_flows.csv``, ``<name>_lambda_star.csv`` and
``<name>_stationary.csv``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import integrate, optimize
from tqdm import tqdm

from collapse.cli import Renamed, checked, count, writable_dir
from deep import io
from numerics import lambda_vae as lv
from numerics import validation

HELP = "sigma* attraction, lambda*(sigma, delta) and the stationary sigma of the full lambda-gradient (paper 002, Fig. 2)"
ALIASES = ["lambda"]
STARTS = (0.10, 0.20, 0.35, 0.65, 0.80, 0.90)     # Fig. 2a


def add_arguments(parser):
    parser.add_argument("--exponent", type=float, default=2.0,
                        help="paper 002's exponent lambda of panel (a) (default 2, sigma* = 0.5)")
    parser.add_argument("--lam", action=Renamed, new="the exponent lambda of paper 002 is --exponent")
    parser.add_argument("--signals", type=float, nargs="+", default=[0.0, 1.0, 16.0], metavar="A",
                        help="decoder signals a = w^2/s^2 of the full flows in panel (a) (default 0 1 16)")
    parser.add_argument("--deltas", type=float, nargs="+", default=[1.01, 2.0, 3.0, 5.0, 10.0], metavar="D",
                        help="trade-offs delta of panel (b) (default 1.01 2 3 5 10)")
    parser.add_argument("--t-max", type=float, default=20.0, help="flow duration in panel (a) (default 20)")
    parser.add_argument("--grid", type=int, default=60, help="grid points per axis of panel (c) (default 60)")
    parser.add_argument("--output-dir", type=Path, default=Path("runs") / "phase",
                        help="where the files go (default runs/phase)")
    parser.add_argument("--name", default="lambda_vae_phase", help="file name stem (default lambda_vae_phase)")


def flows(lam, signals, t_max, n_points=200):
    """Trajectories: the correction flow (Fig. 2a) from STARTS and the full flow of eq. (11) per signal."""
    t = np.linspace(0.0, t_max, n_points)
    rows = []

    def solve(rhs, start):
        sol = integrate.solve_ivp(lambda _, y: rhs(y), (0.0, t_max), [start], t_eval=t,
                                  method="LSODA", rtol=1e-9, atol=1e-12)
        return sol.y[0]
    for start in STARTS:                                           # g = -1: dσ/dt = σ - λσ^λ
        rows.append(("correction", np.nan, start, solve(lambda y: -lv.scaling_correction(1.0, y, lam), start)))
    for a in signals:                                              # g = -a σ^λ (linear decoder)
        for start in (STARTS[0], STARTS[-1]):
            rows.append(("full", a, start,
                         solve(lambda y: lv.elbo_gradient_sigma(-a * y**lam, np.clip(y, 1e-12, None), lam), start)))
    return t, rows


def stationary_sigma(a, lam):
    """The σ in (0, 1) where eq. (11) vanishes for a linear decoder of signal a (λ a σ^{2λ} = 1 - σ²)."""
    if a == 0:
        return 1.0
    return optimize.brentq(lambda s: lv.elbo_gradient_sigma(-a * s**lam, s, lam), 1e-12, 1 - 1e-15, xtol=1e-15)


def _write_csv(path: Path, header, rows):
    io.write_rows(path, header, rows)


def draw(path: Path, lam, t, flow_rows, sigmas, deltas, stars, signals, lams, grid):
    plt = io.pyplot()
    fig, axes = io.figure(1, 3, figsize=(16, 4.6))
    ax = axes[0]
    colours = plt.cm.viridis(np.linspace(0, 0.9, len({r[1] for r in flow_rows if r[0] == "full"})))
    signal_colour = dict(zip(sorted({r[1] for r in flow_rows if r[0] == "full"}), colours))
    for kind, a, _, path_ in flow_rows:
        if kind == "correction":
            ax.plot(t, path_, color="tab:red", lw=1.2)
        else:
            ax.plot(t, path_, "--", color=signal_colour[a], lw=1.2, label=f"full flow, a = {a:g}")
    ax.axhline(float(lv.sigma_star(lam)), color="k", lw=0.8, ls=":", label=f"σ*(λ={lam:g})")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=8, loc="lower right")
    ax.set(xlabel="t", ylabel="σ", title="(a) correction flow σ' = σ - λσ^λ (solid) vs eq. (11)")
    ax = axes[1]
    for delta, row in zip(deltas, stars):
        line, = ax.plot(sigmas, row, label=f"δ = {delta:g}")
        ax.axvline(float(lv.sigma_c(delta)), color=line.get_color(), lw=0.6, ls=":")
    ax.set(xlabel="σ", ylabel="λ*", yscale="log", title="(b) λ*(σ, δ), eq. (16); dotted: σ_c, eq. (17)")
    ax.legend(fontsize=8)
    ax = axes[2]
    mesh = ax.pcolormesh(signals, lams, grid, shading="auto", cmap="magma", vmin=0, vmax=1)
    ax.contour(signals, lams, grid - lv.sigma_star(lams)[:, None], levels=[0.0], colors="cyan")
    ax.set(xscale="log", xlabel="decoder signal a", ylabel="λ",
           title="(c) stationary σ of eq. (11); cyan: σ = σ*(λ)")
    fig.colorbar(mesh, ax=ax, label="σ")
    fig.tight_layout()
    io.save_figure(fig, path, dpi=110)


def run(args) -> int:
    lam = float(checked("--exponent", validation.array_in, args.exponent, 1.0, 1e3))
    signals = checked("--signals", validation.array_in, args.signals, 0.0, 1e12, closed="low")
    deltas = checked("--deltas", validation.array_in, args.deltas, 1.0, 1e12)
    t_max = float(checked("--t-max", validation.array_in, args.t_max, 0.0, 1e6))
    n = count("--grid", args.grid, 4, maximum=2000)
    out = writable_dir(args.output_dir, "--output-dir")
    out.mkdir(parents=True, exist_ok=True)

    t, flow_rows = flows(lam, signals, t_max)
    sigmas = np.linspace(0.005, 0.995, 400)
    stars = [lv.lambda_star(sigmas, d) for d in deltas]
    grid_signals, grid_lams = np.logspace(-2, 3, n), np.linspace(1.0, 10.0, n)
    grid = np.array([[stationary_sigma(a, la) for a in grid_signals]
                     for la in tqdm(grid_lams, desc="stationary sigma", unit="lambda")])

    _write_csv(out / f"{args.name}_flows.csv", ["flow", "signal", "sigma0", *[f"t={x:.4g}" for x in t]],
               [[kind, a, s0, *path_] for kind, a, s0, path_ in flow_rows])
    _write_csv(out / f"{args.name}_lambda_star.csv", ["sigma", *[f"delta={d:g}" for d in deltas]],
               np.column_stack([sigmas, *stars]).tolist())
    _write_csv(out / f"{args.name}_stationary.csv", ["lambda", "sigma_star", *[f"a={a:.4g}" for a in grid_signals]],
               np.column_stack([grid_lams, lv.sigma_star(grid_lams), grid]).tolist())
    draw(out / f"{args.name}.png", lam, t, flow_rows, sigmas, deltas, stars, grid_signals, grid_lams, grid)
    spread = np.log(grid.max(axis=1) / grid.min(axis=1))
    print(f"stationary log-spread over a in [1e-2, 1e3]: {spread[0]:.3f} at lambda = 1, {spread[-1]:.3f} at "
          f"lambda = {grid_lams[-1]:g}")
    print(f"wrote {out / args.name}.png and _flows/_lambda_star/_stationary.csv")
    return 0
