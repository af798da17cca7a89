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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

__all__ = ["CellScan", "cell_violations"]

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
def _box_distance(lo_a, hi_a, lo_b, hi_b):
    s = 0.0
    for c in range(lo_a.shape[0]):
        g = lo_b[c] - hi_a[c]
        if lo_a[c] - hi_b[c] > g:
            g = lo_a[c] - hi_b[c]
        if g > 0.0:
            s += g * g
    return np.sqrt(s)


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
        bound = ux[a] + vy[b] - _box_distance(lox[a], hix[a], loy[b], hiy[b]) * (1.0 - 1e-12)
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
