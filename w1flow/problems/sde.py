"""The McKean–Vlasov SDE problem (its schemes: :mod:`w1flow.solvers.stochastic`; both are
exported by :mod:`w1flow.sde`, whose docstring gives the orders).

.. math::  dX^i_t = b\\big(X^i_t;\\ μ_t,\\ t\\big)\\,dt + σ\\big(X^i_t;\\ μ_t,\\ t\\big)\\,dW^i_t,
           \\qquad μ_t = Σ_i a_i δ_{X^i_t},

with independent Brownian motions ``W^i`` taken from one seeded :class:`~w1flow.brownian.BrownianPath`
(the same sample path at every step size).
"""

from __future__ import annotations

import numpy as np

from .._params import check_particle_params
from .._validation import as_int, readonly
from ..brownian import BrownianPath
from .base import Problem
from .mean_field import MeanFieldField, MeanFieldODE

__all__ = ["McKeanVlasovSDE"]

_NOISES = ("diagonal", "general")


class McKeanVlasovSDE(Problem):
    """A McKean–Vlasov SDE for a weighted particle ensemble (see the module docstring).

    Parameters
    ----------
    drift : callable
        ``drift(x, weights, t) -> (n, d)`` (with ``params``: ``drift(x, weights, t, params)``),
        as for :class:`~w1flow.MeanFieldODE`.
    diffusion : callable or float
        ``diffusion(x, weights, t[, params])``: with ``noise="diagonal"`` an array (n, d) (or
        anything that broadcasts to it), component ``k`` of particle ``i`` driven by its own
        ``dW^i_k``; with ``noise="general"`` an array (n, d, m) multiplying ``dW^i`` in ``R^m``.
        A number σ is additive diagonal noise ``σ dW``. The array must have all the axes of its
        shape, each of full size or 1: (n, 1) for one σ per particle, (1, d) for one per
        coordinate, (1, d, m) for one matrix for all; a 1-D array (n,) or (d,) is refused, since
        broadcasting would read (n,) per coordinate when n == d. A number is the one exception.
    noise : {"diagonal", "general"}
        The structure of the noise (see ``diffusion``).
    noise_dim : int, optional
        m, the dimension of each particle's Brownian motion for ``noise="general"`` (required
        there); for diagonal noise it is d.
    diffusion_dx : callable, optional
        ``diffusion_dx(x, weights, t[, params]) -> (n, d)``: the derivative ``∂σ_k/∂x_k`` of
        the diagonal diffusion in the particle's own coordinate, at fixed measure (what
        :class:`Milstein` needs; its dependence through the empirical measure is of order
        ``a_i``, i.e. 1/N, and is left out). Not needed for a constant ``diffusion``. Same shape
        rule as ``diffusion`` (2-D, or a number).
    seed : int
        Seed of the Brownian path; another seed is an independent sample path.
    dim : int, optional
        d; if given, ``simulate`` checks ``x0`` against it.
    params : ndarray or dict of ndarray, optional
        Per-particle parameters, as for :class:`~w1flow.MeanFieldODE`, passed to the drift and
        the diffusion.

    Examples
    --------
    A mean-field Ornstein–Uhlenbeck process, ``dX = −(X − E X) dt + 0.5 dW``:

    >>> from w1flow import simulate
    >>> sde = McKeanVlasovSDE(lambda x, w, t: -(x - w @ x), 0.5, seed=1)
    >>> res = simulate(sde, np.zeros((1000, 1)), 1.0, 2.0**-6, solver=EulerMaruyama())
    """

    stochastic = True

    def __init__(self, drift, diffusion, noise="diagonal", noise_dim=None, diffusion_dx=None, seed=0, dim=None,
                 params=None):
        self._ode = MeanFieldODE(drift, dim=dim, params=params)
        self.drift = drift
        self.dim = self._ode.dim
        if noise not in _NOISES:
            raise ValueError(f"noise must be one of {_NOISES}; got {noise!r}.")
        self.noise = noise
        if callable(diffusion):
            self.diffusion = diffusion
            self.constant_diffusion = None
        else:
            try:
                sigma = np.asarray(diffusion, dtype=np.float64)
            except (TypeError, ValueError):  # a string, a ragged list: refused below, naming diffusion
                sigma = np.asarray(np.nan)
            if noise != "diagonal" or sigma.ndim != 0 or not np.isfinite(sigma):
                raise TypeError(f"diffusion must be callable as diffusion(x, weights, t), or a finite number "
                                f"(additive diagonal noise); got {diffusion!r}.")
            self.diffusion = float(sigma)
            self.constant_diffusion = float(sigma)
        if noise == "general":
            if noise_dim is None:
                raise ValueError("noise='general' needs noise_dim=m, the dimension of each particle's Brownian "
                                 "motion (diffusion returns shape (n, d, m)).")
            self.noise_dim = as_int(noise_dim, "noise_dim", 1)
        else:
            if noise_dim is not None:
                raise ValueError("noise_dim is only for noise='general'; diagonal noise has one Brownian "
                                 "component per coordinate.")
            self.noise_dim = None
        if diffusion_dx is not None and not callable(diffusion_dx):
            raise TypeError(f"diffusion_dx must be callable as diffusion_dx(x, weights, t); got {diffusion_dx!r}.")
        self.diffusion_dx = diffusion_dx
        self.seed = as_int(seed, "seed", 0)
        self.params = self._ode.params
        self._path = None

    # -- problem interface ------------------------------------------------------------------------
    @property
    def per_particle(self):
        """True with per-particle parameters (see :class:`~w1flow.MeanFieldODE`)."""
        return self.params is not None

    def check_particles(self, x, a):
        """One parameter row per particle of ``x0``."""
        check_particle_params(self.params, x.shape[0])

    def field(self, x, a, t, parent=None):
        """The drift at ``(x, a, t)`` (``velocity``) and the diffusion there (``diffusion``)."""
        v = self._ode.velocity(x, a, t, parent)
        return MeanFieldField(x, a, v, diffusion=self.sigma(x, a, t, parent))

    def sigma(self, x, a, t, parent=None):
        """The diffusion at ``(x, a, t)``: shape (n, d) (diagonal) or (n, d, m) (general)."""
        n, d = x.shape
        if self.constant_diffusion is not None:
            return np.full((n, d), self.constant_diffusion)
        s = self._call(self.diffusion, x, a, t, parent)
        shape = (n, d) if self.noise == "diagonal" else (n, d, self.noise_dim)
        _check_rank(s, len(shape), "diffusion", self.noise)
        try:
            return np.broadcast_to(s, shape)
        except ValueError:
            raise ValueError(f"diffusion(x, weights, t) must return an array of shape {shape} (noise="
                             f"{self.noise!r}) or one that broadcasts to it; got shape {s.shape}.") from None

    def sigma_dx(self, x, a, t, parent=None):
        """``∂σ_k/∂x_k`` (n, d) for diagonal noise (zero for constant diffusion)."""
        if self.constant_diffusion is not None:
            return np.zeros(x.shape)
        if self.noise != "diagonal" or self.diffusion_dx is None:
            raise TypeError("Milstein needs diagonal noise and diffusion_dx=... (the derivative ∂σ_k/∂x_k of the "
                            "diffusion in the particle's own coordinate); give it to McKeanVlasovSDE, or use "
                            "EulerMaruyama().")
        s = self._call(self.diffusion_dx, x, a, t, parent)
        _check_rank(s, 2, "diffusion_dx", self.noise)
        try:
            return np.broadcast_to(s, x.shape)
        except ValueError:
            raise ValueError(f"diffusion_dx(x, weights, t) must return an array of shape {x.shape}; got shape "
                             f"{s.shape}.") from None

    def _call(self, fn, x, a, t, parent):
        if self.params is None:
            out = fn(readonly(x), readonly(a), t)
        else:
            out = fn(readonly(x), readonly(a), t, self._ode.params_for(parent))
        return np.asarray(out, dtype=np.float64)

    def brownian(self, n, d):
        """The problem's Brownian path for ``n`` particles in ``R^d`` (one per shape and seed)."""
        shape = (n, d if self.noise == "diagonal" else self.noise_dim)
        if self._path is None or self._path.shape != shape:
            self._path = BrownianPath(shape, seed=self.seed)
        return self._path

    def increment(self, t0, t1, n, d):
        """``W(t1) − W(t0)`` for every particle: shape (n, d) (diagonal) or (n, m) (general)."""
        return self.brownian(n, d).increment(t0, t1)

    def settings(self):
        """What defines the SDE (a checkpoint fingerprints it)."""
        return {"drift": self.drift, "diffusion": self.diffusion, "noise": self.noise, "noise_dim": self.noise_dim,
                "diffusion_dx": self.diffusion_dx, "seed": self.seed, "dim": self.dim, "params": self.params}

    def with_seed(self, seed):
        """The same SDE on another sample path (replicates)."""
        twin = McKeanVlasovSDE(self.drift, self.diffusion, self.noise, self.noise_dim, self.diffusion_dx, seed,
                               self.dim, self.params)
        return twin

    def __repr__(self):
        name = getattr(self.drift, "__name__", type(self.drift).__name__)
        return f"McKeanVlasovSDE(drift={name}, noise={self.noise!r}, seed={self.seed})"


def _check_rank(s, ndim, name, noise):
    """Refuse an array of fewer dimensions than the documented shape (other than a number).

    Why: numpy broadcasting aligns trailing axes, so a per-particle vector of shape (n,) would be
    read as one σ per coordinate when n == d (a silently transposed σ) and fail otherwise; the
    rank rule makes the reading unambiguous whatever n and d are.
    """
    if s.ndim == 0 or s.ndim == ndim:
        return
    if noise == "diagonal":
        fix = "return shape (n, 1) for one value per particle, (1, d) for one per coordinate, or (n, d)"
    else:
        fix = "return shape (n, d, m), or (1, d, m) for the same matrix for every particle"
    raise ValueError(f"{name}(x, weights, t) returned an array of shape {s.shape}, which is ambiguous (one value "
                     f"per particle or per coordinate?); {fix}.")


# Public home of the classes: checkpoints, run fingerprints and pickles name a class by
# ``__module__.__qualname__``, which stays the module users import it from.
McKeanVlasovSDE.__module__ = "w1flow.sde"
