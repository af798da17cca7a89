"""The W2 gradient flow toward a fixed data measure (W2-FE, Huang & Malik, arXiv:2406.13619)."""

from __future__ import annotations

from ..lp import DEFAULT_MEMORY_BUDGET, W2Result, barycentric_projection, solve_w2_lp
from .._validation import as_points, as_weights
from .base import Problem
from .mean_field import MeanFieldField

__all__ = ["W2Flow"]


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


# Public home of the classes: checkpoints, run fingerprints and pickles name a class by
# ``__module__.__qualname__``, which stays the module users import it from.
W2Flow.__module__ = "w1flow.problems"
