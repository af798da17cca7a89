"""Parameter sweeps of ``run`` configs (``w1flow sweep``): grids, executors and a resumable store.

A sweep config is a ``w1flow run`` config (:mod:`w1flow.config`) plus a ``[sweep]`` table of
grids. Each key names a config entry as ``"table.key"`` and holds the list of its values; the
cells are the Cartesian product of the grids (the last key varies fastest)::

    [sweep]
    "solver.kind" = ["euler", "capped_euler"]
    "run.dt" = [0.1, 0.05]
    "data.seed" = [0, 1, 2]          # 2 x 2 x 3 = 12 cells

(Unquoted dotted keys, ``solver.kind = [...]``, mean the same.) Every cell's config is validated
before anything runs; an unknown or malformed key is an error that names it.

The **store** is a directory (the config's ``[output] dir``, default ``w1flow-sweep``)::

    store/sweep.json              the sweep: its base config, grids and cells (written at start)
    store/cells/<fp>.npz          a finished cell: FlowResult.save format; metadata["sweep"]
                                  holds its parameters, fingerprint, host, timings
    store/cells/<fp>.error.json   a cell that raised: its traceback (and earlier attempts)
    store/summary.csv, summary.md, summary.png      built from the store by :func:`summarize`

A record counts only if it loads whole and is the record of its cell (its fingerprint, config
and parameters); any other file there is logged, renamed ``<name>.unreadable`` and its cell runs
again, and :func:`summarize` skips it and names it.

``<fp>`` is the cell's :func:`fingerprint`: a hash of its full config (the ``[output]`` table
aside; data files by the hash of their content, not their path) and the w1flow version. Each
record is written to a temporary file in the same folder and moved into place with
:func:`os.replace`, so a record is either complete or absent, and a cell that runs twice (a
worker presumed dead that still finishes) leaves one record. A re-run skips finished cells and,
unless ``retry_failed``, cells that raised.

Executors: a local :class:`concurrent.futures.ProcessPoolExecutor` (``workers`` processes,
spawned with one numpy/BLAS/Numba thread each), the calling process (``workers=1``), or Dask
distributed (``scheduler=ADDRESS``, ``local_cluster=N`` or ``client=``; ``pip install
"w1flow[dist]"``). A Dask worker that dies mid-cell has its cell re-run elsewhere by the
scheduler; see ``docs/sweeps.md`` for clusters (dask-jobqueue).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import itertools
import json
import logging
import math
import os
import platform
import socket
import time
import traceback
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .._files import MAX_JSON_DEPTH, atomic_write_text, json_depth
from ..config import _TABLES, ConfigError, _load_toml, build, load_config
from ..result import ResultFileError
from ..threads import THREAD_ENV, available_cores, get_num_threads, init_worker, worker_env

logger = logging.getLogger(__name__)

__all__ = ["SweepError", "Cell", "SweepReport", "expand", "fingerprint", "run_sweep", "default_store", "read_store",
           "summarize", "THREAD_ENV"]

_TMP_PREFIX = ".tmp-"
_DEFAULT_STORE = "w1flow-sweep"
_FIGURE_KEYS = ("snapshots", "w1_plot", "gif")


class SweepError(ConfigError):
    """A sweep config or store is invalid; the message names the key and the fix."""


@dataclass(frozen=True)
class Cell:
    """One run of a sweep.

    Attributes
    ----------
    index : int
        Position in the Cartesian product.
    params : dict
        The swept values of this cell, ``{"table.key": value}`` in grid order.
    config : dict
        The cell's full, validated run config (data files as absolute paths).
    fingerprint : str
        :func:`fingerprint` of ``config``: the record's name in the store.
    """

    index: int
    params: dict
    config: dict
    fingerprint: str


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
        The summary table (:func:`summarize`), or empty when the summary was not built.
    """

    store: Path
    cells: list
    ran: int = 0
    skipped: int = 0
    to_run: int = 0
    failed: list = field(default_factory=list)
    wall_time: float = 0.0
    rows: list = field(default_factory=list)


# -- the grid ---------------------------------------------------------------------------------
def _flatten(table, prefix=""):
    out = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _grids(raw):
    """``{"table.key": [values]}`` from a ``[sweep]`` table, each key and list checked."""
    if not isinstance(raw, dict) or not raw:
        raise SweepError('the config needs a [sweep] table of grids, e.g. [sweep] "run.dt" = [0.1, 0.05].')
    grids = {}
    for key, values in _flatten(raw).items():
        parts = key.split(".")
        if len(parts) != 2 or not all(parts):
            raise SweepError(f"[sweep] key {key!r} must name one config entry as 'table.key', e.g. 'run.dt'.")
        table, entry = parts
        if table == "output":
            raise SweepError(f"[sweep] key {key!r}: the [output] table cannot be swept (the store is "
                             "[output] dir); sweep the tables "
                             f"{', '.join(t for t in _TABLES if t != 'output')}.")
        if table not in _TABLES:
            raise SweepError(f"[sweep] key {key!r}: unknown table {table!r}; allowed: "
                             f"{', '.join(t for t in _TABLES if t != 'output')}.")
        allowed = _TABLES[table]
        if allowed is not None and entry not in allowed:
            raise SweepError(f"[sweep] key {key!r}: unknown key {entry!r} in [{table}]; allowed: "
                             f"{', '.join(sorted(allowed))}.")
        if not isinstance(values, list) or not values:
            raise SweepError(f"[sweep] {key!r} must be a non-empty list of values, e.g. {key!r} = "
                             f"[{values!r}, ...]; got {values!r}.")
        seen = [json.dumps(v, sort_keys=True) for v in values]
        dup = next((v for v, s in zip(values, seen) if seen.count(s) > 1), None)
        if dup is not None:
            raise SweepError(f"[sweep] {key!r} lists {dup!r} twice; list each value once.")
        grids[key] = values
    return grids


def _resolve_files(cfg, base):
    """Make data-file paths absolute (workers may run elsewhere on the same filesystem)."""
    for table in ("data", "particles"):
        spec = cfg.get(table, {})
        if "file" in spec:
            path = Path(spec["file"])
            path = path if path.is_absolute() else (Path(base) / path).resolve()
            if not path.exists():
                raise SweepError(f"[{table}] file {str(path)!r} does not exist; fix the path (relative "
                                 "paths are read from the config's folder).")
            spec["file"] = str(path)


_FILE_HASHES = {}  # (path, mtime, size) -> sha256: a data file is read once per sweep


def _file_hash(path):
    key = (path, os.path.getmtime(path), os.path.getsize(path))
    if key not in _FILE_HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _FILE_HASHES[key] = digest.hexdigest()
    return _FILE_HASHES[key]


def fingerprint(config, version=None):
    """The key of a run config in a sweep store: a SHA-256 (24 hex digits) of the config and version.

    Parameters
    ----------
    config : dict
        A run config (:func:`w1flow.config.load_config`). The ``[output]`` table is left out
        (it says where files go, not what runs); a data file counts by the hash of its content
        and its ``key``, not by its path.
    version : str, optional
        The w1flow version (default: this one). A new version gives new fingerprints, so its
        cells run again.

    Returns
    -------
    str
        24 hex digits; equal configs (key order aside) give equal fingerprints.
    """
    if version is None:
        from .. import __version__ as version
    cfg = {k: copy.deepcopy(v) for k, v in config.items() if k != "output"}
    for table in ("data", "particles"):
        spec = cfg.get(table, {})
        if "file" in spec:
            spec["file_sha256"] = _file_hash(spec.pop("file"))
    text = json.dumps({"config": cfg, "w1flow": version}, sort_keys=True, separators=(",", ":"),
                      allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _check_run_values(cfg):
    """The [run] numbers ``simulate`` would reject, caught before anything runs."""
    run = cfg["run"]
    for key, low in (("t1", 0.0), ("dt", 0.0)):
        value = run[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or \
                value < low or (key == "dt" and value == 0):
            need = "> 0" if key == "dt" else ">= 0"
            raise ConfigError(f"[run] {key} must be a finite number {need}, got {value!r}.")


def _split(config):
    """``(base config, grids, folder of the config)`` of a sweep config (path or dict)."""
    if isinstance(config, (str, Path)):
        raw, folder = _load_toml(config), Path(config).resolve().parent
    else:
        raw, folder = copy.deepcopy(dict(config)), Path(".").resolve()
    if "sweep" not in raw:
        raise SweepError('a sweep config needs a [sweep] table of grids, e.g. [sweep] "run.dt" = [0.1, 0.05]; '
                         "for a single run use `w1flow run`.")
    grids = _grids(raw.pop("sweep"))
    out = raw.get("output", {})
    if isinstance(out, dict):
        on = [k for k in _FIGURE_KEYS if out.get(k)]
        if on:
            raise SweepError(f"[output] {on[0]} = true: a sweep writes no per-cell figures (summary.png is "
                             "built from the store); remove it or set it to false.")
    return raw, grids, folder


def expand(config):
    """The cells of a sweep config, each validated; raises before anything runs.

    Parameters
    ----------
    config : str, Path or dict
        A sweep TOML file (a run config plus a ``[sweep]`` table), or the same as a dict
        (relative data files are then read from the current folder).

    Returns
    -------
    list of Cell
        In product order (the last grid varies fastest).

    Raises
    ------
    SweepError
        A malformed ``[sweep]`` table, a key that names no config entry, or a cell whose config
        is invalid (the message names the cell's values and the key).
    """
    base, grids, folder = _split(config)
    return _cells(base, grids, folder)


def _cells(base, grids, folder):
    cells, seen = [], {}
    built = {}
    for index, values in enumerate(itertools.product(*grids.values())):
        params = dict(zip(grids, values))
        cfg = copy.deepcopy(base)
        for key, value in params.items():
            table, entry = key.split(".")
            cfg.setdefault(table, {})
            if not isinstance(cfg[table], dict):
                raise SweepError(f"[{table}] must be a table of keys, got {cfg[table]!r}.")
            cfg[table][entry] = copy.deepcopy(value)
        try:
            cfg = load_config(cfg)
            _resolve_files(cfg, folder)
            _check_run_values(cfg)
            # build every object (on small clouds) once per distinct setting, so bad option values fail now
            small = _shrunk(cfg)
            sig = json.dumps(small, sort_keys=True)
            if sig not in built:
                build(small, folder)
                built[sig] = True
        except ConfigError as exc:
            raise SweepError(f"sweep cell {index} ({_describe(params)}): {exc}") from None
        except (TypeError, ValueError) as exc:
            raise SweepError(f"sweep cell {index} ({_describe(params)}): {exc}") from None
        fp = fingerprint(cfg)
        if fp in seen:
            raise SweepError(f"sweep cells {seen[fp]} and {index} ({_describe(params)}) have the same config; "
                             "remove the repeated grid value.")
        seen[fp] = index
        cells.append(Cell(index=index, params=params, config=cfg, fingerprint=fp))
    return cells


def _shrunk(cfg):
    """The config with its built-in datasets cut to a few points (for validation; options kept)."""
    small = copy.deepcopy(cfg)
    small.pop("output", None)
    for table in ("data", "particles"):
        n = small[table].get("n")
        if "dataset" in small[table] and isinstance(n, int) and not isinstance(n, bool) and n > _VALIDATION_N:
            small[table]["n"] = _VALIDATION_N
    return small


_VALIDATION_N = 8


def _describe(params):
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


# -- the store --------------------------------------------------------------------------------
def _cells_dir(store):
    return Path(store) / "cells"


def _done_path(store, fp):
    return _cells_dir(store) / f"{fp}.npz"


def _error_path(store, fp):
    return _cells_dir(store) / f"{fp}.error.json"


def _tmp_path(folder, suffix):
    return Path(folder) / f"{_TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}{suffix}"


def _atomic_write_text(path, text):
    # the temporary name carries _TMP_PREFIX: a store's leftovers of a killed writer are recognised
    atomic_write_text(path, text, tmp=_tmp_path(Path(path).parent, Path(path).suffix))


def _atomic_save(result, path, metadata):
    """``result.save`` to a temporary file beside ``path``, then :func:`os.replace` onto it."""
    tmp = _tmp_path(Path(path).parent, ".npz")
    try:
        result.save(tmp, metadata=metadata)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _previous_attempts(store, fp):
    try:  # a missing or unreadable failure record has no attempts to keep
        return _read_error(_error_path(store, fp))["attempts"]
    except ResultFileError:
        return []


def _record_failure(store, cell_info, exc_text, where):
    """Write (or extend) the failure record of a cell: every attempt's traceback is kept."""
    fp = cell_info["fingerprint"]
    attempts = _previous_attempts(store, fp)
    attempts.append({"traceback": exc_text, "where": where, "host": socket.gethostname(), "pid": os.getpid(),
                     "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    rec = {"format": "w1flow.SweepError", "version": 1, "fingerprint": fp, "params": cell_info["params"],
           "config": cell_info["config"], "w1flow": cell_info["w1flow"], "status": "error",
           "error": exc_text.strip().splitlines()[-1] if exc_text.strip() else "", "attempts": attempts}
    _atomic_write_text(_error_path(store, fp), json.dumps(rec, indent=1))


def _limit_threads():
    """Pin numpy's BLAS, Numba and torch to one thread in this (worker) process, after import too."""
    init_worker(1)


def run_cell(task):
    """Run one cell in this process and write its record; return a small outcome dict.

    ``task`` holds ``fingerprint``, ``params``, ``config``, ``w1flow`` (the version) and
    ``store``. A cell already in the store is not run again (its outcome is read back), so a
    cell that an executor hands out twice leaves one record. An exception is caught and
    written as the cell's failure record, with its traceback.

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
    from ..simulate import simulate

    store, fp = Path(task["store"]), task["fingerprint"]
    done = _done_path(store, fp)
    if done.exists():
        try:
            return _outcome_of_record(done, task) | {"reran": False}
        except ResultFileError as exc:  # overwritten by this run's record (os.replace)
            logger.warning("sweep record %s cannot be read (%s); running the cell again", done, exc)
    if task.get("worker_threads_one"):
        _limit_threads()
    start = time.perf_counter()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        problem, x0, kwargs = build(task["config"], ".")
        t1, dt = kwargs.pop("t1"), kwargs.pop("dt")
        res = simulate(problem, x0, t1, dt, progress=False, **kwargs)
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
    w1 = None if res.w1 is None or len(res.w1) == 0 else float(res.w1[-1])
    return {"fingerprint": fp, "status": res.status, "w1_final": w1, "seconds": seconds, "reran": True}


def _outcome_of_record(path, task=None):
    meta = _read_done(path, task)
    return {"fingerprint": meta["metadata"]["sweep"]["fingerprint"], "status": meta["result"]["status"],
            "seconds": meta["metadata"]["sweep"].get("cell_seconds")}


def _read_done(path, task=None):
    """The metadata of a finished cell's record, checked; raises :class:`ResultFileError`.

    The file must load as a :class:`FlowResult` (every entry checked) and be a sweep record
    of the fingerprint in its name; given ``task`` (the cell run_sweep means), its config,
    parameters and w1flow version must be the cell's too.
    """
    from ..result import FlowResult

    path = Path(path)
    meta = FlowResult.read_metadata(path)
    md = meta["metadata"]
    sw = md.get("sweep")
    if not isinstance(sw, dict):
        raise ResultFileError(path, "metadata.sweep", "is missing: a FlowResult saved elsewhere, not the record "
                                                      "of a sweep cell; move it out of the store's cells/ folder.")
    want = path.name[:-len(".npz")]
    if sw.get("fingerprint") != want:
        raise ResultFileError(path, "metadata.sweep.fingerprint", f"is {sw.get('fingerprint')!r} but the file is "
                                                                  f"named for {want!r}: the record of another cell.")
    for key, where in (("params", sw), ("config", md)):
        if not isinstance(where.get(key), dict):
            name = "metadata.sweep.params" if key == "params" else "metadata.config"
            raise ResultFileError(path, name, f"must be a JSON object, got {where.get(key)!r}.")
    if task is not None:
        # compared as JSON, as it was stored (tuples come back as lists)
        for name, got, expected in (("metadata.config", md["config"], task["config"]),
                                    ("metadata.sweep.params", sw["params"], task["params"]),
                                    ("metadata.w1flow", md.get("w1flow"), task["w1flow"])):
            if got != json.loads(json.dumps(expected)):
                raise ResultFileError(path, name, "does not match the cell of this fingerprint: a record of "
                                                  "another config.")
    return meta


def _read_error(path):
    """A failed cell's record (``<fp>.error.json``), checked; raises :class:`ResultFileError`."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultFileError(path, "file", f"cannot be read ({exc}).") from None
    if json_depth(text) > MAX_JSON_DEPTH:
        raise ResultFileError(path, "file", f"its JSON nests more than {MAX_JSON_DEPTH} levels deep.")
    try:
        rec = json.loads(text)
    except ValueError as exc:
        raise ResultFileError(path, "file", f"is not valid JSON ({exc}).") from None
    if not isinstance(rec, dict) or rec.get("format") != "w1flow.SweepError":
        raise ResultFileError(path, "format", "not the failure record of a sweep cell (format "
                                              f"{rec.get('format') if isinstance(rec, dict) else None!r}).")
    want = path.name[:-len(".error.json")]
    if rec.get("fingerprint") != want:
        raise ResultFileError(path, "fingerprint", f"is {rec.get('fingerprint')!r} but the file is named for "
                                                   f"{want!r}: the record of another cell.")
    for key, kind in (("params", dict), ("attempts", list), ("error", str)):
        if not isinstance(rec.get(key), kind):
            raise ResultFileError(path, key, f"must be a JSON {kind.__name__}, got {rec.get(key)!r}.")
    if rec.get("status") != "error":
        raise ResultFileError(path, "status", f"must be 'error', got {rec.get('status')!r}.")
    return rec


def _stored_state(store, task, set_aside=True):
    """``"done"``, ``"failed"`` or ``"todo"``: what the store holds for a cell.

    A record that does not load, or is not this cell's, does not count: it is logged and (with
    ``set_aside``) renamed ``<name>.unreadable`` so the cell's new record can take its place.
    """
    checks = ((_done_path(store, task["fingerprint"]), "done", lambda p: _read_done(p, task)),
              (_error_path(store, task["fingerprint"]), "failed", _read_error))
    for path, state, read in checks:
        if not path.exists():
            continue
        try:
            read(path)
        except ResultFileError as exc:
            aside = path.with_name(path.name + _ASIDE_SUFFIX)
            if set_aside:
                os.replace(path, aside)
            logger.warning("sweep record %s cannot be read, the cell runs again%s: %s", path,
                           f" (the file is kept as {aside.name})" if set_aside else "", exc)
            continue
        return state
    return "todo"


_ASIDE_SUFFIX = ".unreadable"


def read_store(store):
    """Every record of a store: ``{fingerprint: record}``.

    A record is a dict with ``status`` (the run's status, ``"success"`` when it reached t1, or
    ``"error"`` when it raised), ``params``, ``config``, ``path``, and for finished cells
    ``w1_start``, ``w1_final``, ``t``, ``n_steps``, ``wall_time`` (the simulation) and
    ``cell_seconds`` (the whole cell); failed cells have ``error`` and ``attempts`` (each with
    its traceback). Temporary files of interrupted writes are ignored; a file that cannot be
    read (damaged, or not the record its name says: see :class:`~w1flow.ResultFileError`) is
    skipped and logged as a warning.

    Parameters
    ----------
    store : str or Path
        A sweep store (the folder holding ``cells/``).

    Returns
    -------
    dict
        ``{fingerprint: record}``; empty when the store has no records yet.
    """
    records, unreadable = _scan_store(store)
    for path, exc in unreadable.items():
        logger.warning("sweep store: skipped %s, which cannot be read: %s", path, exc)
    return records


def _scan_store(store):
    """``(records, unreadable)``: the records of :func:`read_store`, and ``{path: ResultFileError}``
    for the files of ``cells/`` that do not load or are not the record their name says."""
    import numpy as np

    folder = _cells_dir(store)
    out, unreadable = {}, {}
    if not folder.is_dir():
        return out, unreadable
    for path in sorted(folder.iterdir()):
        if path.name.startswith(_TMP_PREFIX):
            continue
        try:
            if path.name.endswith(".error.json"):
                rec = _read_error(path)
                out.setdefault(rec["fingerprint"], {**rec, "path": str(path)})
            elif path.suffix == ".npz":
                meta = _read_done(path)
                sw = meta["metadata"]["sweep"]
                with np.load(path, allow_pickle=False) as npz:  # the checks above have read it whole
                    w1 = npz["w1"] if "w1" in npz.files else None
                    ts = npz["ts"]
                r = meta["result"]
                out[sw["fingerprint"]] = {
                    "fingerprint": sw["fingerprint"], "status": r["status"], "message": r["message"],
                    "params": sw["params"], "config": meta["metadata"]["config"],
                    "w1flow": meta["metadata"].get("w1flow"),
                    "w1_start": None if w1 is None or not len(w1) else float(w1[0]),
                    "w1_final": None if w1 is None or not len(w1) else float(w1[-1]),
                    "t": float(ts[-1]) if len(ts) else None, "n_steps": r["n_steps"], "wall_time": r["wall_time"],
                    "cell_seconds": sw.get("cell_seconds"), "host": sw.get("host"),
                    "previous_errors": sw.get("previous_errors", []), "path": str(path)}
        except ResultFileError as exc:
            unreadable[path] = exc
    return out, unreadable


def _clean_temporaries(store):
    n = 0
    folder = _cells_dir(store)
    for path in folder.glob(f"{_TMP_PREFIX}*"):
        path.unlink(missing_ok=True)
        n += 1
    if n:
        logger.info("removed %d temporary file(s) of interrupted writes from %s", n, folder)
    return n


# -- executors --------------------------------------------------------------------------------
@contextmanager
def _thread_env():
    """Set :data:`THREAD_ENV` in this process's environment while spawning workers; restore it."""
    env = worker_env(1)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _pool_initializer():
    _limit_threads()


def _run_serial(tasks, on_done):
    for task in tasks:
        on_done(task, run_cell(task), None)


def _run_pool(tasks, workers, on_done, max_restarts=3):
    """A spawned process pool; a pool broken by a dying worker is rebuilt for the cells left."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    todo, restarts = list(tasks), 0
    while todo:
        broken = None
        with _thread_env(), ProcessPoolExecutor(min(workers, len(todo)), mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_pool_initializer) as pool:
            futures = {pool.submit(run_cell, t): t for t in todo}
            left = dict(futures)
            try:
                for fut in as_completed(futures):
                    task = futures[fut]
                    try:
                        outcome = fut.result()
                    except BrokenProcessPool as exc:
                        broken = exc
                        continue
                    except Exception:  # e.g. a config that cannot be sent to the worker
                        on_done(task, None, traceback.format_exc())
                    else:
                        on_done(task, outcome, None)
                    left.pop(fut)
            except BaseException:  # an interrupt: drop the queued cells, let the running ones finish
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        todo = []
        for task in left.values():  # a cell may have finished just before the pool broke
            done = _done_path(task["store"], task["fingerprint"])
            try:
                outcome = _outcome_of_record(done, task) if done.exists() else None
            except ResultFileError:  # not a complete record of this cell: run it again
                outcome = None
            if outcome is not None:
                on_done(task, outcome, None)
            else:
                todo.append(task)
        if broken is None or not todo:
            break
        restarts += 1
        if restarts > max_restarts:
            text = "".join(traceback.format_exception(broken))
            for task in todo:
                on_done(task, None, f"the worker processes died {restarts} times running this sweep:\n{text}")
            break
        logger.warning("a worker process died (%s); %d cell(s) left, restarting the pool (%d/%d)",
                       broken, len(todo), restarts, max_restarts)


def _run_dask(tasks, client, on_done):
    from distributed import as_completed

    futures = {}
    for task in tasks:
        fut = client.submit(run_cell, task, key=f"w1flow-cell-{task['fingerprint']}", pure=False)
        futures[fut] = task
    for fut in as_completed(list(futures)):
        task = futures[fut]
        try:
            outcome = fut.result()
        except Exception:  # KilledWorker (the cell took down workers too often), a lost connection, ...
            on_done(task, None, traceback.format_exc())
        else:
            on_done(task, outcome, None)
        fut.release()


@contextmanager
def _dask_client(scheduler, local_cluster, client):
    if client is not None:
        yield client
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SweepError('Dask sweeps need the dist extra: pip install "w1flow[dist]".') from None
    if scheduler is not None:
        try:
            c = Client(scheduler, timeout="20s")
        except (OSError, ValueError, TypeError) as exc:
            raise SweepError(f"scheduler={scheduler!r}: cannot reach a Dask scheduler there ({exc}); give the "
                             "address a running scheduler prints, e.g. tcp://10.0.0.5:8786.") from None
        with c:
            yield c
        return
    with LocalCluster(n_workers=local_cluster, threads_per_worker=1, processes=True, dashboard_address=None,
                      env=worker_env(1)) as cluster, Client(cluster) as c:
        yield c


def _default_workers():
    return available_cores()


def default_store(config):
    """The store of a sweep config: its ``[output] dir``, else ``w1flow-sweep`` (from the current folder).

    Parameters
    ----------
    config : str, Path or dict
        A sweep config, as for :func:`run_sweep`.

    Returns
    -------
    Path
    """
    base = _split(config)[0]
    return Path(base.get("output", {}).get("dir", _DEFAULT_STORE))


def run_sweep(config, store=None, *, workers=None, scheduler=None, local_cluster=None, client=None,
              retry_failed=False, summary=True, progress=False, dry_run=False):
    """Run every cell of a sweep config that is not in the store yet; return a :class:`SweepReport`.

    Parameters
    ----------
    config : str, Path or dict
        A sweep TOML file (a run config plus a ``[sweep]`` table), or the same as a dict.
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
        Build the summary table and figure (:func:`summarize`) at the end.
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

    chosen = [name for name, v in (("workers", workers), ("scheduler", scheduler), ("local_cluster", local_cluster),
                                   ("client", client)) if v is not None]
    if len(chosen) > 1:
        raise SweepError(f"give one executor, not {' and '.join(chosen)}: workers=N (local processes), "
                         "scheduler=ADDRESS, local_cluster=N or client=.")
    for name, value in (("workers", workers), ("local_cluster", local_cluster)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise SweepError(f"{name} must be an int >= 1, got {value!r}.")
    start = time.perf_counter()
    base, grids, folder = _split(config)
    cells = _cells(base, grids, folder)
    # like `w1flow run`, a relative [output] dir is read from the current folder
    store = Path(store if store is not None else base.get("output", {}).get("dir", _DEFAULT_STORE))
    report = SweepReport(store=store, cells=cells)
    if store.exists() and not store.is_dir():
        raise SweepError(f"the store {str(store)!r} is a file, not a folder; give another --out (or [output] dir).")
    todo = []
    for c in cells:
        task = {"fingerprint": c.fingerprint, "params": c.params, "config": c.config, "w1flow": __version__,
                "store": str(store.resolve())}
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
    _atomic_write_text(store / "sweep.json", json.dumps(
        {"format": "w1flow.Sweep", "version": 1, "w1flow": __version__, "base": base, "grids": grids,
         "cells": [{"index": c.index, "fingerprint": c.fingerprint, "params": c.params} for c in cells]},
        indent=1))
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
                with _dask_client(scheduler, local_cluster, client) as c:
                    _run_dask(todo, c, on_done)
            elif (workers if workers is not None else _default_workers()) == 1 or len(todo) == 1:
                _run_serial(todo, on_done)
            else:
                for t in todo:
                    t["worker_threads_one"] = True
                _run_pool(todo, workers or _default_workers(), on_done)
    finally:
        if bar is not None:
            bar.close()
    if summary:
        report.rows = summarize(store)
    report.wall_time = time.perf_counter() - start
    return report


# -- the summary ------------------------------------------------------------------------------
def summarize(store, figures=True):
    """Build ``summary.csv``, ``summary.md`` and ``summary.png`` from a store; return the rows.

    One row per cell of the store's ``sweep.json`` (pending cells included, status
    ``"pending"``; a cell whose record does not load or belongs to another cell, status
    ``"unreadable"``), then any other record in the store (an earlier grid): the swept values,
    ``status``, ``w1_start``, ``w1_final``, ``wall_time`` (seconds for the whole cell),
    ``n_steps`` and ``fingerprint``. The figure shows the final W1 against each swept parameter
    (every cell a point, the mean over the other parameters a line).

    Parameters
    ----------
    store : str or Path
        A sweep store written by :func:`run_sweep`.
    figures : bool
        Also draw ``summary.png``.

    Returns
    -------
    list of dict

    Notes
    -----
    A file of ``cells/`` that cannot be read (damaged, a foreign :class:`~w1flow.FlowResult`, a
    corrupt ``.error.json``) is skipped, logged, and named at the end of ``summary.md``.
    """
    store = Path(store)
    spec_path = store / "sweep.json"
    if not spec_path.exists():
        raise SweepError(f"{store} is not a sweep store (no sweep.json); run `w1flow sweep CONFIG` first, "
                         "or pass the store's folder.")
    spec = _read_spec(spec_path)
    keys = list(spec["grids"])
    records, unreadable = _scan_store(store)
    for path, exc in unreadable.items():
        logger.warning("sweep summary: skipped %s, which cannot be read: %s", path, exc)
    bad = {}  # fingerprint -> why its record does not count
    for path, exc in unreadable.items():
        fp = path.name.split(".", 1)[0]
        bad.setdefault(fp, str(exc))
    rows, listed = [], set()
    for c in spec["cells"]:
        fp = c["fingerprint"]
        rec = records.get(fp) or ({"status": "unreadable", "error": bad[fp]} if fp in bad else {"status": "pending"})
        rows.append(_row(keys, c["params"], fp, rec))
        listed.add(fp)
    for fp, rec in records.items():
        if fp not in listed:
            rows.append(_row(keys, rec.get("params", {}), fp, rec))
    columns = keys + ["status", "w1_start", "w1_final", "wall_time", "n_steps", "fingerprint"]
    with open(store / "summary.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: _cell_text(r.get(k)) for k in columns} for r in rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell_text(r.get(k), md=True) for k in columns) + " |" for r in rows]
    counts = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    head = f"{len(rows)} cells: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    skipped = ""
    if unreadable:
        skipped = (f"\n{len(unreadable)} file(s) in cells/ could not be read and were skipped (a listed cell's "
                   "runs again on the next `w1flow sweep`):\n\n"
                   + "".join(f"- {p.name}: {_one_line(exc)}\n" for p, exc in unreadable.items()))
    (store / "summary.md").write_text(head + "\n\n" + "\n".join(lines) + "\n" + skipped)
    if figures:
        _figure(keys, rows, store / "summary.png")
    return rows


def _one_line(exc):
    return " ".join(str(exc).split())


def _read_spec(path):
    """The store's ``sweep.json``, checked (a damaged one names the file, not a KeyError)."""
    try:
        text = path.read_text()
        if json_depth(text) > MAX_JSON_DEPTH:
            raise ValueError(f"nests more than {MAX_JSON_DEPTH} levels deep")
        spec = json.loads(text)
        if not (isinstance(spec, dict) and isinstance(spec.get("grids"), dict) and isinstance(spec.get("cells"), list)
                and all(isinstance(c, dict) and isinstance(c.get("fingerprint"), str)
                        and isinstance(c.get("params"), dict) for c in spec["cells"])):
            raise ValueError("it is not the description of a sweep (grids and cells)")
    except (OSError, ValueError) as exc:
        raise SweepError(f"{path} cannot be read ({exc}); run `w1flow sweep CONFIG` again to rewrite it.") from None
    return spec


def _row(keys, params, fp, rec):
    row = {k: params.get(k) for k in keys}
    seconds = rec.get("cell_seconds")
    row.update(status=rec["status"], w1_start=rec.get("w1_start"), w1_final=rec.get("w1_final"),
               wall_time=seconds if seconds is not None else rec.get("wall_time"), n_steps=rec.get("n_steps"),
               fingerprint=fp, error=rec.get("error"))
    return row


def _cell_text(value, md=False):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _figure(keys, rows, path):
    from ..plotting import plot_sweep

    fig = plot_sweep(rows, keys)
    tmp = _tmp_path(Path(path).parent, ".png")
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
