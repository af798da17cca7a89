"""File helpers shared by the modules that write or read back w1flow's own files: one atomic
write (checkpoints, sweep stores and summaries, the paper-check report), one JSON nesting cap
(result files, sweep records) and one TOML reader (sweep and generator configs)."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import numpy as np

#: Deepest nesting of lists and dicts accepted in the JSON w1flow reads back: deeper text is refused
#: before parsing, so a hostile file cannot exhaust the parser's recursion.
MAX_JSON_DEPTH = 64

_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"')


def json_depth(text):
    """Deepest bracket nesting of JSON ``text``, brackets inside strings aside (no parsing)."""
    bare = _STRING_RE.sub('""', text).encode()
    if not bare:
        return 0
    codes = np.frombuffer(bare, dtype=np.uint8)
    step = np.isin(codes, (ord("["), ord("{"))).astype(np.int64) - np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(step).max(initial=0))


def atomic_replace(path, write, tmp=None):
    """Make the file ``path`` by ``write(tmp)`` on a temporary file beside it, synced to disk, then
    :func:`os.replace` onto ``path``: a reader (or a run killed mid-write) sees the previous file or
    the new one, never half of one. The one home of this pattern (text files, checkpoints, sweep
    records, figures).

    ``tmp`` is the temporary file's path (beside ``path``; default ``.<name>.<pid>.<random>.tmp``);
    it is removed if ``write`` fails.
    """
    path = Path(path)
    tmp = Path(tmp) if tmp is not None else path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path, text, tmp=None):
    """Write ``text`` to ``path`` atomically (:func:`atomic_replace`; ``tmp`` as there)."""
    atomic_replace(path, lambda t: Path(t).write_text(text), tmp)


def read_toml(path, error=ValueError):
    """The TOML file at ``path`` as a dict; ``error`` (a ``ValueError`` subclass, e.g. the config's
    error class) names the file when it is not valid TOML or cannot be read as such."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise error("reading a TOML config needs Python >= 3.11 or `pip install tomli`.") from None
    with open(path, "rb") as fh:
        try:
            return tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise error(f"{path} is not valid TOML: {exc}") from None
