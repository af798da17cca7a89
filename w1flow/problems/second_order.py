"""The second-order mean-field ODE problem ``q' = v``, ``v' = A(q, v; μ, t)`` on states ``[q, v]``
(its schemes: :mod:`w1flow.solvers.second_order`; both are exported by :mod:`w1flow.second_order`,
whose docstring describes them)."""

from __future__ import annotations

import numpy as np

from .._validation import as_bool, as_int
from .base import Problem
from .mean_field import MeanFieldField, MeanFieldODE

__all__ = ["SecondOrderODE"]


class SecondOrderODE(Problem):
    """A second-order mean-field ODE ``q' = v``, ``v' = A(q, v; μ, t)``, on states ``[q, v]``.

    Parameters
    ----------
    acceleration : callable
        ``acceleration(q, v, weights, t) -> (n, d)`` (with ``params``:
        ``acceleration(q, v, weights, t, params)``); ``q``, ``v`` are read-only (n, d) views.
    dim : int
        d, the dimension of positions (the state has 2d columns).
    velocity_dependent : bool
        Whether the acceleration depends on ``v`` (friction, alignment: Cucker–Smale). With
        False, :class:`VelocityVerlet` uses one acceleration per step; a wrong False makes it
        first order (tested).
    params : ndarray or dict of ndarray, optional
        Per-particle parameters (masses, types), as for :class:`~w1flow.MeanFieldODE`.

    Examples
    --------
    Particles in a harmonic trap, attracted to their mean:

    >>> prob = SecondOrderODE(lambda q, v, w, t: -q - (q - w @ q), dim=2, velocity_dependent=False)
    >>> z0 = prob.state(np.zeros((10, 2)), np.ones((10, 2)))
    """

    second_order = True

    def __init__(self, acceleration, dim, velocity_dependent=True, params=None):
        if not callable(acceleration):
            raise TypeError(f"acceleration must be callable as acceleration(q, v, weights, t); got {acceleration!r}.")
        self.acceleration = acceleration
        self.position_dim = as_int(dim, "dim", 1)
        self.velocity_dependent = as_bool(velocity_dependent, "velocity_dependent")
        d = self.position_dim
        if params is None:
            def first_order(z, w, t):
                return np.concatenate([z[:, d:], _call(acceleration, z, w, t, d)], axis=1)
        else:
            def first_order(z, w, t, p):
                return np.concatenate([z[:, d:], _call(acceleration, z, w, t, d, p)], axis=1)
        first_order.__name__ = getattr(acceleration, "__name__", "acceleration")
        self._ode = MeanFieldODE(first_order, dim=2 * d, params=params)
        self.params = self._ode.params

    @property
    def dim(self):
        """Dimension of the state, 2d."""
        return 2 * self.position_dim

    @property
    def per_particle(self):
        """True with per-particle parameters."""
        return self.params is not None

    def check_particles(self, x, a):
        """One parameter row per particle of ``x0``."""
        self._ode.check_particles(x, a)

    def field(self, x, a, t, parent=None):
        """``[v, A(q, v)]`` at the states ``x`` (n, 2d)."""
        return MeanFieldField(x, a, self._ode.velocity(x, a, t, parent))

    def positions(self, x):
        """The positions (columns ``0..d-1``) of states ``x`` (a view)."""
        return np.asarray(x)[..., : self.position_dim]

    def velocities(self, x):
        """The velocities (columns ``d..2d-1``) of states ``x`` (a view)."""
        return np.asarray(x)[..., self.position_dim:]

    def state(self, q, v):
        """The state ``[q, v]`` (n, 2d) from positions and velocities (n, d) each."""
        q = np.atleast_2d(np.asarray(q, dtype=np.float64))
        v = np.atleast_2d(np.asarray(v, dtype=np.float64))
        d = self.position_dim
        if q.shape != v.shape or q.shape[1] != d:
            raise ValueError(f"q and v must both have shape (n, {d}); got {q.shape} and {v.shape}.")
        return np.concatenate([q, v], axis=1)

    def settings(self):
        """What defines the problem (what a checkpoint fingerprints)."""
        return {"acceleration": self.acceleration, "dim": self.position_dim,
                "velocity_dependent": self.velocity_dependent, "params": self.params}

    def __repr__(self):
        name = getattr(self.acceleration, "__name__", type(self.acceleration).__name__)
        return f"SecondOrderODE(acceleration={name}, dim={self.position_dim})"


def _call(acceleration, z, w, t, d, *params):
    return acceleration(z[:, :d], z[:, d:], w, t, *params)


# Public home of the classes: checkpoints, run fingerprints and pickles name a class by
# ``__module__.__qualname__``, which stays the module users import it from.
SecondOrderODE.__module__ = "w1flow.second_order"
