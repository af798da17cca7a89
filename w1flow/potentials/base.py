"""The potential object and the oracle interface.

A *potential oracle* estimates the Kantorovich potential φ_μ from the current particles
``(x, a)`` to the data ``(y, b)``. Calling it returns a *potential object*, modelled on OTT's
``DualPotentials``: a frozen value that can be evaluated anywhere and knows the particles'
velocity.

Sign convention: φ maximises ``∫ φ dμ − ∫ φ dμ_d`` over 1-Lipschitz functions, so φ is **high
on the particles and low on the data** (φ = −f for a WGAN critic f). The flow is
``dY/dt = −∇φ_{μ_t}(Y)``.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_points, validate_measures
from ..status import is_ok

__all__ = ["Potential", "PotentialOracle", "validate_measures"]


class Potential:
    """Interface of a potential object (φ and what the solvers need from it).

    Subclasses set the attributes below and implement :meth:`value` and :meth:`gradient`.

    Attributes
    ----------
    x : ndarray, shape (n, d)
        Particles the potential was computed at.
    a : ndarray, shape (n,)
        Particle weights (sum to 1).
    velocity : ndarray, shape (n, d)
        Velocity of each particle, ``−∇φ`` in the sense the method defines on the particles
        (for the exact LP: the plan velocity, never the subgradient of the extension).
    w1 : float
        The W1 value (exact for the LP, an estimate for learned or smoothed potentials).
    status : str
        ``"optimal"``/``"converged"`` on success, otherwise a failure word (see
        :mod:`w1flow.status`).
    message : str
        Human-readable status.
    reused : bool
        True when the potential carries an earlier plan (moved with the particles) instead of a
        new solve; only exact potentials reuse plans.
    """

    x: np.ndarray
    a: np.ndarray
    w1: float
    status: str = "optimal"
    message: str = ""
    reused: bool = False
    plan = None
    _velocity = None

    @property
    def velocity(self):
        """``−∇φ`` at the particles, shape (n, d), read-only and computed once.

        Right for smooth potentials (entropic, critic); the exact LP potential overrides it with
        the plan velocity, because its c-transform has a kink at every particle.
        """
        if self._velocity is None:
            V = -np.asarray(self.gradient(self.x), dtype=np.float64)
            V.setflags(write=False)
            self._velocity = V
        return self._velocity

    @property
    def success(self) -> bool:
        """True when the potential was computed successfully (:func:`w1flow.status.is_ok`)."""
        return is_ok(self.status)

    def value(self, z: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def gradient(self, z: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def __call__(self, z):
        """φ(z) for points ``z`` of shape (k, d).

        As everywhere in w1flow, a 1-D array is k points on the line (so it needs d = 1; one
        point in R^d is shape (1, d)); a scalar is one point on the line and gives a scalar.
        """
        z, single = self._points(z)
        out = self.value(z)
        return out[0] if single else out

    def grad(self, z):
        """∇φ(z), shape (k, d). Meant for points **off** the particles (see :attr:`velocity`).

        Points as in :meth:`__call__`."""
        z, single = self._points(z)
        out = self.gradient(z)
        return out[0] if single else out

    def _points(self, z):
        # One rule everywhere (as_points): a 1-D array is k points on the line; a scalar is one.
        single = np.ndim(z) == 0
        return as_points(np.reshape(z, (1, 1)) if single else z, "z", dim=self.x.shape[1]), single


class PotentialOracle:
    """Interface of a potential oracle: ``oracle(x, a, y, b) -> Potential``.

    Oracles may keep state between calls (the last plan, a warm-started critic) and count
    their work in :attr:`counters`. :meth:`reset` clears state and counters.
    """

    #: True when ``.w1`` of the returned potential is the exact W1 distance.
    exact_w1 = False
    #: True when the returned potential carries an optimal plan (``plan_rows``, :meth:`split`,
    #: :meth:`rays`…), which solvers that move particles along the plan need.
    provides_plan = False

    def __init__(self):
        self.counters = {"evaluations": 0, "lp_solves": 0}

    def reset(self):
        """Forget state and zero the counters."""
        for k in self.counters:
            self.counters[k] = 0

    def __repr__(self):
        """``Name(option=value, ...)`` from :meth:`settings`: evaluates to an equivalent oracle."""
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in self.settings().items()) + ")"

    def settings(self):
        """The options that define this oracle (not its state): what a checkpoint fingerprints.

        The default is every public attribute except ``counters``; oracles with public state
        override it.
        """
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k != "counters"}

    def __call__(self, x, a, y, b, t=0.0):  # pragma: no cover - interface
        raise NotImplementedError

    # -- the checkpoint protocol (w1flow.checkpoint): state as arrays and JSON values -----------
    #: Attributes holding the oracle's state besides ``counters`` (warm starts, learned weights).
    _state_attrs = ()

    def state_dict(self):
        """The oracle's state as arrays, JSON values and ``np.random.Generator`` (what a checkpoint
        saves): its counters and the attributes in ``_state_attrs``. The settings are not state: the
        checkpoint's fingerprint holds them, and :meth:`load_state` goes into an oracle built with them."""
        return {"counters": dict(self.counters), **{k: getattr(self, k) for k in self._state_attrs if hasattr(self, k)}}

    def load_state(self, d):
        """Restore the state :meth:`state_dict` returned, into this oracle (of the same settings)."""
        self.counters.clear()
        self.counters.update(d["counters"])
        for k in self._state_attrs:
            if k in d:
                setattr(self, k, d[k])
