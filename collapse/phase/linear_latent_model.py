"""``collapse phase linear-latent-model`` (alias ``wang-ziyin``): the collapse of the linear
latent-variable model of [wang_ziyin] against β, like the paper's Figure 1.

Two rows, fixed η_dec (Theorem 2) and learnable η_dec (Theorem 4, corrected), three panels
each: the number of surviving latents, σ_i* and the minimal loss, with the predicted
thresholds as dashed lines. Markers come from minimising the objective numerically from
many random starts (numerics.reference), independently of the closed forms.

Writes ``<name>.png``, ``<name>.csv`` (the curves), ``<name>_thresholds.csv`` and
``<name>_check.csv`` (closed form against the numerical minimum at the marker β's).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from collapse.cli import UserError, count, writable_dir
from deep import io
from numerics import linear_latent_model as llm
from numerics import validation
from numerics.reference import linear_latent_model as ref

HELP = "surviving latents, sigma_i* and loss against beta with the predicted thresholds (paper 004, Fig. 1)"
ALIASES = ["wang-ziyin"]


def add_arguments(parser):
    parser.add_argument("--zeta", type=float, nargs="+", metavar="Z",
                        help="singular values of Z (default: d* values log-spaced from 4 to 1, so that "
                             "complete collapse sets in at beta = 16, near the paper's Fig. 1)")
    parser.add_argument("--d0", type=int, default=5, help="input dimension of the random problem (default 5)")
    parser.add_argument("--d2", type=int, default=5, help="output dimension (default 5)")
    parser.add_argument("--d1", type=int, default=None, help="latent dimension (default d*)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random problem and of the minimiser")
    parser.add_argument("--eta-enc", type=float, default=1.0, help="prior standard deviation (default 1)")
    parser.add_argument("--eta-dec", type=float, default=1.0, help="fixed decoder standard deviation (default 1)")
    parser.add_argument("--beta-min", type=float, default=None, help="smallest beta (default: from the thresholds)")
    parser.add_argument("--beta-max", type=float, default=None, help="largest beta (default: from the thresholds)")
    parser.add_argument("--n-beta", type=int, default=400, help="beta values on the curves (default 400)")
    parser.add_argument("--check", type=int, default=8,
                        help="beta values per row at which the objective is minimised numerically (default 8; 0: none)")
    parser.add_argument("--output-dir", type=Path, default=Path("runs") / "phase",
                        help="where the files go (default runs/phase)")
    parser.add_argument("--name", default="wang_ziyin_phase", help="file name stem (default wang_ziyin_phase)")


def _orthogonal(n, rng):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def problem(args):
    """(R, M) with A = R R^T: x ~ N(0, A) with a random A and y = M x as in §5, with M
    chosen so that Z = M R = F diag(ζ) G^T has the requested singular values."""
    rng = np.random.default_rng(count("--seed", args.seed, 0, 2**63))
    d0, d2 = count("--d0", args.d0, maximum=2000), count("--d2", args.d2, maximum=2000)
    if args.zeta:
        zeta = -np.sort(-validation.array_in("--zeta", args.zeta, 0.0, 1e100))
        if zeta.size > min(d0, d2):
            raise ValueError(f"--zeta must have at most min(--d0, --d2) = {min(d0, d2)} values; got {zeta.size}")
    else:
        zeta = np.logspace(np.log10(4.0), 0.0, min(d0, d2))
    R = _orthogonal(d0, rng) * np.logspace(0.3, -0.3, d0)
    Z = _orthogonal(d2, rng)[:, :zeta.size] @ (zeta[:, None] * _orthogonal(d0, rng)[:zeta.size])
    return R, Z @ np.linalg.inv(R)


def curves(R, M, d1, betas, eta_enc, eta_dec):
    """Closed-form curves: rows of (n_active, loss, σ_1..σ_d1) for fixed and learnable η_dec."""
    A = R @ R.T
    zeta, d2 = llm.spectrum(A, M).zeta, M.shape[0]
    fixed, learnable = [], []
    for beta in betas:
        m = llm.global_minimum(A, M, d1, beta, eta_enc, eta_dec)
        fixed.append([m.active.sum(), m.loss, *np.sort(m.sigma)])
        dv = llm.optimal_decoder_variance(A, M, d1, beta, eta_enc)
        sig = np.sort(dv.minimum.sigma) if dv.minimum is not None else np.full(d1, np.nan)
        learnable.append([dv.n_active, dv.s, dv.loss if np.isfinite(dv.loss) else np.nan, *sig])
    thresholds = (llm.beta_thresholds(zeta, d1, eta_dec=eta_dec),
                  llm.beta_thresholds(zeta, d1, eta_dec=None, d2=d2))
    return np.array(fixed, dtype=float), np.array(learnable, dtype=float), thresholds


def check(R, M, d1, betas, eta_enc, eta_dec, seed):
    """Many-start numerical minima of eq. (5) (fixed η_dec) and of L^LDV (learnable η_dec)."""
    X, Y = ref.exact_data(R, M)
    A = R @ R.T
    rows = []
    jobs = [(beta, mode) for mode in ("fixed", "learnable") for beta in betas]
    for beta, mode in tqdm(jobs, desc="numerical minima", unit="min"):
        if mode == "fixed":
            run = ref.minimise(X, Y, d1, beta, eta_enc, eta_dec, starts=6, seed=seed)
            closed = llm.global_minimum(A, M, d1, beta, eta_enc, eta_dec).loss
        else:
            dv = llm.optimal_decoder_variance(A, M, d1, beta, eta_enc)
            if dv.status == "unbounded":
                continue
            run = ref.minimise(X, Y, d1, beta, eta_enc, None, starts=6, seed=seed)
            closed = dv.loss
        rows.append([mode, beta, run.loss, closed, *np.sort(np.abs(run.params["f"]))])
    return rows


def _write_csv(path: Path, header, rows):
    io.write_rows(path, header, rows)


def draw(path: Path, betas, fixed, learnable, thresholds, checks, d1):
    fig, axes = io.figure(2, 3, figsize=(13, 7), sharex=True)
    for row, (name, data, thr) in enumerate((("fixed $\\eta_{dec}$", fixed, thresholds[0]),
                                              ("learnable $\\eta_{dec}$", learnable, thresholds[1]))):
        offset = 0 if row == 0 else 1                  # learnable rows carry s* in column 1
        loss, sigma = data[:, 1 + offset], data[:, 2 + offset:]
        axes[row, 0].step(betas, data[:, 0], where="post", color="k")
        axes[row, 0].set_ylabel(f"surviving latents ({name})")
        for i in range(d1):
            axes[row, 1].plot(betas, sigma[:, i], label=f"$\\sigma_{{{i + 1}}}^*$")
        axes[row, 1].set_ylabel("$\\sigma_i^*$ (sorted)")
        axes[row, 2].plot(betas, loss, color="k", label="closed form")
        axes[row, 2].set_ylabel("minimal loss")
        marks = [c for c in checks if c[0] == ("fixed" if row == 0 else "learnable")]
        if marks:
            b = [c[1] for c in marks]
            axes[row, 2].plot(b, [c[2] for c in marks], "o", mfc="none", color="C3", label="numerical minimum")
            for i in range(d1):
                axes[row, 1].plot(b, [c[4 + i] for c in marks], "o", mfc="none", color=f"C{i}")
        unbounded = betas[np.isnan(loss)]
        for ax in axes[row]:
            ax.set_xscale("log")
            for t in thr[thr > 0]:
                ax.axvline(t, color="0.6", ls="--", lw=0.8)
            if unbounded.size:
                ax.axvspan(unbounded.min(), unbounded.max(), color="0.9", zorder=0)
        if unbounded.size:
            axes[row, 2].text(0.03, 0.5, "no minimiser:\n$G(s)\\to-\\infty$ as $s\\to 0$",
                              transform=axes[row, 2].transAxes, fontsize=8)
        axes[row, 2].legend(fontsize=8)
    axes[0, 1].legend(fontsize=8, ncol=2)
    for ax in axes[1]:
        ax.set_xlabel("$\\beta$")
    fig.suptitle("Posterior collapse of the linear latent-variable model (paper 004): "
                 "dashed lines are the predicted thresholds")
    fig.tight_layout()
    io.save_figure(fig, path, dpi=110)


def settings(args):
    """The problem and grids of the arguments, every argument checked before any work (UserError)."""
    try:
        R, M = problem(args)
        eta_enc = float(validation.array_in("--eta-enc", args.eta_enc, 1e-100, 1e100, closed="both"))
        eta_dec = float(validation.array_in("--eta-dec", args.eta_dec, 1e-100, 1e100, closed="both"))
        zeta = llm.spectrum(R @ R.T, M).zeta
        d1 = count("--d1", args.d1 if args.d1 is not None else zeta.size, maximum=2000)
        with np.errstate(over="ignore", divide="ignore"):  # overflow is refused just below
            thr_all = np.concatenate([llm.beta_thresholds(zeta, d1, eta_dec=eta_dec),
                                      llm.beta_thresholds(zeta, d1, eta_dec=None, d2=M.shape[0])])
        if not np.all(np.isfinite(thr_all)):
            raise UserError("--zeta and --eta-dec put the collapse thresholds (zeta_i^2 / eta_dec^2) beyond the "
                            "float range; keep zeta_i / eta_dec below 1e100")
        thr_all = thr_all[thr_all > 0]
        if args.beta_min is None and not thr_all.size:
            raise UserError("no latent collapses at any beta (every zeta_i is 0): give --beta-min and --beta-max")
        lo = args.beta_min if args.beta_min is not None else 0.2 * thr_all.min()
        hi = args.beta_max if args.beta_max is not None else 3.0 * thr_all.max()
        lo, hi = validation.positive("--beta-min", lo), validation.positive("--beta-max", hi)
        if not lo < hi:
            raise UserError(f"--beta-min must be < --beta-max; got {lo:g} >= {hi:g}")
        n_beta = count("--n-beta", args.n_beta, 2, maximum=10**6)
        n_check = count("--check", args.check, 0, maximum=10**4)
    except UserError:
        raise
    except ValueError as err:
        raise UserError(str(err)) from None
    writable_dir(args.output_dir, "--output-dir")
    return R, M, eta_enc, eta_dec, zeta, d1, lo, hi, n_beta, n_check


def run(args) -> int:
    R, M, eta_enc, eta_dec, zeta, d1, lo, hi, n_beta, n_check = settings(args)
    betas = np.logspace(np.log10(lo), np.log10(hi), n_beta)
    fixed, learnable, thresholds = curves(R, M, d1, betas, eta_enc, eta_dec)
    checks = check(R, M, d1, np.logspace(np.log10(lo), np.log10(hi), n_check), eta_enc, eta_dec,
                   args.seed) if n_check else []
    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    sig = [f"sigma_{i + 1}" for i in range(d1)]
    _write_csv(out / f"{args.name}.csv",
               ["beta", "n_active_fixed", "loss_fixed", *[f"{s}_fixed" for s in sig],
                "n_active_learnable", "eta_dec2_learnable", "loss_learnable", *[f"{s}_learnable" for s in sig]],
               np.column_stack([betas, fixed, learnable]).tolist())
    _write_csv(out / f"{args.name}_thresholds.csv", ["latent", "zeta", "beta_fixed_eta_dec", "beta_learnable_eta_dec"],
               [[i + 1, zeta[i] if i < zeta.size else 0.0, thresholds[0][i], thresholds[1][i]] for i in range(d1)])
    _write_csv(out / f"{args.name}_check.csv", ["eta_dec", "beta", "loss_numerical", "loss_closed_form", *sig], checks)
    draw(out / f"{args.name}.png", betas, fixed, learnable, thresholds, checks, d1)
    worst = max((abs(c[2] - c[3]) / abs(c[3]) for c in checks), default=0.0)
    print(f"zeta = {np.array2string(zeta, precision=4)}; d1 = {d1}, d2 = {M.shape[0]}")
    print("beta thresholds, fixed eta_dec:    ", np.array2string(thresholds[0], precision=4))
    print("beta thresholds, learnable eta_dec:", np.array2string(thresholds[1], precision=4))
    if checks:
        print(f"closed form vs numerical minimum at {len(checks)} points: max rel. difference {worst:.2e}")
    print(f"wrote {out / args.name}.png and .csv files")
    return 0
