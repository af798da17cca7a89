"""EXPERIMENT (not part of w1flow): repair the optimal W1 plan after an Euler step by successive
shortest paths, instead of a dense LP. It is exact (the repaired plan matches a dense LP to
1e-16 relative at every step measured) but **slower** than POT's network simplex on the demo
flow, because W1's near-ties make every search deep; see docs/performance.md. Kept so the
measurement can be re-run:

    python benchmarks/experiments/ssp_repair.py --n 2000 --steps 100

Repair an optimal W1 transport plan after the particles moved: successive shortest paths.

After an Euler step of length h every particle i moved by at most ``h·s_i`` (``s_i = |V_i|``),
so the carried duals ``(u_i − h·s_i, v_j)`` stay **feasible**: ``u_i + v_j <= |x_i − y_j|`` for
every pair (triangle inequality). What breaks is complementary slackness on the plan arcs
whose particle did not move straight at unit speed toward that data point (split rows,
overshoots). :func:`repair_plan` removes the flow of those arcs and re-routes it by successive
shortest paths on the residual graph, with Dijkstra on the reduced costs
``|x_i − y_j| − u_i − v_j >= 0`` (Edmonds–Karp / Tomizawa potentials), one source row at a
time: each search starts at a row with unsent mass, settles columns in order of distance,
crosses back along plan arcs (reduced cost 0), and stops at the first column with unfilled
demand; the duals of the settled nodes are then raised so that the path becomes tight, and
``min(unsent mass, unfilled demand, flow on the backward arcs)`` is pushed along it.

The result is an optimal plan with its duals (complementary slackness holds by construction,
dual feasibility is kept by the potential update), at a cost of O(m) per settled row instead of
a dense LP from scratch. Real weights and n ≠ m are handled. It is exact in exact arithmetic;
in floating point the caller checks the result with the O(nm) certificate
(:func:`w1flow._lp.certify_plan`) and falls back to a dense LP if it fails.

All costs are direct differences (never ``|x|² + |y|² − 2x·y``), computed on the fly: no n×m
matrix is stored.
"""

from __future__ import annotations

import numba
import numpy as np

_INF = np.inf


@numba.njit(cache=True)
def _dist(x, i, y, j):
    s = 0.0
    for k in range(x.shape[1]):
        d = x[i, k] - y[j, k]
        s += d * d
    return np.sqrt(s)


@numba.njit(cache=True)
def _grow(arr, size):
    out = np.empty(size, dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


@numba.njit(cache=True)
def _candidates(x, y, v, i, cand, key, buf_j, buf_k):
    """The K columns of smallest key |x_i − y_j| − v_j for row i, sorted (a max-heap of size K)."""
    m, K = y.shape[0], cand.shape[1]
    size = 0
    for j in range(m):
        kj = _dist(x, i, y, j) - v[j]
        if size < K:  # sift up
            c = size
            size += 1
            while c > 0:
                p = (c - 1) // 2
                if buf_k[p] >= kj:
                    break
                buf_k[c], buf_j[c] = buf_k[p], buf_j[p]
                c = p
            buf_k[c], buf_j[c] = kj, j
        elif kj < buf_k[0]:  # replace the largest, sift down
            c = 0
            while True:
                l = 2 * c + 1
                if l >= K:
                    break
                r = l + 1
                big = r if (r < K and buf_k[r] > buf_k[l]) else l
                if buf_k[big] <= kj:
                    break
                buf_k[c], buf_j[c] = buf_k[big], buf_j[big]
                c = big
            buf_k[c], buf_j[c] = kj, j
    # sort ascending (insertion sort: K is small)
    for t in range(1, size):
        kk, jj = buf_k[t], buf_j[t]
        q = t - 1
        while q >= 0 and buf_k[q] > kk:
            buf_k[q + 1], buf_j[q + 1] = buf_k[q], buf_j[q]
            q -= 1
        buf_k[q + 1], buf_j[q + 1] = kk, jj
    for t in range(size):
        cand[i, t], key[i, t] = buf_j[t], buf_k[t]


@numba.njit(cache=True)
def _add_flow(i, j, delta, head_row, next_in_row, head_col, next_in_col, arc_row, arc_col, arc_mass, n_arcs):
    """Add ``delta`` on arc (i, j), reviving or creating it; returns the arrays and the arc count."""
    k = head_row[i]
    while k >= 0 and arc_col[k] != j:
        k = next_in_row[k]
    if k >= 0:
        arc_mass[k] += delta
        return arc_row, arc_col, arc_mass, next_in_row, next_in_col, n_arcs
    if n_arcs == arc_row.shape[0]:
        size = 2 * n_arcs
        arc_row = _grow(arc_row, size)
        arc_col = _grow(arc_col, size)
        arc_mass = _grow(arc_mass, size)
        next_in_row = _grow(next_in_row, size)
        next_in_col = _grow(next_in_col, size)
    arc_row[n_arcs], arc_col[n_arcs], arc_mass[n_arcs] = i, j, delta
    next_in_row[n_arcs] = head_row[i]
    head_row[i] = n_arcs
    next_in_col[n_arcs] = head_col[j]
    head_col[j] = n_arcs
    return arc_row, arc_col, arc_mass, next_in_row, next_in_col, n_arcs + 1


@numba.njit(cache=True)
def _hpush(hk, hv, size, key, val):
    """Push (key, val) on the binary min-heap (hk, hv) of ``size`` entries; returns the arrays and size."""
    if size == hk.shape[0]:
        hk = _grow(hk, 2 * size)
        hv = _grow(hv, 2 * size)
    c = size
    while c > 0:
        p = (c - 1) // 2
        if hk[p] <= key:
            break
        hk[c], hv[c] = hk[p], hv[p]
        c = p
    hk[c], hv[c] = key, val
    return hk, hv, size + 1


@numba.njit(cache=True)
def _hpop(hk, hv, size):
    """Remove the minimum of the heap; returns (key, val, new size)."""
    key, val = hk[0], hv[0]
    size -= 1
    lk, lv = hk[size], hv[size]
    c = 0
    while True:
        l = 2 * c + 1
        if l >= size:
            break
        r = l + 1
        small = r if (r < size and hk[r] < hk[l]) else l
        if hk[small] >= lk:
            break
        hk[c], hv[c] = hk[small], hv[small]
        c = small
    hk[c], hv[c] = lk, lv
    return key, val, size


@numba.njit(cache=True)
def _repair_kernel(x, a, y, b, rows, cols, mass, u, v, tight_tol, mass_tol, K, budget):
    n, m = a.shape[0], b.shape[0]
    K = min(K, m)
    cap = 2 * (rows.shape[0] + n + m) + 16
    arc_row = np.empty(cap, np.int64)
    arc_col = np.empty(cap, np.int64)
    arc_mass = np.empty(cap, np.float64)
    next_in_row = np.empty(cap, np.int64)
    next_in_col = np.empty(cap, np.int64)
    head_row = np.full(n, -1, np.int64)
    head_col = np.full(m, -1, np.int64)
    row_left = a.copy()
    col_left = b.copy()
    # candidate columns of each row, by the key |x_i − y_j| − v_j computed when the row is first
    # needed; v only decreases during the repair, so these keys stay lower bounds
    cand = np.empty((n, K), np.int64)
    key = np.empty((n, K), np.float64)
    has_cand = np.zeros(n, np.bool_)
    buf_j = np.empty(K, np.int64)
    buf_k = np.empty(K, np.float64)
    n_arcs = 0
    removed = 0
    direct = 0
    full_scans = 0
    # raise the dual of every row with a loose plan arc to its c-transform min_j (|x_i − y_j| − v_j):
    # still feasible, and tight again on the arc whenever that data point is the row's argmin
    loose = np.zeros(n, np.bool_)
    for k in range(rows.shape[0]):
        i, j = rows[k], cols[k]
        if mass[k] > 0.0 and _dist(x, i, y, j) - u[i] - v[j] > tight_tol:
            loose[i] = True
    for i in range(n):
        if loose[i]:
            _candidates(x, y, v, i, cand, key, buf_j, buf_k)
            has_cand[i] = True
            u[i] = key[i, 0]
    # keep the tight arcs of the old plan; the flow of the others is re-routed
    for k in range(rows.shape[0]):
        i, j = rows[k], cols[k]
        if mass[k] <= 0.0:
            continue
        if _dist(x, i, y, j) - u[i] - v[j] > tight_tol:
            removed += 1
            continue
        arc_row, arc_col, arc_mass, next_in_row, next_in_col, n_arcs = _add_flow(
            i, j, mass[k], head_row, next_in_row, head_col, next_in_col, arc_row, arc_col, arc_mass, n_arcs)
        row_left[i] -= mass[k]
        col_left[j] -= mass[k]
    for i in range(n):  # round-off: a served row may be left with +-1e-19
        if abs(row_left[i]) <= mass_tol:
            row_left[i] = 0.0
    for j in range(m):
        if abs(col_left[j]) <= mass_tol:
            col_left[j] = 0.0
    # a loose row whose argmin has room sends its mass there at once (a tight arc, no search)
    for i in range(n):
        if loose[i] and row_left[i] > mass_tol:
            j = cand[i, 0]
            if col_left[j] > mass_tol:
                delta = min(row_left[i], col_left[j])
                arc_row, arc_col, arc_mass, next_in_row, next_in_col, n_arcs = _add_flow(
                    i, j, delta, head_row, next_in_row, head_col, next_in_col, arc_row, arc_col, arc_mass, n_arcs)
                row_left[i] = 0.0 if row_left[i] == delta else row_left[i] - delta
                col_left[j] = 0.0 if col_left[j] == delta else col_left[j] - delta
                direct += 1

    dr = np.full(n, _INF)
    dc = np.full(m, _INF)
    pred_c = np.full(m, -1, np.int64)      # row of the forward arc that reached column j
    pred_r = np.full(n, -1, np.int64)      # plan arc (crossed backward) that reached row i
    ptr = np.zeros(n, np.int64)            # next candidate of a settled row; K + 1: fully scanned
    done_c = np.zeros(m, np.bool_)
    done_r = np.zeros(n, np.bool_)
    list_r = np.empty(n, np.int64)         # settled rows
    list_c = np.empty(m, np.int64)         # settled columns
    touched = np.empty(m, np.int64)        # columns with a finite label
    augmentations = 0
    relaxed = 0
    hk = np.empty(4 * (n + m) + 16, np.float64)
    hv = np.empty(4 * (n + m) + 16, np.int64)
    aborted = False
    for s in range(n):
        if relaxed > budget:  # more work than a dense solve would cost: give up (the caller re-solves)
            aborted = True
            break
        while row_left[s] > mass_tol:
            # -- Dijkstra from row s on the reduced costs |x_i − y_j| − u_i − v_j >= 0 --------------
            # A settled row relaxes its candidate columns lazily, in order of key: the next one's
            # key − u_i + d_i bounds every column it has not relaxed, so a column is settled only
            # when no row can still lower its label. A row that runs out of candidates scans all.
            if not has_cand[s]:
                _candidates(x, y, v, s, cand, key, buf_j, buf_k)
                has_cand[s] = True
            nr, nc, nt = 1, 0, 0
            dr[s] = 0.0
            done_r[s] = True
            ptr[s] = 0
            list_r[0] = s
            sink = -1
            D = 0.0
            # one heap: columns (val j, key = label) and rows (val m + i, key = bound of the next
            # candidate); stale entries are skipped when popped
            hsize = 0
            hk, hv, hsize = _hpush(hk, hv, hsize, key[s, 0] - u[s], m + s)
            while hsize > 0:
                kk, val, hsize = _hpop(hk, hv, hsize)
                if val >= m:  # a row: relax its next candidate (or, past them, every column)
                    i = val - m
                    di, ui = dr[i], u[i]
                    if ptr[i] < K:
                        j = cand[i, ptr[i]]
                        ptr[i] += 1
                        if not done_c[j]:
                            relaxed += 1
                            rc = _dist(x, i, y, j) - ui - v[j]
                            nd = di + (rc if rc > 0.0 else 0.0)
                            if nd < dc[j]:
                                if dc[j] == _INF:
                                    touched[nt] = j
                                    nt += 1
                                dc[j] = nd
                                pred_c[j] = i
                                hk, hv, hsize = _hpush(hk, hv, hsize, nd, j)
                        # the next bound: the next candidate's key, or the last key for the full scan
                        nxt = key[i, ptr[i]] if ptr[i] < K else key[i, K - 1]
                        hk, hv, hsize = _hpush(hk, hv, hsize, di + nxt - ui, m + i)
                    elif ptr[i] == K:
                        ptr[i] = K + 1
                        full_scans += 1
                        for j in range(m):
                            if done_c[j]:
                                continue
                            relaxed += 1
                            rc = _dist(x, i, y, j) - ui - v[j]
                            nd = di + (rc if rc > 0.0 else 0.0)
                            if nd < dc[j]:
                                if dc[j] == _INF:
                                    touched[nt] = j
                                    nt += 1
                                dc[j] = nd
                                pred_c[j] = i
                                hk, hv, hsize = _hpush(hk, hv, hsize, nd, j)
                    continue
                j = val
                if done_c[j] or kk > dc[j]:
                    continue  # stale
                D = kk
                done_c[j] = True
                list_c[nc] = j
                nc += 1
                if col_left[j] > mass_tol:
                    sink = j
                    break
                k = head_col[j]  # cross back along the plan arcs into j (tight: reduced cost 0)
                while k >= 0:
                    r = arc_row[k]
                    if arc_mass[k] > 0.0 and not done_r[r]:
                        back = u[r] + v[j] - _dist(x, r, y, j)
                        dr[r] = D + (back if back > 0.0 else 0.0)
                        done_r[r] = True
                        pred_r[r] = k
                        ptr[r] = 0
                        if not has_cand[r]:
                            _candidates(x, y, v, r, cand, key, buf_j, buf_k)
                            has_cand[r] = True
                        list_r[nr] = r
                        nr += 1
                        hk, hv, hsize = _hpush(hk, hv, hsize, dr[r] + key[r, 0] - u[r], m + r)
                    k = next_in_col[k]
            if sink >= 0:
                # -- duals: raise the settled nodes so that the path is tight ----------------------
                for t in range(nr):
                    i = list_r[t]
                    u[i] += D - dr[i]
                for t in range(nc):
                    j = list_c[t]
                    v[j] -= D - dc[j]
                # -- the amount: unsent mass, unfilled demand, flow of the backward arcs ----------
                delta = min(row_left[s], col_left[sink])
                j = sink
                i = pred_c[j]
                while i != s:
                    k = pred_r[i]
                    if arc_mass[k] < delta:
                        delta = arc_mass[k]
                    j = arc_col[k]
                    i = pred_c[j]
                # -- push it ----------------------------------------------------------------------
                j = sink
                i = pred_c[j]
                while True:
                    arc_row, arc_col, arc_mass, next_in_row, next_in_col, n_arcs = _add_flow(
                        i, j, delta, head_row, next_in_row, head_col, next_in_col, arc_row, arc_col, arc_mass,
                        n_arcs)
                    if i == s:
                        break
                    k = pred_r[i]  # backward arc: the plan arc (i, j') gives delta up
                    arc_mass[k] = 0.0 if arc_mass[k] == delta else arc_mass[k] - delta
                    j = arc_col[k]
                    i = pred_c[j]
                row_left[s] = 0.0 if row_left[s] == delta else row_left[s] - delta
                col_left[sink] = 0.0 if col_left[sink] == delta else col_left[sink] - delta
                augmentations += 1
            # -- reset the labels this search touched ------------------------------------------
            for t in range(nr):
                i = list_r[t]
                done_r[i] = False
                dr[i] = _INF
                pred_r[i] = -1
            for t in range(nt):
                j = touched[t]
                done_c[j] = False
                dc[j] = _INF
                pred_c[j] = -1
            if sink < 0:
                break
    unsent = 0.0
    for i in range(n):
        unsent += row_left[i]
    keep = 0
    for k in range(n_arcs):
        if arc_mass[k] > 0.0:
            keep += 1
    out_r = np.empty(keep, np.int64)
    out_c = np.empty(keep, np.int64)
    out_m = np.empty(keep, np.float64)
    t = 0
    for k in range(n_arcs):
        if arc_mass[k] > 0.0:
            out_r[t], out_c[t], out_m[t] = arc_row[k], arc_col[k], arc_mass[k]
            t += 1
    stats = np.array([removed, direct, augmentations, relaxed, full_scans, aborted], np.int64)
    return out_r, out_c, out_m, u, v, stats, unsent


def repair_plan(x, a, y, b, rows, cols, mass, u, v, tight_tol, mass_tol=None, candidates=64, budget=None):
    """An optimal plan at ``x`` from a feasible dual pair and the plan it was tight for.

    Parameters
    ----------
    x, a : ndarray, shapes (n, d), (n,)
        Particles (moved) and their weights.
    y, b : ndarray, shapes (m, d), (m,)
        Data and its weights.
    rows, cols, mass : ndarray
        The old plan (sparse), a feasible transport plan between ``a`` and ``b``.
    u, v : ndarray
        Duals feasible at ``x``: ``u_i + v_j <= |x_i − y_j|`` for every pair (length units).
    tight_tol : float
        An old plan arc is kept when its reduced cost ``|x_i − y_j| − u_i − v_j`` is at most this
        (length units; round-off of the carried duals); the others are re-routed.
    mass_tol : float, optional
        Masses at or below this count as zero (default ``4·eps·(n + m)·max(a.max(), b.max())``,
        the round-off of marginals built by cumulative sums).
    candidates : int
        Columns of smallest ``|x_i − y_j| − v_j`` kept per row for the lazy scans; a row that
        needs more is scanned in full (exactness does not depend on it, only speed).

    Returns
    -------
    rows, cols, mass, u, v : ndarray
        The repaired plan, sorted by (row, column), and its duals.
    info : dict
        ``removed`` (old arcs re-routed), ``direct`` (loose rows sent to their c-transform argmin
        without a search), ``augmentations`` (shortest paths), ``pairs_relaxed`` (reduced costs
        evaluated in the searches), ``full_scans`` (rows that ran out of candidates), ``unsent``
        (mass left unrouted: round-off of the marginals).
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    if mass_tol is None:  # the marginals of a plan from cumulative sums are off by ~(n + m)·eps·weight
        mass_tol = 4 * np.finfo(float).eps * (a.size + b.size) * max(float(a.max()), float(b.max()))
    r, c, w, u2, v2, stats, unsent = _repair_kernel(
        x, a, y, b, np.ascontiguousarray(rows, dtype=np.int64), np.ascontiguousarray(cols, dtype=np.int64),
        np.ascontiguousarray(mass, dtype=np.float64), np.array(u, dtype=np.float64),
        np.array(v, dtype=np.float64), float(tight_tol), float(mass_tol), int(candidates),
        float(np.inf if budget is None else budget))
    order = np.lexsort((c, r))
    info = dict(zip(("removed", "direct", "augmentations", "pairs_relaxed", "full_scans"), map(int, stats[:5])))
    info["aborted"] = bool(stats[5])
    info["unsent"] = float(unsent)
    return r[order], c[order], w[order], u2, v2, info


def _main():
    import argparse
    import sys
    import time
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from _common import demo_problem

    from w1flow._lp import solve_w1_lp
    from w1flow.potentials.exact import plan_velocity

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--dt", type=float, default=0.05)
    p.add_argument("--budget", type=float, default=2.0, help="give up after budget·n·m reduced costs")
    args = p.parse_args()
    n, dt = args.n, args.dt
    x, y = demo_problem(n, 0)
    a = b = np.full(n, 1.0 / n)
    lp = solve_w1_lp(x, a, y, b)
    rows, cols, mass, u, v = lp.rows, lp.cols, lp.mass, lp.u, lp.v
    repair_plan(x + 0.01, a, y, b, rows, cols, mass, u - 0.01, v, 1e-12)  # compile
    t_rep = t_dense = 0.0
    worst, aborted = 0.0, 0
    print("step | loose rows | augmentations | reduced costs | full scans | repair ms | dense LP ms")
    for k in range(args.steps):
        V = plan_velocity(x, a, y, rows, cols, mass)
        x = x + dt * V
        u0 = u - dt * np.linalg.norm(V, axis=1)
        t = time.process_time()
        out = repair_plan(x, a, y, b, rows, cols, mass, u0, v, 1e-12 * max(np.abs(x).max(), np.abs(y).max()),
                          budget=args.budget * n * n)
        t1 = time.process_time() - t
        t = time.process_time()
        ref = solve_w1_lp(x, a, y, b)
        t2 = time.process_time() - t
        info = out[-1]
        t_dense += t2
        if info["aborted"]:
            aborted += 1
            t_rep += t1 + t2
            rows, cols, mass, u, v = ref.rows, ref.cols, ref.mass, ref.u, ref.v
        else:
            t_rep += t1
            rows, cols, mass, u, v = out[:5]
            cost = float(np.sum(mass * np.linalg.norm(x[rows] - y[cols], axis=1)))
            worst = max(worst, abs(cost - ref.cost) / ref.cost)
        if k % 10 == 0 or k == args.steps - 1:
            print(f"{k} | {info['removed']} | {info['augmentations']} | {info['pairs_relaxed']} | "
                  f"{info['full_scans']} | {t1 * 1e3:.0f}{' (gave up)' if info['aborted'] else ''} | {t2 * 1e3:.0f}")
    print(f"n = {n}: repair (with dense fallback) {t_rep:.2f} s CPU, dense re-solve {t_dense:.2f} s CPU, "
          f"ratio {t_rep / t_dense:.2f}; gave up at {aborted} of {args.steps} steps; "
          f"largest relative cost difference to the dense LP {worst:.1e}")


if __name__ == "__main__":
    _main()
