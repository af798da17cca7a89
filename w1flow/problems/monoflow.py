"""MonoFlow and the JS (GAN) flow on particles: velocities from a learned log density ratio
(described in :mod:`w1flow.monoflow`, which exports them; MonoFlow: Yi, Zhu & Liu, arXiv:2302.01075;
the JS flow: Huang & Zhang, arXiv:2205.02910)."""

from __future__ import annotations

import numpy as np

from .._validation import as_points, as_weights
from ..potentials.fields import RatioPotential
from .base import Problem

__all__ = ["MonoFlow", "JSFlow"]


class MonoFlow(Problem):
    """Particles flowing with ``h'(log r) ∇ log r`` toward a fixed data measure.

    Parameters
    ----------
    target : array_like, shape (m, d)
        Data points.
    h : str or callable
        A name of the table in :mod:`w1flow.divergences` (``"reverse_kl"``: h = id, ``"js"``,
        ``"vanilla_gan"``, ``"forward_kl"``, ``"pearson"``, ``"hellinger"``, ``"non_saturating"``, …),
        a pair ``(h, h')``, or a callable ``h'(s)`` (vectorised, positive: the derivative of an
        increasing h).
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
        self.potential = RatioPotential(h, ratio)

    @property
    def dim(self):
        """Dimension d of the space."""
        return self.target.shape[1]

    @property
    def functional_name(self):
        """``"D_f estimate (name)"`` for a table entry with an f: the plug-in Σ_i a_i f(e^{d(x_i)})
        of D_f(p‖q) = E_q f(p/q) with the fitted logit d (biased: an estimate, not the divergence);
        None for a user's h."""
        f = self.potential.f
        return None if f is None else f"D_f estimate ({self.potential.h_name})"

    def functional(self, field):
        """The plug-in estimate of the flow's f-divergence at the field's state."""
        f = self.potential.f
        if f is None or not field.success:
            return float("nan")
        d = np.asarray(field.log_ratio(field.x), dtype=np.float64)
        return float(np.sum(field.a * f(np.exp(d))))

    def with_potential(self, potential):
        """A copy of this flow with another :class:`~w1flow.potentials.fields.RatioPotential`."""
        if potential is None or potential is self.potential:
            return self
        if not isinstance(potential, RatioPotential):
            raise TypeError(f"{type(self).__name__} takes a RatioPotential(h, ratio) as its oracle; got {potential!r}.")
        import copy

        twin = copy.copy(self)
        twin.potential = potential
        return twin

    @property
    def h(self):
        """The rescaling (a table name or a callable h')."""
        return self.potential.h

    def field(self, x, a, t):
        """The potential ``φ = −h(d)`` of a classifier fitted between the data and the particles;
        its ``velocity`` is ``h'(d) ∇d`` and ``log_ratio`` the fitted logit d."""
        return self.potential(x, a, self.target, self.target_weights, t)

    def settings(self):
        """The data (the oracle, h and its estimator, is the problem's potential)."""
        return {"target": self.target, "target_weights": self.target_weights}

    def __repr__(self):
        m, d = self.target.shape
        return f"{type(self).__name__}(target: {m} points in R^{d}, potential={self.potential!r})"


class JSFlow(MonoFlow):
    """The Jensen–Shannon flow of Huang & Zhang (arXiv:2205.02910): ``σ(log r) ∇ log r = −∇ log(1 − D*)``, the
    MonoFlow with ``h = softplus`` (the original, saturating GAN generator loss)."""

    def __init__(self, target, target_weights=None, ratio=None):
        super().__init__(target, h="vanilla_gan", target_weights=target_weights, ratio=ratio)


# Public home of the classes: checkpoints, run fingerprints and pickles name a class by
# ``__module__.__qualname__``, which stays the module users import it from.
MonoFlow.__module__ = "w1flow.monoflow"
JSFlow.__module__ = "w1flow.monoflow"
