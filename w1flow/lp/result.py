"""What the exact W1 LP returns: :class:`LPResult` (every solver), :class:`SimplexResult` (w1flow's
own network simplex, with its basis and statistics), :class:`W1Value` (a value without a plan)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

__all__ = ["LPResult", "SimplexResult", "W1Value", "LPError"]


class LPError(RuntimeError):
    """The exact transport LP did not reach optimality."""


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
        ``"optimal"``, ``"max_iter_reached"``, ``"infeasible"``, ``"unbounded"`` or (w1flow's
        network simplex) ``"not_certified"``.
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

    def plain(self):
        """This result as a plain :class:`LPResult` (the plan, duals and status only)."""
        if type(self) is LPResult:
            return self
        return LPResult(**{f.name: getattr(self, f.name) for f in fields(LPResult)})


@dataclass(frozen=True)
class SimplexResult(LPResult):
    """An :class:`LPResult` from w1flow's network simplex (sparse or warm-started), or from a dense
    solve asked to keep its basis.

    Attributes
    ----------
    basis : TransportBasis or None
        The optimal basis, to warm-start the next solve of the same masses and data (None when the
        solve was not optimal, or when it was warm-started: the given basis was updated in place).
    stats : WarmSolveStats or None
        The network simplex's work (pivots, rounds, certificate passes, arcs, gap, timings).
    info : dict or None
        The coarse level of a sparse solve: ``leaf``, ``coarse_shape``, ``coarse_seconds``,
        ``basis_seconds``, ``levels``.
    """

    basis: Any = None
    stats: Any = None
    info: Any = None


class W1Value:
    """An exact W1 value without a plan (the 1-D closed form), shaped like an :class:`LPResult`."""

    status = "optimal"
    message = "optimal"
    success = True

    def __init__(self, cost):
        self.cost = float(cost)
