"""Health monitors: checks :func:`~w1flow.simulate` runs at every step or at every save point.

A monitor returns ``None`` when all is well, or a message. ``simulate(on_unhealthy=...)``
decides what a message does: ``"stop"`` (default) ends the run with status ``"unhealthy"``,
``"raise"`` raises :class:`HealthCheckError`, ``"warn"`` warns and goes on (the messages are kept
in ``FlowResult.health``; a monitor that keeps flagging warns once, when it starts).

Monitors with ``every_step = True`` are cheap and run after every step, so a run's health does
not depend on how often it saves; the others run at save points. At every step they see the
particles, the W1 values known at step resolution (the recorded ones at save points, and for a
solver whose W1 cannot rise, its O(n) value at every step) and the field evaluated during the
step, if any.

The default set (:func:`default_monitors`), all every step:

* :class:`NonFiniteMonitor` — a NaN or inf in the positions or in W1;
* :class:`W1IncreaseMonitor` — only for solvers whose W1 provably cannot rise
  (``solver.w1_nonincreasing``: :class:`~w1flow.CappedEuler`); uncapped Euler legitimately lets
  W1 rise while it chatters near the data;
* :class:`LipschitzDriftMonitor` — for potentials that report a ``lipschitz`` estimate (the
  neural critic, trained at every step anyway): the estimate drifting above a bound means the
  dual value no longer bounds W1.
"""

from __future__ import annotations

import warnings

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
    """Base class: :meth:`check` returns None or a message describing the problem.

    ``check(t, x, a, w1_history, field)`` gets read-only particles and weights, a list of W1
    values (the first one is W1 at t = 0, the last is the newest) and the latest field (None at
    a step that evaluated none). Set ``every_step = True`` for checks cheap enough to run after
    every step.
    """

    every_step = False

    def check(self, t, x, a, w1_history, field):  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class NonFiniteMonitor(HealthMonitor):
    """Flags NaN or inf in the positions or the latest W1 value."""

    every_step = True

    def check(self, t, x, a, w1_history, field):
        if not np.all(np.isfinite(x)):
            return f"non-finite particle positions at t={t:.6g}"
        if w1_history and not np.isfinite(w1_history[-1]):
            return f"non-finite W1 at t={t:.6g}"
        return None


class W1IncreaseMonitor(HealthMonitor):
    """Flags W1 rising by more than round-off between two consecutive known values.

    Parameters
    ----------
    rtol : float
        Allowed rise, relative to the run's own scale: ``rtol · max(W1_previous, W1(0))`` (so
        the check means the same at every unit of length).
    atol : float
        An absolute allowance on top (W1 units; 0 by default).
    """

    every_step = True

    def __init__(self, rtol=1e-9, atol=0.0):
        self.rtol, self.atol = float(rtol), float(atol)

    def check(self, t, x, a, w1_history, field):
        if len(w1_history) < 2:
            return None
        prev, now = w1_history[-2], w1_history[-1]
        if now > prev + self.atol + self.rtol * max(abs(prev), abs(w1_history[0])):
            return (f"W1 rose from {prev:.17g} to {now:.17g} at t={t:.6g} under a flow whose W1 "
                    "cannot increase (beyond round-off)")
        return None

    def __repr__(self):
        return f"W1IncreaseMonitor(rtol={self.rtol}, atol={self.atol})"


class LipschitzDriftMonitor(HealthMonitor):
    """Flags a learned potential whose Lipschitz estimate exceeds ``max_lipschitz``.

    Applies to potentials with a ``lipschitz`` attribute (others are skipped). A penalty keeps
    a critic only softly 1-Lipschitz: on healthy default flows (``CriticPotential()``, four
    targets) the estimate, which searches for the largest gradient norm between the particles
    and the data, peaks at 1.5–2.3. The default bound, 3, flags a critic that lost its
    regularisation (a penalty weight too small, a learning rate too high), not these.
    """

    every_step = True

    def __init__(self, max_lipschitz=3.0):
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
    monitors = [NonFiniteMonitor(), LipschitzDriftMonitor()]
    if getattr(solver, "w1_nonincreasing", False):
        monitors.append(W1IncreaseMonitor())
    return monitors


_ACTIONS = ("stop", "raise", "warn")


class _Health:
    """The monitors of one run and what a flag does (``on_unhealthy``); keeps every message."""

    def __init__(self, monitors, on_unhealthy, solver, messages=None, flagging=None):
        if on_unhealthy not in _ACTIONS:
            raise ValueError(f"on_unhealthy must be 'stop', 'raise' or 'warn', got {on_unhealthy!r}.")
        if isinstance(monitors, str) and monitors == "default":
            monitors = default_monitors(solver)
        elif monitors is None:
            monitors = []
        else:
            monitors = list(monitors)
            if not all(isinstance(m, HealthMonitor) for m in monitors):
                raise TypeError("monitors must be 'default', None, or a list of HealthMonitor objects.")
        self.monitors, self.action = monitors, on_unhealthy
        self.messages = [] if messages is None else messages  # the run's lists: flags survive checkpoints
        self.flagging = set() if flagging is None else flagging  # monitors flagging at their last check

    def check(self, t, x, a, w1_history, field, every_step):
        """Run the monitors of one kind (``every_step`` or save-point ones); return a message
        when the run must stop."""
        for k, monitor in enumerate(self.monitors):
            if bool(getattr(monitor, "every_step", False)) != every_step:
                continue
            msg = monitor.check(t, x, a, w1_history, field)
            if msg is None:
                self.flagging.discard(k)
                continue
            if self.action == "warn" and k in self.flagging:
                continue  # still flagging: warned when it started
            self.flagging.add(k)
            self.messages.append(msg)
            if self.action == "raise":
                raise HealthCheckError(msg)
            if self.action == "stop":
                return msg
            warnings.warn(f"w1flow health check: {msg}", RuntimeWarning, stacklevel=4)
        return None
