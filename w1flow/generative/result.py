"""The outcome of a generator run: :class:`TrainResult`, and its file format (``.npz`` + JSON, no
pickle, as :class:`w1flow.FlowResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from pathlib import Path

import numpy as np

from ..result import ResultFileError, check_fields, is_count, is_seconds, read_archive, write_archive

__all__ = ["TrainResult", "HISTORY", "history_arrays", "RESULT_FORMAT"]

#: The per-outer-step history of a run (:attr:`TrainResult.history`), in this order.
HISTORY = ("iteration", "w1", "critic_dual", "critic_steps", "critic_evaluations", "generator_steps", "wall_time",
           "displacement", "target_displacement")
_FLOAT_HISTORY = ("w1", "critic_dual", "wall_time", "displacement", "target_displacement")

#: Format of :meth:`TrainResult.save` files; :meth:`TrainResult.load` reads this version and older.
RESULT_FORMAT = ("w1flow.TrainResult", 1)


def history_arrays(history):
    """The history lists of a run as arrays: float64 for measurements, int64 for counts."""
    return {k: np.asarray(v, dtype=np.float64 if k in _FLOAT_HISTORY else np.int64) for k, v in history.items()}


@dataclass
class TrainResult:
    """The outcome of :func:`~w1flow.generative.train` (and of
    :func:`~w1flow.generative.wgan_gp_reference`).

    Attributes
    ----------
    status, message : str
        ``"success"`` when all iterations ran; otherwise the failure (a potential that could not
        be computed, non-finite parameters, ``"diverged"``: finite but exploding outputs,
        parameters or critic estimate, see :func:`w1flow.generative.evaluation.diverged`; an
        interrupt) and what to do.
    history : dict of ndarray
        One entry per outer step: ``iteration``; ``w1`` (exact W1 between ``Evaluation.samples``
        generated and held-out points, NaN between evaluations); ``critic_dual`` (the
        potential's W1 estimate on the training batch); ``critic_steps`` (cumulative critic
        updates, or LPs for an exact oracle); ``critic_evaluations`` (cumulative forward-and-backward
        passes of the critic on one batch: its updates plus the batches on which ∇φ was queried —
        one per outer step for W1-FE whatever K, K for the naive baselines; 0 queries for an
        oracle that returns a plan); ``generator_steps`` (cumulative);
        ``wall_time`` (cumulative seconds of training, evaluations excluded);
        ``displacement`` (mean ``|G_new(z) − G_old(z)|`` on the step's batch) and
        ``target_displacement`` (mean ``Δt |∇φ|``, what an exact Euler step would move; NaN for
        the WGAN baselines), whose ratio says whether K and the learning rate let the generator
        reach its targets.
    generator : MLPGenerator or TorchGenerator
        The trained generator (the one passed in, updated in place).
    n_iter, generator_steps, critic_updates, lp_solves : int
    wall_time : float
        Seconds of training (evaluations excluded).
    eval_time : float
        Seconds spent on the W1 evaluations.
    config : dict
        The run's settings (the checkpoint fingerprint's ``config`` part).
    """

    status: str
    message: str
    history: dict
    generator: object
    n_iter: int
    generator_steps: int
    critic_updates: int
    lp_solves: int
    wall_time: float
    eval_time: float = 0.0
    config: dict = dc_field(default_factory=dict)

    @property
    def success(self):
        return self.status == "success"

    @property
    def w1(self):
        """``(iterations, exact W1)`` at the evaluated steps."""
        h = self.history
        ok = np.isfinite(h["w1"])
        return h["iteration"][ok], h["w1"][ok]

    def __repr__(self):
        it, w = self.w1
        last = f", w1[-1]={w[-1]:.4g}" if w.size else ""
        return (f"TrainResult(status={self.status!r}, iterations={self.n_iter}, generator_steps="
                f"{self.generator_steps}, critic_updates={self.critic_updates}{last}, "
                f"wall_time={self.wall_time:.3g}s)")

    # -- files --------------------------------------------------------------------------------
    def save(self, path, metadata=None):
        """Write the result to ``path`` (``.npz``: the history and the generator's parameters as
        arrays, plus one JSON string with the scalar fields, ``config``, the generator's class and
        settings and ``metadata``; no pickle). Read it back with :meth:`load`.

        Returns the :class:`~pathlib.Path` written (``.npz`` appended when missing).
        """
        gen = self.generator
        meta = {"format": RESULT_FORMAT[0], "version": RESULT_FORMAT[1],
                "result": {f: getattr(self, f) for f in _SCALARS},
                "config": _jsonable(self.config),
                "generator": None if gen is None else {"class": type(gen).__name__,
                                                       "settings": _jsonable(gen.settings())},
                "metadata": {} if metadata is None else metadata}
        arrays = {f"history.{k}": np.asarray(v) for k, v in self.history.items()}
        if gen is not None:
            arrays["theta"] = np.asarray(gen.theta, dtype=np.float64)
            if gen.ema_theta is not None:  # the averaged parameters the samples are drawn with
                arrays["ema_theta"] = np.asarray(gen.ema_theta, dtype=np.float64)
        return write_archive(path, meta, arrays, what="metadata and config")

    @classmethod
    def load(cls, path):
        """Read a result written by :meth:`save` (no pickle: safe on files from elsewhere).

        The generator is rebuilt from its class and settings (an ``MLPGenerator`` or a
        ``TorchGenerator``) with the saved parameters; ``config`` comes back as JSON values (lists
        for tuples). Raises :class:`~w1flow.result.ResultFileError` (a ``ValueError``) naming the
        file and the field when the file is not a readable result or its entries disagree.
        """
        arrays, meta = _read(Path(path))
        r = meta["result"]
        history = {k: arrays[f"history.{k}"] for k in HISTORY}
        gen = None if meta["generator"] is None else _rebuild(Path(path), meta["generator"], arrays.get("theta"),
                                                                arrays.get("ema_theta"))
        return cls(status=r["status"], message=r["message"], history=history, generator=gen, n_iter=r["n_iter"],
                   generator_steps=r["generator_steps"], critic_updates=r["critic_updates"], lp_solves=r["lp_solves"],
                   wall_time=r["wall_time"], eval_time=r["eval_time"], config=meta["config"])

    @staticmethod
    def read_metadata(path):
        """The JSON part of a saved result (``metadata``, ``config``, ``result``, ``generator``),
        after the whole file has been checked as by :meth:`load`."""
        return _read(Path(path))[1]


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


_RESULT_FIELDS = {
    "status": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "message": (lambda v: isinstance(v, str), "a string"),
    "n_iter": (is_count, "an integer >= 0"),
    "generator_steps": (is_count, "an integer >= 0"),
    "critic_updates": (is_count, "an integer >= 0"),
    "lp_solves": (is_count, "an integer >= 0"),
    "wall_time": (is_seconds, "a number of seconds >= 0"),
    "eval_time": (is_seconds, "a number of seconds >= 0"),
}
_SCALARS = tuple(_RESULT_FIELDS)


def _read(path):
    """``(arrays, meta)`` of a saved TrainResult, every entry checked."""
    arrays, meta = read_archive(path, RESULT_FORMAT)
    check_fields(path, meta, ("result", "config", "metadata"), {})
    g = meta.get("generator")
    if g is not None and not (isinstance(g, dict) and isinstance(g.get("class"), str)
                              and isinstance(g.get("settings"), dict)):
        raise ResultFileError(path, "generator", "must be null or {'class': name, 'settings': {...}}.")
    check_fields(path, meta, (), _RESULT_FIELDS)
    _check_arrays(path, arrays, meta)
    return arrays, meta


def _check_arrays(path, arrays, meta):
    names = {f"history.{k}" for k in HISTORY} | {"theta", "ema_theta"}
    unknown = sorted(set(arrays) - names)
    if unknown:
        raise ResultFileError(path, unknown[0], "is not an entry of a saved TrainResult.")
    n = None
    for k in HISTORY:
        name = f"history.{k}"
        if name not in arrays:
            raise ResultFileError(path, name, "is missing.")
        a = arrays[name]
        kinds = "f" if k in _FLOAT_HISTORY else "iu"
        if a.ndim != 1 or a.dtype.kind not in kinds:
            what = "numbers" if kinds == "f" else "integers"
            raise ResultFileError(path, name, f"must be a 1-D array of {what}, got {a.dtype} of shape {a.shape}.")
        if n is not None and a.shape[0] != n:
            raise ResultFileError(path, name, f"has {a.shape[0]} entries; history.iteration has {n} (one per step).")
        n = a.shape[0] if n is None else n
    if n != meta["result"]["n_iter"]:  # one history entry per outer step run
        raise ResultFileError(path, "history.iteration", f"has {n} entries for result.n_iter = "
                                                         f"{meta['result']['n_iter']}.")
    if (meta["generator"] is None) != ("theta" not in arrays):
        raise ResultFileError(path, "theta", "must be present exactly when the generator is.")
    if "theta" in arrays and (arrays["theta"].ndim != 1 or arrays["theta"].dtype.kind != "f"):
        raise ResultFileError(path, "theta", f"must be a 1-D array of numbers, got {arrays['theta'].dtype}.")
    if "ema_theta" in arrays and ("theta" not in arrays or arrays["ema_theta"].shape != arrays["theta"].shape
                                  or arrays["ema_theta"].dtype.kind != "f"):
        raise ResultFileError(path, "ema_theta", "must be an array of numbers of theta's shape, saved with theta.")


def _rebuild(path, spec, theta, ema_theta=None):
    from .generator import MLPGenerator
    from .torch_generator import TorchGenerator

    classes = {"MLPGenerator": MLPGenerator, "TorchGenerator": TorchGenerator}
    if spec["class"] not in classes:
        raise ResultFileError(path, "generator.class", f"must be one of {sorted(classes)}, got {spec['class']!r}.")
    settings = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["settings"].items()}
    try:
        gen = classes[spec["class"]](**settings)
    except (TypeError, ValueError) as exc:
        raise ResultFileError(path, "generator.settings", f"do not build a {spec['class']}: {exc}") from None
    if theta.shape != gen.theta.shape:
        raise ResultFileError(path, "theta", f"has {theta.size} parameters; the generator has {gen.theta.size}.")
    gen.theta[:] = theta
    gen.ema_theta = None if ema_theta is None else np.array(ema_theta, dtype=np.float64)
    return gen
