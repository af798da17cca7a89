"""The driver: :func:`simulate` runs a problem with a solver and returns a :class:`FlowResult`."""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import dataclass, field as dc_field
from pathlib import Path

import numpy as np

from ._validation import as_points, as_positive_float, as_nonnegative_float, as_positive_int, as_weights
from ._validation import check_same_dimension
from ._lp import DEFAULT_MEMORY_BUDGET
from .checkpoint import fingerprint, read_checkpoint, write_checkpoint
from .monitors import HealthCheckError, HealthMonitor, default_monitors
from .solvers import Euler, Solver, SolverContext

__all__ = ["simulate", "FlowResult"]

logger = logging.getLogger(__name__)

#: Status codes of a run (``FlowResult.status``).
STATUS_MESSAGES = {
    "success": "The flow reached t1.",
    "lp_failed": "A potential (LP) could not be computed to optimality; the run stopped.",
    "nonfinite": "A non-finite position appeared; the run stopped.",
    "callback": "The callback asked to stop.",
    "unhealthy": "A health monitor flagged the run:",
    "certificate_failed": "The optimality certificate of the carried-over plan failed; the run stopped.",
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
        ``"success"``, ``"lp_failed"``, ``"certificate_failed"``, ``"nonfinite"``,
        ``"unhealthy"``, ``"callback"`` or ``"interrupted"``.
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
    health : list of str
        Messages of the health monitors that fired (see :mod:`w1flow.monitors`).
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
    health: list = dc_field(default_factory=list)

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
        self.last = None
        self.exact_w1 = getattr(oracle, "exact_w1", False)

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            self.last = self.oracle(*args, **kwargs)
            return self.last
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
             callback=None, progress=False, split=False, record_w1=True, monitors="default",
             on_unhealthy="stop", checkpoint=None, checkpoint_every=100, resume=False,
             max_steps=10_000_000, w1_method="auto"):
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
        Record the exact W1 to the data at the saved times. How it is computed: see ``w1_method``.
    monitors : "default", list of HealthMonitor, or None
        Checks run at every save point (see :mod:`w1flow.monitors`); "default" flags non-finite
        values, a critic's Lipschitz drift and, for CappedEuler, W1 rising beyond round-off.
    on_unhealthy : {"stop", "raise", "warn"}
        What a flagged check does: stop with status ``"unhealthy"``, raise
        :class:`~w1flow.monitors.HealthCheckError`, or warn and go on.
    checkpoint : str or Path, optional
        File to write the run's state to every ``checkpoint_every`` steps, on interrupt and at the
        end (atomically; see :mod:`w1flow.checkpoint`).
    checkpoint_every : int
        Steps between checkpoints.
    resume : bool
        If ``checkpoint`` exists, continue from it (its solver and oracle state replace the
        ones given). The final state is bitwise identical to an uninterrupted run.
    max_steps : int or None
        Refuse runs needing more steps than this (a guard against a mistyped dt).
    w1_method : {"auto", "lp"}
        ``"auto"``: W1 at save points comes from the solver when it knows it without an LP
        (:class:`~w1flow.CappedEuler`: ``Σ G_ij (|x_i − y_j| − t)⁺`` from the initial plan;
        ``Euler(reuse_plan=True)``: the cost of the carried-over plan), otherwise from one LP per
        save point, reused as the next step's field when the oracle is exact. ``"lp"``: solve
        an LP at every save point (LP-verified history; the flow itself is unchanged).

    Returns
    -------
    FlowResult
        A failed LP or a non-finite state stops the run with ``status`` other than "success"
        and a message; the result holds everything computed up to that point.
    """
    from .metrics import _w1_lp

    x, a, t1, dt, solver, potential, save_every = _validate(
        problem, x0, t1, dt, solver, potential, weights, save_every
    )
    if not isinstance(split, (bool, np.bool_)):
        raise TypeError(f"split must be True or False, got {split!r}.")
    if w1_method not in ("auto", "lp"):
        raise ValueError(f"w1_method must be 'auto' or 'lp', got {w1_method!r}.")
    if on_unhealthy not in ("stop", "raise", "warn"):
        raise ValueError(f"on_unhealthy must be 'stop', 'raise' or 'warn', got {on_unhealthy!r}.")
    checkpoint_every = as_positive_int(checkpoint_every, "checkpoint_every")
    if monitors == "default":
        monitors = default_monitors(solver)
    elif monitors is None:
        monitors = []
    else:
        monitors = list(monitors)
        if not all(isinstance(m, HealthMonitor) for m in monitors):
            raise TypeError("monitors must be 'default', None, or a list of HealthMonitor objects.")
    target = getattr(problem, "target", None)
    record = bool(record_w1) and target is not None
    n_steps_total = int(math.ceil(t1 / dt - 1e-12)) if t1 > 0 else 0
    if max_steps is not None and n_steps_total > max_steps:
        raise ValueError(
            f"t1/dt asks for {n_steps_total} steps, more than max_steps={max_steps}; increase dt "
            "or pass a larger max_steps."
        )
    run_id = fingerprint(
        x, a, t1, dt, save_every, bool(split), record, type(solver).__name__,
        target if target is not None else type(problem).__name__,
        getattr(problem, "target_weights", None) if target is not None else None,
    )

    # Everything that defines the run's progress lives in `run`, so a checkpoint is one dict.
    run = dict(
        k=0, t=0.0, x=x, a=a, parent=np.arange(x.shape[0]), state=None, initialised=False,
        ts=[], xs=[], ws=[], ps=[], w1s=[], health=[], w1_lps=0, w1_seconds=0.0,
        oracle_calls=0, oracle_seconds=0.0, field_calls=0, lp_before=_oracle_lps(potential),
        solver=solver, potential=potential, elapsed=0.0,
    )
    if resume and checkpoint is not None and Path(checkpoint).exists():
        saved = read_checkpoint(checkpoint, expected_fingerprint=run_id)
        for key in run:
            run[key] = saved[key]
        solver, potential = run["solver"], run["potential"]
        logger.info("resumed from %s at t=%.6g (step %d)", checkpoint, run["t"], run["k"])
    oracle = _Counter(potential) if potential is not None else None
    if oracle is not None:
        oracle.calls, oracle.seconds = run["oracle_calls"], run["oracle_seconds"]
    ctx = SolverContext(problem=problem, potential=oracle, split=bool(split), n_fields=run["field_calls"])
    ts, xs, ws, ps, w1s = run["ts"], run["xs"], run["ws"], run["ps"], run["w1s"]
    # Euler with an exact oracle: the LP solved for the W1 history at a save point is the
    # field of the next step, so it is kept and reused (one LP per step, not two).
    # (A solver that owns its fields, e.g. Euler(reuse_plan=True), reports W1 through w1_at.)
    reuse_fields = (isinstance(solver, Euler) and not solver.owns_fields and oracle is not None
                    and oracle.exact_w1)
    cache = {"field": None}
    w1_budget = getattr(potential, "max_memory", DEFAULT_MEMORY_BUDGET)  # the oracle's, if it has one

    # An interrupt inside a step or a save leaves the run (and a stateful oracle, e.g. a critic
    # mid-training) half-updated: then the last periodic checkpoint is kept, not overwritten.
    consistent = [True]

    def save(t, x_now, a_now, field_now=None):
        """Store a snapshot and its W1; return None, or the failed LP/potential."""
        consistent[0] = False
        try:
            return _save(t, x_now, a_now, field_now)
        finally:
            consistent[0] = True

    def _save(t, x_now, a_now, field_now=None):
        ts.append(t)
        xs.append(x_now.copy())
        ws.append(a_now.copy())
        ps.append(run["parent"].copy())
        if not record:
            return None
        t_start = time.perf_counter()
        try:
            # Who knows W1 here, cheapest first: the solver itself (a carried plan), the field the
            # caller already has, the next step's field (exact oracle), else an LP of its own.
            f = solver.w1_at(ctx, run["state"], t, x_now, a_now) if w1_method == "auto" else None
            if f is None and field_now is not None:
                f = field_now
            if f is None and reuse_fields:
                f = cache["field"] = ctx.field(x_now, a_now, t)
            if f is None:
                f = _w1_lp(x_now, a_now, target, problem.target_weights, max_memory=w1_budget)
                run["w1_lps"] += 1
            if not f.success:
                return f
            w1s.append(f.w1 if hasattr(f, "w1") else f.cost)
            return None
        finally:
            run["w1_seconds"] += time.perf_counter() - t_start

    def fail(what):
        code = "certificate_failed" if getattr(what, "status", "") == "certificate_failed" else "lp_failed"
        return code, f"{STATUS_MESSAGES[code]} {what.message}"

    def check_health(t, x_now, a_now):
        """Run the monitors; return a message if the run must stop."""
        field_now = oracle.last if oracle is not None else None
        for monitor in monitors:
            msg = monitor.check(t, x_now, a_now, w1s, field_now)
            if msg is None:
                continue
            run["health"].append(msg)
            if on_unhealthy == "raise":
                raise HealthCheckError(msg)
            if on_unhealthy == "stop":
                return msg
            warnings.warn(f"w1flow health check: {msg}", RuntimeWarning, stacklevel=3)
        return None

    def write(status_now):
        if checkpoint is None:
            return
        if oracle is not None:
            run["oracle_calls"], run["oracle_seconds"] = oracle.calls, oracle.seconds
        run["field_calls"] = ctx.n_fields
        run["elapsed"] += time.perf_counter() - segment_start[0]
        segment_start[0] = time.perf_counter()
        write_checkpoint(checkpoint, dict(run, fingerprint=run_id, status=status_now))

    segment_start = [time.perf_counter()]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_steps_total, initial=run["k"], desc=f"w1flow {solver.name}", unit="step")
    status, message = "success", STATUS_MESSAGES["success"]
    try:
        if not run["initialised"]:
            x_init, a_init = run["x"], run["a"]
            x_s, a_s, split_parent, run["state"], field0 = solver.init(ctx, 0.0, x_init, a_init)
            run["initialised"] = True
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
                    run["parent"] = split_parent
                run["x"], run["a"] = x_s, a_s
            if status == "success":
                msg = check_health(0.0, x_init, a_init)
                if msg is not None:
                    status, message = "unhealthy", f"{STATUS_MESSAGES['unhealthy']} {msg}"
        while status == "success" and run["k"] < n_steps_total:
            k, t = run["k"], run["t"]
            h = min(dt, t1 - t)
            consistent[0] = False
            result = solver.step(ctx, t, h, run["x"], run["a"], run["state"], field=cache["field"])
            cache["field"] = None
            if not result.ok:
                status, message = "lp_failed", f"{STATUS_MESSAGES['lp_failed']} {result.message}"
                break
            if result.parent is not None:
                run["parent"] = run["parent"][result.parent]
            run["x"], run["a"] = result.x, result.a
            k += 1
            t = t1 if k == n_steps_total else k * dt
            run["k"], run["t"] = k, t
            consistent[0] = True
            if bar is not None:
                bar.update(1)
            if not np.all(np.isfinite(result.x)):
                status, message = "nonfinite", f"{STATUS_MESSAGES['nonfinite']} (step {k}, t={t:.6g})"
                break
            if k % save_every == 0 or k == n_steps_total:
                bad = save(t, run["x"], run["a"])
                if bad is not None:
                    status, message = fail(bad)
                    break
                msg = check_health(t, run["x"], run["a"])
                if msg is not None:
                    status, message = "unhealthy", f"{STATUS_MESSAGES['unhealthy']} {msg}"
                    break
            if callback is not None and callback(t, run["x"], run["a"]):
                status, message = "callback", f"{STATUS_MESSAGES['callback']} (t={t:.6g})"
                break
            if k % checkpoint_every == 0 and k < n_steps_total:
                write("running")
    except KeyboardInterrupt:
        status = "interrupted"
        message = f"{STATUS_MESSAGES['interrupted']} (t={run['t']:.6g}, step {run['k']})"
        if checkpoint is not None:
            message += f"; resume with checkpoint={str(checkpoint)!r}, resume=True"
    finally:
        if bar is not None:
            bar.close()
    t, x = run["t"], run["x"]
    if checkpoint is not None and status in ("success", "interrupted"):
        if consistent[0]:
            write(status)  # before the partial snapshot below, so a resume continues cleanly
        else:
            message += " (interrupted mid-step: the last periodic checkpoint is kept)"
    if status in ("interrupted", "callback") and ts and ts[-1] != t:
        try:  # keep the state reached as the last snapshot
            save(t, x, run["a"])
        except KeyboardInterrupt:  # pragma: no cover - a second interrupt while saving
            pass
    if record and len(w1s) != len(ts):  # the last W1 solve failed or was cut: keep arrays aligned
        ts, xs, ws, ps = ts[: len(w1s)], xs[: len(w1s)], ws[: len(w1s)], ps[: len(w1s)]
    if status != "success":
        logger.warning("simulate stopped: %s", message)
    wall = run["elapsed"] + time.perf_counter() - segment_start[0]
    return FlowResult(
        ts=np.asarray(ts, dtype=np.float64),
        xs=list(xs),
        weights=list(ws),
        parents=list(ps),
        w1=np.asarray(w1s, dtype=np.float64) if record else None,
        status=status,
        message=message,
        n_steps=run["k"],
        n_field_evals=ctx.n_fields,
        n_lp_solves=run["w1_lps"] + _oracle_lps(potential) - run["lp_before"],
        wall_time=wall,
        timings={"field": oracle.seconds if oracle is not None else 0.0, "w1": run["w1_seconds"],
                 "total": wall},
        solver=solver.name,
        dt=dt,
        split=bool(split),
        health=list(run["health"]),
    )


def _oracle_lps(potential):
    counters = getattr(potential, "counters", None)
    return int(counters.get("lp_solves", 0)) if isinstance(counters, dict) else 0
