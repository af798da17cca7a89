"""Second-order mean-field systems: positions and velocities, and the symplectic-type schemes.

.. math::  \\dot q^i = v^i,\\qquad \\dot v^i = A\\big(q^i, v^i;\\ μ_t,\\ t\\big),\\qquad
           μ_t = Σ_i a_i δ_{(q^i_t, v^i_t)},

(swarms with Morse attraction–repulsion, Cucker–Smale flocking, particles in a mean-field
potential). The state of particle i is one row ``[q^i, v^i]`` of length 2d: positions in columns
``0..d-1``, velocities in ``d..2d-1`` (:meth:`SecondOrderODE.positions`,
:meth:`SecondOrderODE.velocities`). Any solver runs it as a first-order ODE on that state
(:class:`~w1flow.RK4` and the rest); these two use its structure:

* :class:`SymplecticEuler` (semi-implicit Euler, kick then drift), order 1, one acceleration
  per step; symplectic for forces ``A(q)``: the energy error of an oscillator stays bounded
  instead of growing like forward Euler's.
* :class:`VelocityVerlet`, order 2, one acceleration per step when it does not depend on the
  velocities (``velocity_dependent=False``; the end-of-step force is handed to the next step),
  three when it does (a predicted end velocity keeps order 2; without it the velocity
  dependence drops the scheme to order 1).

Metrics and plots mix units if given the whole state: select coordinates, e.g.
``w1flow.metrics.w1(x, y, coords=range(d))`` and ``plot_snapshots(res, coords=(0, 1))``.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_bool, as_int
from .problems import MeanFieldField, MeanFieldODE, Problem
from .solvers import Solver, StepResult

__all__ = ["SecondOrderODE", "SymplecticEuler", "VelocityVerlet"]


class SecondOrderODE(Problem):
    """A second-order mean-field ODE ``q' = v``, ``v' = A(q, v; μ, t)``, on states ``[q, v]``.

    Parameters
    ----------
    acceleration : callable
        ``acceleration(q, v, weights, t) -> (n, d)`` (with ``params``:
        ``acceleration(q, v, weights, t, params)``); ``q``, ``v`` are read-only (n, d) views.
    dim : int
        d, the dimension of positions (the state has 2d columns).
    velocity_dependent : bool
        Whether the acceleration depends on ``v`` (friction, alignment: Cucker–Smale). With
        False, :class:`VelocityVerlet` uses one acceleration per step; a wrong False makes it
        first order (tested).
    params : ndarray or dict of ndarray, optional
        Per-particle parameters (masses, types), as for :class:`~w1flow.MeanFieldODE`.

    Examples
    --------
    Particles in a harmonic trap, attracted to their mean:

    >>> prob = SecondOrderODE(lambda q, v, w, t: -q - (q - w @ q), dim=2, velocity_dependent=False)
    >>> z0 = prob.state(np.zeros((10, 2)), np.ones((10, 2)))
    """

    second_order = True

    def __init__(self, acceleration, dim, velocity_dependent=True, params=None):
        if not callable(acceleration):
            raise TypeError(f"acceleration must be callable as acceleration(q, v, weights, t); got {acceleration!r}.")
        self.acceleration = acceleration
        self.position_dim = as_int(dim, "dim", 1)
        self.velocity_dependent = as_bool(velocity_dependent, "velocity_dependent")
        d = self.position_dim
        if params is None:
            def first_order(z, w, t):
                return np.concatenate([z[:, d:], _call(acceleration, z, w, t, d)], axis=1)
        else:
            def first_order(z, w, t, p):
                return np.concatenate([z[:, d:], _call(acceleration, z, w, t, d, p)], axis=1)
        first_order.__name__ = getattr(acceleration, "__name__", "acceleration")
        self._ode = MeanFieldODE(first_order, dim=2 * d, params=params)
        self.params = self._ode.params

    @property
    def dim(self):
        """Dimension of the state, 2d."""
        return 2 * self.position_dim

    @property
    def per_particle(self):
        """True with per-particle parameters."""
        return self.params is not None

    def check_particles(self, x, a):
        """One parameter row per particle of ``x0``."""
        self._ode.check_particles(x, a)

    def field(self, x, a, t, parent=None):
        """``[v, A(q, v)]`` at the states ``x`` (n, 2d)."""
        return MeanFieldField(x, a, self._ode.velocity(x, a, t, parent))

    def positions(self, x):
        """The positions (columns ``0..d-1``) of states ``x`` (a view)."""
        return np.asarray(x)[..., : self.position_dim]

    def velocities(self, x):
        """The velocities (columns ``d..2d-1``) of states ``x`` (a view)."""
        return np.asarray(x)[..., self.position_dim:]

    def state(self, q, v):
        """The state ``[q, v]`` (n, 2d) from positions and velocities (n, d) each."""
        q = np.atleast_2d(np.asarray(q, dtype=np.float64))
        v = np.atleast_2d(np.asarray(v, dtype=np.float64))
        d = self.position_dim
        if q.shape != v.shape or q.shape[1] != d:
            raise ValueError(f"q and v must both have shape (n, {d}); got {q.shape} and {v.shape}.")
        return np.concatenate([q, v], axis=1)

    def settings(self):
        """What defines the problem (what a checkpoint fingerprints)."""
        return {"acceleration": self.acceleration, "dim": self.position_dim,
                "velocity_dependent": self.velocity_dependent, "params": self.params}

    def __repr__(self):
        name = getattr(self.acceleration, "__name__", type(self.acceleration).__name__)
        return f"SecondOrderODE(acceleration={name}, dim={self.position_dim})"


def _call(acceleration, z, w, t, d, *params):
    return acceleration(z[:, :d], z[:, d:], w, t, *params)


class _SecondOrderSolver(Solver):
    def init(self, ctx, t0, dt0, x, a):
        """Refuse a problem without positions and velocities, before any work."""
        if not getattr(ctx.problem, "second_order", False):
            raise TypeError(f"{type(self).__name__} needs a SecondOrderODE (states [q, v]); got "
                            f"{type(ctx.problem).__name__}. Use Euler, Heun or RK4 for first-order problems.")
        return super().init(ctx, t0, dt0, x, a)


class SymplecticEuler(_SecondOrderSolver):
    """Semi-implicit (symplectic) Euler: ``v' = v + Δt A(q, v, t)``, then ``q' = q + Δt v'``.

    Order 1, one acceleration per step. For forces ``A(q)`` it is symplectic: the energy of a
    harmonic oscillator oscillates within O(Δt) for all time.
    """

    order = 1
    name = "symplectic_euler"

    def step(self, ctx, t, dt, x, a, state):
        """One step from ``t`` to ``t + dt``."""
        d = ctx.problem.position_dim
        f = ctx.field(x, a, t)
        if not f.success:
            return StepResult.failed(x, a, f)
        v_new = x[:, d:] + dt * f.velocity[:, d:]
        return StepResult(np.concatenate([x[:, :d] + dt * v_new, v_new], axis=1), a)


class VelocityVerlet(_SecondOrderSolver):
    """Velocity Verlet (kick–drift–kick), order 2.

    .. math::  v_{½} = v + \\tfrac{Δt}{2} A(q, v, t),\\quad q' = q + Δt\\, v_{½},\\quad
               v' = v_{½} + \\tfrac{Δt}{2} A(q', v^*, t + Δt),

    with ``v* = v½`` when the acceleration does not depend on the velocities (the force at the
    end is reused by the next step: one evaluation per step; symplectic), and the predicted
    ``v* = v½ + (Δt/2) A(q', v½, t + Δt)`` when it does (three evaluations; order 2).
    """

    order = 2
    name = "velocity_verlet"

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
