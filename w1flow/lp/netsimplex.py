"""A warm-started network simplex for the W1 transport LP, on a sparse set of arcs, certified.

The uncapped Euler scheme re-solves the W1 LP at nearly every step once particles reach the
data, and the LP barely changes between steps: the masses are the same and the particles moved
by ``dt``. The previous optimal **basis** (a spanning tree of the bipartite graph rows ∪ columns)
therefore stays primal feasible, and a primal network simplex started from it needs few pivots.
Dense ``ot.emd`` cannot be started from a basis (POT only takes initial duals), so w1flow has its
own simplex here:

* **Transport network.** Rows ``i`` (supply ``a_i``) and columns ``j`` (demand ``b_j``) are the
  nodes ``i`` and ``n + j``; arcs ``i → j`` are uncapacitated with cost ``|x_i − y_j| / scale``
  (direct differences; ``scale`` is the bounding-box diameter, so costs are O(1)). A basis is a
  spanning tree with ``n + m − 1`` arcs; its duals satisfy ``u_i + v_j = c_ij`` on tree arcs.
* **Pivots.** Block-search pricing over the current arc list, the leaving arc by the
  strongly-feasible rule of LEMON's network simplex (the last blocking arc of the cycle from the
  apex); the tree is a preorder thread as in LEMON (a subtree is a segment of it), so re-rooting
  the cut-off subtree relinks O(stem) pieces and its duals shift in one walk along the segment.
* **Column generation and certificate.** The arc list is sparse: the tree, the arcs of earlier
  solves, and arcs that a fused O(nm) Numba pass over all pairs finds violated. After the
  restricted LP is optimal, the pass computes ``min_j (c_ij − u_i − v_j)`` for every row from the
  tree's duals; violated pairs join the list and the simplex continues. When no pair is violated
  beyond ``eps``, the plan is optimal over **all** n·m pairs: the last pass is the dual-feasibility
  half of the certificate (in d = 2, 3 at scale the passes skip blocks of pairs whose k-d cell bound
  proves them priced out, :class:`~w1flow.lp.cells.CellPricer`: every pair is still covered),
  and complementary slackness holds by construction (flows and duals are recomputed from the
  tree at the end, so round-off does not accumulate over pivots).
* **Failure.** A pivot cap, a tree whose flows come out negative, or a failed certificate return a
  non-optimal status; the caller falls back to the dense LP. Nothing is returned as optimal that
  was not certified.

Memory is O(n + m + arcs): no n × m matrix. The first basis comes from a solved LP's plan
(:func:`basis_from_plan`): its support is a forest, completed to a spanning tree by zero-flow arcs
of smallest reduced cost (Kruskal on each row's cheapest arcs).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields

import numba
import numpy as np

from .._validation import WEIGHT_TOTAL_TOL
from ..threads import one_thread
from .cells import PASS_THREADS, CellPricer, _insert_smallest, cells_pay
from .costs import box_scale as _scale

__all__ = ["TransportBasis", "basis_from_plan", "warm_solve", "WarmSolveStats", "WarmSolveResult"]

#: Reduced-cost tolerance of pricing and of the column-generation pass, in scaled cost units
#: (costs are O(1); tree duals carry round-off of about depth · 1e-16).
EPS = 1e-11
#: Round-off of the tree's flows, relative to the total mass (a flow is a sum of subtree masses).
FLOW_ROUNDOFF = 1e-12
#: Mass tolerance of the certificate, relative to the total mass: validation keeps weights whose
#: totals are within WEIGHT_TOTAL_TOL of 1 as given (rescaling them would split permutation plans
#: into round-off pieces, see ``_validation.as_weights``), so the two sides' totals may differ by
#: twice that. The leaf elimination puts the difference at the root, and a degenerate (zero-flow)
#: tree arc whose subtree holds an off-by-1e-12 mass carries it as a tiny negative flow.
MASS_TOL = 2 * WEIGHT_TOTAL_TOL + FLOW_ROUNDOFF
#: Pricing block size, as a multiple of sqrt(arcs), at least :data:`BLOCK_MIN` arcs (LEMON's block search uses
#: 1; 0.5 was faster here: 11.9 s against 13.4 s for the n = 10^4 cold solve, 225 ms against
#: 260 ms per warm solve at n = 2000). Smaller blocks take more pivots, each priced more cheaply,
#: and paid off once the passes were cheap (cell pricing, 2026-12-05): the capped flow of 10^5
#: particles (d = 2, quiet 2 cores) took 247.2 / 232.1 / 208.8 / 208.1 s at 0.5 / 0.25 / 0.125 /
#: 0.0625 (simplex 173.0 / 160.6 / 142.9 / 133.5 s; 43 / 42 / 33 / 44 rounds), the n = 3·10^4 cold
#: solves' simplex 16.3 → 12.5 s (demo) and 18.3 → 13.2 s (Gaussian pair) from 0.5 to 0.125; an
#: incremental flow's warm solves take about as long (100 steps at n = 2000: 3.75 / 3.65 s).
#: With the start's duals from the coarse level (seventh session) rounds stopped growing with
#: smaller blocks, and cold solves (whole, quiet 2 cores) took at 0.125 / 0.0625 / 0.03125: demo
#: 10^5 89.6 / 86.2 / 82.2 s, Gaussian pair 10^5 93.1 / 85.9 / 84.8 s; at 3·10^4 10.4 / 10.2-10.4 /
#: 10.2 s (demo) and 10.6 / 9.7 / 9.4 s (Gaussian pair). Below 2048² ≈ 4.2·10^6 arcs the floor of 64
#: arcs ruled then (now :data:`BLOCK_MIN`).
#: Not best at every size: the capped flow of 3·10^5 particles took 784.2 s at 0.125 and 821.9 s
#: at 0.03125 (simplex 457 → 409 s, but 12 → 25 rounds); a rule growing with n is unmeasured.
BLOCK_FACTOR = 0.03125
#: The smallest pricing block, in arcs (``BLOCK_FACTOR · sqrt(arcs)`` is below it under 512² =
#: 262,144 listed arcs: warm solves of flows up to n ≈ 10^4, cold solves' first rounds). 64 until
#: 2026-12-06; chosen among 4 / 8 / 16 / 32 / 64 on seed 0 and reported on seed 1 (quiet 2 cores,
#: best of 2, 16 / 64): the uncapped demo flow at n = 2000 0.89 (2.76 / 3.12 s), at 10^4 0.96
#: (53.6 / 56.0 s, one run); cold sparse solves at 10^4 0.85 (late), 0.87 (weighted, d = 3),
#: 0.93 (Gaussian pair), 0.98 (demo, d = 3), 1.03 (demo); at 3·10^4 0.95 (Gaussian pair), 1.03
#: (demo); the capped flow of 10^5 (seed 0) in d = 2 54.3-55.7 / 55.3-55.4 s, in d = 3 46.4 /
#: 48.9-49.0 s (blocks of 60-90 there by the factor: the floor acts only in early rounds).
BLOCK_MIN = 16
#: Violated columns added per row per column-generation round.
ADD_PER_ROW = 8
#: Pivots between renamings of the nodes in thread order (:func:`_simplex_in_thread_order`), per node.
RENAME_EVERY = 2.0
#: Cheapest columns per row used to complete a plan's support to a spanning tree (and listed as
#: the first arcs); a cold solve lists more (:data:`~w1flow.lp.sparse.COLD_COMPLETION_PER_ROW`).
COMPLETION_PER_ROW = 4
#: Arcs per node above which a solve drops non-tree arcs of large reduced cost between rounds.
MAX_ARCS_PER_NODE = 16
#: Non-tree arcs kept from one solve to the next, per node.
KEEP_PER_NODE = 4
#: Reduced cost (scaled units) below which a row that violates also gets its near-tight columns
#: (among its ``add_per_row`` cheapest, not yet listed). Near ties make the tail of a cold solve
#: a string of passes that each find a few dozen rows violated by about 1e-7, columns that were
#: tight within 1e-6 when the row was last priced; listing them at once removed that tail
#: (n = 3·10⁴ demo, d = 2: 25 → 15 passes; see docs/performance.md).
NEAR_TIGHT = 1e-6

@numba.njit(cache=True)
def _dist(x, i, y, j):
    s = 0.0
    for k in range(x.shape[1]):
        d = x[i, k] - y[j, k]
        s += d * d
    return math.sqrt(s)


@numba.njit(cache=True)
def _arc_costs(x, y, arc_i, arc_j, inv_scale, out):
    for k in range(arc_i.shape[0]):
        out[k] = _dist(x, arc_i[k], y, arc_j[k]) * inv_scale


@numba.njit(parallel=True, cache=True)
def _row_scan_kernel(x, rows, yT, u, v, inv_scale, best_j, best_r, row_min):
    """For every row ``rows[t]``: the K columns of smallest reduced cost ``c_ij − u_i − v_j`` and the minimum.

    One fused pass over all n·m pairs, no matrix (``yT`` is the data transposed, shape (d, m),
    so the inner loops run over contiguous memory and vectorise); rows run in parallel and each
    writes only its own outputs. The reduced costs are bitwise those of :func:`_arc_costs`
    minus the duals (same summation order).
    """
    n, m, K, d = rows.shape[0], yT.shape[1], best_j.shape[1], x.shape[1]
    for t in numba.prange(n):
        i = rows[t]
        buf = np.zeros(m)
        for k in range(d):
            xik = x[i, k]
            yk = yT[k]
            for j in range(m):
                dk = xik - yk[j]
                buf[j] += dk * dk
        ui = u[i]
        for j in range(m):
            buf[j] = math.sqrt(buf[j]) * inv_scale - ui - v[j]
        for q in range(K):
            best_r[t, q] = np.inf
            best_j[t, q] = -1
        mn = np.inf
        thr = np.inf
        for j in range(m):
            r = buf[j]
            if r < thr:  # among the K smallest so far: insert, dropping the largest
                if r < mn:
                    mn = r
                _insert_smallest(best_r, best_j, t, r, j)
                thr = best_r[t, K - 1]
        row_min[t] = mn


#: Pairs per pass above which the full pass runs on the threads ``cells.PASS_THREADS`` chooses:
#: a parallel region waits for its slowest thread, so on a busy machine a small pass can cost a
#: scheduler time slice (measured: 6.6 ms for a 500 x 500 pass while another process kept the
#: second core busy). Below it the same kernel runs with one Numba thread (as fast as a serial
#: twin: 0.90 ms against 0.96 ms for 500 x 500).
PARALLEL_PAIRS = 10**6


def _row_scan(x, rows, yT, u, v, inv_scale, best_j, best_r, row_min):
    """:func:`_row_scan_kernel`, on one thread below :data:`PARALLEL_PAIRS` pairs, above on the
    threads ``cells.PASS_THREADS`` chooses."""
    pairs = rows.shape[0] * yT.shape[1]
    if pairs < PARALLEL_PAIRS:
        with one_thread():
            _row_scan_kernel(x, rows, yT, u, v, inv_scale, best_j, best_r, row_min)
        return
    with PASS_THREADS(pairs) as rec:
        _row_scan_kernel(x, rows, yT, u, v, inv_scale, best_j, best_r, row_min)
        rec.work = pairs


@numba.njit(cache=True)
def _preorder(root, first_child, next_sib, order):
    """Nodes of the tree in preorder (parents before children), iterative."""
    stack = np.empty(order.shape[0], dtype=np.int64)
    top = 0
    stack[0] = root
    cnt = 0
    while top >= 0:
        k = stack[top]
        top -= 1
        order[cnt] = k
        cnt += 1
        c = first_child[k]
        while c >= 0:
            top += 1
            stack[top] = c
            c = next_sib[c]
    return cnt


@numba.njit(cache=True)
def _tree_duals(order, parent, pred_arc, arc_cost, pot):
    """Duals from the tree: ``pot[child] = c(pred arc) − pot[parent]``, root at 0."""
    pot[order[0]] = 0.0
    for t in range(1, order.shape[0]):
        k = order[t]
        pot[k] = arc_cost[pred_arc[k]] - pot[parent[k]]


@numba.njit(cache=True)
def _tree_flows(order, parent, pred_arc, supply, flow, rem):
    """Flows on the tree arcs from the supplies alone (leaf elimination); returns the root's rest.

    ``supply`` holds ``a_i`` for rows and ``b_j`` for columns (both positive): a row's pred arc
    carries what is left of its supply, a column's what is left of its demand.
    """
    for t in range(order.shape[0]):
        rem[order[t]] = supply[order[t]]
    for t in range(order.shape[0] - 1, 0, -1):
        k = order[t]
        flow[pred_arc[k]] = rem[k]
        rem[parent[k]] -= rem[k]
    return rem[order[0]]


@numba.njit(cache=True)
def _build_tree(N, root, arc_i, arc_j, n, tree_arcs, parent, pred_arc, depth, first_child, next_sib, prev_sib):
    """Parent pointers, depths and children lists of the spanning tree given by ``tree_arcs``.

    Returns the number of nodes reached from the root (N when the arcs span the graph).
    """
    deg = np.zeros(N + 1, dtype=np.int64)
    for t in range(tree_arcs.shape[0]):
        e = tree_arcs[t]
        deg[arc_i[e] + 1] += 1
        deg[n + arc_j[e] + 1] += 1
    for k in range(N):
        deg[k + 1] += deg[k]
    adj = np.empty(deg[N], dtype=np.int64)
    fill = deg[:N].copy()
    for t in range(tree_arcs.shape[0]):
        e = tree_arcs[t]
        p, q = arc_i[e], n + arc_j[e]
        adj[fill[p]] = e
        fill[p] += 1
        adj[fill[q]] = e
        fill[q] += 1
    for k in range(N):
        parent[k] = -2
        first_child[k] = -1
        next_sib[k] = -1
        prev_sib[k] = -1
    parent[root] = -1
    pred_arc[root] = -1
    depth[root] = 0
    queue = np.empty(N, dtype=np.int64)
    queue[0] = root
    head, tail = 0, 1
    while head < tail:
        k = queue[head]
        head += 1
        for s in range(deg[k], deg[k + 1]):
            e = adj[s]
            w = arc_i[e] if k >= n else n + arc_j[e]
            if parent[w] != -2:
                continue
            parent[w] = k
            pred_arc[w] = e
            depth[w] = depth[k] + 1
            next_sib[w] = first_child[k]
            if first_child[k] >= 0:
                prev_sib[first_child[k]] = w
            first_child[k] = w
            queue[tail] = w
            tail += 1
    return tail


@numba.njit(cache=True)
def _attach(w, p, parent, first_child, next_sib, prev_sib):
    parent[w] = p
    prev_sib[w] = -1
    next_sib[w] = first_child[p]
    if first_child[p] >= 0:
        prev_sib[first_child[p]] = w
    first_child[p] = w


@numba.njit(cache=True)
def _thread_from_children(root, first_child, next_sib, parent, thread, rev_thread, succ_num, last_succ):
    """The tree as a preorder **thread** (LEMON's representation) from its children lists.

    ``thread[k]`` is the node after ``k`` in preorder (circular: the last node's successor is the
    root) and ``rev_thread`` its inverse; ``succ_num[k]`` is the size of ``k``'s subtree and
    ``last_succ[k]`` its last node in preorder, so the subtree of ``k`` is the thread segment
    from ``k`` to ``last_succ[k]``.
    """
    N = parent.shape[0]
    order = np.empty(N, dtype=np.int64)
    cnt = _preorder(root, first_child, next_sib, order)
    for t in range(cnt):
        nxt = order[(t + 1) % cnt]
        thread[order[t]] = nxt
        rev_thread[nxt] = order[t]
        succ_num[order[t]] = 1
    for t in range(cnt - 1, 0, -1):
        succ_num[parent[order[t]]] += succ_num[order[t]]
    for t in range(cnt):
        last_succ[order[t]] = order[t + succ_num[order[t]] - 1]


@numba.njit(cache=True)
def _children_from_thread(root, thread, parent, depth, first_child, next_sib, prev_sib):
    """Children lists and depths of the tree given by its parents, visiting nodes in thread order."""
    for k in range(parent.shape[0]):
        first_child[k] = -1
        next_sib[k] = -1
        prev_sib[k] = -1
    depth[root] = 0
    w = thread[root]
    while w != root:
        depth[w] = depth[parent[w]] + 1
        _attach(w, parent[w], parent, first_child, next_sib, prev_sib)
        w = thread[w]


@numba.njit(cache=True)
def _thread_order(root, thread, order):
    """The nodes in preorder, from the thread."""
    w = root
    for t in range(order.shape[0]):
        order[t] = w
        w = thread[w]


@numba.njit(cache=True)
def _replace_last(w, old, new, last_succ, parent):
    """From ``w`` up: the ancestors whose subtree ended at ``old`` in preorder now end at ``new``
    (they are a path from ``w``: once one ends elsewhere, so do all above it)."""
    while w >= 0 and last_succ[w] == old:
        last_succ[w] = new
        w = parent[w]


@numba.njit(cache=True)
def _simplex(n, arc_i, arc_j, arc_cost, flow, in_tree, parent, pred_arc, thread, rev_thread, succ_num, last_succ,
             pot, eps, max_pivots, start_arc, counts, block_factor, block_min):
    """Primal network simplex pivots from a feasible tree until no listed arc prices out.

    The tree is held as parents and pred arcs plus a preorder thread (:func:`_thread_from_children`),
    updated in place. Returns 0 (optimal on the listed arcs) or 1 (pivot cap reached). ``counts``
    accumulates [pivots, degenerate pivots, path steps, dual updates (nodes), arcs priced] and
    ``start_arc[0]`` keeps the pricing position. ``pot`` (rows' duals, then columns') is
    returned as given in layout and sign; inside, the columns' entries hold −v.

    Why a thread: most pivots are degenerate, and each one shifts the duals of the whole cut-off
    subtree (1,400 nodes on average at n = 10⁵). Walking that subtree along the thread is one
    dependent load per node; the depth-first walk over children lists it replaced took about
    twice as long (the same pivots: 143.0 → 91.5 s of simplex for the n = 10⁵ demo, d = 2).
    When the cut-off subtree is the larger part, the rest of the tree shifts instead (duals are
    defined up to rows +c, columns −c): the same pivots, 10–18 % less simplex time a round
    (n = 3·10⁴ demo, d = 2), and the negated column duals make the shift one add per node.
    The apex is found from subtree sizes (an ancestor's subtree is strictly larger), so no depths
    are kept.
    """
    n_arcs = arc_i.shape[0]
    block = max(block_min, int(block_factor * math.sqrt(n_arcs)))
    N = parent.shape[0]
    # the stem (u_in, ..., u_out) and the thread pieces of its nodes' new subtrees
    stem = np.empty(N, dtype=np.int64)
    piece1_end = np.empty(N, dtype=np.int64)
    piece2_start = np.empty(N, dtype=np.int64)
    piece2_end = np.empty(N, dtype=np.int64)
    k = start_arc[0] % n_arcs
    for w in range(n, N):  # the columns' duals negated while pivoting (undone before returning)
        pot[w] = -pot[w]
    pivots = degenerate = path_steps = subtree_nodes = priced = 0  # local: no memory round trip per step
    code = 0
    while True:
        # -- pricing: block search, the most negative reduced cost of the first block that has one
        best, best_k = -eps, -1
        scanned, cnt = 0, 0
        while scanned < n_arcs:
            if not in_tree[k]:
                r = arc_cost[k] - pot[arc_i[k]] + pot[n + arc_j[k]]  # pot holds -v_j (below)
                if r < best:
                    best, best_k = r, k
            scanned += 1
            cnt += 1
            k += 1
            if k == n_arcs:
                k = 0
            if cnt == block:
                if best_k >= 0:
                    break
                cnt = 0
        priced += scanned
        start_arc[0] = k
        if best_k < 0:
            break
        if pivots >= max_pivots:
            code = 1
            break
        pivots += 1
        first, second = arc_i[best_k], n + arc_j[best_k]
        # -- the apex of the cycle: climb from the side with the smaller subtree
        p, q = first, second
        while p != q:
            path_steps += 1
            if succ_num[p] < succ_num[q]:
                p = parent[p]
            else:
                q = parent[q]
        join = p
        # -- leaving arc: flow goes first -> second, up to the apex, down to first. Arcs run row ->
        # column, so the arcs against the cycle are a row's pred arc on the first side and a
        # column's on the second; ties go to the last blocking arc from the apex (strict on the
        # first side, non-strict on the second), which keeps strongly feasible trees so.
        delta = np.inf
        u_out, side = -1, 0
        w = first
        while w != join:
            if w < n:
                d = flow[pred_arc[w]]
                if d < delta:
                    delta, u_out, side = d, w, 1
            w = parent[w]
        w = second
        while w != join:
            if w >= n:
                d = flow[pred_arc[w]]
                if d <= delta:
                    delta, u_out, side = d, w, 2
            w = parent[w]
        if delta < 0.0:
            delta = 0.0
        if delta > 0.0:
            flow[best_k] += delta
            w = first
            while w != join:
                if w < n:
                    flow[pred_arc[w]] -= delta
                else:
                    flow[pred_arc[w]] += delta
                w = parent[w]
            w = second
            while w != join:
                if w < n:
                    flow[pred_arc[w]] += delta
                else:
                    flow[pred_arc[w]] -= delta
                w = parent[w]
        else:
            degenerate += 1
        out_arc = pred_arc[u_out]
        flow[out_arc] = 0.0
        in_tree[out_arc] = False
        in_tree[best_k] = True
        if side == 1:
            u_in, v_in = first, second
        else:
            u_in, v_in = second, first
        v_out = parent[u_out]
        size = succ_num[u_out]
        old_last = last_succ[u_out]
        # -- the cut-off subtree S (the thread segment u_out .. old_last) is re-rooted at u_in along
        # the stem s_0 = u_in, s_1 = parent(s_0), ..., s_K = u_out. In preorder its new order is
        # Seg(s_0), then for t = 1..K the old Seg(s_t) without Seg(s_(t-1)): the piece from s_t to
        # just before s_(t-1), and the piece after Seg(s_(t-1)) to the end of Seg(s_t) (possibly
        # empty). Read all piece ends from the old thread first.
        n_stem = 0
        stem[0] = u_in
        while stem[n_stem] != u_out:
            stem[n_stem + 1] = parent[stem[n_stem]]
            n_stem += 1
        for t in range(1, n_stem + 1):
            s, c = stem[t], stem[t - 1]
            piece1_end[t] = rev_thread[c]
            if last_succ[c] != last_succ[s]:
                piece2_start[t] = thread[last_succ[c]]
                piece2_end[t] = last_succ[s]
            else:
                piece2_start[t] = -1
        # -- duals: S's rows shift by +shift and its columns by -shift (its tree arcs stay tight, the
        # entering arc becomes tight); or, when S is the larger side, the rest of the tree by the
        # opposite amounts, which changes the duals by a constant (rows +c, columns -c) and no
        # reduced cost. With the columns' duals negated in pot, both are one add per node.
        shift = best if u_in < n else -best
        if 2 * size <= N:
            w = u_out
            for _ in range(size):
                pot[w] += shift
                w = thread[w]
        else:
            w = thread[old_last]  # the thread is circular: the rest runs from after S back to before it
            for _ in range(N - size):
                pot[w] -= shift
                w = thread[w]
        subtree_nodes += min(size, N - size)
        # -- cut S out of the thread; its ancestors whose subtree ended with it now end before it
        before, after = rev_thread[u_out], thread[old_last]
        thread[before] = after
        rev_thread[after] = before
        _replace_last(v_out, old_last, before, last_succ, parent)
        # -- link S's pieces in their new order
        end = last_succ[u_in]
        for t in range(1, n_stem + 1):
            s = stem[t]
            thread[end] = s
            rev_thread[s] = end
            end = piece1_end[t]
            if piece2_start[t] >= 0:
                thread[end] = piece2_start[t]
                rev_thread[piece2_start[t]] = end
                end = piece2_end[t]
        new_last = end
        # -- hang S right after v_in; v_in's ancestors whose subtree ended with v_in now end with S
        nxt = thread[v_in]
        thread[v_in] = u_in
        rev_thread[u_in] = v_in
        thread[new_last] = nxt
        rev_thread[nxt] = new_last
        _replace_last(v_in, v_in, new_last, last_succ, parent)
        # -- parents, pred arcs, subtree sizes and last nodes along the stem (s_t's new subtree is S
        # without the old Seg(s_(t-1))), and the sizes on both paths below the apex
        for t in range(n_stem, 0, -1):
            s, c = stem[t], stem[t - 1]
            parent[s] = c
            pred_arc[s] = pred_arc[c]
            succ_num[s] = size - succ_num[c]
            last_succ[s] = new_last
        parent[u_in] = v_in
        pred_arc[u_in] = best_k
        succ_num[u_in] = size
        last_succ[u_in] = new_last
        w = v_in
        while w != join:
            succ_num[w] += size
            w = parent[w]
        w = v_out
        while w != join:
            succ_num[w] -= size
            w = parent[w]
    for w in range(n, N):
        pot[w] = -pot[w]
    counts[0] += pivots
    counts[1] += degenerate
    counts[2] += path_steps
    counts[3] += subtree_nodes
    counts[4] += priced
    return code


@numba.njit(cache=True)
def _thread_ids(n, root, thread, new_id, old_id):
    """Node ids in thread (preorder) order, rows among rows and columns among columns:
    ``new_id[k]`` is node k's new id, ``old_id`` the inverse."""
    N = thread.shape[0]
    r, c, w = 0, n, root
    for _ in range(N):
        if w < n:
            new_id[w] = r
            r += 1
        else:
            new_id[w] = c
            c += 1
        w = thread[w]
    for k in range(N):
        old_id[new_id[k]] = k


@numba.njit(cache=True)
def _rename_nodes(ids, parent, pred_arc, thread, rev_thread, succ_num, last_succ, pot,
                  parent2, pred_arc2, thread2, rev_thread2, succ_num2, last_succ2, pot2):
    """The tree's node arrays with node k renamed ``ids[k]`` (into the arrays ending in 2)."""
    for k in range(parent.shape[0]):
        t = ids[k]
        parent2[t] = ids[parent[k]] if parent[k] >= 0 else parent[k]
        pred_arc2[t] = pred_arc[k]
        thread2[t] = ids[thread[k]]
        rev_thread2[t] = ids[rev_thread[k]]
        succ_num2[t] = succ_num[k]
        last_succ2[t] = ids[last_succ[k]]
        pot2[t] = pot[k]


@numba.njit(cache=True)
def _rename_arcs(n, ids, arc_i, arc_j, arc_i2, arc_j2):
    """The arcs' endpoints with node k renamed ``ids[k]`` (rows stay rows, columns columns)."""
    for e in range(arc_i.shape[0]):
        arc_i2[e] = ids[arc_i[e]]
        arc_j2[e] = ids[n + arc_j[e]] - n


def _simplex_in_thread_order(n, root, arc_i, arc_j, cost, flow, in_tree, parent, pred_arc, thread, rev_thread,
                             succ_num, last_succ, pot, eps, max_pivots, start_arc, counts, scratch):
    """:func:`_simplex` with the nodes renamed in thread order for its duration (the same pivots).

    A pivot's dual shift walks a subtree along the thread, one dependent load per node; renamed so
    that rows and columns each come in thread order, the walk reads memory in order. Measured on
    a captured round of the 10⁵ Gaussian pair (0.59 M pivots, 2.3·10⁹ node visits): 9.8 → 7.0 s.
    Arcs keep their positions; node arrays are renamed into ``scratch`` and back.
    """
    N = parent.shape[0]
    L = arc_i.shape[0]
    s = scratch
    if s.get("arc_i") is None or s["arc_i"].size < L:
        s["arc_i"] = np.empty(max(L, int(1.25 * L)), dtype=np.int64)
        s["arc_j"] = np.empty_like(s["arc_i"])
    if s.get("new") is None:
        s["new"], s["old"] = np.empty(N, dtype=np.int64), np.empty(N, dtype=np.int64)
        s["nodes"] = tuple(np.empty(N, dtype=arr.dtype) for arr in
                           (parent, pred_arc, thread, rev_thread, succ_num, last_succ, pot))
    new, old = s["new"], s["old"]
    p2, pa2, t2, rt2, sn2, ls2, pot2 = s["nodes"]
    ai, aj = s["arc_i"][:L], s["arc_j"][:L]
    every = max(1, int(RENAME_EVERY * N))
    done = 0
    while True:  # renamed afresh every RENAME_EVERY * N pivots: the order decays as pivots move subtrees
        _thread_ids(n, root, thread, new, old)
        _rename_nodes(new, parent, pred_arc, thread, rev_thread, succ_num, last_succ, pot,
                      p2, pa2, t2, rt2, sn2, ls2, pot2)
        _rename_arcs(n, new, arc_i, arc_j, ai, aj)
        before = int(counts[0])
        code = _simplex(n, ai, aj, cost, flow, in_tree, p2, pa2, t2, rt2, sn2, ls2, pot2, eps,
                        min(every, max_pivots - done), start_arc, counts, BLOCK_FACTOR, BLOCK_MIN)
        done += int(counts[0]) - before
        _rename_nodes(old, p2, pa2, t2, rt2, sn2, ls2, pot2, parent, pred_arc, thread, rev_thread, succ_num,
                      last_succ, pot)
        if code == 0 or done >= max_pivots:
            return code


@dataclass
class WarmSolveStats:
    """Work of one warm-started solve.

    Attributes
    ----------
    pivots, degenerate : int
        Simplex pivots, and those that moved no flow.
    rounds : int
        Column-generation rounds (restricted solves).
    passes : int
        Passes over all pairs (the last one is the certificate): full O(nm) passes, or passes by
        cell bounds (:class:`~w1flow.lp.cells.CellPricer`) that compute only some pairs.
    pairs_checked : int
        Pairs whose reduced cost the passes computed, summed over the passes (n·m a full pass).
    arcs : int
        Arcs in the list at the end.
    max_violation : float
        ``max_ij (u_i + v_j − |x_i − y_j|)`` of the returned duals, in units of length.
    gap : float
        Plan cost minus dual value, in units of length.
    simplex_seconds, pass_seconds : float
        Wall time in the restricted simplex solves and in the passes over all pairs.
    violated_rows : list of int
        Rows with a violated pair, pass by pass (the certificate pass, with none, not listed).
    worst_violations : list of float
        The largest violation ``max_ij (u_i + v_j − |x_i − y_j|)`` of each of those passes, in
        units of length (near the tolerance ``eps · scale``: near ties or round-off; far above it:
        columns the restricted problem lacked).
    near_tight_arcs : int
        Columns added because they were near-tight in a violating row (:data:`NEAR_TIGHT`), not violated.
    prunes : int
        Times the arc list outgrew ``max_arcs_per_node`` arcs a node and dropped its non-tree arcs
        of largest reduced cost (down to ``keep_per_node`` a node).
    path_steps, subtree_nodes, priced : int
        The simplex's work: steps up the tree to the cycles' apexes, nodes whose duals the pivots
        shifted (each pivot the smaller side of the cut tree), and arcs priced.
    """

    pivots: int = 0
    degenerate: int = 0
    rounds: int = 0
    passes: int = 0
    arcs: int = 0
    max_violation: float = float("nan")
    gap: float = float("nan")
    path_steps: int = 0
    subtree_nodes: int = 0
    priced: int = 0
    simplex_seconds: float = 0.0
    pass_seconds: float = 0.0
    violated_rows: list = field(default_factory=list)
    worst_violations: list = field(default_factory=list)
    prunes: int = 0
    near_tight_arcs: int = 0
    pairs_checked: int = 0

    def as_dict(self):
        """Every field, as plain Python ints, floats and lists (what a checkpoint or a JSON
        benchmark record stores)."""
        def plain(val):
            return float(val) if isinstance(val, (float, np.floating)) else int(val)

        out = {}
        for f in fields(self):
            val = getattr(self, f.name)
            out[f.name] = [plain(w) for w in val] if isinstance(val, list) else plain(val)
        return out


@dataclass(frozen=True)
class WarmSolveResult:
    """What :func:`warm_solve` returns.

    Attributes
    ----------
    ok : bool
        True when the plan is certified optimal over all n·m pairs: no pair violates dual
        feasibility by more than ``eps · scale``, and the flows from the tree are non-negative
        and balance at the root, both to :data:`MASS_TOL` of the total mass (the totals that
        validation keeps as given may differ by 2e-12).
    rows, cols, mass : ndarray
        The plan's support (positive tree flows).
    u, v : ndarray
        Duals in units of length (``u_i + v_j = |x_i − y_j|`` on the tree).
    stats : WarmSolveStats
    message : str
    """

    ok: bool
    rows: np.ndarray
    cols: np.ndarray
    mass: np.ndarray
    u: np.ndarray
    v: np.ndarray
    stats: WarmSolveStats
    message: str


@dataclass
class TransportBasis:
    """A spanning-tree basis of the n × m transport problem with its arc list (the solver's state).

    Valid for fixed masses ``a``, ``b`` and data ``y``; positions ``x`` may change between solves.
    """

    n: int
    m: int
    a: np.ndarray
    b: np.ndarray
    y: np.ndarray
    arc_i: np.ndarray
    arc_j: np.ndarray
    in_tree: np.ndarray
    flow: np.ndarray
    parent: np.ndarray
    pred_arc: np.ndarray
    depth: np.ndarray
    first_child: np.ndarray
    next_sib: np.ndarray
    prev_sib: np.ndarray
    v: np.ndarray = None  # the data duals of the last solve (units of length)
    root: int = 0
    start_arc: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))

    def matches(self, a, y, b):
        """True when this basis belongs to the problem with masses ``a``, ``b`` and data ``y``."""
        return (a.shape[0] == self.n and b.shape[0] == self.m and y.shape == self.y.shape
                and np.array_equal(a, self.a) and np.array_equal(b, self.b) and np.array_equal(y, self.y))


def _supply(a, b):
    return np.ascontiguousarray(np.concatenate([a, b]), dtype=np.float64)


@numba.njit(cache=True)
def _buckets(keys, n_keys):
    """Positions grouped by key, in order within a key (a counting sort): bucket ``c`` is
    ``members[first[c]:first[c + 1]]``; a negative key is left out."""
    first = np.zeros(n_keys + 1, dtype=np.int64)
    for e in range(keys.shape[0]):
        if keys[e] >= 0:
            first[keys[e] + 1] += 1
    for c in range(n_keys):
        first[c + 1] += first[c]
    fill = first[:-1].copy()
    members = np.empty(first[n_keys], dtype=np.int64)
    for e in range(keys.shape[0]):
        if keys[e] >= 0:
            members[fill[keys[e]]] = e
            fill[keys[e]] += 1
    return first, members


@numba.njit(cache=True)
def _argsort_stable(keys, n):
    """Positions ``0..n-1`` of ``keys`` in increasing order of key, ties in position order
    (``np.argsort(keys[:n], kind="stable")`` for keys without NaN): insertion-sorted runs of 16,
    merged bottom up. Numba's own mergesort compiles in about 1 s in a fresh cache, this in
    0.3 s (and runs as fast at 10⁵ keys, 1.2x slower at 10⁶)."""
    a = np.empty(n, dtype=np.int64)
    for i in range(n):
        a[i] = i
    run = 16
    for lo in range(0, n, run):
        hi = min(lo + run, n)
        for i in range(lo + 1, hi):
            e = a[i]
            k = keys[e]
            j = i
            while j > lo and keys[a[j - 1]] > k:
                a[j] = a[j - 1]
                j -= 1
            a[j] = e
    b = np.empty(n, dtype=np.int64)
    w = run
    while w < n:
        for lo in range(0, n, 2 * w):
            mid, hi = min(lo + w, n), min(lo + 2 * w, n)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                if keys[a[j]] < keys[a[i]]:  # ties take the left run's: stable
                    b[k] = a[j]
                    j += 1
                else:
                    b[k] = a[i]
                    i += 1
                k += 1
            while i < mid:
                b[k] = a[i]
                i += 1
                k += 1
            while j < hi:
                b[k] = a[j]
                j += 1
                k += 1
        a, b = b, a
        w *= 2
    return a


@numba.njit(cache=True)
def _root_of(uf, k):
    """Union-find root of ``k`` (path halving)."""
    while uf[k] != k:
        uf[k] = uf[uf[k]]
        k = uf[k]
    return k


@numba.njit(cache=True)
def _heap_less(key, tag, p, q):
    return key[p] < key[q] or (key[p] == key[q] and tag[p] < tag[q])


@numba.njit(cache=True)
def _heap_push(key, tag, size, r, t):
    """Push (r, t) on the binary min-heap ``key``/``tag`` of ``size`` entries (ties by ``t``)."""
    k = size
    key[k], tag[k] = r, t
    while k > 0:
        p = (k - 1) // 2
        if not _heap_less(key, tag, k, p):
            break
        key[k], key[p] = key[p], key[k]
        tag[k], tag[p] = tag[p], tag[k]
        k = p
    return size + 1


@numba.njit(cache=True)
def _heap_pop(key, tag, size):
    """Remove the smallest entry (moved to position ``size - 1``)."""
    size -= 1
    key[0], key[size] = key[size], key[0]
    tag[0], tag[size] = tag[size], tag[0]
    k = 0
    while True:
        c = 2 * k + 1
        if c >= size:
            break
        if c + 1 < size and _heap_less(key, tag, c + 1, c):
            c += 1
        if not _heap_less(key, tag, c, k):
            break
        key[k], key[c] = key[c], key[k]
        tag[k], tag[c] = tag[c], tag[k]
        k = c
    return size


@numba.njit(cache=True)
def _spanning_arcs(n, m, rows, cols, root, best_j, best_r):
    """The arcs of :func:`basis_from_plan`: the plan's support without cycles, completed to a
    spanning tree (Prim's order over components: each further component hangs by one of its rows'
    candidate arcs into an attached column, cheapest first, ties by position), then the
    candidates not in the tree. Returns ``(arc_i, arc_j, n_tree)``; the tree arcs come first."""
    N = n + m
    K = best_j.shape[1]
    uf = np.arange(N)
    tree_i = np.empty(N - 1, dtype=np.int64)
    tree_j = np.empty(N - 1, dtype=np.int64)
    nt = 0
    for e in range(rows.shape[0]):
        i, j = rows[e], cols[e]
        ri, rj = _root_of(uf, i), _root_of(uf, n + j)
        if ri != rj and nt < N - 1:
            uf[ri] = rj
            tree_i[nt], tree_j[nt] = i, j
            nt += 1
    comp = np.empty(N, dtype=np.int64)
    for k in range(N):
        comp[k] = _root_of(uf, k)
    cand_j = best_j.ravel()
    cand_r = best_r.ravel()
    order = _argsort_stable(cand_r, cand_r.shape[0])  # stable: ties keep the candidates' order
    # the candidates by the component of their column, cheapest first
    keys = np.empty(order.shape[0], dtype=np.int64)
    for s in range(order.shape[0]):
        keys[s] = comp[n + cand_j[order[s]]] if cand_j[order[s]] >= 0 else -1
    start, by_comp = _buckets(keys, N)
    by_comp = order[by_comp]
    attached = np.zeros(N, dtype=np.uint8)  # flags
    key = np.empty(max(start[N], 1))
    tag = np.empty(max(start[N], 1), dtype=np.int64)
    size = 0
    c = comp[root]
    attached[c] = 1
    for s in range(start[c], start[c + 1]):
        t = by_comp[s]
        if not attached[comp[t // K]]:
            size = _heap_push(key, tag, size, cand_r[t], t)
    while size > 0 and nt < N - 1:
        size = _heap_pop(key, tag, size)
        t = tag[size]
        ci = comp[t // K]
        if attached[ci]:
            continue
        attached[ci] = 1
        tree_i[nt], tree_j[nt] = t // K, cand_j[t]
        nt += 1
        for s in range(start[ci], start[ci + 1]):
            t2 = by_comp[s]
            if not attached[comp[t2 // K]]:
                size = _heap_push(key, tag, size, cand_r[t2], t2)
    if nt < N - 1:  # components no candidate reaches: a row hangs from an attached column, a lone
        att_col, att_row = -1, -1  # column (zero demand, no row in its component) from an attached row
        for j in range(m):
            if attached[comp[n + j]]:
                att_col = j
                break
        for i in range(n):
            if attached[comp[i]]:
                att_row = i
                break
        for k in range(N):
            c = comp[k]
            if attached[c]:
                continue
            attached[c] = 1
            if k < n:
                tree_i[nt], tree_j[nt] = k, att_col
            else:
                tree_i[nt], tree_j[nt] = att_row, k - n
            nt += 1
    # the list: the tree, then each row's candidates not in the tree (once each)
    deg, tree_by_row = _buckets(tree_i[:nt], n)
    cols_of = tree_j[tree_by_row]
    stamp = np.full(m, -1, dtype=np.int64)
    arc_i = np.empty(nt + n * K, dtype=np.int64)
    arc_j = np.empty(nt + n * K, dtype=np.int64)
    for e in range(nt):  # (loops, not slice assignments: their shape checks compile for seconds)
        arc_i[e], arc_j[e] = tree_i[e], tree_j[e]
    na = nt
    for i in range(n):
        for s in range(deg[i], deg[i + 1]):
            stamp[cols_of[s]] = i
        for q in range(K):
            j = best_j[i, q]
            if j >= 0 and stamp[j] != i:
                stamp[j] = i
                arc_i[na], arc_j[na] = i, j
                na += 1
    return arc_i[:na].copy(), arc_j[:na].copy(), nt


def basis_from_plan(x, a, y, b, rows, cols, u, v, per_row=None):
    """A spanning-tree basis containing a plan's support (a forest), completed by zero-flow arcs of
    smallest reduced cost under the duals ``(u, v)``.

    ``u=None`` takes the c-transform ``u_i = min_j (|x_i − y_j| − v_j)``, which with any ``v`` is
    feasible for every pair; the completion arcs are then each row's tightest pairs, so the
    tree's own duals stay close to ``(u, v)`` wherever the support is tight.

    The support of a basic optimal plan is acyclic; any cycle (a non-basic plan) is broken by
    dropping arcs, which is then caught by the flows recomputed from the tree (the caller checks
    them against the plan's masses).

    ``per_row`` (default :data:`COMPLETION_PER_ROW`): each row's cheapest columns under the duals,
    among which the completion arcs are chosen; all of them are listed for the simplex.
    """
    n, m = x.shape[0], y.shape[0]
    N = n + m
    scale = _scale(x, y)
    # completion, keeping the tree strongly feasible (every zero-flow arc points toward the root,
    # so the leaving-arc rule of _simplex cannot cycle): grow from the root's component and hang
    # each further component from the tree by one of its rows' cheapest arcs into an attached
    # column (row -> column is then child -> parent), cheapest first
    K = min(COMPLETION_PER_ROW if per_row is None else int(per_row), m)
    best_j = np.empty((n, K), dtype=np.int64)
    best_r = np.empty((n, K))
    row_min = np.empty(n)
    us = np.zeros(n) if u is None else np.ascontiguousarray(u / scale)
    vs = np.ascontiguousarray(v / scale)
    if cells_pay(x.shape[1], n, m):
        # the same K smallest by cell bounds (no threshold but each row's K-th so far: measured at
        # n = 3·10⁴, 2 % of the pairs, 0.13 s against 0.32 s for the full pass, the same columns)
        CellPricer(x, y, 1.0 / scale).scan(us, vs, np.inf, best_j, best_r, row_min)
    else:
        _row_scan(x, np.arange(n), np.ascontiguousarray(y.T), us, vs, 1.0 / scale, best_j, best_r, row_min)
    if u is None:  # reduced costs under the c-transform: the row's minimum is 0
        best_r -= row_min[:, None]
    # the root: a particle of the support (node 0 may be a zero-weight particle, alone in its
    # component, from which no row -> column arc could hang anything)
    root = int(rows[0]) if rows.size else 0
    arc_i, arc_j, n_tree = _spanning_arcs(n, m, np.ascontiguousarray(rows, dtype=np.int64),
                                          np.ascontiguousarray(cols, dtype=np.int64), root, best_j, best_r)
    in_tree = np.zeros(arc_i.size, dtype=bool)
    in_tree[:n_tree] = True
    basis = TransportBasis(n=n, m=m, a=a.copy(), b=b.copy(), y=y.copy(), arc_i=arc_i, arc_j=arc_j, in_tree=in_tree,
                           flow=np.zeros(arc_i.size), parent=np.empty(N, dtype=np.int64),
                           pred_arc=np.empty(N, dtype=np.int64), depth=np.empty(N, dtype=np.int64),
                           first_child=np.empty(N, dtype=np.int64), next_sib=np.empty(N, dtype=np.int64),
                           prev_sib=np.empty(N, dtype=np.int64), v=np.asarray(v, dtype=np.float64).copy())
    basis.root = root
    reached = _build_tree(N, root, arc_i, arc_j, n, np.flatnonzero(in_tree), basis.parent, basis.pred_arc,
                          basis.depth, basis.first_child, basis.next_sib, basis.prev_sib)
    if reached != N:  # pragma: no cover - the construction above always spans
        raise RuntimeError(f"basis construction reached {reached} of {N} nodes")
    order = np.empty(N, dtype=np.int64)
    _preorder(basis.root, basis.first_child, basis.next_sib, order)
    _tree_flows(order, basis.parent, basis.pred_arc, _supply(a, b), basis.flow, np.empty(N))
    return basis


@numba.njit(cache=True)
def _non_tree_reduced(n, arc_i, arc_j, in_tree, cost, pot, out):
    """Reduced costs of the non-tree arcs, in arc order, into ``out``; returns their number."""
    c = 0
    for e in range(arc_i.shape[0]):
        if not in_tree[e]:
            out[c] = cost[e] - pot[arc_i[e]] - pot[n + arc_j[e]]
            c += 1
    return c


@numba.njit(cache=True)
def _compact_arcs(n, arc_i, arc_j, in_tree, flow, cost, pot, thr, ties, pred_arc, new_index):
    """Compact in place the arcs kept by :meth:`_ArcList.prune`, in their order: tree arcs, non-tree
    arcs of reduced cost below ``thr`` and the first ``ties`` at ``thr``; returns how many are kept.
    ``pred_arc`` is renumbered in place; ``new_index`` is scratch of at least the arcs' length.

    The reduced costs are recomputed by the expression of :func:`_non_tree_reduced` (the same bits).
    In place is safe: the k-th kept arc is written at k, never past the arc being read.
    """
    n_arcs = arc_i.shape[0]
    k = 0
    for e in range(n_arcs):
        kept = in_tree[e]
        if not kept:
            r = cost[e] - pot[arc_i[e]] - pot[n + arc_j[e]]
            if r < thr:
                kept = True
            elif r == thr and ties > 0:
                kept = True
                ties -= 1
        new_index[e] = k
        if kept:
            arc_i[k], arc_j[k], in_tree[k], flow[k], cost[k] = arc_i[e], arc_j[e], in_tree[e], flow[e], cost[e]
            k += 1
    for w in range(pred_arc.shape[0]):
        if pred_arc[w] >= 0:
            pred_arc[w] = new_index[pred_arc[w]]
    return k


class _ArcList:
    """A warm solve's arc list (rows, columns, tree flags, flows, scaled costs) in buffers allocated
    once, with room for every round: ``basis.arc_i``, ``arc_j``, ``in_tree``, ``flow`` and ``cost``
    are views of their leading ``size`` entries. Appending writes only the new arcs; pruning
    compacts in place.

    Why: fresh memory is slow on its first write (page faults). Growing the arrays by half again
    when full and building new ones at every prune cost 9.2 s of the n = 10⁵ demo's cold solve
    (46 appends: reallocations, copies and first writes). ``capacity`` is a bound the caller
    computes (the prune threshold plus one round's arcs); should it ever fall short, the buffers
    grow by half again.
    """

    def __init__(self, basis, cost, capacity):
        self.basis = basis
        self.size = basis.arc_i.size
        cap = max(int(capacity), self.size, 1)
        arrays = (basis.arc_i, basis.arc_j, basis.in_tree, basis.flow, cost)
        self.bufs = tuple(np.empty(cap, dtype=arr.dtype) for arr in arrays)
        for arr, buf in zip(arrays, self.bufs):
            buf[:self.size] = arr
        self.reduced = self.new_index = None  # the prune's scratch, as long as the buffers
        self._views()

    def _views(self):
        L, b = self.size, self.basis
        b.arc_i, b.arc_j, b.in_tree, b.flow, self.cost = (buf[:L] for buf in self.bufs)

    def append(self, new_i, new_j, x, y, inv):
        """Append arcs (zero flow, not in the tree) with their scaled costs."""
        L, k = self.size, new_i.size
        if L + k > self.bufs[0].size:
            bufs = tuple(np.empty(int(1.5 * (L + k)) + 16, dtype=buf.dtype) for buf in self.bufs)
            for old, buf in zip(self.bufs, bufs):
                buf[:L] = old[:L]
            self.bufs, self.reduced, self.new_index = bufs, None, None
        bi, bj, bt, bf, bc = self.bufs
        bi[L:L + k] = new_i
        bj[L:L + k] = new_j
        bt[L:L + k] = False
        bf[L:L + k] = 0.0
        _arc_costs(x, y, new_i, new_j, inv, bc[L:L + k])
        self.size = L + k
        self._views()

    def prune(self, pot, keep):
        """Keep the tree arcs and the ``keep`` non-tree arcs of smallest reduced cost (ties: the first
        in arc order), in their order; True when it dropped any. Numba passes: the array version of
        this (flatnonzero, argpartition, boolean masks) took 1.4 s a call on 12 million arcs (n = 10⁵)."""
        b = self.basis
        if self.reduced is None:
            self.reduced = np.empty(self.bufs[0].size)
            self.new_index = np.empty(self.bufs[0].size, dtype=np.int64)
        r = self.reduced[:self.size]
        c = _non_tree_reduced(b.n, b.arc_i, b.arc_j, b.in_tree, self.cost, pot, r)
        if c <= keep:
            return False
        r = r[:c]
        thr = -np.inf
        if keep > 0:
            r.partition(keep - 1)  # in place: the compaction recomputes the reduced costs
            thr = float(r[keep - 1])
        ties = keep - int(np.count_nonzero(r < thr))
        self.size = _compact_arcs(b.n, b.arc_i, b.arc_j, b.in_tree, b.flow, self.cost, pot, thr, ties, b.pred_arc,
                                  self.new_index)
        b.start_arc[0] = 0
        self._views()
        return True

    def release(self):
        """Give the basis arrays of its own (no buffer slack kept past the solve); returns the costs."""
        b = self.basis
        b.arc_i, b.arc_j, b.in_tree, b.flow = b.arc_i.copy(), b.arc_j.copy(), b.in_tree.copy(), b.flow.copy()
        cost = self.cost.copy()
        self.bufs = self.reduced = self.new_index = None
        return cost


@numba.njit(cache=True)
def _listed(n, arc_i, arc_j, cand_i, cand_j, out):
    """Which pairs ``(cand_i[t], cand_j[t])`` are in the arc list, into the booleans ``out``: the arcs
    bucketed by row (one counting pass), each candidate looked up in its row (a few dozen arcs)."""
    start = np.zeros(n + 1, dtype=np.int64)
    for e in range(arc_i.shape[0]):
        start[arc_i[e] + 1] += 1
    for i in range(n):
        start[i + 1] += start[i]
    fill = start[:n].copy()
    cols = np.empty(arc_i.shape[0], dtype=np.int64)
    for e in range(arc_i.shape[0]):
        cols[fill[arc_i[e]]] = arc_j[e]
        fill[arc_i[e]] += 1
    out[:] = False
    for t in range(cand_i.shape[0]):
        i, j = cand_i[t], cand_j[t]
        for q in range(start[i], start[i + 1]):
            if cols[q] == j:
                out[t] = True
                break


def warm_solve(basis, x, max_pivots=None, eps=EPS, add_per_row=None, max_arcs_per_node=None, near_tight=None,
               pricing="auto", keep_per_node=None):
    """Re-solve the W1 LP at positions ``x`` from ``basis`` (updated in place); certified.

    Parameters
    ----------
    basis : TransportBasis
        A feasible basis for the masses and data (any earlier optimal basis is one).
    x : ndarray, shape (n, d)
        Particle positions.
    max_pivots : int, optional
        Pivot cap; default ``50 · (n + m)``.
    eps : float
        Reduced-cost tolerance in units of the scaled costs (O(1)).
    add_per_row, max_arcs_per_node : int, optional
        Violated columns added per row per round (default :data:`ADD_PER_ROW`), and the arcs per
        node past which arcs that priced out are dropped between rounds (default
        :data:`MAX_ARCS_PER_NODE`). A cold solve wants more of both (:func:`solve_sparse`).
    keep_per_node : int, optional
        The arcs per node such a prune keeps (those of smallest reduced cost; default
        :data:`KEEP_PER_NODE`, which is also what the solve keeps from the last one).
    near_tight : float, optional
        With a violated pair in a row, also list that row's columns of reduced cost below this
        (scaled units; default :data:`NEAR_TIGHT`; 0 lists the violated ones only). Only which
        arcs are listed changes: the certificate is the same.
    pricing : {"auto", "full", "cells"}
        How the passes find each row's most violated columns: ``"full"`` computes every pair
        (fused, vectorised); ``"cells"`` skips blocks of pairs whose k-d cell bound shows none of
        them can enter (:class:`~w1flow.lp.cells.CellPricer`: the same columns up to ties, the same
        certificate over all pairs); ``"auto"`` takes the cells in d = 2 and 3 (where they have a
        directional bound) from :data:`~w1flow.lp.cells.CELL_MIN_PAIRS` pairs on (2.5·10⁵ in d = 2, 4·10⁶ in d = 3), where they were measured faster.

    Returns
    -------
    WarmSolveResult
    """
    n, m = basis.n, basis.m
    N = n + m
    y = basis.y
    yT = np.ascontiguousarray(y.T)
    x = np.ascontiguousarray(x, dtype=np.float64)
    scale = _scale(x, y)
    inv = 1.0 / scale
    if max_pivots is None:
        max_pivots = 50 * N
    stats = WarmSolveStats()
    counts = np.zeros(5, dtype=np.int64)
    order = np.empty(N, dtype=np.int64)
    pot = np.empty(N)
    rem = np.empty(N)
    K = min(ADD_PER_ROW if add_per_row is None else int(add_per_row), m)
    max_arcs = MAX_ARCS_PER_NODE if max_arcs_per_node is None else int(max_arcs_per_node)
    keep_per_node = KEEP_PER_NODE if keep_per_node is None else int(keep_per_node)
    near_tight = NEAR_TIGHT if near_tight is None else float(near_tight)
    best_j = np.empty((n, K), dtype=np.int64)
    best_r = np.empty((n, K))
    row_min = np.empty(n)
    supply = _supply(basis.a, basis.b)
    if pricing not in ("auto", "full", "cells"):
        raise ValueError(f"pricing must be 'auto', 'full' or 'cells', got {pricing!r}.")
    if pricing == "auto":
        pricing = "cells" if cells_pay(x.shape[1], n, m) else "full"
    pricer = CellPricer(x, y, inv) if pricing == "cells" else None
    # the cells return each row's columns below tau only: all that is used below (violated,
    # near-tight), and above round-off so that every row's tight tree arc gives its exact minimum
    tau = max(near_tight, 1e-9)

    cost = np.empty(basis.arc_i.size)
    _arc_costs(x, y, basis.arc_i, basis.arc_j, inv, cost)
    _preorder(basis.root, basis.first_child, basis.next_sib, order)
    _tree_duals(order, basis.parent, basis.pred_arc, cost, pot)
    # (Re-completing the plan's support with the rows' tightest arcs under the c-transform of the
    # last data duals, instead of keeping the old tree, was measured: 1.5x more pivots and passes.)
    # one set of arc buffers for the whole solve, of room for the most arcs it can list: the prune
    # threshold below (or what the start and its prune leave), plus one round's new columns
    arcs = _ArcList(basis, cost, max(basis.arc_i.size, max_arcs * N, (KEEP_PER_NODE + 1) * N) + n * K)
    arcs.prune(pot, KEEP_PER_NODE * N)
    # the simplex keeps the tree as a preorder thread (pivots shift whole subtrees); the basis
    # keeps children lists, rebuilt from the thread after the last round
    thread, rev_thread = np.empty(N, dtype=np.int64), np.empty(N, dtype=np.int64)
    succ_num, last_succ = np.empty(N, dtype=np.int64), np.empty(N, dtype=np.int64)
    _thread_from_children(basis.root, basis.first_child, basis.next_sib, basis.parent, thread, rev_thread,
                          succ_num, last_succ)
    status, message = 1, ""
    scratch = {}  # the simplex's renamed copies, reused round by round
    all_rows = np.arange(n)
    row_of = np.repeat(all_rows, K)  # the row of each entry of best_j.ravel()
    while True:
        stats.rounds += 1
        left = max_pivots - int(counts[0])
        t0 = time.perf_counter()
        code = _simplex_in_thread_order(n, basis.root, basis.arc_i, basis.arc_j, arcs.cost, basis.flow, basis.in_tree,
                                        basis.parent, basis.pred_arc, thread, rev_thread, succ_num, last_succ, pot,
                                        eps, left, basis.start_arc, counts, scratch)
        t1 = time.perf_counter()
        stats.simplex_seconds += t1 - t0
        if code == 1:
            message = f"pivot cap {max_pivots} reached"
            break
        # fresh duals from the tree (no accumulated round-off), then the pass over all pairs.
        # (Skipping rows whose reduced costs provably stayed above -eps, from the drift of the
        # duals since the last pass, was tried: the largest column drift is too large after a
        # round of pivots, so no row was ever skipped.)
        _thread_order(basis.root, thread, order)
        _tree_duals(order, basis.parent, basis.pred_arc, arcs.cost, pot)
        if pricer is None:
            _row_scan(x, all_rows, yT, pot[:n], pot[n:], inv, best_j, best_r, row_min)
            stats.pairs_checked += n * m
        else:
            pricer.scan(pot[:n], pot[n:], tau, best_j, best_r, row_min)
            stats.pairs_checked += pricer.pairs_checked
        stats.pass_seconds += time.perf_counter() - t1
        stats.passes += 1
        bad = best_r < -eps
        if not bad.any():
            status = 0
            break
        bad_rows = bad.any(axis=1)
        stats.violated_rows.append(int(bad_rows.sum()))
        stats.worst_violations.append(float(-best_r[:, 0].min() * scale))
        if basis.arc_i.size > max_arcs * N:  # long solves: forget the arcs that priced out
            stats.prunes += arcs.prune(pot, keep_per_node * N)
        take = bad
        if near_tight > 0:  # a violating row's near-tight columns, unless listed already (its tree arc is)
            near = (best_r < near_tight) & ~bad & bad_rows[:, None]
            # (a sorted key array merged round by round did this in 0.19 s a round at n = 10⁵)
            listed = np.empty(int(near.sum()), dtype=bool)
            _listed(n, basis.arc_i, basis.arc_j, row_of[near.ravel()], best_j.ravel()[near.ravel()], listed)
            fresh = ~listed
            stats.near_tight_arcs += int(fresh.sum())
            take = bad.copy()
            take[near] = fresh
        new_i = row_of[take.ravel()]
        new_j = best_j.ravel()[take.ravel()]
        arcs.append(new_i, new_j, x, y, inv)
    cost = arcs.release()
    stats.pivots, stats.degenerate = int(counts[0]), int(counts[1])
    stats.arcs = int(basis.arc_i.size)
    stats.path_steps, stats.subtree_nodes, stats.priced = int(counts[2]), int(counts[3]), int(counts[4])
    # fresh order, duals and flows of the final tree (after a pivot cap the last ones are stale)
    _children_from_thread(basis.root, thread, basis.parent, basis.depth, basis.first_child, basis.next_sib,
                          basis.prev_sib)
    _preorder(basis.root, basis.first_child, basis.next_sib, order)
    _tree_duals(order, basis.parent, basis.pred_arc, cost, pot)
    root_rest = _tree_flows(order, basis.parent, basis.pred_arc, supply, basis.flow, rem)
    tree = np.flatnonzero(basis.in_tree)
    tree_flow = basis.flow[tree]
    u, v = pot[:n] * scale, pot[n:] * scale
    stats.max_violation = float(-row_min.min() * scale) if status == 0 else float("nan")
    mass_tol = MASS_TOL * max(float(basis.a.sum()), float(basis.b.sum()))
    if status == 0 and (tree_flow.min() < -mass_tol or abs(root_rest) > mass_tol):
        status = 1
        message = (f"tree flows infeasible (min flow {tree_flow.min():.3g}, root imbalance {root_rest:.3g})")
    keep = tree_flow > 0
    rows, cols, mass = basis.arc_i[tree[keep]], basis.arc_j[tree[keep]], tree_flow[keep]
    diff = x[rows] - y[cols]
    primal = float(np.dot(mass, np.sqrt(np.einsum("ij,ij->i", diff, diff))))
    stats.gap = primal - float(np.dot(basis.a, u) + np.dot(basis.b, v))
    if status == 0:
        message = (f"optimal (warm-started network simplex: {stats.pivots} pivots, {stats.rounds} rounds, "
                   f"{stats.passes} certificate passes, {stats.arcs} arcs; max dual violation "
                   f"{stats.max_violation:.3g}, gap {stats.gap:.3g})")
    basis.v = v.copy()
    return WarmSolveResult(ok=status == 0, rows=rows, cols=cols, mass=mass, u=u, v=v, stats=stats,
                           message=message)
