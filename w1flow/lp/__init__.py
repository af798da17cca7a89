"""The exact transport LP, in one place: :func:`solve` (W1: dense, sparse, incremental, the line),
the W2 LP and its barycentric projection, certificates, and the memory budget.

Modules
-------
solver       :func:`solve`, :func:`choose_method` (the one dense/sparse/line decision), :func:`w1_value`
result       :class:`LPResult`, :class:`SimplexResult`, :class:`W1Value`, :class:`LPError`
dense        POT's network simplex on dense matrices (:func:`solve_w1_lp`)
netsimplex   w1flow's certified network simplex, warm-started from a basis (:func:`~w1flow.lp.netsimplex.warm_solve`)
sparse       its cold start without an n × m matrix, coarse to fine (:func:`~w1flow.lp.sparse.solve_sparse`)
line         the monotone plan on the line and the closed-form 1-D value
w2           the W2 LP (:func:`solve_w2_lp`), its value and :func:`barycentric_projection`
certificate  optimality certificates of a plan with duals
budget       the memory budget and row chunking
costs        costs from direct differences (never ``ot.dist``)
cells        k-d cell bounds: dual feasibility (:func:`cell_violations`), pricing (:class:`~w1flow.lp.cells.CellPricer`)
"""

from .budget import (CHUNK_BYTES, DEFAULT_MEMORY_BUDGET, LP_DENSE_MATRICES, MemoryBudgetError, check_memory, dense_bytes,
                     fits_dense, row_chunks)
from .cells import CellScan, cell_violations
from .certificate import Certificate, certify_plan, default_certificate_tol
from .costs import pairwise_distances, plan_cost, unit_directions
from .dense import default_num_itermax, solve_w1_lp
from .line import line_lp, monotone_plan
from .netsimplex import TransportBasis
from .result import LPError, LPResult, SimplexResult, W1Value
from .solver import INCREMENTAL_MIN_PAIRS, METHODS, SPARSE_MIN_PAIRS, choose_method, method_for, resolves_incrementally, solve, w1_value
from .w2 import W2Result, barycentric_projection, solve_w2_lp

__all__ = ["solve", "choose_method", "method_for", "w1_value", "METHODS", "INCREMENTAL_MIN_PAIRS", "SPARSE_MIN_PAIRS", "resolves_incrementally", "LPResult", "SimplexResult", "W1Value",
           "LPError", "MemoryBudgetError", "solve_w1_lp", "solve_w2_lp", "W2Result", "barycentric_projection",
           "line_lp", "monotone_plan", "Certificate", "certify_plan", "default_certificate_tol", "pairwise_distances",
           "plan_cost", "unit_directions", "default_num_itermax", "DEFAULT_MEMORY_BUDGET", "LP_DENSE_MATRICES",
           "CHUNK_BYTES", "dense_bytes", "check_memory", "fits_dense", "row_chunks", "TransportBasis", "CellScan",
           "cell_violations"]
