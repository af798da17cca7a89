"""Time steppers for particle flows: one small class per method, one contract for all.

The contract
------------
A solver advances the particles ``(x, a)`` (positions (n, d), weights (n,)) by one step. It is
modelled on scipy's ``OdeSolver`` and diffrax's ``AbstractSolver``: the driver
(:func:`~w1flow.simulate`) owns time, saving, counting and checkpoints, and never asks which
solver it holds; whatever a solver carries between steps lives in its ``state``.

``init(ctx, t0, dt0, x, a) -> StepResult``
    A zero-length step before the first one. It may replace the cloud (splitting along the
    plan: ``parent`` says where each new particle came from), build the solver's ``state`` (the
    one LP of :class:`CappedEuler`), and fail (``status``). ``dt0`` is the first step size, so
    a solver may flag a step it knows to be unstable.
``step(ctx, t, dt, x, a, state) -> StepResult``
    One step from ``t`` to ``t + dt``. It never mutates ``state``, ``x`` or ``a``: a new state
    comes back in the result.
``w1(ctx, state, t, x, a, certify=True) -> W1Record | None``
    Optional: W1 to the data at a save point, from what the solver knows (the cost of a plan
    it carries, with a certificate when the solver was asked for one and ``certify`` is True).
    ``None`` lets the driver solve an LP. For a solver with ``w1_nonincreasing`` the driver also
    calls it after every step with ``certify=False`` (it must then cost O(n)) for the monitors.

A :class:`StepResult` carries the new ``x``, ``a``, ``parent`` (None: particles unchanged),
``state``, a ``status`` (``"success"`` or the word of the field that failed, see
:mod:`w1flow.status`) with its ``message``, ``field_at_end`` (a field the solver already knows
at the new state, such as Euler's carried optimal plan: the driver hands it back through the
:class:`SolverContext` memo, so the next step does not solve it again) and ``error`` (a local
error estimate, None for the fixed-step methods here; room for adaptive stepping).

Class attributes tell the driver what a solver can do: ``order`` (on smooth fields),
``supports_split`` (takes ``split=True``), ``w1_nonincreasing`` (W1 provably never rises along
it, so a rise is a bug the monitors flag) and ``needs_plan`` (it moves particles along an optimal
plan, so the problem's oracle must provide one: checked before any work; ``Euler`` needs one only
with ``split=True``, so there it is a property of the instance).

Solvers reach the problem only through :class:`SolverContext`: ``ctx.field(x, a, t)`` evaluates
(and counts, and times) the problem's field, or returns the memo's field when it was computed
for the same arrays at the same time. The plan machinery (splitting along the plan, rays,
carrying a plan to moved particles, certificates) is on the exact potential object
(:class:`~w1flow.ExactKantorovichPotential`); this module is time stepping only.

Split plans
-----------
When a plan sends a particle's mass to several data points, two behaviours exist:

* default (``split=False``): the particle moves with the *averaged* plan velocity
  ``V_i = Σ_j (G_ij/a_i) e_ij``, the gradient flow of W1 in the positions at fixed weights; W1
  then decays at rate ``Σ_i a_i |V_i|² <= 1`` (strictly less than 1 when some plan row splits);
* splitting (``Euler(split=True)``, ``CappedEuler(split=True)``): particle i becomes
  sub-particles of mass ``G_ij`` aimed at ``y_j``. The exact identities (W1 drops by exactly dt
  per step while dt <= every sub-particle's distance to its target; the capped closed form) then
  hold. The result carries each sub-particle's weight and the index of its parent in ``x0``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ._validation import as_bool, as_float

__all__ = ["Solver", "Euler", "CappedEuler", "Heun", "RK4", "StepResult", "W1Record", "SolverContext"]


@dataclass(frozen=True)
class StepResult:
    """Outcome of :meth:`Solver.init` or :meth:`Solver.step`.

    Attributes
    ----------
    x, a : ndarray
        New positions (n', d) and weights (n',) (n' > n only when particles split).
    parent : ndarray of int or None
        For each new particle, the index of the particle it came from (None: unchanged).
    state : object
        The solver's state after the step (None for stateless solvers).
    status : str
        ``"success"``, or the status word of what failed (the field's, e.g. ``"max_iter_reached"``).
    message : str
        Why the step failed, if it did.
    field_at_end : object or None
        A field (potential) valid at the new ``(x, a)``, known without evaluating it (Euler's
        carried optimal plan), or the field :meth:`Solver.init` evaluated at ``t0``.
    error : ndarray or None
        Local error estimate (None: fixed-step method).
    """

    x: np.ndarray
    a: np.ndarray
    parent: np.ndarray | None = None
    state: object = None
    status: str = "success"
    message: str = ""
    field_at_end: object = None
    error: np.ndarray | None = None

    @property
    def ok(self):
        """True when the step was taken."""
        return self.status == "success"

    @classmethod
    def failed(cls, x, a, field, state=None):
        """The result of a step that could not be taken because ``field`` failed: the inputs
        unchanged, with the field's status and message."""
        return cls(x, a, state=state, status=field.status, message=field.message)


@dataclass(frozen=True)
class W1Record:
    """W1 to the data at a save point, from a solver (see :meth:`Solver.w1`).

    Attributes
    ----------
    w1 : float
        The value (data units).
    status : str
        ``"optimal"``, or the failure word (``"certificate_failed"``, a failed LP's word).
    message : str
    certificate : Certificate or None
        The optimality certificate, when one was checked.
    from_lp : bool
        True when the value comes from an LP solved at these very positions (what
        ``SaveAt(w1="lp")`` asks for), False for the cost of a carried or initial plan.
    """

    w1: float
    status: str = "optimal"
    message: str = "optimal"
    certificate: object = None
    from_lp: bool = False

    @property
    def success(self):
        return self.status == "optimal"

    @classmethod
    def of_field(cls, field):
        """The W1 of a potential object (its LP value, or its failure)."""
        if not field.success:
            return cls(w1=np.nan, status=field.status, message=field.message)
        return cls(w1=field.w1, message=field.message, from_lp=not field.reused)

    @classmethod
    def of_certificate(cls, w1, cert):
        if cert.ok:
            return cls(w1=w1, message=cert.message, certificate=cert)
        return cls(w1=w1, status="certificate_failed", message=cert.message, certificate=cert)


class SolverContext:
    """What a solver sees besides its state: the problem's field, counted, timed and memoised.

    Built by :func:`~w1flow.simulate`; a solver calls :meth:`field` and, to hand a field it
    already has to the next step, :meth:`remember`.

    Attributes
    ----------
    problem : Problem
        The problem, with the oracle of this run.
    exact : bool
        True when the oracle's potentials carry the exact W1 (their ``w1`` is the LP value).
    n_fields : int
        Field evaluations so far (memo hits are not evaluations).
    seconds : float
        Time spent in field evaluations.
    last : object
        The last field evaluated (what the health monitors inspect).
    parent : ndarray of int or None
        The index in ``x0`` of each current particle (None: the particles of ``x0``, in
        order), set by the driver; problems with per-particle parameters
        (``problem.per_particle``) receive it to index them.
    """

    def __init__(self, problem, n_fields=0, seconds=0.0, memo=None, parent=None):
        self.problem = problem
        self.parent = parent
        self.exact = bool(getattr(problem.potential, "exact_w1", False))
        self.n_fields = n_fields
        self.seconds = seconds
        self.last = None
        self.memo = memo

    def field(self, x, a, t):
        """The problem's field at ``(x, a, t)``: the memo's when it holds one for the same
        arrays (by content) and time, else one evaluation."""
        hit = self.recall(x, a, t)
        if hit is not None:
            return hit
        start = time.perf_counter()
        try:
            if self.problem.per_particle:
                self.last = self.problem.field(x, a, t, parent=self.parent)
            else:
                self.last = self.problem.field(x, a, t)
        finally:
            self.seconds += time.perf_counter() - start
            self.n_fields += 1
        return self.last

    def remember(self, field, t):
        """Keep ``field`` (valid at its own ``field.x``, ``field.a``) for a call at time ``t``.

        One entry: remembering replaces the previous field.
        """
        self.memo = (float(t), field)

    def recall(self, x, a, t):
        """The remembered field if it was computed at the same ``x``, ``a`` (by content) and ``t``."""
        if self.memo is None:
            return None
        t_memo, field = self.memo
        if t_memo != t or not (_same(field.x, x) and _same(field.a, a)):
            return None
        return field


def _same(u, v):
    return u is v or (u.shape == v.shape and np.array_equal(u, v))


def _refuse_split(solver):
    raise ValueError(
        f"{type(solver).__name__} does not support split=True (splitting mode splits particles "
        "along one plan, which multi-stage methods cannot do); use Euler or CappedEuler "
        "with split=True, or run with split=False."
    )


def _check_tol(tol):
    return None if tol is None else as_float(tol, "certify_tol", 0.0, low_open=True)


class Solver:
    """Base class of the time steppers; see the module docstring for the contract.

    Subclasses set :attr:`order` and the capability flags, implement :meth:`step`, and may
    override :meth:`init` and :meth:`w1`. Options are constructor keywords, listed by
    :attr:`options`; :meth:`replace` returns a copy with some of them changed.
    """

    #: Order of convergence on smooth fields.
    order = 1
    #: Short name (progress bars, results).
    name = "solver"
    #: True when the solver takes ``split=True`` (sub-particles along a split plan).
    supports_split = False
    #: True when W1 to the data provably never rises along the solver's flow.
    w1_nonincreasing = False
    #: True when the solver needs an optimal plan from the oracle (``problem.provides_plan``).
    needs_plan = False
    #: Splitting mode (only solvers with ``supports_split``).
    split = False
    #: True for SDE schemes (:mod:`w1flow.sde`); they run only stochastic problems, and the
    #: others only deterministic ones.
    stochastic = False
    #: Stability interval on the negative real axis: the method contracts ``dy/dt = −λ y`` only
    #: for ``0 < λ·dt < stability_limit`` (checked against ``problem.decay_rate`` by :meth:`init`).
    stability_limit = np.inf

    @property
    def options(self):
        """The constructor keywords of this solver and their values."""
        return {}

    def replace(self, **changes):
        """A copy of this solver with some options changed (validated like the constructor)."""
        if "split" in changes and changes["split"] and not self.supports_split:
            _refuse_split(self)
        if "split" in changes and not self.supports_split:
            changes = {k: v for k, v in changes.items() if k != "split"}
        unknown = set(changes) - set(self.options)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no option(s) {sorted(unknown)}; "
                            f"its options are {sorted(self.options)}.")
        return type(self)(**{**self.options, **changes})

    def state_dict(self):
        """The solver's own state for a checkpoint: none (solvers are their options, which the
        fingerprint holds; what they carry between steps is the run's ``state``)."""
        return {}

    def load_state(self, d):
        """Restore :meth:`state_dict` (nothing for the shipped solvers)."""

    def init(self, ctx, t0, dt0, x, a):
        """Prepare a run at ``t0``: a zero-length step.

        Parameters
        ----------
        ctx : SolverContext
        t0 : float
            Start time.
        dt0 : float
            The first step size (a solver may refuse or flag an unstable one).
        x : ndarray, shape (n, d)
        a : ndarray, shape (n,)

        Returns
        -------
        StepResult
            The cloud to start from (replaced only by splitting), the solver's initial state,
            and any field evaluated at ``t0`` (``field_at_end``).

        Raises
        ------
        ValueError
            When ``dt0`` is outside the solver's stability interval for the problem's
            ``decay_rate`` (e.g. Euler on :class:`~w1flow.W2Flow` with ``dt >= 2``).
        """
        self.check_stable(ctx, dt0)
        return StepResult(x, a)

    def check_stable(self, ctx, dt):
        """Refuse a step size for which this method cannot contract the problem's decay."""
        rate = ctx.problem.decay_rate  # None: no linear decay to contract (every Problem has it)
        if rate and dt * rate >= self.stability_limit:
            raise ValueError(
                f"dt={dt:g} is unstable for {type(ctx.problem).__name__} with {type(self).__name__}: the "
                f"problem decays at rate {rate:g} and the method contracts only for rate·dt < "
                f"{self.stability_limit:.6g}; use dt < {self.stability_limit / rate:.6g} (dt <= 1/rate "
                "avoids overshooting)."
            )

    def step(self, ctx, t, dt, x, a, state):  # pragma: no cover - interface
        """Advance ``(x, a)`` from ``t`` to ``t + dt``; never mutates ``state``, ``x`` or ``a``.

        Parameters
        ----------
        ctx : SolverContext
        t : float
            Time at the start of the step.
        dt : float
            Step size (> 0; the driver shortens the last step to land on ``t1``).
        x : ndarray, shape (n, d)
        a : ndarray, shape (n,)
        state : object
            The state returned by the previous :meth:`init` or :meth:`step`.

        Returns
        -------
        StepResult
            On failure, ``x`` and ``a`` unchanged and ``status`` naming the failure.
        """
        raise NotImplementedError

    def w1(self, ctx, state, t, x, a, certify=True):
        """W1 to the data at a save point from the solver's own knowledge, or None.

        Parameters
        ----------
        ctx : SolverContext
        state : object
            The solver's current state.
        t : float
        x, a : ndarray
            The particles at ``t``.
        certify : bool
            False: the value only, without the certificate the solver may have been asked for
            (the per-step health checks of solvers with ``w1_nonincreasing``).

        Returns
        -------
        W1Record or None
            None lets :func:`~w1flow.simulate` solve an LP of its own.
        """
        return None

    def __repr__(self):
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({opts})"


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
        a failed check or a split plan re-solves (:meth:`ExactKantorovichPotential.carry`). On
        generic clouds the trajectory and the W1 history equal the re-solve-every-step flow
        (``reuse_plan=False``) to round-off; see ``docs/performance.md`` for ties.
    certify : bool
        At save points, check that a carried-over plan is optimal (chunked O(nm) dual
        feasibility plus duality gap); a failure stops the run with status
        ``"certificate_failed"``.
    certify_tol : float, optional
        Tolerance of the certificate (default ``1e-9 · max |coordinate|``, relative to the problem's
        scale).
    split : bool
        Splitting mode for split plans (see the module docstring).
    min_mass : float
        In splitting mode, plan entries lighter than this fraction of the total mass are merged
        into the heaviest entry of their row instead of becoming sub-particles
        (:meth:`ExactKantorovichPotential.split`): without it, re-solved LPs breed sub-particles
        of round-off mass (a weighted 30-particle flow grew to 2,343 sub-particles, 2,167 of
        them lighter than 1e-15). 0 keeps every entry.
    """

    order = 1
    name = "euler"
    supports_split = True
    stability_limit = 2.0

    def __init__(self, reuse_plan=True, certify=False, certify_tol=None, split=False, min_mass=1e-12):
        self.reuse_plan = as_bool(reuse_plan, "reuse_plan")
        self.certify = as_bool(certify, "certify")
        self.certify_tol = _check_tol(certify_tol)
        self.split = as_bool(split, "split")
        self.min_mass = as_float(min_mass, "min_mass", 0.0, 1.0)

    @property
    def options(self):
        return {"reuse_plan": self.reuse_plan, "certify": self.certify, "certify_tol": self.certify_tol,
                "split": self.split, "min_mass": self.min_mass}

    @property
    def needs_plan(self):
        """Splitting moves sub-particles along the plan: ``split=True`` needs an oracle with one."""
        return self.split

    def step(self, ctx, t, dt, x, a, state):
        """One Euler step along the field's velocity (the plan velocity for exact potentials).

        With ``split=True`` and a split plan, particles first become sub-particles along the
        plan. With ``reuse_plan`` and an exact oracle, the plan carried to the new positions
        (when provably optimal) comes back as ``field_at_end``.
        """
        field = ctx.field(x, a, t)
        if not field.success:
            return StepResult.failed(x, a, field)
        parent = None
        if self.split and field.is_split:
            field, parent = field.split(self.min_mass)
            x, a = field.x, field.a
        V = field.velocity
        x_new = x + dt * V
        carried = None
        if self.reuse_plan and ctx.exact and hasattr(field, "carry") and not field.is_split:
            carried = field.carry(x_new, dt, np.sqrt(np.einsum("ij,ij->i", V, V)))
        return StepResult(x_new, a, parent=parent, field_at_end=carried)

    def w1(self, ctx, state, t, x, a, certify=True):
        """With an exact oracle: the W1 of the field the next step starts from.

        That field is the carried plan when there is one (certified with ``certify=True``), or
        an LP solved here and remembered, so the next step does not solve it again.
        """
        if not ctx.exact:
            return None
        field = ctx.field(x, a, t)
        ctx.remember(field, t)
        if not field.success:
            return W1Record.of_field(field)
        if certify and self.certify and field.reused:  # every exact potential says if it was carried
            return W1Record.of_certificate(field.w1, field.certify(self.certify_tol))
        return W1Record.of_field(field)


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

    def __init__(self, certify=False, certify_tol=None, split=False, min_mass=1e-12):
        self.certify = as_bool(certify, "certify")
        self.certify_tol = _check_tol(certify_tol)
        self.split = as_bool(split, "split")
        self.min_mass = as_float(min_mass, "min_mass", 0.0, 1.0)

    @property
    def options(self):
        return {"certify": self.certify, "certify_tol": self.certify_tol, "split": self.split,
                "min_mass": self.min_mass}

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
