"""The driver: :func:`simulate` runs a problem with a solver and returns a :class:`FlowResult`."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field as dc_field

import numpy as np

from ._validation import as_points, as_positive_float, as_nonnegative_float, as_positive_int, as_weights
from ._validation import check_same_dimension
from .solvers import CappedEuler, Euler, Solver, SolverContext

__all__ = ["simulate", "FlowResult"]

logger = logging.getLogger(__name__)

#: Status codes of a run (``FlowResult.status``).
STATUS_MESSAGES = {
    "success": "The flow reached t1.",
    "lp_failed": "A potential (LP) could not be computed to optimality; the run stopped.",
    "nonfinite": "A non-finite position appeared; the run stopped.",
    "callback": "The callback asked to stop.",
    "interrupted": "Interrupted (KeyboardInterrupt); the result holds the state reached.",
}


@dataclass
class FlowResult:
    """The outcome of :func:`simulate`.

    Attributes
    ----------
    ts : ndarray, shape (k,)
        Saved times; always include 0 and the final time reached.
    xs : list of ndarray
        Particle positions at ``ts`` (each (n_t, d); n_t grows only in splitting mode).
    weights : list of ndarray
        Particle weights at ``ts``.
    parents : list of ndarray
        For each saved particle, the index of its parent in ``x0`` (``arange(n)`` unless split).
    w1 : ndarray or None
        Exact W1 to the data at ``ts`` (None when the problem has no data or ``record_w1=False``).
    status : str
        ``"success"``, ``"lp_failed"``, ``"nonfinite"``, ``"callback"`` or ``"interrupted"``.
    message : str
        Human-readable explanation of the status.
    n_steps : int
        Steps taken.
    n_field_evals : int
        Field (potential) evaluations by the solver.
    n_lp_solves : int
        Exact LPs solved, by the oracle and for the W1 history.
    wall_time : float
        Seconds for the whole run.
    timings : dict
        Seconds spent in ``"field"`` (potential evaluations), ``"w1"`` (history) and ``"total"``.
    """

    ts: np.ndarray
    xs: list
    weights: list
    parents: list
    w1: np.ndarray | None
    status: str
    message: str
    n_steps: int
    n_field_evals: int
    n_lp_solves: int
    wall_time: float
    timings: dict = dc_field(default_factory=dict)
    solver: str = ""
    dt: float = float("nan")
    split: bool = False

    @property
    def success(self) -> bool:
        """True when the run reached ``t1``."""
        return self.status == "success"

    @property
    def x_final(self):
        """Final positions."""
        return self.xs[-1]

    @property
    def a_final(self):
        """Final weights."""
        return self.weights[-1]

    @property
    def xs_array(self):
        """Snapshots stacked as an array of shape (k, n, d), when all have the same shape."""
        shapes = {x.shape for x in self.xs}
        if len(shapes) != 1:
            raise ValueError("snapshots have different particle counts (splitting mode); use .xs")
        return np.stack(self.xs)

    def __repr__(self):
        w1 = "" if self.w1 is None else f", w1[-1]={self.w1[-1]:.6g}"
        return (
            f"FlowResult(status={self.status!r}, t={self.ts[-1]:.6g}, snapshots={len(self.ts)}, "
            f"n_steps={self.n_steps}, n_lp_solves={self.n_lp_solves}{w1}, "
            f"wall_time={self.wall_time:.3g}s)"
        )


class _Counter:
    """Times and counts the oracle's calls without changing its interface."""

    def __init__(self, oracle):
        self.oracle = oracle
        self.seconds = 0.0
        self.calls = 0
        self.exact_w1 = getattr(oracle, "exact_w1", False)

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.oracle(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1


def _validate(problem, x0, t1, dt, solver, potential, weights, save_every):
    if not hasattr(problem, "field"):
        raise TypeError(
            f"problem must be a problem object such as W1Flow(target); got {type(problem).__name__}."
        )
    target = getattr(problem, "target", None)
    x = as_points(x0, "x0", dim=None)
    if target is not None:
        check_same_dimension(x, target, "x0", "problem.target")
    elif hasattr(problem, "dim") and problem.dim is not None and problem.dim != x.shape[1]:
        raise ValueError(f"x0 has dimension {x.shape[1]} but the problem has dimension {problem.dim}.")
    a = as_weights(weights, x.shape[0], "weights")
    t1 = as_nonnegative_float(t1, "t1")
    dt = as_positive_float(dt, "dt")
    save_every = as_positive_int(save_every, "save_every")
    if solver is None:
        solver = Euler()
    if isinstance(solver, type) and issubclass(solver, Solver):
        solver = solver()
    if not isinstance(solver, Solver):
        raise TypeError(f"solver must be a Solver instance such as Euler(); got {solver!r}.")
    if potential is None and hasattr(problem, "default_potential"):
        potential = problem.default_potential()
    if potential is not None and not callable(potential):
        raise TypeError(f"potential must be a potential oracle such as ExactPotential(); got {potential!r}.")
    return x, a, t1, dt, solver, potential, save_every


def simulate(problem, x0, t1, dt, solver=None, potential=None, weights=None, save_every=1,
             callback=None, progress=False, split=False, record_w1=True):
    """Integrate a particle flow from ``t = 0`` to ``t1`` with a fixed step ``dt``.

    Parameters
    ----------
    problem : W1Flow or another problem
        What flows (the data measure for W1 flows, or a mean-field drift).
    x0 : array_like, shape (n, d)
        Initial particles (a 1-D array is n points on the line). Converted to float64.
    t1 : float
        Final time, ``>= 0`` (time is measured in the flow's units: W1 flows move at unit speed).
    dt : float
        Step size, ``> 0``. The last step is shortened to land exactly on ``t1``.
    solver : Solver, optional
        :class:`~w1flow.Euler` (default), :class:`~w1flow.CappedEuler`, …
    potential : PotentialOracle, optional
        How φ is estimated; defaults to the problem's (:class:`~w1flow.ExactPotential`).
    weights : array_like, shape (n,), optional
        Particle weights (uniform by default), non-negative, normalised to total mass 1.
        Zero weights make passive tracers.
    save_every : int
        Save a snapshot every this many steps (the initial and final states are always saved).
    callback : callable, optional
        ``callback(t, x, a)`` after every step; returning ``True`` stops the run
        (status ``"callback"``).
    progress : bool
        Show a tqdm progress bar.
    split : bool
        Splitting mode for split plans (see :mod:`w1flow.solvers`).
    record_w1 : bool
        Record the exact W1 to the data at the saved times (one LP per save point, reused as the
        next step's field when the oracle is exact).

    Returns
    -------
    FlowResult
        A failed LP or a non-finite state stops the run with ``status`` other than "success"
        and a message; the result holds everything computed up to that point.
    """
    from .metrics import _w1_lp

    start_time = time.perf_counter()
    x, a, t1, dt, solver, potential, save_every = _validate(
        problem, x0, t1, dt, solver, potential, weights, save_every
    )
    if not isinstance(split, (bool, np.bool_)):
        raise TypeError(f"split must be True or False, got {split!r}.")
    oracle = _Counter(potential) if potential is not None else None
    lp_before = _oracle_lps(potential)
    ctx = SolverContext(problem=problem, potential=oracle, split=bool(split))
    target = getattr(problem, "target", None)
    record = bool(record_w1) and target is not None
    x_init, a_init = x, a
    parent = np.arange(x.shape[0])

    n_steps_total = int(math.ceil(t1 / dt - 1e-12)) if t1 > 0 else 0
    ts, xs, ws, ps, w1s = [], [], [], [], []
    timing = {"w1": 0.0}
    counts = {"w1_lps": 0}
    # Euler with an exact oracle: the LP solved for the W1 history at a save point is the
    # field of the next step, so it is kept and reused (one LP per step, not two).
    reuse_fields = isinstance(solver, Euler) and oracle is not None and oracle.exact_w1
    cache = {"field": None}

    def save(t, x_now, a_now, field_now=None):
        """Store a snapshot and its W1; return None, or the failed LP/potential."""
        ts.append(t)
        xs.append(x_now.copy())
        ws.append(a_now.copy())
        ps.append(parent.copy())
        if not record:
            return None
        t_start = time.perf_counter()
        try:
            if field_now is not None:
                f = field_now
            elif reuse_fields:
                f = cache["field"] = ctx.field(x_now, a_now, t)
            else:
                f = _w1_lp(x_now, a_now, target, problem.target_weights)
                counts["w1_lps"] += 1
            if not f.success:
                return f
            w1s.append(f.w1 if hasattr(f, "w1") else f.cost)
            return None
        finally:
            timing["w1"] += time.perf_counter() - t_start

    def fail(what):
        return "lp_failed", f"{STATUS_MESSAGES['lp_failed']} {what.message}"

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_steps_total, desc=f"w1flow {solver.name}", unit="step")
    status, message = "success", STATUS_MESSAGES["success"]
    k, t = 0, 0.0
    try:
        x, a, split_parent, state, field0 = solver.init(ctx, 0.0, x, a)
        if field0 is not None and not getattr(field0, "success", True):
            status, message = fail(field0)
            record = False
            save(0.0, x_init, a_init)
        else:
            exact0 = field0 is not None and oracle.exact_w1
            bad = save(0.0, x_init, a_init, field0 if exact0 else None)
            if bad is not None:
                status, message = fail(bad)
            if split_parent is not None:
                parent = split_parent
        while status == "success" and k < n_steps_total:
            h = min(dt, t1 - t)
            result = solver.step(ctx, t, h, x, a, state, field=cache["field"])
            cache["field"] = None
            if not result.ok:
                status, message = "lp_failed", f"{STATUS_MESSAGES['lp_failed']} {result.message}"
                break
            if result.parent is not None:
                parent = parent[result.parent]
            x, a = result.x, result.a
            k += 1
            t = t1 if k == n_steps_total else k * dt
            if bar is not None:
                bar.update(1)
            if not np.all(np.isfinite(x)):
                status, message = "nonfinite", f"{STATUS_MESSAGES['nonfinite']} (step {k}, t={t:.6g})"
                break
            if k % save_every == 0 or k == n_steps_total:
                bad = save(t, x, a)
                if bad is not None:
                    status, message = fail(bad)
                    break
            if callback is not None and callback(t, x, a):
                status, message = "callback", f"{STATUS_MESSAGES['callback']} (t={t:.6g})"
                break
    except KeyboardInterrupt:
        status, message = "interrupted", f"{STATUS_MESSAGES['interrupted']} (t={t:.6g}, step {k})"
    finally:
        if bar is not None:
            bar.close()
    if status in ("interrupted", "callback") and ts and ts[-1] != t:
        try:  # keep the state reached as the last snapshot
            save(t, x, a)
        except KeyboardInterrupt:  # pragma: no cover - a second interrupt while saving
            pass
    if record and len(w1s) != len(ts):  # the last W1 solve failed or was cut: keep arrays aligned
        ts, xs, ws, ps = ts[: len(w1s)], xs[: len(w1s)], ws[: len(w1s)], ps[: len(w1s)]
    if status != "success":
        logger.warning("simulate stopped: %s", message)
    wall = time.perf_counter() - start_time
    return FlowResult(
        ts=np.asarray(ts, dtype=np.float64),
        xs=xs,
        weights=ws,
        parents=ps,
        w1=np.asarray(w1s, dtype=np.float64) if record else None,
        status=status,
        message=message,
        n_steps=k,
        n_field_evals=oracle.calls if oracle is not None else 0,
        n_lp_solves=counts["w1_lps"] + _oracle_lps(potential) - lp_before,
        wall_time=wall,
        timings={"field": oracle.seconds if oracle is not None else 0.0, "w1": timing["w1"], "total": wall},
        solver=solver.name,
        dt=dt,
        split=bool(split),
    )


def _oracle_lps(potential):
    counters = getattr(potential, "counters", None)
    return int(counters.get("lp_solves", 0)) if isinstance(counters, dict) else 0
