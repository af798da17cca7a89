"""MonoFlow and the JS (GAN) flow on particles: velocities from a learned log density ratio.

.. math::  \\frac{dx}{dt} = h'\\big(\\log r_t(x)\\big)\\, ∇\\log r_t(x),\\qquad r_t = \\frac{p}{q_t},

with ``p`` the data, ``q_t`` the law of the particles and ``h`` increasing (Yi, Zhu & Liu 2023,
ICML; ``docs/beyond_w1.md``). ``h = id`` is the KL(q‖p) flow (the
probability-flow ODE of Langevin dynamics), ``h = softplus`` the JS flow of Huang & Zhang
(``σ(log r) ∇ log r = −∇ log(1 − D*)``), and the WGF of any f-divergence ``D_f(p‖q)`` is the
MonoFlow with ``h'(log r) = r² f''(r)`` (:mod:`w1flow.divergences`).

On particles the ratio is not known: each field evaluation fits a classifier between the data
and the current particles (:class:`~w1flow.density_ratio.LogRatioEstimator`) and moves the
particles with ``h'(d(x)) ∇d(x)``, ``d`` its logit. No theorem covers the learned-ratio flow: the
monotone decrease of every f-divergence is a property of the exact flow (checked on the 1-D
finite-volume solver, :mod:`w1flow.finite_volume`), not of this one.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_points, as_weights
from .density_ratio import LogRatioEstimator
from .problems import MeanFieldField, Problem

__all__ = ["MonoFlow", "JSFlow"]


def _rescaling(h):
    """``(name, h')`` from a table name (:func:`w1flow.divergences.monoflow_h`) or a callable h'."""
    if callable(h):
        return getattr(h, "__name__", "custom"), h
    from .divergences import monoflow_h

    entry = monoflow_h(h)
    return entry.name, entry.h_prime


class MonoFlow(Problem):
    """Particles flowing with ``h'(log r) ∇ log r`` toward a fixed data measure.

    Parameters
    ----------
    target : array_like, shape (m, d)
        Data points.
    h : str or callable
        A name of the table in :mod:`w1flow.divergences` (``"reverse_kl"``: h = id, ``"js"``,
        ``"vanilla"``, ``"forward_kl"``, ``"pearson"``, ``"hellinger"``, ``"non_saturating"``, …),
        or a callable ``h'(s)`` (vectorised, positive: the derivative of an increasing h).
    target_weights : array_like, optional
        Data weights (uniform by default).
    ratio : LogRatioEstimator, optional
        How ``log r`` is estimated (default: ``LogRatioEstimator()``); anything with
        ``fit(x, a, y, b)`` returning an object that is callable on points, has ``grad``,
        ``status`` and ``message``.
    """

    def __init__(self, target, h="reverse_kl", target_weights=None, ratio=None):
        self.target = as_points(target, "target")
        self.target_weights = as_weights(target_weights, self.target.shape[0], "target_weights")
        self.h_name, self.h_prime = _rescaling(h)
        self.h = h
        self.ratio = LogRatioEstimator() if ratio is None else ratio
        if not hasattr(self.ratio, "fit"):
            raise TypeError(f"ratio must be an estimator with fit(x, a, y, b), e.g. LogRatioEstimator(); got {ratio!r}.")

    @property
    def dim(self):
        """Dimension d of the space."""
        return self.target.shape[1]

    def field(self, x, a, t):
        """Fit ``log r`` between the data and the particles, and move with ``h'(d) ∇d``; the field
        carries the fitted ratio (``log_ratio``)."""
        lr = self.ratio.fit(x, a, self.target, self.target_weights)
        if not getattr(lr, "success", lr.status == "converged"):
            return MeanFieldField(x, a, np.zeros_like(x), status="ratio_failed", message=lr.message, log_ratio=lr)
        s = np.asarray(lr(x), dtype=np.float64)
        g = np.asarray(lr.grad(x), dtype=np.float64)
        scale = np.asarray(self.h_prime(s), dtype=np.float64)
        return MeanFieldField(x, a, scale[:, None] * g, status="success", message="the log ratio was fitted",
                              log_ratio=lr)

    def settings(self):
        """The data, h and the estimator (what a checkpoint fingerprints)."""
        return {"target": self.target, "target_weights": self.target_weights, "h": self.h, "ratio": self.ratio}

    def __repr__(self):
        m, d = self.target.shape
        return f"{type(self).__name__}(target: {m} points in R^{d}, h={self.h_name!r}, ratio={self.ratio!r})"


class JSFlow(MonoFlow):
    """The Jensen–Shannon flow of Huang & Zhang: ``σ(log r) ∇ log r = −∇ log(1 − D*)``, the
    MonoFlow with ``h = softplus`` (the original, saturating GAN generator loss)."""

    def __init__(self, target, target_weights=None, ratio=None):
        super().__init__(target, h="vanilla", target_weights=target_weights, ratio=ratio)
