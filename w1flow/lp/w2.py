"""The exact W2 LP (cost ``|x_i − y_j|²`` from direct differences), its value, and the barycentric
projection of its plan (the W2 flow's target map, W2-FE: Huang & Malik, arXiv:2406.13619)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ot
from scipy.spatial.distance import cdist

from .budget import DEFAULT_MEMORY_BUDGET, check_memory
from .costs import cost_scale
from .dense import default_num_itermax

__all__ = ["W2Result", "solve_w2_lp", "barycentric_projection", "c_transform_argmin_sq"]


@dataclass(frozen=True)
class W2Result:
    """Solution of the W2 transport LP.

    Attributes
    ----------
    plan : ndarray, shape (n, m)
        The dense optimal plan G.
    log : dict
        POT's log (``result_code``, ``u``, ``v``, ``cost``, ``warning``) with the duals in units of
        squared length, ``cost = Σ G_ij |x_i − y_j|²``, and ``cost_matrix`` (the squared distances).
    """

    plan: np.ndarray
    log: dict

    @property
    def result_code(self):
        return int(self.log["result_code"])

    @property
    def success(self):
        return self.result_code == 1

    @property
    def v(self):
        return self.log["v"]

    @property
    def cost_matrix(self):
        return self.log["cost_matrix"]

    @property
    def w2(self):
        """``(Σ G_ij |x_i − y_j|²)^{1/2}``: W2 when the LP is optimal."""
        return float(np.sqrt(max(float(np.sum(self.plan * self.log["cost_matrix"])), 0.0)))


def solve_w2_lp(x, a, y, b, max_memory=DEFAULT_MEMORY_BUDGET, what="the W2 plan"):
    """The exact W2 LP (cost ``|x_i − y_j|²`` from direct differences) between weighted clouds.

    Returns
    -------
    W2Result
        The dense plan and POT's log (see :class:`W2Result`).
    """
    n, m = x.shape[0], y.shape[0]
    check_memory(n, m, max_memory, what)
    M = cdist(x, y, "sqeuclidean")
    scale = cost_scale(M)
    G, log = ot.emd(a, b, M / scale, numItermax=default_num_itermax(n, m), log=True)
    log["u"], log["v"] = np.asarray(log["u"]) * scale, np.asarray(log["v"]) * scale
    log["cost"] = float(np.sum(G * M))
    log["cost_matrix"] = M
    return W2Result(plan=G, log=log)


def c_transform_argmin_sq(z, y, v):
    """``argmin_j (|z − y_j|² − v_j)`` for each row of ``z`` (squared differences summed over the
    coordinates)."""
    d2 = np.sum((z[:, None, :] - y[None, :, :]) ** 2, axis=2)
    return np.argmin(d2 - v[None, :], axis=1)


def barycentric_projection(G, a, y, v, x=None, cost=None):
    """The barycentric projection ``T(x_i) = Σ_j G_ij y_j / a_i`` of a dense W2 plan.

    Zero-weight particles (tracers: no plan mass) go to the data point of the c-transform's
    minimiser ``argmin_j (|x_i − y_j|² − v_j)``, taken from the rows of the squared-distance
    matrix ``cost`` when it is given, else from the particles ``x`` (:func:`c_transform_argmin_sq`).

    Returns
    -------
    T : ndarray, shape (n, d)
    """
    T = np.empty((G.shape[0], y.shape[1]), dtype=np.result_type(y, np.float64))
    pos = a > 0
    T[pos] = (G[pos] @ y) / a[pos, None]
    if np.any(~pos):  # tracers: argmin_j |z − y_j|² − v_j (the c-transform's minimiser)
        if cost is not None:
            j = np.argmin(cost[~pos] - np.asarray(v)[None, :], axis=1)
        else:
            j = c_transform_argmin_sq(x[~pos], y, np.asarray(v, dtype=np.float64))
        T[~pos] = y[j]
    return T
