"""Distances between weighted point clouds: exact W1 and W2, and sliced W1.

All costs come from direct differences (no Gram expansion), so clouds that nearly coincide
give distances accurate to round-off.
"""

from __future__ import annotations

import numpy as np
import ot

from ._lp import DEFAULT_MEMORY_BUDGET, check_memory, default_num_itermax, solve_w1_lp
from ._validation import as_positive_int
from .potentials.base import validate_measures

__all__ = ["w1", "w2", "sliced_w1", "LPError"]


class LPError(RuntimeError):
    """The exact transport LP did not reach optimality."""


def _clouds(x, y, a, b):
    x, a, y, b = validate_measures(x, a, y, b)
    return x, y, a, b


def _w1_lp(x, a, y, b, max_memory=DEFAULT_MEMORY_BUDGET):
    """Exact W1 LP on validated inputs (1-D: exact quantile formula, no LP)."""
    if x.shape[1] == 1:
        return _W1Value(float(ot.wasserstein_1d(x[:, 0], y[:, 0], a, b, p=1)))
    return solve_w1_lp(x, a, y, b, max_memory=max_memory)


class _W1Value:
    """A W1 value that never fails (1-D closed form), shaped like an LPResult."""

    status = "optimal"
    message = "optimal"
    success = True

    def __init__(self, cost):
        self.cost = cost


def w1(x, y, a=None, b=None, max_memory=DEFAULT_MEMORY_BUDGET):
    """Exact Wasserstein-1 distance between weighted clouds.

    .. math::  W_1(μ, ν) = \\min_{G ∈ Π(a, b)} Σ_{ij} G_{ij} |x_i − y_j|

    Parameters
    ----------
    x : array_like, shape (n, d)
    y : array_like, shape (m, d)
    a, b : array_like, optional
        Weights (uniform by default), normalised to total mass 1.
    max_memory : float or None
        Budget in bytes for the dense matrices of the LP.

    Returns
    -------
    float
        W1 in the units of the coordinates. In 1-D it is the exact ``∫|F_μ − F_ν|``.

    Raises
    ------
    LPError
        If the LP does not reach optimality.
    """
    x, y, a, b = _clouds(x, y, a, b)
    res = _w1_lp(x, a, y, b, max_memory)
    if not res.success:
        raise LPError(res.message)
    return res.cost


def w2(x, y, a=None, b=None, max_memory=DEFAULT_MEMORY_BUDGET):
    """Exact Wasserstein-2 distance ``(min_G Σ G_ij |x_i − y_j|²)^{1/2}``.

    Costs are squared direct differences. Raises :class:`LPError` if the LP fails.
    """
    from scipy.spatial.distance import cdist

    x, y, a, b = _clouds(x, y, a, b)
    n, m = x.shape[0], y.shape[0]
    check_memory(n, m, max_memory, "w2")
    M = cdist(x, y, "sqeuclidean")
    G, log = ot.emd(a, b, M, numItermax=default_num_itermax(n, m), log=True, check_marginals=False)
    if int(log["result_code"]) != 1:
        raise LPError(f"W2 LP not optimal (result_code={log['result_code']}): {log.get('warning')}")
    return float(np.sqrt(max(float(np.sum(G * M)), 0.0)))


def sliced_w1(x, y, a=None, b=None, n_projections=200, seed=None):
    """Monte-Carlo sliced W1: the mean over random unit directions θ of W1(θ·μ, θ·ν).

    Exact 1-D W1 per direction (quantile formula); O((n + m) log(n + m)) per projection, so it
    scales to large clouds. ``seed`` (int or ``np.random.Generator``) makes it reproducible.
    Sliced W1 is a lower bound: ``sliced_w1 <= w1``.
    """
    x, y, a, b = _clouds(x, y, a, b)
    n_projections = as_positive_int(n_projections, "n_projections")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    d = x.shape[1]
    theta = rng.standard_normal((n_projections, d))
    theta /= np.linalg.norm(theta, axis=1, keepdims=True)
    px, py = x @ theta.T, y @ theta.T
    vals = ot.wasserstein_1d(px, py, a, b, p=1)
    return float(np.mean(vals))
