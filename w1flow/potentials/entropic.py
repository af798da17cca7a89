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

from ..lp import DEFAULT_MEMORY_BUDGET, check_memory, row_chunks
from .._validation import as_bool, as_float, as_int, validate_measures
from .base import Potential, PotentialOracle

__all__ = ["EntropicPotential", "EntropicKantorovichPotential"]

logger = logging.getLogger(__name__)

#: Newton's step (see EntropicPotential._newton) is tried when Anderson stalls and the data have at
#: most this many points (its linear solve costs m³, its Jacobian n·m²); 0 turns it off.
_NEWTON_MAX_M = 2000
#: Anderson has stalled when its best marginal error has not halved in this many iterations.
_STALL = 200
#: Newton iterations tried before returning to Anderson (each is counted as one iteration).
_NEWTON_ITER = 50


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

    Attributes beyond :class:`~w1flow.Potential`:

    Attributes
    ----------
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
        ``"converged"`` or ``"not_converged"`` (then :attr:`success` is False and
        :func:`~w1flow.simulate` stops with status ``"sinkhorn_failed"`` and a message).
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
    """Oracle: Sinkhorn for the cost ``|x − y|`` and its smooth soft-min potential.

    The iterations are the classical Sinkhorn updates of the data potential g (on scalings
    ``exp(−C/ε)`` when they are representable, in the log domain otherwise), made reliable by two
    standard devices:

    * **ε-scaling** (annealing): from a cold start, solve at ``ε_k = max(reg, C_max · 2^{−k})``,
      coarse to fine, each stage warm-starting the next (Schmitzer, "Stabilized sparse scaling
      algorithms for entropy regularized transport problems", 2019);
    * **Anderson acceleration** of the fixed-point map ``g ↦ g'`` (depth ``anderson``, with a
      restart whenever an extrapolated iterate raises the marginal error; Walker & Ni, "Anderson
      acceleration for fixed-point iterations", 2011). Near-degenerate problems (particles on the
      data, well separated clusters) have modes that plain Sinkhorn contracts by a factor
      ``1 − e^{−d/ε}`` per iteration: 200,000 plain iterations, with or without ε-scaling, leave a
      marginal error of about 1e-7 on 30 particles sitting on 8 clusters at ε = 0.1; the
      accelerated iteration reaches 1e-10 in fewer than 150;
    * **Newton's step** when Anderson stalls (its best error not cut tenfold in 200 iterations)
      and the data have at most 2000 points: particles *on* the data (x = y, 30 standard-normal
      points at ε = 0.1) have eigenvalues ``1 − 1e-8`` that stall Anderson too at a marginal
      error ~1e-8; Newton on the data marginal (Brauer et al. 2017) reaches ``tol`` in a few
      steps. Each Newton step counts as one iteration.

    Parameters
    ----------
    reg : float
        Entropic regularisation ε > 0, in the units of the coordinates. The potential is smooth
        on a length scale ε; ``ε → 0`` recovers the exact potential (and W1).
    max_iter : int
        Cap on Sinkhorn iterations (all ε stages together). Reaching it with the marginal error
        above ``tol`` gives status ``"not_converged"``: the potential's ``success`` is False, a
        warning is logged, and :func:`~w1flow.simulate` stops with status ``"sinkhorn_failed"``.
    tol : float
        Stop when the L1 error of the data marginal is below ``tol`` (a mass, so unit-free).
    warm_start : bool
        Start from the previous call's g when the data are the same (a flow moves the particles
        little per step, so this saves most iterations; no ε-scaling is then needed). The result
        depends on the start only to within ``tol``.
    max_memory : float or None
        Memory budget in bytes for the dense n × m matrices.
    eps_scaling : bool
        Anneal ε from a cold start (see above).
    anderson : int
        Depth of the Anderson acceleration (0: plain Sinkhorn).
    """

    exact_w1 = False
    _state_attrs = ("_last",)  # the warm start, checkpointed (state_dict)

    def __init__(self, reg, max_iter=10000, tol=1e-10, warm_start=True, max_memory=DEFAULT_MEMORY_BUDGET,
                 eps_scaling=True, anderson=10):
        super().__init__()
        self.reg = as_float(reg, "reg", 0.0, low_open=True)
        self.max_iter = as_int(max_iter, "max_iter", 1)
        self.tol = as_float(tol, "tol", 0.0, low_open=True)
        self.warm_start = as_bool(warm_start, "warm_start")
        self.eps_scaling = as_bool(eps_scaling, "eps_scaling")
        self.anderson = as_int(anderson, "anderson", 0)
        self.max_memory = max_memory
        self.counters = {"evaluations": 0, "lp_solves": 0, "sinkhorn_iterations": 0}
        self._last = None

    def reset(self):
        super().reset()
        self._last = None

    def settings(self):
        return {"reg": self.reg, "max_iter": self.max_iter, "tol": self.tol, "warm_start": self.warm_start,
                "max_memory": self.max_memory, "eps_scaling": self.eps_scaling, "anderson": self.anderson}

    def _initial_g(self, y, b):
        if self.warm_start and self._last is not None:
            y0, b0, g0 = self._last
            if y0.shape == y.shape and np.array_equal(y0, y) and np.array_equal(b0, b):
                return g0.copy(), True
        return np.zeros(y.shape[0]), False

    def _sinkhorn(self, C, a, b, la, lb, g, warm):
        """Sinkhorn from the data potential g; returns ``(g, marginal_error, iterations)``.

        A cold start runs the ε-scaling stages first (each to a marginal error of 1e-3 or 100
        iterations); the last stage, at ``reg``, runs to ``tol`` or the iteration cap.
        """
        used = 0
        if self.eps_scaling and not warm:
            eps = float(C.max()) / 2.0
            while eps > 2.0 * self.reg and used < self.max_iter:
                g, _, it = self._solve(C, a, b, la, lb, g, eps, 1e-3, min(100, self.max_iter - used))
                used += it
                eps /= 2.0
        left = max(1, self.max_iter - used)
        small = C.shape[1] <= _NEWTON_MAX_M
        g, err, it = self._solve(C, a, b, la, lb, g, self.reg, self.tol, left, stall=_STALL if small else None)
        used += it
        if small and _NEWTON_MAX_M and not err < self.tol and np.isfinite(err) and used < self.max_iter:
            # Anderson stalled on a near-null mode (see _newton): Newton's step solves it directly
            g, err, it = self._newton(C, a, la, lb, g, self.reg, self.tol, min(_NEWTON_ITER, self.max_iter - used))
            used += it
            if not err < self.tol and np.isfinite(err) and used < self.max_iter:
                g, err, it = self._solve(C, a, b, la, lb, g, self.reg, self.tol, self.max_iter - used)
                used += it
        return g, err, used

    def _solve(self, C, a, b, la, lb, g, eps, tol, max_iter, stall=None):
        """Accelerated Sinkhorn at one ε: ``(g, marginal_error, iterations)``.

        The fixed-point map takes g to the g-update after the f-update; the data marginal of the
        plan ``(f(g), g)`` is ``b_j exp((g_j − g'_j)/ε)``, whose L1 error is the stopping rule.
        With ``stall`` it also returns (with the best iterate) once ``stall`` iterations have not
        cut the best error tenfold (the caller then switches to Newton).
        """
        K = np.exp(-C / eps) if C.max() / eps < 600 else None  # scalings are safe: e^{-600} > 0

        def step(h):
            if K is not None:
                s = h.max()
                return s - eps * np.log(K.T @ (a / (K @ (b * np.exp((h - s) / eps)))))
            f = _soft_min(C, h, lb, eps, axis=1)
            return _soft_min(C, f, la, eps, axis=0)

        depth = self.anderson
        G, R = [], []  # recent images g' and residuals g' − g (Anderson's history)
        best = (np.inf, None)
        err = np.inf
        checked = np.inf  # the best error at the last stall check
        for it in range(1, max_iter + 1):
            g_new = step(g)
            err = float(np.dot(b, np.abs(np.expm1(np.clip((g - g_new) / eps, -700, 700)))))
            if err < tol or not np.isfinite(err):
                return g_new, err, it
            if err < best[0]:
                best = (err, g_new)
            if stall is not None and it % stall == 0:
                if best[0] > 0.1 * checked:
                    return best[1], best[0], it
                checked = best[0]
            if depth and err > 2.0 * best[0]:  # an extrapolation went wrong: restart from the best
                G.clear()
                R.clear()
                g = best[1]
                continue
            g = self._anderson(g, g_new, G, R, depth) if depth else g_new
            g = g - g.max()  # potentials are defined up to a constant
        return g_new, err, max_iter

    @staticmethod
    def _newton(C, a, la, lb, g, eps, tol, max_iter):
        """Newton's method on the data marginal at one ε: ``(g, marginal_error, iterations)``.

        Why: with particles on (or near) the data, points whose nearest other point is ``d >> ε``
        away form blocks coupled only through weights ``e^{-d/ε}``. Shifting g on such a block
        (and f the other way) barely changes the plan, so the Sinkhorn map has eigenvalues
        ``1 − O(e^{-d/ε})`` (0.99999999 for 30 standard-normal points at ε = 0.1): plain and
        Anderson-accelerated iterations crawl there (marginal error ~1e-8 after 10,000
        iterations) while Newton's step solves the near-null mode exactly.

        With ``f = f(g)`` the soft c-transform (rows of the plan sum to ``a``), the column sums
        ``c_j = Σ_i P_ij`` have Jacobian ``∂c/∂g = (diag(c) − Pᵀ diag(1/a) P)/ε``: symmetric,
        positive semi-definite, with the constants as null space (as ``Σ (b − c) = 0``). The
        step solves ``(diag(c) − Pᵀ diag(1/a) P) δ = ε (b − c)`` (the null space is fixed by
        adding ``1 1ᵀ``, which leaves a solution orthogonal to it unchanged) and is halved until
        the marginal error drops (Brauer, Clason, Lorenz & Wirth, "A Sinkhorn–Newton method
        for entropic optimal transport", 2017).
        """
        b = np.exp(lb)

        def state(h):
            f = _soft_min(C, h, lb, eps, axis=1)
            P = np.exp((f[:, None] + h[None, :] - C) / eps + la[:, None] + lb[None, :])
            c = P.sum(axis=0)
            return P, c, float(np.abs(b - c).sum())

        P, c, err = state(g)
        it = 0
        while it < max_iter and not err < tol:
            it += 1
            H = np.diag(c) - (P / np.exp(la)[:, None]).T @ P
            H += np.mean(np.diag(H)) * np.ones_like(H)
            try:
                delta = np.linalg.solve(H, eps * (b - c))
            except np.linalg.LinAlgError:
                break
            step = 1.0
            while step > 1e-4:
                h = g + step * delta
                P2, c2, err2 = state(h)
                if err2 < err:
                    g, P, c, err = h - h.max(), P2, c2, err2
                    break
                step *= 0.5
            else:
                break  # no descent: Newton cannot improve (round-off floor)
        return g, err, it

    @staticmethod
    def _anderson(g, g_new, G, R, depth):
        """The Anderson extrapolation of ``g ↦ g_new`` from the last ``depth`` iterates."""
        G.append(g_new)
        R.append(g_new - g)
        if len(R) > depth + 1:
            G.pop(0)
            R.pop(0)
        if len(R) < 2:
            return g_new
        dR = np.diff(np.stack(R, axis=1), axis=1)
        dG = np.diff(np.stack(G, axis=1), axis=1)
        gamma = np.linalg.lstsq(dR, R[-1], rcond=None)[0]
        g_acc = g_new - dG @ gamma
        return g_acc if np.all(np.isfinite(g_acc)) else g_new

    def __call__(self, x, a, y, b, t=0.0):
        """Run Sinkhorn between ``(x, a)`` and ``(y, b)``; return the soft-min potential."""
        x, a, y, b = validate_measures(x, a, y, b)
        check_memory(x.shape[0], y.shape[0], self.max_memory, "the entropic potential")
        reg = self.reg
        pa, pb = a > 0, b > 0
        la, lb = np.log(a[pa]), np.log(b[pb])
        C = cdist(x[pa], y[pb])
        g_full, warm = self._initial_g(y, b)
        g = g_full[pb] - np.max(g_full[pb])  # potentials are defined up to a constant
        g, err, it = self._sinkhorn(C, a[pa], b[pb], la, lb, g, warm)
        g_full = np.empty(y.shape[0])
        g_full[pb] = g
        if np.any(~pb):  # data with zero weight: the soft c-transform of f (not used by φ)
            f_pa = _soft_min(C, g, lb, reg, axis=1)
            g_full[~pb] = _soft_min(cdist(y[~pb], x[pa]), f_pa, la, reg, axis=1)
        if err < self.tol:
            status, message = "converged", f"Sinkhorn converged in {it} iterations (marginal error {err:.3g})"
        else:
            status = "not_converged"
            message = (
                f"Sinkhorn did not converge: marginal error {err:.3g} > tol={self.tol:g} after "
                f"{it} iterations (max_iter={self.max_iter}, reg={reg:g}). Raise max_iter, raise reg, "
                "or loosen tol."
            )
            logger.warning(message)
        self._last = (y.copy(), b.copy(), g_full.copy())
        self.counters["evaluations"] += 1
        self.counters["sinkhorn_iterations"] += it
        return EntropicKantorovichPotential(x, a, y, b, reg, g_full, it, err, status, message)
