"""Algorithm 1 of [mi_collapse] (alternating block updates), vectorised over initialisations.

Algorithm 1 is iterated in natural coordinates G = Sigma_w^{-1} B U and
Omega = Sigma_w^{-1}, with Sigma_y = U diag(d) U^T: one step is then
G' = G (I + 2 lambda Sigma_z~) / beta and Omega' = I + A^T M A (eq. 25, 29), and
Sigma_z~ G^T follows from the Woodbury identity (eq. 21) with m x m solves only. The
iterates are those of the printed algorithm (same map, exact algebra); no n x n matrix
is inverted per step.

References
----------
[mi_collapse] "Mutual Information Collapse Explains Disentanglement Failure in
    beta-VAEs", shared/papers/000_6e757ef8f718962b.txt.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from numerics import validation
from numerics.linear_gaussian_vae.model import _decoder

SIGMA_W_FLOOR = 1e-14
"""Below this eigenvalue Sigma_w is numerically singular in float64 and the iteration stops."""


def random_initialisation(m: int, n: int, trials: int, rng: np.random.Generator):
    """B0 with N(0, 1/n) entries and Sigma_w0 = Q diag(U(0.1, 2)) Q^T with Haar-random Q."""
    B0 = rng.standard_normal((trials, m, n)) / np.sqrt(n)
    q, r = np.linalg.qr(rng.standard_normal((trials, m, m)))
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    Sigma_w0 = (q * rng.uniform(0.1, 2.0, (trials, 1, m))) @ np.swapaxes(q, 1, 2)
    return B0, (Sigma_w0 + np.swapaxes(Sigma_w0, 1, 2)) / 2


def _invariant_basis(d, U, G0, m, rtol=1e-12):
    """Per-trial orthonormal eigenvector bases V (trials, n, k) holding every iterate's rows.

    An eigenspace of Sigma_y of multiplicity > m is cut down to the span of G0's rows in
    it: Sigma_z~ acts on its complement as d I and G never enters it, so the reduction is
    exact. Eigenvalues (d descending) within rtol * d[0] of a group's first one, bound
    included, count as one eigenspace. Returns (d_reduced, V).
    """
    trials = G0.shape[0]
    cols, values = [], []
    start = 0
    while start < d.size:
        stop = start + 1
        while stop < d.size and abs(d[stop] - d[start]) <= rtol * d[0]:
            stop += 1
        block = U[:, start:stop]
        if stop - start <= m:
            cols.append(np.broadcast_to(block, (trials, *block.shape)))
        else:
            q, _ = np.linalg.qr(np.swapaxes(G0 @ block, 1, 2))   # (trials, k, m)
            cols.append(block @ q)
        values.append(np.full(cols[-1].shape[-1], d[start]))
        start = stop
    return np.concatenate(values), np.concatenate(cols, axis=2)


@dataclass
class AlternatingResult:
    """Final iterates of Algorithm 1 for a batch of initialisations (leading axis = trial)."""
    A: np.ndarray
    B: np.ndarray
    Sigma_z: np.ndarray
    Sigma_w: np.ndarray
    converged: np.ndarray     # the printed stopping rule ||dB||_F <= tol and ||dSigma_w||_F <= tol fired
    printed_stop: np.ndarray  # iteration at which it first fired (0: never): where the paper's loop breaks
    stationary: np.ndarray    # the change was also <= tol relative to ||B||, ||Sigma_w||: a stationary point
    regular: np.ndarray       # False: stopped at the last iterate with lambda_min(Sigma_w) >= SIGMA_W_FLOOR
    iterations: np.ndarray    # iterations run: until stationary, Sigma_w singular, or max_iter
    residuals: np.ndarray     # (iterations, trials): max(||dB||_F, ||dSigma_w||_F); NaN once stopped
    B0: np.ndarray
    Sigma_w0: np.ndarray


def alternating(Sigma_y, beta, lam=0.0, *, m=None, trials=1, seed=None, B0=None, Sigma_w0=None,
                tol=1e-6, max_iter=50_000, progress=False) -> AlternatingResult:
    """Algorithm 1 of [mi_collapse], vectorised over a batch of random initialisations.

    Parameters
    ----------
    Sigma_y : SPD data covariance (n x n).
    beta, lam : the objective's weights (beta > 0, lam >= 0).
    m : latent dimension (needed unless ``B0`` is given).
    trials, seed : number of random initialisations and their seed (see ``random_initialisation``).
    B0, Sigma_w0 : explicit initialisations, shape (trials, m, n) and (trials, m, m).
    tol : the stopping rule's Frobenius tolerance (line 7/20 of Algorithm 1).
    max_iter : at most this many (decoder + encoder) iterations.

    Returns
    -------
    AlternatingResult with A, B, Sigma_z, Sigma_w per trial (the decoder recomputed from
    the final encoder), the printed rule's ``converged`` flag and the iteration where it
    first fired, ``stationary``, iteration counts and the residual history.

    The printed rule alone cannot tell a stationary point from a drift: for beta < 1,
    Sigma_w -> 0 geometrically and ||dSigma_w||_F falls below tol within a few dozen
    steps. So a trial stops only when the change is below tol also relative to ||B||_F
    and ||Sigma_w||_F (``stationary``), when Sigma_w becomes numerically singular or the
    iterates overflow (``regular`` False; the last regular iterate is returned), or at
    max_iter.
    """
    beta, lam = validation.positive("beta", beta), validation.nonnegative("lam", lam)
    tol = validation.positive("tol", tol)
    max_iter = validation.positive_int("max_iter", max_iter)
    Sigma_y, B0, Sigma_w0, d, V, G, Omega = _prepare(Sigma_y, m, trials, seed, B0, Sigma_w0)
    trials, m = B0.shape[0], B0.shape[1]
    I_m = np.eye(m)

    B_prev, Sw_prev = np.linalg.solve(Omega, G), np.linalg.inv(Omega)
    active = np.ones(trials, bool)
    converged = np.zeros(trials, bool)
    stationary = np.zeros(trials, bool)
    regular = np.ones(trials, bool)
    iterations = np.full(trials, max_iter)
    printed_stop = np.zeros(trials, int)
    history = []
    steps = tqdm(range(max_iter), disable=not progress, desc=f"Algorithm 1 beta={beta:g} lam={lam:g}",
                 leave=False)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in steps:
            idx = np.flatnonzero(active)
            g, om = G[idx], Omega[idx]
            gd = g * d                                           # G D
            gt = np.swapaxes(g, 1, 2)
            P = om @ _solve(om + gd @ gt, gd)                    # G Sigma_z~ by Woodbury, eq. (21)
            K1, K2 = P @ gt, P @ np.swapaxes(P, 1, 2)            # A^T Sigma_z^-1 A, A^T A
            om_new = I_m + (K1 + 2 * lam * K2) / beta            # Sigma_w^-1 = I + A^T M A, Lemma 4.1
            g_new = (g + 2 * lam * P) / beta                     # eq. (29)
            sw = _solve(om_new, np.broadcast_to(I_m, om_new.shape))
            b = sw @ g_new
            dB = np.linalg.norm(b - B_prev[idx], axis=(1, 2))
            dS = np.linalg.norm(sw - Sw_prev[idx], axis=(1, 2))
            ok = np.isfinite(dB) & np.isfinite(dS) & np.all(np.isfinite(om_new), axis=(1, 2))
            # lambda_min(Sigma_w) = 1 / lambda_max(Omega) >= 1 / tr(Omega): eigenvalues only when needed
            near = ok & (np.trace(om_new, axis1=1, axis2=2) * SIGMA_W_FLOOR > 1)
            ok[near] = np.linalg.eigvalsh(om_new[near])[:, -1] * SIGMA_W_FLOOR <= 1
            row = np.full(trials, np.nan, dtype=np.float32)
            row[idx] = np.maximum(dB, dS)
            history.append(row)
            G[idx[ok]], Omega[idx[ok]] = g_new[ok], om_new[ok]
            B_prev[idx[ok]], Sw_prev[idx[ok]] = b[ok], sw[ok]
            rule = ok & (dB <= tol) & (dS <= tol)
            relative = rule & (dB <= tol * np.maximum(1.0, np.linalg.norm(b, axis=(1, 2)))) & (
                dS <= tol * np.linalg.norm(sw, axis=(1, 2)))
            converged[idx[rule]] = True
            first = idx[rule & (printed_stop[idx] == 0)]
            printed_stop[first] = t + 1
            stop = relative | ~ok
            stationary[idx[relative]] = True
            regular[idx[~ok]] = False
            iterations[idx[relative]] = t + 1
            iterations[idx[~ok]] = t                             # the last regular iterate is kept
            active[idx[stop]] = False
            if not active.any():
                break

    A, B, Sigma_z, Sigma_w = _finish(G, Omega, V, Sigma_y)
    regular &= np.all(np.isfinite(A), axis=(1, 2))                 # A is NaN exactly where Sigma_z is
    return AlternatingResult(A, B, Sigma_z, Sigma_w, converged, printed_stop, stationary, regular,
                             iterations, np.array(history), B0, Sigma_w0)


def _prepare(Sigma_y, m, trials, seed, B0, Sigma_w0):
    """Validated (Sigma_y, B0, Sigma_w0) and the starting point in natural coordinates:
    the reduced spectrum d, the basis V (``_invariant_basis``), G = Sigma_w0^-1 B0 V and Omega = Sigma_w0^-1."""
    Sigma_y = validation.spd("Sigma_y", Sigma_y)
    n = Sigma_y.shape[0]
    if B0 is None:
        m = validation.positive_int("m", m)
        trials = validation.positive_int("trials", trials)
        B0, Sigma_w0 = random_initialisation(m, n, trials, np.random.default_rng(seed))
    else:
        B0 = validation.finite_array("B0", B0, ndim=3)
        m, trials = B0.shape[1], B0.shape[0]
        if B0.shape[2] != n:
            raise ValueError(f"B0 must have shape (trials, m, {n}); got {B0.shape}")
        Sigma_w0 = validation.finite_array("Sigma_w0", Sigma_w0, ndim=3)
        if Sigma_w0.shape != (trials, m, m):
            raise ValueError(f"Sigma_w0 must have shape {(trials, m, m)}; got {Sigma_w0.shape}")
        for i, S in enumerate(Sigma_w0):
            validation.spd(f"Sigma_w0[{i}]", S)
    d, U = np.linalg.eigh(Sigma_y)
    d, U = d[::-1], U[:, ::-1]
    Omega = np.linalg.inv(Sigma_w0)
    G = Omega @ B0                                       # natural coordinates G = Sigma_w^-1 B
    d, V = _invariant_basis(d, U, G, m)
    return Sigma_y, B0, Sigma_w0, d, V, G @ V, Omega     # G (trials, m, k) in eigenvector coordinates


def _finish(G, Omega, V, Sigma_y):
    """(A, B, Sigma_z, Sigma_w) from final natural coordinates; the decoder is Lemma 3.1's of (B, Sigma_w).

    A trial's A and Sigma_z are NaN together (``_decoder``'s C = W^-1 B L not finite: this Sigma_w
    is not positive definite in float64, as for a start whose Sigma_w0^-1 overflows) and finite
    otherwise (Sigma_z <= Sigma_y; ||A|| <= ||Sigma_y||^1/2 lambda_min(Sigma_w)^-1/2 / 2 < 1e308
    when Omega is finite), so the callers' ``isfinite(A)`` is the check for both.
    """
    Sigma_w = np.linalg.inv(Omega)
    Sigma_w = (Sigma_w + np.swapaxes(Sigma_w, -1, -2)) / 2
    B = Sigma_w @ (G @ np.swapaxes(V, -1, -2))                      # back to y coordinates
    A, Sigma_z = _decoder(B, Sigma_w, Sigma_y)
    return A, B, Sigma_z, Sigma_w


ENGINES = ("auto", "numba", "numpy")


def compiled_available() -> bool:
    """Whether numba (the optional extra ``fast``) is installed, so the compiled kernel can run."""
    return importlib.util.find_spec("numba") is not None


def alternating_grid(Sigma_y, cells, *, B0, Sigma_w0, tol=1e-6, max_iter, engine="auto",
                     progress=False) -> list[AlternatingResult]:
    """``alternating`` for every (beta, lambda) in ``cells`` from the same initialisations (B0, Sigma_w0).

    ``max_iter`` is one cap per cell. ``engine="numba"`` runs all cells in one call of the
    compiled kernel (``kernel._grid``: every thread, initialisations in SIMD lanes) and
    records no residual history (``residuals`` has 0 rows); ``"numpy"`` calls
    ``alternating`` cell by cell (the reference); ``"auto"`` is numba when installed.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}; got {engine!r}")
    cells = [(validation.positive("beta", b), validation.nonnegative("lam", l)) for b, l in cells]
    caps = [validation.positive_int("max_iter", c) for c in max_iter]
    if len(caps) != len(cells):
        raise ValueError(f"max_iter needs one cap per cell ({len(cells)}); got {len(caps)}")
    if engine == "numpy" or (engine == "auto" and not compiled_available()):
        return [alternating(Sigma_y, beta, lam, B0=B0, Sigma_w0=Sigma_w0, tol=tol, max_iter=cap)
                for (beta, lam), cap in tqdm(list(zip(cells, caps)), disable=not progress, desc="Algorithm 1 (NumPy)",
                                             unit="cell")]
    if not compiled_available():
        raise ValueError("engine='numba' needs numba (pip install 'collapse-proofcheck[fast]'); "
                         "engine='numpy' runs the reference path without it")
    from numerics.linear_gaussian_vae import kernel
    tol = validation.positive("tol", tol)
    Sigma_y, B0, Sigma_w0, d, V, G, Omega = _prepare(Sigma_y, None, None, None, B0, Sigma_w0)
    betas, lams = (np.array(v, dtype=float) for v in zip(*cells))
    G, Omega, *flags = kernel._grid(G, Omega, np.linalg.solve(Omega, G), np.linalg.inv(Omega), d,
                                    betas, lams, np.array(caps, dtype=np.int64), tol, SIGMA_W_FLOOR, kernel.LANES,
                                    kernel.threads())
    converged, printed_stop, stationary, regular, iterations = flags
    results = []
    for c in range(len(cells)):          # cell by cell: one batch of all cells' n x n decoders falls out of cache
        A, B, Sigma_z, Sigma_w = _finish(G[c], Omega[c], V, Sigma_y)
        regular[c] &= np.all(np.isfinite(A), axis=(1, 2))
        results.append(AlternatingResult(A, B, Sigma_z, Sigma_w, converged[c], printed_stop[c], stationary[c],
                                         regular[c], iterations[c], np.empty((0, len(B)), dtype=np.float32),
                                         B0, Sigma_w0))
    return results


def _solve(a, b):
    """Batched solve; singular or non-finite systems give NaN instead of raising."""
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        out = np.full(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + b.shape[-2:], np.nan)
        for i in range(a.shape[0]):
            try:
                out[i] = np.linalg.solve(a[i], b[i])
            except np.linalg.LinAlgError:
                pass
        return out
