"""One entry to the exact W1 LP: :func:`solve`, and the one place that picks dense, sparse or the
line (:func:`choose_method`, :func:`w1_value`)."""

from __future__ import annotations

import dataclasses
import logging

from .budget import DEFAULT_MEMORY_BUDGET, fits_dense
from .costs import plan_cost
from .dense import solve_w1_lp
from .line import line_lp, line_w1
from .netsimplex import basis_from_plan, warm_solve
from .result import SimplexResult
from .sparse import solve_sparse

logger = logging.getLogger(__name__)

__all__ = ["solve", "choose_method", "method_for", "w1_value", "METHODS", "INCREMENTAL_MIN_PAIRS", "SPARSE_MIN_PAIRS",
           "resolves_incrementally"]

#: The ``method`` values :func:`solve` takes.
METHODS = ("auto", "dense", "sparse", "incremental")

#: The rule of ``ExactPotential(method="auto")``: a re-solve of the same masses and data (an
#: uncapped flow's next step) starts from the previous optimal basis when the problem has at least
#: this many pairs n·m (n = m = 200). Measured (``benchmarks/bench_defaults.py``, uncapped Euler on
#: the demo problem, d = 2): incremental 1.1x faster than dense re-solves at n = 50, 1.5x at 100,
#: 2.5x at 200, 4.2x at 500, 1.8x at 1000, 4.6x at 2000 (``docs/performance.md``); below 4·10^4
#: pairs it gains at most 1.5x on flows of under 0.2 s, and they keep the dense path (bitwise
#: the results of w1flow 0.1).
INCREMENTAL_MIN_PAIRS = 40_000


#: The rule of ``method="auto"`` for an LP from scratch: the certified sparse LP from this many
#: pairs n·m on (n = m = 1000), or whenever the dense LP's matrices do not fit the memory budget;
#: the dense LP below. The sparse LP's own start solves its coarse level by the same rule
#: (:func:`~w1flow.lp.sparse.coarse_start`). Measured (``benchmarks/bench_auto.py``, one cold LP,
#: dense and sparse side by side, best of 3, quiet 2 cores, the six instances of seed 0;
#: ``docs/performance.md``), sparse / dense time at n = 1000: 0.44-0.93 (n·m = 7.5·10^5-10^6),
#: 1500: 0.35-0.46, 2000: 0.17-0.26; at 750 0.62-1.65 and at 500 0.84-2.42, where the dense LP
#: stays. (Until 2026-12-06 it was 4·10^6, n = m = 2000, measured when the sparse LP was slower.)
SPARSE_MIN_PAIRS = 1_000_000


def resolves_incrementally(n, m, cold_method):
    """The rule of ``method="auto"``: re-solve an n × m problem from the previous basis when
    ``n·m >= INCREMENTAL_MIN_PAIRS``, or when its cold solve is the sparse one."""
    return cold_method == "sparse" or n * m >= INCREMENTAL_MIN_PAIRS


def method_for(sparse):
    """The ``method`` of the ``sparse=`` option of :class:`~w1flow.ExactPotential` and
    :func:`w1flow.metrics.w1` (``False``: ``"dense"``, ``True``: ``"sparse"``, ``"auto"``: ``"auto"``)."""
    if sparse == "auto":
        return "auto"
    return "sparse" if sparse else "dense"


def choose_method(method, n, m, max_memory, d=None):
    """The solver :func:`solve` runs for an n × m problem in dimension ``d``: ``"auto"`` is the
    line's monotone plan in d = 1 (``"sparse"`` there: exact in O((n + m) log(n + m)); POT's dense
    simplex can cycle on tied 1-D costs until its pivot cap, minutes at 10⁶ pairs), else the dense
    LP below :data:`SPARSE_MIN_PAIRS` pairs when its matrices fit ``max_memory`` bytes (``None``:
    always), else the sparse one; any other method is kept."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}.")
    if method == "auto" and d == 1:
        return "sparse"
    if method == "auto":
        return "dense" if n * m < SPARSE_MIN_PAIRS and fits_dense(n, m, max_memory) else "sparse"
    return method


def solve(x, a, y, b, *, method="auto", max_memory=DEFAULT_MEMORY_BUDGET, basis=None, num_itermax=None,
          cost=None, potentials_init=None, keep_basis=False):
    """The exact W1 LP between validated weighted clouds ``(x, a)`` and ``(y, b)``.

    Parameters
    ----------
    x : ndarray, shape (n, d)
    a : ndarray, shape (n,)
    y : ndarray, shape (m, d)
    b : ndarray, shape (m,)
    method : {"auto", "dense", "sparse", "incremental"}
        ``"dense"``: POT's network simplex on dense n × m matrices (:func:`~w1flow.lp.dense.solve_w1_lp`;
        in 1-D the plan is the monotone one, the duals POT's). ``"sparse"``: no n × m matrix —
        on the line the monotone plan with duals from the CDFs (:func:`~w1flow.lp.line.line_lp`),
        else a coarse-to-fine start made optimal by w1flow's certified network simplex
        (:func:`~w1flow.lp.sparse.solve_sparse`). ``"incremental"``: the certified network simplex
        from ``basis`` (an optimal basis of an earlier solve of the same masses and data, updated
        in place). ``"auto"``: dense below :data:`SPARSE_MIN_PAIRS` pairs n·m when it fits
        ``max_memory``, else sparse (:func:`choose_method`); a dense LP that fails (POT's simplex can
        cycle on tie-heavy problems) is solved again by the sparse path (:func:`dense_fallback`).
    max_memory : float or None
        Budget in bytes for the dense LP's matrices (:class:`~w1flow.MemoryBudgetError` past it).
    basis : TransportBasis, optional
        The start of ``method="incremental"`` (required there).
    num_itermax : int, optional
        Pivot cap of the dense LP and of the sparse solve.
    cost, potentials_init : optional
        Passed to the dense LP (a precomputed ``cdist(x, y)``; POT's initial duals).
    keep_basis : bool
        Return the optimal basis of a dense or sparse solve (to warm-start a later
        ``method="incremental"`` solve) in a :class:`SimplexResult`.

    Returns
    -------
    LPResult
        A :class:`SimplexResult` (with ``basis``, ``stats``, ``info``) from the network simplex or
        when ``keep_basis``. A solve that is not optimal has a status other than ``"optimal"``
        (``"not_certified"`` for w1flow's network simplex); nothing is raised.
    """
    chosen = choose_method(method, x.shape[0], y.shape[0], max_memory, x.shape[1])
    if chosen == "incremental":
        return _warm(basis, x, a, y, b)
    if chosen == "sparse" and x.shape[1] == 1:  # the line: the monotone plan, no matrix
        return line_lp(x, a, y, b)
    if chosen == "sparse":
        return _sparse(x, a, y, b, num_itermax)
    lp = solve_w1_lp(x, a, y, b, num_itermax=num_itermax, max_memory=max_memory, cost=cost,
                     potentials_init=potentials_init)
    if method == "auto" and not lp.success:
        lp = dense_fallback(x, a, y, b, lp, num_itermax)
    if not (keep_basis and lp.success):
        return lp
    if isinstance(lp, SimplexResult) and lp.basis is not None:
        return lp
    # entries of round-off mass (POT returns some of 1e-16 on degenerate problems) would become
    # zero-flow arcs below a column and break the tree's strong feasibility
    real = lp.mass > 1e-14 * float(lp.mass.max())
    return SimplexResult(**vars(lp), basis=basis_from_plan(x, a, y, b, lp.rows[real], lp.cols[real], lp.u, lp.v))


def dense_fallback(x, a, y, b, failed, num_itermax=None):
    """The LP from scratch by the certified sparse path after the dense LP ``failed`` (d ≥ 2: on
    the line ``"auto"`` never takes the dense LP): what ``method="auto"`` does then.

    POT's network simplex can cycle on problems with many exactly tied costs (points on a few
    positions, data on a line embedded in the plane: ``result_code`` 3 at any ``numItermax``,
    measured up to 10⁸ on a 16 × 679 problem); w1flow's network simplex keeps strongly feasible
    trees, which cannot cycle, and certifies its answer. The result's message names both; if the
    sparse LP fails too, its failure is returned.
    """
    logger.warning("%s; solving it by the certified sparse LP instead", failed.message)
    lp = _sparse(x, a, y, b, num_itermax)
    return dataclasses.replace(lp, message=f"{lp.message} (the dense LP failed first: {failed.message})")


def _warm(basis, x, a, y, b):
    if basis is None or not basis.matches(a, y, b):
        raise ValueError("method='incremental' needs the basis of an earlier solve of the same masses and data.")
    res = warm_solve(basis, x)
    cost = plan_cost(x, y, res.rows, res.cols, res.mass)
    if res.ok:
        return SimplexResult(rows=res.rows, cols=res.cols, mass=res.mass, u=res.u, v=res.v, cost=cost, result_code=1,
                             status="optimal", message=res.message, stats=res.stats)
    return SimplexResult(rows=res.rows, cols=res.cols, mass=res.mass, u=res.u, v=res.v, cost=cost, result_code=0,
                         status="not_certified", message=res.message, stats=res.stats)


def _sparse(x, a, y, b, num_itermax):
    res = solve_sparse(x, a, y, b, max_pivots=num_itermax)
    cost = plan_cost(x, y, res.rows, res.cols, res.mass)
    if not res.ok:
        message = f"sparse exact LP not certified optimal on a {x.shape[0]} x {y.shape[0]} problem: {res.message}"
        return SimplexResult(rows=res.rows, cols=res.cols, mass=res.mass, u=res.u, v=res.v, cost=cost, result_code=0,
                             status="not_certified", message=message, stats=res.stats, info=res.info)
    shape = res.info["coarse_shape"]
    return SimplexResult(rows=res.rows, cols=res.cols, mass=res.mass, u=res.u, v=res.v, cost=cost, result_code=1,
                         status="optimal",
                         message=f"optimal (sparse, coarse {shape[0]} x {shape[1]}; " + res.message.split("(", 1)[1],
                         basis=res.basis, stats=res.stats, info=res.info)


def w1_value(x, a, y, b, max_memory=DEFAULT_MEMORY_BUDGET, method="dense"):
    """Exact W1 between validated clouds: the 1-D quantile formula, else :func:`solve` with ``method``.

    Returns an object with ``cost``, ``status``, ``message`` and ``success`` (an
    :class:`LPResult` in d > 1, whose failure is reported, never raised).
    """
    if x.shape[1] == 1:
        return line_w1(x, a, y, b)
    return solve(x, a, y, b, method=method, max_memory=max_memory)

