"""Optimality certificates of a W1 plan with duals: dual feasibility over all pairs (chunked) plus
a zero duality gap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist

from .budget import CHUNK_BYTES, row_chunks
from .costs import plan_cost

__all__ = ["Certificate", "certify_plan", "default_certificate_tol"]


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
