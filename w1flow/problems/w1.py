"""The W1 gradient flow toward a fixed data measure (W1-FE, Malik & Huang, arXiv:2405.16351)."""

from __future__ import annotations

import copy

from .._validation import as_points, as_weights
from ..potentials.exact import ExactPotential
from .base import Problem

__all__ = ["W1Flow"]


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


# Public home of the classes: checkpoints, run fingerprints and pickles name a class by
# ``__module__.__qualname__``, which stays the module users import it from.
W1Flow.__module__ = "w1flow.problems"
