"""The sparse LP's start: the k-d leaves (``w1flow.lp.sparse.kd_groups``) and the starting basis
(``w1flow.lp.netsimplex.basis_from_plan``).

Both decide only where the simplex starts, so a mistake in them costs time (or breaks the
strongly feasible tree the pivot rule relies on) without showing in the certified answers.
Checked against plain references: a median split by sorting, a union-find over the tree, the
K cheapest columns per row by ``cdist`` under the c-transform.
"""

import numpy as np
from hypothesis import given, settings, strategies as st
from scipy.spatial.distance import cdist

from conftest import examples, north_west
from w1flow.lp.netsimplex import _argsort_stable, basis_from_plan
from w1flow.lp.sparse import kd_groups


@settings(deadline=None, max_examples=examples(60))
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 200), extra=st.integers(0, 5), levels=st.integers(1, 40))
def test_the_stable_argsort_is_numpys(seed, n, extra, levels):
    """The start's sort (the k-d splits, the leaves' orders, Prim's candidates) is NumPy's stable
    argsort of the first ``n`` keys: ties (few distinct values) keep their positions' order, the
    keys past ``n`` are not read."""
    rng = np.random.default_rng(seed)
    keys = rng.integers(-levels, levels, n + extra).astype(float) / 7.0
    keys[n:] = -np.inf  # would come first if read
    np.testing.assert_array_equal(_argsort_stable(keys, n), np.argsort(keys[:n], kind="stable"))


@settings(deadline=None, max_examples=examples(40))
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 300), d=st.integers(1, 4), leaf=st.integers(1, 7),
       grid=st.booleans())
def test_kd_groups_are_balanced_median_splits(seed, n, d, leaf, grid):
    """The leaves partition the points and hold at most ``leaf`` points each; read in order they
    are the halves of median splits: a node of more than ``leaf`` points splits into its
    ``size // 2`` lowest along its widest coordinate (the first leaves) and the rest, recursively."""
    rng = np.random.default_rng(seed)
    p = rng.integers(0, 3, (n, d)).astype(float) if grid else rng.standard_normal((n, d))
    groups = kd_groups(p, leaf)
    allidx = np.concatenate(groups) if groups else np.empty(0, dtype=np.int64)
    np.testing.assert_array_equal(np.sort(allidx), np.arange(n))
    sizes = np.array([g.size for g in groups])
    assert n == 0 or sizes.max() <= leaf

    def check(idx_groups):  # a run of consecutive leaves covering one node of the k-d tree
        pts = np.concatenate(idx_groups)
        if pts.size <= leaf:
            assert len(idx_groups) == 1
            return
        h = pts.size // 2
        cum = np.cumsum([g.size for g in idx_groups])
        cut = int(np.searchsorted(cum, h)) + 1  # leaves of the lower half
        assert cum[cut - 1] == h
        dim = int(np.argmax(np.ptp(p[pts], axis=0)))
        low, high = np.concatenate(idx_groups[:cut]), np.concatenate(idx_groups[cut:])
        assert p[low, dim].max() <= p[high, dim].min()
        check(idx_groups[:cut])
        check(idx_groups[cut:])

    if n:
        check(groups)


@settings(deadline=None, max_examples=examples(40))
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30), m=st.integers(1, 30), per_row=st.integers(1, 9),
       d=st.integers(1, 3))
def test_basis_from_plan_spans_holds_the_plan_and_lists_each_rows_cheapest(seed, n, m, per_row, d):
    """The tree spans the n + m nodes without a cycle, contains the plan's support and carries
    its masses; every zero-flow tree arc hangs a row from a column toward the root (strongly
    feasible); the listed arcs are the tree plus each row's ``per_row`` cheapest columns under
    the c-transform of ``v``, each pair once."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, d)), rng.standard_normal((m, d))
    a, b = rng.random(n) + 0.1, rng.random(m) + 0.1
    a, b = a / a.sum(), b / b.sum()
    rows, cols, mass = north_west(a, b)
    v = rng.standard_normal(m) * 0.3
    basis = basis_from_plan(x, a, y, b, rows, cols, None, v, per_row=per_row)
    N = n + m
    tree = np.flatnonzero(basis.in_tree)
    assert tree.size == N - 1
    uf = list(range(N))

    def find(k):
        while uf[k] != k:
            k = uf[k]
        return k

    for e in tree:  # no cycle, so N - 1 arcs span
        ri, rj = find(int(basis.arc_i[e])), find(n + int(basis.arc_j[e]))
        assert ri != rj
        uf[ri] = rj
    pairs = list(zip(basis.arc_i.tolist(), basis.arc_j.tolist()))
    assert len(set(pairs)) == len(pairs)
    tree_pairs = {pairs[e]: basis.flow[e] for e in tree}
    for i, j, w in zip(rows.tolist(), cols.tolist(), mass.tolist()):
        if w > 1e-12:
            assert abs(tree_pairs[(i, j)] - w) <= 1e-12
    np.testing.assert_allclose(sum(tree_pairs.values()), 1.0, atol=1e-12)
    for e in tree:
        i, j = int(basis.arc_i[e]), int(basis.arc_j[e])
        if basis.flow[e] <= 1e-15:  # zero flow: the row is the child
            assert basis.parent[i] == n + j and basis.pred_arc[i] == e
    red = cdist(x, y) - v[None, :]
    K = min(per_row, m)
    cheapest = {(i, int(j)) for i in range(n) for j in np.argsort(red[i], kind="stable")[:K]}
    assert set(pairs) == set(tree_pairs) | cheapest


def test_a_failed_dense_coarse_lp_is_solved_one_level_further_up(monkeypatch):
    """The start's coarse LP is POT's dense LP below 10^6 pairs of leaves; POT's simplex can cycle
    on tie-heavy problems, and then the coarse level is solved by the sparse path (one more level)
    instead of the solve failing. Value against POT on cdist costs, computed before the patch."""
    import dataclasses

    import ot

    import w1flow.lp.dense as dense_mod
    from w1flow.lp.sparse import solve_sparse

    rng = np.random.default_rng(8)
    x, y = rng.integers(0, 6, (300, 2)).astype(float), rng.integers(0, 6, (220, 2)) + 0.5  # many ties
    a, b = np.full(300, 1 / 300), rng.random(220)
    b /= b.sum()
    ref = float(ot.emd2(a, b, cdist(x, y), numItermax=10**7))
    real = dense_mod.solve_w1_lp
    calls = []

    def failing(*args, **kw):  # the first (top) coarse LP fails, as a cycling POT would
        calls.append(1)
        lp = real(*args, **kw)
        return dataclasses.replace(lp, result_code=3, status="max_iter_reached", message="patched") if len(calls) == 1 else lp

    monkeypatch.setattr(dense_mod, "solve_w1_lp", failing)
    res = solve_sparse(x, a, y, b)
    assert len(calls) >= 2 and res.ok and res.info["levels"] >= 2
    assert abs(float(np.dot(res.mass, np.linalg.norm(x[res.rows] - y[res.cols], axis=1))) - ref) <= 1e-12 * ref
