"""The warm solve's arc-list helpers (``w1flow.lp.netsimplex._ArcList.prune`` and ``_listed``).

They decide only which arcs the simplex sees, so a mistake there costs time, not correctness, and
the solver's certified answers would not show it. Checked here against plain Python references:
a set of listed pairs, and the tree arcs plus the ``keep`` smallest reduced costs by a full sort.
"""

import numpy as np
from hypothesis import given, settings, strategies as st

from conftest import examples
from w1flow.lp.netsimplex import _ArcList, _listed, _scale, _arc_costs, _preorder, _tree_duals, basis_from_plan


@settings(deadline=None, max_examples=examples(40))
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30), m=st.integers(1, 30), arcs=st.integers(0, 200),
       cands=st.integers(0, 100))
def test_listed_is_membership_in_the_arc_list(seed, n, m, arcs, cands):
    rng = np.random.default_rng(seed)
    arc_i, arc_j = rng.integers(0, n, arcs), rng.integers(0, m, arcs)
    ci, cj = rng.integers(0, n, cands), rng.integers(0, m, cands)
    pairs = set(zip(arc_i.tolist(), arc_j.tolist()))
    expected = np.array([(i, j) in pairs for i, j in zip(ci.tolist(), cj.tolist())], dtype=bool)
    out = np.ones(cands, dtype=bool)  # stale values must be overwritten
    _listed(n, arc_i, arc_j, ci, cj, out)
    np.testing.assert_array_equal(out, expected)


@settings(deadline=None, max_examples=examples(40))
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 25), m=st.integers(2, 25), keep=st.integers(0, 60),
       grid=st.booleans())
def test_prune_keeps_the_tree_and_the_cheapest_non_tree_arcs(seed, n, m, keep, grid):
    """After ``_ArcList.prune`` (in place, in buffers with slack or without): every tree arc is kept with its flow and every node's pred arc still joins it
    to its parent; of the non-tree arcs exactly ``min(keep, non-tree)`` are kept, none of them of a
    larger reduced cost than a dropped one; the kept arcs keep their order, costs and flags."""
    rng = np.random.default_rng(seed)
    if grid:  # integer grids: many equal reduced costs (ties at the threshold)
        x, y = rng.integers(0, 3, (n, 2)).astype(float), rng.integers(0, 3, (m, 2)).astype(float)
    else:
        x, y = rng.standard_normal((n, 2)), rng.standard_normal((m, 2))
    a, b = np.full(n, 1 / n), np.full(m, 1 / m)
    basis = basis_from_plan(x, a, y, b, np.arange(min(n, m)) % n, np.arange(min(n, m)) % m, None, np.zeros(m))
    # list every remaining pair, in a random order
    listed = set(zip(basis.arc_i.tolist(), basis.arc_j.tolist()))
    extra = [(i, j) for i in range(n) for j in range(m) if (i, j) not in listed]
    extra = [extra[k] for k in rng.permutation(len(extra))]
    basis.arc_i = np.r_[basis.arc_i, [e[0] for e in extra]].astype(np.int64)
    basis.arc_j = np.r_[basis.arc_j, [e[1] for e in extra]].astype(np.int64)
    basis.in_tree = np.r_[basis.in_tree, np.zeros(len(extra), dtype=bool)]
    basis.flow = np.r_[basis.flow, np.zeros(len(extra))]
    N = n + m
    cost = np.empty(basis.arc_i.size)
    _arc_costs(x, y, basis.arc_i, basis.arc_j, 1.0 / _scale(x, y), cost)
    order, pot = np.empty(N, dtype=np.int64), np.empty(N)
    _preorder(basis.root, basis.first_child, basis.next_sib, order)
    _tree_duals(order, basis.parent, basis.pred_arc, cost, pot)
    before = [(int(i), int(j), bool(t), float(f), float(c)) for i, j, t, f, c in
              zip(basis.arc_i, basis.arc_j, basis.in_tree, basis.flow, cost)]
    red = {(i, j): c - pot[i] - pot[n + j] for i, j, t, f, c in before}
    arcs = _ArcList(basis, cost, basis.arc_i.size + rng.integers(0, 5))  # buffers with or without slack
    arcs.prune(pot, keep)
    cost2 = arcs.cost
    after = [(int(i), int(j), bool(t), float(f), float(c)) for i, j, t, f, c in
             zip(basis.arc_i, basis.arc_j, basis.in_tree, basis.flow, cost2)]
    # order, costs and flags kept: the kept arcs are a subsequence of the old list
    it = iter(before)
    assert all(any(arc == old for old in it) for arc in after)
    assert [arc for arc in before if arc[2]] == [arc for arc in after if arc[2]]  # every tree arc
    non_before = [arc for arc in before if not arc[2]]
    non_after = [arc for arc in after if not arc[2]]
    assert len(non_after) == min(keep, len(non_before))
    dropped = set((i, j) for i, j, *_ in non_before) - set((i, j) for i, j, *_ in non_after)
    if dropped and non_after:
        assert max(red[(i, j)] for i, j, *_ in non_after) <= min(red[p] for p in dropped)
    for w in range(N):
        if w != basis.root:
            e = basis.pred_arc[w]
            assert basis.in_tree[e]
            assert {int(basis.arc_i[e]), n + int(basis.arc_j[e])} == {w, int(basis.parent[w])}


@settings(deadline=None, max_examples=examples(30))
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 20), m=st.integers(2, 20), slack=st.integers(0, 40),
       batches=st.lists(st.integers(0, 30), min_size=1, max_size=5), keep=st.integers(0, 30))
def test_arc_list_appends_and_prunes_like_plain_lists(seed, n, m, slack, batches, keep):
    """``_ArcList``: after appends (past its capacity or not) and a prune between them, the basis's
    arrays and the costs equal plain lists built alongside (appended arcs with zero flow, out of
    the tree, costs ``|x_i − y_j| / scale`` by ``cdist``); after ``release`` they are arrays of their
    own, equal to the same lists."""
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, 2)), rng.standard_normal((m, 2))
    a, b = np.full(n, 1 / n), np.full(m, 1 / m)
    basis = basis_from_plan(x, a, y, b, np.arange(min(n, m)) % n, np.arange(min(n, m)) % m, None, np.zeros(m))
    inv = 1.0 / _scale(x, y)
    C = cdist(x, y) * inv
    cost = np.empty(basis.arc_i.size)
    _arc_costs(x, y, basis.arc_i, basis.arc_j, inv, cost)
    ref = [list(basis.arc_i), list(basis.arc_j), list(basis.in_tree), list(basis.flow)]
    arcs = _ArcList(basis, cost, basis.arc_i.size + slack)
    for t, k in enumerate(batches):
        new_i, new_j = rng.integers(0, n, k), rng.integers(0, m, k)
        arcs.append(new_i, new_j, x, y, inv)
        for lst, new in zip(ref, (new_i, new_j, [False] * k, [0.0] * k)):
            lst.extend(new)
        if t == 0:  # a prune in between: the plain lists keep what it kept (checked by the test above)
            N = n + m
            order, pot = np.empty(N, dtype=np.int64), np.empty(N)
            _preorder(basis.root, basis.first_child, basis.next_sib, order)
            _tree_duals(order, basis.parent, basis.pred_arc, arcs.cost, pot)
            arcs.prune(pot, keep)
            ref = [list(basis.arc_i), list(basis.arc_j), list(basis.in_tree), list(basis.flow)]
        for arr, lst in zip((basis.arc_i, basis.arc_j, basis.in_tree, basis.flow), ref):
            np.testing.assert_array_equal(arr, np.array(lst, dtype=arr.dtype))
        np.testing.assert_allclose(arcs.cost, C[basis.arc_i, basis.arc_j], rtol=1e-14, atol=1e-15)
    bufs = arcs.bufs
    cost_out = arcs.release()
    for arr, buf, lst in zip((basis.arc_i, basis.arc_j, basis.in_tree, basis.flow, cost_out), bufs, ref + [None]):
        assert not np.shares_memory(arr, buf)
        if lst is not None:
            np.testing.assert_array_equal(arr, np.array(lst, dtype=arr.dtype))
    np.testing.assert_allclose(cost_out, C[basis.arc_i, basis.arc_j], rtol=1e-14, atol=1e-15)
