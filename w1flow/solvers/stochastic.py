"""SDE schemes for :class:`~w1flow.sde.McKeanVlasovSDE`: Euler–Maruyama and Milstein (orders in
the docstring of :mod:`w1flow.sde`)."""

from __future__ import annotations

import numpy as np

from .base import Solver, StepResult

__all__ = ["EulerMaruyama", "Milstein"]


class EulerMaruyama(Solver):
    """Euler–Maruyama: ``X_{n+1} = X_n + b(X_n, μ_n, t_n) Δt + σ(X_n, μ_n, t_n) ΔW_n``.

    Strong order 1/2 (1 when the diffusion does not depend on the state: additive noise), weak
    order 1. One drift and one diffusion evaluation per step. ``ΔW`` comes from the problem's
    Brownian path, so runs at different ``dt`` share their sample path.
    """

    order = 0.5
    strong_order = 0.5
    weak_order = 1.0
    name = "euler_maruyama"
    stochastic = True

    def step(self, ctx, t, dt, x, a, state):
        """One step from ``t`` to ``t + dt``."""
        f = ctx.field(x, a, t)
        if not f.success:
            return StepResult.failed(x, a, f)
        n, d = x.shape
        dw = ctx.problem.increment(t, t + dt, n, d)
        return StepResult(x + dt * f.velocity + _noise(f.diffusion, dw) + self._correction(ctx, t, dt, x, a, f, dw), a)

    def _correction(self, ctx, t, dt, x, a, f, dw):
        """What a higher-order scheme adds to the Euler–Maruyama step (nothing here)."""
        return 0.0


class Milstein(EulerMaruyama):
    """Milstein's scheme for diagonal noise: Euler–Maruyama plus ``½ σ ∂σ (ΔW² − Δt)``.

    .. math::  X^k_{n+1} = X^k_n + b^k Δt + σ^k ΔW^k + \\tfrac12 σ^k \\,∂_kσ^k\\,\\big((ΔW^k)^2 − Δt\\big).

    Strong order 1 and weak order 1 for diagonal noise (no Lévy areas needed). The problem must
    give ``diffusion_dx`` (or a constant diffusion, where it is Euler–Maruyama).
    """

    order = 1.0
    strong_order = 1.0
    weak_order = 1.0
    name = "milstein"

    def init(self, ctx, t0, dt0, x, a):
        """Refuse a problem without the derivative of its diffusion, before any work."""
        if ctx.problem.noise != "diagonal":
            raise TypeError("Milstein supports noise='diagonal' only (general noise needs Lévy areas); use "
                            "EulerMaruyama().")
        ctx.problem.sigma_dx(x, a, t0, ctx.parent)  # raises with the fix if there is none
        return super().init(ctx, t0, dt0, x, a)

    def _correction(self, ctx, t, dt, x, a, f, dw):
        ds = ctx.problem.sigma_dx(x, a, t, ctx.parent)
        return 0.5 * f.diffusion * ds * (dw * dw - dt)


def _noise(sigma, dw):
    if sigma.ndim == 2:  # diagonal
        return sigma * dw
    return np.einsum("ndm,nm->nd", sigma, dw)


# Public home of the classes: checkpoints, run fingerprints and pickles name a class by
# ``__module__.__qualname__``, which stays the module users import it from.
EulerMaruyama.__module__ = "w1flow.sde"
Milstein.__module__ = "w1flow.sde"
