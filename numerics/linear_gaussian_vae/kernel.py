"""Algorithm 1 of [mi_collapse] compiled with numba: every (cell, initialisation) of a grid in one call.

The same iteration as ``algorithm.alternating`` (natural coordinates G = Sigma_w^-1 B,
Omega = Sigma_w^-1 in the eigenbasis of Sigma_y; one step G' = (G + 2 lambda P) / beta,
Omega' = I + (K1 + 2 lambda K2) / beta with P = Omega (Omega + G D G^T)^-1 G D, eq. (21),
(25), (29)), with the same stopping rules, written out as loops. The (cell, initialisation) pairs of a
grid are processed LANES at a time, the lane (trial) index innermost, so that every
matrix operation is a loop over contiguous lanes that the compiler turns into SIMD
instructions; a lane whose trial stops takes the next (cell, trial) pair, and ``prange``
spreads the pairs over the threads. Small SPD
systems are solved by Cholesky (the NumPy path uses LU): the two paths agree to rounding,
not bit for bit.

Importing this module needs numba (the optional extra ``fast``).

References
----------
[mi_collapse] "Mutual Information Collapse Explains Disentanglement Failure in
    beta-VAEs", shared/papers/000_6e757ef8f718962b.txt.
"""
from __future__ import annotations

import numba as nb
import numpy as np

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
"""LLVM's fast-math flags without "nnan" and "ninf": with those (numba's fastmath=True) the compiler
may assume no NaN or inf, fold the finiteness checks of the stopping rules to true, and let a trial
that overflows run on as regular (found on data of condition 1e14 at beta = 0.5, lambda = 1e8)."""

LANES = 32
"""(Cell, initialisation) pairs advanced together: 32 lanes ran 2.2x faster than 8 on AVX-512 (znver4)."""


def threads() -> int:
    """Tasks for ``_grid``: one per numba thread (NUMBA_NUM_THREADS, or ``numba.set_num_threads``)."""
    return nb.get_num_threads()


def step_flops(m: int, k: int) -> int:
    """Floating-point operations of one step of ``_grid`` for one trial (m latents, k basis vectors).

    Counted from the loops below (a multiply-add is 2): G D (m k), S = Omega + G D G^T on
    the upper triangle (m (m + 1) k), two Cholesky factorisations (m^3 / 3 each, leading
    order), the triangular solves for X = S^-1 G D (2 m^2 k), P = Omega X (2 m^2 k), K1 and
    K2 on the upper triangle (2 m (m + 1) k), the triangular inverse and W^T W (m^3 / 3 each),
    b = Sigma_w G' (2 m^2 k), the updates and the four squared norms (about 4 m^2 + 8 m k):
    17032 at m = 10, k = 15 (the Fig. 2-3 model).
    """
    return (m * k + m * (m + 1) * k + 2 * m**3 // 3 + 2 * m * m * k + 2 * m * m * k + 2 * m * (m + 1) * k
            + 2 * m**3 // 3 + 2 * m * m * k + 4 * m * m + 8 * m * k)


@nb.njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _cholesky(A, C, rd, m, nl):
    """Lower Cholesky factor C of the SPD matrices A[:, :, lane] and the reciprocals rd of its diagonal
    (right-looking, rank-1 updates of the trailing block, so no accumulation runs through memory);
    NaN where A is not positive definite."""
    C[:] = A
    for j in range(m):
        for l in range(nl):
            C[j, j, l] = np.sqrt(C[j, j, l])
            rd[j, l] = 1.0 / C[j, j, l]
        for i in range(j + 1, m):
            for l in range(nl):
                C[i, j, l] *= rd[j, l]
        for i in range(j + 1, m):
            for q in range(j + 1, i + 1):
                for l in range(nl):
                    C[i, q, l] -= C[i, j, l] * C[q, j, l]
        for i in range(j):
            for l in range(nl):
                C[i, j, l] = 0.0


@nb.njit(parallel=True, cache=True)
def _grid(G0, Om0, B0, Sw0, d, betas, lams, caps, tol, floor, lanes, chunks):
    """Run every (cell, trial): G0, Om0, B0 = Om0^-1 G0, Sw0 = Om0^-1 per trial (reduced eigenbasis),
    cell c has weights (betas[c], lams[c]) and at most caps[c] steps.

    The (cell, trial) pairs, cell-major, are dealt round-robin to ``chunks`` tasks (so every
    task gets a share of every cell and the threads stay balanced); each task advances
    ``lanes`` pairs together and refills a lane from its queue as soon as its pair stops.
    Returns, with leading (cell, trial) axes, the final (G, Omega) and the flags of
    ``AlternatingResult`` (converged, printed_stop, stationary, regular, iterations).
    """
    trials, m, k = G0.shape
    total = betas.size * trials
    G_out = np.empty((total, m, k))
    Om_out = np.empty((total, m, m))
    converged = np.zeros(total, np.bool_)
    stationary = np.zeros(total, np.bool_)
    regular = np.ones(total, np.bool_)
    iterations = np.empty(total, np.int64)
    printed_stop = np.zeros(total, np.int64)
    for chunk in nb.prange(chunks):
        _chunk(G0, Om0, B0, Sw0, d, betas, lams, caps, tol, floor, np.int64(chunk), chunks, lanes,
               G_out, Om_out, converged, printed_stop, stationary, regular, iterations)
    shape = (betas.size, trials)
    return (G_out.reshape(shape + (m, k)), Om_out.reshape(shape + (m, m)), converged.reshape(shape),
            printed_stop.reshape(shape), stationary.reshape(shape), regular.reshape(shape), iterations.reshape(shape))


@nb.njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _chunk(G0, Om0, B0, Sw0, d, betas, lams, caps, tol, floor, first, stride, nl,
           G_out, Om_out, converged, printed_stop, stationary, regular, iterations):
    """The (cell, trial) pairs first, first + stride, ... (cell-major index), ``nl`` at a time in SIMD lanes.

    ``nl`` is a run-time value on purpose: with a compile-time trip count LLVM unrolls the
    lane loops and then leaves them scalar (it cannot rule out aliasing between arrays).
    """
    trials, m, k = G0.shape
    total = betas.size * trials
    G = np.zeros((m, k, nl))
    Om = np.zeros((m, m, nl))
    Bp = np.zeros((m, k, nl))
    Swp = np.zeros((m, m, nl))
    inv_beta = np.ones(nl)
    rd = np.empty((m, nl))
    two_lam = np.zeros(nl)
    active = np.zeros(nl, np.bool_)
    update = np.empty(nl, np.bool_)
    pair = np.full(nl, -1, np.int64)
    step = np.zeros(nl, np.int64)
    queue = first
    for l in range(nl):
        for i in range(m):
            Om[i, i, l] = 1.0                       # an idle lane sits at the fixed point G = 0, Omega = I
    for l in range(nl):
        if queue < total:
            _load(l, queue, G0, Om0, B0, Sw0, betas, lams, caps, G, Om, Bp, Swp, inv_beta, two_lam, iterations)
            pair[l], step[l], active[l] = queue, 0, True
            queue += stride
    GD = np.empty((m, k, nl))
    S = np.empty((m, m, nl))
    C = np.empty((m, m, nl))
    X = np.empty((m, k, nl))
    P = np.empty((m, k, nl))
    On = np.empty((m, m, nl))
    Gn = np.empty((m, k, nl))
    W = np.empty((m, m, nl))
    Sw = np.empty((m, m, nl))
    b = np.empty((m, k, nl))
    dB, dS, nB, nS, tr, fin = (np.empty(nl), np.empty(nl), np.empty(nl), np.empty(nl),
                               np.empty(nl), np.empty(nl))
    K1 = np.empty((m, m, nl))
    K2 = np.empty((m, m, nl))
    lane_om = np.empty((m, m))
    while active.any():
        # G D and S = Omega + G D G^T (upper triangle, then mirrored)
        for i in range(m):
            for j in range(k):
                for l in range(nl):
                    GD[i, j, l] = G[i, j, l] * d[j]
        S[:] = Om
        for i in range(m):
            for j in range(k):
                for q in range(i, m):
                    for l in range(nl):
                        S[i, q, l] += GD[i, j, l] * G[q, j, l]
            for q in range(i + 1, m):
                for l in range(nl):
                    S[q, i, l] = S[i, q, l]
        # X = S^-1 G D (Cholesky, column-oriented substitutions), P = Omega X = G Sigma_z~ (Woodbury, eq. 21)
        _cholesky(S, C, rd, m, nl)
        X[:] = GD
        for i in range(m):
            for j in range(k):
                for l in range(nl):
                    X[i, j, l] *= rd[i, l]
            for p in range(i + 1, m):
                for j in range(k):
                    for l in range(nl):
                        X[p, j, l] -= C[p, i, l] * X[i, j, l]
        for i in range(m - 1, -1, -1):
            for j in range(k):
                for l in range(nl):
                    X[i, j, l] *= rd[i, l]
            for p in range(i):
                for j in range(k):
                    for l in range(nl):
                        X[p, j, l] -= C[i, p, l] * X[i, j, l]
        P[:] = 0.0
        for i in range(m):
            for p in range(m):
                for j in range(k):
                    for l in range(nl):
                        P[i, j, l] += Om[i, p, l] * X[p, j, l]
        # Omega' = I + (P G^T + 2 lambda P P^T) / beta (Lemma 4.1), G' = (G + 2 lambda P) / beta (eq. 29)
        K1[:] = 0.0
        K2[:] = 0.0
        for i in range(m):
            for j in range(k):
                for q in range(i, m):
                    for l in range(nl):
                        K1[i, q, l] += P[i, j, l] * G[q, j, l]
                        K2[i, q, l] += P[i, j, l] * P[q, j, l]
        for i in range(m):
            for q in range(i, m):
                for l in range(nl):
                    On[i, q, l] = (1.0 if i == q else 0.0) + (K1[i, q, l] + two_lam[l] * K2[i, q, l]) * inv_beta[l]
                    On[q, i, l] = On[i, q, l]
            for j in range(k):
                for l in range(nl):
                    Gn[i, j, l] = (G[i, j, l] + two_lam[l] * P[i, j, l]) * inv_beta[l]
        # Sigma_w' = Omega'^-1 = W^T W with W = C^-1 (C the Cholesky factor of Omega'), b = Sigma_w' G'
        _cholesky(On, C, rd, m, nl)
        W[:] = 0.0
        for j in range(m):
            for l in range(nl):
                W[j, j, l] = 1.0
            for i in range(j, m):
                for l in range(nl):
                    W[i, j, l] *= rd[i, l]
                for p in range(i + 1, m):
                    for l in range(nl):
                        W[p, j, l] -= C[p, i, l] * W[i, j, l]
        Sw[:] = 0.0
        for p in range(m):
            for i in range(p + 1):
                for q in range(i, p + 1):
                    for l in range(nl):
                        Sw[i, q, l] += W[p, i, l] * W[p, q, l]
        for i in range(m):
            for q in range(i + 1, m):
                for l in range(nl):
                    Sw[q, i, l] = Sw[i, q, l]
        b[:] = 0.0
        for i in range(m):
            for p in range(m):
                for j in range(k):
                    for l in range(nl):
                        b[i, j, l] += Sw[i, p, l] * Gn[p, j, l]
        # the stopping rules of ``alternating``
        for l in range(nl):
            dB[l] = 0.0
            dS[l] = 0.0
            nB[l] = 0.0
            nS[l] = 0.0
            tr[l] = 0.0
            fin[l] = 0.0
        for i in range(m):
            for j in range(k):
                for l in range(nl):
                    dB[l] += (b[i, j, l] - Bp[i, j, l]) ** 2
                    nB[l] += b[i, j, l] ** 2
            for j in range(m):
                for l in range(nl):
                    dS[l] += (Sw[i, j, l] - Swp[i, j, l]) ** 2
                    nS[l] += Sw[i, j, l] ** 2
                    fin[l] += On[i, j, l] * 0.0          # NaN iff some entry of Omega' is not finite
            for l in range(nl):
                tr[l] += On[i, i, l]
        for l in range(nl):
            db, ds = np.sqrt(dB[l]), np.sqrt(dS[l])
            ok = np.isfinite(db) and np.isfinite(ds) and fin[l] == 0.0
            if active[l] and ok and tr[l] * floor > 1:   # lambda_min(Sigma_w) >= 1 / tr(Omega)
                for i in range(m):
                    for j in range(m):
                        lane_om[i, j] = On[i, j, l]
                ok = np.linalg.eigvalsh(lane_om)[-1] * floor <= 1
            update[l] = active[l] and ok
            if not active[l]:
                continue
            t = pair[l]
            if ok:
                if db <= tol and ds <= tol:
                    converged[t] = True
                    if printed_stop[t] == 0:
                        printed_stop[t] = step[l] + 1
                    if db <= tol * max(1.0, np.sqrt(nB[l])) and ds <= tol * np.sqrt(nS[l]):
                        stationary[t] = True
                        iterations[t] = step[l] + 1
                        active[l] = False
            else:
                regular[t] = False
                iterations[t] = step[l]          # the last regular iterate is kept
                active[l] = False
        for i in range(m):
            for j in range(k):
                for l in range(nl):
                    if update[l]:
                        G[i, j, l] = Gn[i, j, l]
                        Bp[i, j, l] = b[i, j, l]
            for j in range(m):
                for l in range(nl):
                    if update[l]:
                        Om[i, j, l] = On[i, j, l]
                        Swp[i, j, l] = Sw[i, j, l]
        for l in range(nl):                         # stopped lanes: store, then take the next pair
            if pair[l] < 0:
                continue
            step[l] += 1
            if active[l] and step[l] == caps[pair[l] // trials]:
                active[l] = False
            if not active[l]:
                G_out[pair[l]] = G[:, :, l]
                Om_out[pair[l]] = Om[:, :, l]
                pair[l] = -1
                G[:, :, l] = 0.0                    # an idle lane sits at the fixed point G = 0, Omega = I
                Om[:, :, l] = 0.0
                for i in range(m):
                    Om[i, i, l] = 1.0
                inv_beta[l], two_lam[l] = 1.0, 0.0
                if queue < total:
                    _load(l, queue, G0, Om0, B0, Sw0, betas, lams, caps, G, Om, Bp, Swp, inv_beta, two_lam,
                          iterations)
                    pair[l], step[l], active[l] = queue, 0, True
                    queue += stride


@nb.njit(cache=True)
def _load(l, f, G0, Om0, B0, Sw0, betas, lams, caps, G, Om, Bp, Swp, inv_beta, two_lam, iterations):
    """Put (cell, trial) pair f (cell-major) into lane l."""
    trials = G0.shape[0]
    c, t = f // trials, f % trials
    inv_beta[l], two_lam[l] = 1.0 / betas[c], 2.0 * lams[c]
    G[:, :, l] = G0[t]
    Om[:, :, l] = Om0[t]
    Bp[:, :, l] = B0[t]
    Swp[:, :, l] = Sw0[t]
    iterations[f] = caps[c]
