"""Health monitors: checks run at every save point of :func:`~w1flow.simulate`.

A monitor returns ``None`` when all is well, or a message. ``simulate(on_unhealthy=...)``
decides what a message does: ``"stop"`` (default) ends the run with status ``"unhealthy"``,
``"raise"`` raises :class:`HealthCheckError`, ``"warn"`` warns and goes on (the messages are kept
in ``FlowResult.health``).

The default set (:func:`default_monitors`):

* :class:`NonFiniteMonitor` — a NaN or inf in the positions or in W1;
* :class:`W1IncreaseMonitor` — only for :class:`~w1flow.CappedEuler`, whose exact W1 can only
  decrease; uncapped Euler legitimately lets W1 rise while it chatters near the data;
* :class:`LipschitzDriftMonitor` — for potentials that report a ``lipschitz`` estimate (the
  neural critic): the estimate drifting above a bound means the dual value no longer bounds W1.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "HealthCheckError",
    "HealthMonitor",
    "NonFiniteMonitor",
    "W1IncreaseMonitor",
    "LipschitzDriftMonitor",
    "default_monitors",
]


class HealthCheckError(RuntimeError):
    """A health monitor flagged the run and ``on_unhealthy="raise"`` was asked for."""


class HealthMonitor:
    """Base class: :meth:`check` returns None or a message describing the problem."""

    def check(self, t, x, a, w1_history, field):  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class NonFiniteMonitor(HealthMonitor):
    """Flags NaN or inf in the positions or the latest W1 value."""

    def check(self, t, x, a, w1_history, field):
        if not np.all(np.isfinite(x)):
            return f"non-finite particle positions at t={t:.6g}"
        if w1_history and not np.isfinite(w1_history[-1]):
            return f"non-finite W1 at t={t:.6g}"
        return None


class W1IncreaseMonitor(HealthMonitor):
    """Flags W1 rising by more than round-off between two save points.

    Parameters
    ----------
    rtol, atol : float
        Allowed rise: ``atol + rtol · W1_previous`` (W1 units).
    """

    def __init__(self, rtol=1e-9, atol=1e-12):
        self.rtol, self.atol = float(rtol), float(atol)

    def check(self, t, x, a, w1_history, field):
        if len(w1_history) < 2:
            return None
        prev, now = w1_history[-2], w1_history[-1]
        if now > prev + self.atol + self.rtol * abs(prev):
            return (f"W1 rose from {prev:.17g} to {now:.17g} at t={t:.6g} under a flow whose W1 "
                    "cannot increase (beyond round-off)")
        return None

    def __repr__(self):
        return f"W1IncreaseMonitor(rtol={self.rtol}, atol={self.atol})"


class LipschitzDriftMonitor(HealthMonitor):
    """Flags a learned potential whose Lipschitz estimate exceeds ``max_lipschitz``.

    Applies to potentials with a ``lipschitz`` attribute (others are skipped).
    """

    def __init__(self, max_lipschitz=1.5):
        self.max_lipschitz = float(max_lipschitz)

    def check(self, t, x, a, w1_history, field):
        lip = getattr(field, "lipschitz", None)
        if lip is None:
            return None
        lip = float(lip() if callable(lip) else lip)
        if not np.isfinite(lip) or lip > self.max_lipschitz:
            return f"critic Lipschitz estimate {lip:.4g} exceeds {self.max_lipschitz:.4g} at t={t:.6g}"
        return None

    def __repr__(self):
        return f"LipschitzDriftMonitor(max_lipschitz={self.max_lipschitz})"


def default_monitors(solver):
    """The monitors :func:`~w1flow.simulate` uses unless told otherwise."""
    from .solvers import CappedEuler

    monitors = [NonFiniteMonitor(), LipschitzDriftMonitor()]
    if isinstance(solver, CappedEuler):
        monitors.append(W1IncreaseMonitor())
    return monitors
