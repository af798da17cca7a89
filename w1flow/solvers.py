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
from scipy.spatial.distance import cdist

from ._lp import LPResult, _row_chunks, certify_plan, plan_cost
from .potentials.exact import ExactKantorovichPotential, unit_directions

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
    n_fields: int = 0

    def field(self, x, a, t):
        """The problem's field at ``(x, a, t)``; counts every evaluation (with or without oracle)."""
        self.n_fields += 1
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

    #: True when the solver keeps its own fields between steps (simulate then must not hand it
    #: the LP it solved for the W1 history, and asks :meth:`w1_at` for W1 instead).
    owns_fields = False

    def w1_at(self, ctx, state, t, x, a):
        """W1 to the data at a save point from the solver's own state, or None.

        ``None`` lets :func:`~w1flow.simulate` compute W1 itself (one LP). A returned object has
        ``success``, ``status``, ``message`` and ``w1``.
        """
        return None

    def __repr__(self):
        return f"{type(self).__name__}()"


def _field_failed(field):
    return not getattr(field, "success", True)


@dataclass
class W1Record:
    """W1 at a save point computed by a solver without an LP (see :meth:`Solver.w1_at`)."""

    w1: float
    status: str = "optimal"
    message: str = "optimal"
    certificate: object = None

    @property
    def success(self):
        return self.status == "optimal"


def _default_tol(*arrays):
    """Certificate tolerance: 1e-9 · (1 + max |coordinate|) (LP duals carry ~1e-13 round-off)."""
    scale = max(float(np.max(np.abs(arr))) if arr.size else 0.0 for arr in arrays)
    return 1e-9 * (1.0 + scale)


def _certificate_record(w1, cert):
    if cert.ok:
        return W1Record(w1=w1, certificate=cert)
    return W1Record(w1=w1, status="certificate_failed", message=cert.message, certificate=cert)


def _carry_plan(y, b, v, rows, cols, mass, u_old, x_old, x_new, a_new, h, speed, max_memory):
    """The plan ``(rows, cols, mass)`` at ``x_new`` after one Euler step of length ``h``, or None.

    Every plan row must have a single target (the caller checks). A particle that moved by
    ``h <= r_i`` (its remaining distance) stays on its ray with ``u_i − h``: the duals stay
    feasible (triangle inequality) and tight on the plan. A particle that overshot (``h > r_i``)
    gets ``u_i = |x_i' − y_j| − v_j`` and its row ``u_i + v_k <= |x_i' − y_k|`` is checked over all
    k (O(m) per overshooting particle, chunked); any violation returns None (re-solve). Other
    constraints are unchanged or follow from the triangle inequality, so a returned plan is
    optimal (to round-off) at ``x_new``.
    """
    r = np.sqrt(np.einsum("ij,ij->i", x_old[rows] - y[cols], x_old[rows] - y[cols]))
    u_new = u_old - h * speed  # particles moved by h·|V_i| (0 for arrived ones)
    over = (r > 0) & (h > r)
    if np.any(over):
        i, j = rows[over], cols[over]
        m = y.shape[0]
        for sl in _row_chunks(i.size, m):
            D = cdist(x_new[i[sl]], y)
            D -= v[None, :]
            idx = np.arange(D.shape[0])
            own = D[idx, j[sl]].copy()
            D[idx, j[sl]] = np.inf
            if m > 1 and np.any(D.min(axis=1) < own):
                return None  # another data point is now closer in the c-transform: re-solve
            u_new[i[sl]] = own
    lp = LPResult(rows=rows, cols=cols, mass=mass, u=u_new, v=v, cost=plan_cost(x_new, y, rows, cols, mass),
                  result_code=1, status="optimal", message="optimal (plan reused, no LP)")
    return ExactKantorovichPotential(x_new, a_new, y, b, lp, max_memory=max_memory, reused=True)


@dataclass
class _ReuseState:
    """Euler's plan-reuse state: the exact field valid at positions ``x`` (None: solve one)."""

    x: np.ndarray | None = None
    a: np.ndarray | None = None
    field: object = None
    n_reused: int = 0
    n_solved: int = 0

    def valid_for(self, x, a):
        if self.field is None or self.x is None:
            return False
        same_x = self.x is x or (self.x.shape == x.shape and np.array_equal(self.x, x))
        same_a = self.a is a or (self.a.shape == a.shape and np.array_equal(self.a, a))
        return same_x and same_a


class Euler(Solver):
    """Forward Euler, ``Y_{n+1} = Y_n + Δt V(Y_n)``: the paper's W1-FE scheme on particles.

    With the exact oracle, V is the plan velocity. With a fixed Δt the particles overshoot their
    targets and chatter near the data: W1 stalls at about Δt/2 (see :class:`CappedEuler`).

    Parameters
    ----------
    reuse_plan : bool
        With an exact oracle, carry the optimal plan over to the next step instead of solving a
        new LP whenever an O(n) check proves it still optimal: every plan row has one target
        and every particle moved by at most its remaining distance (W1 then drops by exactly
        Δt per step). A particle that overshoots costs an O(m) check of its dual constraints;
        a failed check or a split plan re-solves. On generic clouds the trajectory and the W1
        history equal the re-solve-every-step flow (``reuse_plan=False``) to round-off; see
        ``docs/performance.md`` for ties.
    certify : bool
        At save points, check that a carried-over plan is optimal (chunked O(nm) dual
        feasibility plus duality gap); a failure stops the run with status
        ``"certificate_failed"``.
    certify_tol : float, optional
        Tolerance of the certificate (default ``1e-9 · (1 + max |coordinate|)``).
    """

    order = 1
    name = "euler"

    def __init__(self, reuse_plan=True, certify=False, certify_tol=None):
        for key, val in (("reuse_plan", reuse_plan), ("certify", certify)):
            if not isinstance(val, (bool, np.bool_)):
                raise TypeError(f"{key} must be True or False, got {val!r}.")
        if certify_tol is not None and not (np.isfinite(certify_tol) and certify_tol > 0):
            raise ValueError(f"certify_tol must be a positive number, got {certify_tol!r}.")
        self.reuse_plan = bool(reuse_plan)
        self.certify = bool(certify)
        self.certify_tol = certify_tol

    @property
    def owns_fields(self):
        return self.reuse_plan

    def __repr__(self):
        return f"Euler(reuse_plan={self.reuse_plan}, certify={self.certify})"

    def init(self, ctx, t0, x, a):
        if self.reuse_plan and getattr(ctx.potential, "exact_w1", False):
            return x, a, None, _ReuseState(), None
        return x, a, None, None, None

    def _current_field(self, ctx, state, t, x, a):
        if state.valid_for(x, a):
            return state.field, 0
        field = ctx.field(x, a, t)
        state.x, state.a, state.field = x, a, field
        state.n_solved += 1
        return field, 1

    def w1_at(self, ctx, state, t, x, a):
        if not isinstance(state, _ReuseState):
            return None
        field, _ = self._current_field(ctx, state, t, x, a)
        if _field_failed(field) or not hasattr(field, "plan_rows"):
            return field if _field_failed(field) else None
        if self.certify and getattr(field, "reused", False):
            tol = self.certify_tol if self.certify_tol is not None else _default_tol(x, field.y)
            cert = certify_plan(x, a, field.y, field.b, field.plan_rows, field.plan_cols, field.plan_mass,
                                field.u, field.v, tol)
            return _certificate_record(field.w1, cert)
        return field

    def _step_reuse(self, ctx, t, dt, x, a, state, field):
        if field is not None:  # handed over by the driver: adopt it
            state.x, state.a, state.field = x, a, field
            n_fields = 0
        else:
            field, n_fields = self._current_field(ctx, state, t, x, a)
        if _field_failed(field):
            return StepResult(x, a, ok=False, message=field.message, n_fields=n_fields)
        state.field = None
        if not hasattr(field, "plan_rows"):  # not an LP field: plain Euler
            return StepResult(x + dt * field.velocity, a, n_fields=n_fields)
        y, b, v, budget = field.y, field.b, field.v, getattr(field, "max_memory", None)
        if ctx.split and field.is_split:
            x_sub, a_sub, parent, target = split_along_plan(field)
            V = _sub_velocity(field, x_sub, parent, target)
            x_new = x_sub + dt * V
            rows = np.flatnonzero(target >= 0)
            carried = _carry_plan(y, b, v, rows, target[rows], a_sub[rows], field.u[parent], x_sub, x_new,
                                  a_sub, dt, np.sqrt(np.einsum("ij,ij->i", V, V)), budget)
            out = StepResult(x_new, a_sub, parent=parent, n_fields=n_fields)
        else:
            V = field.velocity
            x_new = x + dt * V
            carried = None
            if not field.is_split:
                carried = _carry_plan(y, b, v, field.plan_rows, field.plan_cols, field.plan_mass, field.u, x,
                                      x_new, a, dt, np.sqrt(np.einsum("ij,ij->i", V, V)), budget)
            out = StepResult(x_new, a, n_fields=n_fields)
        if carried is not None:
            state.x, state.a, state.field = out.x, out.a, carried
            state.n_reused += 1
        return out

    def step(self, ctx, t, dt, x, a, state, field=None):
        if isinstance(state, _ReuseState):
            return self._step_reuse(ctx, t, dt, x, a, state, field)
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
    mass: np.ndarray  # plan mass of each particle (its weight; 0 for tracers), for the closed form
    # The initial optimal plan in the current particles' indexing, and its duals, for the certificate.
    plan_rows: np.ndarray = None
    plan_cols: np.ndarray = None
    plan_mass: np.ndarray = None
    weights: np.ndarray = None
    u: np.ndarray = None
    v: np.ndarray = None
    y: np.ndarray = None
    b: np.ndarray = None

    def w1_closed_form(self, t):
        """``Σ_ij G_ij (|x_i − y_j| − (t − t0))⁺``: W1 along the capped flow (plan stays optimal)."""
        return float(np.dot(self.mass, np.maximum(self.distance - (t - self.t0), 0.0)))

    def current(self, t, x):
        """The particles at time t: ``x`` when it is this state's cloud, else the ray positions."""
        if x is not None and x.shape == self.start.shape:
            return x
        return self.positions(t)

    def plan_cost(self, t, x=None):
        """Cost of the initial plan at the current positions, O(n): W1 while the plan is optimal.

        Along the capped flow it equals ``Σ G_ij (|x_i − y_j| − t)⁺`` to round-off (exactly 0 once
        every particle has landed). It is computed from the positions actually reached, so a
        solver that leaves the rays shows up as a W1 that no longer decreases.
        """
        return plan_cost(self.current(t, x), self.y, self.plan_rows, self.plan_cols, self.plan_mass)

    def certify(self, t, tol, x=None):
        """Certificate of the initial plan at the current positions, duals ``u_i − s_i``, ``v``.

        ``s_i = |x_i(t) − x_i(0)|`` is the distance moved. O(nm) time, chunked memory.
        """
        x = self.current(t, x)
        disp = x - self.start
        s = np.sqrt(np.einsum("ij,ij->i", disp, disp))
        return certify_plan(x, self.weights, self.y, self.b, self.plan_rows, self.plan_cols,
                            self.plan_mass, self.u - s, self.v, tol)

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

    The whole run costs one LP: each step is O(n), and :func:`~w1flow.simulate` records W1 as the
    initial plan's cost at the current positions (O(n); pass ``w1_method="lp"`` to simulate for
    an LP-verified history).

    Parameters
    ----------
    certify : bool
        At each save point, prove the initial plan still optimal at the current positions:
        duals ``u_i − s_i`` (``s_i`` the distance moved) and ``v`` must be feasible,
        ``u_i + v_j <= |x_i − y_j| + tol`` for all i, j (chunked O(nm), bounded memory), with a
        duality gap within tol. A failure stops the run with status ``"certificate_failed"``.
    certify_tol : float, optional
        Tolerance (default ``1e-9 · (1 + max |coordinate|)``).
    """

    order = 1
    name = "capped_euler"

    def __init__(self, certify=False, certify_tol=None):
        if not isinstance(certify, (bool, np.bool_)):
            raise TypeError(f"certify must be True or False, got {certify!r}.")
        if certify_tol is not None and not (np.isfinite(certify_tol) and certify_tol > 0):
            raise ValueError(f"certify_tol must be a positive number, got {certify_tol!r}.")
        self.certify = bool(certify)
        self.certify_tol = certify_tol

    def __repr__(self):
        return f"CappedEuler(certify={self.certify})"

    def w1_at(self, ctx, state, t, x, a):
        """W1 from the initial plan, ``Σ G_ij |x_i(t) − y_j| = Σ G_ij (|x_i − y_j| − t)⁺``: O(n), no LP.

        With ``certify=True`` the plan's optimality at t is also checked (chunked O(nm)).
        """
        if not isinstance(state, _CappedState):
            return None
        w1 = state.plan_cost(t, x)
        if not self.certify:
            return W1Record(w1=w1, message="optimal (cost of the initial plan)")
        tol = self.certify_tol if self.certify_tol is not None else _default_tol(state.start, state.y)
        return _certificate_record(w1, state.certify(t, tol, x))

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
            p_rows = np.flatnonzero(target_idx >= 0)
            p_cols, p_mass, u = target_idx[p_rows], a[p_rows], field.u[parent]
        else:
            target_idx = field.target_index
            p_rows, p_cols, p_mass, u = field.plan_rows, field.plan_cols, field.plan_mass, field.u
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
            mass=np.bincount(p_rows, weights=p_mass, minlength=x.shape[0]),
            plan_rows=p_rows, plan_cols=p_cols, plan_mass=p_mass, weights=a.copy(), u=u, v=field.v,
            y=y, b=field.b,
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

