"""The problem interface: :class:`Problem`, what every problem of :mod:`w1flow.problems` implements.

A problem turns the current particles ``(x, a)`` at time ``t`` into a *field*: an object with a
``velocity`` array of shape (n, d), a ``status`` and a ``message`` (for W1 flows, the potential
object, with its plan and W1). Solvers only talk to problems through ``field(x, a, t)`` (via
:class:`~w1flow.solvers.SolverContext`, which counts and times the calls).
"""

from __future__ import annotations

__all__ = ["Problem"]


class Problem:
    """Interface of a problem: what flows, and how its field is computed.

    Attributes
    ----------
    target, target_weights : ndarray or None
        The data measure, for problems that have one (W1 is then recorded against it).
    dim : int or None
        Dimension of the space, when the problem fixes it.
    potential : PotentialOracle or None
        The oracle the problem estimates its field with (None: it needs none).
    provides_plan : bool
        True when :meth:`field` returns a potential with an optimal transport plan
        (``plan_rows``, ``split()``, ``rays()``): what :class:`~w1flow.CappedEuler` needs.
    decay_rate : float or None
        The largest rate (1/time) at which the field pulls particles back, when the problem
        knows it (W2Flow: 1); solvers refuse a step size outside their stability interval
        for it. None: unknown.
    """

    target = None
    target_weights = None
    dim = None
    potential = None
    provides_plan = False
    decay_rate = None
    #: True when the field depends on per-particle parameters: the driver then calls
    #: ``field(x, a, t, parent=...)`` with the index in ``x0`` of each particle of ``x``.
    per_particle = False
    #: True for SDEs (:class:`~w1flow.sde.McKeanVlasovSDE`): only stochastic solvers run them.
    stochastic = False
    #: True when the state of a particle is ``[q, v]`` (:class:`~w1flow.second_order.SecondOrderODE`):
    #: what the solvers with ``second_order`` (symplectic Euler, velocity Verlet) need.
    second_order = False
    #: The name of the flow's own functional when it is not W1 (``"W2"``, an f-divergence
    #: estimate), recorded at save points in ``FlowResult.functional``; None: W1 only.
    functional_name = None

    def functional(self, field):
        """The flow's own functional at the state of ``field`` (see :attr:`functional_name`)."""
        return None

    def check_particles(self, x, a):
        """Check the initial particles against the problem (e.g. one parameter row each);
        raise ``ValueError`` naming the argument. The default accepts any cloud."""

    def field(self, x, a, t):  # pragma: no cover - interface
        """The field at particles ``(x, a)`` (weights summing to 1) and time ``t``."""
        raise NotImplementedError

    def settings(self):
        """What defines the problem (its data, drift, options; not its oracle): what a checkpoint
        fingerprints. The default is every public attribute except ``potential``."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k != "potential"}

    def with_potential(self, potential):
        """A copy of the problem that estimates its field with ``potential`` (None: this problem).

        Problems without an oracle refuse one, rather than ignore it.
        """
        if potential is None:
            return self
        raise TypeError(
            f"{type(self).__name__} computes its own field and takes no potential oracle; "
            f"drop potential={potential!r}."
        )
