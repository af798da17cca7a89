"""The exact W1 LP on the line: the monotone (north-west corner) plan, optimal for every convex
cost and unique in the sense that quantiles are matched, with duals from the CDFs; and the
closed-form value ``∫ |F_μ − F_ν|``."""

from __future__ import annotations

import numpy as np
import ot

from .costs import plan_cost
from .result import LPResult, W1Value

__all__ = ["monotone_plan", "line_lp", "line_w1"]


def _closed_cdf(w):
    """Cumulative sums of normalised weights, closed at exactly 1 from the last positive weight on.

    Round-off leaves the plain sum 1 ± 1e-16: points of zero weight after the last positive one
    would then take a sliver of mass, or a quantile above the last sum would fall past the end.
    Clipped at 1, the sums stay non-decreasing.
    """
    c = np.minimum(np.cumsum(w), 1.0)
    c[np.flatnonzero(w > 0)[-1]:] = 1.0
    return c


def monotone_plan(x1, a, y1, b):
    """North-west-corner (quantile) coupling of two 1-D weighted clouds, in sparse form.

    Ties in position are broken by index, so the rule is deterministic. Every entry has
    positive mass, so zero-weight points get none.
    """
    ix = np.argsort(x1, kind="stable")
    iy = np.argsort(y1, kind="stable")
    ca = _closed_cdf(a[ix])
    cb = _closed_cdf(b[iy])
    breaks = np.union1d(ca, cb)
    lo = np.concatenate(([0.0], breaks[:-1]))
    keep = breaks > lo  # a zero first weight makes a zero-length first piece
    lo, hi = lo[keep], breaks[keep]
    # the quantile interval (lo, hi] lies in one particle's and one data point's mass: those
    # whose cumulative mass first reaches its midpoint (both have positive weight)
    mid = 0.5 * (lo + hi)
    rows, cols = ix[np.searchsorted(ca, mid)], iy[np.searchsorted(cb, mid)]
    mass = hi - lo
    # two cumulative sums that are equal in exact arithmetic can differ by an ulp (they are summed
    # in different orders), which cuts a sliver (~1e-18) off a piece: the same (row, col) twice in a
    # row. Merged, so each pair appears once (the plan's contract; G[rows, cols] = mass keeps the last)
    new = np.ones(rows.size, dtype=bool)
    new[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    if not new.all():
        starts = np.flatnonzero(new)
        rows, cols, mass = rows[starts], cols[starts], np.add.reduceat(mass, starts)
    return rows, cols, mass


def line_lp(x, a, y, b):
    """The exact W1 LP on the line without an n × m matrix: the monotone plan and CDF duals.

    The monotone (north-west corner) plan is the one the dense LP returns in 1-D
    (:func:`~w1flow.lp.dense.solve_w1_lp`). The duals are ``u = φ(x)``, ``v = −φ(y)`` with
    ``φ' = sign(F_ν − F_μ)`` between consecutive support points (φ = 0 at the leftmost): φ is
    1-Lipschitz, so the duals are feasible for every pair, and ``Σ a φ(x) − Σ b φ(y) = ∫ |F_μ − F_ν| = W1``,
    so they are optimal (complementary slackness then holds with any optimal plan).
    O((n + m) log(n + m)).

    Returns
    -------
    LPResult
    """
    x1, y1 = x[:, 0], y[:, 0]
    s = np.unique(np.concatenate((x1[a > 0], y1[b > 0])))

    def cdf(pts, w):  # right-continuous CDF at the support points s
        order = np.argsort(pts, kind="stable")
        cw = np.concatenate(([0.0], np.cumsum(w[order])))
        return cw[np.searchsorted(pts[order], s, side="right")]

    slopes = np.sign(cdf(y1, b) - cdf(x1, a))[:-1]
    phi_grid = np.concatenate(([0.0], np.cumsum(slopes * np.diff(s))))

    def phi(z):  # linear between support points, constant outside their hull
        k = np.clip(np.searchsorted(s, z, side="right") - 1, 0, s.size - 1)
        out = phi_grid[k].copy()
        inside = (z > s[0]) & (k < s.size - 1)
        out[inside] += slopes[k[inside]] * (z[inside] - s[k[inside]])
        return out

    rows, cols, mass = monotone_plan(x1, a, y1, b)
    return LPResult(rows=np.ascontiguousarray(rows, dtype=np.int64), cols=np.ascontiguousarray(cols, dtype=np.int64),
                    mass=np.ascontiguousarray(mass, dtype=np.float64), u=phi(x1), v=-phi(y1),
                    cost=plan_cost(x, y, rows, cols, mass), result_code=1, status="optimal",
                    message="optimal (1-D monotone plan, no n x m matrix)")


def line_w1(x, a, y, b):
    """Exact W1 between validated clouds on the line (``x``, ``y`` of shape (n, 1)), closed form."""
    return W1Value(ot.wasserstein_1d(x[:, 0], y[:, 0], a, b))  # p = 1 is POT's default
