"""Many-start numerical minimisation with scipy."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize
from threadpoolctl import threadpool_limits


@dataclass
class MultistartResult:
    x: np.ndarray              # best minimiser found
    fun: float                 # its value
    funs: np.ndarray           # final value of every start
    xs: list                   # final point of every start
    n_success: int             # starts whose optimiser reported success


def multistart(fun, starts, *, jac=None, method: str = "L-BFGS-B", options=None,
               bounds=None) -> MultistartResult:
    """Minimise ``fun`` from every point in ``starts``; return the best and all finals.

    BLAS runs on one thread meanwhile: the objectives here are small matrices, on which OpenBLAS's
    threads only cost (a triangular solve of a 3 x 3 matrix took 40x longer with them on a busy 2-core machine).
    """
    with threadpool_limits(limits=1, user_api="blas"):
        results = [optimize.minimize(fun, np.asarray(x0, dtype=float), jac=jac, method=method,
                                     bounds=bounds, options=options or {}) for x0 in starts]
    funs = np.array([r.fun for r in results])
    best = int(np.argmin(funs))
    return MultistartResult(results[best].x, float(funs[best]), funs, [r.x for r in results],
                            sum(bool(r.success) for r in results))
