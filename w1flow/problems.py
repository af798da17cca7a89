"""Problems: what flows.

A problem turns the current particles ``(x, a)`` at time ``t`` into a *field*: an object with a
``velocity`` array of shape (n, d), a ``status`` and a ``message`` (for W1 flows, the potential
object, with its plan and W1). Solvers only talk to problems through ``field(x, a, t)`` (via
:class:`~w1flow.solvers.SolverContext`, which counts and times the calls).

A problem owns how its field is estimated: :class:`W1Flow` holds a potential oracle
(:class:`~w1flow.ExactPotential` unless told otherwise); ``simulate(..., potential=...)`` runs
one call with another oracle through :meth:`Problem.with_potential`, which returns a copy and
leaves the user's problem unchanged. :class:`MeanFieldODE` and :class:`W2Flow` compute their
fields themselves and refuse an oracle.
"""

from __future__ import annotations

import copy

import numpy as np

from .lp import DEFAULT_MEMORY_BUDGET, W2Result, barycentric_projection, solve_w2_lp
from ._validation import as_int, as_points, as_weights, readonly
from ._params import (as_particle_params, check_particle_params, readonly_params, _describe_params,
                      _n_params)
from .status import is_ok
from .potentials.exact import ExactPotential

__all__ = ["Problem", "W1Flow", "MeanFieldODE", "W2Flow", "MeanFieldField"]

_UNBOUND = object()


class Problem:
    """Interface of a problem: what flows, and how its field is computed.

    Attributes
    ----------
    target, target_weights : ndarray or None
        The data measure, for problems that have one (W1 is then recorded against it).
    dim : int or None
        Dimension of the space, when the problem fixes it.
    potential : PotentialOracle or None
        The oracle the problem estimates its field with (None: it needs none).
    provides_plan : bool
        True when :meth:`field` returns a potential with an optimal transport plan
        (``plan_rows``, ``split()``, ``rays()``): what :class:`~w1flow.CappedEuler` needs.
    decay_rate : float or None
        The largest rate (1/time) at which the field pulls particles back, when the problem
        knows it (W2Flow: 1); solvers refuse a step size outside their stability interval
        for it. None: unknown.
    """

    target = None
    target_weights = None
    dim = None
    potential = None
    provides_plan = False
    decay_rate = None
    #: True when the field depends on per-particle parameters: the driver then calls
    #: ``field(x, a, t, parent=...)`` with the index in ``x0`` of each particle of ``x``.
    per_particle = False
    #: True for SDEs (:class:`~w1flow.sde.McKeanVlasovSDE`): only stochastic solvers run them.
    stochastic = False
    #: The name of the flow's own functional when it is not W1 (``"W2"``, an f-divergence
    #: estimate), recorded at save points in ``FlowResult.functional``; None: W1 only.
    functional_name = None

    def functional(self, field):
        """The flow's own functional at the state of ``field`` (see :attr:`functional_name`)."""
        return None

    def check_particles(self, x, a):
        """Check the initial particles against the problem (e.g. one parameter row each);
        raise ``ValueError`` naming the argument. The default accepts any cloud."""

    def field(self, x, a, t):  # pragma: no cover - interface
        """The field at particles ``(x, a)`` (weights summing to 1) and time ``t``."""
        raise NotImplementedError

    def settings(self):
        """What defines the problem (its data, drift, options; not its oracle): what a checkpoint
        fingerprints. The default is every public attribute except ``potential``."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k != "potential"}

    def with_potential(self, potential):
        """A copy of the problem that estimates its field with ``potential`` (None: this problem).

        Problems without an oracle refuse one, rather than ignore it.
        """
        if potential is None:
            return self
        raise TypeError(
            f"{type(self).__name__} computes its own field and takes no potential oracle; "
            f"drop potential={potential!r}."
        )


class W1Flow(Problem):
    """The Wasserstein-1 gradient flow toward a fixed data measure.

    .. math::  \\frac{dY_t}{dt} = −∇φ_{μ_t}(Y_t),\\qquad μ_t = \\mathrm{Law}(Y_t),

    where φ_μ is the Kantorovich potential from μ to the data
    ``μ_d = Σ_j b_j δ_{y_j}`` (high on the particles, low on the data).

    Parameters
    ----------
    target : array_like, shape (m, d) or (m,)
        Data points y_j (a 1-D array is m points on the line).
    target_weights : array_like, shape (m,), optional
        Non-negative data weights b_j; uniform by default; normalised to total mass 1.
    potential : PotentialOracle, optional
        How φ is estimated: :class:`~w1flow.ExactPotential` (the default),
        :class:`~w1flow.EntropicPotential`, :class:`~w1flow.QuantilePotential` (1-D) or
        :class:`~w1flow.CriticPotential`. Stateful oracles (a warm-started critic) keep their
        state between runs of this problem.
    """

    def __init__(self, target, target_weights=None, potential=None):
        self.target = as_points(target, "target")
        self.target_weights = as_weights(target_weights, self.target.shape[0], "target_weights")
        if potential is None:
            potential = ExactPotential()
        elif not callable(potential):
            raise TypeError(f"potential must be a potential oracle such as ExactPotential(); got {potential!r}.")
        self.potential = potential

    @property
    def dim(self):
        """Dimension d of the space."""
        return self.target.shape[1]

    @property
    def provides_plan(self):
        """True when the oracle returns exact potentials with an optimal plan."""
        return bool(getattr(self.potential, "provides_plan", False))

    def with_potential(self, potential):
        """A copy of this flow with another oracle (the data arrays are shared, not copied)."""
        if potential is None or potential is self.potential:
            return self
        if not callable(potential):
            raise TypeError(f"potential must be a potential oracle such as ExactPotential(); got {potential!r}.")
        twin = copy.copy(self)
        twin.potential = potential
        return twin

    def field(self, x, a, t):
        """The potential object at particles ``(x, a)``; its ``velocity`` drives the solvers."""
        return self.potential(x, a, self.target, self.target_weights, t)

    def __repr__(self):
        m, d = self.target.shape
        return f"W1Flow(target: {m} points in R^{d}, potential={self.potential!r})"


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
        if parent is None or (parent.shape[0] == _n_params(self.params)
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
            if _n_params(p) != x.shape[0]:
                raise ValueError(f"params have {_n_params(p)} rows but there are {x.shape[0]} particles; "
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
        params = "" if self.params is None else f", params={_describe_params(self.params)}"
        return f"MeanFieldODE(drift={name}{dim}{params})"


class W2Flow(Problem):
    """The Wasserstein-2 gradient flow toward a fixed data measure (W2-FE, Huang & Malik).

    .. math::  \\frac{dY_t}{dt} = T_{μ_t}(Y_t) − Y_t,

    with ``T_μ`` the barycentric projection of an exact optimal plan G for the cost
    ``|x − y|²``: ``T(x_i) = Σ_j G_ij y_j / a_i``. For ``n = m`` and uniform weights G is a
    permutation; the continuous flow is ``Y_t = e^{−t} Y_0 + (1 − e^{−t}) T_0(Y_0)`` and forward
    Euler with ``0 < Δt <= 1`` contracts W2 by exactly ``1 − Δt`` per step. Zero-weight particles
    (tracers) move toward the data point of their c-transform argmin. The field comes from its
    own exact W2 LP (the one :func:`w1flow.metrics.w2` solves); it takes no potential oracle.

    Parameters
    ----------
    target : array_like, shape (m, d) or (m,)
        Data points y_j.
    target_weights : array_like, shape (m,), optional
        Data weights b_j (uniform by default), normalised to total mass 1.
    max_memory : float or None
        Budget in bytes for the dense cost and plan matrices.
    """

    #: The flow pulls each particle toward its target at rate 1: dY/dt = −(Y − T).
    decay_rate = 1.0
    #: W2 flows record the exact W2 to the data (their field's own LP) at save points.
    functional_name = "W2"

    def functional(self, field):
        """The exact W2 to the data at the field's state (from the field's LP)."""
        return float(field.w2)

    def __init__(self, target, target_weights=None, max_memory=None):
        self.target = as_points(target, "target")
        self.target_weights = as_weights(target_weights, self.target.shape[0], "target_weights")
        self.max_memory = DEFAULT_MEMORY_BUDGET if max_memory is None else max_memory

    @property
    def dim(self):
        """Dimension d of the space."""
        return self.target.shape[1]

    def plan(self, x, a):
        """Exact W2 plan between ``(x, a)`` and the data: ``(G, log)`` (see :func:`~w1flow.lp.solve_w2_lp`)."""
        lp = solve_w2_lp(x, a, self.target, self.target_weights, self.max_memory)
        return lp.plan, lp.log

    def target_map(self, x, a):
        """Barycentric projection ``T(x_i) = Σ_j G_ij y_j / a_i`` of the exact W2 plan.

        Returns
        -------
        T : ndarray, shape (n, d)
        G : ndarray, shape (n, m)
        log : dict
            POT's log (``result_code``, ``u``, ``v``, ``cost``) and ``cost_matrix``.
        """
        x = as_points(x, "x", dim=self.dim)
        a = as_weights(a, x.shape[0], "a")
        y = self.target
        G, log = self.plan(x, a)
        return barycentric_projection(G, a, y, log["v"], cost=log["cost_matrix"]), G, log

    def field(self, x, a, t):
        """Velocity ``T(x) − x`` at ``(x, a)``, with the plan ``G``, ``w2`` and the LP status."""
        T, G, log = self.target_map(x, a)
        code = int(log["result_code"])
        status = "success" if code == 1 else "lp_failed"
        message = "optimal" if code == 1 else (
            f"exact W2 LP not solved to optimality (POT result_code={code}): {log.get('warning')}"
        )
        w2 = W2Result(plan=G, log=log).w2
        return MeanFieldField(x, a, T - x, status=status, message=message, plan=G, target_points=T,
                              w2=w2)

    def __repr__(self):
        m, d = self.target.shape
        return f"W2Flow(target: {m} points in R^{d})"

