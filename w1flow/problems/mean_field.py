"""Mean-field (McKean–Vlasov) ODEs, and the field value object of the problems without an oracle.

:class:`MeanFieldODE` and :class:`~w1flow.W2Flow` compute their fields themselves (a
:class:`MeanFieldField`) and refuse an oracle.
"""

from __future__ import annotations

import numpy as np

from .._params import as_particle_params, check_particle_params, describe_params, n_params, readonly_params
from .._validation import as_int, readonly
from ..status import is_ok
from .base import Problem

__all__ = ["MeanFieldODE", "MeanFieldField"]

_UNBOUND = object()


class MeanFieldField:
    """The field of a :class:`MeanFieldODE` or :class:`W2Flow` at ``(x, a, t)``: a small value object.

    Attributes
    ----------
    x, a : ndarray
        Particles and weights the field was evaluated at.
    velocity : ndarray, shape (n, d)
        The drift at the particles.
    success : bool
        True unless the field could not be computed (a :class:`MeanFieldODE` always succeeds).
    status, message : str
        ``"success"`` (or a failure code) and a human-readable explanation.
    """

    def __init__(self, x, a, velocity, status="success", message="the drift was evaluated", **extra):
        self.x, self.a, self.velocity = x, a, velocity
        self.status, self.message = status, message
        self.__dict__.update(extra)

    @property
    def success(self):
        """True unless the field could not be computed (:func:`w1flow.status.is_ok`)."""
        return is_ok(self.status)

    def __repr__(self):
        n, d = self.velocity.shape
        return f"{type(self).__name__}(status={self.status!r}, {n} particles in R^{d})"


class MeanFieldODE(Problem):
    """A general mean-field (McKean–Vlasov) ODE for a weighted particle ensemble.

    .. math::  \\frac{dY^i_t}{dt} = b\\big(Y^i_t;\\ μ_t,\\ t,\\ p_i\\big),\\qquad μ_t = Σ_i a_i δ_{Y^i_t},

    where the drift may depend on the whole ensemble and on per-particle parameters ``p_i``
    (natural frequencies, particle types). There is no data measure, so
    :func:`~w1flow.simulate` records no W1 history, and no potential oracle is used.

    Parameters
    ----------
    drift : callable
        ``drift(x, weights, t) -> ndarray (n, d)``: the velocity of every particle, given all
        positions ``x`` (n, d), their weights (n,) (summing to 1) and the time ``t``; with
        ``params``, ``drift(x, weights, t, params)``. ``x``, ``weights`` and ``params`` are
        read-only views (no copies): a drift that writes into them raises ``ValueError``
        rather than change the solution.
    dim : int, optional
        Dimension d; if given, ``simulate`` checks ``x0`` against it.
    params : ndarray or dict of ndarray, optional
        Per-particle parameters, in the order of ``x0``: an array of shape (n, ...) or a dict
        of such arrays (named fields, e.g. ``{"omega": ω, "kind": types}``). The drift
        receives them in the same form, with row ``i`` belonging to particle ``i`` of the
        ``x`` it is given: they travel with the particles (indexed through the run's parent
        map, so they follow splitting too), are stored in the :class:`~w1flow.FlowResult`
        (``res.params``, ``res.params_at(k)``), saved by :meth:`~w1flow.FlowResult.save`,
        and fingerprinted by checkpoints (a resumed run must have the same parameters).

    Examples
    --------
    Attraction to the ensemble mean, ``dY = −(Y − E[Y]) dt``:

    >>> prob = MeanFieldODE(lambda x, w, t: -(x - w @ x))

    Kuramoto oscillators with their natural frequencies as parameters:

    >>> from w1flow.interactions import KuramotoCoupling
    >>> coupling = KuramotoCoupling(2.0)
    >>> omega = np.linspace(-1.0, 1.0, 50)
    >>> prob = MeanFieldODE(lambda th, w, t, p: p["omega"][:, None] + coupling(th, w, t),
    ...                     params={"omega": omega})
    """

    def __init__(self, drift, dim=None, params=None):
        if not callable(drift):
            raise TypeError(f"drift must be callable as drift(x, weights, t); got {drift!r}.")
        self.drift = drift
        self.dim = None if dim is None else as_int(dim, "dim", 1)
        self.params = as_particle_params(params)
        self._bound = (_UNBOUND, None)  # (parent map, the params indexed by it)

    @property
    def per_particle(self):
        """True when the drift takes per-particle parameters (the driver then passes the map
        from the current particles to ``x0``)."""
        return self.params is not None

    def check_particles(self, x, a):
        """Refuse parameters that do not have one row per particle of ``x0``."""
        check_particle_params(self.params, x.shape[0])

    def params_for(self, parent):
        """The parameters of the particles whose indices in ``x0`` are ``parent`` (None: all of
        ``x0``, in order), read-only."""
        if self.params is None:
            return None
        last, bound = self._bound
        if parent is last:
            return bound
        if parent is None or (parent.shape[0] == n_params(self.params)
                              and np.array_equal(parent, np.arange(parent.shape[0]))):
            bound = readonly_params(self.params, None)
        else:
            bound = readonly_params(self.params, parent)
        self._bound = (parent, bound)
        return bound

    def velocity(self, x, a, t, parent=None):
        """The drift at ``(x, a, t)`` as a float64 array of shape (n, d) (shape-checked);
        ``parent`` maps the particles of ``x`` to ``x0`` (for the parameters)."""
        if self.params is None:
            v = self.drift(readonly(x), readonly(a), t)
        else:
            p = self.params_for(parent)
            if n_params(p) != x.shape[0]:
                raise ValueError(f"params have {n_params(p)} rows but there are {x.shape[0]} particles; "
                                 "give one row per particle of x0.")
            v = self.drift(readonly(x), readonly(a), t, p)
        v = np.asarray(v, dtype=np.float64)
        if v.shape != x.shape:
            if v.ndim == 1 and x.shape[1] == 1 and v.shape[0] == x.shape[0]:
                v = v.reshape(-1, 1)
            else:
                raise ValueError(
                    f"drift(x, weights, t) must return an array of shape {x.shape} like x; "
                    f"got shape {v.shape}."
                )
        return v

    def field(self, x, a, t, parent=None):
        """The field at ``(x, a, t)``: the drift, shape-checked."""
        return MeanFieldField(x, a, self.velocity(x, a, t, parent))

    def settings(self):
        """The drift, the dimension and the parameters (what a checkpoint fingerprints)."""
        return {"drift": self.drift, "dim": self.dim, "params": self.params}

    def __repr__(self):
        name = getattr(self.drift, "__name__", type(self.drift).__name__)
        dim = "" if self.dim is None else f", dim={self.dim}"
        params = "" if self.params is None else f", params={describe_params(self.params)}"
        return f"MeanFieldODE(drift={name}{dim}{params})"


# Public home of the classes: checkpoints, run fingerprints and pickles name a class by
# ``__module__.__qualname__``, which stays the module users import it from.
MeanFieldField.__module__ = "w1flow.problems"
MeanFieldODE.__module__ = "w1flow.problems"
