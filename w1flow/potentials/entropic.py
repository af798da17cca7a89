"""The entropic (Sinkhorn) Kantorovich potential for the cost |x − y|: a smooth φ.

Log-domain Sinkhorn solves the entropic W1 problem between particles ``(x, a)`` and data ``(y, b)``

.. math::  \\min_{P ∈ Π(a, b)} Σ_{ij} P_{ij} |x_i − y_j| + ε\\,\\mathrm{KL}(P \\,|\\, a ⊗ b)

with dual potentials ``(f, g)``. The particles' potential is the *soft* c-transform of g,

.. math::  φ(z) = −ε \\log Σ_j b_j \\exp\\big((g_j − |z − y_j|)/ε\\big),

the smooth analogue of the exact ``min_j(|z − y_j| − v_j)``: high on the particles, low on the
data, 1-Lipschitz (its gradient is a convex combination of unit vectors, so ``|∇φ| <= 1``), and
``φ(x_i) = f_i``. As ``ε → 0`` it tends to the exact c-transform potential.

Its gradient

.. math::  ∇φ(z) = Σ_j π_j(z) \\frac{z − y_j}{|z − y_j|},\\qquad
           π_j(z) = \\mathrm{softmax}_j\\big(\\log b_j + (g_j − |z − y_j|)/ε\\big)

is smooth except at the data points (the cone |z − y_j|), so the flow ``dY/dt = −∇φ(Y)`` is a
smooth mean-field ODE away from the data: the field for clean order-p convergence tests. At the
particles ``−∇φ(x_i) = Σ_j (P_ij/a_i) (y_j − x_i)/|y_j − x_i|``, the entropic plan velocity.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.spatial.distance import cdist

from .._lp import DEFAULT_MEMORY_BUDGET, check_memory, row_chunks
from .._validation import as_bool, as_float, as_int, validate_measures
from .base import Potential, PotentialOracle

__all__ = ["EntropicPotential", "EntropicKantorovichPotential"]

logger = logging.getLogger(__name__)


def _soft_min(D, h, logw, reg, axis):
    """``−reg·log Σ_k w_k exp((h_k − D_k)/reg)`` along ``axis`` (stable log-sum-exp)."""
    if axis == 1:
        Z = (h[None, :] - D) / reg + logw[None, :]
    else:
        Z = (h[:, None] - D) / reg + logw[:, None]
    mx = Z.max(axis=axis)
    Z -= np.expand_dims(mx, axis)
    np.exp(Z, out=Z)
    return -reg * (mx + np.log(Z.sum(axis=axis)))


def _unit(diff, dist):
    """``diff / dist`` row-wise with 0 where ``dist == 0`` (no division warnings)."""
    out = np.zeros_like(diff)
    np.divide(diff, dist[..., None], out=out, where=dist[..., None] > 0)
    return out


class EntropicKantorovichPotential(Potential):
    """The soft-min potential of a converged (or not) Sinkhorn run.

    Attributes beyond :class:`~w1flow.Potential`
    ----------------------------------------------
    y, b : ndarray
        Data and weights.
    reg : float
        Entropic regularisation ε (in the units of the coordinates).
    f, g : ndarray, shape (n,), (m,)
        Sinkhorn duals (``f_i = φ(x_i)``).
    w1 : float
        ``Σ a_i φ(x_i) − Σ b_j φ(y_j)``. Since φ is 1-Lipschitz this is a **lower bound** on the
        exact W1 (for any g, converged or not); it tends to W1 as ε → 0.
    transport_cost : float
        ``Σ P_ij |x_i − y_j|`` of the entropic plan, an upper bound on W1 (at convergence).
    dual_value : float
        ``Σ a_i f_i + Σ b_j g_j``, the entropic OT value at convergence.
    n_iter : int
        Sinkhorn iterations used.
    marginal_error : float
        L1 error of the plan's data marginal at the last iteration.
    status : str
        ``"converged"`` or ``"max_iter_reached"`` (then :attr:`success` is False and
        :func:`~w1flow.simulate` stops with a message).
    """

    def __init__(self, x, a, y, b, reg, g, n_iter, marginal_error, status, message):
        self.x, self.a, self.y, self.b = x, a, y, b
        self.reg = reg
        self.g = g
        self.n_iter = n_iter
        self.marginal_error = marginal_error
        self.status, self.message = status, message
        self._pos_b = b > 0
        self._logb = np.log(b[self._pos_b])
        self._yb = y[self._pos_b]
        self._gb = g[self._pos_b]
        self._velocity = None
        self._f = None
        self._w1 = None

    # The diagnostics below are computed on first use: a flow only needs the velocity.
    @property
    def f(self):
        """φ(x_i) for every particle (Sinkhorn's f_i; the extension on zero-weight tracers)."""
        if self._f is None:
            self._f = self.value(self.x)
        return self._f

    @property
    def w1(self):
        """``Σ a_i φ(x_i) − Σ b_j φ(y_j)``: a lower bound on W1 (φ is 1-Lipschitz)."""
        if self._w1 is None:
            self._w1 = float(np.dot(self.a, self.f) - np.dot(self.b, self.value(self.y)))
        return self._w1

    @property
    def dual_value(self):
        """``Σ a_i f_i + Σ b_j g_j``: the entropic OT value at convergence."""
        pa = self.a > 0
        return float(np.dot(self.a[pa], self.f[pa]) + np.dot(self.b[self._pos_b], self._gb))

    @property
    def transport_cost(self):
        """``Σ P_ij |x_i − y_j|`` of the entropic plan: an upper bound on W1 at convergence."""
        return float(np.sum(self.plan * cdist(self.x, self.y)))

    @property
    def plan(self):
        """Entropic plan ``P_ij = a_i b_j exp((f_i + g_j − |x_i − y_j|)/ε)``, shape (n, m)."""
        P = np.zeros((self.x.shape[0], self.y.shape[0]))
        pa = self.a > 0
        D = cdist(self.x[pa], self._yb)
        Z = (self.f[pa, None] + self._gb[None, :] - D) / self.reg
        Z += np.log(self.a[pa])[:, None] + self._logb[None, :]
        P[np.ix_(pa, self._pos_b)] = np.exp(Z)
        return P

    def _weights(self, z):
        """Soft-min weights π_j(z) (over data with b_j > 0), distances and φ(z), in chunks."""
        for sl in row_chunks(z.shape[0], self._yb.shape[0]):
            D = cdist(z[sl], self._yb)
            Z = (self._gb[None, :] - D) / self.reg + self._logb[None, :]
            mx = Z.max(axis=1)
            Z -= mx[:, None]
            np.exp(Z, out=Z)
            s = Z.sum(axis=1)
            val = -self.reg * (mx + np.log(s))
            yield sl, Z / s[:, None], D, val

    def value(self, z):
        out = np.empty(z.shape[0])
        for sl, _, _, val in self._weights(z):
            out[sl] = val
        return out

    def gradient(self, z):
        """``∇φ(z) = Σ_j π_j(z)(z − y_j)/|z − y_j|`` (a term with ``z = y_j`` contributes 0)."""
        out = np.empty_like(z)
        for sl, W, D, _ in self._weights(z):
            zz = z[sl]
            # Σ_j W_ij (z_i − y_j)/D_ij = z_i Σ_j W_ij/D_ij − Σ_j (W_ij/D_ij) y_j
            R = np.zeros_like(W)
            np.divide(W, D, out=R, where=D > 0)
            out[sl] = zz * R.sum(axis=1)[:, None] - R @ self._yb
        return out

    def __repr__(self):
        return (f"EntropicKantorovichPotential(reg={self.reg:g}, status={self.status!r}, "
                f"n_iter={self.n_iter}, w1={self.w1:.6g})")


class EntropicPotential(PotentialOracle):
    """Oracle: log-domain Sinkhorn for the cost ``|x − y|`` and its smooth soft-min potential.

    Parameters
    ----------
    reg : float
        Entropic regularisation ε > 0, in the units of the coordinates. The potential is smooth
        on a length scale ε; ``ε → 0`` recovers the exact potential (and W1).
    max_iter : int
        Cap on Sinkhorn iterations. Reaching it gives status ``"max_iter_reached"`` (never
        silent: the potential's ``success`` is False and a warning is logged).
    tol : float
        Stop when the L1 error of the data marginal is below ``tol``.
    warm_start : bool
        Start from the previous call's g when the data are the same (a flow moves the particles
        little per step, so this saves most iterations). The result depends on the start only
        to within ``tol``.
    max_memory : float or None
        Memory budget in bytes for the dense n × m matrices.
    """

    exact_w1 = False

    def __init__(self, reg, max_iter=10000, tol=1e-10, warm_start=True, max_memory=DEFAULT_MEMORY_BUDGET):
        super().__init__()
        self.reg = as_float(reg, "reg", 0.0, low_open=True)
        self.max_iter = as_int(max_iter, "max_iter", 1)
        self.tol = as_float(tol, "tol", 0.0, low_open=True)
        self.warm_start = as_bool(warm_start, "warm_start")
        self.max_memory = max_memory
        self.counters = {"evaluations": 0, "lp_solves": 0, "sinkhorn_iterations": 0}
        self._last = None

    def reset(self):
        super().reset()
        self._last = None

    def _initial_g(self, y, b):
        if self.warm_start and self._last is not None:
            y0, b0, g0 = self._last
            if y0.shape == y.shape and np.array_equal(y0, y) and np.array_equal(b0, b):
                return g0.copy()
        return np.zeros(y.shape[0])

    def _sinkhorn(self, C, a, b, la, lb, g):
        """Sinkhorn iterations from the data potential g; returns ``(g, marginal_error, iterations)``.

        When ``exp(−C/ε)`` and ``exp(g/ε)`` are safely representable (``C/ε`` and the spread of
        ``g/ε`` below 600), the iterations run on scalings (two mat-vecs each), which is exact
        arithmetic on the same fixed point; otherwise (or if a scaling leaves the float range)
        they run in the log domain with stabilised log-sum-exp.
        """
        reg = self.reg
        it = 0
        err = np.inf
        if C.max() / reg < 600 and (g.max() - g.min()) / reg < 600:
            K = np.exp(-C / reg)
            beta = b * np.exp(g / reg)
            ok = True
            while it < self.max_iter:
                alpha = a / (K @ beta)
                KTa = K.T @ alpha
                it += 1
                err = float(np.sum(np.abs(beta * KTa - b)))
                beta_new = b / KTa
                if not (np.all(np.isfinite(beta_new)) and np.all(beta_new > 0) and np.isfinite(err)):
                    ok = False
                    break
                beta = beta_new
                if err < self.tol:
                    break
            if ok:
                return reg * (np.log(beta) - lb), err, it
            g = reg * (np.log(beta) - lb)  # last good scaling: continue in the log domain
        while it < self.max_iter:
            f = _soft_min(C, g, lb, reg, axis=1)
            g_new = _soft_min(C, f, la, reg, axis=0)
            it += 1
            # data marginal of the plan before the g-update: b_j exp((g_j − g_new_j)/ε)
            err = float(np.dot(b, np.abs(np.expm1(np.clip((g - g_new) / reg, -700, 700)))))
            g = g_new
            if err < self.tol:
                break
        return g, err, it

    def __call__(self, x, a, y, b, t=0.0):
        """Run Sinkhorn between ``(x, a)`` and ``(y, b)``; return the soft-min potential."""
        x, a, y, b = validate_measures(x, a, y, b)
        check_memory(x.shape[0], y.shape[0], self.max_memory, "the entropic potential")
        reg = self.reg
        pa, pb = a > 0, b > 0
        la, lb = np.log(a[pa]), np.log(b[pb])
        C = cdist(x[pa], y[pb])
        g_full = self._initial_g(y, b)
        g = g_full[pb] - np.max(g_full[pb])  # potentials are defined up to a constant
        g, err, it = self._sinkhorn(C, a[pa], b[pb], la, lb, g)
        g_full = np.empty(y.shape[0])
        g_full[pb] = g
        if np.any(~pb):  # data with zero weight: the soft c-transform of f (not used by φ)
            f_pa = _soft_min(C, g, lb, reg, axis=1)
            g_full[~pb] = _soft_min(cdist(y[~pb], x[pa]), f_pa, la, reg, axis=1)
        if err < self.tol:
            status, message = "converged", f"Sinkhorn converged in {it} iterations (marginal error {err:.3g})"
        else:
            status = "max_iter_reached"
            message = (
                f"Sinkhorn did not converge: marginal error {err:.3g} > tol={self.tol:g} after "
                f"max_iter={self.max_iter} iterations (reg={reg:g}). Raise max_iter, raise reg, "
                "or loosen tol."
            )
            logger.warning(message)
        self._last = (y.copy(), b.copy(), g_full.copy())
        self.counters["evaluations"] += 1
        self.counters["sinkhorn_iterations"] += it
        return EntropicKantorovichPotential(x, a, y, b, reg, g_full, it, err, status, message)

    def __repr__(self):
        return f"EntropicPotential(reg={self.reg:g}, max_iter={self.max_iter}, tol={self.tol:g})"
