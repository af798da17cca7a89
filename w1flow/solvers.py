"""Time steppers for particle flows, one small class per method, each with an ``order``.

A solver advances ``(x, a)`` by one step of length ``dt``. It reads the field (the potential
object, or any object with a ``velocity`` array) from the problem through its oracle. The
driver :func:`~w1flow.simulate` owns time, saving and counting.

Split plans
-----------
When a plan sends a particle's mass to several data points, two behaviours exist:

* default (``split=False``): the particle moves with the *averaged* plan velocity
  ``V_i = Σ_j (G_ij/a_i) e_ij``, the gradient flow of W1 in the positions at fixed weights; W1
  then decays at rate ``Σ_i a_i |V_i|² <= 1`` (strictly less than 1 when some plan row splits);
* splitting (``split=True``): particle i becomes sub-particles of mass ``G_ij`` aimed at ``y_j``.
  The exact identities (W1 drops by exactly dt per step while dt <= every sub-particle's
  distance to its target; the capped closed form) then hold. The result carries each
  sub-particle's weight and the index of its parent in ``x0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field

import numpy as np

from .potentials.exact import unit_directions

__all__ = ["Solver", "Euler", "CappedEuler", "StepResult", "split_along_plan", "Heun", "RK4"]


@dataclass
class StepResult:
    """Outcome of one solver step.

    Attributes
    ----------
    x, a : ndarray
        New positions and weights (the count may grow in splitting mode).
    parent : ndarray or None
        For each new particle, the index of the particle it came from (None: unchanged).
    ok : bool
        False if the field could not be computed (e.g. the LP failed).
    message : str
        Why the step failed, if it did.
    n_fields : int
        Number of field evaluations the step used.
    """

    x: np.ndarray
    a: np.ndarray
    parent: np.ndarray | None = None
    ok: bool = True
    message: str = ""
    n_fields: int = 0


@dataclass
class SolverContext:
    """What a solver needs besides the state: the problem, the oracle and the split mode."""

    problem: object
    potential: object
    split: bool = False
    extra: dict = dc_field(default_factory=dict)

    def field(self, x, a, t):
        return self.problem.field(x, a, t, self.potential)


def split_along_plan(field):
    """Split particles along a (sparse) plan into sub-particles with one target each.

    Returns
    -------
    x_sub, a_sub : ndarray
        Sub-particle positions (copies of their parent's) and masses ``G_ij``. Zero-weight
        particles (not in the plan) are kept as tracers with weight 0.
    parent : ndarray of int
        Index of each sub-particle's parent.
    target : ndarray of int
        Index of each sub-particle's data point (−1 for tracers).
    """
    x, a = field.x, field.a
    rows, cols, mass = field.plan_rows, field.plan_cols, field.plan_mass
    tracers = np.flatnonzero(a == 0)
    parent = np.concatenate([rows, tracers])
    target = np.concatenate([cols, np.full(tracers.size, -1, dtype=np.int64)])
    a_sub = np.concatenate([mass, np.zeros(tracers.size)])
    order = np.argsort(parent, kind="stable")  # keep sub-particles next to their parents
    parent, target, a_sub = parent[order], target[order], a_sub[order]
    return np.ascontiguousarray(x[parent]), a_sub, parent, target


def _sub_velocity(field, x_sub, parent, target):
    """Unit velocity of each sub-particle toward its own target (tracers: −∇φ)."""
    V = np.empty_like(x_sub)
    has = target >= 0
    V[has], _ = unit_directions(x_sub[has], field.y[target[has]])
    if np.any(~has):
        V[~has] = field.velocity[parent[~has]]
    return V


class Solver:
    """Base class. Subclasses set :attr:`order` and implement :meth:`step`."""

    #: Order of convergence on smooth fields.
    order = 1
    name = "solver"

    def init(self, ctx, t0, x, a):
        """Prepare a run; may return a precomputed field at ``t0`` and replace ``(x, a)``.

        Returns
        -------
        x, a, parent, state, field
        """
        return x, a, None, None, None

    def step(self, ctx, t, dt, x, a, state, field=None):  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


def _field_failed(field):
    return not getattr(field, "success", True)


class Euler(Solver):
    """Forward Euler, ``Y_{n+1} = Y_n + Δt V(Y_n)``: the paper's W1-FE scheme on particles.

    With the exact oracle, V is the plan velocity. With a fixed Δt the particles overshoot their
    targets and chatter near the data: W1 stalls at about Δt/2 (see :class:`CappedEuler`).
    """

    order = 1
    name = "euler"

    def step(self, ctx, t, dt, x, a, state, field=None):
        n_fields = 0
        if field is None:
            field = ctx.field(x, a, t)
            n_fields = 1
        if _field_failed(field):
            return StepResult(x, a, ok=False, message=field.message, n_fields=n_fields)
        if ctx.split and getattr(field, "is_split", False):
            x_sub, a_sub, parent, target = split_along_plan(field)
            V = _sub_velocity(field, x_sub, parent, target)
            return StepResult(x_sub + dt * V, a_sub, parent=parent, n_fields=n_fields)
        return StepResult(x + dt * field.velocity, a, n_fields=n_fields)


@dataclass
class _CappedState:
    start: np.ndarray  # positions at t0
    direction: np.ndarray  # unit ray directions (0 for arrived particles)
    distance: np.ndarray  # ray lengths |x_i − T(x_i)| at t0
    target: np.ndarray  # target positions T(x_i)
    t0: float
    mass: np.ndarray  # weights, for the closed-form W1

    def w1_closed_form(self, t):
        """``Σ_i a_i (|x_i − T(x_i)| − (t − t0))⁺``: W1 along the capped flow (plan stays optimal)."""
        return float(np.dot(self.mass, np.maximum(self.distance - (t - self.t0), 0.0)))

    def positions(self, t):
        s = np.minimum(t - self.t0, self.distance)
        x = self.start + s[:, None] * self.direction
        arrived = (t - self.t0) >= self.distance
        x[arrived] = self.target[arrived]  # land exactly, so later distances are exactly 0
        return x


class CappedEuler(Solver):
    """Euler along the initial transport rays, each particle stopping at its target.

    One LP at the start gives the optimal plan; each particle then moves at unit speed along
    its ray ``x_i → T(x_i)`` and stops on arrival. The initial plan stays optimal along this
    flow (φ drops by exactly the displacement along a ray), so no further LP is needed and

    .. math::  W_1(μ_t, μ_d) = Σ_{ij} G_{ij} (|x_i − y_j| − t)^+,

    reaching 0 at ``t = max |x_i − T(x_i)|``. Positions are computed from the start of the ray,
    so there is no accumulated round-off. In 1-D the plan is the monotone one.

    If the initial plan splits a particle's mass, run with ``simulate(..., split=True)``: each
    particle then becomes sub-particles, one per target. Zero-weight tracers follow the ray
    of ``−∇φ_0`` (toward the data point achieving the c-transform minimum) and stop there.
    """

    order = 1
    name = "capped_euler"

    def init(self, ctx, t0, x, a):
        field = ctx.field(x, a, t0)
        if _field_failed(field):
            return x, a, None, None, field
        if not hasattr(field, "plan_rows"):
            raise TypeError(
                "CappedEuler needs a potential with an optimal plan (ExactPotential); "
                f"got {type(field).__name__}. Use Euler with this oracle."
            )
        parent = None
        if field.is_split:
            if not ctx.split:
                raise ValueError(
                    "the initial optimal plan splits some particles' mass over several data "
                    "points (unequal weights or n != m), so a particle has no single ray. Pass "
                    "split=True to simulate() to divide particles along the plan, or use Euler."
                )
            x, a, parent, target_idx = split_along_plan(field)
        else:
            target_idx = field.target_index
        y = field.y
        target = np.empty_like(x)
        has = target_idx >= 0
        target[has] = y[target_idx[has]]
        if np.any(~has):  # tracers: the c-transform argmin of φ_0
            from .potentials.exact import c_transform

            _, j = c_transform(x[~has], y, field.v)
            target[~has] = y[j]
        direction, distance = unit_directions(x, target)
        state = _CappedState(
            start=x.copy(), direction=direction, distance=distance, target=target, t0=float(t0),
            mass=a.copy(),
        )
        return x, a, parent, state, field

    def step(self, ctx, t, dt, x, a, state, field=None):
        return StepResult(state.positions(t + dt), a)


class _ExplicitRK(Solver):
    """Explicit Runge–Kutta step from a Butcher tableau, one field evaluation per stage.

    Each stage evaluates the field at an intermediate ensemble (mean-field: the whole cloud moves
    to the stage positions; weights are unchanged). A failed field (LP not optimal) stops the step
    with ``ok=False``. Splitting mode is not supported: the plan of one stage says nothing about
    the next one.
    """

    _a: tuple = ()
    _b: tuple = ()
    _c: tuple = ()

    def _check_split(self, ctx):
        if ctx.split:
            raise ValueError(
                f"{type(self).__name__} does not support split=True (splitting mode splits particles "
                "along one plan, which multi-stage methods cannot do); use Euler or CappedEuler "
                "with split=True, or run with split=False."
            )

    def init(self, ctx, t0, x, a):
        self._check_split(ctx)
        return super().init(ctx, t0, x, a)

    def step(self, ctx, t, dt, x, a, state, field=None):
        self._check_split(ctx)
        n_fields = 0
        ks = []
        for s, (c_s, row) in enumerate(zip(self._c, self._a)):
            if s == 0 and field is not None:
                f = field
            else:
                xs = x
                for coef, k in zip(row, ks):
                    if coef != 0.0:
                        xs = xs + (dt * coef) * k
                f = ctx.field(xs, a, t + c_s * dt)
                n_fields += 1
            if _field_failed(f):
                return StepResult(x, a, ok=False, message=getattr(f, "message", "field failed"),
                                  n_fields=n_fields)
            ks.append(np.asarray(f.velocity))
        x_new = x.copy()
        for coef, k in zip(self._b, ks):
            x_new += (dt * coef) * k
        return StepResult(x_new, a, n_fields=n_fields)


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
    _a = ((), (1.0,))
    _b = (0.5, 0.5)
    _c = (0.0, 1.0)


class RK4(_ExplicitRK):
    """The classical fourth-order Runge–Kutta method, four field evaluations per step.

    Used as the high-order reference ("fine" solution) in :mod:`w1flow.convergence`.
    """

    order = 4
    name = "rk4"
    _a = ((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0))
    _b = (1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0)
    _c = (0.0, 0.5, 0.5, 1.0)

