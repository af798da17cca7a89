"""The outcome of a run: :class:`FlowResult`, and its file format (``.npz`` + JSON, no pickle)."""

from __future__ import annotations

import json
import numbers
import platform
import zipfile
import zlib
from dataclasses import dataclass, field as dc_field
from pathlib import Path

import numpy as np

from ._files import MAX_JSON_DEPTH, json_depth as _json_depth

#: Format of :meth:`FlowResult.save` files; :meth:`FlowResult.load` reads this version and older.
RESULT_FORMAT = ("w1flow.FlowResult", 1)
_SCALARS = ("status", "message", "n_steps", "n_field_evals", "n_lp_solves", "wall_time", "timings", "solver",
            "dt", "split", "health", "functional_name")


__all__ = ["FlowResult", "ResultFileError", "MAX_JSON_DEPTH"]


class ResultFileError(ValueError):
    """A saved result (or a sweep record) cannot be read: damaged, foreign or inconsistent.

    Raised by :meth:`FlowResult.load` and :meth:`FlowResult.read_metadata` instead of returning
    a result that is silently wrong; the message names the file, the field and what is wrong.

    Attributes
    ----------
    path : Path
        The file.
    field : str
        The entry at fault: an array (``"counts"``, ``"parents"``, ``"w1"``, ...), ``"meta"``
        (the JSON part as a whole), or a JSON key such as ``"result.n_steps"``.
    """

    def __init__(self, path, field, problem):
        self.path, self.field, self.problem = Path(path), field, problem
        super().__init__(f"{path}: field {field!r}: {problem}")

    def __reduce__(self):  # pickles (e.g. across processes) with its attributes
        return type(self), (self.path, self.field, self.problem)


@dataclass
class FlowResult:
    """The outcome of :func:`~w1flow.simulate`.

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
        Exact W1 to the data at ``ts`` (None when the problem has no data or ``SaveAt(w1=None)``).
    status : str
        ``"success"``, ``"lp_failed"``, ``"certificate_failed"``, ``"nonfinite"``,
        ``"unhealthy"``, ``"callback"`` or ``"interrupted"`` (meanings:
        :data:`w1flow.status.RUN_STATUSES`).
    message : str
        Human-readable explanation of the status.
    n_steps : int
        Steps taken.
    n_field_evals : int
        Field evaluations (oracle calls, or drift evaluations for mean-field problems).
    n_lp_solves : int
        Exact LPs solved, by the oracle and for the W1 history: dense, sparse
        (``ExactPotential(sparse=True)``) and warm-started re-solves (``incremental=True``) alike.
    wall_time : float
        Seconds for the whole run.
    timings : dict
        Seconds spent in ``"field"`` (field evaluations), ``"w1"`` (history) and ``"total"``.
    health : list of str
        Messages of the health monitors that fired (see :mod:`w1flow.monitors`).
    params : ndarray, dict of ndarray, or None
        The problem's per-particle parameters, in the order of ``x0`` (None: it has none);
        :meth:`params_at` gives those of the particles of one snapshot.
    functional_name : str or None
        The flow's own functional when it is not W1 (``"W2"`` for :class:`~w1flow.W2Flow`, a
        plug-in f-divergence estimate for :class:`~w1flow.MonoFlow`), or None.
    functional : ndarray or None
        Its values at ``ts``.
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
    params: object = None
    functional_name: str | None = None
    functional: np.ndarray | None = None

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

    def params_at(self, k):
        """The per-particle parameters of snapshot ``k``, row ``i`` for particle ``i`` of
        ``xs[k]`` (indexed through ``parents[k]``, so split particles carry their parent's)."""
        if self.params is None:
            raise ValueError("this run has no per-particle parameters (MeanFieldODE(..., params=...)).")
        parent = self.parents[k]
        if isinstance(self.params, dict):
            return {name: arr[parent] for name, arr in self.params.items()}
        return self.params[parent]

    # -- files --------------------------------------------------------------------------------
    def save(self, path, metadata=None):
        """Write the result to ``path`` (``.npz``: arrays, plus one JSON string; no pickle).

        Snapshots of different sizes (splitting runs) are stored concatenated with their
        counts. The JSON part holds the scalar fields, the package versions, and ``metadata``
        (anything JSON can hold: a seed, a config). Read it back with :meth:`load`.

        Parameters
        ----------
        path : str or Path
            The file; ``.npz`` is appended when missing.
        metadata : dict, optional
            Stored as given (must be JSON-serialisable).

        Returns
        -------
        Path
            The file written.
        """
        dim = self.xs[0].shape[1] if self.xs else 0
        meta = {f: getattr(self, f) for f in _SCALARS}
        meta["dt"] = None if not np.isfinite(self.dt) else float(self.dt)  # JSON has no NaN
        meta = {"format": RESULT_FORMAT[0], "version": RESULT_FORMAT[1], "dim": int(dim), "result": meta,
                "versions": _versions(), "metadata": {} if metadata is None else metadata}
        arrays = {
            "ts": np.asarray(self.ts, dtype=np.float64),
            "counts": np.array([x.shape[0] for x in self.xs], dtype=np.int64),
            "xs": np.concatenate(self.xs) if self.xs else np.empty((0, dim)),
            "weights": np.concatenate(self.weights) if self.weights else np.empty(0),
            "parents": np.concatenate(self.parents).astype(np.int64) if self.parents else np.empty(0, np.int64),
            "meta": None,  # written here by write_archive: the archive's entries keep their order
        }
        if self.w1 is not None:
            arrays["w1"] = np.asarray(self.w1, dtype=np.float64)
        if self.functional is not None:
            arrays["functional"] = np.asarray(self.functional, dtype=np.float64)
        if isinstance(self.params, dict):
            arrays.update({f"params.{name}": np.asarray(v) for name, v in self.params.items()})
        elif self.params is not None:
            arrays["params"] = np.asarray(self.params)
        return write_archive(path, meta, arrays)

    @classmethod
    def load(cls, path):
        """Read a result written by :meth:`save` (no pickle: safe on files from elsewhere).

        Every entry is checked against the others before anything is returned: one count per
        saved time adding up to the stored points, parents indexing the first snapshot, ``w1``
        and ``functional`` one value per saved time, parameters one row per initial particle,
        and every JSON field of its type (nesting deeper than :data:`MAX_JSON_DEPTH` is refused
        unparsed).

        Parameters
        ----------
        path : str or Path
            A file written by :meth:`save`.

        Returns
        -------
        FlowResult

        Raises
        ------
        ResultFileError
            (a ``ValueError``) The file is not a readable result of this or an older format, or
            its entries disagree; the message names the file and the field.
        """
        arrays, meta = _read(path)
        counts = arrays["counts"]
        cuts = np.cumsum(counts)[:-1]
        r = meta["result"]
        named = {k[len("params."):]: v for k, v in arrays.items() if k.startswith("params.")}
        params = named or arrays.get("params")
        return cls(
            ts=arrays["ts"],
            xs=np.split(arrays["xs"], cuts),
            weights=np.split(arrays["weights"], cuts),
            parents=np.split(arrays["parents"], cuts),
            w1=arrays["w1"] if "w1" in arrays else None,
            status=r["status"], message=r["message"], n_steps=r["n_steps"], n_field_evals=r["n_field_evals"],
            n_lp_solves=r["n_lp_solves"], wall_time=r["wall_time"], timings=r["timings"], solver=r["solver"],
            dt=float("nan") if r["dt"] is None else r["dt"], split=r["split"], health=r["health"], params=params,
            functional_name=r.get("functional_name"), functional=arrays.get("functional"),
        )

    @staticmethod
    def read_metadata(path):
        """The JSON part of a saved result: ``metadata`` (as given to :meth:`save`), ``versions``
        (Python and packages when it was written), ``format``, ``version``, and ``result``.

        The whole file is checked as by :meth:`load` (a damaged file raises
        :class:`ResultFileError`, never returns metadata of a result that does not load)."""
        return _read(path)[1]

    def __repr__(self):
        w1 = "" if self.w1 is None else f", w1[-1]={self.w1[-1]:.6g}"
        return (
            f"FlowResult(status={self.status!r}, t={self.ts[-1]:.6g}, snapshots={len(self.ts)}, "
            f"n_steps={self.n_steps}, n_lp_solves={self.n_lp_solves}{w1}, "
            f"wall_time={self.wall_time:.3g}s)"
        )


def _versions():
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("w1flow", "numpy", "scipy", "pot", "numba"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


# The JSON "result" fields: (type check, what it must be). Missing or wrong ones name the field.
def is_count(v):
    """A JSON count: an integer >= 0, not a bool."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0


def is_seconds(v):
    """A JSON duration: a real number >= 0, not a bool."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and v >= 0


_RESULT_FIELDS = {
    "status": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "message": (lambda v: isinstance(v, str), "a string"),
    "n_steps": (is_count, "an integer >= 0"),
    "n_field_evals": (is_count, "an integer >= 0"),
    "n_lp_solves": (is_count, "an integer >= 0"),
    "wall_time": (is_seconds, "a number of seconds >= 0"),
    "timings": (lambda v: isinstance(v, dict) and all(isinstance(k, str) and is_seconds(x) for k, x in v.items()),
                "a dict of names to seconds >= 0"),
    "solver": (lambda v: isinstance(v, str), "a string"),
    "dt": (lambda v: v is None or is_seconds(v), "null or a number >= 0"),
    "split": (lambda v: isinstance(v, bool), "true or false"),
    "health": (lambda v: isinstance(v, list) and all(isinstance(m, str) for m in v), "a list of strings"),
    "functional_name": (lambda v: v is None or isinstance(v, str), "null or a string"),
}
_ARRAYS = {"ts", "counts", "xs", "weights", "parents", "w1", "functional", "params"}


def write_archive(path, meta, arrays, what="metadata"):
    """Write ``arrays`` and the JSON ``meta`` (as the entry ``meta``) to ``path`` (``.npz``
    appended when missing; no pickle) and return the path. ``meta`` must be JSON (no NaN) and
    nest at most as deep as :func:`read_archive` reads — a file that cannot be read back is never
    written; ``what`` names the caller's free-form part in the error. The entry ``meta`` takes the
    place of a ``"meta"`` key of ``arrays`` (the order of the archive's entries), else comes last."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    try:
        text = json.dumps(meta, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be JSON-serialisable (numbers, strings, lists, dicts): {exc}") from None
    if _json_depth(text) > MAX_JSON_DEPTH:
        raise ValueError(f"metadata nests lists/dicts more than {MAX_JSON_DEPTH - 1} levels deep; flatten it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = dict(arrays)
    arrays["meta"] = np.array(text)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def read_archive(path, fmt):
    """``(arrays, meta)`` of an ``.npz`` + JSON result file of format ``fmt = (name, version)``,
    the container checked: a readable archive (``allow_pickle=False``), one ``meta`` JSON string
    nested at most ``MAX_JSON_DEPTH`` deep, a JSON object of this format and a version this w1flow
    reads. Each failure is a :class:`ResultFileError` naming the entry; the caller checks the rest.
    Shared by :class:`FlowResult` and :class:`~w1flow.generative.TrainResult`."""
    path = Path(path)
    what = fmt[0].rpartition(".")[2]
    try:
        npz = np.load(path, allow_pickle=False)
        if not hasattr(npz, "files"):  # a .npy: one array, not the archive save writes
            raise ValueError(f"it holds one array ({npz.dtype} {npz.shape}), not an .npz archive")
        with npz:
            arrays = {k: npz[k] for k in npz.files}
    # a truncated or damaged zip fails on opening (BadZipFile, OSError) or on reading an entry
    # (BadZipFile, zlib.error, EOFError, ValueError for a damaged .npy header)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise ResultFileError(path, "file", f"not a saved {what} (.npz written by {what}.save): "
                                            f"{type(exc).__name__}: {exc}") from None
    if "meta" not in arrays:
        raise ResultFileError(path, "meta", f"not a saved {what}: it has no 'meta' entry.")
    raw = arrays.pop("meta")
    if raw.ndim != 0 or raw.dtype.kind != "U":
        raise ResultFileError(path, "meta", f"must be one JSON string, got an array of {raw.dtype} {raw.shape}.")
    text = str(raw)
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ResultFileError(path, "meta", f"its JSON nests {depth} levels deep (at most {MAX_JSON_DEPTH} "
                                            f"are read); the file is damaged or was not written by {what}.save.")
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ResultFileError(path, "meta", f"is not valid JSON ({exc}).") from None
    if not isinstance(meta, dict):
        raise ResultFileError(path, "meta", f"must be a JSON object, got {type(meta).__name__}.")
    if meta.get("format") != fmt[0]:
        raise ResultFileError(path, "format", f"not a saved {what} (format {meta.get('format')!r}).")
    version = meta.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ResultFileError(path, "version", f"must be a result format number >= 1, got {version!r}.")
    if version > fmt[1]:
        raise ResultFileError(path, "version", f"written by a newer w1flow (result format {version}; this one "
                                               f"reads up to {fmt[1]}): upgrade w1flow to read it.")
    return arrays, meta


def check_fields(path, meta, keys, entries):
    """Check ``meta``'s JSON objects ``keys`` and the entries of ``meta["result"]`` against
    ``entries`` (``name: (test, what it must be)``), naming the first one at fault."""
    for key in keys:
        if not isinstance(meta.get(key), dict):
            raise ResultFileError(path, key, f"must be a JSON object, got {type(meta.get(key)).__name__}.")
    r = meta["result"]
    for key, (ok, what) in entries.items():
        if key not in r:
            raise ResultFileError(path, f"result.{key}", "is missing.")
        if not ok(r[key]):
            raise ResultFileError(path, f"result.{key}", f"must be {what}, got {r[key]!r}.")


def _read(path):
    """``(arrays, meta)`` of a result file, every entry checked against the others."""
    path = Path(path)
    arrays, meta = read_archive(path, RESULT_FORMAT)
    dim = meta.get("dim")
    if not is_count(dim):
        raise ResultFileError(path, "dim", f"must be an integer >= 0 (the space dimension), got {dim!r}.")
    check_fields(path, meta, ("result", "metadata", "versions"), _RESULT_FIELDS)
    _check_arrays(path, arrays, meta)
    return arrays, meta


def _check_arrays(path, arrays, meta):
    """Every array of the file against the others and the JSON part."""
    def bad(name, problem):
        raise ResultFileError(path, name, problem)

    unknown = sorted(k for k in arrays if k not in _ARRAYS and not k.startswith("params."))
    if unknown:
        bad(unknown[0], "is not an entry of a saved FlowResult.")
    for name in ("ts", "counts", "xs", "weights", "parents"):
        if name not in arrays:
            bad(name, "is missing.")

    def numeric(name, ndim, kinds="fiu"):
        a = arrays[name]
        if a.ndim != ndim or a.dtype.kind not in kinds:
            what = "integers" if kinds == "iu" else "numbers"
            bad(name, f"must be a {ndim}-D array of {what}, got {a.dtype} of shape {a.shape}.")
        return a

    ts, counts = numeric("ts", 1), numeric("counts", 1, "iu")
    k = len(ts)
    if k == 0:
        bad("ts", "is empty (a result saves at least its start).")
    if not np.all(np.isfinite(ts)) or np.any(np.diff(ts) < 0):
        bad("ts", "must be finite and non-decreasing.")
    if len(counts) != k:
        bad("counts", f"has {len(counts)} entries for {k} saved times (ts); one per snapshot.")
    if np.any(counts < 0):
        bad("counts", f"has a negative particle count ({int(counts.min())}).")
    total = int(counts.sum())
    dim = meta["dim"]
    xs = numeric("xs", 2)
    if xs.shape[0] != total:
        bad("counts", f"add up to {total} points but the file stores {xs.shape[0]} (xs).")
    if xs.shape[1] != dim:
        bad("xs", f"has points of dimension {xs.shape[1]}; the file says dim = {dim}.")
    if len(numeric("weights", 1)) != total:
        bad("weights", f"has {len(arrays['weights'])} entries; the counts add up to {total} points.")
    if np.any(arrays["weights"] < 0):
        bad("weights", "has a negative weight.")
    parents = numeric("parents", 1, "iu")
    if len(parents) != total:
        bad("parents", f"has {len(parents)} entries; the counts add up to {total} points.")
    n0 = int(counts[0])
    if len(parents) and (parents.min() < 0 or parents.max() >= n0):
        bad("parents", f"indexes a particle outside 0..{n0 - 1} (the first snapshot's {n0} particles).")
    for name in ("w1", "functional"):
        if name in arrays and numeric(name, 1).shape != (k,):
            bad(name, f"has {len(arrays[name])} values for {k} saved times (ts); one per snapshot.")
    has_name = meta["result"]["functional_name"] is not None
    if has_name != ("functional" in arrays):
        bad("functional", "is missing although result.functional_name is set." if has_name else
                          "is present although result.functional_name is null.")
    named = [key for key in arrays if key.startswith("params.")]
    if named and "params" in arrays:
        bad("params", "is stored both whole and by name (params.<name>); keep one.")
    for key in named + (["params"] if "params" in arrays else []):
        a = arrays[key]
        if a.ndim < 1 or a.shape[0] != n0:
            bad(key, f"has shape {a.shape}; one row per initial particle ({n0}).")


