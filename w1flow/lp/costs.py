"""Transport costs from direct differences.

Costs are built from direct differences (:func:`scipy.spatial.distance.cdist`, or ``x_i − y_j``
row by row), never from ``ot.dist``: the Gram expansion |x|² + |y|² − 2x·y loses about 1e-8 near
coincident points, which is every particle after it arrives.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

__all__ = ["pairwise_distances", "plan_cost", "unit_directions", "cost_scale"]


def pairwise_distances(x, y):
    """Euclidean distances ``|x_i − y_j|`` from direct differences, shape ``(n, m)``."""
    return cdist(x, y, metric="euclidean")


def plan_cost(x, y, rows, cols, mass):
    """``Σ_k mass_k |x_{rows_k} − y_{cols_k}|`` from direct differences, O(nnz · d)."""
    diff = x[rows] - y[cols]
    return float(np.dot(mass, np.sqrt(np.einsum("ij,ij->i", diff, diff))))


def unit_directions(src, dst):
    """Unit vectors ``(dst − src)/|dst − src|`` row by row, 0 where the points coincide.

    Returns the directions and the lengths ``|dst − src|`` (from direct differences).
    """
    diff = dst - src
    length = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    out = np.zeros_like(diff)
    pos = length > 0
    out[pos] = diff[pos] / length[pos, None]
    return out, length


def cost_scale(M):
    """The largest cost (1 when all costs are 0): the dense LPs run on ``M / scale``.

    POT's network simplex compares reduced costs with absolute tolerances, so at coordinates of
    order 1e-8 (W2) or 1e-14 (W1) it sees costs as ties and returns a wrong plan "optimal". With
    normalised costs the plan does not depend on the unit of length.
    """
    top = float(M.max()) if M.size else 0.0
    return top if top > 0 and np.isfinite(top) else 1.0
