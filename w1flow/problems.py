"""Problems: what flows.

A problem turns the current particles ``(x, a)`` at time ``t`` into a *field*: an object with a
``velocity`` array of shape (n, d) (and, for W1 flows, the potential, its plan and W1).
Solvers only talk to problems through :meth:`field`.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_points, as_weights
from .potentials.exact import ExactPotential

__all__ = ["W1Flow"]


class W1Flow:
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
    """

    def __init__(self, target, target_weights=None):
        self.target = as_points(target, "target")
        self.target_weights = as_weights(target_weights, self.target.shape[0], "target_weights")

    @property
    def dim(self):
        """Dimension d of the space."""
        return self.target.shape[1]

    def default_potential(self):
        """The oracle used when :func:`~w1flow.simulate` is given none: the exact LP."""
        return ExactPotential()

    def field(self, x, a, t, potential):
        """The potential object at particles ``(x, a)``; its ``velocity`` drives the solvers."""
        return potential(x, a, self.target, self.target_weights, t)

    def __repr__(self):
        m, d = self.target.shape
        return f"W1Flow(target: {m} points in R^{d})"
