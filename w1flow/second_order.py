"""Second-order mean-field systems: positions and velocities, and the symplectic-type schemes.

.. math::  \\dot q^i = v^i,\\qquad \\dot v^i = A\\big(q^i, v^i;\\ μ_t,\\ t\\big),\\qquad
           μ_t = Σ_i a_i δ_{(q^i_t, v^i_t)},

(swarms with Morse attraction–repulsion, Cucker–Smale flocking, particles in a mean-field
potential). The state of particle i is one row ``[q^i, v^i]`` of length 2d: positions in columns
``0..d-1``, velocities in ``d..2d-1`` (:meth:`SecondOrderODE.positions`,
:meth:`SecondOrderODE.velocities`). Any solver runs it as a first-order ODE on that state
(:class:`~w1flow.RK4` and the rest); these two use its structure:

* :class:`SymplecticEuler` (semi-implicit Euler, kick then drift), order 1, one acceleration
  per step; symplectic for forces ``A(q)``: the energy error of an oscillator stays bounded
  instead of growing like forward Euler's.
* :class:`VelocityVerlet`, order 2, one acceleration per step when it does not depend on the
  velocities (``velocity_dependent=False``; the end-of-step force is handed to the next step),
  three when it does (a predicted end velocity keeps order 2; without it the velocity
  dependence drops the scheme to order 1).

Metrics and plots mix units if given the whole state: select coordinates, e.g.
``w1flow.metrics.w1(x, y, coords=range(d))`` and ``plot_snapshots(res, coords=(0, 1))``.

This module gathers the family (it is where the classes are documented and imported from); the
code is in :mod:`w1flow.problems.second_order` (the problem) and :mod:`w1flow.solvers.second_order`
(the schemes).
"""

from .problems.second_order import SecondOrderODE
from .solvers.second_order import SymplecticEuler, VelocityVerlet

__all__ = ["SecondOrderODE", "SymplecticEuler", "VelocityVerlet"]
