"""Schemes that use the structure of a :class:`~w1flow.second_order.SecondOrderODE`: symplectic
Euler and velocity Verlet (described in the docstring of :mod:`w1flow.second_order`)."""

from __future__ import annotations

import numpy as np

from ..problems import MeanFieldField
from .base import Solver, StepResult

__all__ = ["SymplecticEuler", "VelocityVerlet"]


class SymplecticEuler(Solver):
    """Semi-implicit (symplectic) Euler: ``v' = v + Δt A(q, v, t)``, then ``q' = q + Δt v'``.

    Order 1, one acceleration per step. For forces ``A(q)`` it is symplectic: the energy of a
    harmonic oscillator oscillates within O(Δt) for all time.
    """

    order = 1
    name = "symplectic_euler"
    second_order = True

    def step(self, ctx, t, dt, x, a, state):
        """One step from ``t`` to ``t + dt``."""
        d = ctx.problem.position_dim
        f = ctx.field(x, a, t)
        if not f.success:
            return StepResult.failed(x, a, f)
        v_new = x[:, d:] + dt * f.velocity[:, d:]
        return StepResult(np.concatenate([x[:, :d] + dt * v_new, v_new], axis=1), a)


class VelocityVerlet(Solver):
    """Velocity Verlet (kick–drift–kick), order 2.

    .. math::  v_{½} = v + \\tfrac{Δt}{2} A(q, v, t),\\quad q' = q + Δt\\, v_{½},\\quad
               v' = v_{½} + \\tfrac{Δt}{2} A(q', v^*, t + Δt),

    with ``v* = v½`` when the acceleration does not depend on the velocities (the force at the
    end is reused by the next step: one evaluation per step; symplectic), and the predicted
    ``v* = v½ + (Δt/2) A(q', v½, t + Δt)`` when it does (three evaluations; order 2).
    """

    order = 2
    name = "velocity_verlet"
    second_order = True

    def step(self, ctx, t, dt, x, a, state):
        """One step from ``t`` to ``t + dt``."""
        problem = ctx.problem
        d = problem.position_dim
        f = ctx.field(x, a, t)
        if not f.success:
            return StepResult.failed(x, a, f)
        v_half = x[:, d:] + (0.5 * dt) * f.velocity[:, d:]
        q_new = x[:, :d] + dt * v_half
        z = np.concatenate([q_new, v_half], axis=1)
        f_end = ctx.field(z, a, t + dt)
        if not f_end.success:
            return StepResult.failed(x, a, f_end)
        if problem.velocity_dependent:
            v_star = v_half + (0.5 * dt) * f_end.velocity[:, d:]
            f_end = ctx.field(np.concatenate([q_new, v_star], axis=1), a, t + dt)
            if not f_end.success:
                return StepResult.failed(x, a, f_end)
            v_new = v_half + (0.5 * dt) * f_end.velocity[:, d:]
            return StepResult(np.concatenate([q_new, v_new], axis=1), a)
        v_new = v_half + (0.5 * dt) * f_end.velocity[:, d:]
        x_new = np.concatenate([q_new, v_new], axis=1)
        # A does not depend on v: the force at (q', v½) is the force at (q', v'), so the next
        # step starts from it instead of evaluating it again
        known = MeanFieldField(x_new, a, np.concatenate([v_new, f_end.velocity[:, d:]], axis=1))
        return StepResult(x_new, a, field_at_end=known)


# Public home of the classes: checkpoints, run fingerprints and pickles name a class by
# ``__module__.__qualname__``, which stays the module users import it from.
SymplecticEuler.__module__ = "w1flow.second_order"
VelocityVerlet.__module__ = "w1flow.second_order"
