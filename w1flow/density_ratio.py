"""Log density ratios from samples: a logistic classifier on random Fourier features.

MonoFlow-type flows (:class:`~w1flow.MonoFlow`, the JS flow) move particles with
``v = h'(log r) ∇ log r``, ``r = p / q`` the density ratio of the data ``p`` to the particles
``q``. A classifier that tells data (label 1) from particles (label 0) by logistic regression has,
at its optimum, the logit ``d*(x) = log r(x)`` — when the two classes count equally in its loss:

.. math::  \\max_d\\; \\mathbb E_p \\log σ(d) + \\mathbb E_q \\log(1 − σ(d))   ⇒   d^* = \\log\\frac pq .

With the loss averaged over the pooled set of M data points and N particles instead (what a
plain binary cross-entropy over one concatenated batch does), the optimum is
``log r + log(M/N)``: the classes are weighted by their counts. :class:`LogRatioEstimator` uses
the per-class means by default (``balance="classes"``; particle weights enter as sample
weights); with ``balance="pooled"`` it fits the pooled loss and subtracts ``log(M/N)`` from the
logit (tested: flipping that sign is caught).

The classifier: ``d(x) = β_0 + Σ_k β_k φ_k(x)``, ``φ_k(x) = √(2/D) cos(ω_k·x + c_k)``, with
``ω_k ~ N(0, I/ℓ²)`` and ``c_k ~ U[0, 2π)`` (random Fourier features of a Gaussian kernel of
length scale ℓ), an L2 penalty ``λ|β|²/2``, fitted by L-BFGS to a gradient tolerance. The
features are redrawn from the seed at every fit, so a fit is a deterministic function of its
inputs. Its gradient ``∇d(x) = −√(2/D) Σ_k β_k sin(ω_k·x + c_k) ω_k`` is exact for the fitted d.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from ._validation import as_float, as_int, as_points, as_weights, check_same_dimension

__all__ = ["LogRatioEstimator", "LogRatio"]


class LogRatio:
    """A fitted log density ratio ``d(x) ≈ log p(x)/q(x)``: callable, with :meth:`grad`.

    Attributes
    ----------
    status : str
        ``"converged"`` (L-BFGS met its tolerance) or ``"ratio_failed"``.
    message : str
    n_iter : int
        L-BFGS iterations.
    """

    def __init__(self, omega, phase, beta, offset, status, message, n_iter):
        self.omega, self.phase, self.beta = omega, phase, beta
        self.offset = offset  # subtracted from the fitted logit (the pooled-loss correction)
        self.status, self.message, self.n_iter = status, message, n_iter

    @property
    def success(self):
        """True when the fit converged."""
        return self.status == "converged"

    def _features(self, z):
        return np.sqrt(2.0 / self.omega.shape[0]) * np.cos(z @ self.omega.T + self.phase)

    def __call__(self, z):
        """``log r`` at points ``z`` (m, d) → (m,)."""
        z = np.asarray(z, dtype=np.float64)
        return self.beta[0] + self._features(z) @ self.beta[1:] - self.offset

    def grad(self, z):
        """``∇ log r`` at points ``z`` (m, d) → (m, d)."""
        z = np.asarray(z, dtype=np.float64)
        D = self.omega.shape[0]
        s = -np.sqrt(2.0 / D) * np.sin(z @ self.omega.T + self.phase) * self.beta[1:][None, :]
        return s @ self.omega

    def __repr__(self):
        return f"LogRatio(features={self.omega.shape[0]}, status={self.status!r}, n_iter={self.n_iter})"


class LogRatioEstimator:
    """Fits ``log p/q`` from data ``(y, b)`` and particles ``(x, a)`` (see the module docstring).

    Parameters
    ----------
    n_features : int
        D, the number of random Fourier features.
    length_scale : float or "median"
        ℓ, in data units; ``"median"`` takes the median distance between pooled points (at most
        1000 of them), so the estimator is scale-equivariant.
    penalty : float
        λ, the L2 penalty on the feature weights (the intercept is not penalised).
    balance : {"classes", "pooled"}
        Per-class means (the logit is ``log r``), or the pooled loss over all points with the
        ``log(M/N)`` correction subtracted from the logit.
    seed : int
        Seed of the features.
    max_iter : int
        L-BFGS iteration cap; a fit that does not converge reports ``"ratio_failed"``.
    tol : float
        L-BFGS gradient tolerance.
    """

    def __init__(self, n_features=300, length_scale="median", penalty=1e-3, balance="classes", seed=0,
                 max_iter=500, tol=1e-8):
        self.n_features = as_int(n_features, "n_features", 1)
        if isinstance(length_scale, str):
            if length_scale != "median":
                raise ValueError(f"length_scale must be a positive number or 'median'; got {length_scale!r}.")
            self.length_scale = length_scale
        else:
            self.length_scale = as_float(length_scale, "length_scale", 0.0, low_open=True)
        self.penalty = as_float(penalty, "penalty", 0.0)
        if balance not in ("classes", "pooled"):
            raise ValueError(f"balance must be 'classes' or 'pooled'; got {balance!r}.")
        self.balance = balance
        self.seed = as_int(seed, "seed", 0)
        self.max_iter = as_int(max_iter, "max_iter", 1)
        self.tol = as_float(tol, "tol", 0.0, low_open=True)

    def fit(self, x, a, y, b=None):
        """Fit on particles ``(x, a)`` (label 0) and data ``(y, b)`` (label 1); returns a
        :class:`LogRatio`."""
        x = as_points(x, "x")
        y = as_points(y, "y")
        check_same_dimension(x, y, "x", "y")
        a = as_weights(a, x.shape[0], "a")
        b = as_weights(b, y.shape[0], "b")
        n, m = x.shape[0], y.shape[0]
        rng = np.random.default_rng(self.seed)
        ell = self._length(x, y, rng)
        d = x.shape[1]
        omega = rng.standard_normal((self.n_features, d)) / ell
        phase = rng.uniform(0.0, 2 * np.pi, self.n_features)
        scale = np.sqrt(2.0 / self.n_features)
        F = np.concatenate([scale * np.cos(y @ omega.T + phase), scale * np.cos(x @ omega.T + phase)])
        label = np.concatenate([np.ones(m), np.zeros(n)])
        if self.balance == "classes":
            w = np.concatenate([b, a])  # each class sums to 1: E_p and E_q
            offset = 0.0
        else:
            w = np.full(m + n, 2.0 / (m + n))  # the pooled mean (times 2, to match the scale)
            offset = float(np.log(m / n))  # the pooled optimum is log r + log(M/N)
        lam = self.penalty

        def loss(beta):
            z = beta[0] + F @ beta[1:]
            # −[y log σ(z) + (1 − y) log σ(−z)], weighted
            val = -np.sum(w * (label * log_expit(z) + (1 - label) * log_expit(-z)))
            resid = w * (expit(z) - label)
            grad = np.concatenate([[resid.sum()], F.T @ resid])
            val += 0.5 * lam * beta[1:] @ beta[1:]
            grad[1:] += lam * beta[1:]
            return val, grad

        out = minimize(loss, np.zeros(self.n_features + 1), jac=True, method="L-BFGS-B",
                       options={"maxiter": self.max_iter, "gtol": self.tol, "ftol": 0.0})
        ok = bool(out.success) and np.all(np.isfinite(out.x))
        status = "converged" if ok else "ratio_failed"
        message = "the classifier converged" if ok else (
            f"the density-ratio classifier did not converge in {out.nit} L-BFGS iterations ({out.message}); "
            "raise max_iter or penalty, or loosen tol")
        return LogRatio(omega, phase, out.x, offset, status, message, int(out.nit))

    def _length(self, x, y, rng):
        if self.length_scale != "median":
            return self.length_scale
        pts = np.concatenate([x, y])
        if pts.shape[0] > 1000:
            pts = pts[rng.choice(pts.shape[0], 1000, replace=False)]
        diff = pts[:, None, :] - pts[None, :, :]
        dist = np.sqrt(np.sum(diff * diff, axis=2))
        med = float(np.median(dist[np.triu_indices(pts.shape[0], 1)])) if pts.shape[0] > 1 else 0.0
        return med if med > 0 else 1.0

    def __repr__(self):
        return (f"LogRatioEstimator(n_features={self.n_features}, length_scale={self.length_scale!r}, "
                f"penalty={self.penalty}, balance={self.balance!r}, seed={self.seed})")
