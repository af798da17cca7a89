"""Checkpoints for long runs: write the whole run state atomically, read it back, resume.

``simulate(..., checkpoint="run.ckpt", checkpoint_every=100)`` writes the state every 100
steps, on a KeyboardInterrupt, and at the end. Re-running the same call with ``resume=True``
continues from the file; the final state is **bitwise identical** to an uninterrupted run
(same machine, same library versions, fixed BLAS and Numba thread counts).

The file is a pickle: load checkpoints only from sources you trust. It holds the positions,
weights, saved history, the solver's state and the potential oracle (with its own state, e.g. a
warm-started critic and its random generator), and a fingerprint of the run's inputs so that a
checkpoint is never resumed into a different problem.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["CheckpointError", "fingerprint", "write_checkpoint", "read_checkpoint"]

FORMAT_VERSION = 1


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
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has an unknown format.")
    if expected_fingerprint is not None and state.get("fingerprint") != expected_fingerprint:
        raise CheckpointError(
            f"checkpoint {path} belongs to a different run (problem, x0, weights, t1, dt, "
            "save_every, split or solver differ). Delete it or pass another checkpoint path."
        )
    return state
