"""Per-particle parameters: validation and indexing (one home for :class:`~w1flow.MeanFieldODE`,
the SDE problems and :class:`~w1flow.FlowResult`).

Parameters are an array with one row per particle of ``x0`` (shape (n, ...)) or a dict of such
arrays (named fields). Rows travel with the particles: the particles of a run at any time are
mapped to ``x0`` by their parent indices, and their parameters are ``params[parent]``.
"""

from __future__ import annotations

import numpy as np

from ._validation import readonly


def as_particle_params(params):
    """Validate per-particle parameters: None, an array (n, ...), or a dict of str → array
    (n, ...) with the same n. Arrays are copied (the caller's arrays may change later)."""
    if params is None:
        return None
    if isinstance(params, dict):
        if not params:
            raise ValueError("params is an empty dict; give named arrays with one row per particle, or None.")
        out = {}
        for name, value in params.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"params keys must be names (identifiers); got {name!r}.")
            out[name] = _as_rows(value, f"params[{name!r}]")
        counts = {k: v.shape[0] for k, v in out.items()}
        if len(set(counts.values())) != 1:
            raise ValueError(f"every params field needs one row per particle; got row counts {counts}.")
        return out
    return _as_rows(params, "params")


def _as_rows(value, name):
    try:
        arr = np.array(value)  # a copy
    except Exception as exc:  # noqa: BLE001 - report any conversion failure with the name
        raise TypeError(f"{name} must be an array with one row per particle: {exc}") from None
    if arr.dtype == object or arr.dtype.kind not in "biufc":
        raise TypeError(f"{name} must be a numeric (or boolean) array with one row per particle; "
                        f"got dtype {arr.dtype}.")
    if arr.ndim == 0:
        raise ValueError(f"{name} is a scalar; per-particle parameters need one row per particle "
                         "(a constant belongs in the drift).")
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite values.")
    return arr


def n_params(params):
    if isinstance(params, dict):
        return next(iter(params.values())).shape[0]
    return params.shape[0]


def check_particle_params(params, n):
    """Raise ``ValueError`` unless ``params`` (validated) has ``n`` rows."""
    if params is not None and n_params(params) != n:
        raise ValueError(f"params have {n_params(params)} rows but x0 has {n} particles; give one "
                         "row per particle of x0, in the same order.")


def readonly_params(params, parent):
    """``params`` indexed by ``parent`` (None: as they are), as read-only arrays."""
    if isinstance(params, dict):
        return {k: readonly(v if parent is None else v[parent]) for k, v in params.items()}
    return readonly(params if parent is None else params[parent])


def describe_params(params):
    if isinstance(params, dict):
        return "{" + ", ".join(f"{k}: {v.shape}" for k, v in params.items()) + "}"
    return f"array{params.shape}"
