"""Array back-ends so a formula is written once and evaluated in float64 or in mpmath.

``NUMPY`` broadcasts over leading batch axes; ``MPMATH`` works on ``mpmath.matrix``
at the current ``mpmath.mp.dps``.
"""
from __future__ import annotations

from types import SimpleNamespace

import mpmath as mp
import numpy as np

from numerics import precision

NUMPY = SimpleNamespace(
    name="float64",
    mm=np.matmul,
    inv=np.linalg.inv,
    T=lambda x: np.swapaxes(x, -1, -2),
    tr=lambda x: np.trace(x, axis1=-2, axis2=-1),
    logdet=lambda x: np.linalg.slogdet(x)[1],
    log=np.log,
    pi=np.pi,
    eye=np.eye,
    asarray=lambda x: np.asarray(x, dtype=float),
)

MPMATH = SimpleNamespace(
    name="mpmath",
    mm=lambda a, b: a * b,
    inv=lambda x: x ** -1,
    T=lambda x: x.T,
    tr=precision.trace,
    logdet=precision.logdet,
    log=mp.log,
    pi=mp.pi,
    eye=mp.eye,
    asarray=lambda x: x if isinstance(x, mp.matrix) else precision.to_mp(x),
)

