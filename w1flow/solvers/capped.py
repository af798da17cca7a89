"""Capped Euler: particles move along the initial transport rays and stop at their targets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_bool, as_float
from .base import Solver, StepResult, W1Record, _check_tol

__all__ = ["CappedEuler"]


@dataclass(frozen=True)
class _CappedState:
    """CappedEuler's state: the rays at ``t0`` and the plan that stays optimal along them."""

    start: np.ndarray  # positions at t0
    direction: np.ndarray  # unit ray directions (0 for particles on their target)
    distance: np.ndarray  # ray lengths |x_i − T(x_i)| at t0
    target: np.ndarray  # target positions T(x_i)
    t0: float
    potential: object  # the exact potential at t0 (split into sub-particles if asked)

    def positions(self, t):
        """The particles at time t: ``start + min(t − t0, distance)·direction``, landing exactly."""
        s = np.minimum(t - self.t0, self.distance)
        x = self.start + s[:, None] * self.direction
        arrived = (t - self.t0) >= self.distance
        x[arrived] = self.target[arrived]  # land exactly, so later distances are exactly 0
        return x

    def current(self, t, x):
        """The particles at time t: ``x`` when it is this state's cloud, else the ray positions
        (``x`` is the unsplit cloud at ``t0`` when the plan was split)."""
        return x if x is not None and x.shape == self.start.shape else self.positions(t)


class CappedEuler(Solver):
    """Euler along the initial transport rays, each particle stopping at its target.

    One LP at the start gives the optimal plan; each particle then moves at unit speed along
    its ray ``x_i → T(x_i)`` and stops on arrival. The initial plan stays optimal along this
    flow (φ drops by exactly the displacement along a ray), so no further LP is needed and

    .. math::  W_1(μ_t, μ_d) = Σ_{ij} G_{ij} (|x_i − y_j| − t)^+,

    reaching 0 at ``t = max |x_i − T(x_i)|``. Positions are computed from the start of the ray,
    so there is no accumulated round-off. In 1-D the plan is the monotone one.

    If the initial plan splits a particle's mass, use ``split=True``: each particle then becomes
    sub-particles, one per target. Zero-weight tracers follow the ray of ``−∇φ_0`` (toward the
    data point achieving the c-transform minimum) and stop there.

    The whole run costs one LP: each step is O(n), and W1 at save points is the initial plan's
    cost at the current positions (O(n); ``SaveAt(w1="lp")`` gives an LP-verified history).

    Parameters
    ----------
    certify : bool
        At each save point, prove the initial plan still optimal at the current positions:
        duals ``u_i − s_i`` (``s_i`` the distance moved) and ``v`` must be feasible,
        ``u_i + v_j <= |x_i − y_j| + tol`` for all i, j (chunked O(nm), bounded memory), with a
        duality gap within tol. A failure stops the run with status ``"certificate_failed"``.
    certify_tol : float, optional
        Tolerance (default ``1e-9 · max |coordinate|`` of the current positions and the data).
    split : bool
        Split particles along a split initial plan (otherwise such a plan is refused).
    min_mass : float
        Plan entries lighter than this fraction of the total mass merge into the heaviest entry
        of their row when splitting (see :class:`Euler`).
    """

    order = 1
    name = "capped_euler"
    supports_split = True
    w1_nonincreasing = True
    needs_plan = True
    option_names = ("certify", "certify_tol", "split", "min_mass")

    def __init__(self, certify=False, certify_tol=None, split=False, min_mass=1e-12):
        self.certify = as_bool(certify, "certify")
        self.certify_tol = _check_tol(certify_tol)
        self.split = as_bool(split, "split")
        self.min_mass = as_float(min_mass, "min_mass", 0.0, 1.0)

    def init(self, ctx, t0, dt0, x, a):
        """Solve the one LP at ``t0`` and lay out every particle's ray (splitting if asked)."""
        field = ctx.field(x, a, t0)
        if not field.success:
            return StepResult.failed(x, a, field)
        if not hasattr(field, "rays"):
            raise TypeError(
                "CappedEuler needs a potential with an optimal plan (ExactPotential); "
                f"got {type(field).__name__}. Use Euler with this oracle."
            )
        pot, parent = field, None
        if field.is_split:
            if not self.split:
                raise ValueError(
                    "the initial optimal plan splits some particles' mass over several data "
                    "points (unequal weights or n != m), so a particle has no single ray. Use "
                    "CappedEuler(split=True) to divide particles along the plan, or Euler."
                )
            pot, parent = field.split(self.min_mass)
        target, direction, distance = pot.rays()
        state = _CappedState(start=pot.x.copy(), direction=direction, distance=distance, target=target,
                             t0=float(t0), potential=pot)
        return StepResult(pot.x, pot.a, parent=parent, state=state, field_at_end=field)

    def step(self, ctx, t, dt, x, a, state):
        """Positions on the rays at ``t + dt``: O(n), no field evaluation."""
        return StepResult(state.positions(t + dt), a, state=state)

    def w1(self, ctx, state, t, x, a, certify=True):
        """W1 from the initial plan, ``Σ G_ij |x_i(t) − y_j| = Σ G_ij (|x_i − y_j| − t)⁺``: O(n), no LP.

        It is computed from the positions actually reached, so a solver that leaves the rays
        shows up as a W1 that no longer decreases. With ``certify=True`` the plan's optimality
        at t is also checked (chunked O(nm)).
        """
        if not isinstance(state, _CappedState):
            return None
        pot = state.potential
        x = state.current(t, x)
        w1 = pot.cost_at(x)
        if not (certify and self.certify):
            return W1Record(w1=w1,
                            message="optimal (cost of the initial plan)")
        disp = x - state.start
        moved = np.sqrt(np.einsum("ij,ij->i", disp, disp))
        # the initial plan at the reached positions, with the duals lowered by the distance moved;
        # the default tolerance is that of the reached positions and the data (they lie on
        # segments from the start to the data, so it never exceeds that of the start)
        return W1Record.of_certificate(w1, pot.moved(x, pot.u - moved).certify(self.certify_tol))


# Public home of the classes: checkpoints, run fingerprints and pickles name a class by
# ``__module__.__qualname__``, which stays the module users import it from.
_CappedState.__module__ = "w1flow.solvers"
CappedEuler.__module__ = "w1flow.solvers"
