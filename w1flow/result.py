"""The outcome of a run: :class:`FlowResult`, and its file format (``.npz`` + JSON, no pickle)."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field as dc_field, fields
from pathlib import Path

import numpy as np

#: Format of :meth:`FlowResult.save` files; :meth:`FlowResult.load` reads this version and older.
RESULT_FORMAT = ("w1flow.FlowResult", 1)
_SCALARS = ("status", "message", "n_steps", "n_field_evals", "n_lp_solves", "wall_time", "timings", "solver",
            "dt", "split", "health", "functional_name")

__all__ = ["FlowResult"]


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
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        dim = self.xs[0].shape[1] if self.xs else 0
        meta = {f: getattr(self, f) for f in _SCALARS}
        meta["dt"] = None if not np.isfinite(self.dt) else float(self.dt)  # JSON has no NaN
        meta = {"format": RESULT_FORMAT[0], "version": RESULT_FORMAT[1], "dim": int(dim), "result": meta,
                "versions": _versions(), "metadata": {} if metadata is None else metadata}
        try:
            text = json.dumps(meta, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"metadata must be JSON-serialisable (numbers, strings, lists, dicts): {exc}") from None
        arrays = {
            "ts": np.asarray(self.ts, dtype=np.float64),
            "counts": np.array([x.shape[0] for x in self.xs], dtype=np.int64),
            "xs": np.concatenate(self.xs) if self.xs else np.empty((0, dim)),
            "weights": np.concatenate(self.weights) if self.weights else np.empty(0),
            "parents": np.concatenate(self.parents).astype(np.int64) if self.parents else np.empty(0, np.int64),
            "meta": np.array(text),
        }
        if self.w1 is not None:
            arrays["w1"] = np.asarray(self.w1, dtype=np.float64)
        if self.functional is not None:
            arrays["functional"] = np.asarray(self.functional, dtype=np.float64)
        if isinstance(self.params, dict):
            arrays.update({f"params.{name}": np.asarray(v) for name, v in self.params.items()})
        elif self.params is not None:
            arrays["params"] = np.asarray(self.params)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)
        return path

    @classmethod
    def load(cls, path):
        """Read a result written by :meth:`save` (no pickle: safe on files from elsewhere)."""
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
        (Python and packages when it was written), ``format``, ``version``, and ``result``."""
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


def _read(path):
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a saved FlowResult (.npz written by FlowResult.save): {exc}") from None
    if "meta" not in arrays:
        raise ValueError(f"{path} is not a saved FlowResult: it has no 'meta' entry.")
    meta = json.loads(str(arrays.pop("meta")))
    if meta.get("format") != RESULT_FORMAT[0]:
        raise ValueError(f"{path} is not a saved FlowResult (format {meta.get('format')!r}).")
    if int(meta.get("version", 0)) > RESULT_FORMAT[1]:
        raise ValueError(f"{path} was written by a newer w1flow (result format {meta['version']}; this one "
                         f"reads up to {RESULT_FORMAT[1]}): upgrade w1flow to read it.")
    return arrays, meta
