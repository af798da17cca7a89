"""EXPERIMENT (not part of w1flow): a certified exact W1 LP on sparse candidate arcs, solved by
HiGHS, with column generation. Exact and certified on every instance tried, and memory stays
O(n·k) (1.1 GB at n = 3·10⁴ against 4.7 GB for a dense LP at 10⁴), but it is only competitive when
the plan is almost local ("late": data + small noise -> data); on the flow's hard start (blob ->
8 Gaussians, many near-ties) it is 10-20x slower than a dense ``ot.emd``. See docs/performance.md.

Method (:func:`sparse_w1`):

1. candidate arcs: each particle's ``k_near`` nearest data points, plus a coarse plan: k-means
   representatives (n/10 a side), a dense LP between them (masses = cluster weights) and every
   pair of a block (p, q) the coarse plan uses. The blocks alone carry a feasible plan
   (``a_i b_j G_pq / (A_p B_q)``), so the restricted LP is always feasible, for real weights and
   n != m. (``--dual``: instead of whole blocks, a north-west-corner chain per block for
   feasibility plus the k smallest ``|x_i − y_j| − v_q(j)`` per row under the coarse duals.)
2. the restricted LP: variables = arcs, equalities = row sums a_i and column sums b_j but the
   last (redundant), costs / their maximum, masses / the largest weight, solved by HiGHS
   (``--method highs-ds``: ``scipy.optimize.linprog``, sparse ``A_eq``, presolve off, each round
   from scratch; ``--method highspy``: one ``highspy.Highs`` kept alive, columns appended and the
   primal simplex re-run from the last basis). Duals = the equality marginals times the cost scale.
3. certificate: a fused Numba pass over all n·m pairs (row chunks, no matrix) computes the
   c-transform ``ct_i = min_j (|x_i − y_j| − v_j)`` and the 3 best columns of each row. ``(ct, v)``
   is dual feasible, so ``Σ a ct + Σ b v`` is a lower bound of W1; the plan is certified when
   ``max_i (u_i − ct_i) <= tol`` and primal − lower bound ``<= tol`` (tol = 1e-9 · max |coordinate|).
   Otherwise the violating pairs (up to 3 per row) join the arcs and step 2 runs again.

Measured (2 shared cores, load 2.2-4 from another engineer's runs; dense = ``ot.emd`` on
``cdist`` with scaled costs, each solve in a fresh subprocess after a warm-up, peak RSS by
``getrusage``; the default table below is what ``python benchmarks/experiments/sparse_highs.py``
prints, about 3 minutes):

=================  ======  =========  =========  ========  =======  ======  =======  ======
instance           n x m   solver     sparse s   dense s   rel.err  rounds  arcs     RSS GB
=================  ======  =========  =========  ========  =======  ======  =======  ======
demo               200²    highs-ds   0.70       0.01      1.4e-16  7       7055     0.46
demo               200²    highspy    0.24       0.01      2.9e-16  6       7015     0.46
weighted (3-D)     300x170 highspy    0.24       0.01      1.3e-16  6       9727     0.47
weighted demo      250x400 highs-ds   3.58       0.01      0.0      8       15725    0.47
weighted demo      250x400 highspy    0.86       0.01      1.5e-16  8       15725    0.47
demo               1000²   highs-ds   55.9       0.19      3.7e-14  18      48705    0.52
demo               1000²   highspy    2.95       0.19      1.4e-12  10      45830    0.51
late               1000²   highspy    0.16       0.08      1.8e-16  2       26060    0.48
weighted demo      2000x1500 highspy  14.1       0.59      1.5e-12  12      98152    0.56
demo               2000²   highspy    10.6       1.05      2.7e-12  12      96045    0.56
late               2000²   highspy    0.48       0.49      0.0      3       51405    0.50
late               10⁴²    highspy    6.75       13.1      0.0      4       268640   0.67 (dense 4.68)
late               10⁴²    highs-ds   50.9       13.1      -        15      268807   0.78
demo               10⁴²    highspy    334 (+)    26-37*    -        19      601524   1.06
late               3·10⁴²  highspy    77.9       (no LP)   -        5       792202   1.09
=================  ======  =========  =========  ========  =======  ======  =======  ======

Every run above was certified. (*) the dense demo LP at 10⁴ was not re-run here (the brief
allowed one dense 10⁴ run, spent on "late"); 26-37 s and 4.2 GB are docs/performance.md's numbers.
(+) with ``--prune 0.02`` (zero-flow columns of reduced cost > 2% of the largest cost deleted after
each solve); a first run without pruning took 436 s (18 rounds, 650536 arcs, 384 s in HiGHS).
Why the demo is slow: HiGHS needs ~134k dual simplex iterations for the first restricted LP at
n = 10⁴ (23 s, 0.17 ms each) and then ~250k primal iterations over 18 rounds of column generation
(0.3-1.5 ms each as the arcs grow to 6·10⁵; 9000+ of 10⁴ rows violate for the first 10 rounds:
the near-tied costs make the restricted duals extrapolate badly). Without warm starts (scipy's
``linprog``) each round starts from scratch and the degenerate LP returns other optimal duals
every time, so new violations keep appearing (late 10⁴: 15 rounds instead of 4).

Candidate choices (highspy): ``--dual`` (coarse-dual candidates, NW-corner feasibility chains)
took 14.8 s and 15 rounds on the demo at n = 2000 (blocks: 10.6 s, 12 rounds) and 6.64 s on late
at 10⁴ with ``--k-near 4 --k-row 8 --k-col 2`` (12.6 s with the defaults, whose top-16 pass is
slow; blocks: 6.75 s). ``--col-add 3`` (the most violated rows of every column too): 9 rounds
instead of 12 on the demo at 2000, same time (10.9 s both). ``--prune 0.02`` at 2000: 9.1-9.7 s
against 10.9 s (within the noise).

Run: ``python benchmarks/experiments/sparse_highs.py`` (the table; uses highspy if installed, an
optional extra that w1flow does not depend on), or one instance, e.g.
``python benchmarks/experiments/sparse_highs.py --kind late --n 10000 --dense --verbose``
(``--dense`` also runs the dense LP: 4.7 GB at 10⁴; options ``--method``, ``--k-near``,
``--n-reps``, ``--k-add``, ``--col-add``, ``--prune``, ``--dual``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np
from scipy import sparse
from scipy.optimize import linprog

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))


# -- certificate -----------------------------------------------------------------------------
@numba.njit(cache=True, parallel=True)
def _ctransform_topk(x, y, v, k):
    """Per row i: ``min_j (|x_i − y_j| − v_j)`` and the ``k`` columns with the smallest values
    (one fused pass over all n·m pairs, no matrix). Returns (best values (n, k), columns (n, k))."""
    n, m, d = x.shape[0], y.shape[0], x.shape[1]
    val = np.empty((n, k))
    arg = np.empty((n, k), np.int64)
    for i in numba.prange(n):
        bv = np.full(k, np.inf)
        bj = np.full(k, -1, np.int64)
        for j in range(m):
            s = 0.0
            for t in range(d):
                q = x[i, t] - y[j, t]
                s += q * q
            g = np.sqrt(s) - v[j]
            if g < bv[k - 1]:
                p = k - 1
                while p > 0 and bv[p - 1] > g:
                    bv[p] = bv[p - 1]
                    bj[p] = bj[p - 1]
                    p -= 1
                bv[p] = g
                bj[p] = j
        val[i] = bv
        arg[i] = bj
    return val, arg


def certificate(x, y, v, k=1, chunk=4096):
    """Row-chunked c-transform: ``ct_i = min_j (c_ij − v_j)`` and the k best columns per row.

    The largest dual violation is ``max_i (u_i − ct_i)``; ``(ct, v)`` is always dual feasible."""
    n = x.shape[0]
    ct = np.empty((n, k))
    arg = np.empty((n, k), np.int64)
    for s in range(0, n, chunk):
        ct[s:s + chunk], arg[s:s + chunk] = _ctransform_topk(x[s:s + chunk], y, v, k)
    return ct, arg


# -- candidate arcs --------------------------------------------------------------------------
def knn_arcs(x, y, k):
    from scipy.spatial import cKDTree

    k = min(k, y.shape[0])
    _, nn = cKDTree(y).query(x, k=k, workers=1)
    nn = nn.reshape(x.shape[0], -1)
    return np.repeat(np.arange(x.shape[0]), k), nn.ravel()


def cluster_arcs(x, a, y, b, n_reps, seed, k_block=None):
    """Coarse-to-fine arcs: k-means representatives on each side, an exact dense LP between them
    (masses = cluster weights), and every particle of cluster p joined to the data of every
    cluster q that p sends mass to (``k_block=None``: the whole block, which alone makes the
    restricted LP feasible; else only its k_block nearest in q plus a feasibility chain)."""
    import ot
    from scipy.cluster.vq import kmeans2
    from scipy.spatial.distance import cdist

    rx, ry = min(n_reps, x.shape[0]), min(n_reps, y.shape[0])
    cx, lx = kmeans2(x, rx, iter=5, minit="points", seed=seed)
    cy, ly = kmeans2(y, ry, iter=5, minit="points", seed=seed + 1)
    wx = np.bincount(lx, weights=a, minlength=rx)
    wy = np.bincount(ly, weights=b, minlength=ry)
    kx, ky = np.flatnonzero(wx > 0), np.flatnonzero(wy > 0)
    M = cdist(cx[kx], cy[ky])
    top = M.max() if M.size and M.max() > 0 else 1.0
    wxk, wyk = wx[kx] / wx[kx].sum(), wy[ky] / wy[ky].sum()
    G = ot.emd(wxk, wyk, M / top, numItermax=max(10**6, 50 * M.size))
    px, py = np.nonzero(G > 0)
    ox, oy = np.argsort(lx, kind="stable"), np.argsort(ly, kind="stable")
    sx = np.searchsorted(lx[ox], np.arange(rx + 1))
    sy = np.searchsorted(ly[oy], np.arange(ry + 1))
    rows, cols = [], []
    for p, q in zip(kx[px], ky[py]):
        P, Q = ox[sx[p]:sx[p + 1]], oy[sy[q]:sy[q + 1]]
        rows.append(np.repeat(P, Q.size))
        cols.append(np.tile(Q, P.size))
    return np.concatenate(rows), np.concatenate(cols), rx


def _nw_block(P, Q, sa, sb):
    """North-west-corner arcs between points P (supplies sa) and Q (demands sb), same totals."""
    ca, cb = np.cumsum(sa), np.cumsum(sb)
    ca[-1] = cb[-1] = max(ca[-1], cb[-1])
    br = np.union1d(ca, cb)
    lo = np.concatenate(([0.0], br[:-1]))
    mid = 0.5 * (lo + br)[br > lo]
    return P[np.minimum(np.searchsorted(ca, mid), P.size - 1)], Q[np.minimum(np.searchsorted(cb, mid), Q.size - 1)]


def dual_guided_arcs(x, a, y, b, n_reps, seed, k_row=16, k_col=4):
    """Candidates from a coarse LP's duals instead of whole blocks: k-means representatives, the
    dense LP between them, then (1) feasibility: a north-west-corner chain inside every block
    (p, q) the coarse plan uses, with masses a_i G_pq / A_p and b_j G_pq / B_q — together a
    feasible plan, so the restricted LP is feasible; (2) each particle's k_row smallest
    ``|x_i − y_j| − v_q(j)`` (coarse data duals, a fused pass over all pairs), and (3) each data
    point's k_col smallest ``|x_i − y_j| − ũ_i`` with ``ũ`` the c-transform of (2)."""
    import ot
    from scipy.cluster.vq import kmeans2
    from scipy.spatial.distance import cdist

    rx, ry = min(n_reps, x.shape[0]), min(n_reps, y.shape[0])
    cx, lx = kmeans2(x, rx, iter=5, minit="points", seed=seed)
    cy, ly = kmeans2(y, ry, iter=5, minit="points", seed=seed + 1)
    wx = np.bincount(lx, weights=a, minlength=rx)
    wy = np.bincount(ly, weights=b, minlength=ry)
    kx, ky = np.flatnonzero(wx > 0), np.flatnonzero(wy > 0)
    M = cdist(cx[kx], cy[ky])
    top = M.max() if M.size and M.max() > 0 else 1.0
    G, log = ot.emd(wx[kx], wy[ky], M / top, numItermax=max(10**6, 50 * M.size), log=True)
    vc = np.zeros(ry)
    vc[ky] = log["v"] * top
    px, py = np.nonzero(G > 0)
    ox, oy = np.argsort(lx, kind="stable"), np.argsort(ly, kind="stable")
    sx = np.searchsorted(lx[ox], np.arange(rx + 1))
    sy = np.searchsorted(ly[oy], np.arange(ry + 1))
    rows, cols = [], []
    for p_, q_, g in zip(kx[px], ky[py], G[px, py]):
        P, Q = ox[sx[p_]:sx[p_ + 1]], oy[sy[q_]:sy[q_ + 1]]
        dirn = cy[q_] - cx[p_]
        P, Q = P[np.argsort(x[P] @ dirn)], Q[np.argsort(y[Q] @ dirn)]
        r, c = _nw_block(P, Q, a[P] * (g / wx[p_]), b[Q] * (g / wy[q_]))
        rows.append(r), cols.append(c)
    ct, arg = certificate(x, y, vc[ly], k=k_row)
    rows.append(np.repeat(np.arange(x.shape[0]), k_row)), cols.append(arg.ravel())
    if k_col:
        _, argc = certificate(y, x, ct[:, 0], k=k_col)
        rows.append(argc.ravel()), cols.append(np.repeat(np.arange(y.shape[0]), k_col))
    return np.concatenate(rows), np.concatenate(cols)


# -- restricted LP by HiGHS ------------------------------------------------------------------
def arc_costs(x, y, rows, cols):
    diff = x[rows] - y[cols]
    return np.sqrt(np.einsum("ij,ij->i", diff, diff))


class HighspyLP:
    """The restricted LP kept alive in one ``highspy.Highs`` object: columns are appended and the
    simplex re-run from the previous basis (warm start). Costs divided by a fixed scale S (the
    largest first-round cost), masses by the largest weight."""

    def __init__(self, x, a, y, b, rows, cols, tol_lp=1e-10, strategy=None):
        import highspy

        self.x, self.y, self.n, self.m = x, y, x.shape[0], y.shape[0]
        self.f = 1.0 / max(a.max(), b.max())
        c = arc_costs(x, y, rows, cols)
        self.S = c.max() if c.size and c.max() > 0 else 1.0
        h = highspy.Highs()
        h.silent()
        h.setOptionValue("presolve", "off")
        h.setOptionValue("primal_feasibility_tolerance", tol_lp)
        h.setOptionValue("dual_feasibility_tolerance", tol_lp)
        if strategy is not None:
            h.setOptionValue("simplex_strategy", strategy)
        rhs = self.f * np.concatenate([a, b[:-1]])
        h.addRows(rhs.size, rhs, rhs, 0, np.zeros(1, np.int32), np.zeros(0, np.int32), np.zeros(0))
        self.h = h
        self.rows = np.empty(0, np.int64)
        self.cols = np.empty(0, np.int64)
        self.c = np.empty(0)
        self.add(rows, cols, c)

    def add(self, rows, cols, c=None):
        if c is None:
            c = arc_costs(self.x, self.y, rows, cols)
        k = rows.size
        last = cols == self.m - 1
        nnz = 2 - last.astype(np.int64)
        starts = np.concatenate([[0], np.cumsum(nnz)[:-1]]).astype(np.int32)
        idx = np.empty(int(nnz.sum()), np.int32)
        idx[starts] = rows
        two = ~last
        idx[starts[two] + 1] = self.n + cols[two]
        self.h.addCols(k, c / self.S, np.zeros(k), np.full(k, np.inf), idx.size, starts, idx, np.ones(idx.size))
        self.rows = np.concatenate([self.rows, rows])
        self.cols = np.concatenate([self.cols, cols])
        self.c = np.concatenate([self.c, c])

    def solve(self, strategy=None):
        import highspy

        if strategy is not None:
            self.h.setOptionValue("simplex_strategy", strategy)
        t = time.perf_counter()
        self.h.run()
        t_lp = time.perf_counter() - t
        st = self.h.getModelStatus()
        if st != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"HiGHS: {self.h.modelStatusToString(st)}")
        sol = self.h.getSolution()
        yd = np.asarray(sol.row_dual)
        u = self.S * yd[:self.n]
        v = self.S * np.concatenate([yd[self.n:], [0.0]])
        flow = np.asarray(sol.col_value) / self.f
        nit = self.h.getInfo().simplex_iteration_count
        self.last = (flow, u, v, np.asarray(sol.col_dual))
        return flow, self.c, u, v, t_lp, nit

    def prune(self, theta):
        """Delete the columns at zero flow whose reduced cost exceeds ``theta`` (fraction of S);
        the certificate brings any back that is needed. Returns the mask of kept columns."""
        flow, _, _, rc = self.last
        drop = np.flatnonzero((rc > theta) & (flow == 0))
        keep = np.ones(self.rows.size, bool)
        if drop.size:
            self.h.deleteCols(drop.size, drop.astype(np.int32))
            keep[drop] = False
            self.rows, self.cols, self.c = self.rows[keep], self.cols[keep], self.c[keep]
        return keep


def solve_restricted(x, a, y, b, rows, cols, method="highs-ds", tol_lp=1e-10, presolve=False):
    """The W1 LP on the arcs (rows, cols) only, by scipy's HiGHS: variables = arcs, equalities =
    row sums a_i and column sums b_j except the last (redundant: Σa = Σb). Costs divided by
    their maximum and masses by the largest weight (both O(1)); duals multiplied back."""
    n, m = x.shape[0], y.shape[0]
    c = arc_costs(x, y, rows, cols)
    S = c.max() if c.size and c.max() > 0 else 1.0
    f = 1.0 / max(a.max(), b.max())
    keep = cols < m - 1
    nv = rows.size
    ar = np.arange(nv)
    A = sparse.csc_array((np.ones(nv + int(keep.sum())),
                          (np.concatenate([rows, n + cols[keep]]), np.concatenate([ar, ar[keep]]))),
                         shape=(n + m - 1, nv))
    beq = f * np.concatenate([a, b[:-1]])
    t = time.perf_counter()
    res = linprog(c / S, A_eq=A, b_eq=beq, bounds=(0, None), method=method,
                  options={"dual_feasibility_tolerance": tol_lp, "primal_feasibility_tolerance": tol_lp,
                           "presolve": presolve})
    t_lp = time.perf_counter() - t
    if res.status != 0:
        raise RuntimeError(f"HiGHS: status {res.status}: {res.message}")
    y_ = res.eqlin.marginals
    u = S * y_[:n]
    v = S * np.concatenate([y_[n:], [0.0]])
    flow = res.x / f
    return flow, c, u, v, t_lp, res.nit


def sparse_w1(x, a, y, b, k_near=8, n_reps=None, k_add=3, tol=None, method="highs-ds",
              max_rounds=30, seed=0, use_clusters=True, verbose=False, resolve_strategy=None,
              k_row=16, k_col=4, prune=0.0, col_add=0):
    """Certified exact W1 by column generation. Returns (cost, info)."""
    from w1flow._lp import default_certificate_tol

    x = np.ascontiguousarray(x, np.float64)
    y = np.ascontiguousarray(y, np.float64)
    n, m = x.shape[0], y.shape[0]
    if tol is None:
        tol = default_certificate_tol(x, y)
    secs = {"candidates": 0.0, "build": 0.0, "highs": 0.0, "certificate": 0.0}
    t = time.perf_counter()
    r_list, c_list = [], []
    if k_near:
        r, c = knn_arcs(x, y, k_near)
        r_list.append(r), c_list.append(c)
    if n_reps is None:
        n_reps = max(1, min(n, m) // 10)
    if use_clusters == "dual":
        r, c = dual_guided_arcs(x, a, y, b, n_reps, seed, k_row, k_col)
        r_list.append(r), c_list.append(c)
    elif use_clusters:
        r, c, _ = cluster_arcs(x, a, y, b, n_reps, seed)
        r_list.append(r), c_list.append(c)
    key = np.unique(np.concatenate(r_list) * m + np.concatenate(c_list))
    secs["candidates"] += time.perf_counter() - t
    rounds = passes = 0
    hist = []
    certified = False
    lp = None
    while rounds < max_rounds:
        rounds += 1
        t = time.perf_counter()
        if method == "highspy":
            if lp is None:
                lp = HighspyLP(x, a, y, b, key // m, key % m)
            else:
                lp.add(new // m, new % m)
            flow, c, u, v, t_lp, nit = lp.solve(None if rounds == 1 else resolve_strategy)
            rows, cols = lp.rows, lp.cols
            if prune:
                t_p = time.perf_counter()
                keep = lp.prune(prune)
                t_lp += time.perf_counter() - t_p
                flow, c, rows, cols = flow[keep], lp.c, lp.rows, lp.cols
                key = np.sort(rows * m + cols)
        else:
            rows, cols = key // m, key % m
            flow, c, u, v, t_lp, nit = solve_restricted(x, a, y, b, rows, cols, method)
        secs["highs"] += t_lp
        secs["build"] += time.perf_counter() - t - t_lp
        t = time.perf_counter()
        ct, arg = certificate(x, y, v, k=k_add)
        passes += 1
        secs["certificate"] += time.perf_counter() - t
        viol = u[:, None] - ct  # u_i + v_j − c_ij for the k most violated j of each row
        worst = float(viol[:, 0].max())
        primal = float(np.dot(flow, c))
        dual_feasible = float(np.dot(a, ct[:, 0]) + np.dot(b, v))  # (ct, v) is dual feasible
        hist.append((rows.size, int((viol[:, 0] > tol).sum()), worst, nit))
        if verbose:
            print(f"  round {rounds}: {rows.size} arcs, HiGHS {t_lp:.2f} s ({nit} it), "
                  f"{hist[-1][1]} violating rows, max violation {worst:.3g}, gap {primal - dual_feasible:.3g}",
                  flush=True)
        if worst <= tol:
            certified = abs(primal - dual_feasible) <= tol
            break
        bad_i, bad_k = np.nonzero(viol > tol)
        found = bad_i * m + arg[bad_i, bad_k]
        if col_add:  # also the most violated rows of every column (a second pass, on the transpose)
            t = time.perf_counter()
            ctc, argc = certificate(y, x, u, k=col_add)
            passes += 1
            secs["certificate"] += time.perf_counter() - t
            bad_j, bad_l = np.nonzero(v[:, None] - ctc > tol)
            found = np.concatenate([found, argc[bad_j, bad_l] * m + bad_j])
        new = np.setdiff1d(found, key)
        key = np.union1d(key, new)
    rmarg = np.abs(np.bincount(rows, flow, n) - a).max()
    cmarg = np.abs(np.bincount(cols, flow, m) - b).max()
    info = {"certified": bool(certified), "rounds": rounds, "passes": passes, "arcs": int(rows.size),
            "max_violation": worst, "gap": primal - dual_feasible, "dual_lb": dual_feasible,
            "marg_err": float(max(rmarg, cmarg)), "min_flow": float(flow.min()), "seconds": secs,
            "history": hist, "tol": tol}
    return primal, info


# -- instances and the dense reference -------------------------------------------------------
def instance(kind, n, m=None, seed=0):
    rng = np.random.default_rng(seed)
    m = n if m is None else m
    if kind == "demo":
        from w1flow.datasets import eight_gaussians, gaussian_blob

        x = gaussian_blob(n, center=(3.0, 0.0), std=0.5, seed=rng)
        y = eight_gaussians(m, radius=2.0, std=0.05, seed=rng)
        a, b = np.full(n, 1 / n), np.full(m, 1 / m)
    elif kind == "late":  # data + small noise -> data (late in a flow)
        from w1flow.datasets import eight_gaussians

        y = eight_gaussians(m, radius=2.0, std=0.05, seed=rng)
        idx = rng.integers(0, m, n) if n != m else rng.permutation(m)
        x = y[idx] + 0.01 * rng.standard_normal((n, 2))
        a, b = np.full(n, 1 / n), np.full(m, 1 / m)
    elif kind == "weighted":  # two Gaussian clouds in 3-D, random weights, n != m
        x = rng.normal(size=(n, 3)) + 1.0
        y = rng.normal(size=(m, 3))
        a, b = rng.random(n) + 0.1, rng.random(m) + 0.1
        a, b = a / a.sum(), b / b.sum()
    elif kind == "weighted-demo":
        from w1flow.datasets import eight_gaussians, gaussian_blob

        x = gaussian_blob(n, center=(3.0, 0.0), std=0.5, seed=rng)
        y = eight_gaussians(m, radius=2.0, std=0.05, seed=rng)
        a, b = rng.random(n) + 0.1, rng.random(m) + 0.1
        a, b = a / a.sum(), b / b.sum()
    else:
        raise ValueError(kind)
    return x, a, y, b


def dense_w1(x, a, y, b):
    import ot
    from scipy.spatial.distance import cdist

    M = cdist(x, y)
    top = M.max()
    n, m = M.shape
    G, log = ot.emd(a, b, M / top, numItermax=int(min(max(10**7, 50 * n * m), 2**31 - 1)), log=True)
    assert log["result_code"] == 1, log
    r, c = np.nonzero(G)
    return float(np.dot(G[r, c], M[r, c]))


def child(args):
    """One solve in this process; prints JSON with time and peak RSS."""
    x, a, y, b = instance(args.kind, args.n, args.m, args.seed)
    out = {"kind": args.kind, "n": args.n, "m": args.m or args.n}
    xw, aw, yw, bw = instance(args.kind, 20, 20, 1)  # warm up (imports, Numba cache, HiGHS)
    dense_w1(xw, aw, yw, bw) if args.solver == "dense" else sparse_w1(xw, aw, yw, bw, n_reps=4)
    if args.solver == "dense":
        t = time.perf_counter()
        out["value"] = dense_w1(x, a, y, b)
        out["seconds"] = time.perf_counter() - t
    else:
        t = time.perf_counter()
        val, info = sparse_w1(x, a, y, b, k_near=args.k_near, n_reps=args.n_reps, k_add=args.k_add,
                              method=args.method, use_clusters="dual" if args.dual else not args.no_clusters, verbose=args.verbose,
                              k_row=args.k_row, k_col=args.k_col, prune=args.prune,
                              col_add=args.col_add,
                              resolve_strategy=args.resolve_strategy)
        out["seconds"] = time.perf_counter() - t
        out["value"] = val
        out.update({k: info[k] for k in ("certified", "rounds", "passes", "arcs", "max_violation", "gap",
                                          "marg_err", "min_flow", "seconds")} | {"phase": info["seconds"]})
        out["seconds"] = time.perf_counter() - t
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    print("JSON" + json.dumps(out))


def run_child(**kw):
    cmd = [sys.executable, __file__, "--child"]
    for k, v in kw.items():
        if v is True:
            cmd.append(f"--{k.replace('_', '-')}")
        elif v is not None and v is not False:
            cmd += [f"--{k.replace('_', '-')}", str(v)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if line.startswith("JSON"):
            return json.loads(line[4:])
        print(line)
    raise RuntimeError(p.stderr[-3000:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--solver", default="sparse")
    ap.add_argument("--kind", default="demo")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--m", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--k-near", type=int, default=8)
    ap.add_argument("--n-reps", type=int, default=None)
    ap.add_argument("--k-add", type=int, default=3)
    ap.add_argument("--method", default=None, help="highs-ds / highs-ipm (scipy, cold re-solves) or highspy "
                    "(warm re-solves; the default when highspy is installed)")
    ap.add_argument("--no-clusters", action="store_true")
    ap.add_argument("--dense", action="store_true", help="also run the dense LP")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--dual", action="store_true", help="dual-guided candidates instead of whole blocks")
    ap.add_argument("--k-row", type=int, default=16)
    ap.add_argument("--col-add", type=int, default=0, help="also add the COL_ADD most violated rows per column")
    ap.add_argument("--prune", type=float, default=0.0, help="highspy: delete zero-flow columns of reduced cost > PRUNE · max cost")
    ap.add_argument("--k-col", type=int, default=4)
    ap.add_argument("--resolve-strategy", type=int, default=4, help="HiGHS simplex_strategy of re-solves (4 = primal)")
    args = ap.parse_args()
    if args.method is None:
        try:
            import highspy  # noqa: F401
            args.method = "highspy"
        except ImportError:
            args.method = "highs-ds"
    if args.child:
        return child(args)
    cases = ([(args.kind, args.n, args.m, args.method)] if args.n else
             [(k, n, m, meth) for k, n, m in [("demo", 200, None), ("late", 200, None), ("weighted", 300, 170),
                                               ("weighted-demo", 250, 400), ("demo", 1000, None), ("late", 1000, None)]
              for meth in ("highs-ds", args.method)]
             + [("weighted-demo", 2000, 1500, args.method), ("demo", 2000, None, args.method),
                ("late", 2000, None, args.method)])
    print(f"load: {open('/proc/loadavg').read().split()[:3]}")
    print(f"{'kind':14s} {'n':>6s} {'m':>6s} {'solver':9s}| {'sparse s':>8s} {'dense s':>8s} | {'rel.err':>8s} cert "
          f"{'rounds':>6s} {'passes':>6s} {'arcs':>8s} | {'RSS sp':>6s} {'RSS de':>6s} | phases (cand/build/highs/cert) | marg.err")
    dense_cache = {}
    for kind, n, m, method in cases:
        sp = run_child(kind=kind, n=n, m=m, seed=args.seed, k_near=args.k_near, n_reps=args.n_reps,
                       k_add=args.k_add, method=method, no_clusters=args.no_clusters, verbose=args.verbose,
                       dual=args.dual, prune=args.prune, col_add=args.col_add, k_row=args.k_row, k_col=args.k_col, resolve_strategy=args.resolve_strategy)
        if (args.dense or not args.n) and (kind, n, m) not in dense_cache:
            dense_cache[kind, n, m] = run_child(kind=kind, n=n, m=m, seed=args.seed, solver="dense")
        de = dense_cache.get((kind, n, m))
        rel = abs(sp["value"] - de["value"]) / de["value"] if de else float("nan")
        ph = sp["phase"]
        print(f"{kind:14s} {n:6d} {m or n:6d} {method[:9]:9s}| {sp['seconds']:8.2f} {de['seconds'] if de else float('nan'):8.2f} | "
              f"{rel:8.1e} {'yes' if sp['certified'] else 'NO ':4s} {sp['rounds']:6d} {sp['passes']:6d} {sp['arcs']:8d} | "
              f"{sp['peak_rss_gb']:6.2f} {de['peak_rss_gb'] if de else float('nan'):6.2f} | "
              f"{ph['candidates']:.2f}/{ph['build']:.2f}/{ph['highs']:.2f}/{ph['certificate']:.2f} | {sp['marg_err']:.0e}",
              flush=True)


if __name__ == "__main__":
    main()
