"""The outcome of a run: :class:`FlowResult`."""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field

import numpy as np

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
        Exact LPs solved, by the oracle and for the W1 history.
    wall_time : float
        Seconds for the whole run.
    timings : dict
        Seconds spent in ``"field"`` (field evaluations), ``"w1"`` (history) and ``"total"``.
    health : list of str
        Messages of the health monitors that fired (see :mod:`w1flow.monitors`).
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

    def __repr__(self):
        w1 = "" if self.w1 is None else f", w1[-1]={self.w1[-1]:.6g}"
        return (
            f"FlowResult(status={self.status!r}, t={self.ts[-1]:.6g}, snapshots={len(self.ts)}, "
            f"n_steps={self.n_steps}, n_lp_solves={self.n_lp_solves}{w1}, "
            f"wall_time={self.wall_time:.3g}s)"
        )
