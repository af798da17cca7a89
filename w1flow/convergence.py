"""Convergence verification: measured orders of the time steppers against closed forms.

:func:`order_study` runs one problem with a ladder of step sizes, measures the error at a fixed
time ``T`` against a reference (a closed form, or a fine high-order solution), and fits the order
by least squares on ``log(error)`` against ``log(dt)`` (the diffrax ``test_ode_order`` pattern),
leaving out errors at round-off level.

Errors are measured with a metric that matches what the flow defines:

* ``"w1"`` / ``"w2"``: Wasserstein distance between the final cloud and the reference cloud
  (permutation invariant: use it when particles can swap roles, e.g. W1 flows after arrivals);
* ``"max"``: ``max_i |x_i − x_i^ref|`` where particle labels are kept (smooth mean-field ODEs).

Closed-form oracles (functions of the initial state and the time):

* :func:`w2_flow_closed_form`: ``Y_t = e^{−t} Y_0 + (1 − e^{−t}) T(Y_0)`` for the W2 flow;
* :func:`linear_mean_field_closed_form`: ``dY = A(Y − E[Y]) + B(E[Y] − m)`` by matrix exponentials;
* :func:`capped_flow_closed_form` / :func:`capped_w1_closed_form`: the capped W1 flow along the
  initial optimal plan (:class:`~w1flow.CappedEuler` reproduces it to round-off);
* :func:`~w1flow.potentials.quantile.quantile_flow`: the exact 1-D W1 flow.

See ``docs/convergence.md`` for the oracles and the measured slopes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field as dc_field

import numpy as np

from . import metrics
from ._lp import solve_w1_lp
from ._validation import as_points, as_positive_float, as_weights, check_same_dimension
from .potentials.base import validate_measures

__all__ = [
    "ConvergenceResult",
    "order_study",
    "dt_ladder",
    "fit_order",
    "fine_reference",
    "clearance_mask",
    "w2_flow_closed_form",
    "linear_mean_field_drift",
    "linear_mean_field_closed_form",
    "capped_flow_closed_form",
    "capped_w1_closed_form",
    "tanh_critic_drift",
]

_METRICS = ("w1", "w2", "max")


# --------------------------------------------------------------------------------------------
# Result and fit
# --------------------------------------------------------------------------------------------
@dataclass
class ConvergenceResult:
    """Errors against step size and the fitted order.

    Attributes
    ----------
    dts : ndarray
        Step sizes, largest first.
    errors : ndarray
        Error at time T for each step size.
    slope : float
        Fitted order: slope of ``log(error)`` against ``log(dt)`` over the fit range (NaN when
        fewer than two points are above round-off, e.g. for an exact method).
    intercept : float
        Intercept of the fit (``error ≈ exp(intercept) · dt^slope``).
    fit_range : tuple of float or None
        ``(dt_min, dt_max)`` of the points used in the fit (None if no fit).
    metric : str
        ``"w1"``, ``"w2"`` or ``"max"``.
    used : ndarray of bool
        Which points entered the fit.
    roundoff : float
        Errors at or below this were treated as round-off and left out.
    label : str
        Name for legends.
    wall_time : float
        Seconds spent (runs and reference).
    """

    dts: np.ndarray
    errors: np.ndarray
    slope: float
    intercept: float
    fit_range: tuple | None
    metric: str
    used: np.ndarray = dc_field(default=None)
    roundoff: float = 0.0
    label: str = ""
    wall_time: float = 0.0

    @property
    def at_roundoff(self) -> bool:
        """True when every error is at round-off level (the method is exact on this problem)."""
        return bool(np.all(self.errors <= self.roundoff))

    def predicted(self, dts=None):
        """The fitted power law ``exp(intercept) · dt^slope`` at ``dts`` (default: the fit range)."""
        if dts is None:
            dts = self.dts[self.used] if self.used is not None else self.dts
        return np.exp(self.intercept) * np.asarray(dts, dtype=float) ** self.slope

    def legend(self):
        """``"label: slope 1.99"`` (or ``"label: round-off (max 3e-16)"``)."""
        name = self.label or self.metric
        if self.at_roundoff or not np.isfinite(self.slope):
            return f"{name}: round-off (max {np.max(self.errors):.1e})"
        return f"{name}: slope {self.slope:.2f}"

    def plot(self, ax=None, label=None, reference_slopes=(1, 2, 4), floor=1e-17, **kwargs):
        """Log-log plot of error against dt, with dashed reference slopes through the data.

        Errors of exactly 0 are drawn at ``floor``. Returns the matplotlib axes.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4.5))
        err = np.maximum(self.errors, floor)
        lab = label if label is not None else self.legend()
        kwargs.setdefault("marker", "o")
        kwargs.setdefault("linestyle", "-")
        (line,) = ax.loglog(self.dts, err, label=lab, **kwargs)
        if reference_slopes:
            x0, y0 = self.dts[0], err[0]
            for p in reference_slopes:
                if np.isfinite(self.slope) and abs(p - self.slope) < 0.5:
                    ax.loglog(self.dts, y0 * (self.dts / x0) ** p, "--", color=line.get_color(),
                              alpha=0.35, lw=1)
        ax.set_xlabel("dt")
        ax.set_ylabel(f"error at T ({self.metric})")
        ax.grid(True, which="both", alpha=0.3)
        return ax

    def __repr__(self):
        fr = "None" if self.fit_range is None else f"({self.fit_range[0]:.3g}, {self.fit_range[1]:.3g})"
        return (f"ConvergenceResult({self.label or self.metric}: slope={self.slope:.4g}, "
                f"fit_range={fr}, errors={np.array2string(self.errors, precision=3)})")


def dt_ladder(dt_max, levels):
    """``dt_max / 2**k`` for ``k = 0 … levels − 1`` (a halving ladder, largest first)."""
    dt_max = as_positive_float(dt_max, "dt_max")
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 2:
        raise ValueError(f"levels must be an integer >= 2, got {levels!r}.")
    return dt_max / 2.0 ** np.arange(levels)


def fit_order(dts, errors, roundoff=0.0, fit_range=None, drop_coarsest=False):
    """Least-squares slope of ``log(error)`` against ``log(dt)``.

    Points with ``error <= roundoff`` (or non-finite) are left out, as are dts outside
    ``fit_range = (dt_min, dt_max)`` and, with ``drop_coarsest``, the largest dt.

    Returns
    -------
    slope, intercept, used, fit_range_used
    """
    dts = np.asarray(dts, dtype=float)
    errors = np.asarray(errors, dtype=float)
    used = np.isfinite(errors) & (errors > roundoff)
    if fit_range is not None:
        lo, hi = fit_range
        used &= (dts >= lo * (1 - 1e-12)) & (dts <= hi * (1 + 1e-12))
    if drop_coarsest and dts.size:
        used &= dts < dts.max()
    if np.count_nonzero(used) < 2:
        return float("nan"), float("nan"), used, None
    slope, intercept = np.polyfit(np.log(dts[used]), np.log(errors[used]), 1)
    return float(slope), float(intercept), used, (float(dts[used].min()), float(dts[used].max()))


# --------------------------------------------------------------------------------------------
# Running the study
# --------------------------------------------------------------------------------------------
def _final(result):
    if not result.success:
        raise RuntimeError(f"a run of the convergence study failed: {result.message}")
    return result.x_final, result.a_final


def fine_reference(problem, x0, T, dt, potential=None, weights=None, solver=None, save_every=1,
                   **simulate_kwargs):
    """A fine high-order solution (RK4 by default) to use as the reference of a study.

    Returns the :class:`~w1flow.FlowResult` (snapshots every ``save_every`` steps, so that
    :func:`clearance_mask` can inspect the reference paths).
    """
    from .simulate import simulate
    from .solvers import RK4

    solver = RK4() if solver is None else solver
    simulate_kwargs.setdefault("record_w1", False)
    res = simulate(problem, x0, T, dt, solver=solver, potential=potential, weights=weights,
                   save_every=save_every, **simulate_kwargs)
    _final(res)
    return res


def clearance_mask(reference, points, min_dist):
    """Particles whose reference path stays at least ``min_dist`` from every point of ``points``.

    ``reference`` is a :class:`~w1flow.FlowResult` (all snapshots are checked) or an array of
    snapshots of shape (k, n, d). Returns a boolean mask of shape (n,).
    """
    from scipy.spatial.distance import cdist

    xs = reference.xs if hasattr(reference, "xs") else list(np.asarray(reference))
    pts = as_points(points, "points")
    closest = np.full(xs[0].shape[0], np.inf)
    for x in xs:
        closest = np.minimum(closest, cdist(x, pts).min(axis=1))
    return closest >= min_dist


def _as_cloud(ref, a_default, name="reference"):
    if isinstance(ref, tuple):
        x, w = ref
        x = as_points(x, name)
        return x, as_weights(w, x.shape[0], f"{name} weights")
    x = as_points(ref, name)
    if x.shape[0] != a_default.shape[0]:
        raise ValueError(f"{name} returned {x.shape[0]} points for {a_default.shape[0]} particles; "
                         "return (points, weights) when the counts differ.")
    return x, a_default


def _error(metric, x, a, xr, ar, score):
    if metric == "max":
        if x.shape != xr.shape:
            raise ValueError(
                f"metric='max' compares particles by label, but the run has {x.shape[0]} particles "
                f"and the reference {xr.shape[0]}; use metric='w1' or 'w2'."
            )
        err = np.sqrt(np.sum((x - xr) ** 2, axis=1))
        if score is not None:
            err = err[score]
        return float(err.max()) if err.size else float("nan")
    if metric == "w1":
        return metrics.w1(x, xr, a, ar)
    return metrics.w2(x, xr, a, ar)


def order_study(problem, x0, solver, T, dts, reference="fine", metric="w2", weights=None,
                potential=None, fit_range=None, *, score=None, reference_solver=None, refine=16,
                drop_coarsest=False, roundoff=1e-12, label=None, progress=False,
                simulate_kwargs=None):
    """Measure the order of convergence of ``solver`` on ``problem`` at time ``T``.

    Parameters
    ----------
    problem : W1Flow, W2Flow, MeanFieldODE, …
        What flows.
    x0 : array_like, shape (n, d)
        Initial particles.
    solver : Solver
        The method under study (``Euler()``, ``Heun()``, ``RK4()``, ``CappedEuler()``).
    T : float
        Time at which the error is measured.
    dts : sequence of float
        Step sizes (a halving ladder from :func:`dt_ladder` is the usual choice). ``T/dt`` need
        not be an integer: ``simulate`` shortens the last step.
    reference : "fine", callable or FlowResult
        ``"fine"``: :func:`fine_reference` with ``reference_solver`` (RK4) at
        ``min(dts)/refine``. A callable ``reference(x0, weights, T)`` (``weights`` as given
        here, None for uniform) returns the exact positions (shape like ``x0``) or a cloud
        ``(points, weights)``. A FlowResult: its final state.
    metric : {"w2", "w1", "max"}
        How far the final cloud is from the reference (see the module docstring).
    weights : array_like, optional
        Particle weights.
    potential : PotentialOracle, optional
        Oracle for W1 flows (the problem's default otherwise).
    fit_range : (float, float), optional
        Only fit dts in ``[dt_min, dt_max]``.
    score : array of bool or int, optional
        With ``metric="max"``: only these particles count (e.g. :func:`clearance_mask`).
    reference_solver : Solver, optional
        Solver of the fine reference (default RK4).
    refine : int
        The fine reference uses ``min(dts)/refine``.
    drop_coarsest : bool
        Leave the largest dt out of the fit (pre-asymptotic).
    roundoff : float
        Relative round-off level: errors below ``roundoff · max(1, max|x_ref|)`` are left out
        of the fit.
    label : str, optional
        Legend name (default: the solver's name).
    progress : bool
        Show a tqdm bar over the step sizes.
    simulate_kwargs : dict, optional
        Extra arguments for :func:`~w1flow.simulate` (e.g. ``split=True``).

    Returns
    -------
    ConvergenceResult
    """
    from .simulate import simulate

    start = time.perf_counter()
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {_METRICS}, got {metric!r}.")
    T = as_positive_float(T, "T")
    dts = np.sort(np.asarray(dts, dtype=float).ravel())[::-1]
    if dts.size < 2 or not np.all(np.isfinite(dts)) or np.any(dts <= 0):
        raise ValueError(f"dts must hold at least two positive step sizes, got {dts!r}.")
    x0 = as_points(x0, "x0")
    a = as_weights(weights, x0.shape[0], "weights")
    if score is not None and metric != "max":
        raise ValueError("score= selects particles by label; it needs metric='max'.")
    kwargs = dict(simulate_kwargs or {})
    kwargs.setdefault("record_w1", False)

    # reference
    if isinstance(reference, str):
        if reference != "fine":
            raise ValueError(f"reference must be 'fine', a callable or a FlowResult; got {reference!r}.")
        ref_kwargs = {k: v for k, v in kwargs.items() if k != "split"}
        ref = fine_reference(problem, x0, T, float(dts.min()) / refine, potential=potential,
                             weights=weights, solver=reference_solver, save_every=2**30, **ref_kwargs)
        xr, ar = _final(ref)
    elif hasattr(reference, "x_final"):
        xr, ar = _final(reference)
    elif callable(reference):
        xr, ar = _as_cloud(reference(x0, weights, T), a)
    else:
        raise TypeError(f"reference must be 'fine', a callable or a FlowResult; got {reference!r}.")
    check_same_dimension(x0, xr, "x0", "reference")
    if score is not None:
        score = np.asarray(score)
        if score.dtype == bool and score.shape != (x0.shape[0],):
            raise ValueError(f"score mask must have shape ({x0.shape[0]},), got {score.shape}.")

    errors = np.empty(dts.size)
    it = dts
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(dts, desc=f"order study {label or solver.name}", unit="dt", leave=False)
    for k, dt in enumerate(it):
        # the user's weights, not the normalised copy: normalising uniform weights twice can
        # leave a ~1e-16 mismatch that makes the exact plan split
        res = simulate(problem, x0, T, float(dt), solver=solver, potential=potential, weights=weights,
                       save_every=2**30, **kwargs)
        x, w = _final(res)
        errors[k] = _error(metric, x, w, xr, ar, score)
    level = roundoff * max(1.0, float(np.max(np.abs(xr))))
    slope, intercept, used, fr = fit_order(dts, errors, level, fit_range, drop_coarsest)
    return ConvergenceResult(
        dts=dts, errors=errors, slope=slope, intercept=intercept, fit_range=fr, metric=metric,
        used=used, roundoff=level, label=label if label is not None else solver.name,
        wall_time=time.perf_counter() - start,
    )


# --------------------------------------------------------------------------------------------
# Closed forms
# --------------------------------------------------------------------------------------------
def w2_flow_closed_form(x0, T_map_targets, t):
    """The W2 flow ``Y_t = e^{−t} Y_0 + (1 − e^{−t}) T(Y_0)`` (Huang & Malik).

    ``T_map_targets`` are the optimal-map targets ``T(Y_0)`` of the initial particles (e.g.
    ``W2Flow(y).target_map(x0, a)[0]``); the pairing never changes along the flow.
    """
    x0 = as_points(x0, "x0")
    T_map_targets = as_points(T_map_targets, "T_map_targets", dim=x0.shape[1])
    if T_map_targets.shape != x0.shape:
        raise ValueError(f"T_map_targets must have shape {x0.shape}, got {T_map_targets.shape}.")
    s = math.exp(-float(t))
    return s * x0 + (1.0 - s) * T_map_targets


def _linear_coeffs(A, B, m, d):
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    B = np.atleast_2d(np.asarray(B, dtype=np.float64))
    m = np.zeros(d) if m is None else np.asarray(m, dtype=np.float64).reshape(-1)
    if A.shape != (d, d) or B.shape != (d, d) or m.shape != (d,):
        raise ValueError(f"A and B must be ({d}, {d}) and m ({d},); got {A.shape}, {B.shape}, {m.shape}.")
    return A, B, m


def linear_mean_field_drift(A, B, m=None):
    """Drift of the linear McKean–Vlasov ODE ``dY = A(Y − E[Y]) + B(E[Y] − m)``.

    Use with :class:`~w1flow.MeanFieldODE`; ``E[Y] = Σ_i a_i Y_i`` is the weighted mean.
    """
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    d = A.shape[0]
    A, B, m = _linear_coeffs(A, B, m, d)

    def drift(x, a, t):
        mean = a @ x
        return (x - mean) @ A.T + (mean - m) @ B.T

    drift.__name__ = "linear_mean_field"
    return drift


def linear_mean_field_closed_form(A, B, m, x0, a, t):
    """Exact solution of ``dY = A(Y − E[Y]) + B(E[Y] − m)`` at time ``t``.

    The mean obeys ``dE/dt = B(E − m)`` and each deviation ``Y_i − E`` obeys ``dD/dt = A D``, so

    .. math::  Y_i(t) = m + e^{tB}(E_0 − m) + e^{tA}(x_i − E_0),\\qquad E_0 = Σ_i a_i x_i.
    """
    from scipy.linalg import expm

    x0 = as_points(x0, "x0")
    a = as_weights(a, x0.shape[0], "a")
    A, B, m = _linear_coeffs(A, B, m, x0.shape[1])
    t = float(t)
    mean0 = a @ x0
    mean_t = m + expm(t * B) @ (mean0 - m)
    return mean_t[None, :] + (x0 - mean0) @ expm(t * A).T


def _capped_pieces(x0, a, y, b):
    x0, a, y, b = validate_measures(x0, a, y, b)
    lp = solve_w1_lp(x0, a, y, b)
    if not lp.success:
        raise metrics.LPError(lp.message)
    return x0, y, lp


def capped_flow_closed_form(x0, a, y, b, t):
    """Positions at time ``t`` of the capped W1 flow along the initial optimal plan.

    Each piece ``G_ij > 0`` of the exact plan (the same LP as :class:`~w1flow.ExactPotential`)
    starts at ``x_i`` and moves at unit speed toward ``y_j``, stopping on arrival; the plan stays
    optimal, which is why this is the W1 flow (in 1-D it equals the quantile flow).

    Returns
    -------
    z : ndarray, shape (k, d)
        Positions of the pieces (one per particle when the plan does not split).
    w : ndarray, shape (k,)
        Their masses.
    parent : ndarray of int
        The particle each piece comes from.
    """
    x0, y, lp = _capped_pieces(x0, a, y, b)
    from .potentials.exact import unit_directions

    start, end = x0[lp.rows], y[lp.cols]
    direction, dist = unit_directions(start, end)
    t = float(t)
    z = start + np.minimum(t, dist)[:, None] * direction
    arrived = t >= dist
    z[arrived] = end[arrived]
    return z, lp.mass.copy(), lp.rows.copy()


def capped_w1_closed_form(x0, a, y, b, t):
    """W1 to the data along the capped flow: ``Σ_ij G_ij (|x_i − y_j| − t)^+`` (t scalar or array)."""
    x0, y, lp = _capped_pieces(x0, a, y, b)
    dist = np.sqrt(np.sum((x0[lp.rows] - y[lp.cols]) ** 2, axis=1))
    tt = np.asarray(t, dtype=np.float64)
    out = np.maximum(dist[None, :] - tt.reshape(-1, 1), 0.0) @ lp.mass
    return float(out[0]) if tt.ndim == 0 else out.reshape(tt.shape)


def tanh_critic_drift(dim, width=16, seed=0, scale=1.0):
    """Drift ``−∇f`` of a frozen random one-hidden-layer tanh critic ``f(x) = w₂·tanh(W₁x + b₁)``.

    A smooth (analytic) field with bounded derivatives, for order tests of the steppers on the
    kind of field a neural critic gives. Returns the drift ``(x, a, t) -> (n, d)`` with the
    critic's value function as ``drift.critic`` and parameters as ``drift.params``.
    """
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((width, dim)) * (scale / math.sqrt(dim))
    b1 = rng.standard_normal(width) * 0.5
    w2 = rng.standard_normal(width) / math.sqrt(width)

    def drift(x, a, t):
        h = np.tanh(x @ W1.T + b1)
        return -((1.0 - h * h) * w2) @ W1

    def critic(x):
        return np.tanh(np.asarray(x, dtype=float) @ W1.T + b1) @ w2

    drift.__name__ = "tanh_critic"
    drift.critic = critic
    drift.params = {"W1": W1, "b1": b1, "w2": w2}
    return drift
