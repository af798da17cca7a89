"""Explicit Runge–Kutta methods from a Butcher tableau: Heun (order 2) and RK4."""

from __future__ import annotations

import numpy as np

from .._validation import as_bool
from .base import Solver, StepResult, _refuse_split

__all__ = ["Heun", "RK4"]


class _ExplicitRK(Solver):
    """Explicit Runge–Kutta step from a Butcher tableau, one field evaluation per stage.

    Each stage evaluates the field at an intermediate ensemble at its own time ``t + c_s dt``
    (mean-field: the whole cloud moves to the stage positions; weights are unchanged). A failed
    field (LP not optimal) stops the step with that field's status. Splitting mode is not
    supported: the plan of one stage says nothing about the next one.
    """

    _a: tuple = ()
    _b: tuple = ()
    _c: tuple = ()

    def __init__(self, split=False):
        if as_bool(split, "split"):
            _refuse_split(self)

    def step(self, ctx, t, dt, x, a, state):
        """One Runge–Kutta step: ``Y + dt Σ_s b_s k_s``, ``k_s = V(Y + dt Σ_r a_sr k_r, t + c_s dt)``."""
        ks = []
        for c_s, row in zip(self._c, self._a):
            xs = x
            for coef, k in zip(row, ks):
                if coef != 0.0:
                    xs = xs + (dt * coef) * k
            f = ctx.field(xs, a, t + c_s * dt)
            if not f.success:
                return StepResult.failed(x, a, f)
            ks.append(np.asarray(f.velocity))
        x_new = x.copy()
        for coef, k in zip(self._b, ks):
            x_new += (dt * coef) * k
        return StepResult(x_new, a)


class Heun(_ExplicitRK):
    """Heun's method (explicit trapezoid), order 2, two field evaluations per step.

    .. math::  k_1 = V(Y_n, t_n),\\quad k_2 = V(Y_n + Δt k_1, t_n + Δt),\\quad
               Y_{n+1} = Y_n + \\tfrac{Δt}{2}(k_1 + k_2).

    Second order needs a smooth field (entropic potential, smooth critic, linear mean-field
    drift); the raw LP flow is piecewise linear with kinks at arrivals, where every method drops
    to first order or chatters.
    """

    order = 2
    name = "heun"
    stability_limit = 2.0
    _a = ((), (1.0,))
    _b = (0.5, 0.5)
    _c = (0.0, 1.0)


class RK4(_ExplicitRK):
    """The classical fourth-order Runge–Kutta method, four field evaluations per step.

    Used as the high-order reference ("fine" solution) in :mod:`w1flow.convergence`.
    """

    order = 4
    name = "rk4"
    stability_limit = 2.785293563405282  # |1 + z + z²/2 + z³/6 + z⁴/24| = 1 at z = −2.7853
    _a = ((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0))
    _b = (1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0)
    _c = (0.0, 0.5, 0.5, 1.0)


# Public home of the classes: checkpoints, run fingerprints and pickles name a class by
# ``__module__.__qualname__``, which stays the module users import it from.
_ExplicitRK.__module__ = "w1flow.solvers"
Heun.__module__ = "w1flow.solvers"
RK4.__module__ = "w1flow.solvers"
