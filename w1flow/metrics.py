"""Distances between weighted point clouds: exact W1 and W2, and sliced W1.

All costs come from direct differences (no Gram expansion), so clouds that nearly coincide
give distances accurate to round-off.
"""

from __future__ import annotations

import numpy as np
import ot

from .lp import DEFAULT_MEMORY_BUDGET, LPError, method_for, solve_w2_lp, w1_value
from ._validation import as_bool_or_auto, as_positive_int, as_rng, validate_measures

__all__ = ["w1", "w2", "sliced_w1", "w1_to_normal", "w1_circle", "LPError"]


def _clouds(x, y, a, b, coords=None):
    x, a, y, b = validate_measures(x, a, y, b)
    if coords is not None:
        idx = select_coords(coords, x.shape[1])
        x, y = np.ascontiguousarray(x[:, idx]), np.ascontiguousarray(y[:, idx])
    return x, y, a, b


def select_coords(coords, d):
    """The column indices ``coords`` selects among ``d`` (an int, a sequence, a range or a slice);
    raises ``ValueError`` naming ``coords``."""
    if isinstance(coords, slice):
        idx = np.arange(d)[coords]
    else:
        idx = np.atleast_1d(np.asarray(list(coords) if isinstance(coords, range) else coords))
    if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu" or idx.min() < -d or idx.max() >= d:
        raise ValueError(f"coords must select columns of the {d} coordinates (e.g. coords=range(2) for the "
                         f"positions of a second-order state); got {coords!r}.")
    return idx


def w1(x, y, a=None, b=None, max_memory=DEFAULT_MEMORY_BUDGET, coords=None, sparse=None, method="auto"):
    """Exact Wasserstein-1 distance between weighted clouds.

    .. math::  W_1(μ, ν) = \\min_{G ∈ Π(a, b)} Σ_{ij} G_{ij} |x_i − y_j|

    Parameters
    ----------
    x : array_like, shape (n, d)
    y : array_like, shape (m, d)
    a, b : array_like, optional
        Weights (uniform by default), normalised to total mass 1.
    max_memory : float or None
        Budget in bytes for the dense matrices of the LP (past it, ``method="auto"`` solves the
        sparse LP and ``method="dense"`` raises :class:`~w1flow.MemoryBudgetError`).
    coords : int, sequence, range or slice, optional
        Compare only these coordinates (e.g. ``range(d)``: the positions of a second-order
        state ``[q, v]``, whose velocities have other units).
    sparse : bool or "auto", optional
        The 0.1 keyword (not with ``method``): ``True`` is ``method="sparse"``, ``False``
        ``method="dense"``, ``"auto"`` ``method="auto"``.
    method : {"auto", "dense", "sparse"}
        ``"auto"`` (default): the dense LP (POT's network simplex, the value of w1flow 0.1) below
        ``n·m = 10⁶`` (:data:`w1flow.lp.SPARSE_MIN_PAIRS`) when its matrices fit
        ``max_memory``, else w1flow's certified sparse LP, which holds no n × m matrix and is
        faster from there on (:func:`w1flow.lp.solve`). ``"dense"``, ``"sparse"``: that LP whatever the size.
        Ignored in 1-D (closed form).

    Returns
    -------
    float
        W1 in the units of the coordinates. In 1-D it is the exact ``∫|F_μ − F_ν|``.

    Raises
    ------
    LPError
        If the LP does not reach optimality (or the sparse LP cannot be certified).
    """
    x, y, a, b = _clouds(x, y, a, b, coords)
    if method not in ("auto", "dense", "sparse"):
        raise ValueError(f"method must be 'auto', 'dense' or 'sparse'; got {method!r}.")
    if sparse is not None:
        sparse = as_bool_or_auto(sparse, "sparse")  # np.True_ is True; 1 and "yes" are refused
        if method != "auto":
            raise ValueError(f"method={method!r} and the 0.1 keyword sparse= are two ways to choose the LP; pass "
                             "one of them.")
        method = method_for(sparse)
    res = w1_value(x, a, y, b, max_memory, method=method)
    if not res.success:
        raise LPError(res.message)
    return res.cost


def w2(x, y, a=None, b=None, max_memory=DEFAULT_MEMORY_BUDGET, coords=None):
    """Exact Wasserstein-2 distance ``(min_G Σ G_ij |x_i − y_j|²)^{1/2}``.

    Costs are squared direct differences; ``coords`` selects coordinates as for :func:`w1`.
    Raises :class:`LPError` if the LP fails.
    """
    x, y, a, b = _clouds(x, y, a, b, coords)
    lp = solve_w2_lp(x, a, y, b, max_memory, what="w2")
    if not lp.success:
        raise LPError(f"W2 LP not optimal (result_code={lp.log['result_code']}): {lp.log.get('warning')}")
    return lp.w2


def sliced_w1(x, y, a=None, b=None, n_projections=200, seed=None, coords=None):
    """Monte-Carlo sliced W1: the mean over random unit directions θ of W1(θ·μ, θ·ν).

    Exact 1-D W1 per direction (quantile formula); O((n + m) log(n + m)) per projection, so it
    scales to large clouds. ``seed`` (int or ``np.random.Generator``) makes it reproducible.
    Sliced W1 is a lower bound: ``sliced_w1 <= w1``. ``coords`` selects coordinates as for
    :func:`w1`.
    """
    x, y, a, b = _clouds(x, y, a, b, coords)
    n_projections = as_positive_int(n_projections, "n_projections")
    rng = as_rng(seed)
    d = x.shape[1]
    theta = rng.standard_normal((n_projections, d))
    theta /= np.linalg.norm(theta, axis=1, keepdims=True)
    px, py = x @ theta.T, y @ theta.T
    vals = ot.wasserstein_1d(px, py, a, b, p=1)
    return float(np.mean(vals))


def w1_to_normal(x, mean, std, a=None):
    """Exact W1 between a weighted cloud on the line and the normal law ``N(mean, std²)``.

    .. math::  W_1 = \\int_0^1 |Q_μ(u) − Q(u)|\\,du = Σ_i \\int_{Q^{-1}(U_{i-1})}^{Q^{-1}(U_i)} |x_{(i)} − z|\\,φ(z)\\,dz,

    with ``x_(i)`` sorted, ``U_i`` the cumulative weights and φ the normal density: each piece in
    closed form through Φ and φ (``∫ z φ = m Φ − s² φ``). Used to measure how far an N-particle
    ensemble is from a Gaussian McKean–Vlasov law (propagation of chaos).

    Parameters
    ----------
    x : array_like, shape (n,) or (n, 1)
    mean, std : float
        The normal law (``std > 0``).
    a : array_like, optional
        Weights (uniform by default), normalised to total mass 1.

    Returns
    -------
    float
    """
    from scipy.special import ndtr, ndtri

    from ._validation import as_float, as_points, as_weights

    x = as_points(x, "x")
    if x.shape[1] != 1:
        raise ValueError(f"w1_to_normal compares clouds on the line; x has {x.shape[1]} coordinates.")
    a = as_weights(a, x.shape[0], "a")
    m = as_float(mean, "mean")
    s = as_float(std, "std", 0.0, low_open=True)
    order = np.argsort(x[:, 0], kind="stable")
    c, w = x[order, 0], a[order]
    cum = np.concatenate([[0.0], np.cumsum(w)])
    cum[-1] = 1.0
    lo = m + s * ndtri(np.clip(cum[:-1], 0.0, 1.0))  # the normal quantiles bounding each piece
    hi = m + s * ndtri(np.clip(cum[1:], 0.0, 1.0))

    def mass(u, v):  # ∫_u^v φ
        return ndtr((v - m) / s) - ndtr((u - m) / s)

    def first(u, v):  # ∫_u^v z φ(z) dz
        pdf = lambda z: np.where(np.isfinite(z), np.exp(-0.5 * ((z - m) / s) ** 2) / np.sqrt(2 * np.pi), 0.0)  # noqa: E731
        return m * mass(u, v) - s * (pdf(v) - pdf(u))

    mid = np.clip(c, lo, hi)  # |c − z| changes sign at z = c
    below = c * mass(lo, mid) - first(lo, mid)  # z < c
    above = first(mid, hi) - c * mass(mid, hi)  # z > c
    return float(np.sum(below + above))


def w1_circle(theta, phi, a=None, b=None, period=2 * np.pi):
    """Exact W1 between weighted clouds on the circle ``R / (period Z)``, geodesic cost.

    .. math::  W_1(μ, ν) = \\min_{α ∈ R} \\int_0^{L} |F_μ(s) − F_ν(s) − α|\\,ds

    (Rabin, Delon & Gousseau 2011): the cumulative distributions are taken from any origin,
    and the best shift α is a median of ``F_μ − F_ν`` under the length measure. Phases need
    not be wrapped (they are reduced modulo ``period``). Use it for Kuramoto phases, where the
    distance on the line would count 2π as far apart.

    Parameters
    ----------
    theta : array_like, shape (n,) or (n, 1)
    phi : array_like, shape (m,) or (m, 1)
    a, b : array_like, optional
        Weights (uniform by default), normalised to total mass 1.
    period : float
        The circumference L (2π by default).

    Returns
    -------
    float
    """
    from ._validation import as_float, as_points, as_weights

    L = as_float(period, "period", 0.0, low_open=True)
    x = as_points(theta, "theta")
    y = as_points(phi, "phi")
    for name, arr in (("theta", x), ("phi", y)):
        if arr.shape[1] != 1:
            raise ValueError(f"w1_circle takes phases (one coordinate); {name} has {arr.shape[1]}.")
    a = as_weights(a, x.shape[0], "a")
    b = as_weights(b, y.shape[0], "b")
    pts = np.concatenate([np.mod(x[:, 0], L), np.mod(y[:, 0], L)])
    mass = np.concatenate([a, -b])  # F_μ − F_ν jumps by a_i at θ_i and by −b_j at φ_j
    order = np.argsort(pts, kind="stable")
    pts, mass = pts[order], mass[order]
    cuts = np.concatenate([pts, [L]])
    lengths = np.diff(cuts)  # D is constant on [pts_k, pts_{k+1}); before pts_0 it is 0
    D = np.cumsum(mass)
    lengths = np.concatenate([[pts[0]], lengths])
    D = np.concatenate([[0.0], D])
    # a weighted median of D under the lengths minimises Σ ℓ_k |D_k − α|
    idx = np.argsort(D, kind="stable")
    cum = np.cumsum(lengths[idx])
    alpha = D[idx][np.searchsorted(cum, 0.5 * cum[-1])]
    return float(np.sum(lengths * np.abs(D - alpha)))
