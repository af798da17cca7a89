"""The resumable result store of a sweep: one record per cell, written atomically, checked when read.

A store is a folder::

    store/sweep.json              the sweep: its kind, base config, grids and cells (written at start)
    store/cells/<fp>.npz          a finished cell: the result's ``save`` format; metadata["sweep"]
                                  holds its parameters, fingerprint, host, timings
    store/cells/<fp>.error.json   a cell that raised: its traceback (and earlier attempts)

A record counts only if it loads whole and is the record of its cell (its fingerprint, config
and parameters); any other file there is logged, renamed ``<name>.unreadable`` and its cell runs
again. Each record is written to a temporary file (``.tmp-*``) in the same folder and moved into
place with :func:`os.replace`, so a record is either complete or absent.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from pathlib import Path

from .._files import MAX_JSON_DEPTH, atomic_replace, atomic_write_text, json_depth
from ..result import ResultFileError
from .kinds import KINDS

logger = logging.getLogger(__name__)

__all__ = ["read_store"]

_TMP_PREFIX = ".tmp-"


def _cells_dir(store):
    return Path(store) / "cells"


def _done_path(store, fp):
    return _cells_dir(store) / f"{fp}.npz"


def _error_path(store, fp):
    return _cells_dir(store) / f"{fp}.error.json"


def _tmp_path(folder, suffix):
    return Path(folder) / f"{_TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}{suffix}"


def write_text(path, text):
    """:func:`~w1flow._files.atomic_write_text` with a ``.tmp-`` temporary, which readers skip and the
    next sweep removes (the leftovers of a killed writer are recognised)."""
    path = Path(path)
    atomic_write_text(path, text, tmp=_tmp_path(path.parent, path.suffix))


def _atomic_save(result, path, metadata):
    """``result.save`` to a ``.tmp-`` temporary beside ``path``, then onto it (:func:`~w1flow._files.atomic_replace`)."""
    atomic_replace(path, lambda tmp: result.save(tmp, metadata=metadata), _tmp_path(Path(path).parent, ".npz"))


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
    write_text(_error_path(store, fp), json.dumps(rec, indent=1))


def _kind(task=None, kind=None):
    if kind is not None:
        return KINDS[kind] if isinstance(kind, str) else kind
    return KINDS[(task or {}).get("kind", "flow")]


def store_kind(store):
    """The kind of cell a store holds: ``kind`` of its ``sweep.json`` (a store written before kinds: a flow)."""
    try:
        kind = json.loads((Path(store) / "sweep.json").read_text()).get("kind", "flow")
    except (OSError, ValueError, AttributeError):
        return KINDS["flow"]
    return KINDS.get(kind, KINDS["flow"])


def _outcome_of_record(path, task=None):
    meta = _read_done(path, task)
    return {"fingerprint": meta["metadata"]["sweep"]["fingerprint"], "status": meta["result"]["status"],
            "seconds": meta["metadata"]["sweep"].get("cell_seconds")}


def _read_done(path, task=None, kind=None):
    """The metadata of a finished cell's record, checked; raises :class:`ResultFileError`.

    The file must load as the result of its kind (a :class:`~w1flow.FlowResult` for a flow,
    every entry checked) and be a sweep record of the fingerprint in its name; given ``task``
    (the cell run_sweep means), its config, parameters and w1flow version must be the cell's too.
    """
    path = Path(path)
    kind = _kind(task, kind)
    meta = kind.read_metadata(path)
    md = meta["metadata"]
    sw = md.get("sweep")
    if not isinstance(sw, dict):
        raise ResultFileError(path, "metadata.sweep", f"is missing: a {kind.result_name} saved elsewhere, not the "
                                                      "record of a sweep cell; move it out of the store's cells/ "
                                                      "folder.")
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
    kind = store_kind(store)
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
                meta = _read_done(path, kind=kind)
                sw = meta["metadata"]["sweep"]
                out[sw["fingerprint"]] = {
                    "fingerprint": sw["fingerprint"], "params": sw["params"], "config": meta["metadata"]["config"],
                    "w1flow": meta["metadata"].get("w1flow"), **kind.record_fields(path, meta),
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
