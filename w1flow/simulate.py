"""The driver: :func:`simulate` runs a problem with a solver and returns a :class:`FlowResult`.

:func:`simulate` is the loop: solver step, bookkeeping, save points, callback, checkpoints. The
pieces it leans on each have one home: what to save and the W1 history in
:mod:`w1flow.saving` (:class:`~w1flow.SaveAt`), checkpoints in :mod:`w1flow.checkpoint`
(:class:`~w1flow.Checkpoint`), health checks in :mod:`w1flow.monitors`, status words in
:mod:`w1flow.status`, the solver contract and its :class:`~w1flow.solvers.SolverContext` in
:mod:`w1flow.solvers`.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field as dc_field, fields

import numpy as np

from .lp import DEFAULT_MEMORY_BUDGET
from ._validation import (as_bool, as_int, as_nonnegative_float, as_points, as_positive_float, as_weights,
                          check_same_dimension, readonly)
from .checkpoint import Checkpoint, CheckpointError, fingerprint, function_refs, load_into, require_state
from .monitors import _Health
from .problems import Problem
from .result import FlowResult
from .saving import SaveAt, _Grid, _History
from .solvers import Euler, Solver, SolverContext
from .status import RUN_STATUSES, run_message, run_status

__all__ = ["simulate", "FlowResult", "STATUS_MESSAGES"]

logger = logging.getLogger(__name__)

#: Status words of a run and their meaning (kept for 0.1 code; see :mod:`w1flow.status`).
STATUS_MESSAGES = RUN_STATUSES

#: The 0.1 keywords of :func:`simulate`, their replacement, and the release that removes them.
_DEPRECATED = {
    "save_every": "saveat=SaveAt(every=...)",
    "record_w1": "saveat=SaveAt(w1=None)",
    "w1_method": "saveat=SaveAt(w1=...)",
    "checkpoint_every": "checkpoint=Checkpoint(path, every=...)",
    "resume": "checkpoint=Checkpoint(path, resume=True)",
    "split": "a solver option, e.g. solver=Euler(split=True) or CappedEuler(split=True)",
}
_REMOVED_IN = "0.3"


def simulate(problem, x0, t1, dt, solver=None, potential=None, weights=None, *, saveat=None,
             checkpoint=None, callback=None, progress=False, monitors="default", on_unhealthy="stop",
             max_steps=10_000_000, **deprecated):
    """Integrate a particle flow from ``t = 0`` to ``t1`` with a fixed step ``dt``.

    Parameters
    ----------
    problem : W1Flow, W2Flow, MeanFieldODE or another :class:`~w1flow.problems.Problem`
        What flows (the data measure and its potential oracle, or a mean-field drift).
    x0 : array_like, shape (n, d)
        Initial particles (a 1-D array is n points on the line). Converted to float64.
    t1 : float
        Final time, ``>= 0`` (time is measured in the flow's units: W1 flows move at unit speed).
    dt : float
        Step size, ``> 0``. The last step is shortened to land exactly on ``t1``.
    solver : Solver, optional
        :class:`~w1flow.Euler` (default), :class:`~w1flow.CappedEuler`, :class:`~w1flow.Heun`,
        :class:`~w1flow.RK4`; options such as ``split=True`` are the solver's.
    potential : PotentialOracle, optional
        Estimate φ with this oracle for this call only, instead of the problem's own
        (``W1Flow(..., potential=...)``; :class:`~w1flow.ExactPotential` by default). The
        problem object is not modified.
    weights : array_like, shape (n,), optional
        Particle weights (uniform by default), non-negative, normalised to total mass 1.
        Zero weights make passive tracers.
    saveat : SaveAt, optional
        When to save snapshots and how to record W1 there (default ``SaveAt(every=1)``: every
        step, W1 from the cheapest exact source). The initial and final states are always saved.
    checkpoint : Checkpoint, str or Path, optional
        Where to checkpoint (every ``Checkpoint.every`` steps, on interrupt and at the end,
        atomically) and whether to resume from it; a path is ``Checkpoint(path)``. A resumed run
        is bitwise identical to an uninterrupted one. The file is an ``.npz`` + JSON (no pickle,
        :mod:`w1flow.checkpoint`); a solver or oracle without its own ``state_dict`` /
        ``load_state`` is refused (:class:`~w1flow.CheckpointError`) before the first step.
    callback : callable, optional
        ``callback(t, x, a)`` after every step, with read-only views of the particles and
        weights (copy them to keep them); returning ``True`` stops the run (status ``"callback"``).
    progress : bool
        Show a tqdm progress bar.
    monitors : "default", list of HealthMonitor, or None
        Checks run at every save point (see :mod:`w1flow.monitors`); "default" flags non-finite
        values, a critic's Lipschitz drift and, for solvers whose W1 cannot rise
        (``solver.w1_nonincreasing``), W1 rising beyond round-off.
    on_unhealthy : {"stop", "raise", "warn"}
        What a flagged check does: stop with status ``"unhealthy"``, raise
        :class:`~w1flow.monitors.HealthCheckError`, or warn and go on.
    max_steps : int or None
        Refuse runs needing more steps than this (a guard against a mistyped dt).
    **deprecated
        The 0.1 keywords ``save_every``, ``record_w1``, ``w1_method``, ``split``,
        ``checkpoint_every`` and ``resume`` still work until w1flow 0.3, with a
        ``DeprecationWarning`` naming their replacement.

    Returns
    -------
    FlowResult
        A failed field (LP, Sinkhorn, critic), a failed certificate, a non-finite state, a
        diverging one (status ``"diverged"``: max|x| beyond 1e8 times the scale
        ``S = max(1, max|x0|, max|data|)``, or growing tenfold per step three steps in a row past
        100 S; see docs/reliability.md) or a health monitor stops the run with ``status`` other
        than "success" and a message (see :mod:`w1flow.status`); the result holds everything
        computed up to that point.
    """
    solver, saveat, checkpoint = _options(solver, saveat, checkpoint, deprecated)
    problem, x, a, t1, dt, oracle = _validate(problem, x0, t1, dt, solver, potential, weights)
    grid = _Grid(t1, dt, saveat)
    if max_steps is not None and grid.n_steps > max_steps:
        raise ValueError(f"t1/dt asks for {grid.n_steps} steps, more than max_steps={max_steps}; increase "
                         "dt or pass a larger max_steps.")
    run_id = None  # the run's fingerprint: only a checkpointed run pays for it
    if checkpoint is not None:
        run_id = fingerprint(x0=x, weights=a, t1=t1, dt=dt, saveat=saveat, solver=solver, oracle=oracle,
                             problem=type(problem), **{f"problem.{k}": v for k, v in problem.settings().items()})
        require_state("solver", solver)  # refuse now what could not be saved, not at the first checkpoint
        require_state("potential oracle", oracle)
    call_start = time.perf_counter()
    # functions of the oracle a saved field may hold (a MonoFlow's h) are saved by name, read from it
    refs = function_refs("oracle", oracle)
    saved = checkpoint.load(run_id, refs) if checkpoint is not None else None
    budget = getattr(oracle, "max_memory", DEFAULT_MEMORY_BUDGET)  # the oracle's, if it has one
    run = _Run(x=x, a=a, parent=np.arange(x.shape[0]), solver=solver, oracle=oracle,
               history=_History(problem, saveat.w1, budget), lp_before=_oracle_lps(oracle))
    if saved is not None:  # the state goes into the caller's solver and oracle (the fingerprint: this run's)
        _restore(checkpoint.path, run, saved)
        logger.info("resumed from %s at t=%.6g (step %d)", checkpoint.path, run.t, run.k)
    ctx = SolverContext(problem.with_potential(run.oracle), run.n_fields, run.field_seconds, run.memo,
                        parent=run.parent)
    health = _Health(monitors, on_unhealthy, solver, run.health, run.flagging)
    bar = _progress_bar(progress, grid.n_steps, run.k, solver)
    status, message, consistent = "success", "", True
    # the streak carries over a resume, so a resumed run stops as "diverged" at the same step
    scale, growth = _scale(problem, x), (float(np.max(np.abs(run.x), initial=0.0)), run.growth_streak)
    try:
        if not run.initialised:
            consistent = False
            status, message = _initialise(run, ctx, health, dt)
            consistent = True
        while status == "success" and run.j < grid.n_regular:
            h, t_end, j_end, save = grid.next_step(run.t, run.j)
            consistent = False  # an interrupt from here on leaves the run half-updated
            out = solver.step(ctx, run.t, h, run.x, run.a, run.state)
            if not out.ok:
                status = run_status(out.status)
                message = run_message(status, out.message)
                break
            if out.parent is not None:
                run.parent = ctx.parent = run.parent[out.parent]
            run.x, run.a, run.state = out.x, out.a, out.state
            run.k, run.j, run.t = run.k + 1, j_end, t_end
            if out.field_at_end is not None:
                ctx.remember(out.field_at_end, t_end)
            consistent = True
            if bar is not None:
                bar.update(1)
            if not np.all(np.isfinite(out.x)):
                status = "nonfinite"
                message = run_message(status, f"(step {run.k}, t={run.t:.6g})")
                break
            growth = _diverged(growth, out.x, scale)
            if isinstance(growth, str):
                status, message = "diverged", run_message("diverged", f"(step {run.k}, t={run.t:.6g}): {growth}")
                break
            run.growth_streak = growth[1]
            consistent = False
            status, message = _check(run, ctx, health, save)
            consistent = True
            if status != "success":
                break
            if callback is not None and callback(run.t, readonly(run.x), readonly(run.a)):
                status, message = "callback", run_message("callback", f"(t={run.t:.6g})")
                break
            if checkpoint is not None and run.k % checkpoint.every == 0 and run.j < grid.n_regular:
                _write(checkpoint, run, ctx, run_id, "running", call_start)
    except KeyboardInterrupt:
        status = "interrupted"
        message = run_message(status, f"(t={run.t:.6g}, step {run.k})")
        if checkpoint is not None:
            message += f"; resume with checkpoint=Checkpoint({str(checkpoint.path)!r}, resume=True)"
    finally:
        if bar is not None:
            bar.close()
    if checkpoint is not None and status in ("success", "interrupted"):
        if consistent:
            _write(checkpoint, run, ctx, run_id, status, call_start)  # before the last snapshot below
        else:
            message += " (interrupted mid-step: the last periodic checkpoint is kept)"
    if status in ("interrupted", "callback", "unhealthy", "diverged") and run.history.ts and run.history.ts[-1] != run.t:
        try:  # keep the state reached as the last snapshot
            run.history.save(run.t, run.x, run.a, run.parent, solver, ctx, run.state)
        except KeyboardInterrupt:  # pragma: no cover - a second interrupt while saving
            pass
    if status != "success":
        logger.warning("simulate stopped: %s", message)
    return _result(run, ctx, status, message or run_message("success"), dt,
                   run.elapsed + time.perf_counter() - call_start)


@dataclass
class _Run:
    """Everything that defines a run's progress. A checkpoint holds its fields as arrays and JSON
    values, the solver's and oracle's state through their ``state_dict``, and the history's progress;
    never the problem, the solver or the oracle themselves (the caller's, loaded on resume)."""

    x: np.ndarray
    a: np.ndarray
    parent: np.ndarray  # index in x0 of each current particle
    solver: Solver
    oracle: object  # the potential oracle of the run (None for problems without one)
    history: _History
    k: int = 0  # steps taken
    j: int = 0  # steps of the regular grid taken (SaveAt(ts=...) adds steps between them)
    t: float = 0.0
    state: object = None  # the solver's state
    initialised: bool = False
    memo: object = None  # the SolverContext's field memo at the last checkpoint
    n_fields: int = 0
    field_seconds: float = 0.0
    health: list = dc_field(default_factory=list)
    flagging: set = dc_field(default_factory=set)  # monitors flagging at their last check
    w1_trace: list = dc_field(default_factory=list)  # W1 at t0, and the last two values known
    fields_checked: int = 0  # field evaluations the monitors have seen
    lp_before: int = 0  # the oracle's LP count before the run
    elapsed: float = 0.0  # seconds spent before the last checkpoint
    growth_streak: int = 0  # steps in a row on which max|x| grew tenfold (the divergence rule's count)


def _options(solver, saveat, checkpoint, deprecated):
    """The solver, the save spec and the checkpoint spec, from the new and the 0.1 keywords."""
    unknown = sorted(set(deprecated) - set(_DEPRECATED))
    if unknown:
        raise TypeError(f"simulate() got an unexpected keyword argument {unknown[0]!r}.")
    for key in deprecated:
        warnings.warn(f"simulate({key}=...) is deprecated since w1flow 0.2 and will be removed in "
                      f"{_REMOVED_IN}; use {_DEPRECATED[key]}.", DeprecationWarning, stacklevel=3)
    if solver is None:
        solver = Euler()
    if isinstance(solver, type) and issubclass(solver, Solver):
        solver = solver()
    if not isinstance(solver, Solver):
        raise TypeError(f"solver must be a Solver instance such as Euler(); got {solver!r}.")
    if "split" in deprecated:
        solver = solver.replace(split=as_bool(deprecated["split"], "split"))
    old_save = {k: deprecated[k] for k in ("save_every", "record_w1", "w1_method") if k in deprecated}
    if old_save:
        if saveat is not None:
            raise TypeError(f"give saveat= or the deprecated {sorted(old_save)}, not both.")
        method = old_save.get("w1_method", "auto")
        if method not in ("auto", "lp"):
            raise ValueError(f"w1_method must be 'auto' or 'lp', got {method!r}.")
        saveat = SaveAt(every=as_int(old_save.get("save_every", 1), "save_every", 1),
                        w1=method if old_save.get("record_w1", True) else None)
    if saveat is None:
        saveat = SaveAt()
    if not isinstance(saveat, SaveAt):
        raise TypeError(f"saveat must be a SaveAt, e.g. SaveAt(every=10); got {saveat!r}.")
    if isinstance(checkpoint, Checkpoint) and {"checkpoint_every", "resume"} & set(deprecated):
        raise TypeError("give checkpoint=Checkpoint(path, every=..., resume=...), or the deprecated "
                        "checkpoint_every= and resume= with a path, not both.")
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        every = as_int(deprecated.get("checkpoint_every", 100), "checkpoint_every", 1)
        checkpoint = Checkpoint(checkpoint, every=every, resume=bool(deprecated.get("resume", False)))
    return solver, saveat, checkpoint


def _validate(problem, x0, t1, dt, solver, potential, weights):
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a problem object such as W1Flow(target) (a subclass of "
                        f"w1flow.problems.Problem); got {type(problem).__name__}.")
    x = as_points(x0, "x0", dim=None)
    if problem.target is not None:
        check_same_dimension(x, problem.target, "x0", "problem.target")
    elif problem.dim is not None and problem.dim != x.shape[1]:
        raise ValueError(f"x0 has dimension {x.shape[1]} but the problem has dimension {problem.dim}.")
    a = as_weights(weights, x.shape[0], "weights")
    problem.check_particles(x, a)
    t1 = as_nonnegative_float(t1, "t1")
    dt = as_positive_float(dt, "dt")
    solver.check_problem(problem)  # the solver's declared capabilities (noise, [q, v] states) against the problem
    run_problem = problem.with_potential(potential)  # refuses an oracle the problem cannot use
    if solver.needs_plan and not run_problem.provides_plan:
        field = type(run_problem.potential).__name__ if run_problem.potential is not None else type(problem).__name__
        raise TypeError(f"{solver!r} needs a potential with an optimal plan (ExactPotential, "
                        f"QuantilePotential); got {field}. Use Euler() without split with this oracle.")
    return problem, x, a, t1, dt, run_problem.potential


def _initialise(run, ctx, health, dt):
    """The solver's zero-length first step and the save point at t = 0; returns the status."""
    out = run.solver.init(ctx, run.t, dt, run.x, run.a)
    run.initialised = True
    if out.field_at_end is not None:
        ctx.remember(out.field_at_end, run.t)
    if not out.ok:
        run.history.record = False  # no W1 without a potential
        run.history.save(run.t, run.x, run.a, run.parent, run.solver, ctx, None)
        status = run_status(out.status)
        return status, run_message(status, out.message)
    run.state = out.state
    status, message = _check(run, ctx, health, save=True)
    if out.parent is not None:
        run.parent = ctx.parent = run.parent[out.parent]
    run.x, run.a = out.x, out.a
    return status, message


def _check(run, ctx, health, save):
    """After a step: the save point (snapshot and W1) if it is one, the W1 trace, and the
    monitors (the every-step ones, then at save points the others); returns the status.

    The every-step monitors see the newest field if one was evaluated since the last check
    (by the step, or for W1 at this save point), so every field is checked once, as soon as
    it exists."""
    hist = run.history
    if save:
        failed = hist.save(run.t, run.x, run.a, run.parent, run.solver, ctx, run.state)
        if failed is not None:
            status = run_status(failed.status)
            return status, run_message(status, failed.message)
    new_field, run.fields_checked = ctx.n_fields > run.fields_checked, ctx.n_fields
    w1 = None
    if save and hist.record:
        w1 = hist.w1s[-1]
    elif run.solver.w1_nonincreasing and hist.target is not None:  # O(n): checked at every step
        # a solver that promises a non-increasing W1 gives it at every state (O(n), uncertified)
        w1 = run.solver.w1(ctx, run.state, run.t, run.x, run.a, certify=False).w1
    if w1 is not None:
        run.w1_trace = [*run.w1_trace[:1], *run.w1_trace[1:][-1:], w1]
    x, a = readonly(run.x), readonly(run.a)
    msg = health.check(run.t, x, a, run.w1_trace, ctx.last if new_field else None, every_step=True)
    if msg is None and save:
        msg = health.check(run.t, x, a, hist.w1s if hist.record else run.w1_trace, ctx.last, every_step=False)
    if msg is not None:
        return "unhealthy", run_message("unhealthy", msg)
    return "success", ""


def _write(checkpoint, run, ctx, run_id, status, call_start):
    run.memo, run.n_fields, run.field_seconds = ctx.memo, ctx.n_fields, ctx.seconds
    elapsed, run.elapsed = run.elapsed, run.elapsed + time.perf_counter() - call_start
    try:
        checkpoint.write({"fingerprint": run_id, "status": status, "k": run.k,
                          "run": {f.name: getattr(run, f.name) for f in fields(run) if f.name not in _RUN_OBJECTS},
                          "solver": run.solver.state_dict(),
                          "oracle": None if run.oracle is None else run.oracle.state_dict(),
                          "history": {k: v for k, v in vars(run.history).items() if k not in _HISTORY_SETTINGS}},
                         function_refs("oracle", run.oracle))
    finally:
        run.elapsed = elapsed


#: Fields of _Run that are the caller's objects (their state is saved through state_dict).
_RUN_OBJECTS = ("solver", "oracle", "history")
#: Fields of _Run added after checkpoints were first written, with the value an older file means.
_RUN_ADDED = {"growth_streak": 0}
#: Attributes of the history that come from the problem and the save spec, not from the run's progress.
_HISTORY_SETTINGS = ("target", "target_weights", "method", "max_memory", "functional_name")


def _restore(path, run, saved):
    """Load a checkpoint's state into a fresh run built from the caller's objects."""
    load_into(path, "solver", run.solver, saved.get("solver"))
    if run.oracle is not None:
        load_into(path, "potential oracle", run.oracle, saved.get("oracle"))
    state, history = saved.get("run"), saved.get("history")
    if isinstance(state, dict):
        state = {**{k: v for k, v in _RUN_ADDED.items() if k not in state}, **state}
    if not isinstance(state, dict) or set(state) != {f.name for f in fields(run)} - set(_RUN_OBJECTS) \
            or not isinstance(history, dict) or set(history) & set(_HISTORY_SETTINGS):
        raise CheckpointError(f"checkpoint {path}: the saved run state does not fit this version of w1flow; "
                              "delete the file and start again.")
    for k, v in state.items():
        setattr(run, k, v)
    vars(run.history).update(history)

#: Divergence rule (docs/reliability.md, "Divergence and growth"): with S = max(1, max|x0|, max|y|)
#: (y the problem's data, if any), a run is "diverged" once max|x| > _GROWTH_BOUND·S, or once
#: max|x| grew >= _STEP_GROWTH-fold on each of _STEP_RUN consecutive steps and exceeds _STEP_FLOOR·S.
_GROWTH_BOUND = 1e8
_STEP_GROWTH = 10.0
_STEP_RUN = 3
_STEP_FLOOR = 1e2


def _scale(problem, x0):
    """S, the scale the divergence rule measures positions against."""
    target = getattr(problem, "target", None)
    ys = np.max(np.abs(target), initial=0.0) if isinstance(target, np.ndarray) else 0.0
    return max(1.0, float(np.max(np.abs(x0), initial=0.0)), float(ys))


def _diverged(growth, x, scale):
    """The divergence rule after a step: the reason (str) if it fires, else the new ``(max|x|, streak)``.

    Why both: a bounded flow can only leave ``_GROWTH_BOUND·S`` by a blow-up (W1 flows move at unit
    speed; the stable SDEs and ODEs of the tests stay within a few S), and an explicit scheme past its
    stability limit multiplies the state by ``|1 − λ dt|`` per step, so orders of magnitude per step
    several steps in a row flag it early, long before the bound (λ dt = 11, a tenfold growth per step:
    step 3 instead of step 9).
    """
    m = float(np.max(np.abs(x), initial=0.0))
    last, streak = growth
    streak = streak + 1 if m >= _STEP_GROWTH * last and m > 0 else 0
    if m > _GROWTH_BOUND * scale:
        return (f"max|x| = {m:.3g} exceeds {_GROWTH_BOUND:g} times the problem's scale S = {scale:.3g} "
                "(max of 1, |x0| and |data|); dt is likely too large for the problem's stiffness: lower dt")
    if streak >= _STEP_RUN and m > _STEP_FLOOR * scale:
        return (f"max|x| grew at least {_STEP_GROWTH:g}-fold on each of the last {streak} steps, to {m:.3g} "
                f"(S = {scale:.3g}); an explicit scheme past its stability limit: lower dt")
    return m, streak


def _progress_bar(progress, total, done, solver):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc=f"w1flow {solver.name}", unit="step")


def _result(run, ctx, status, message, dt, wall):
    hist = run.history
    hist.trim()
    return FlowResult(
        ts=np.asarray(hist.ts, dtype=np.float64),
        xs=list(hist.xs),
        weights=list(hist.ws),
        parents=list(hist.ps),
        w1=np.asarray(hist.w1s, dtype=np.float64) if hist.record else None,
        status=status,
        message=message,
        n_steps=run.k,
        n_field_evals=ctx.n_fields,
        n_lp_solves=hist.n_lp + _oracle_lps(run.oracle) - run.lp_before,
        wall_time=wall,
        timings={"field": ctx.seconds, "w1": hist.seconds, "total": wall},
        solver=run.solver.name,
        dt=dt,
        split=bool(run.solver.split),
        health=list(run.health),
        params=getattr(ctx.problem, "params", None) if ctx.problem.per_particle else None,
        functional_name=hist.functional_name,
        functional=None if hist.functional_name is None else np.asarray(hist.functionals, dtype=np.float64),
    )


def _oracle_lps(potential):
    """Exact LPs the oracle solved: dense, sparse, and re-solves warm-started from a basis."""
    counters = getattr(potential, "counters", None)
    if not isinstance(counters, dict):
        return 0
    return sum(int(counters.get(key, 0)) for key in ("lp_solves", "sparse_solves", "warm_solves"))
