"""McKean–Vlasov SDEs: the problem, and the Euler–Maruyama and Milstein schemes.

.. math::  dX^i_t = b\\big(X^i_t;\\ μ_t,\\ t\\big)\\,dt + σ\\big(X^i_t;\\ μ_t,\\ t\\big)\\,dW^i_t,
           \\qquad μ_t = Σ_i a_i δ_{X^i_t},

for a weighted particle ensemble, with independent Brownian motions ``W^i`` taken from one seeded
:class:`~w1flow.brownian.BrownianPath`. The path is a deterministic function of the problem's
``seed`` and of time, the same at every step size: running a scheme at ``dt`` and ``dt/2`` with
the same problem compares two discretisations of the same sample path, which is how strong
errors are measured (:mod:`w1flow.convergence`, ``tests/test_sde.py``).

Orders, on smooth coefficients (Kloeden & Platen 1992, ch. 10; for the particle system of a
McKean–Vlasov SDE, Bossy & Talay 1997 for the weak rate):

=================  ================================  =====================
scheme             strong order                      weak order
=================  ================================  =====================
EulerMaruyama      1/2; 1 with additive noise         1
Milstein           1 (diagonal noise)                 1
=================  ================================  =====================

The deterministic solvers (:class:`~w1flow.Euler`, :class:`~w1flow.RK4`, …) refuse an SDE, and
these refuse a deterministic problem: a run never drops the noise silently.

This module gathers the family (it is where the classes are documented and imported from); the
code is in :mod:`w1flow.problems.sde` (the problem) and :mod:`w1flow.solvers.stochastic` (the
schemes).
"""

from .problems.sde import McKeanVlasovSDE
from .solvers.stochastic import EulerMaruyama, Milstein

__all__ = ["McKeanVlasovSDE", "EulerMaruyama", "Milstein"]
