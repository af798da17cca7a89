"""Checkpoints for long runs: write the whole run state atomically, read it back, resume.

``simulate(..., checkpoint=Checkpoint("run.ckpt", every=100))`` writes the state every 100
steps, on a KeyboardInterrupt, and at the end. Re-running the same call with
``Checkpoint("run.ckpt", resume=True)`` continues from the file; the final state is **bitwise
identical** to an uninterrupted run (same machine, same library versions, fixed BLAS and Numba
thread counts). ``checkpoint="run.ckpt"`` is short for ``Checkpoint("run.ckpt")``.

The file cannot carry code: it is one ``.npz`` (read with ``allow_pickle=False``) of arrays plus
one JSON tree that refers to them, as :meth:`FlowResult.save <w1flow.FlowResult.save>` writes. It
holds the positions, weights, saved history, the solver's state, the potential oracle's state (e.g.
a warm-started critic's weights and its random generator's state), the solver context's field
memo, and a fingerprint of the run's inputs (hex digests), checked before any state is decoded,
so that a checkpoint is never resumed into a different run. It never holds the problem (drifts
may be lambdas), the solver or the oracle: the caller passes them again, and their state goes
back into them with ``load_state(d)``.

**The state protocol.** Whatever a checkpoint saves comes from ``obj.state_dict()`` (a dict of
arrays, JSON values, ``np.random.Generator`` and the data classes of ``_DATA_CLASSES``; see
:func:`encode`) and returns through ``obj.load_state(d)``. Every shipped solver, oracle and
generator has both. A checkpointed run refuses, before its first step, a solver or oracle whose
class is not w1flow's and does not define both itself (:func:`supports_state`): a user's
subclass may hold state the inherited methods do not know of.

**What is refused** (:class:`CheckpointError`): a pickle (the format 2 of w1flow 0.2.0.dev,
never unpickled: delete it and start again, or finish the run with the version that wrote it),
any other non-``.npz`` file, an ``.npz`` without the magic entry or holding an object array, a
JSON tree nested deeper than :data:`MAX_DEPTH`, a class or kind the code does not list, and a
fingerprint that differs. See ``docs/reliability.md``, "Checkpoints: what is read and refused".
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import json
import sys
import sysconfig
import types
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._files import atomic_replace, json_depth
from ._validation import as_bool, as_int

__all__ = ["Checkpoint", "CheckpointError", "Fingerprint", "fingerprint", "write_checkpoint", "read_checkpoint",
           "supports_state", "require_state", "function_refs", "encode", "decode"]

#: Version of the file layout. 2 (w1flow 0.2.0.dev): a pickle of the run state; 3: an ``.npz`` of arrays
#: plus a JSON tree, no pickle (2 is refused: unpickling runs code).
FORMAT_VERSION = 3


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
        If ``path`` exists, continue from it: the saved state goes into the solver, oracle (and
        generator) given, which must be those of the run, and the result is bitwise that of an
        uninterrupted run.
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

    def load(self, expected, refs=None):
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
        return read_checkpoint(self.path, expected_fingerprint=expected, refs=refs)

    def write(self, state, refs=None):
        """Write the run state (a dict) atomically; ``refs`` as for :func:`write_checkpoint`."""
        write_checkpoint(self.path, state, refs)


class CheckpointError(ValueError):
    """The checkpoint file is unreadable, not a checkpoint of this version (an old pickle is never
    unpickled), or belongs to a different run; or a checkpointed run holds an object that has no
    state protocol of its own."""


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


# -- the file: one .npz of arrays plus a JSON tree (no pickle anywhere) ------------------------------
#: First entry of every checkpoint file, so that a foreign .npz is told apart.
_MAGIC = "w1flow-checkpoint"
#: Deepest nesting of the JSON tree a reader accepts (a crafted file cannot exhaust the stack).
MAX_DEPTH = 64
#: The same cap on the raw JSON text, checked before parsing: an encoded value nests at most 4
#: brackets per level of the tree (a dict's {"$": "dict", "items": [[key, value]]}).
JSON_DEPTH = 4 * MAX_DEPTH
#: The w1flow classes a checkpoint may hold values of (field memos, solver states, bases): plain
#: data holders, rebuilt from their attributes without running any constructor. The table is the
#: code's, never the file's: a name not in it is refused, and nothing is imported by name.
_DATA_CLASSES = (
    "w1flow.lp.result:LPResult",
    "w1flow.lp.netsimplex:TransportBasis",
    "w1flow.potentials.exact:ExactKantorovichPotential",
    "w1flow.potentials.quantile:QuantileKantorovichPotential",
    "w1flow.potentials.entropic:EntropicKantorovichPotential",
    "w1flow.potentials.critic:NeuralCriticPotential",
    "w1flow.potentials.fields:W2KantorovichPotential",
    "w1flow.potentials.fields:LogRatioPotential",
    "w1flow.density_ratio:LogRatio",
    "w1flow.problems:MeanFieldField",
    "w1flow.solvers:_CappedState",
)
#: Earlier names of entries of ``_DATA_CLASSES`` (checkpoints written before the exact LP moved to
#: ``w1flow.lp`` still load).
_MOVED_CLASSES = {"w1flow._lp:LPResult": "w1flow.lp.result:LPResult",
                  "w1flow._netsimplex:TransportBasis": "w1flow.lp.netsimplex:TransportBasis"}
#: numpy bit generators a saved ``np.random.Generator`` may use (their states are JSON).
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


@functools.lru_cache(maxsize=None)
def _data_classes():
    import importlib

    table = {}
    for entry in _DATA_CLASSES:
        module, name = entry.split(":")
        table[entry] = getattr(importlib.import_module(module), name)
    table.update({old: table[new] for old, new in _MOVED_CLASSES.items()})
    return table


def function_refs(name, obj):
    """``{"name.attr": function}`` for the functions among ``obj``'s attributes (an oracle's ``h``,
    a critic's activation): a saved field may hold them, and they are written by name and read back
    from the caller's own object, never from the file. Only functions set when the object was built
    belong here (not state)."""
    if obj is None:
        return {}
    return {f"{name}.{k}": v for k, v in vars(obj).items()
            if isinstance(v, (types.FunctionType, types.BuiltinFunctionType, functools.partial))
            or isinstance(getattr(v, "py_func", None), types.FunctionType)}


def supports_state(obj):
    """True when ``obj`` can be checkpointed: it has ``state_dict()`` and ``load_state(d)``, and
    either its class is one of w1flow's or the class defines both itself.

    A subclass that only inherits them (e.g. a user's oracle derived from ``ExactPotential``) may
    hold state they do not know of, so it must define them, if only to call ``super()``'s.
    """
    cls = type(obj)
    if not (callable(getattr(obj, "state_dict", None)) and callable(getattr(obj, "load_state", None))):
        return False
    return cls.__module__.split(".")[0] == "w1flow" or ("state_dict" in vars(cls) and "load_state" in vars(cls))


def require_state(role, obj):
    """Raise :class:`CheckpointError` at the start of a checkpointed run when ``obj`` cannot be saved."""
    if obj is None or supports_state(obj):
        return
    cls = type(obj)
    raise CheckpointError(
        f"cannot checkpoint this run: the {role} {cls.__module__}.{cls.__qualname__} has no state protocol of "
        "its own. Define state_dict() (its state as arrays and JSON values) and load_state(d) on the class "
        "(calling the parent's, e.g. super().state_dict(), if it adds no state), or run without a checkpoint."
    )


def load_into(path, role, target, d, **extra):
    """``target.load_state(d)``, or for a class ``target(**d, **extra)``; a state that does not fit
    (a malformed file with the right fingerprint) is a :class:`CheckpointError` naming ``role``."""
    try:
        if isinstance(target, type):
            return target(**d, **extra)
        target.load_state(d)
        return target
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint {path}: the saved {role} state does not fit this run "
                              f"({type(exc).__name__}: {exc}); delete the file and start again.") from exc


def encode(value, arrays, path="state", refs=None):
    """``value`` as a JSON-able tree; its arrays go into ``arrays`` (a dict), referenced by key.

    Takes None, bools, ints, floats (non-finite ones too), strings, lists, tuples, sets, dicts,
    numpy arrays (not of objects) and scalars, ``np.random.Generator`` (by its bit generator's
    state), the w1flow data classes of ``_DATA_CLASSES``, and the functions ``refs`` (``{id: name}``,
    see :func:`function_refs`) names; anything else is a ``TypeError`` naming where it is.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if type(value) is int:  # exact types: a subclass (an enum, a named tuple) would come back as its base
        return value
    if type(value) is float:
        return value if np.isfinite(value) else {"$": "float", "v": repr(value)}
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype.hasobject:
            raise TypeError(f"{path}: an array of Python objects cannot be checkpointed.")
        key = f"a{len(arrays)}"
        arrays[key] = arr
        return {"$": "array" if isinstance(value, np.ndarray) else "scalar", "key": key}
    if type(value) in (list, tuple, set, frozenset):
        items = [encode(v, arrays, f"{path}[{k}]", refs) for k, v in enumerate(value)]
        return items if type(value) is list else {"$": "tuple" if type(value) is tuple else "set", "items": items}
    if type(value) is dict:
        return {"$": "dict", "items": [[encode(k, arrays, f"{path}.key", refs),
                                        encode(v, arrays, f"{path}[{k!r}]", refs)] for k, v in value.items()]}
    if isinstance(value, np.random.Generator):
        state = value.bit_generator.state
        if state.get("bit_generator") not in _BIT_GENERATORS:
            raise TypeError(f"{path}: a Generator on {state.get('bit_generator')!r} cannot be checkpointed.")
        return {"$": "generator", "state": encode(state, arrays, f"{path}.state", refs)}
    if refs and id(value) in refs:  # a function of the caller's own objects (e.g. the oracle's h)
        return {"$": "ref", "name": refs[id(value)]}
    name = f"{type(value).__module__}:{type(value).__qualname__}"
    if name in _DATA_CLASSES:
        return {"$": "object", "class": name, "attrs": encode(dict(vars(value)), arrays, path, refs)}
    raise TypeError(f"{path}: a {type(value).__module__}.{type(value).__qualname__} cannot be checkpointed "
                    "(checkpoints hold arrays and JSON values only).")


def decode(node, arrays, depth=0, refs=None):
    """The value :func:`encode` turned into ``node``; ``arrays`` maps keys to arrays, ``refs`` names
    to the caller's own functions (:func:`function_refs`).

    Raises :class:`CheckpointError` on anything :func:`encode` does not write.
    """
    if depth > MAX_DEPTH:
        raise CheckpointError(f"the checkpoint's tree is nested deeper than {MAX_DEPTH} levels.")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [decode(v, arrays, depth + 1, refs) for v in node]
    if not isinstance(node, dict) or not isinstance(node.get("$"), str):
        raise CheckpointError(f"the checkpoint holds an unknown entry {str(node)[:80]!r}.")
    kind = node["$"]
    if kind in ("array", "scalar"):
        key = node.get("key")
        if not isinstance(key, str) or key not in arrays or key.startswith("__"):
            raise CheckpointError(f"the checkpoint refers to a missing array {key!r}.")
        arr = arrays[key]
        return arr if kind == "array" else arr[()]
    if kind == "float":
        if node.get("v") not in ("nan", "inf", "-inf"):
            raise CheckpointError(f"the checkpoint holds an unknown number {node.get('v')!r}.")
        return float(node["v"])
    items = node.get("items")
    if kind in ("tuple", "set", "dict"):
        if not isinstance(items, list):
            raise CheckpointError(f"the checkpoint holds a malformed {kind}.")
        items = [decode(v, arrays, depth + 1, refs) for v in items]
        if kind == "tuple":
            return tuple(items)
        if kind == "set":
            return set(items)
        try:
            return {k: v for k, v in items}
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"the checkpoint holds a malformed dict: {exc}") from None
    if kind == "generator":
        state = decode(node.get("state"), arrays, depth + 1, refs)
        name = state.get("bit_generator") if isinstance(state, dict) else None
        if name not in _BIT_GENERATORS:
            raise CheckpointError(f"the checkpoint holds a random generator of unknown kind {name!r}.")
        bitgen = getattr(np.random, name)()
        try:
            bitgen.state = state
        except (TypeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"the checkpoint holds a malformed random generator state: {exc}") from None
        return np.random.Generator(bitgen)
    if kind == "ref":
        name = node.get("name")
        if not (refs and isinstance(name, str) and name in refs):
            raise CheckpointError(f"the checkpoint refers to {str(name)[:80]!r}, which this run does not have.")
        return refs[name]
    if kind == "object":
        cls = _data_classes().get(node.get("class"))
        attrs = decode(node.get("attrs"), arrays, depth + 1, refs)
        if cls is None or not isinstance(attrs, dict) or not all(isinstance(k, str) for k in attrs):
            raise CheckpointError(f"the checkpoint holds a value of class {node.get('class')!r}, which no "
                                  "checkpoint of this version holds.")
        obj = object.__new__(cls)  # no constructor, no __setstate__: the attributes, as data
        obj.__dict__.update(attrs)
        return obj
    raise CheckpointError(f"the checkpoint holds an entry of unknown kind {kind!r}.")


def write_checkpoint(path, state, refs=None):
    """Write ``state`` (a dict of arrays and JSON values, see :func:`encode`) to ``path`` atomically:
    a crash never leaves a torn file. The file is an ``.npz`` (no pickle): the arrays, plus one JSON
    tree referring to them. ``refs`` (``{name: function}``, see :func:`function_refs`) are written
    by name: the reader gets them from its own objects."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    state = dict(state)
    fp = state.pop("fingerprint", None)
    tree = {"format_version": FORMAT_VERSION,
            "fingerprint": None if fp is None else {"parts": dict(fp.parts), "unverifiable": list(fp.unverifiable)},
            "state": encode(state, arrays, refs={id(v): k for k, v in (refs or {}).items()})}
    entries = {"__magic__": np.array(_MAGIC), "__tree__": np.array(json.dumps(tree, allow_nan=False)), **arrays}
    def write(tmp):
        with open(tmp, "wb") as fh:  # a file object: np.savez would add ".npz" to a bare name
            np.savez(fh, **entries)

    atomic_replace(path, write)


def _refuse_pickle(path):
    return CheckpointError(
        f"checkpoint {path} is a pickle, written by w1flow 0.2.0.dev or earlier. It is not read: unpickling a "
        "file runs whatever code it names, so a crafted file could run any command as you. Delete it (or pass "
        "another checkpoint path) and start the run again, or finish that run with the w1flow version that "
        "wrote it."
    )


def read_checkpoint(path, expected_fingerprint=None, refs=None):
    """Read a checkpoint; check its format and (optionally) that it belongs to this run.

    Nothing in the file is executed: the arrays are read with ``allow_pickle=False``, the tree is
    JSON, and the fingerprint is compared before any state is decoded. A pickle (the format of
    w1flow 0.2.0.dev and earlier), an ``.npz`` holding objects, or any other file is refused with a
    :class:`CheckpointError`.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise CheckpointError(f"checkpoint {path} could not be read: {exc}") from exc
    if head[:1] == b"\x80":
        raise _refuse_pickle(path)
    if head != b"PK\x03\x04":
        raise CheckpointError(f"checkpoint {path} could not be read: it is not a w1flow checkpoint (not an .npz "
                              "file); delete it or pass another checkpoint path.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            entries = {k: npz[k] for k in npz.files}  # every entry, so that one of objects is refused first
        if "__magic__" not in entries or "__tree__" not in entries or entries["__magic__"].dtype.kind != "U" \
                or str(entries["__magic__"]) != _MAGIC or entries["__tree__"].dtype.kind != "U":
            raise CheckpointError(f"checkpoint {path} is an .npz but not a w1flow checkpoint.")
        text = str(entries["__tree__"])
        if json_depth(text) > JSON_DEPTH:  # refused before parsing (the shared cap of w1flow's JSON readers)
            raise CheckpointError(f"checkpoint {path}: its tree is nested deeper than {MAX_DEPTH} levels "
                                  f"({JSON_DEPTH} JSON brackets); it is not one w1flow wrote.")
        tree = json.loads(text)
        if not isinstance(tree, dict) or "format_version" not in tree:
            raise CheckpointError(f"checkpoint {path} has an unknown format.")
        if tree["format_version"] != FORMAT_VERSION:
            raise CheckpointError(
                f"checkpoint {path} has format version {tree['format_version']}, written by another "
                f"version of w1flow; this version reads format {FORMAT_VERSION}. Finish the run with the "
                "version that wrote it, or delete the file and start again."
            )
        saved = _fingerprint_of(tree.get("fingerprint"))
        if expected_fingerprint is not None:
            differ = expected_fingerprint.differences(saved) if saved is not None else ["everything"]
            if differ:
                raise CheckpointError(
                    f"checkpoint {path} belongs to a different run: {', '.join(differ)} differ. Delete "
                    "it or pass another checkpoint path."
                )
        arrays = {k: v for k, v in entries.items() if not k.startswith("__")}
        state = decode(tree.get("state"), arrays, refs=refs)
    except CheckpointError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise CheckpointError(f"checkpoint {path} holds pickled Python objects, which a w1flow checkpoint never "
                                  "does; it is refused (unpickling could run code). Delete it or pass another "
                                  "checkpoint path.") from None
        raise CheckpointError(f"checkpoint {path} could not be read: {exc}") from exc
    except (OSError, EOFError, KeyError, RecursionError, zipfile.BadZipFile, TypeError, AttributeError) as exc:
        raise CheckpointError(f"checkpoint {path} could not be read: {type(exc).__name__}: {exc}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} has an unknown format.")
    return {**state, "format_version": tree["format_version"], "fingerprint": saved}


def _fingerprint_of(node):
    """The :class:`Fingerprint` a checkpoint's tree holds (JSON), or None if it holds none or a malformed one."""
    if not isinstance(node, dict):
        return None
    parts, unverifiable = node.get("parts"), node.get("unverifiable", [])
    if not (isinstance(parts, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in parts.items())
            and isinstance(unverifiable, list) and all(isinstance(u, str) for u in unverifiable)):
        return None
    return Fingerprint(parts=dict(parts), unverifiable=tuple(unverifiable))
