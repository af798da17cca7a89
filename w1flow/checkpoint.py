"""Checkpoints for long runs: write the whole run state atomically, read it back, resume.

``simulate(..., checkpoint=Checkpoint("run.ckpt", every=100))`` writes the state every 100
steps, on a KeyboardInterrupt, and at the end. Re-running the same call with
``Checkpoint("run.ckpt", resume=True)`` continues from the file; the final state is **bitwise
identical** to an uninterrupted run (same machine, same library versions, fixed BLAS and Numba
thread counts). ``checkpoint="run.ckpt"`` is short for ``Checkpoint("run.ckpt")``.

The file is a pickle: load checkpoints only from sources you trust. It holds the positions,
weights, saved history, the solver (with its state) and the potential oracle (with its own
state, e.g. a warm-started critic and its random generator), the solver context's field memo,
and a fingerprint of the run's inputs so that a checkpoint is never resumed into a different
run. It never holds the problem (drifts may be lambdas): the problem is the caller's.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import pickle
import sys
import sysconfig
import tempfile
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._validation import as_bool, as_int

__all__ = ["Checkpoint", "CheckpointError", "Fingerprint", "fingerprint", "write_checkpoint", "read_checkpoint"]

#: Version of the file layout. 2 (w1flow 0.2): the run state after the solver-contract rework.
FORMAT_VERSION = 2


@dataclass(frozen=True)
class Checkpoint:
    """Where and how often :func:`~w1flow.simulate` checkpoints, and whether it resumes.

    Parameters
    ----------
    path : str or Path
        The checkpoint file (written atomically).
    every : int
        Steps between checkpoints (one is also written on an interrupt and at the end).
    resume : bool
        If ``path`` exists, continue from it: its solver and oracle (with their state) replace
        the ones given, and the result is bitwise that of an uninterrupted run.
    override : bool
        Resume even where a part of the run cannot be fingerprinted (a drift whose closure
        cannot be hashed): the caller vouches that it is the same run.
    """

    path: str | os.PathLike
    every: int = 100
    resume: bool = False
    override: bool = False

    def __post_init__(self):
        if not isinstance(self.path, (str, os.PathLike)):
            raise TypeError(f"checkpoint path must be a str or a Path, got {self.path!r}.")
        as_int(self.every, "every", 1)
        as_bool(self.resume, "resume")
        as_bool(self.override, "override")

    def load(self, expected):
        """The saved run state when resuming from an existing file, else None.

        Raises :class:`CheckpointError` when the file belongs to another run (naming the parts
        that differ), or when parts of this run cannot be fingerprinted and ``override`` is not
        set.
        """
        if not (self.resume and Path(self.path).exists()):
            return None
        if expected.unverifiable and not self.override:
            raise CheckpointError(
                f"checkpoint {self.path} cannot be verified against this run: "
                f"{', '.join(expected.unverifiable)} cannot be compared. If you are sure it is the same "
                "run, resume with Checkpoint(path, resume=True, override=True)."
            )
        return read_checkpoint(self.path, expected_fingerprint=expected)

    def write(self, state):
        """Write the run state (a dict) atomically."""
        write_checkpoint(self.path, state)


class CheckpointError(ValueError):
    """The checkpoint file is unreadable or belongs to a different run."""


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a run: one SHA-256 per named part, and the parts that could not be hashed.

    Attributes
    ----------
    parts : dict
        ``{name: hex digest}`` (e.g. ``"x0"``, ``"weights"``, ``"problem"``, ``"oracle"``,
        ``"solver"``, ``"saveat"``).
    unverifiable : tuple of str
        Paths of values that cannot be compared (e.g. ``"problem.drift.<closure K>"`` holding a
        lock): they are left out of the digests, and resuming needs ``Checkpoint(override=True)``.
    """

    parts: dict
    unverifiable: tuple = ()

    def differences(self, other):
        """Names of the parts whose digests differ from ``other``'s."""
        names = sorted(set(self.parts) | set(other.parts))
        return [n for n in names if self.parts.get(n) != other.parts.get(n)]


def fingerprint(**parts):
    """The :class:`Fingerprint` of named parts of a run.

    Each part is described recursively and hashed: arrays bitwise (dtype, shape, bytes),
    numbers and strings by value, containers element by element, objects with ``settings()``
    (oracles, problems) or ``options`` (solvers) by their class and those, dataclasses by their
    fields, other objects by their class and attributes. A Python function (a drift) is
    described by its code, its defaults, the values its closure holds and the module-level
    values its code reads, recursively; functions of installed libraries by their name. What
    cannot be described is listed in :attr:`Fingerprint.unverifiable`.
    """
    d = _Describer()
    digests = {name: d.digest(value, name) for name, value in parts.items()}
    return Fingerprint(parts=digests, unverifiable=tuple(d.unverifiable))


def _library_module(name):
    """True for modules of installed packages and the standard library (described by name only)."""
    if not name:
        return False
    top = name.split(".")[0]
    if top == "w1flow" or top in sys.builtin_module_names:  # w1flow itself, wherever it is installed
        return True
    path = getattr(sys.modules.get(top), "__file__", None)
    if not path:
        return False
    return "site-packages" in path or "dist-packages" in path or path.startswith(sysconfig.get_paths()["stdlib"])


class _Describer:
    """Feeds a stable description of Python objects into SHA-256 digests; records what cannot."""

    max_depth = 8

    def __init__(self):
        self.unverifiable = []
        self._stack = set()

    def digest(self, obj, path):
        h = hashlib.sha256()
        self._feed(h, obj, path, 0)
        return h.hexdigest()

    def _feed(self, h, obj, path, depth):
        put = lambda text: h.update(text.encode() + b"|")  # noqa: E731
        if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
            put(f"{type(obj).__name__}:{obj!r}")
            return
        if isinstance(obj, np.generic):
            put(f"{obj.dtype}:{obj!r}")
            return
        if isinstance(obj, np.ndarray) and obj.dtype != object:
            put(f"ndarray:{obj.dtype}:{obj.shape}")
            h.update(np.ascontiguousarray(obj).tobytes())
            return
        if isinstance(obj, (types.ModuleType, type)):
            put(f"{type(obj).__name__}:{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', obj.__name__)}")
            return
        if depth > self.max_depth or id(obj) in self._stack:
            self.unverifiable.append(f"{path} (nested too deeply or cyclic)")
            put("?")
            return
        self._stack.add(id(obj))
        try:
            self._feed_object(h, put, obj, path, depth + 1)
        finally:
            self._stack.discard(id(obj))

    def _feed_object(self, h, put, obj, path, depth):
        feed = self._feed
        if isinstance(obj, np.ndarray):  # object arrays, element by element
            put(f"objarray:{obj.shape}")
            for k, v in enumerate(obj.ravel()):
                feed(h, v, f"{path}[{k}]", depth)
        elif isinstance(obj, (list, tuple)):
            put(f"{type(obj).__name__}:{len(obj)}")
            for k, v in enumerate(obj):
                feed(h, v, f"{path}[{k}]", depth)
        elif isinstance(obj, (set, frozenset)):
            put(f"set:{len(obj)}")
            for v in sorted(obj, key=repr):
                feed(h, v, f"{path}{{}}", depth)
        elif isinstance(obj, dict):
            put(f"dict:{len(obj)}")
            for k in sorted(obj, key=repr):
                feed(h, k, f"{path}.key", depth)
                feed(h, obj[k], f"{path}[{k!r}]", depth)
        elif isinstance(obj, types.FunctionType):
            self._function(h, put, obj, path, depth)
        elif isinstance(obj, types.MethodType):
            feed(h, obj.__func__, f"{path}.__func__", depth)
            feed(h, obj.__self__, f"{path}.__self__", depth)
        elif isinstance(obj, functools.partial):
            put("partial")
            feed(h, (obj.func, obj.args, obj.keywords), path, depth)
        elif isinstance(obj, (types.BuiltinFunctionType, np.ufunc)):
            put(f"builtin:{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', obj.__name__)}")
        elif isinstance(obj, types.CodeType):
            self._code(h, put, obj, path, depth)
        elif isinstance(obj, np.random.Generator):
            put("Generator")
            feed(h, obj.bit_generator.state, f"{path}.state", depth)
        elif hasattr(obj, "py_func") and isinstance(obj.py_func, types.FunctionType):  # numba dispatchers
            feed(h, obj.py_func, f"{path}.py_func", depth)
        elif callable(getattr(obj, "settings", None)):  # oracles, problems
            put(f"settings:{type(obj).__module__}.{type(obj).__qualname__}")
            feed(h, obj.settings(), f"{path}", depth)
        elif isinstance(getattr(type(obj), "options", None), property):  # solvers
            put(f"options:{type(obj).__module__}.{type(obj).__qualname__}")
            feed(h, obj.options, path, depth)
        elif dataclasses.is_dataclass(obj):
            put(f"dataclass:{type(obj).__qualname__}")
            feed(h, {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}, path, depth)
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            put(f"object:{type(obj).__module__}.{type(obj).__qualname__}")
            feed(h, vars(obj), path, depth)
        else:
            self.unverifiable.append(f"{path} ({type(obj).__name__})")
            put("?")

    def _function(self, h, put, fn, path, depth):
        if path.count(".<global ") and _library_module(fn.__module__):
            put(f"function:{fn.__module__}.{fn.__qualname__}")  # a library function it calls
            return
        self._code(h, put, fn.__code__, f"{path}.<code>", depth)
        self._feed(h, (fn.__defaults__, fn.__kwdefaults__), f"{path}.<defaults>", depth)
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                put(f"empty cell {name}")
                continue
            self._feed(h, value, f"{path}.<closure {name}>", depth)
        for name in sorted(_global_names(fn.__code__)):
            if name in fn.__globals__:
                put(f"global {name}")
                self._feed(h, fn.__globals__[name], f"{path}.<global {name}>", depth)

    def _code(self, h, put, code, path, depth):
        put("code")
        h.update(code.co_code)
        put(repr(code.co_names))
        for k, const in enumerate(code.co_consts):
            self._feed(h, const, f"{path}.const[{k}]", depth)


def _global_names(code):
    """Names a code object (and the code nested in it) may read from the module's globals."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def write_checkpoint(path, state):
    """Write ``state`` (a dict) to ``path`` atomically: a crash never leaves a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format_version": FORMAT_VERSION, **state}
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_checkpoint(path, expected_fingerprint=None):
    """Read a checkpoint; check its format and (optionally) that it belongs to this run."""
    try:
        with open(path, "rb") as fh:
            state = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
        raise CheckpointError(f"checkpoint {path} could not be read: {exc}") from exc
    if not isinstance(state, dict) or "format_version" not in state:
        raise CheckpointError(f"checkpoint {path} has an unknown format.")
    if state["format_version"] != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {state['format_version']}, written by another "
            f"version of w1flow; this version reads format {FORMAT_VERSION}. Finish the run with the "
            "version that wrote it, or delete the file and start again."
        )
    if expected_fingerprint is not None:
        saved = state.get("fingerprint")
        differ = expected_fingerprint.differences(saved) if isinstance(saved, Fingerprint) else ["everything"]
        if differ:
            raise CheckpointError(
                f"checkpoint {path} belongs to a different run: {', '.join(differ)} differ. Delete "
                "it or pass another checkpoint path."
            )
    return state
