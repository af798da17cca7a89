"""The grid of a sweep config: its ``[sweep]`` table expanded into validated cells, each with its fingerprint."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .._files import read_toml
from ..config import ConfigError
from .kinds import kind_of

__all__ = ["SweepError", "Cell", "expand", "fingerprint", "default_store"]

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


def _flatten(table, prefix=""):
    out = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _check_name(key, name, tables, whole):
    """Check one entry a [sweep] key names: ``table.key``, or a whole ``table`` (``whole``: given tables)."""
    parts = name.split(".")
    if not (whole and len(parts) == 1) and (len(parts) != 2 or not all(parts)):
        raise SweepError(f"[sweep] key {key!r} must name one config entry as 'table.key', e.g. 'run.dt' "
                         "(or a whole table, with a list of tables: method = [{name = 'wgan'}, ...]).")
    table, entry = (parts[0], None) if len(parts) == 1 else parts
    if table == "output":
        raise SweepError(f"[sweep] key {key!r}: the [output] table cannot be swept (the store is "
                         "[output] dir); sweep the tables "
                         f"{', '.join(t for t in tables if t != 'output')}.")
    if table not in tables:
        raise SweepError(f"[sweep] key {key!r}: unknown table {table!r}; allowed: "
                         f"{', '.join(t for t in tables if t != 'output')}.")
    allowed = tables[table]
    if entry is not None and allowed is not None and entry not in allowed:
        raise SweepError(f"[sweep] key {key!r}: unknown key {entry!r} in [{table}]; allowed: "
                         f"{', '.join(sorted(allowed))}.")


def _names(key):
    """The entries a [sweep] key sets: one (``"run.dt"``, ``"method"``) or several in step (``"a.b, c"``)."""
    return [n.strip() for n in key.split(",")] if "," in key else [key]


def _grids(raw, tables):
    """``{"table.key": [values]}`` from a ``[sweep]`` table, each key and list checked against ``tables``.

    A key may name a whole table (its values are tables, each replacing the base config's), or
    several entries separated by commas, set in step (its values are lists, one value per entry).
    """
    if not isinstance(raw, dict) or not raw:
        raise SweepError('the config needs a [sweep] table of grids, e.g. [sweep] "run.dt" = [0.1, 0.05].')
    grids = {}
    for key, values in _flatten(raw).items():
        names = _names(key)
        ok = isinstance(values, list) and values
        for i, name in enumerate(names):
            column = [v[i] if len(names) > 1 else v for v in values] if ok and all(
                len(names) == 1 or (isinstance(v, list) and len(v) == len(names)) for v in values) else []
            _check_name(key, name, tables, whole=bool(column) and all(isinstance(v, dict) for v in column))
        if not ok:
            raise SweepError(f"[sweep] {key!r} must be a non-empty list of values, e.g. {key!r} = "
                             f"[{values!r}, ...]; got {values!r}.")
        if len(names) > 1:
            bad = next((v for v in values if not isinstance(v, list) or len(v) != len(names)), None)
            if bad is not None:
                raise SweepError(f"[sweep] {key!r} sets {len(names)} entries in step: each value must be a list of "
                                 f"{len(names)} values, got {bad!r}.")
        seen = [json.dumps(v, sort_keys=True) for v in values]
        dup = next((v for v, s in zip(values, seen) if seen.count(s) > 1), None)
        if dup is not None:
            raise SweepError(f"[sweep] {key!r} lists {dup!r} twice; list each value once.")
        grids[key] = values
    return grids


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
        A run config (:func:`w1flow.config.load_config`, or a generator run's config). The
        ``[output]`` table is left out (it says where files go, not what runs); a data file counts
        by the hash of its content and its ``key``, not by its path.
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
        for key in ("file", "held_out_file"):  # (a generator run's [data] may have both)
            if key in spec:
                spec[f"{key}_sha256"] = _file_hash(spec.pop(key))
    text = json.dumps({"config": cfg, "w1flow": version}, sort_keys=True, separators=(",", ":"),
                      allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _split(config):
    """``(base config, grids, folder of the config, kind)`` of a sweep config (path or dict)."""
    if isinstance(config, (str, Path)):
        raw, folder = read_toml(config, ConfigError), Path(config).resolve().parent
    else:
        raw, folder = copy.deepcopy(dict(config)), Path(".").resolve()
    if "sweep" not in raw:
        raise SweepError('a sweep config needs a [sweep] table of grids, e.g. [sweep] "run.dt" = [0.1, 0.05]; '
                         "for a single run use `w1flow run`.")
    kind = kind_of(raw)
    grids = _grids(raw.pop("sweep"), kind.tables)
    out = raw.get("output", {})
    if isinstance(out, dict):
        on = [k for k in _FIGURE_KEYS if out.get(k)]
        if on:
            raise SweepError(f"[output] {on[0]} = true: a sweep writes no per-cell figures (summary.png is "
                             "built from the store); remove it or set it to false.")
    return raw, grids, folder, kind


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
    base, grids, folder, kind = _split(config)
    return _cells(base, grids, folder, kind)


def _cells(base, grids, folder, kind):
    cells, seen = [], {}
    built = {}
    for index, values in enumerate(itertools.product(*grids.values())):
        params = dict(zip(grids, values))
        cfg = copy.deepcopy(base)
        for key, value in params.items():
            names = _names(key)
            for name, v in zip(names, value if len(names) > 1 else [value]):
                if "." not in name:  # a whole table: it replaces the base config's
                    cfg[name] = copy.deepcopy(v)
                    continue
                table, entry = name.split(".")
                cfg.setdefault(table, {})
                if not isinstance(cfg[table], dict):
                    raise SweepError(f"[{table}] must be a table of keys, got {cfg[table]!r}.")
                cfg[table][entry] = copy.deepcopy(v)
        try:
            cfg = kind.check(cfg, folder, built)
        except (ConfigError, TypeError, ValueError) as exc:
            raise SweepError(f"sweep cell {index} ({_describe(params)}): {exc}") from None
        fp = fingerprint(cfg)
        if fp in seen:
            raise SweepError(f"sweep cells {seen[fp]} and {index} ({_describe(params)}) have the same config; "
                             "remove the repeated grid value.")
        seen[fp] = index
        cells.append(Cell(index=index, params=params, config=cfg, fingerprint=fp))
    return cells


def _describe(params):
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def default_store(config):
    """The store of a sweep config: its ``[output] dir``, else ``w1flow-sweep`` (from the current folder).

    Parameters
    ----------
    config : str, Path or dict
        A sweep config, as for :func:`~w1flow.sweep.run_sweep`.

    Returns
    -------
    Path
    """
    base = _split(config)[0]
    return Path(base.get("output", {}).get("dir", _DEFAULT_STORE))
