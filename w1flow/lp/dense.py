"""The exact W1 linear program, dense: POT's network simplex, used carefully.

* Costs are built from direct differences (:func:`~w1flow.lp.costs.pairwise_distances`), never
  from ``ot.dist`` (the Gram expansion loses about 1e-8 near coincident points).
* ``numItermax`` grows with the problem size (POT's default 1e5 is hit near n = 4000 in 2-D).
* ``result_code`` is checked and turned into a status; a failed LP never passes silently.
* ``numThreads`` is never passed (deprecated and ignored in POT 0.9.7).
* Costs are divided by their largest entry before the LP and the duals multiplied back
  (:func:`~w1flow.lp.costs.cost_scale`): POT compares reduced costs with absolute tolerances.
* A memory budget stops a dense LP before it exhausts memory (:mod:`w1flow.lp.budget`).
* In 1-D the plan is the monotone (north-west corner) coupling (:mod:`w1flow.lp.line`); the duals
  still come from the LP, and complementary slackness holds between any optimal plan and any
  optimal dual.
"""

from __future__ import annotations

import warnings

import numpy as np
import ot

from .budget import DEFAULT_MEMORY_BUDGET, LP_DENSE_MATRICES, check_memory
from .costs import cost_scale, pairwise_distances, plan_cost
from .line import monotone_plan
from .result import LPResult

__all__ = ["solve_w1_lp", "default_num_itermax", "RESULT_CODES"]

#: POT's ``result_code`` → status.
RESULT_CODES = {0: "infeasible", 1: "optimal", 2: "unbounded", 3: "max_iter_reached"}


def default_num_itermax(n, m):
    """A pivot cap for the network simplex that grows with the problem size (at least 1e6)."""
    return int(min(max(10**6, 50 * n * m), 2**31 - 1))


def solve_w1_lp(x, a, y, b, num_itermax=None, max_memory=DEFAULT_MEMORY_BUDGET, cost=None,
                potentials_init=None):
    """Solve the exact W1 LP between weighted clouds with POT (dense n × m matrices).

    Parameters
    ----------
    x : ndarray, shape (n, d)
    a : ndarray, shape (n,), non-negative, sums to 1
    y : ndarray, shape (m, d)
    b : ndarray, shape (m,), non-negative, sums to 1
    num_itermax : int, optional
        Pivot cap; default :func:`default_num_itermax`.
    max_memory : float or None
        Memory budget in bytes for the dense matrices; ``None`` disables the guard.
    cost : ndarray, shape (n, m), optional
        Precomputed ``cdist(x, y)``.
    potentials_init : tuple of ndarray, optional
        ``(u, v)`` to warm-start POT's network simplex (measured in ``docs/performance.md``:
        no gain on the flow's re-solves, so the flow does not use it).

    Returns
    -------
    LPResult
    """
    n, m = x.shape[0], y.shape[0]
    check_memory(n, m, max_memory, n_matrices=LP_DENSE_MATRICES)
    M = pairwise_distances(x, y) if cost is None else cost
    if num_itermax is None:
        num_itermax = default_num_itermax(n, m)
    scale = cost_scale(M)
    M = M / scale  # O(1) costs: the LP's tolerances are absolute (see the module docstring)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kw = {} if potentials_init is None else {"potentials_init": tuple(p / scale for p in potentials_init)}
        G, log = ot.emd(a, b, M, numItermax=int(num_itermax), log=True, **kw)
    del M  # the dense matrices go out of scope here; only the sparse plan is kept
    code = int(log["result_code"])
    status = RESULT_CODES.get(code, f"code_{code}")
    if code == 1:
        message = "optimal"
    else:
        pot_msg = "; ".join(str(w.message) for w in caught) or str(log.get("warning"))
        message = (
            f"exact LP not solved to optimality (POT result_code={code}, {status}) with "
            f"numItermax={num_itermax} on a {n} x {m} problem: {pot_msg}"
        )
    if x.shape[1] == 1 and code == 1:
        rows, cols, mass = monotone_plan(x[:, 0], a, y[:, 0], b)
    else:
        rows, cols = np.nonzero(G)
        mass = G[rows, cols]
    cost_value = plan_cost(x, y, rows, cols, mass)
    return LPResult(  # int64 indices (np.nonzero, argsort: contiguous copies) and float64 values
        rows=np.ascontiguousarray(rows),
        cols=np.ascontiguousarray(cols),
        mass=mass,
        u=log["u"] * scale,
        v=log["v"] * scale,
        cost=cost_value,
        result_code=code,
        status=status,
        message=message,
    )
