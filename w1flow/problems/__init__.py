"""Problems: what flows. Every problem class of w1flow lives in this package, one family a module.

A problem turns the current particles ``(x, a)`` at time ``t`` into a *field*: an object with a
``velocity`` array of shape (n, d), a ``status`` and a ``message`` (for W1 flows, the potential
object, with its plan and W1). Solvers only talk to problems through ``field(x, a, t)`` (via
:class:`~w1flow.solvers.SolverContext`, which counts and times the calls).

A problem owns how its field is estimated: :class:`W1Flow` holds a potential oracle
(:class:`~w1flow.ExactPotential` unless told otherwise); ``simulate(..., potential=...)`` runs
one call with another oracle through :meth:`Problem.with_potential`, which returns a copy and
leaves the user's problem unchanged. :class:`MeanFieldODE` and :class:`W2Flow` compute their
fields themselves and refuse an oracle.

Where they live (and their names in :mod:`w1flow.registry`):

* ``problems/base.py``: :class:`Problem`, the interface;
* ``problems/w1.py``: :class:`W1Flow` (``"w1"``);
* ``problems/w2.py``: :class:`W2Flow` (``"w2"``);
* ``problems/mean_field.py``: :class:`MeanFieldODE` (``"mean_field"``) and its field, :class:`MeanFieldField`;
* ``problems/sde.py``: :class:`~w1flow.sde.McKeanVlasovSDE` (``"sde"``);
* ``problems/second_order.py``: :class:`~w1flow.second_order.SecondOrderODE` (``"second_order"``);
* ``problems/monoflow.py``: :class:`~w1flow.monoflow.MonoFlow` (``"monoflow"``) and
  :class:`~w1flow.monoflow.JSFlow` (``"js"``).

A new problem family gets its own module here, an export below and in :mod:`w1flow`, and a name
in :data:`w1flow.registry.PROBLEMS` (``tests/test_architecture.py`` checks all three).
"""

from .base import Problem
from .mean_field import MeanFieldField, MeanFieldODE
from .monoflow import JSFlow, MonoFlow
from .sde import McKeanVlasovSDE
from .second_order import SecondOrderODE
from .w1 import W1Flow
from .w2 import W2Flow

__all__ = ["Problem", "W1Flow", "MeanFieldODE", "W2Flow", "MeanFieldField", "McKeanVlasovSDE", "SecondOrderODE",
           "MonoFlow", "JSFlow"]
