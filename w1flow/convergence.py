"""Convergence verification: measured orders of the time steppers against closed forms.

:func:`order_study` runs one problem with a ladder of step sizes, measures the error at a fixed
time ``T`` against a reference (a closed form, or a fine high-order solution), and fits the order
by least squares on ``log(error)`` against ``log(dt)`` (the diffrax ``test_ode_order`` pattern),
leaving out errors at round-off level.

Errors are measured with a metric that matches what the flow defines:

* ``"w1"`` / ``"w2"``: Wasserstein distance between the final cloud and the reference cloud
  (permutation invariant: use it when particles can swap roles, e.g. W1 flows after arrivals);
* ``"max"``: ``max_i |x_i − x_i^ref|`` where particle labels are kept (smooth mean-field ODEs).

Closed-form oracles (functions of the initial state and the time) live in
:mod:`w1flow.closed_forms` and are re-exported here: the W2 flow, the linear McKean–Vlasov ODE,
the capped W1 flow and its W1, the exact 1-D (quantile) flow, and a frozen tanh critic's drift.

See ``docs/convergence.md`` for the oracles and the measured slopes.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field as dc_field

import numpy as np

from . import metrics
from ._validation import as_int, as_points, as_positive_float, as_weights, check_same_dimension
from .closed_forms import (capped_flow_closed_form, capped_w1_closed_form, linear_mean_field_closed_form,
                           linear_mean_field_drift, tanh_critic_drift, w2_flow_closed_form)
from .saving import SaveAt

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
        """Log-log plot of error against dt (see :func:`w1flow.plotting.plot_convergence`)."""
        from .plotting import plot_convergence

        return plot_convergence(self, ax=ax, label=label, reference_slopes=reference_slopes, floor=floor,
                                **kwargs)

    def __repr__(self):
        fr = "None" if self.fit_range is None else f"({self.fit_range[0]:.3g}, {self.fit_range[1]:.3g})"
        return (f"ConvergenceResult({self.label or self.metric}: slope={self.slope:.4g}, "
                f"fit_range={fr}, errors={np.array2string(self.errors, precision=3)})")


def dt_ladder(dt_max, levels):
    """``dt_max / 2**k`` for ``k = 0 … levels − 1`` (a halving ladder, largest first)."""
    dt_max = as_positive_float(dt_max, "dt_max")
    levels = as_int(levels, "levels", 2)
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
    simulate_kwargs.setdefault("saveat", SaveAt(every=save_every, w1=None))
    res = simulate(problem, x0, T, dt, solver=solver, potential=potential, weights=weights, **simulate_kwargs)
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
        Extra arguments for :func:`~w1flow.simulate` (e.g. ``monitors=None``).

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
    old = sorted(set(kwargs) & {"record_w1", "save_every", "w1_method", "saveat"})
    if old:
        warnings.warn(f"order_study saves only the final state and records no W1; simulate_kwargs {old} "
                      "are ignored (and deprecated since w1flow 0.2).", DeprecationWarning, stacklevel=2)
        for key in old:
            kwargs.pop(key)
    kwargs["saveat"] = SaveAt(every=2**30, w1=None)  # only the final state

    # reference
    if isinstance(reference, str):
        if reference != "fine":
            raise ValueError(f"reference must be 'fine', a callable or a FlowResult; got {reference!r}.")
        ref_kwargs = {k: v for k, v in kwargs.items() if k not in ("split", "saveat")}
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
                       **kwargs)
        x, w = _final(res)
        errors[k] = _error(metric, x, w, xr, ar, score)
    level = roundoff * max(1.0, float(np.max(np.abs(xr))))
    slope, intercept, used, fr = fit_order(dts, errors, level, fit_range, drop_coarsest)
    return ConvergenceResult(
        dts=dts, errors=errors, slope=slope, intercept=intercept, fit_range=fr, metric=metric,
        used=used, roundoff=level, label=label if label is not None else solver.name,
        wall_time=time.perf_counter() - start,
    )
