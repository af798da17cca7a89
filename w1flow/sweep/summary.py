"""The summary of a sweep store: ``summary.csv``, ``summary.md`` and ``summary.png``."""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path

from .._files import MAX_JSON_DEPTH, atomic_replace, json_depth
from .grid import SweepError
from .store import _scan_store, _tmp_path, write_text

logger = logging.getLogger(__name__)

__all__ = ["summarize"]


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
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: _cell_text(r.get(k)) for k in columns} for r in rows)
    # atomic, as the records are: a run killed while summarising leaves the last complete summary
    write_text(store / "summary.csv", buf.getvalue())
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
    write_text(store / "summary.md", head + "\n\n" + "\n".join(lines) + "\n" + skipped)
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
    atomic_replace(path, lambda tmp: fig.savefig(tmp, dpi=110), _tmp_path(Path(path).parent, ".png"))
