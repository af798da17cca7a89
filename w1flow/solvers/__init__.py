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

Class attributes tell the driver what a solver can do (:class:`Capabilities`): ``order`` (on
smooth fields; the strong order for SDE schemes), ``stochastic`` (an SDE scheme: it runs only SDEs,
and only SDE schemes run SDEs), ``second_order`` (it needs states ``[q, v]`` of a second-order
system), ``supports_split`` (takes ``split=True``), ``w1_nonincreasing`` (W1 provably never rises
along it, so a rise is a bug the monitors flag), ``needs_plan`` (it moves particles along an
optimal plan, so the problem's oracle must provide one; ``Euler`` needs one only with
``split=True``, so there it is a property of the instance) and ``stability_limit``.
:meth:`Solver.check_problem` checks them against a problem before any work; the driver calls it
and never asks which solver it holds.

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

Where the solvers live
----------------------
Every solver class of w1flow is in this package, one family a module:

* ``solvers/base.py``: :class:`Solver`, :class:`Capabilities`, :class:`StepResult`,
  :class:`W1Record`, :class:`SolverContext`;
* ``solvers/euler.py``: :class:`Euler` (registry name ``"euler"``);
* ``solvers/capped.py``: :class:`CappedEuler` (``"capped_euler"``);
* ``solvers/runge_kutta.py``: :class:`Heun` (``"heun"``), :class:`RK4` (``"rk4"``);
* ``solvers/stochastic.py``: :class:`EulerMaruyama` (``"euler_maruyama"``), :class:`Milstein`
  (``"milstein"``);
* ``solvers/second_order.py``: :class:`SymplecticEuler` (``"symplectic_euler"``),
  :class:`VelocityVerlet` (``"velocity_verlet"``).

A new solver goes in a module here (or joins its family's), declares what it can do once, as
class attributes (``order``, ``stochastic``, ``supports_split``, ``second_order``, ``needs_plan``,
``w1_nonincreasing``, ``stability_limit``: :attr:`Solver.capabilities` collects them) and its
constructor keywords in ``option_names`` (its :attr:`~Solver.options` are built from them); it is
exported here and from :mod:`w1flow`, and named in :data:`w1flow.registry.SOLVERS`
(``tests/test_architecture.py`` checks all three).
"""

from .base import Capabilities, Solver, SolverContext, StepResult, W1Record
from .capped import CappedEuler, _CappedState  # noqa: F401  (checkpoints name it w1flow.solvers:_CappedState)
from .euler import Euler
from .runge_kutta import RK4, Heun
from .second_order import SymplecticEuler, VelocityVerlet
from .stochastic import EulerMaruyama, Milstein

__all__ = ["Solver", "Euler", "CappedEuler", "Heun", "RK4", "EulerMaruyama", "Milstein", "SymplecticEuler",
           "VelocityVerlet", "Capabilities", "StepResult", "W1Record", "SolverContext"]
