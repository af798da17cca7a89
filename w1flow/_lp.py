"""The exact W1 linear program: POT's network simplex, used carefully.

* Costs are built from direct differences (:func:`scipy.spatial.distance.cdist`), never from
  ``ot.dist``: the Gram expansion |x|² + |y|² − 2x·y loses about 1e-8 near coincident points,
  which is every particle after it arrives.
* ``numItermax`` grows with the problem size (POT's default 1e5 is hit near n = 4000 in 2-D).
* ``result_code`` is checked and turned into a status; a failed LP never passes silently.
* ``numThreads`` is never passed (deprecated and ignored in POT 0.9.7).
* Costs are divided by their largest entry before the LP and the duals multiplied back: POT's
  network simplex compares reduced costs with absolute tolerances, so at coordinates of order
  1e-8 (W2) or 1e-14 (W1) it sees costs as ties and returns a wrong plan "optimal". With
  normalised costs the plan does not depend on the unit of length.
* A memory budget stops a dense LP before it exhausts memory.
* In 1-D the plan is the monotone (north-west corner) coupling, which is optimal for every
  convex cost and unique in the sense that quantiles are matched; the duals still come from
  the LP, and complementary slackness holds between any optimal plan and any optimal dual.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import ot
from scipy.spatial.distance import cdist

__all__ = ["LPResult", "LPError", "solve_w1_lp", "solve_w2_lp", "w1_value", "W1Value",
           "pairwise_distances", "default_num_itermax", "monotone_plan", "MemoryBudgetError",
           "DEFAULT_MEMORY_BUDGET", "Certificate", "certify_plan", "plan_cost", "row_chunks",
           "LP_DENSE_MATRICES", "CHUNK_BYTES", "unit_directions", "default_certificate_tol"]

#: Default memory budget (bytes) for dense cost and plan matrices.
DEFAULT_MEMORY_BUDGET = 4 * 1024**3

#: Dense float64 n x m matrices one exact LP holds at its peak: the cost, the plan and the network
#: simplex's own per-arc arrays (cost, flow, state). Measured: 41 bytes per pair at n = m = 3000
#: (peak RSS of cdist + ot.emd), so 5 matrices; n = m = 10^4 then needs 4.0 GB.
LP_DENSE_MATRICES = 5

#: Rows per chunk of chunked n x m evaluations (certificate, c-transform) are chosen so one chunk
#: of distances stays under this many bytes.
CHUNK_BYTES = 32 * 1024**2

_RESULT_CODES = {0: "infeasible", 1: "optimal", 2: "unbounded", 3: "max_iter_reached"}


class MemoryBudgetError(MemoryError):
    """A dense n × m computation would exceed the configured memory budget."""


class LPError(RuntimeError):
    """The exact transport LP did not reach optimality."""


def pairwise_distances(x, y):
    """Euclidean distances ``|x_i − y_j|`` from direct differences, shape ``(n, m)``."""
    return cdist(x, y, metric="euclidean")


def default_num_itermax(n, m):
    """A pivot cap for the network simplex that grows with the problem size (at least 1e6)."""
    return int(min(max(10**6, 50 * n * m), 2**31 - 1))


def dense_bytes(n, m, n_matrices=3):
    """Bytes used by ``n_matrices`` dense float64 n × m arrays (cost, plan, POT's copy)."""
    return 8 * n * m * n_matrices


def check_memory(n, m, budget, what="the exact LP", n_matrices=3):
    """Raise :class:`MemoryBudgetError` if ``n_matrices`` dense n × m matrices exceed ``budget`` bytes.

    Nothing is allocated: call it before building the matrices.
    """
    if budget is None:
        return
    need = dense_bytes(n, m, n_matrices)
    if need > budget:
        raise MemoryBudgetError(
            f"{what} needs dense {n} x {m} matrices (about {need / 1e9:.2f} GB), over the memory "
            f"budget of {budget / 1e9:.2f} GB. Raise max_memory=..., solve it exactly without the "
            "matrices with ExactPotential(sparse=True) or metrics.w1(..., sparse=True) (certified; "
            "slower per LP), or use a route that scales: the 1-D quantile flow, sliced W1 (metrics.sliced_w1), the entropic potential with a "
            "smaller sample, or the neural critic (CriticPotential). For the exact flow, "
            "CappedEuler needs this LP only once (record its W1 from the plan, not with LPs)."
        )


@dataclass(frozen=True)
class LPResult:
    """Solution of the W1 transport LP between ``(x, a)`` and ``(y, b)``.

    Attributes
    ----------
    rows, cols, mass : ndarray
        Sparse plan: ``G[rows[k], cols[k]] = mass[k] > 0`` (at most n + m − 1 entries).
    u, v : ndarray
        Dual potentials, ``u_i + v_j <= |x_i − y_j|`` with equality on the plan's support.
    cost : float
        ``Σ G_ij |x_i − y_j|``, the W1 distance when ``status == "optimal"``.
    result_code : int
        POT's code (1 = optimal).
    status : str
        ``"optimal"``, ``"max_iter_reached"``, ``"infeasible"`` or ``"unbounded"``.
    message : str
        Human-readable explanation.
    """

    rows: np.ndarray
    cols: np.ndarray
    mass: np.ndarray
    u: np.ndarray
    v: np.ndarray
    cost: float
    result_code: int
    status: str
    message: str

    @property
    def success(self):
        return self.status == "optimal"


def monotone_plan(x1, a, y1, b):
    """North-west-corner (quantile) coupling of two 1-D weighted clouds, in sparse form.

    Ties in position are broken by index, so the rule is deterministic. Every entry has
    positive mass, so zero-weight points get none.
    """
    ix = np.argsort(x1, kind="stable")
    iy = np.argsort(y1, kind="stable")
    ca = np.cumsum(a[ix])
    cb = np.cumsum(b[iy])
    ca[-1] = cb[-1] = 1.0  # both normalised; remove round-off at the end
    breaks = np.union1d(ca, cb)
    lo = np.concatenate(([0.0], breaks[:-1]))
    keep = breaks > lo  # a zero first weight makes a zero-length first piece
    lo, hi = lo[keep], breaks[keep]
    # the quantile interval (lo, hi] lies in one particle's and one data point's mass: those
    # whose cumulative mass first reaches its midpoint (both have positive weight)
    mid = 0.5 * (lo + hi)
    rows, cols = ix[np.searchsorted(ca, mid)], iy[np.searchsorted(cb, mid)]
    return rows, cols, hi - lo


def solve_w1_lp(x, a, y, b, num_itermax=None, max_memory=DEFAULT_MEMORY_BUDGET, cost=None,
                potentials_init=None):
    """Solve the exact W1 LP between weighted clouds.

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
    scale = _cost_scale(M)
    M = M / scale  # O(1) costs: the LP's tolerances are absolute (see the module docstring)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kw = {} if potentials_init is None else {"potentials_init": tuple(p / scale for p in potentials_init)}
        G, log = ot.emd(a, b, M, numItermax=int(num_itermax), log=True, **kw)
    del M  # the dense matrices go out of scope here; only the sparse plan is kept
    code = int(log["result_code"])
    status = _RESULT_CODES.get(code, f"code_{code}")
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


def plan_cost(x, y, rows, cols, mass):
    """``Σ_k mass_k |x_{rows_k} − y_{cols_k}|`` from direct differences, O(nnz · d)."""
    diff = x[rows] - y[cols]
    return float(np.dot(mass, np.sqrt(np.einsum("ij,ij->i", diff, diff))))


def row_chunks(k, m, chunk_bytes=CHUNK_BYTES):
    """Slices of ``range(k)`` such that a float64 block of (rows, m) stays under ``chunk_bytes``.

    Every chunked k × m evaluation (certificate, c-transform, soft-min, Lipschitz over pairs)
    goes through this, so memory stays O(chunk_bytes + (k + m) d) whatever the sizes.
    """
    step = max(1, int(chunk_bytes) // (8 * max(m, 1)))
    for start in range(0, k, step):
        yield slice(start, min(k, start + step))


class W1Value:
    """An exact W1 value without a plan (the 1-D closed form), shaped like an :class:`LPResult`."""

    status = "optimal"
    message = "optimal"
    success = True

    def __init__(self, cost):
        self.cost = float(cost)


def w1_value(x, a, y, b, max_memory=DEFAULT_MEMORY_BUDGET):
    """Exact W1 between validated clouds: the 1-D quantile formula, else :func:`solve_w1_lp`.

    Returns an object with ``cost``, ``status``, ``message`` and ``success`` (an
    :class:`LPResult` in d > 1, whose failure is reported, never raised).
    """
    if x.shape[1] == 1:
        return W1Value(ot.wasserstein_1d(x[:, 0], y[:, 0], a, b))  # p = 1 is POT's default
    return solve_w1_lp(x, a, y, b, max_memory=max_memory)


def solve_w2_lp(x, a, y, b, max_memory=DEFAULT_MEMORY_BUDGET, what="the W2 plan"):
    """The exact W2 LP (cost ``|x_i − y_j|²`` from direct differences) between weighted clouds.

    Returns
    -------
    G : ndarray, shape (n, m)
        The dense optimal plan.
    log : dict
        POT's log (``result_code``, ``u``, ``v``, ``cost``, ``warning``) and ``cost_matrix``.
    """
    n, m = x.shape[0], y.shape[0]
    check_memory(n, m, max_memory, what)
    M = cdist(x, y, "sqeuclidean")
    scale = _cost_scale(M)
    G, log = ot.emd(a, b, M / scale, numItermax=default_num_itermax(n, m), log=True)
    log["u"], log["v"] = np.asarray(log["u"]) * scale, np.asarray(log["v"]) * scale
    log["cost"] = float(np.sum(G * M))
    log["cost_matrix"] = M
    return G, log


def _cost_scale(M):
    """The largest cost (1 when all costs are 0): the LP runs on ``M / scale``."""
    top = float(M.max()) if M.size else 0.0
    return top if top > 0 and np.isfinite(top) else 1.0


@dataclass(frozen=True)
class Certificate:
    """Optimality certificate of a plan with duals: dual feasibility plus a zero duality gap.

    Attributes
    ----------
    ok : bool
        ``max_violation <= tol`` and ``|gap| <= tol``.
    max_violation : float
        ``max_ij (u_i + v_j − |x_i − y_j|)`` (≤ 0 up to round-off for feasible duals).
    gap : float
        ``primal − dual`` with ``primal = Σ G_ij |x_i − y_j|`` and ``dual = Σ a_i u_i + Σ b_j v_j``.
    primal, dual, tol : float
    message : str
    """

    ok: bool
    max_violation: float
    gap: float
    primal: float
    dual: float
    tol: float
    message: str


def default_certificate_tol(*arrays):
    """Certificate tolerance ``1e-9 · max |coordinate|`` of the given clouds.

    Relative to the problem's own scale (distances carry round-off of order ``eps · |x|``, LP
    duals about 1e-13 of that), so the certificate means the same at every unit of length.
    """
    return 1e-9 * max(float(np.max(np.abs(arr))) for arr in arrays)


def certify_plan(x, a, y, b, rows, cols, mass, u, v, tol, chunk_bytes=CHUNK_BYTES):
    """Check that the sparse plan ``(rows, cols, mass)`` is optimal for W1 between ``(x, a)`` and ``(y, b)``.

    Weak duality gives ``Σ a u + Σ b v <= W1 <= Σ G |x − y|`` when ``u_i + v_j <= |x_i − y_j|``
    for all i, j; so dual feasibility (to ``tol``) and a duality gap within ``tol`` prove the plan
    is optimal up to ``2 tol``. The O(nm) feasibility check runs on row chunks of ``cdist``
    (at most ``chunk_bytes`` of distances at a time), so memory stays O((n + m) d).
    The plan's marginals are not checked (the caller keeps them by construction).
    """
    n, m = x.shape[0], y.shape[0]
    worst = -np.inf
    for sl in row_chunks(n, m, chunk_bytes):
        D = cdist(x[sl], y)
        D -= u[sl, None]
        D -= v[None, :]
        worst = max(worst, float(-D.min()))  # max of u_i + v_j − |x_i − y_j|
    primal = plan_cost(x, y, rows, cols, mass)
    dual = float(np.dot(a, u) + np.dot(b, v))
    gap = primal - dual
    feasible, closed = worst <= tol, abs(gap) <= tol
    if feasible and closed:
        message = f"plan certified optimal (max dual violation {worst:.3g}, gap {gap:.3g}, tol {tol:.3g})"
    else:
        message = "; ".join(
            ([] if feasible else [f"dual feasibility violated by {worst:.3g}"])
            + ([] if closed else [f"duality gap {gap:.3g} (plan cost {primal:.12g}, dual value {dual:.12g})"]))
        message = f"optimality certificate failed ({message}; tol {tol:.3g})"
    return Certificate(ok=bool(feasible and closed), max_violation=worst, gap=gap, primal=primal, dual=dual, tol=float(tol),
                       message=message)
