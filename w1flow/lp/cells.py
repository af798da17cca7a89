"""Dual feasibility of a W1 LP over all pairs without visiting all pairs: k-d cell bounds.

Duals ``u`` (on the points ``x``) and ``v`` (on ``y``) are feasible when
``u_i + v_j ≤ |x_i − y_j|`` for every pair. Both clouds are cut into k-d trees whose nodes carry
their bounding box and the largest dual of their points. For a node A of x's tree and a node B
of y's, every pair (i, j) in A × B has

    u_i + v_j − |x_i − y_j|  ≤  max_A u + max_B v − dist(box A, box B),

so when the right-hand side is at most the threshold the whole block is covered by the bound;
otherwise the larger node is split, down to pairs of leaves, whose pairs are checked exactly
(with the direct differences of the full check). Every pair is thus covered either by a cell
bound or by an exact check: a violation above the threshold is never pruned, whatever cell it
hides in. The box distance is lowered by a relative ``1e-12`` before the comparison, so round-off
in it can only make the scan check more pairs, never fewer.

For duals near optimal, the blocks far from the transport rays are pruned high in the trees, and
the scan costs about the number of near-tight pairs instead of n·m.

:class:`CellPricer` is the network simplex's pricing pass by the same idea
(:func:`~w1flow.lp.netsimplex.warm_solve`, ``pricing="cells"``, the default in d = 2, 3 from
:data:`CELL_MIN_PAIRS` pairs, :func:`cells_pay`): each row's most violated columns, with a
sharper, directional bound in d = 2, 3 (``|x − y| ≥ <E, x − y>`` for any unit E), computing 1–5 %
of the pairs at n = 3·10⁴ in d = 2 (docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numba
from numba import njit

from ..threads import ThreadChoice

__all__ = ["CellScan", "cell_violations", "CellPricer"]

_JIT = dict(cache=True, error_model="numpy")


@dataclass(frozen=True)
class CellScan:
    """What :func:`cell_violations` found.

    Attributes
    ----------
    rows, cols : ndarray of int64
        Every pair with ``u_i + v_j − |x_i − y_j| > threshold`` (in no particular order).
    violation : ndarray
        Their violations.
    max_violation : float
        The largest violation over all pairs when it exceeds ``threshold``; otherwise an upper
        bound on it that is at most ``threshold`` (the pruned blocks' bounds, and the checked pairs).
    pairs_checked : int
        Pairs whose distance was computed (n·m for the full scan).
    blocks_pruned : int
        Blocks covered by their cell bound.
    """

    rows: np.ndarray
    cols: np.ndarray
    violation: np.ndarray
    max_violation: float
    pairs_checked: int
    blocks_pruned: int


def _tree(p, w, leaf):
    """A k-d tree of the points ``p`` (median splits along the widest box side): the permutation
    ``order`` and, per node, ``start``/``end`` into it, children ``left``/``right`` (−1 at a leaf),
    the box ``lo``/``hi`` and the largest weight ``wmax`` of its points."""
    n, d = p.shape
    order = np.arange(n)
    start, end, left, right = [0], [n], [-1], [-1]
    k = 0
    while k < len(start):
        s, e = start[k], end[k]
        if e - s > leaf:
            idx = order[s:e]
            pts = p[idx]
            dim = int(np.argmax(pts.max(axis=0) - pts.min(axis=0)))
            h = (e - s) // 2
            part = np.argpartition(pts[:, dim], h)
            order[s:e] = idx[part]
            left[k], right[k] = len(start), len(start) + 1
            start += [s, s + h]
            end += [s + h, e]
            left += [-1, -1]
            right += [-1, -1]
        k += 1
    start, end = np.asarray(start, dtype=np.int64), np.asarray(end, dtype=np.int64)
    lo, hi, wmax = _boxes(p, w, order, start, end)
    return order, start, end, np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64), lo, hi, wmax


@njit(**_JIT)
def _boxes(p, w, order, start, end):
    nn, d = start.shape[0], p.shape[1]
    lo = np.empty((nn, d))
    hi = np.empty((nn, d))
    wmax = np.empty(nn)
    for k in range(nn):
        for c in range(d):
            lo[k, c] = np.inf
            hi[k, c] = -np.inf
        wmax[k] = -np.inf
        for t in range(start[k], end[k]):
            i = order[t]
            for c in range(d):
                if p[i, c] < lo[k, c]:
                    lo[k, c] = p[i, c]
                if p[i, c] > hi[k, c]:
                    hi[k, c] = p[i, c]
            if w[i] > wmax[k]:
                wmax[k] = w[i]
    return lo, hi, wmax


@njit(**_JIT)
def _box_gap2(lo_a, hi_a, a, lo_b, hi_b, b):
    """The squared distance between box ``a`` of (lo_a, hi_a) and box ``b`` of (lo_b, hi_b), by
    indices (no array views: this runs per block); a point is the box (p, p)."""
    g2 = 0.0
    for c in range(lo_a.shape[1]):
        gap = lo_b[b, c] - hi_a[a, c]
        if lo_a[a, c] - hi_b[b, c] > gap:
            gap = lo_a[a, c] - hi_b[b, c]
        if gap > 0.0:
            g2 += gap * gap
    return g2


@njit(**_JIT)
def _scan(x, y, u, v, threshold, tx, ty):
    ox, sx, ex, lx, rx, lox, hix, ux = tx
    oy, sy, ey, ly, ry, loy, hiy, vy = ty
    d = x.shape[1]
    cap = 1024
    rows = np.empty(cap, dtype=np.int64)
    cols = np.empty(cap, dtype=np.int64)
    viol = np.empty(cap)
    count = 0
    worst = -np.inf
    checked = 0
    pruned = 0
    stack_a = np.empty(1024, dtype=np.int64)
    stack_b = np.empty(1024, dtype=np.int64)
    stack_a[0], stack_b[0] = 0, 0
    top = 1
    while top > 0:
        top -= 1
        a, b = stack_a[top], stack_b[top]
        bound = ux[a] + vy[b] - np.sqrt(_box_gap2(lox, hix, a, loy, hiy, b)) * (1.0 - 1e-12)
        if bound <= threshold:
            pruned += 1
            if bound > worst:
                worst = bound
            continue
        leaf_a, leaf_b = lx[a] < 0, ly[b] < 0
        if leaf_a and leaf_b:
            for t in range(sx[a], ex[a]):
                i = ox[t]
                for q in range(sy[b], ey[b]):
                    j = oy[q]
                    s = 0.0
                    for c in range(d):
                        diff = x[i, c] - y[j, c]
                        s += diff * diff
                    g = u[i] + v[j] - np.sqrt(s)
                    if g > worst:
                        worst = g
                    if g > threshold:
                        if count == cap:
                            cap *= 2
                            rows = np.concatenate((rows, np.empty(cap - count, dtype=np.int64)))
                            cols = np.concatenate((cols, np.empty(cap - count, dtype=np.int64)))
                            viol = np.concatenate((viol, np.empty(cap - count)))
                        rows[count], cols[count], viol[count] = i, j, g
                        count += 1
            checked += (ex[a] - sx[a]) * (ey[b] - sy[b])
            continue
        if top + 2 > stack_a.shape[0]:
            stack_a = np.concatenate((stack_a, np.empty(stack_a.shape[0], dtype=np.int64)))
            stack_b = np.concatenate((stack_b, np.empty(stack_b.shape[0], dtype=np.int64)))
        # split the node with more points (a leaf cannot be split)
        if leaf_b or (not leaf_a and ex[a] - sx[a] >= ey[b] - sy[b]):
            stack_a[top], stack_b[top] = lx[a], b
            stack_a[top + 1], stack_b[top + 1] = rx[a], b
        else:
            stack_a[top], stack_b[top] = a, ly[b]
            stack_a[top + 1], stack_b[top + 1] = a, ry[b]
        top += 2
    return rows[:count], cols[:count], viol[:count], worst, checked, pruned


def cell_violations(x, y, u, v, threshold, leaf=32):
    """Every pair whose dual constraint ``u_i + v_j ≤ |x_i − y_j|`` is violated by more than
    ``threshold``, found by k-d cell bounds (module docstring) instead of a pass over all n·m pairs.

    Parameters
    ----------
    x : ndarray, shape (n, d)
    y : ndarray, shape (m, d)
    u : ndarray, shape (n,)
    v : ndarray, shape (m,)
        The duals (units of length).
    threshold : float
        The violation that counts (e.g. the certificate's tolerance); ≥ 0.
    leaf : int
        Points per leaf of each tree.

    Returns
    -------
    CellScan
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    u = np.ascontiguousarray(u, dtype=np.float64)
    v = np.ascontiguousarray(v, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must be point clouds (n, d) and (m, d) of one dimension; got {x.shape} and {y.shape}.")
    if u.shape != (x.shape[0],) or v.shape != (y.shape[0],):
        raise ValueError(f"u must have shape ({x.shape[0]},) and v ({y.shape[0]},); got {u.shape} and {v.shape}.")
    if not (np.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"threshold must be finite and >= 0, got {threshold}.")
    if int(leaf) < 1:
        raise ValueError(f"leaf must be a positive number of points, got {leaf}.")
    if not (np.all(np.isfinite(u)) and np.all(np.isfinite(v)) and np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x, y, u and v must be finite.")
    tx, ty = _tree(x, u, int(leaf)), _tree(y, v, int(leaf))
    rows, cols, viol, worst, checked, pruned = _scan(x, y, u, v, float(threshold), tx, ty)
    return CellScan(rows=rows, cols=cols, violation=viol, max_violation=float(worst), pairs_checked=int(checked),
                    blocks_pruned=int(pruned))


# ---------------------------------------------------------------------------------------------
# Pricing by cell bounds: each row's most violated columns without a pass over all n·m pairs.
# ---------------------------------------------------------------------------------------------

#: Directions of the directional bound in d = 2 (evenly spaced angles): the bound's slack grows
#: with the square of the angle between a pair of cells and its nearest direction. Measured at the
#: n = 3·10⁴ demo optimum (leaves of 8): 128, 256, 512 directions computed 5.3, 3.4, 2.4 % of the
#: pairs in 0.51, 0.41, 0.39 s; on the Gaussian pair all three 1.8–2.0 %, 256 the fastest.
CELL_DIRECTIONS = 256
#: Grid side on each face of the cube of the d = 3 directions (6 · side² directions). Measured at
#: the n = 10⁴ optimum of the demo lifted to d = 3: sides 4, 8, 12, 16 computed 34, 21, 13, 12 % of
#: the pairs in 0.16, 0.12, 0.11, 0.12 s (the full pass: 0.22 s).
CELL_CUBE_SIDE = 12
#: Points per row leaf and per column leaf of :class:`CellPricer`. Larger leaves compute more
#: pairs but visit fewer blocks: at n = 3·10⁴ (demo optimum / duals off by 0.01) leaves of 8 took
#: 0.41 / 1.35 s a pass, 16 0.30 / 0.56 s, 32 0.27 / 0.32 s, 64 0.29 / 0.28 s (one thread, loaded).
CELL_LEAF = 32
#: Pairs n·m from which pricing by cell bounds is used, by dimension (d = 2, 3 only: the others
#: have no directional bound; :func:`cells_pay`: the default of ``warm_solve(pricing="auto")``,
#: of the start's completion and of ``c_transform(pricing="auto")``). Measured (demo and Gaussian
#: pairs, quiet 2 cores, 2026-12-05): cold solves faster with the cells from n = m = 500 on (2000:
#: 0.24 → 0.20 s, 10⁴: 4.1 → 3.0 s, 10⁵: passes 220 → 36 s), but an incremental flow's many small
#: warm solves not (100 steps, n = 1000: 0.97 → 1.10 s; 2000: 3.44 → 3.49 s), as each solve
#: builds the trees and their per-node bounds for a few passes: 4·10⁶ in both dimensions. With
#: the per-node bounds 7× cheaper (2026-12-06; side by side, best of 2, cells / full pass) d = 2
#: pays from n = m = 500: chosen on seed 1, uncapped demo flows 0.99 / 0.81 / 0.76 / 0.88 at
#: n = 300 / 500 / 750 / 1000, cold sparse solves 0.59–0.83 at 500–750 and 0.69–0.87 at
#: 1000–1500 (demo, Gaussian pair, late); reported on seed 2: flows 0.81, 0.88 at 500, 1000, cold
#: 0.61–0.84 at 500–1000 (demo, Gaussians). In d = 3 not (seed 2: demo lifted 0.93–1.00, weighted
#: 0.99–1.30 at 500–1000), so it keeps 4·10⁶.
CELL_MIN_PAIRS = {2: 250_000, 3: 4 * 10**6}


def cells_pay(d, n, m):
    """Whether pricing by cell bounds is used for ``n`` rows against ``m`` columns in dimension
    ``d``: in d = 2, 3 (directional bounds) from ``CELL_MIN_PAIRS[d]`` pairs on."""
    return d in CELL_MIN_PAIRS and n * m >= CELL_MIN_PAIRS[d]


#: Bins of the pseudo-angle table that maps a direction to its nearest stored direction.
_ANGLE_BINS = 4096


def _directions(k):
    t = np.arange(k) * (2.0 * np.pi / k)
    return np.ascontiguousarray(np.stack([np.cos(t), np.sin(t)], axis=1))


def _angle_table(k, bins=_ANGLE_BINS):
    """For each bin of the pseudo-angle (:func:`_pseudo_angle_bin`, in [−1, 3)), the stored direction
    nearest its middle (any direction gives a valid bound: the table only affects tightness)."""
    pa = -1.0 + (np.arange(bins) + 0.5) * (4.0 / bins)
    p = np.where(pa < 1.0, pa, 2.0 - pa)
    dx = np.where(pa < 1.0, 1.0 - np.abs(p), np.abs(p) - 1.0)
    ang = np.arctan2(p, dx)
    return (np.rint(ang / (2.0 * np.pi) * k).astype(np.int64) % k).astype(np.int64)


@njit(**_JIT)
def _pseudo_angle_bin(dx, dy, bins):
    """A monotone stand-in for the angle of (dx, dy), without trigonometry, as a table bin."""
    s = abs(dx) + abs(dy)
    if s == 0.0:
        return -1
    p = dy / s
    pa = p if dx >= 0.0 else 2.0 - p
    k = int((pa + 1.0) * (bins / 4.0))
    return min(max(k, 0), bins - 1)


def _cube_directions(g):
    """Unit directions in d = 3 through the centres of a g × g grid on each face of the cube
    [−1, 1]³ (6 g² of them), numbered as :func:`_direction_of` finds them."""
    t = -1.0 + (np.arange(g) + 0.5) * (2.0 / g)
    out = np.empty((6 * g * g, 3))
    for ax in range(3):
        others = [c for c in range(3) if c != ax]
        for side in (0, 1):
            base = (2 * ax + side) * g * g
            for i in range(g):
                for j in range(g):
                    v = np.empty(3)
                    v[ax] = 1.0 if side else -1.0
                    v[others[0]], v[others[1]] = t[i], t[j]
                    out[base + i * g + j] = v / np.linalg.norm(v)
    return out


@njit(**_JIT)
def _direction_of(a, b, lox, hix, loy, hiy, table, g):
    """The stored direction next to the one from y-node ``b``'s box centre to x-node ``a``'s
    (d = 2: a pseudo-angle table; d = 3: the cube map of :func:`_cube_directions`), or −1 when
    the centres coincide. Any direction gives a valid bound: this only affects its tightness."""
    c0 = lox[a, 0] + hix[a, 0] - loy[b, 0] - hiy[b, 0]
    c1 = lox[a, 1] + hix[a, 1] - loy[b, 1] - hiy[b, 1]
    if lox.shape[1] == 2:
        q = _pseudo_angle_bin(c0, c1, table.shape[0])
        return table[q] if q >= 0 else -1
    c2 = lox[a, 2] + hix[a, 2] - loy[b, 2] - hiy[b, 2]
    a0, a1, a2 = abs(c0), abs(c1), abs(c2)
    if a0 >= a1 and a0 >= a2:
        ax, big, s, p1, p2 = 0, a0, c0, c1, c2
    elif a1 >= a2:
        ax, big, s, p1, p2 = 1, a1, c1, c0, c2
    else:
        ax, big, s, p1, p2 = 2, a2, c2, c0, c1
    if big == 0.0:
        return -1
    i = min(max(int((p1 / big + 1.0) * 0.5 * g), 0), g - 1)
    j = min(max(int((p2 / big + 1.0) * 0.5 * g), 0), g - 1)
    return (2 * ax + (1 if s > 0.0 else 0)) * g * g + i * g + j


#: The choice of threads for passes by cell bounds (:meth:`CellPricer.scan`) and for full passes
#: of at least ``netsimplex.PARALLEL_PAIRS`` pairs (``netsimplex._row_scan``): one per process.
PASS_THREADS = ThreadChoice()


@njit(parallel=True, **_JIT)
def _node_duals(p, w, sign, inv, order, start, end, left, right, ET, use_dir, wmax, h, leaves):
    """Per node: the largest dual ``wmax`` and, in d = 2, 3, ``h[k] = min (sign · <E_k, p> · inv − w)``
    over the node's points (``ET``: the directions as rows of coordinates, shape (d, K)). The
    leaves (``leaves``) in parallel, each point against all K directions in a loop that vectorises;
    then the inner nodes bottom-up (children are numbered after their parent)."""
    K, d = ET.shape[1], p.shape[1]
    for li in numba.prange(leaves.shape[0]):
        k = leaves[li]
        wm = -np.inf
        if use_dir:
            for q in range(K):
                h[k, q] = np.inf
        for t in range(start[k], end[k]):
            i = order[t]
            wi = w[i]
            if wi > wm:
                wm = wi
            if use_dir:
                # (−w + E_0 p_0) + E_1 p_1 [+ E_2 p_2]: the terms in coordinate order
                p0 = sign * p[i, 0] * inv
                p1 = sign * p[i, 1] * inv
                if d == 2:
                    for q in range(K):
                        h[k, q] = min(h[k, q], (-wi + ET[0, q] * p0) + ET[1, q] * p1)
                else:
                    p2 = sign * p[i, 2] * inv
                    for q in range(K):
                        h[k, q] = min(h[k, q], ((-wi + ET[0, q] * p0) + ET[1, q] * p1) + ET[2, q] * p2)
        wmax[k] = wm
    for k in range(start.shape[0] - 1, -1, -1):
        if left[k] >= 0:
            a, b = left[k], right[k]
            wmax[k] = max(wmax[a], wmax[b])
            if use_dir:
                for q in range(K):
                    h[k, q] = min(h[a, q], h[b, q])


@njit(**_JIT)
def _insert_smallest(best_r, best_j, row, r, j):
    """Insert ``(r, j)`` into row ``row`` of the increasing lists ``best_r``/``best_j``, dropping
    the largest (the caller has checked ``r < best_r[row, -1]``); equal values keep their order."""
    p = best_r.shape[1] - 1
    while p > 0 and best_r[row, p - 1] > r:
        best_r[row, p] = best_r[row, p - 1]
        best_j[row, p] = best_j[row, p - 1]
        p -= 1
    best_r[row, p] = r
    best_j[row, p] = j


@njit(**_JIT)
def _pair_bound(a, b, lox, hix, loy, hiy, umax, vmax, inv, use_dir, hx, gy, table, g):
    """A lower bound on ``|x_i − y_j| · inv − u_i − v_j`` over every i in x-node ``a`` and j in
    y-node ``b`` (:class:`CellPricer`), lowered by a margin far above round-off."""
    lb = np.sqrt(_box_gap2(lox, hix, a, loy, hiy, b)) * inv - umax[a] - vmax[b]
    margin = 1.0 + abs(umax[a]) + abs(vmax[b])
    if use_dir:
        k = _direction_of(a, b, lox, hix, loy, hiy, table, g)
        if k >= 0:
            lbk = hx[a, k] + gy[b, k]
            if lbk > lb:
                lb = lbk
                margin = 1.0 + abs(hx[a, k]) + abs(gy[b, k])
    return lb - 1e-12 * margin


@njit(parallel=True, **_JIT)
def _cell_scan_kernel(xs, ysT, us, vs, ox, oy, inv, tau, leaves, tx, ty, hx, umax, gy, vmax, E, table, g, use_dir,
                      best_j, best_r, row_min, work):
    """:meth:`CellPricer.scan` on the clouds in tree order (``xs``, ``ysT`` transposed, duals
    ``us``, ``vs`` likewise); writes the outputs of row ``ox[t]`` with column indices ``oy[j]``."""
    _, sx, ex, lx, rx, lox, hix = tx
    _, sy, ey, ly, ry, loy, hiy = ty
    d, K = xs.shape[1], best_j.shape[1]
    for li in numba.prange(leaves.shape[0]):
        a = leaves[li]
        s0, s1 = sx[a], ex[a]
        thr = np.full(s1 - s0, tau)
        bj = np.full((s1 - s0, K), -1, dtype=np.int64)
        br = np.full((s1 - s0, K), np.inf)
        buf = np.empty(64)
        block = tau  # the largest threshold of the leaf's rows: a block at or above it is skipped
        stack = np.empty(256, dtype=np.int64)
        bounds = np.empty(256)
        stack[0] = 0
        bounds[0] = _pair_bound(a, 0, lox, hix, loy, hiy, umax, vmax, inv, use_dir, hx, gy, table, g)
        top = 1
        while top > 0:
            top -= 1
            b = stack[top]
            work[li, 0] += 1
            if bounds[top] >= block:
                continue
            if ly[b] < 0:
                work[li, 2] += 1
                k = -1
                if use_dir:  # the direction of the pair of cells, for the rows' own bounds
                    k = _direction_of(a, b, lox, hix, loy, hiy, table, g)
                c0, c1 = sy[b], ey[b]
                if c1 - c0 > buf.shape[0]:
                    buf = np.empty(c1 - c0)
                for t in range(s0, s1):
                    th = thr[t - s0]
                    # the row's own bound against the leaf: its terms exact, the leaf's its minima
                    if k >= 0:  # (the directional bound alone: the box bound per row cost more than it saved)
                        hk = 0.0
                        for c in range(d):
                            hk += E[k, c] * xs[t, c]
                        hk = hk * inv - us[t]
                        lb = hk + gy[b, k]
                        margin = 1.0 + abs(hk) + abs(gy[b, k])
                    else:
                        lb = np.sqrt(_box_gap2(xs, xs, t, loy, hiy, b)) * inv - us[t] - vmax[b]
                        margin = 1.0 + abs(us[t]) + abs(vmax[b])
                    if lb - 1e-12 * margin >= th:
                        continue
                    work[li, 1] += c1 - c0
                    # reduced costs bitwise those of the full pass (the same operations in the same order)
                    for jj in range(c0, c1):
                        buf[jj - c0] = 0.0
                    for c in range(d):
                        xc = xs[t, c]
                        yc = ysT[c]
                        for jj in range(c0, c1):
                            e = xc - yc[jj]
                            buf[jj - c0] += e * e
                    ut = us[t]
                    for jj in range(c0, c1):
                        r = np.sqrt(buf[jj - c0]) * inv - ut - vs[jj]
                        if r < th:
                            row = t - s0
                            _insert_smallest(br, bj, row, r, oy[jj])
                            if br[row, K - 1] < th:
                                th = br[row, K - 1]
                    thr[t - s0] = th
                block = thr.max()
                continue
            if top + 2 > stack.shape[0]:
                stack = np.concatenate((stack, np.empty(stack.shape[0], dtype=np.int64)))
                bounds = np.concatenate((bounds, np.empty(bounds.shape[0])))
            bl = _pair_bound(a, ly[b], lox, hix, loy, hiy, umax, vmax, inv, use_dir, hx, gy, table, g)
            bh = _pair_bound(a, ry[b], lox, hix, loy, hiy, umax, vmax, inv, use_dir, hx, gy, table, g)
            if bl <= bh:  # the nearer child on top: its columns lower the thresholds first
                stack[top], bounds[top], stack[top + 1], bounds[top + 1] = ry[b], bh, ly[b], bl
            else:
                stack[top], bounds[top], stack[top + 1], bounds[top + 1] = ly[b], bl, ry[b], bh
            top += 2
        for t in range(s0, s1):
            i = ox[t]
            for q in range(K):
                best_r[i, q] = br[t - s0, q]
                best_j[i, q] = bj[t - s0, q]
            row_min[i] = br[t - s0, 0] if bj[t - s0, 0] >= 0 else tau


class CellPricer:
    """Each row's ``K`` columns of smallest reduced cost ``|x_i − y_j| · inv − u_i − v_j`` below a
    threshold ``tau``, by k-d cell bounds instead of a pass over all n·m pairs.

    The rows are cut into k-d leaves of :data:`CELL_LEAF` points, the columns into a k-d tree. For
    a row leaf A and a column node B, every pair has reduced cost at least the larger of

    * the box bound ``dist(box A, box B) · inv − max_A u − max_B v``, and
    * the directional bound (d = 2, 3): for any unit vector ``E``, ``|x − y| ≥ <E, x − y>``, so
      ``min_A (<E, x> · inv − u) + min_B (−<E, y> · inv − v)`` is a bound too; ``E`` is a stored
      direction (:data:`CELL_DIRECTIONS` angles in d = 2, a cube map of 6 · :data:`CELL_CUBE_SIDE`²
      in d = 3) next to the direction from B's box to A's. Its slack
      is the angle's cosine gap, second order in the cells' size along a transport ray, where the
      box bound's is first order (the duals vary by up to a cell's diameter inside it).

    A block whose bound is at or above every row's threshold (``tau``, or the row's K-th smallest
    so far) is skipped; otherwise the column node is split, down to leaves, where each row is
    bounded on its own (its terms exact) and the pairs of the rows not skipped are computed with
    the full pass's arithmetic. Every pair is covered by a bound or an exact check, so each row
    gets exactly the reduced costs below ``tau`` that the full pass would (among equal values
    possibly other columns). The bounds are lowered by ``1e-12`` of their terms' size against
    round-off.

    Parameters
    ----------
    x : ndarray, shape (n, d)
    y : ndarray, shape (m, d)
        Fixed positions (the trees are built once).
    inv : float
        Cost scale: costs are ``|x_i − y_j| · inv``.
    leaf, directions : int
        Points per row leaf; stored directions in d = 2.
    column_leaf : int, optional
        Points per column leaf (default ``leaf``).
    cube_side : int
        Grid side per cube face of the d = 3 directions.

    Attributes
    ----------
    pairs_checked, nodes_visited, leaves_scanned : int
        The last scan's work: pairs whose reduced cost was computed (n·m for the full pass),
        (row leaf, column node) blocks visited, and blocks of two leaves whose rows were bounded
        one by one.
    """

    def __init__(self, x, y, inv, leaf=CELL_LEAF, directions=CELL_DIRECTIONS, column_leaf=None,
                 cube_side=CELL_CUBE_SIDE):
        self.x = np.ascontiguousarray(x, dtype=np.float64)
        self.y = np.ascontiguousarray(y, dtype=np.float64)
        self.inv = float(inv)
        d = self.x.shape[1]
        self.use_dir = d in (2, 3)
        self.g = int(cube_side)
        if d == 2:
            self.E = _directions(int(directions))
        elif d == 3:
            self.E = _cube_directions(self.g)
        else:
            self.E = np.zeros((1, d))
        self.table = _angle_table(self.E.shape[0]) if d == 2 else np.zeros(1, dtype=np.int64)  # read in d = 2 only
        zx, zy = np.zeros(self.x.shape[0]), np.zeros(self.y.shape[0])
        self.tx = _tree(self.x, zx, int(leaf))[:7]
        self.ty = _tree(self.y, zy, int(leaf if column_leaf is None else column_leaf))[:7]
        self.leaves = np.flatnonzero(self.tx[3] < 0).astype(np.int64)
        self.column_leaves = np.flatnonzero(self.ty[3] < 0).astype(np.int64)
        self.ET = np.ascontiguousarray(self.E.T)
        self.xs = np.ascontiguousarray(self.x[self.tx[0]])
        self.ysT = np.ascontiguousarray(self.y[self.ty[0]].T)
        K = self.E.shape[0] if self.use_dir else 1
        self.umax, self.hx = np.empty(self.tx[1].size), np.empty((self.tx[1].size, K))
        self.vmax, self.gy = np.empty(self.ty[1].size), np.empty((self.ty[1].size, K))
        self.work = np.zeros((self.leaves.size, 3), dtype=np.int64)
        self.nodes_visited = self.pairs_checked = self.leaves_scanned = 0

    def scan(self, u, v, tau, best_j, best_r, row_min):
        """Fill ``best_j``, ``best_r`` (shape (n, K)) with each row's K smallest reduced costs
        below ``tau`` in increasing order (``-1`` and ``inf`` past the last), and ``row_min``
        with each row's smallest reduced cost, or ``tau`` when none is below it."""
        u = np.ascontiguousarray(u, dtype=np.float64)
        v = np.ascontiguousarray(v, dtype=np.float64)
        self.work[:] = 0
        with PASS_THREADS(self.x.shape[0] * self.y.shape[0]) as rec:
            _node_duals(self.x, u, 1.0, self.inv, *self.tx[:5], self.ET, self.use_dir, self.umax, self.hx,
                        self.leaves)
            _node_duals(self.y, v, -1.0, self.inv, *self.ty[:5], self.ET, self.use_dir, self.vmax, self.gy,
                        self.column_leaves)
            _cell_scan_kernel(self.xs, self.ysT, u[self.tx[0]], v[self.ty[0]], self.tx[0], self.ty[0], self.inv,
                              float(tau), self.leaves, self.tx, self.ty, self.hx, self.umax, self.gy, self.vmax,
                              self.E, self.table, self.g, self.use_dir, best_j, best_r, row_min, self.work)
            self.nodes_visited, self.pairs_checked, self.leaves_scanned = (int(c) for c in self.work.sum(axis=0))
            # work: the points' per-node terms, the node pairs visited and the pairs checked
            rec.work = self.x.shape[0] + self.y.shape[0] + self.nodes_visited + self.pairs_checked
