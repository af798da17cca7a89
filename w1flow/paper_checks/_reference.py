"""Independent references for the checks: W1 and W2 from POT's LP on costs built by scipy's
``cdist``, with none of w1flow's code in the path (no cost scaling, no plan reuse)."""

from __future__ import annotations

import numpy as np
import ot
from scipy.spatial.distance import cdist


def _lp(a, b, M):
    G, log = ot.emd(np.ascontiguousarray(a, float), np.ascontiguousarray(b, float), M,
                    numItermax=max(10**6, 50 * M.size), log=True)
    if int(log["result_code"]) != 1:
        raise RuntimeError(f"reference LP failed: {log.get('warning')}")
    return G


def w1(x, a, y, b):
    """Exact W1 between the weighted clouds (x, a) and (y, b)."""
    M = cdist(np.atleast_2d(x), np.atleast_2d(y))
    return float(np.sum(_lp(a, b, M) * M))


def w2(x, a, y, b):
    """Exact W2 between the weighted clouds (x, a) and (y, b)."""
    M = cdist(np.atleast_2d(x), np.atleast_2d(y), "sqeuclidean")
    return float(np.sqrt(max(np.sum(_lp(a, b, M) * M), 0.0)))


def uniform(n):
    return np.full(n, 1.0 / n)
