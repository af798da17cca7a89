"""The exact 1-D W1 flow through quantile functions (no LP).

On the line the monotone (quantile) coupling is optimal, and the Kantorovich potential has the
explicit derivative

.. math::  φ'(z) = \\mathrm{sign}\\big(F_ν(z) − F_μ(z)\\big),\\qquad
           W_1(μ, ν) = ∫ |F_μ − F_ν|\\,dz = ∫_0^1 |Q_μ(u) − Q_ν(u)|\\,du,

so φ is high on the particles and low on the data, and the flow ``dY/dt = −φ'(Y)`` moves mass
where ``F_μ > F_ν`` to the right. At the particles themselves the CDFs jump, so the velocity comes
from the monotone plan: ``V_i = Σ_j (G_ij/a_i) sign(y_j − x_i)``.

The flow of the measure is explicit in quantile coordinates: every quantile level u moves at unit
speed toward ``Q_ν(u)`` and stops there,

.. math::  Q_t(u) = Q_0(u) + \\mathrm{sign}(Q_ν(u) − Q_0(u))\\,\\min(t, |Q_ν(u) − Q_0(u)|),

which stays non-decreasing in u (targets are ordered), so ``Q_t`` is the quantile function of
``μ_t`` and ``W_1(μ_t, ν) = ∫_0^1 (|Q_0(u) − Q_ν(u)| − t)^+ du``. With equal weights and n = m
this is the capped flow of the particles; with a plan that splits an atom, it is the flow of the
sub-particles (``Euler(split=True)``, ``CappedEuler(split=True)``). Cost: O((n + m) log(n + m))
per evaluation. The closed forms :func:`~w1flow.closed_forms.quantile_flow` and
:func:`~w1flow.closed_forms.quantile_flow_w1` live in :mod:`w1flow.closed_forms` (re-exported here).
"""

from __future__ import annotations

import numpy as np

from ..lp import LPResult, monotone_plan
from .._validation import require_1d, validate_measures
from ..closed_forms import quantile_flow, quantile_flow_w1
from .base import PotentialOracle
from .exact import ExactKantorovichPotential

__all__ = ["QuantilePotential", "QuantileKantorovichPotential", "quantile_flow", "quantile_flow_w1"]

#: CDF differences below this are treated as 0 (round-off of cumulative sums).
_CDF_TOL = 1e-12


def _cdf_on_grid(s, pts, w):
    """Right-continuous CDF ``F(s_k) = Σ_{p_i <= s_k} w_i`` at grid points ``s``."""
    order = np.argsort(pts, kind="stable")
    cw = np.concatenate(([0.0], np.cumsum(w[order])))
    return cw[np.searchsorted(pts[order], s, side="right")]


class QuantileKantorovichPotential(ExactKantorovichPotential):
    """Exact 1-D Kantorovich potential from the CDFs, with the monotone plan.

    It is an :class:`~w1flow.ExactKantorovichPotential` (plan, ``plan_rows``…, ``target_index``,
    ``velocity``, so :class:`~w1flow.CappedEuler` works with it) whose ``value`` and ``gradient``
    are the quantile formulas: ``φ' = sign(F_ν − F_μ)`` between support points, 0 outside their
    hull, ``φ = 0`` at the leftmost support point. ``u = φ(x)``, ``v = −φ(y)`` play the LP duals.

    Attributes beyond the exact potential:

    Attributes
    ----------
    grid : ndarray
        Sorted support points of μ and ν (the breakpoints of φ).
    slopes : ndarray
        ``sign(F_ν − F_μ)`` on each interval ``[grid[k], grid[k+1])``.
    """

    def __init__(self, x, a, y, b):
        x1, y1 = x[:, 0], y[:, 0]
        s = np.unique(np.concatenate((x1[a > 0], y1[b > 0])))
        diff = _cdf_on_grid(s, y1, b) - _cdf_on_grid(s, x1, a)
        diff[np.abs(diff) <= _CDF_TOL] = 0.0
        self.grid = s
        self.slopes = np.sign(diff[:-1]) if s.size > 1 else np.zeros(0)
        self._phi_grid = np.concatenate(([0.0], np.cumsum(self.slopes * np.diff(s))))
        rows, cols, mass = monotone_plan(x1, a, y1, b)
        cost = float(np.dot(mass, np.abs(x1[rows] - y1[cols])))
        lp = LPResult(
            rows=np.ascontiguousarray(rows, dtype=np.int64),
            cols=np.ascontiguousarray(cols, dtype=np.int64),
            mass=np.ascontiguousarray(mass, dtype=np.float64),
            u=self._value1(x1),
            v=-self._value1(y1),
            cost=cost,
            result_code=1,
            status="optimal",
            message="optimal (exact 1-D monotone plan)",
        )
        super().__init__(x, a, y, b, lp)

    def _interval(self, z1):
        k = np.searchsorted(self.grid, z1, side="right") - 1
        inside = (k >= 0) & (k < self.grid.size - 1)
        return k, inside

    def _value1(self, z1):
        k, inside = self._interval(z1)
        out = np.where(k < 0, self._phi_grid[0], self._phi_grid[-1])
        ki = k[inside]
        out[inside] = self._phi_grid[ki] + self.slopes[ki] * (z1[inside] - self.grid[ki])
        return out

    def value(self, z):
        return self._value1(z[:, 0])

    def gradient(self, z):
        """``φ'(z) = sign(F_ν − F_μ)`` on the interval ``[grid[k], grid[k+1])`` holding z; 0 outside."""
        k, inside = self._interval(z[:, 0])
        out = np.zeros((z.shape[0], 1))
        out[inside, 0] = self.slopes[k[inside]]
        return out


class QuantilePotential(PotentialOracle):
    """Oracle: the exact 1-D Kantorovich potential from CDFs and the monotone plan (no LP).

    Same plan, velocities and W1 as :class:`~w1flow.ExactPotential` in 1-D, in
    O((n + m) log(n + m)) time and O(n + m) memory. Raises ``ValueError`` for d > 1.
    """

    exact_w1 = True
    provides_plan = True

    def __call__(self, x, a, y, b, t=0.0):
        """The exact 1-D potential between ``(x, a)`` and ``(y, b)``."""
        x, a, y, b = validate_measures(x, a, y, b)
        require_1d(x, "QuantilePotential")
        self.counters["evaluations"] += 1
        return QuantileKantorovichPotential(x, a, y, b)
