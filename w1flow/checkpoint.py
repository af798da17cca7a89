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

import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._validation import as_bool, as_int

__all__ = ["Checkpoint", "CheckpointError", "fingerprint", "write_checkpoint", "read_checkpoint"]

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
        object.__setattr__(self, "every", as_int(self.every, "every", 1))
        object.__setattr__(self, "resume", as_bool(self.resume, "resume"))
        object.__setattr__(self, "override", as_bool(self.override, "override"))

    def load(self, expected_fingerprint):
        """The saved run state when resuming from an existing file, else None."""
        if self.resume and Path(self.path).exists():
            return read_checkpoint(self.path, expected_fingerprint=expected_fingerprint)
        return None

    def write(self, state):
        """Write the run state (a dict) atomically."""
        write_checkpoint(self.path, state)


class CheckpointError(ValueError):
    """The checkpoint file is unreadable or belongs to a different run."""


def fingerprint(*parts):
    """SHA-256 of arrays and scalars describing a run (bitwise for arrays)."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            h.update(str(p.dtype).encode())
            h.update(str(p.shape).encode())
            h.update(np.ascontiguousarray(p).tobytes())
        else:
            h.update(repr(p).encode())
        h.update(b"|")
    return h.hexdigest()


def write_checkpoint(path, state):
    """Write ``state`` (a dict) to ``path`` atomically: a crash never leaves a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format_version": FORMAT_VERSION, **state}
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
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
    if expected_fingerprint is not None and state.get("fingerprint") != expected_fingerprint:
        raise CheckpointError(
            f"checkpoint {path} belongs to a different run (problem, x0, weights, t1, dt, "
            "save points, split or solver differ). Delete it or pass another checkpoint path."
        )
    return state
