"""Closed forms: exact solutions the solvers are tested against, each written once.

Each function starts from the initial state (and, for W1 flows, solves its own LP) and needs no
solver, so tests, the CLI demo and :mod:`w1flow.convergence` compare the solvers with them.

* :func:`capped_flow_closed_form` / :func:`capped_w1_closed_form`: the capped W1 flow along the
  initial optimal plan (each piece at unit speed toward its target, stopping on arrival), and
  its W1, ``Σ_ij G_ij (|x_i − y_j| − t)^+``;
* :func:`quantile_flow` / :func:`quantile_flow_w1`: the same flow in 1-D with the monotone plan
  (the exact 1-D W1 flow, in quantile coordinates);
* :func:`w2_flow_closed_form`: the W2 flow ``Y_t = e^{−t} Y_0 + (1 − e^{−t}) T(Y_0)``;
* :func:`linear_mean_field_drift` / :func:`linear_mean_field_closed_form`:
  ``dY = A(Y − E[Y]) + B(E[Y] − m)``, solved by matrix exponentials;
* :func:`tanh_critic_drift`: the drift of a frozen smooth tanh critic (an oracle for orders).
"""

from __future__ import annotations

import math

import numpy as np

from .lp import LPError, monotone_plan, solve, unit_directions
from ._validation import as_points, as_weights, check_same_dimension, require_1d, validate_measures

__all__ = [
    "capped_w1",
    "capped_flow_closed_form",
    "capped_w1_closed_form",
    "quantile_flow",
    "quantile_flow_w1",
    "w2_flow_closed_form",
    "linear_mean_field_drift",
    "linear_mean_field_closed_form",
    "tanh_critic_drift",
]


# --------------------------------------------------------------------------------------------
# The capped W1 flow (any dimension) and its 1-D form
# --------------------------------------------------------------------------------------------
def capped_w1(lengths, masses, t):
    """``Σ_k masses_k (lengths_k − t)^+``: W1 along the capped flow of rays of these lengths.

    ``t`` may be a scalar (returns a float) or an array of times (returns their shape).
    """
    tt = np.asarray(t, dtype=np.float64)
    out = np.maximum(np.asarray(lengths)[None, :] - tt.reshape(-1, 1), 0.0) @ np.asarray(masses)
    return float(out[0]) if tt.ndim == 0 else out.reshape(tt.shape)


def _along_rays(start, end, t):
    """``start`` moved at unit speed toward ``end`` for time t, landing exactly on arrival."""
    direction, dist = unit_directions(start, end)
    t = float(t)
    z = start + np.minimum(t, dist)[:, None] * direction
    arrived = t >= dist
    z[arrived] = end[arrived]
    return z


def _capped_pieces(x0, a, y, b):
    x0, a, y, b = validate_measures(x0, a, y, b)
    lp = solve(x0, a, y, b, method="dense")
    if not lp.success:
        raise LPError(lp.message)
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
    z = _along_rays(x0[lp.rows], y[lp.cols], t)
    return z, lp.mass.copy(), lp.rows.copy()


def capped_w1_closed_form(x0, a, y, b, t):
    """W1 to the data along the capped flow: ``Σ_ij G_ij (|x_i − y_j| − t)^+`` (t scalar or array)."""
    x0, y, lp = _capped_pieces(x0, a, y, b)
    dist = np.sqrt(np.sum((x0[lp.rows] - y[lp.cols]) ** 2, axis=1))
    return capped_w1(dist, lp.mass, t)


def _inputs_1d(x0, a, y, b):
    x0 = as_points(x0, "x0")
    y = as_points(y, "y")
    check_same_dimension(x0, y, "x0", "y")
    require_1d(x0, "the quantile flow")
    a = as_weights(a, x0.shape[0], "a")
    b = as_weights(b, y.shape[0], "b")
    return x0, a, y, b


def quantile_flow(x0, a, y, b, t):
    """Positions at time ``t`` of the exact 1-D W1 flow, in quantile (sub-particle) form.

    Every quantile level moves at unit speed toward the data's quantile and stops there, so the
    pieces of the monotone plan ``x_i → y_j`` are the capped flow in 1-D.

    Parameters
    ----------
    x0 : array_like, shape (n,) or (n, 1)
        Initial particles.
    a : array_like or None
        Their weights (uniform if None).
    y : array_like, shape (m,) or (m, 1)
        Data.
    b : array_like or None
        Data weights (uniform if None).
    t : float
        Time ``>= 0``.

    Returns
    -------
    z : ndarray, shape (k, 1)
        Positions of the pieces of the monotone plan, ``x_i`` moved at unit speed toward ``y_j``
        and stopped on arrival.
    w : ndarray, shape (k,)
        Their masses ``G_ij`` (a probability vector).
    parent : ndarray of int, shape (k,)
        Index in ``x0`` of each piece (with equal weights and n = m: a permutation of
        ``arange(n)``, and ``z[argsort(parent)]`` are the particles' positions).
    """
    x0, a, y, b = _inputs_1d(x0, a, y, b)
    t = float(t)
    if not t >= 0:
        raise ValueError(f"t must be >= 0, got {t}.")
    rows, cols, mass = monotone_plan(x0[:, 0], a, y[:, 0], b)
    return _along_rays(x0[rows], y[cols], t), mass, rows


def quantile_flow_w1(x0, a, y, b, t):
    """W1 to the data along the exact 1-D flow: ``Σ_k G_k (|x_{r_k} − y_{c_k}| − t)^+``.

    ``t`` may be a scalar or an array of times (the result has its shape).
    """
    x0, a, y, b = _inputs_1d(x0, a, y, b)
    rows, cols, mass = monotone_plan(x0[:, 0], a, y[:, 0], b)
    return capped_w1(np.abs(x0[rows, 0] - y[cols, 0]), mass, t)


# --------------------------------------------------------------------------------------------
# The W2 flow
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


# --------------------------------------------------------------------------------------------
# Linear McKean–Vlasov ODE
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# A frozen smooth critic
# --------------------------------------------------------------------------------------------
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
