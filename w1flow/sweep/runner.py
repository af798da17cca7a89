"""Run a sweep: its cells not in the store yet, on an executor, each leaving one record."""

from __future__ import annotations

import json
import logging
import os
import platform
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ..result import ResultFileError
from ..threads import get_num_threads
from . import executor
from .grid import _DEFAULT_STORE, SweepError, _cells, _describe, _split
from .store import (_atomic_save, _cells_dir, _clean_temporaries, _done_path, _error_path, _kind, _outcome_of_record,
                    _previous_attempts, _record_failure, _stored_state, write_text)

logger = logging.getLogger(__name__)

__all__ = ["SweepReport", "run_sweep", "run_cell", "run_each"]


@dataclass
class SweepReport:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    store : Path
        The result store.
    cells : list of Cell
        Every cell of the sweep.
    ran : int
        Cells run now (finished or failed).
    skipped : int
        Cells already in the store (finished, or failed and not retried).
    to_run : int
        Cells that were not in the store when the sweep started.
    failed : list of str
        Fingerprints of the cells that raised in this run (their tracebacks are in the store).
    wall_time : float
        Seconds for the whole sweep.
    rows : list of dict
        The summary table (:func:`~w1flow.sweep.summarize`), or empty when the summary was not built.
    """

    store: Path
    cells: list
    ran: int = 0
    skipped: int = 0
    to_run: int = 0
    failed: list = field(default_factory=list)
    wall_time: float = 0.0
    rows: list = field(default_factory=list)


def run_cell(task):
    """Run one cell in this process and write its record; return a small outcome dict.

    ``task`` holds ``fingerprint``, ``params``, ``config``, ``w1flow`` (the version),
    ``store`` and (but for flows) ``kind``. A cell already in the store is not run again (its
    outcome is read back), so a cell that an executor hands out twice leaves one record. An
    exception is caught and written as the cell's failure record, with its traceback.

    Parameters
    ----------
    task : dict
        One cell, as :func:`run_sweep` sends it to a worker (plain data: it crosses processes).

    Returns
    -------
    dict
        ``fingerprint``, ``status`` (the run's status, or ``"error"``), ``seconds``, and
        ``w1_final`` or ``error``.
    """
    store, fp = Path(task["store"]), task["fingerprint"]
    kind = _kind(task)
    done = _done_path(store, fp)
    if done.exists():
        try:
            return _outcome_of_record(done, task) | {"reran": False}
        except ResultFileError as exc:  # overwritten by this run's record (os.replace)
            logger.warning("sweep record %s cannot be read (%s); running the cell again", done, exc)
    if task.get("worker_threads_one"):
        executor.limit_threads()
    start = time.perf_counter()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        res = kind.run(task["config"])
        seconds = time.perf_counter() - start
        meta = {"config": task["config"], "w1flow": task["w1flow"],
                "sweep": {"fingerprint": fp, "params": task["params"], "host": socket.gethostname(),
                          "pid": os.getpid(), "started": started, "cell_seconds": seconds,
                          "python": platform.python_version(), "threads": get_num_threads(),
                          "previous_errors": _previous_attempts(store, fp)}}
        _atomic_save(res, done, meta)
    except Exception:
        text = traceback.format_exc()
        logger.warning("sweep cell %s (%s) raised; traceback in %s", fp, _describe(task["params"]),
                       _error_path(store, fp))
        _record_failure(store, task, text, "worker")
        return {"fingerprint": fp, "status": "error", "error": text.strip().splitlines()[-1],
                "seconds": time.perf_counter() - start, "reran": True}
    _error_path(store, fp).unlink(missing_ok=True)  # its attempts now live in the result's metadata
    return {"fingerprint": fp, **kind.outcome(res), "seconds": seconds, "reran": True}


def _recover(task):
    """The outcome of a cell whose complete record is in the store (a pool broke after it was written)."""
    done = _done_path(task["store"], task["fingerprint"])
    try:
        return _outcome_of_record(done, task) if done.exists() else None
    except ResultFileError:  # not a complete record of this cell: run it again
        return None


def run_sweep(config, store=None, *, workers=None, scheduler=None, local_cluster=None, client=None,
              retry_failed=False, summary=True, progress=False, dry_run=False):
    """Run every cell of a sweep config that is not in the store yet; return a :class:`SweepReport`.

    Parameters
    ----------
    config : str, Path or dict
        A sweep TOML file (a run config, or a generator run's config, plus a ``[sweep]`` table),
        or the same as a dict.
    store : str or Path, optional
        The result store; default the config's ``[output] dir``, else ``w1flow-sweep``.
    workers : int, optional
        Local worker processes (default: the usable cores); 1 runs the cells in this process.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``): run the cells on its workers (start
        them with ``--nthreads 1``). The store must be on a filesystem they share.
    local_cluster : int, optional
        Start a Dask ``LocalCluster`` of this many single-threaded worker processes.
    client : distributed.Client, optional
        Run through this Dask client.
    retry_failed : bool
        Run again the cells whose record is a failure (their earlier tracebacks are kept).
    summary : bool
        Build the summary table and figure (:func:`~w1flow.sweep.summarize`) at the end.
    progress : bool
        Show a progress bar of the cells (tqdm).
    dry_run : bool
        Validate the cells and count those to run (``report.to_run``); run and write nothing.

    Returns
    -------
    SweepReport

    Raises
    ------
    SweepError
        An invalid sweep (before any cell runs), or conflicting executor arguments.
    """
    from .. import __version__
    from .summary import summarize

    chosen = [name for name, v in (("workers", workers), ("scheduler", scheduler), ("local_cluster", local_cluster),
                                   ("client", client)) if v is not None]
    if len(chosen) > 1:
        raise SweepError(f"give one executor, not {' and '.join(chosen)}: workers=N (local processes), "
                         "scheduler=ADDRESS, local_cluster=N or client=.")
    for name, value in (("workers", workers), ("local_cluster", local_cluster)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise SweepError(f"{name} must be an int >= 1, got {value!r}.")
    start = time.perf_counter()
    base, grids, folder, kind = _split(config)
    cells = _cells(base, grids, folder, kind)
    # like `w1flow run`, a relative [output] dir is read from the current folder
    store = Path(store if store is not None else base.get("output", {}).get("dir", _DEFAULT_STORE))
    report = SweepReport(store=store, cells=cells)
    if store.exists() and not store.is_dir():
        raise SweepError(f"the store {str(store)!r} is a file, not a folder; give another --out (or [output] dir).")
    todo = []
    for c in cells:
        task = {"fingerprint": c.fingerprint, "params": c.params, "config": c.config, "w1flow": __version__,
                "store": str(store.resolve())}
        if kind.name != "flow":
            task["kind"] = kind.name
        state = _stored_state(store, task, set_aside=not dry_run)
        if state == "done" or (state == "failed" and not retry_failed):
            report.skipped += 1
            continue
        todo.append(task)
    report.to_run = len(todo)
    logger.info("sweep of %d cells: %d in the store, %d to run", len(cells), report.skipped, len(todo))
    if dry_run:
        return report
    _cells_dir(store).mkdir(parents=True, exist_ok=True)
    _clean_temporaries(store)
    spec = {"format": "w1flow.Sweep", "version": 1, "w1flow": __version__, "base": base, "grids": grids,
            "cells": [{"index": c.index, "fingerprint": c.fingerprint, "params": c.params} for c in cells]}
    if kind.name != "flow":  # a store of flows has no kind (as before kinds)
        spec["kind"] = kind.name
    write_text(store / "sweep.json", json.dumps(spec, indent=1))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(cells), initial=report.skipped, desc="sweep", unit="cell")

    def on_done(task, outcome, driver_error):
        report.ran += 1
        if driver_error is not None:  # the worker could not write its own record
            _record_failure(store, task, driver_error, "driver")
            outcome = {"status": "error"}
        if outcome["status"] == "error":
            report.failed.append(task["fingerprint"])
        if bar is not None:
            bar.update(1)
            bar.set_postfix(failed=len(report.failed))

    try:
        if todo:
            if scheduler is not None or local_cluster is not None or client is not None:
                for t in todo:
                    t["worker_threads_one"] = True
                with executor.dask_client(scheduler, local_cluster, client) as c:
                    executor.run_dask(todo, c, run_cell, on_done)
            elif (workers if workers is not None else executor.default_workers()) == 1 or len(todo) == 1:
                executor.run_serial(todo, run_cell, on_done)
            else:
                for t in todo:
                    t["worker_threads_one"] = True
                executor.run_pool(todo, workers or executor.default_workers(), run_cell, on_done, _recover)
    finally:
        if bar is not None:
            bar.close()
    if summary:
        report.rows = summarize(store)
    report.wall_time = time.perf_counter() - start
    return report


def run_each(configs, store, *, workers=None, progress=False):
    """Run a list of whole configs (every table given for each run: no product of grids) as one
    sweep into ``store``; return the :class:`~w1flow.sweep.Cell` of each config, in the order given
    (a config listed twice is one run). Raises ``RuntimeError`` if any run raised (its traceback is
    in the store)."""
    def key(c):
        return json.dumps(c, sort_keys=True)

    unique = list({key(c): c for c in configs}.values())
    tables = list(unique[0])
    if any(set(c) != set(tables) for c in unique):
        raise ValueError(f"configs: every run must give the same tables ({', '.join(tables)}).")
    # every run is one cell: all its tables set in step
    sweep = dict(unique[0], sweep={", ".join(tables): [[c[t] for t in tables] for c in unique]})
    report = run_sweep(sweep, store=store, workers=workers, progress=progress, summary=False)
    if report.failed:
        raise RuntimeError(f"{len(report.failed)} run(s) raised; their tracebacks are in {store}/cells/*.error.json")
    cells = {key(c): cell for c, cell in zip(unique, report.cells)}
    return [cells[key(c)] for c in configs]
