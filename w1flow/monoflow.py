"""MonoFlow and the JS (GAN) flow on particles: velocities from a learned log density ratio.

.. math::  \\frac{dx}{dt} = h'\\big(\\log r_t(x)\\big)\\, ∇\\log r_t(x),\\qquad r_t = \\frac{p}{q_t},

with ``p`` the data, ``q_t`` the law of the particles and ``h`` increasing (Yi, Zhu & Liu 2023,
ICML, arXiv:2302.01075; ``docs/beyond_w1.md``). ``h = id`` is the KL(q‖p) flow (the
probability-flow ODE of Langevin dynamics), ``h = softplus`` the JS flow of Huang & Zhang
(arXiv:2205.02910; ``σ(log r) ∇ log r = −∇ log(1 − D*)``), and the WGF of any f-divergence
``D_f(p‖q)`` is the MonoFlow with ``h'(log r) = r² f''(r)`` (:mod:`w1flow.divergences`).

On particles the ratio is not known: each field evaluation fits a classifier between the data
and the current particles (:class:`~w1flow.density_ratio.LogRatioEstimator`) and moves the
particles with ``h'(d(x)) ∇d(x)``, ``d`` its logit. No theorem covers the learned-ratio flow: the
monotone decrease of every f-divergence is a property of the exact flow (checked on the 1-D
finite-volume solver, :mod:`w1flow.finite_volume`), not of this one.

This module gathers the family (it is where the classes are documented and imported from); the
code is in :mod:`w1flow.problems.monoflow`.
"""

from .problems.monoflow import JSFlow, MonoFlow

__all__ = ["MonoFlow", "JSFlow"]
