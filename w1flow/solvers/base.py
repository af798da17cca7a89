"""The solver contract of :mod:`w1flow.solvers` (described there): the :class:`Solver` base class, its
:class:`Capabilities`, and the value objects a step returns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .._validation import as_float

__all__ = ["Solver", "Capabilities", "StepResult", "W1Record", "SolverContext"]


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


@dataclass(frozen=True)
class Capabilities:
    """What a solver can do, as its class declares it (:attr:`Solver.capabilities`).

    Attributes
    ----------
    order : float
        Order of convergence on smooth fields (the strong order for SDE schemes).
    stochastic : bool
        An SDE scheme: it runs only stochastic problems (``problem.stochastic``), and only SDE
        schemes run them.
    second_order : bool
        It needs the states ``[q, v]`` of a second-order system (``problem.second_order``).
    supports_split : bool
        It takes ``split=True`` (sub-particles along a split plan).
    needs_plan : bool
        It moves particles along an optimal plan, so the oracle must provide one.
    w1_nonincreasing : bool
        W1 to the data provably never rises along its flow.
    stability_limit : float
        Its stability interval on the negative real axis (``inf``: none checked).
    """

    order: float
    stochastic: bool
    second_order: bool
    supports_split: bool
    needs_plan: bool
    w1_nonincreasing: bool
    stability_limit: float


class Solver:
    """Base class of the time steppers; see :mod:`w1flow.solvers` for the contract.

    Subclasses declare :attr:`order` and the capability flags as class attributes (collected by
    :attr:`capabilities`; the driver reads them through :meth:`check_problem`), their constructor
    keywords in :attr:`option_names`, implement :meth:`step`, and may override :meth:`init` and
    :meth:`w1`. :attr:`options` lists the constructor keywords and their values; :meth:`replace`
    returns a copy with some of them changed.
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
    #: True for schemes that need the states ``[q, v]`` of a second-order system
    #: (:class:`~w1flow.second_order.SecondOrderODE`, ``problem.second_order``).
    second_order = False
    #: Stability interval on the negative real axis: the method contracts ``dy/dt = −λ y`` only
    #: for ``0 < λ·dt < stability_limit`` (checked against ``problem.decay_rate`` by :meth:`init`).
    stability_limit = np.inf
    #: The constructor keywords, in order: :attr:`options` is built from them (each is an
    #: attribute of the same name), and the run fingerprint from :attr:`options`.
    option_names = ()

    @property
    def options(self):
        """The constructor keywords of this solver and their values (from :attr:`option_names`)."""
        return {name: getattr(self, name) for name in self.option_names}

    @property
    def capabilities(self):
        """What this solver can do (:class:`Capabilities`), from its class attributes."""
        return Capabilities(order=self.order, stochastic=self.stochastic, second_order=self.second_order,
                            supports_split=self.supports_split, needs_plan=self.needs_plan,
                            w1_nonincreasing=self.w1_nonincreasing, stability_limit=self.stability_limit)

    def check_problem(self, problem):
        """Refuse, before any work, a problem this solver cannot run (from the capabilities).

        Raises
        ------
        TypeError
            An SDE with a deterministic scheme (it would drop the noise) or the reverse, or a
            first-order problem with a scheme that needs states ``[q, v]``.
        """
        if problem.stochastic and not self.stochastic:
            raise TypeError(f"{type(problem).__name__} is an SDE; {self!r} would drop its noise. Use an SDE scheme: "
                            "solver=EulerMaruyama() or Milstein() (w1flow.sde).")
        if self.stochastic and not problem.stochastic:
            raise TypeError(f"{self!r} is an SDE scheme; {type(problem).__name__} has no noise. Use Euler(), Heun() or "
                            "RK4(), or write the problem as a McKeanVlasovSDE.")
        if self.second_order and not problem.second_order:
            raise TypeError(f"{type(self).__name__} needs a SecondOrderODE (states [q, v]); got "
                            f"{type(problem).__name__}. Use Euler, Heun or RK4 for first-order problems.")

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


# Public home of the classes: checkpoints, run fingerprints and pickles name a class by
# ``__module__.__qualname__``, which stays the module users import it from.
Capabilities.__module__ = "w1flow.solvers"
StepResult.__module__ = "w1flow.solvers"
W1Record.__module__ = "w1flow.solvers"
SolverContext.__module__ = "w1flow.solvers"
Solver.__module__ = "w1flow.solvers"
