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
sub-particles (``simulate(..., split=True)``). Cost: O((n + m) log(n + m)) per evaluation.
"""

from __future__ import annotations

import numpy as np

from .._lp import LPResult, monotone_plan
from .._validation import as_points, as_weights, check_same_dimension
from .base import PotentialOracle, validate_measures
from .exact import ExactKantorovichPotential

__all__ = ["QuantilePotential", "QuantileKantorovichPotential", "quantile_flow", "quantile_flow_w1"]

#: CDF differences below this are treated as 0 (round-off of cumulative sums).
_CDF_TOL = 1e-12


def _require_1d(x, what):
    if x.shape[1] != 1:
        raise ValueError(
            f"{what} is 1-D only, but the points have dimension {x.shape[1]}. Use ExactPotential "
            "(any dimension) or EntropicPotential, or project to a line first."
        )


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

    Attributes beyond the exact potential
    ------------------------------------
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

    def __call__(self, x, a, y, b, t=0.0):
        """The exact 1-D potential between ``(x, a)`` and ``(y, b)``."""
        x, a, y, b = validate_measures(x, a, y, b)
        _require_1d(x, "QuantilePotential")
        self.counters["evaluations"] += 1
        return QuantileKantorovichPotential(x, a, y, b)

    def __repr__(self):
        return "QuantilePotential()"


def _inputs(x0, a, y, b):
    x0 = as_points(x0, "x0")
    y = as_points(y, "y")
    check_same_dimension(x0, y, "x0", "y")
    _require_1d(x0, "the quantile flow")
    a = as_weights(a, x0.shape[0], "a")
    b = as_weights(b, y.shape[0], "b")
    return x0, a, y, b


def quantile_flow(x0, a, y, b, t):
    """Positions at time ``t`` of the exact 1-D W1 flow, in quantile (sub-particle) form.

    Parameters
    ----------
    x0 : array_like, shape (n,) or (n, 1)
        Initial particles.
    a : array_like or None
        Their weights (uniform if None).
    y : array_like, shape (m,) or (m, 1)
        Data.
    b : array_like or None
        Data weights (uniform if None).
    t : float
        Time ``>= 0``.

    Returns
    -------
    z : ndarray, shape (k, 1)
        Positions of the pieces of the monotone plan, ``x_i`` moved at unit speed toward ``y_j``
        and stopped on arrival.
    w : ndarray, shape (k,)
        Their masses ``G_ij`` (a probability vector).
    parent : ndarray of int, shape (k,)
        Index in ``x0`` of each piece (with equal weights and n = m: a permutation of
        ``arange(n)``, and ``z[argsort(parent)]`` are the particles' positions).
    """
    x0, a, y, b = _inputs(x0, a, y, b)
    t = float(t)
    if not t >= 0:
        raise ValueError(f"t must be >= 0, got {t}.")
    rows, cols, mass = monotone_plan(x0[:, 0], a, y[:, 0], b)
    start, end = x0[rows, 0], y[cols, 0]
    dist = np.abs(end - start)
    z = np.where(t >= dist, end, start + np.sign(end - start) * np.minimum(t, dist))
    return z.reshape(-1, 1), mass, rows


def quantile_flow_w1(x0, a, y, b, t):
    """W1 to the data along the exact 1-D flow: ``Σ_k G_k (|x_{r_k} − y_{c_k}| − t)^+``.

    ``t`` may be a scalar or an array of times (the result has its shape).
    """
    x0, a, y, b = _inputs(x0, a, y, b)
    rows, cols, mass = monotone_plan(x0[:, 0], a, y[:, 0], b)
    dist = np.abs(x0[rows, 0] - y[cols, 0])
    tt = np.asarray(t, dtype=np.float64)
    out = np.maximum(dist[None, :] - tt.reshape(-1, 1), 0.0) @ mass
    return float(out[0]) if tt.ndim == 0 else out.reshape(tt.shape)
