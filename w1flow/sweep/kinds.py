"""Cell kinds: what one cell of a sweep runs and how its record is saved, read and checked.

A kind names the tables its configs may have, validates a cell's config before anything runs,
runs a cell (in a worker process) and turns a saved record back into the fields of
:func:`~w1flow.sweep.read_store`. The kind of a sweep config is read from its tables
(:func:`kind_of`); a store holds cells of one kind, named in its ``sweep.json``.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

from ..config import TABLES, ConfigError, absolute_paths, build, load_config

__all__ = ["FlowKind", "GeneratorKind", "KINDS", "kind_of", "resolve_files"]

_VALIDATION_N = 8


def resolve_files(cfg, base, tables):
    """Make data-file paths absolute (workers may run elsewhere on the same filesystem)."""
    for table in tables:
        spec = cfg.get(table, {})
        if isinstance(spec, dict) and "file" in spec:
            path = Path(spec["file"])
            path = path if path.is_absolute() else (Path(base) / path).resolve()
            if not path.exists():
                raise ConfigError(f"[{table}] file {str(path)!r} does not exist; fix the path (relative "
                                  "paths are read from the config's folder).")
            spec["file"] = str(path)


class FlowKind:
    """A particle flow: a ``w1flow run`` config (:mod:`w1flow.config`) → :class:`~w1flow.FlowResult`."""

    name = "flow"
    result_name = "FlowResult"
    tables = TABLES
    file_tables = ("data", "particles")

    def check(self, cfg, folder, built):
        """The cell's validated config; builds every object (on small clouds) once per distinct
        setting (``built`` remembers them), so bad option values fail before anything runs."""
        cfg = absolute_paths(load_config(cfg), folder)  # data files and [problem] "file.py:name" functions
        resolve_files(cfg, folder, self.file_tables)  # the data files exist
        _check_run_values(cfg)
        small = _shrunk(cfg)
        sig = json.dumps(small, sort_keys=True)
        if sig not in built:
            build(small, folder)
            built[sig] = True
        return cfg

    def run(self, config):
        from ..simulate import simulate

        problem, x0, kwargs = build(config, ".")
        t1, dt = kwargs.pop("t1"), kwargs.pop("dt")
        return simulate(problem, x0, t1, dt, progress=False, **kwargs)

    @staticmethod
    def read_metadata(path):
        from ..result import FlowResult

        return FlowResult.read_metadata(path)

    @staticmethod
    def outcome(result):
        """``status`` and ``w1_final`` of a finished run."""
        w1 = None if result.w1 is None or len(result.w1) == 0 else float(result.w1[-1])
        return {"status": result.status, "w1_final": w1}

    @staticmethod
    def record_fields(path, meta):
        """The fields of a finished cell's record for :func:`~w1flow.sweep.read_store`."""
        import numpy as np

        with np.load(path, allow_pickle=False) as npz:  # the checks of read_metadata have read it whole
            w1 = npz["w1"] if "w1" in npz.files else None
            ts = npz["ts"]
        r = meta["result"]
        return {"status": r["status"], "message": r["message"],
                "w1_start": None if w1 is None or not len(w1) else float(w1[0]),
                "w1_final": None if w1 is None or not len(w1) else float(w1[-1]),
                "t": float(ts[-1]) if len(ts) else None, "n_steps": r["n_steps"], "wall_time": r["wall_time"]}


def _check_run_values(cfg):
    """The [run] numbers ``simulate`` would reject, caught before anything runs."""
    run = cfg["run"]
    for key, low in (("t1", 0.0), ("dt", 0.0)):
        value = run[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or \
                value < low or (key == "dt" and value == 0):
            need = "> 0" if key == "dt" else ">= 0"
            raise ConfigError(f"[run] {key} must be a finite number {need}, got {value!r}.")


def _shrunk(cfg):
    """The config with its built-in datasets cut to a few points (for validation; options kept)."""
    small = copy.deepcopy(cfg)
    small.pop("output", None)
    for table in ("data", "particles"):
        n = small[table].get("n")
        if "dataset" in small[table] and isinstance(n, int) and not isinstance(n, bool) and n > _VALIDATION_N:
            small[table]["n"] = _VALIDATION_N
    return small


class GeneratorKind:
    """A generator run: a generator config (:mod:`w1flow.generative.config`) →
    :class:`~w1flow.generative.TrainResult`."""

    name = "generator"
    result_name = "TrainResult"

    @property
    def tables(self):
        from ..generative.config import TRAIN_TABLES

        return TRAIN_TABLES

    def check(self, cfg, folder, built):
        """The cell's checked config; builds its objects (on a few data points) once per distinct
        setting, so bad option values fail before anything runs."""
        from ..generative.config import build_train, load_train_config

        cfg = load_train_config(cfg, folder)
        sig = json.dumps({k: v for k, v in cfg.items() if k != "output"}, sort_keys=True)
        if sig not in built:
            build_train(cfg, small=True)
            built[sig] = True
        return cfg

    def run(self, config):
        from ..generative.config import run_train_config

        return run_train_config(config)

    @staticmethod
    def read_metadata(path):
        from ..generative.result import TrainResult

        return TrainResult.read_metadata(path)

    @staticmethod
    def outcome(result):
        _, w1 = result.w1
        return {"status": result.status, "w1_final": float(w1[-1]) if w1.size else None}

    @staticmethod
    def record_fields(path, meta):
        import numpy as np

        with np.load(path, allow_pickle=False) as npz:  # the checks of read_metadata have read it whole
            w1 = npz["history.w1"]
        w1 = w1[np.isfinite(w1)]
        r = meta["result"]
        return {"status": r["status"], "message": r["message"],
                "w1_start": float(w1[0]) if w1.size else None, "w1_final": float(w1[-1]) if w1.size else None,
                "t": None, "n_steps": r["n_iter"], "wall_time": r["wall_time"]}


KINDS = {"flow": FlowKind(), "generator": GeneratorKind()}


def kind_of(raw):
    """The kind of a (raw) config: a generator run when it has a ``[generator]`` table, else a flow."""
    return KINDS["generator" if isinstance(raw, dict) and "generator" in raw else "flow"]
