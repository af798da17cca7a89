"""Oracles for flows other than W1, in the potential-oracle interface: W2 and MonoFlow fields.

They return potential objects (``−∇φ`` is the velocity, φ high where particles should leave), so
the forward-Euler generator trainer (:func:`w1flow.generative.train`) runs **W2-FE** and the
**MonoFlow/GAN** flows with the same code as W1-FE, and :class:`~w1flow.MonoFlow` runs particles:

* :class:`W2Potential` — the exact W2 LP on the batch: velocity ``T(x_i) − x_i``, T the
  barycentric projection of the optimal plan for ``|x − y|²`` (W2-FE; with K = 1 the trainer's
  ``"wgan"`` step is W2-GAN's generator step). Off the particles ``∇φ(z) = z − y_{j*(z)}`` (the
  c-transform's argmin). ``.w1`` holds the W2 value of the batch (the trainer logs it as the
  oracle's own value).
* :class:`RatioPotential` — ``φ = −h(log r)`` from a fitted log density ratio
  (:class:`~w1flow.density_ratio.LogRatioEstimator`): velocity ``h'(log r) ∇ log r``. ``.w1`` is
  NaN (no divergence estimate is claimed).
"""

from __future__ import annotations

import numpy as np

from ..lp import DEFAULT_MEMORY_BUDGET, barycentric_projection, solve_w2_lp
from ..lp.w2 import c_transform_argmin_sq
from .base import Potential, PotentialOracle, validate_measures

__all__ = ["W2Potential", "RatioPotential", "W2KantorovichPotential", "LogRatioPotential"]


class W2KantorovichPotential(Potential):
    """The W2 potential of a batch: ``φ(z) = min_j (|z − y_j|² − v_j) / 2``, velocity ``T − x``."""

    def __init__(self, x, a, y, G, v, w2, status, message):
        self.x, self.a, self.y, self.plan = x, a, y, G
        self._v = np.asarray(v, dtype=np.float64)
        self.w1 = w2  # this oracle's functional: W2 of the batch
        self.status, self.message = status, message
        V = barycentric_projection(G, a, y, self._v, x=x) - x
        V.setflags(write=False)
        self._velocity = V

    def _argmin(self, z):
        return c_transform_argmin_sq(z, self.y, self._v)

    def value(self, z):
        d2 = np.sum((z[:, None, :] - self.y[None, :, :]) ** 2, axis=2)
        return 0.5 * np.min(d2 - self._v[None, :], axis=1)

    def gradient(self, z):
        return z - self.y[self._argmin(z)]


class W2Potential(PotentialOracle):
    """Exact W2 potentials (POT's network simplex on the squared-distance cost)."""

    #: The trainer takes the velocity at the batch's own particles (barycentric projection).
    particle_velocity = True

    def __init__(self, max_memory=DEFAULT_MEMORY_BUDGET):
        super().__init__()
        self.max_memory = max_memory

    def __call__(self, x, a, y, b, t=0.0):
        x, a, y, b = validate_measures(x, a, y, b)
        lp = solve_w2_lp(x, a, y, b, self.max_memory)
        self.counters["evaluations"] += 1
        self.counters["lp_solves"] += 1
        ok = lp.success
        return W2KantorovichPotential(x, a, y, lp.plan, lp.v, lp.w2, "optimal" if ok else "lp_failed",
                                      "optimal" if ok else f"W2 LP not optimal (POT result_code={lp.result_code})")


class LogRatioPotential(Potential):
    """``φ = −h(d)`` for a fitted logit ``d ≈ log p/q``; ``−∇φ = h'(d) ∇d``."""

    def __init__(self, x, a, log_ratio, h, h_prime):
        self.x, self.a, self.log_ratio = x, a, log_ratio
        self._h, self._h_prime = h, h_prime
        self.status = "converged" if log_ratio.success else "ratio_failed"
        self.message = log_ratio.message
        self.w1 = float("nan")

    def value(self, z):
        if self._h is None:
            raise NotImplementedError("φ = −h(log r) needs h itself; this MonoFlow was given only h'.")
        return -np.asarray(self._h(self.log_ratio(z)), dtype=np.float64)

    def gradient(self, z):
        s = np.asarray(self.log_ratio(z), dtype=np.float64)
        return -np.asarray(self._h_prime(s), dtype=np.float64)[:, None] * np.asarray(self.log_ratio.grad(z))


class RatioPotential(PotentialOracle):
    """MonoFlow fields ``h'(log r) ∇ log r`` from a log-ratio classifier refitted at each call.

    Parameters
    ----------
    h : str or callable
        A name of :mod:`w1flow.divergences` (``"reverse_kl"``, ``"js"``, ``"vanilla_gan"``, …), or a
        callable ``h'(s)`` (positive).
    ratio : LogRatioEstimator, optional
        The classifier (default ``LogRatioEstimator()``).
    """

    def __init__(self, h="reverse_kl", ratio=None):
        super().__init__()
        from ..density_ratio import LogRatioEstimator

        self.counters["critic_updates"] = 0
        self.h = h
        self.ratio = LogRatioEstimator() if ratio is None else ratio
        if not hasattr(self.ratio, "fit"):
            raise TypeError(f"ratio must be an estimator with fit(x, a, y, b), e.g. LogRatioEstimator(); got {ratio!r}.")
        self.h_name, self._h, self._h_prime, self.f = _rescaling(h)

    def __call__(self, x, a, y, b, t=0.0):
        x, a, y, b = validate_measures(x, a, y, b)
        lr = self.ratio.fit(x, a, y, b)
        self.counters["evaluations"] += 1
        self.counters["critic_updates"] += int(getattr(lr, "n_iter", 0))
        return LogRatioPotential(x, a, lr, self._h, self._h_prime)

    def settings(self):
        """h and the estimator."""
        return {"h": self.h, "ratio": self.ratio}


def _rescaling(h):
    """``(name, h, h', f)``: from a table name or entry (:mod:`w1flow.divergences`), a pair
    ``(h, h')``, or a callable ``h'`` (f is None when unknown)."""
    if callable(h):
        return getattr(h, "__name__", "custom"), None, h, None
    from ..divergences import monoflow_h

    entry = monoflow_h(h)
    return entry.name, entry.h, entry.dh, entry.f
