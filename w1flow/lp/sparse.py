"""The exact W1 LP from a cold start without any n × m matrix: coarse to fine, then the certified
network simplex (:func:`~w1flow.lp.netsimplex.warm_solve`) with column generation.

Both clouds are cut into balanced k-d leaves, the exact LP between the leaves' centroids is solved
(densely, or by this module one level further up), and its plan is refined to a feasible plan of
the fine problem by north-west corner rules; its support, completed to a spanning tree
(:func:`~w1flow.lp.netsimplex.basis_from_plan`) under data duals extended from the coarse level
(the c-transform of the coarse particle duals), starts the simplex.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numba
import numpy as np

from .costs import c_transform
from .netsimplex import TransportBasis, WarmSolveResult, _argsort_stable, _buckets, basis_from_plan, warm_solve

logger = logging.getLogger(__name__)

__all__ = ["SparseSolveResult", "solve_sparse", "coarse_basis", "coarse_start", "kd_groups", "kd_order"]

@dataclass(frozen=True)
class SparseSolveResult(WarmSolveResult):
    """What :func:`solve_sparse` returns: the fields of :class:`~w1flow.lp.netsimplex.WarmSolveResult`
    (``ok``: certified optimal over all pairs), in the caller's order, and

    Attributes
    ----------
    basis : TransportBasis
        The optimal basis, to warm-start a later solve.
    info : dict
        The coarse level: ``leaf``, ``coarse_shape``, ``coarse_seconds`` (the coarse LP),
        ``levels`` and ``basis_seconds`` (the whole starting basis, coarse LP included).
    """

    basis: TransportBasis = None
    info: Any = None


#: Column generation of a cold solve (:func:`solve_sparse`): from a coarse start many rows violate
#: for many rounds, and more columns per round cut the rounds (n = 3·10⁴ demo, measured: 35 rounds
#: and 158 s with the warm solves' 8 and 16; 23 rounds, 110 s with 16 and 32; 16 rounds, 100 s with
#: 32 and 64 (and pricing blocks of 0.35 sqrt(arcs))).
COLD_ADD_PER_ROW = 32
COLD_MAX_ARCS_PER_NODE = 64
#: The arcs per node a cold solve's prune keeps (half of :data:`COLD_MAX_ARCS_PER_NODE`; a warm
#: solve keeps :data:`~w1flow.lp.netsimplex.KEEP_PER_NODE`). Down to 4 a node, a prune dropped
#: columns tight within round-off that later passes listed again a few dozen rows at a time: the
#: n = 10⁵ demo with a prune forced at 24 arcs a node took 13 rounds (the last ones 10 to 16 rows
#: violated by about 1e-7) against 7 without a prune; keeping 8 or 12 a node, 8 rounds. The buffers
#: (:data:`COLD_MAX_ARCS_PER_NODE` a node plus a round) and so the peak memory are unchanged.
COLD_KEEP_PER_NODE = 32
#: Each row's cheapest columns under the start duals listed with the starting basis
#: (:func:`basis_from_plan`'s ``per_row``; the warm solves of a flow list 4). Measured, quiet 2
#: cores, whole cold solves, 4 → 8: demo 3·10⁴ 10.4 → 9.2 s (1.59 → 1.00 M pivots, 7 → 6
#: rounds), Gaussian pair 3·10⁴ 9.2 → 7.4 s (1.71 → 1.01 M), demo 10⁴ 2.03 → 1.85 s, Gaussian
#: pair 10⁴ 1.91 → 1.75 s; 6 and 12 took more pivots than 8 at 3·10⁴ (demo 9.0, 11.8 s; Gaussians
#: 8.4, 8.3 s). Chosen on these two instances at these sizes only.
COLD_COMPLETION_PER_ROW = 8
#: Points per k-d leaf of :func:`coarse_basis`. A finer coarse level starts the simplex closer to
#: the optimum, and the levels above cost less than the pivots they save (quiet 2 cores, d = 2,
#: the whole solve, leaves of 8 with dense coarse LPs up to 4096 a side → leaves of 4 up to 2048:
#: demo n = 10⁴ 2.78 → 1.99 s, Gaussian pair 10⁴ 2.18 → 1.96 s, demo 3·10⁴ 18.2 → 14.6 s (simplex
#: 9.2 → 7.6 s, 16 → 12 rounds), demo 10⁵ 167.4 → 139.6 s (simplex 95.0 → 76.6 s, passes 33.6 →
#: 18.7 s, 36 → 21 rounds); a dense coarse LP of 4096 a side costs more than a sparse solve of it).
#: Checked again with the coarse rule of 2026-12-06 (demo 3·10⁴, quiet): leaves of 2 / 3 / 4 / 8 took
#: 7.5 / 7.0 / 6.5–6.6 / 8.9 s (0.62 / 0.72 / 1.00 / 1.89 M pivots; 6 builds the same tree as 4 there).
COARSE_LEAF = 4
#: Pieces lighter than this (mass, total 1) in the coarse-to-fine construction are round-off.
PIECE_TOL = 1e-13


def kd_groups(p, leaf):
    """Balanced k-d leaves of the points ``p``: a list of index arrays of at most ``leaf`` points.

    Median splits along the widest coordinate, so leaves are compact and of equal size; leaves
    come depth first, the lower half first.
    """
    perm, starts = _kd_leaves(np.ascontiguousarray(p, dtype=np.float64), int(leaf))
    return np.split(perm, starts[1:-1])


@numba.njit(cache=True)
def _kd_leaves(p, leaf):
    """:func:`kd_groups` as one permutation and the leaves' bounds in it (leaf ``t`` is
    ``perm[starts[t]:starts[t + 1]]``). A split sorts its points along the widest coordinate
    (stably) and cuts at ``size // 2``."""
    n, d = p.shape
    perm = np.arange(n)
    starts = np.empty(n + 1, dtype=np.int64)
    n_leaves = 0
    stack = np.empty((2 * (n + 1), 2), dtype=np.int64)  # (lo, hi) ranges still to split
    stack[0, 0], stack[0, 1] = 0, n
    top = 1
    keys = np.empty(n)
    sorted_perm = np.empty(n, dtype=np.int64)
    while top > 0:
        top -= 1
        lo, hi = stack[top, 0], stack[top, 1]
        if hi - lo <= leaf:
            starts[n_leaves] = lo
            n_leaves += 1
            continue
        dim, width = 0, -1.0
        for c in range(d):
            mn, mx = np.inf, -np.inf
            for t in range(lo, hi):
                z = p[perm[t], c]
                mn = min(mn, z)
                mx = max(mx, z)
            if mx - mn > width:
                dim, width = c, mx - mn
        for t in range(lo, hi):
            keys[t - lo] = p[perm[t], dim]
        o = _argsort_stable(keys, hi - lo)
        for t in range(hi - lo):  # (loops, not slice assignments: their shape checks compile for seconds)
            sorted_perm[t] = perm[lo + o[t]]
        for t in range(hi - lo):
            perm[lo + t] = sorted_perm[t]
        h = (hi - lo) // 2
        stack[top, 0], stack[top, 1] = lo + h, hi
        stack[top + 1, 0], stack[top + 1, 1] = lo, lo + h
        top += 2
    starts[n_leaves] = n
    return perm, starts[: n_leaves + 1].copy()


def _as_ranges(groups):
    """Leaves (a list of index arrays) as one permutation and bounds, as :func:`_kd_leaves` gives."""
    return (np.concatenate(groups).astype(np.int64),
            np.cumsum([0] + [g.size for g in groups]).astype(np.int64))


def _nw_pieces(w1, g1, w2, g2):
    """North-west corner couplings, group by group, of two mass sequences: (k1, k2) pieces.

    ``g1`` and ``g2`` are the (non-decreasing) group labels of the two sequences; within a group
    both sides carry the same total up to round-off. Each side's cumulative mass is taken as a
    fraction of its group's total, so group boundaries fall on exactly the same keys on both
    sides and no piece straddles two groups (a global cumulative sum drifts by round-off over
    thousands of groups and couples neighbouring groups, which closes cycles).
    """
    def keys(w, g):
        c = np.cumsum(w)
        first = np.r_[True, g[1:] != g[:-1]]
        ordinal = np.cumsum(first) - 1
        starts = np.flatnonzero(first)
        ends = np.r_[starts[1:] - 1, w.size - 1]
        base = c[starts] - w[starts]  # cumulative mass before each group
        total = c[ends] - base
        local = c - base[ordinal]
        tot = total[ordinal]
        frac = np.where(tot > 0, local / np.where(tot > 0, tot, 1.0), 1.0)
        frac[ends] = 1.0
        return g + np.clip(frac, 0.0, 1.0)

    k1, k2 = keys(w1, g1), keys(w2, g2)
    breaks = np.union1d(k1, k2)
    group = np.ceil(breaks) - 1  # a piece (lo, hi] lies in group ceil(hi) - 1
    lo = np.maximum(np.concatenate(([-np.inf], breaks[:-1])), group)
    width = breaks - lo
    keep = width > PIECE_TOL
    mid = 0.5 * (lo + breaks)[keep]
    i1 = np.minimum(np.searchsorted(k1, mid), k1.size - 1)
    i2 = np.minimum(np.searchsorted(k2, mid), k2.size - 1)
    ok = (g1[i1] == group[keep]) & (g2[i2] == group[keep])
    return i1[ok], i2[ok], width[keep][ok]


def _side_order(gperm, gstart, centers, arc_group, arc_other, other_centers, pts):
    """Points in group order and, inside a group, along the spread of its arcs' far ends; arcs
    (coarse plan entries) in the same group order and along the same direction.

    Groups are given as one permutation ``gperm`` and bounds ``gstart`` (group ``g`` is
    ``gperm[gstart[g]:gstart[g + 1]]``)."""
    return _side_order_kernel(gperm, gstart, np.ascontiguousarray(centers), np.ascontiguousarray(arc_group),
                              np.ascontiguousarray(arc_other), np.ascontiguousarray(other_centers), pts)


@numba.njit(cache=True)
def _side_order_kernel(gperm, gstart, centers, arc_group, arc_other, other_centers, pts):
    G, d = gstart.shape[0] - 1, pts.shape[1]
    first, arcs_by = _buckets(arc_group.astype(np.int64), G)  # the arcs of each group, in arc order
    point_order = gperm.copy()
    arc_order = arcs_by.copy()
    for g in range(G):
        k = first[g + 1] - first[g]
        if k < 2:
            continue
        far = np.empty((k, d))
        for q in range(k):
            for c in range(d):
                far[q, c] = other_centers[arc_other[arcs_by[first[g] + q]], c] - centers[g, c]
        mean = np.zeros(d)
        for q in range(k):
            for c in range(d):
                mean[c] += far[q, c]
        for c in range(d):
            mean[c] /= k
        centred = np.empty((k, d))
        for q in range(k):
            for c in range(d):
                centred[q, c] = far[q, c] - mean[c]
        direction = np.linalg.svd(centred, full_matrices=False)[2][0]
        proj = np.zeros(k)
        for q in range(k):
            for c in range(d):
                proj[q] += far[q, c] * direction[c]
        o = _argsort_stable(proj, k)
        for q in range(k):
            arc_order[first[g] + q] = arcs_by[first[g] + o[q]]
        lo, hi = gstart[g], gstart[g + 1]
        pp = np.zeros(hi - lo)
        for t in range(lo, hi):
            for c in range(d):
                pp[t - lo] += pts[gperm[t], c] * direction[c]
        o = _argsort_stable(pp, hi - lo)
        for t in range(lo, hi):
            point_order[t] = gperm[lo + o[t - lo]]
    return point_order, arc_order


def coarse_basis(x, a, y, b, leaf=None, groups=None):
    """A feasible basis for the W1 LP built coarse to fine, without any n × m matrix: the plan and
    data duals of :func:`coarse_start`, completed to a strongly feasible spanning tree
    (:func:`basis_from_plan`). :func:`warm_solve` then makes it optimal.

    Returns
    -------
    basis : TransportBasis
    info : dict
        As :func:`coarse_start`'s.
    """
    start = coarse_start(x, a, y, b, leaf=leaf, groups=groups)
    return basis_from_plan(x, a, y, b, start.rows, start.cols, None, start.v, per_row=COLD_COMPLETION_PER_ROW), start.info


def coarse_start(x, a, y, b, leaf=None, groups=None):
    """A feasible plan and data duals for the W1 LP, coarse to fine, without any n × m matrix.

    Both clouds are cut into balanced k-d leaves of at most ``leaf`` points (default
    :data:`COARSE_LEAF`), the exact LP between the leaves' centroids (with their masses) is
    solved (densely below :data:`~w1flow.lp.solver.SPARSE_MIN_PAIRS` pairs of leaves, the rule of
    ``method="auto"``, else by :func:`solve_sparse`, which recurses to a coarser level in turn), and its plan is refined: each
    leaf's points are spread over the leaf's coarse plan entries, and each entry's share of
    particles over its share of data points, by north-west corner rules (three cumulative-sum
    passes). The resulting plan is feasible and its support is a forest. The data duals at the
    fine points are the c-transform of the coarse particle duals over the particle leaves'
    centroids (:func:`~w1flow.lp.costs.c_transform`).

    Returns
    -------
    SimpleNamespace
        ``rows``, ``cols``: the plan's support (its masses follow from the tree); ``v``: the data
        duals, shape (m,); ``coarse``: the coarse LP (``rows``, ``cols``, ``mass``, ``u``, ``v``);
        ``groups``: the leaves ``(gx, gy)``; ``info``: ``leaf``, ``coarse_shape``,
        ``coarse_seconds``, and ``levels`` (coarse levels, 1 when the coarse LP was dense).

    ``groups=(gx, gy)`` passes leaves already computed (by :func:`kd_groups` with ``leaf``).
    """
    from . import solver as _solver  # (imported here: the solver imports this module)
    from .dense import solve_w1_lp

    n, m = x.shape[0], y.shape[0]
    if leaf is None:
        leaf = COARSE_LEAF
    gx, gy = (kd_groups(x, leaf), kd_groups(y, leaf)) if groups is None else groups
    # each side's leaves as one permutation and bounds; masses, centroids, labels vectorised
    (px_, sx_), (py_, sy_) = _as_ranges(gx), _as_ranges(gy)
    A = np.add.reduceat(a[px_], sx_[:-1])
    B = np.add.reduceat(b[py_], sy_[:-1])
    cx = np.add.reduceat(x[px_], sx_[:-1], axis=0) / np.diff(sx_)[:, None]
    cy = np.add.reduceat(y[py_], sy_[:-1], axis=0) / np.diff(sy_)[:, None]
    start = time.perf_counter()
    # the rule of method="auto" (no memory budget: below its pairs the dense LP always fits). Measured:
    # 1.1-1.9x faster cold solves at n = 5000-8000 than dense up to 2048 leaves a side (docs/performance.md)
    dense = _solver.choose_method("auto", len(gx), len(gy), None) == "dense"
    if dense:
        lp = solve_w1_lp(cx, A / A.sum(), cy, B / B.sum())
        ok, message, levels = lp.success, lp.message, 1
        # POT's simplex can cycle on tie-heavy problems (lp.solver.dense_fallback): then the sparse
        # path, one level further up (while the levels still shrink: a 1 x 1 LP cannot fail)
        if not ok and (len(gx) < n or len(gy) < m):
            logger.warning("%s; solving the coarse LP by the sparse path instead", message)
            dense = False
    if not dense:  # the coarse problem is large (or its dense LP failed): the same way, one level further up
        up = solve_sparse(cx, A / A.sum(), cy, B / B.sum())
        ok, message = up.ok, up.message
        lp = SimpleNamespace(rows=up.rows, cols=up.cols, mass=up.mass, u=up.u, v=up.v)
        levels = up.info["levels"] + 1
    coarse_seconds = time.perf_counter() - start
    if not ok:
        raise RuntimeError(f"the coarse LP of the sparse solver failed: {message}")
    F = lp.mass
    # particles -> coarse entries, data -> coarse entries, then entry by entry particles -> data
    xo, ex = _side_order(px_, sx_, cx, lp.rows, lp.cols, cy, x)
    yo, ey = _side_order(py_, sy_, cy, lp.cols, lp.rows, cx, y)
    gid_x, gid_y = np.empty(n), np.empty(m)  # each point's leaf
    gid_x[px_] = np.repeat(np.arange(len(gx), dtype=np.float64), np.diff(sx_))
    gid_y[py_] = np.repeat(np.arange(len(gy), dtype=np.float64), np.diff(sy_))
    kx, kex, wx = _nw_pieces(a[xo], gid_x[xo], F[ex], lp.rows[ex].astype(np.float64))
    ky, key, wy = _nw_pieces(b[yo], gid_y[yo], F[ey], lp.cols[ey].astype(np.float64))
    mx = wx * A[gid_x[xo][kx].astype(np.int64)]  # piece masses: fraction of the group's mass
    my = wy * B[gid_y[yo][ky].astype(np.int64)]
    px_i, px_e = xo[kx], ex[kex]
    py_j, py_e = yo[ky], ey[key]
    sx = np.lexsort((np.arange(px_e.size), px_e))  # pieces grouped by entry, order kept
    sy = np.lexsort((np.arange(py_e.size), py_e))
    k1, k2, _ = _nw_pieces(mx[sx], px_e[sx].astype(np.float64), my[sy], py_e[sy].astype(np.float64))
    rows, cols = px_i[sx][k1], py_j[sy][k2]
    # the data duals at the fine points: the c-transform of the leaves' particle duals, a 1-Lipschitz
    # extension equal to the coarse data duals at the data leaves' centroids (where the coarse plan
    # is tight). Measured, n = 3·10⁴ demo: 15x closer to the optimal duals than each leaf's dual
    # copied to its points, and from it 1.44 M pivots, 7 rounds instead of 2.30 M, 13 (benchmarks/bench_sparse_start.py).
    v_fine = c_transform(y, cx, lp.u, pricing="auto")[0]
    info = {"leaf": int(leaf), "coarse_shape": (len(gx), len(gy)), "coarse_seconds": coarse_seconds, "levels": levels}
    return SimpleNamespace(rows=rows, cols=cols, v=v_fine, coarse=lp, groups=(gx, gy), info=info)


def _relabel(basis, px, py, a, y, b):
    """The same basis with its row k renamed ``px[k]`` and its column k renamed ``py[k]``.

    Arcs keep their positions (``in_tree``, ``flow``, ``pred_arc`` and the pricing position are
    unchanged); node-indexed arrays move to the new names, and the node ids they hold are renamed.
    """
    n, m = basis.n, basis.m
    node = np.concatenate([px, n + py])  # old node id -> new node id

    def ids(arr):  # node ids, keeping the sentinels (-1: none, -2: unreached) as they are
        return np.where(arr >= 0, node[np.maximum(arr, 0)], arr)

    def moved(arr):
        out = np.empty_like(arr)
        out[node] = arr
        return out

    basis.arc_i = np.ascontiguousarray(px[basis.arc_i])
    basis.arc_j = np.ascontiguousarray(py[basis.arc_j])
    for name in ("parent", "first_child", "next_sib", "prev_sib"):
        setattr(basis, name, moved(ids(getattr(basis, name))))
    basis.pred_arc = moved(basis.pred_arc)
    basis.depth = moved(basis.depth)
    v = np.empty(m)
    v[py] = basis.v
    basis.v = v
    basis.a, basis.b, basis.y = a.copy(), b.copy(), y.copy()
    basis.root = int(node[basis.root])
    return basis


def kd_order(x, y, leaf=None):
    """Both clouds in k-d leaf order: the permutations ``px``, ``py`` and the leaves ``(gx, gy)`` of
    the permuted clouds (consecutive index ranges), as :func:`solve_sparse` solves them."""
    leaf = int(COARSE_LEAF if leaf is None else leaf)
    px, sx = _kd_leaves(np.ascontiguousarray(x, dtype=np.float64), leaf)
    py, sy = _kd_leaves(np.ascontiguousarray(y, dtype=np.float64), leaf)
    # the same leaves, renamed: consecutive ranges in k-d order
    return px, py, (np.split(np.arange(px.size), sx[1:-1]), np.split(np.arange(py.size), sy[1:-1]))


def solve_sparse(x, a, y, b, max_pivots=None, pricing="auto"):
    """The exact W1 LP without an n × m matrix: :func:`coarse_basis`, then :func:`warm_solve`.

    Both clouds are first put in k-d leaf order (:func:`kd_groups`), so that nodes close in the
    tree are close in memory (measured, n = 3·10⁴ demo: simplex 35.4 s in the given random order,
    23.0 s in k-d order); the results and the basis come back in the caller's order.

    Parameters
    ----------
    pricing : {"auto", "full", "cells"}
        How the certificate passes price (:func:`~w1flow.lp.netsimplex.warm_solve`).

    Returns
    -------
    SparseSolveResult
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    start = time.perf_counter()
    px, py, groups = kd_order(x, y)
    xs, ys = np.ascontiguousarray(x[px]), np.ascontiguousarray(y[py])
    basis, info = coarse_basis(xs, a[px], ys, b[py], groups=groups)
    info["basis_seconds"] = time.perf_counter() - start
    if max_pivots is None:
        max_pivots = max(10**6, 500 * (x.shape[0] + y.shape[0]))
    res = warm_solve(basis, xs, max_pivots=max_pivots, add_per_row=COLD_ADD_PER_ROW,
                     max_arcs_per_node=COLD_MAX_ARCS_PER_NODE, pricing=pricing, keep_per_node=COLD_KEEP_PER_NODE)
    u_out, v_out = np.empty_like(res.u), np.empty_like(res.v)
    u_out[px], v_out[py] = res.u, res.v
    basis = _relabel(basis, px, py, a, y, b)
    return SparseSolveResult(ok=res.ok, rows=px[res.rows], cols=py[res.cols], mass=res.mass, u=u_out, v=v_out,
                             stats=res.stats, message=res.message, basis=basis, info=info)
