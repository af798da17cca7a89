"""What :func:`~w1flow.simulate` saves, and when: :class:`SaveAt`, the step grid, the W1 history.

``SaveAt(every=k)`` saves every k-th step of the regular grid ``0, dt, 2dt, …, t1`` (the last
step is shortened to land on ``t1``); ``SaveAt(ts=[...])`` saves at the given times, which the
driver lands on exactly by ending a step there (times within ``1e-9·dt`` of a grid point are
that grid point; the regular grid is otherwise unchanged). The initial and final states are
always saved.

At every save point the W1 distance to the data is recorded (problems with data only), from
the cheapest source that is right: the solver's own knowledge (:meth:`Solver.w1`: a carried
plan's cost, with its certificate when asked), a field already computed at this very state,
else an exact LP: the oracle's own matrix-free one when it has one (``ExactPotential(sparse=...)``,
see :meth:`~w1flow.ExactPotential.own_lp`), else the driver's own (the 1-D closed form on the line). ``SaveAt(w1="lp")``
accepts only values from an LP solved at the saved positions (an LP-verified history; the flow
itself is unchanged); ``SaveAt(w1=None)`` records none.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .lp import w1_value
from .lp.solver import dense_fallback
from ._validation import as_int
from .solvers import W1Record

__all__ = ["SaveAt"]

_W1_METHODS = ("auto", "lp", None)


@dataclass(frozen=True)
class SaveAt:
    """When to save snapshots in :func:`~w1flow.simulate`, and how to record W1 there.

    Parameters
    ----------
    every : int, optional
        Save every this many steps of the regular grid (default 1, or unused with ``ts``).
    ts : array_like of float, optional
        Times in ``[0, t1]`` to save at, instead of ``every``; the run ends a step at each.
    w1 : {"auto", "lp", None}
        How W1 to the data is recorded at save points: ``"auto"`` (the solver's own value when
        it has one, e.g. :class:`~w1flow.CappedEuler`'s plan cost, else an LP), ``"lp"`` (only
        values from an LP solved at the saved positions), or None (no W1 history).

    Examples
    --------
    >>> SaveAt(every=10)                 # every 10th step
    >>> SaveAt(ts=[0.5, 1.0, 2.0])       # at these times
    >>> SaveAt(every=5, w1="lp")         # LP-verified W1 history
    """

    every: int | None = None
    ts: tuple | None = None
    w1: str | None = "auto"

    def __post_init__(self):
        if self.ts is not None and self.every is not None:
            raise ValueError("SaveAt takes every= or ts=, not both.")
        if self.every is not None:
            object.__setattr__(self, "every", as_int(self.every, "every", 1))
        if self.ts is not None:
            ts = np.asarray(self.ts, dtype=np.float64).ravel()
            if ts.size == 0 or not np.all(np.isfinite(ts)) or np.any(ts < 0):
                raise ValueError(f"ts must hold finite times >= 0, got {self.ts!r}.")
            object.__setattr__(self, "ts", tuple(np.unique(ts).tolist()))
        if self.w1 not in _W1_METHODS:
            raise ValueError(f"w1 must be 'auto', 'lp' or None, got {self.w1!r}.")

    @property
    def step_every(self):
        """Steps between saves on the regular grid (``every``, or none when ``ts`` is given)."""
        return None if self.ts is not None else (self.every or 1)


class _Grid:
    """The step grid: regular ends ``k·dt`` (the last one ``t1``), with ``SaveAt.ts`` inserted.

    Lazy: a step is computed from the current time and the number ``j`` of regular steps done,
    so a resumed run continues on the same grid and nothing of size ``t1/dt`` is stored.
    """

    def __init__(self, t1, dt, saveat):
        self.t1, self.dt = t1, dt
        # a run to t1 > 0 takes at least one step, however small t1 is next to dt
        self.n_regular = max(1, int(math.ceil(t1 / dt - 1e-12))) if t1 > 0 else 0
        self.every = saveat.step_every
        self.extra, self.snapped = [], set()
        for p in saveat.ts or ():
            if p > t1 * (1 + 1e-15):
                raise ValueError(f"ts holds {p}, after t1 = {t1}; save times must lie in [0, t1].")
            j = min(int(round(p / dt)), self.n_regular)
            if abs(p - self.regular_end(j)) <= 1e-9 * dt:
                self.snapped.add(j)  # a grid point: save there, no extra step
            else:
                self.extra.append(p)
        self.n_steps = self.n_regular + len(self.extra)

    def regular_end(self, j):
        """End of the j-th regular step (j = 0: the start)."""
        return self.t1 if j == self.n_regular else j * self.dt

    def next_step(self, t, j):
        """``(h, t_end, j_end, save)`` of the step from time ``t`` after ``j`` regular steps."""
        nxt = self.regular_end(j + 1)
        i = np.searchsorted(self.extra, t, side="right")
        if i < len(self.extra) and self.extra[i] < nxt:
            return self.extra[i] - t, self.extra[i], j, True
        # from a grid point the step is dt (shortened to land on t1), as in a plain run
        h = min(self.dt, self.t1 - t) if t == self.regular_end(j) else nxt - t
        j += 1
        last = j == self.n_regular
        save = last or (j % self.every == 0 if self.every else j in self.snapped)
        return h, nxt, j, save


class _History:
    """Snapshots and the W1 history of a run, with the W1 source cascade of the module docstring."""

    def __init__(self, problem, method, max_memory):
        self.target, self.target_weights = problem.target, problem.target_weights
        self.record = method is not None and self.target is not None
        self.method = method
        self.max_memory = max_memory
        self.ts, self.xs, self.ws, self.ps, self.w1s = [], [], [], [], []
        self.functional_name = problem.functional_name  # (a checkpoint saves the progress below, not the problem)
        self.functionals = []
        self.n_lp = 0
        self.seconds = 0.0

    def save(self, t, x, a, parent, solver, ctx, state):
        """Store a snapshot and its W1; return None, or the failed :class:`W1Record`."""
        self.ts.append(t)
        self.xs.append(x.copy())
        self.ws.append(a.copy())
        self.ps.append(parent.copy())
        if self.functional_name is not None:
            self.functionals.append(self._functional(t, x, a, ctx))
        if not self.record:
            return None
        start = time.perf_counter()
        try:
            rec = self._w1(t, x, a, solver, ctx, state)
        finally:
            self.seconds += time.perf_counter() - start
        if not rec.success:
            return rec
        self.w1s.append(rec.w1)
        return None

    def _w1(self, t, x, a, solver, ctx, state):
        # Cheapest first: the solver itself, a field already computed here, else an LP of our own.
        rec = solver.w1(ctx, state, t, x, a)
        if rec is not None and (not rec.success or rec.from_lp or self.method == "auto"):
            return rec
        known = ctx.recall(x, a, t) if ctx.exact else None
        if known is not None and (self.method == "auto" or not getattr(known, "reused", False)):
            return W1Record.of_field(known)
        # the oracle's own LP path when it has one that holds no n x m matrix (the sparse LP):
        # a dense LP here would raise past the memory budget the oracle runs under. It counts
        # the LP itself; None means its path is the dense LP, solved here.
        own = getattr(ctx.problem.potential, "own_lp", None) if ctx.exact else None
        lp = own(x, a, self.target, self.target_weights) if own is not None else None
        if lp is None:
            lp = w1_value(x, a, self.target, self.target_weights, max_memory=self.max_memory)
            self.n_lp += 1
            if not lp.success and x.shape[1] > 1:  # POT's simplex can cycle on tie-heavy clouds
                lp = dense_fallback(x, a, self.target, self.target_weights, lp)
                self.n_lp += 1
        return W1Record(w1=lp.cost, status=lp.status, message=lp.message, from_lp=True)

    def _functional(self, t, x, a, ctx):
        # the field at this state: the one already known, else evaluated here and remembered,
        # so the step that starts here does not evaluate it again
        field = ctx.recall(x, a, t)
        if field is None:
            field = ctx.field(x, a, t)
            ctx.remember(field, t)
        if not field.success:
            return float("nan")  # the step from here reports the failure
        return ctx.problem.functional(field)

    def trim(self):
        """Drop snapshots whose W1 could not be computed, so arrays stay aligned."""
        if self.record and len(self.w1s) != len(self.ts):
            k = len(self.w1s)
            self.ts, self.xs, self.ws, self.ps = self.ts[:k], self.xs[:k], self.ws[:k], self.ps[:k]
            self.functionals = self.functionals[:k]
