"""Textbook Gaussian identities, written once for the reference routes."""
from __future__ import annotations

import numpy as np


def kl(S0, S1) -> float:
    """KL(N(0, S0) || N(0, S1)) = 1/2 [tr(S1^-1 S0) - k + log|S1| - log|S0|]."""
    k = S0.shape[0]
    return 0.5 * (np.trace(np.linalg.solve(S1, S0)) - k + np.linalg.slogdet(S1)[1] - np.linalg.slogdet(S0)[1])
