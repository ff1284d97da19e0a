"""``collapse phase tractable-beta-vae``: Fig. 1 of [optimal_beta] (paper 003) recomputed.

The tractable β-VAE (x = As + η, linear decoder, diagonal Gaussian encoder) solved in
closed form on a β grid (numerics.tractable_beta_vae): (A) ELBO* and the data
log-likelihood, (B) MIE and TIE on every branch of equivalent optima, (C) the
reconstruction objective, (D) the conditional independence loss KL*. Default: the
paper's N = 128, k = 2, A_ij = (1 + δ_ij)/2.

Writes ``<name>.png``, ``<name>.csv`` (one row per β; TIE per branch when there are at
most 48 branches) and ``<name>_extrema.csv`` (where each curve is extremal, refined by
Brent search in log β), and prints the extrema.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from collapse.cli import UserError, checked, count, writable_dir
from deep import io
from numerics import tractable_beta_vae as t
from numerics import validation

HELP = "Fig. 1 of paper 003: ELBO*, MIE/TIE, reconstruction and KL of the tractable beta-VAE over beta"
ALIASES = ["optimal-beta"]
MAX_BRANCH_COLUMNS = 48
MAX_LATENTS = 6  # k! 2^k branches of optima are swept: 46,080 at k = 6
CURVES = ("objective", "elbo", "reconstruction", "kl", "log_likelihood", "mie")


def add_arguments(parser):
    parser.add_argument("--N", type=int, default=128, help="data dimension (default 128, as in Fig. 1)")
    parser.add_argument("--k", type=int, default=2, help="number of latents (default 2)")
    parser.add_argument("--mixing", type=Path, default=None, metavar="FILE",
                        help="a mixing matrix A (N x k) as .npy or .csv; replaces A_ij = (1 + delta_ij)/2")
    parser.add_argument("--beta-min", type=float, default=0.01, help="smallest beta (default 0.01)")
    parser.add_argument("--beta-max", type=float, default=1000.0, help="largest beta (default 1000)")
    parser.add_argument("--points", type=int, default=4001, help="log-spaced beta values (default 4001)")
    parser.add_argument("--output-dir", type=Path, default=Path("runs") / "phase",
                        help="where the files go (default runs/phase)")
    parser.add_argument("--name", default="tractable_beta_vae_fig1", help="file name stem")


def branch_label(perm, signs) -> str:
    """'(+u1, -u2)': latent j carries the eigen-direction u_{perm[j]+1} with sign signs[j]."""
    return "(" + ", ".join(f"{'+' if sg > 0 else '-'}u{p + 1}" for p, sg in zip(perm, signs)) + ")"


def load_mixing(args) -> np.ndarray:
    """A of the arguments: the paper's, or read from ``--mixing`` (UserError naming the file when unusable)."""
    if args.mixing is None:
        N, k = count("--N", args.N, maximum=4096), count("--k", args.k, maximum=MAX_LATENTS)
        return checked("--k", lambda _, n, kk: t.paper_mixing(n, kk), N, k)
    path = Path(args.mixing)
    if not path.is_file():
        raise UserError(f"--mixing must be an existing .npy or .csv file; {path} "
                        f"{'is a folder' if path.is_dir() else 'does not exist'}")
    try:
        A = np.load(path, allow_pickle=False) if path.suffix == ".npy" else np.loadtxt(path, delimiter=",", ndmin=2)
    except (OSError, ValueError, UnicodeDecodeError, EOFError) as err:
        raise UserError(f"--mixing {path} cannot be read as a {'.npy' if path.suffix == '.npy' else 'CSV'} matrix "
                        f"({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
    A = checked(f"--mixing {path}", lambda _, a: t.check_mixing(a), A)
    if A.shape[1] > MAX_LATENTS:
        raise UserError(f"--mixing {path} has {A.shape[1]} columns; at most {MAX_LATENTS} latents (every one of the "
                        "k! 2^k relabellings of the optimum is drawn)")
    return A


def distinct_tie_curves(sweep: t.Sweep) -> list[tuple[int, list[str]]]:
    """(column, labels of every branch with that TIE curve), one entry per distinct curve."""
    groups: list[tuple[int, list[str]]] = []
    for j, branch in enumerate(sweep.branches):
        for first, labels in groups:
            if np.allclose(sweep.tie[:, j], sweep.tie[:, first], rtol=1e-12, atol=1e-12):
                labels.append(branch_label(*branch))
                break
        else:
            groups.append((j, [branch_label(*branch)]))
    return groups


def extrema(A, sweep: t.Sweep) -> list[list]:
    """Rows (quantity, branches, kind, beta, value): maxima of ELBO* and log p, the zero
    set of MIE on the grid, and the minimum of TIE on every distinct branch."""
    grid = sweep.beta
    rows = [["elbo", "all", "max", grid[np.argmax(sweep.elbo)], sweep.elbo.max()],
            ["log_likelihood", "all", "max", grid[np.argmax(sweep.log_likelihood)], sweep.log_likelihood.max()]]
    zero = sweep.mie <= 1e-12 * np.abs(sweep.log_likelihood)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], zero.astype(int), [0]])))
    for start, stop in zip(edges[::2], edges[1::2]):
        kind = "zero" if stop - start == 1 else f"zero up to beta = {grid[stop - 1]:.6g}"
        rows.append(["mie", "all", kind, grid[start], float(sweep.mie[start:stop].max())])
    for column, labels in distinct_tie_curves(sweep):
        perm, signs = sweep.branches[column]
        f = lambda b: t.tie(t.relabel(t.optimum(A, b), perm, signs), A)
        curve = sweep.tie[:, column]
        beta, value = t.minimise_over_beta(f, grid, curve)
        flat = np.abs(curve - value) <= 1e-12 * abs(value)
        if flat[-1]:        # minimal on a whole tail of the grid: full collapse, no finite optimum
            first = int(np.flatnonzero(~flat)[-1]) + 1 if not flat.all() else 0
            rows.append(["tie", " ".join(labels), f"min for all beta >= {grid[first]:.6g}", grid[first], value])
        else:
            rows.append(["tie", " ".join(labels), "min", beta, value])
    return rows


def _write_csv(path: Path, header, rows):
    io.write_rows(path, header, rows)


def draw(path: Path, A, sweep: t.Sweep, rows):
    lam = 1 + np.linalg.svd(A, compute_uv=False) ** 2
    fig, axes = io.figure(2, 2, figsize=(11, 8), sharex=True)
    panels = {"A": axes[0, 0], "B": axes[0, 1], "C": axes[1, 0], "D": axes[1, 1]}
    ax = panels["A"]
    ax.plot(sweep.beta, sweep.elbo, label="ELBO*")
    ax.plot(sweep.beta, sweep.log_likelihood, "--", label="E log p_θ*(x)")
    ax.set(ylabel="nats", title="(A) ELBO* (max at β = 1)")
    ax = panels["B"]
    ax.plot(sweep.beta, sweep.mie, "k", lw=1.5, label="MIE")
    for column, labels in distinct_tie_curves(sweep):
        ax.plot(sweep.beta, sweep.tie[:, column], lw=1, label="TIE " + ", ".join(labels[:2])
                + (f" +{len(labels) - 2}" if len(labels) > 2 else ""))
    for quantity, _, kind, beta, value in rows:
        if quantity == "tie" and beta < sweep.beta[-1] and beta < lam.max():
            ax.plot(beta, value, "v", color="crimson", ms=6)
    ax.set_yscale("symlog", linthresh=1e-2)
    ax.set(ylabel="nats", title="(B) MIE, TIE on each branch of optima (▼: minima)")
    panels["C"].plot(sweep.beta, sweep.reconstruction)
    panels["C"].set(ylabel="nats", title="(C) reconstruction E log p(x|z)")
    panels["D"].plot(sweep.beta, sweep.kl)
    panels["D"].set(ylabel="nats", title="(D) KL(q(z|x) || p(z))")
    for ax in panels.values():
        ax.set_xscale("log")
        ax.axvline(1.0, color="grey", lw=0.7, ls=":")
        for value in lam:
            ax.axvline(value, color="tab:red", lw=0.6, ls="--")
    for ax in (panels["C"], panels["D"]):
        ax.set_xlabel("β  (dashed red: collapse thresholds λ_i)")
    panels["A"].legend(fontsize=8)
    panels["B"].legend(fontsize=7)
    fig.tight_layout()
    io.save_figure(fig, path, dpi=110)


def run(args) -> int:
    A = load_mixing(args)
    low = checked("--beta-min", validation.positive, args.beta_min)
    high = checked("--beta-max", validation.positive, args.beta_max)
    if high <= low:
        raise UserError(f"--beta-max must exceed --beta-min; got {high!r} <= {low!r}")
    points = count("--points", args.points, 3, maximum=10**6)
    out = writable_dir(args.output_dir, "--output-dir")
    out.mkdir(parents=True, exist_ok=True)

    sweep = t.sweep(A, np.geomspace(low, high, points), progress=True)
    header = ["beta", *CURVES, "tie_min", "tie_max", "n_optima"]
    columns = [sweep.beta, *(getattr(sweep, c) for c in CURVES), sweep.tie.min(1), sweep.tie.max(1),
               sweep.n_optima]
    if len(sweep.branches) <= MAX_BRANCH_COLUMNS:
        header += [f"tie {branch_label(*b)}" for b in sweep.branches]
        columns += list(sweep.tie.T)
    _write_csv(out / f"{args.name}.csv", header, np.column_stack(columns).tolist())
    rows = extrema(A, sweep)
    _write_csv(out / f"{args.name}_extrema.csv", ["quantity", "branches", "kind", "beta", "value"], rows)
    draw(out / f"{args.name}.png", A, sweep, rows)
    for quantity, branches, kind, beta, value in rows:
        print(f"{quantity:>15} {kind:<32} beta = {beta:<10.6g} value = {value:<12.6g} {branches}")
    print(f"wrote {out / args.name}.png, {args.name}.csv and {args.name}_extrema.csv")
    return 0
