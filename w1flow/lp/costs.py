"""Transport costs from direct differences.

Costs are built from direct differences (:func:`scipy.spatial.distance.cdist`, or ``x_i − y_j``
row by row), never from ``ot.dist``: the Gram expansion |x|² + |y|² − 2x·y loses about 1e-8 near
coincident points, which is every particle after it arrives.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

from .budget import row_chunks
from .cells import CellPricer, cells_pay

__all__ = ["pairwise_distances", "plan_cost", "unit_directions", "cost_scale", "box_scale", "c_transform"]


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


def box_scale(x, y):
    """The bounding-box diameter of both clouds (1 if all points coincide): a length unit that
    makes costs O(1) without an n × m matrix."""
    lo = np.minimum(x.min(axis=0), y.min(axis=0))
    hi = np.maximum(x.max(axis=0), y.max(axis=0))
    s = float(np.sqrt(np.sum((hi - lo) ** 2)))
    return s if s > 0 and np.isfinite(s) else 1.0


def c_transform(z, y, v, pricing="full"):
    """``φ(z_k) = min_j (|z_k − y_j| − v_j)`` and a minimising index ``j``, for every point ``z_k``.

    Parameters
    ----------
    z : ndarray, shape (k, d)
    y : ndarray, shape (m, d)
    v : ndarray, shape (m,)
        Duals at ``y``, in cost (length) units.
    pricing : {"full", "cells", "auto"}
        ``"full"``: every pair, from direct differences (``cdist``) in row chunks of bounded memory.
        ``"cells"``: k-d cell bounds (:class:`~w1flow.lp.cells.CellPricer`) skip the blocks of
        pairs that cannot hold a row's minimum (measured: 10⁵ points against 32,768 in 0.18 s,
        where the full pass computes 3.3·10⁹ pairs); costs are then computed in units of the
        clouds' bounding box and scaled back (round-off 1e-16 relative), and exact ties may pick
        another minimiser. ``"auto"``: ``"cells"`` where :func:`~w1flow.lp.cells.cells_pay` says
        they pay (d = 2, 3, from :data:`~w1flow.lp.cells.CELL_MIN_PAIRS` pairs: 2.5·10⁵ in d = 2, 4·10⁶ in d = 3), else ``"full"``.

    Returns
    -------
    value : ndarray, shape (k,)
    index : ndarray of int64, shape (k,)
    """
    if pricing == "auto":
        pricing = "cells" if cells_pay(np.shape(z)[1], np.shape(z)[0], np.shape(y)[0]) else "full"
    if pricing == "cells":
        z = np.ascontiguousarray(z, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        k = z.shape[0]
        scale = box_scale(z, y)
        best_j, best_r, row_min = np.empty((k, 1), dtype=np.int64), np.empty((k, 1)), np.empty(k)
        vs = np.ascontiguousarray(np.asarray(v, dtype=np.float64) / scale)
        CellPricer(z, y, 1.0 / scale).scan(np.zeros(k), vs, np.inf, best_j, best_r, row_min)
        return row_min * scale, best_j[:, 0].copy()
    if pricing != "full":
        raise ValueError(f"pricing must be 'full', 'cells' or 'auto', got {pricing!r}.")
    k = z.shape[0]
    val = np.empty(k)
    arg = np.empty(k, dtype=np.int64)
    for sl in row_chunks(k, y.shape[0]):
        D = cdist(z[sl], y)
        D -= v[None, :]  # in place: one block of chunk size at a time
        j = np.argmin(D, axis=1)
        arg[sl] = j
        val[sl] = D[np.arange(D.shape[0]), j]
    return val, arg
