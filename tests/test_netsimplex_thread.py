"""The network simplex's tree as a preorder thread (``w1flow.lp.netsimplex._simplex``), pivot by pivot.

The kernel keeps the spanning tree as parents and pred arcs plus a preorder thread, subtree sizes
and each subtree's last node, and shifts the duals of a moved subtree by walking its thread
segment (or, when the subtree is the larger part, the rest of the tree the other way). A wrong link there would not show in the solver's answers: the duals are recomputed from
the parents after every round and a certificate pass follows, so a bad shift only costs pivots.
So the invariants are checked here directly, after every single pivot, against quantities
recomputed from the parent pointers alone (ancestors by walking up, sizes by counting):

* the thread is one cycle through all nodes, a preorder of the parent tree (every subtree a
  contiguous segment), with the stored sizes and last nodes;
* the duals are tight on every tree arc (the shift went to exactly the moved subtree, or the
  opposite shift to exactly the rest), with the columns' signs restored on return;
* the tree arcs are exactly the pred arcs, each joining a node and its parent, and the flows are a
  feasible plan (marginals from ``np.bincount``);
* at the end, with every pair listed, the plan's cost is W1 from ``ot.emd2`` on ``cdist`` costs.
"""

import numpy as np
import ot
from hypothesis import given, settings, strategies as st
from scipy.spatial.distance import cdist

from conftest import examples, north_west as _north_west, weights_of_kind as _weights
from w1flow.lp.netsimplex import (BLOCK_FACTOR, BLOCK_MIN, EPS, _arc_costs, _scale, _simplex, _thread_from_children,
                                  _thread_order, _tree_duals, basis_from_plan)


def _all_pairs_start(seed, n, m, d, wa, wb, grid):
    """Clouds (integer grids give ties and degenerate pivots), the north-west plan's tree with
    every n·m pair listed (tree arcs first, keeping their positions), the arcs' scaled costs, and
    the tree as parents, pred arcs, thread, sizes, last nodes and duals."""
    rng = np.random.default_rng(seed)
    if grid:
        x, y = rng.integers(0, 3, (n, d)).astype(float), rng.integers(0, 3, (m, d)).astype(float)
    else:
        x, y = rng.standard_normal((n, d)), rng.standard_normal((m, d)) + 0.5
    a, b = _weights(rng, n, wa), _weights(rng, m, wb)
    rows, cols, _ = _north_west(a, b)
    basis = basis_from_plan(x, a, y, b, rows, cols, None, np.zeros(m))
    N = n + m
    listed = set(zip(basis.arc_i.tolist(), basis.arc_j.tolist()))
    extra = [(i, j) for i in range(n) for j in range(m) if (i, j) not in listed]
    arc_i = np.ascontiguousarray(np.r_[basis.arc_i, [e[0] for e in extra]].astype(np.int64))
    arc_j = np.ascontiguousarray(np.r_[basis.arc_j, [e[1] for e in extra]].astype(np.int64))
    in_tree = np.r_[basis.in_tree, np.zeros(len(extra), dtype=bool)]
    flow = np.r_[basis.flow, np.zeros(len(extra))]
    cost = np.empty(arc_i.size)
    _arc_costs(x, y, arc_i, arc_j, 1.0 / _scale(x, y), cost)
    parent, pred_arc = basis.parent.copy(), basis.pred_arc.copy()
    thread, rev_thread = np.empty(N, dtype=np.int64), np.empty(N, dtype=np.int64)
    succ_num, last_succ = np.empty(N, dtype=np.int64), np.empty(N, dtype=np.int64)
    _thread_from_children(basis.root, basis.first_child, basis.next_sib, parent, thread, rev_thread, succ_num,
                          last_succ)
    order, pot = np.empty(N, dtype=np.int64), np.empty(N)
    _thread_order(basis.root, thread, order)
    _tree_duals(order, parent, pred_arc, cost, pot)
    tree = [flow, in_tree, parent, pred_arc, thread, rev_thread, succ_num, last_succ, pot]
    return x, a, y, b, basis.root, arc_i, arc_j, cost, tree


def _ancestors(parent, k):
    out = []
    while k >= 0:
        out.append(k)
        k = parent[k]
    return out


def assert_tree_invariants(n, m, root, arc_i, arc_j, cost, flow, in_tree, parent, pred_arc, thread, succ_num,
                           last_succ, pot, a, b):
    N = n + m
    # one cycle through all nodes, starting at the root
    seq = [root]
    while len(seq) <= N and thread[seq[-1]] != root:
        seq.append(int(thread[seq[-1]]))
    assert len(seq) == N and sorted(seq) == list(range(N)), "the thread is not one cycle through all nodes"
    pos = np.empty(N, dtype=np.int64)
    pos[seq] = np.arange(N)
    # a preorder of the parent tree: k's subtree (the nodes with k among their ancestors) is the
    # segment of the thread from k, of the stored size, ending at the stored last node
    members = {k: [] for k in range(N)}
    for w in range(N):
        anc = _ancestors(parent, w)
        assert anc[-1] == root, f"node {w} does not reach the root"
        for k in anc:
            members[k].append(w)
    for k in range(N):
        size = len(members[k])
        assert succ_num[k] == size, f"subtree size of {k}: stored {succ_num[k]}, counted {size}"
        assert sorted(pos[members[k]]) == list(range(pos[k], pos[k] + size)), f"subtree of {k} is not a segment"
        assert pos[last_succ[k]] == pos[k] + size - 1, f"last node of the subtree of {k}"
    # tree arcs: exactly the pred arcs, each between a node and its parent, tight under the duals
    tree = np.flatnonzero(in_tree)
    others = [k for k in range(N) if k != root]
    assert sorted(pred_arc[others].tolist()) == sorted(tree.tolist())
    for k in others:
        e = pred_arc[k]
        assert {int(arc_i[e]), n + int(arc_j[e])} == {k, int(parent[k])}
        assert abs(cost[e] - pot[arc_i[e]] - pot[n + arc_j[e]]) <= 1e-12, f"tree arc {e} not tight"
    # a feasible plan
    assert np.all(flow[~in_tree] == 0.0)
    assert np.all(flow >= -1e-15)
    np.testing.assert_allclose(np.bincount(arc_i, flow, minlength=n), a, atol=1e-13, rtol=0)
    np.testing.assert_allclose(np.bincount(arc_j, flow, minlength=m), b, atol=1e-13, rtol=0)


@settings(deadline=None, max_examples=examples(30))
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 14), m=st.integers(1, 14), d=st.sampled_from([1, 2, 3]),
       wa=st.sampled_from(["uniform", "random", "zeros"]), wb=st.sampled_from(["uniform", "random", "zeros"]),
       grid=st.booleans())
def test_every_pivot_keeps_the_thread_sizes_and_duals_of_the_tree(seed, n, m, d, wa, wb, grid):
    """From the north-west corner plan's tree, with all n·m pairs listed, pivot one at a time to the
    optimum: after every pivot the thread, sizes, last nodes, duals and flows are those of the tree
    given by the parents (integer grids give ties and degenerate pivots); the optimum is W1 (POT)."""
    x, a, y, b, root, arc_i, arc_j, cost, tree = _all_pairs_start(seed, n, m, d, wa, wb, grid)
    flow, in_tree, parent, pred_arc, thread, rev_thread, succ_num, last_succ, pot = tree
    N = n + m
    state = (arc_i, arc_j, cost, flow, in_tree, parent, pred_arc, thread, succ_num, last_succ, pot, a, b)
    assert_tree_invariants(n, m, root, *state)
    counts, start = np.zeros(5, dtype=np.int64), np.zeros(1, dtype=np.int64)
    for _ in range(50 * N * N):
        code = _simplex(n, arc_i, arc_j, cost, flow, in_tree, parent, pred_arc, thread, rev_thread, succ_num,
                        last_succ, pot, EPS, 1, start, counts, BLOCK_FACTOR, BLOCK_MIN)
        assert np.all(rev_thread[thread] == np.arange(N))
        assert_tree_invariants(n, m, root, *state)
        if code == 0:
            break
    else:
        raise AssertionError("no optimum within the pivot budget")
    M = cdist(x, y)
    s = float(M.max()) or 1.0
    ref = float(ot.emd2(a, b, M / s, numItermax=10**6)) * s
    got = float(np.dot(flow, np.linalg.norm(x[arc_i] - y[arc_j], axis=1)))
    assert abs(got - ref) <= 1e-9 * max(ref, 1.0), (got, ref)


@settings(deadline=None, max_examples=examples(30))
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12), m=st.integers(1, 12), d=st.integers(1, 3),
       grid=st.booleans(), every=st.sampled_from([1e-9, 0.3, 1e9]))
def test_the_simplex_in_thread_order_is_the_simplex_renamed(seed, n, m, d, grid, every):
    """``_simplex_in_thread_order`` renames the nodes in thread order around ``_simplex`` and back:
    renamed once (``RENAME_EVERY`` huge) it returns bitwise the tree, flows and duals of ``_simplex``
    run directly; renamed after every pivot or every few, it still ends at a tree of the same
    invariants and at W1 (POT on ``cdist`` costs)."""
    import w1flow.lp.netsimplex as ns

    x, a, y, b, root, arc_i, arc_j, cost, _ = _all_pairs_start(seed, n, m, d, "random", "uniform", grid)
    N = n + m

    def start():
        return [arr.copy() for arr in _all_pairs_start(seed, n, m, d, "random", "uniform", grid)[-1]]

    direct, renamed = start(), start()
    c1, c2 = np.zeros(5, dtype=np.int64), np.zeros(5, dtype=np.int64)
    s1, s2 = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    assert _simplex(n, arc_i, arc_j, cost, *direct, EPS, 10**6, s1, c1, BLOCK_FACTOR, BLOCK_MIN) == 0
    saved, ns.RENAME_EVERY = ns.RENAME_EVERY, every
    try:
        assert ns._simplex_in_thread_order(n, root, arc_i, arc_j, cost, *renamed, EPS, 10**6, s2, c2, {}) == 0
    finally:
        ns.RENAME_EVERY = saved
    if every > 1e6:
        for u, v in zip(direct, renamed):
            assert u.tobytes() == v.tobytes()
        assert np.array_equal(c1, c2)
    flow, in_tree, parent, pred_arc, thread, rev_thread, succ_num, last_succ, pot = renamed
    assert_tree_invariants(n, m, root, arc_i, arc_j, cost, flow, in_tree, parent, pred_arc, thread, succ_num,
                           last_succ, pot, a, b)
    assert np.all(rev_thread[thread] == np.arange(N))
    M = cdist(x, y)
    s = float(M.max()) or 1.0
    ref = float(ot.emd2(a, b, M / s, numItermax=10**6)) * s
    got = float(np.dot(flow, np.linalg.norm(x[arc_i] - y[arc_j], axis=1)))
    assert abs(got - ref) <= 1e-9 * max(ref, 1.0), (got, ref)
