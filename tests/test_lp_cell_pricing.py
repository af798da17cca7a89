"""Pricing by k-d cell bounds (``w1flow.lp.cells.CellPricer``) and the network simplex that uses it.

References that do not go through the code under test: each row's reduced costs from ``cdist``
(numpy), W1 from POT's ``ot.emd2`` and the certificate of ``certify_plan`` (``assert_optimal_plan``).
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.spatial.distance import cdist

from conftest import examples
from test_netsimplex import _kind_weights, assert_optimal_plan
from w1flow.lp.cells import CellPricer
from w1flow.lp.netsimplex import warm_solve
from w1flow.lp.sparse import coarse_basis, solve_sparse

seeds = st.integers(0, 2**32 - 1)


def _clouds(rng, n, m, d, kind):
    if kind == "grid":  # near ties: many equal distances
        return rng.integers(0, 3, (n, d)).astype(float), rng.integers(0, 3, (m, d)).astype(float) + 0.5
    x, y = rng.standard_normal((n, d)), rng.standard_normal((m, d)) + 0.5
    if kind == "duplicates":
        x[n // 2:] = x[0]
        y[: m // 2] = y[-1]
    return x, y


def _assert_prices_like_cdist(x, y, u, v, inv, tau, K, leaf, directions, cube_side=12):
    """Every row gets the K smallest reduced costs below tau of the cdist reference, in order."""
    n, m = x.shape[0], y.shape[0]
    R = cdist(x, y) * inv - u[:, None] - v[None, :]
    p = CellPricer(x, y, inv, leaf=leaf, directions=directions, cube_side=cube_side)
    best_j, best_r, row_min = np.empty((n, K), dtype=np.int64), np.empty((n, K)), np.empty(n)
    p.scan(u, v, tau, best_j, best_r, row_min)
    margin = 1e-12 * (1.0 + np.abs(R).max())  # cdist and the scan round differently
    for i in range(n):
        got = best_r[i][best_j[i] >= 0]
        assert np.all(np.diff(got) >= 0) and np.all(got < tau)
        assert np.all(np.isinf(best_r[i][best_j[i] < 0]))
        np.testing.assert_allclose(got, R[i, best_j[i][best_j[i] >= 0]], rtol=0, atol=margin)  # the columns' own costs
        below = np.sort(R[i][R[i] < tau - margin])[:K]  # surely below tau: the scan must return them
        assert got.size >= below.size
        np.testing.assert_allclose(got[:below.size], below, rtol=0, atol=margin)
        assert got.size <= min(K, int(np.sum(R[i] < tau + margin)))
        if got.size:
            assert row_min[i] == got[0]
        else:
            assert row_min[i] == tau and R[i].min() >= tau - margin
    assert p.pairs_checked <= n * m
    return p


@settings(deadline=None, max_examples=examples(60))
@given(seed=seeds, n=st.integers(1, 70), m=st.integers(1, 70), d=st.sampled_from([1, 2, 2, 3, 5]),
       kind=st.sampled_from(["generic", "grid", "duplicates"]), noise=st.sampled_from([0.0, 1e-3, 0.3]),
       K=st.integers(1, 8), leaf=st.sampled_from([1, 3, 8]), directions=st.sampled_from([3, 16, 256]),
       tau=st.sampled_from([1e-9, 1e-6, 0.5, np.inf]), cube_side=st.sampled_from([1, 3, 12]))
def test_the_cells_price_every_row_like_the_full_pass(seed, n, m, d, kind, noise, K, leaf, directions, tau, cube_side):
    """Over near ties, duplicates, n != m, d = 1…5 (directional bounds in d = 2, 3), near-optimal and far-from-optimal duals: each
    row's K smallest reduced costs below tau are those of the cdist reference, whatever cells the
    bounds skipped."""
    import ot

    rng = np.random.default_rng(seed)
    x, y = _clouds(rng, n, m, d, kind)
    M = cdist(x, y)
    inv = 1.0 / max(float(M.max()), 1e-300)
    _, log = ot.emd(np.full(n, 1 / n), np.full(m, 1 / m), M * inv, log=True, numItermax=10**7)
    u, v = log["u"] + noise * rng.standard_normal(n), log["v"].copy()
    _assert_prices_like_cdist(x, y, u, v, inv, tau, K, leaf, directions, cube_side)


@pytest.mark.parametrize("d", [2, 3])
def test_a_violation_in_a_block_the_bounds_would_skip_is_found(d):
    """Two far pairs of clusters; at the optimal duals the bounds skip most blocks (most pairs are
    never computed), in particular the blocks across the far clusters. One dual raised so that a
    single pair across them violates by 1e-6 (a non-optimal dual certificate): the scan reports it."""
    import ot

    rng = np.random.default_rng(0)
    x = np.vstack([rng.standard_normal((300, 2)) * 0.1, rng.standard_normal((300, 2)) * 0.1 + [10.0, 0.0]])
    y = np.vstack([rng.standard_normal((300, 2)) * 0.1 + [0.0, 0.3], rng.standard_normal((300, 2)) * 0.1 + [10.0, 0.3]])
    if d == 3:
        x, y = np.hstack([x, 0.1 * rng.standard_normal((600, 1))]), np.hstack([y, 0.1 * rng.standard_normal((600, 1))])
    M = cdist(x, y)
    inv = 1.0 / M.max()
    _, log = ot.emd(np.full(600, 1 / 600), np.full(600, 1 / 600), M * inv, log=True)
    u, v = log["u"], log["v"]
    p = _assert_prices_like_cdist(x, y, u, v, inv, 1e-9, 4, 8, 256)
    assert p.pairs_checked < 0.2 * 600 * 600  # blocks are skipped
    i, j = 3, 450  # x in the left cluster, y in the right one: about 10 apart
    u_bad = u.copy()
    u_bad[i] = M[i, j] * inv - v[j] + 1e-6
    # (raising u_i violates the row's tight pairs by more: list every column below 1e-9)
    best_j, best_r, row_min = np.empty((600, 600), dtype=np.int64), np.empty((600, 600)), np.empty(600)
    p.scan(u_bad, v, 1e-9, best_j, best_r, row_min)
    assert j in best_j[i] and best_r[i][best_j[i] == j][0] < -9e-7
    _assert_prices_like_cdist(x, y, u_bad, v, inv, 1e-9, 4, 8, 256)


@settings(deadline=None, max_examples=examples(25))
@given(seed=seeds, n=st.integers(2, 60), m=st.integers(2, 60), d=st.sampled_from([1, 2, 2, 3, 3, 5, 10]),
       wa=st.sampled_from(["uniform", "random", "zeros"]), wb=st.sampled_from(["uniform", "random", "zeros"]),
       kind=st.sampled_from(["generic", "grid", "duplicates"]))
def test_the_simplex_priced_by_cells_is_certified_optimal(seed, n, m, d, wa, wb, kind):
    """The cold coarse-to-fine solve with cell pricing: the plan has the marginals, costs W1 (POT)
    and its duals certify it over all pairs (certify_plan on cdist), for any weights and ties, in
    d = 1…10 (directional bounds in d = 2, 3, the box bound elsewhere)."""
    rng = np.random.default_rng(seed)
    x, y = _clouds(rng, n, m, d, kind)
    x = x + 1.5
    a, b = _kind_weights(rng, wa, n, zero_fraction=3), _kind_weights(rng, wb, m, zero_fraction=3)
    basis, _ = coarse_basis(x, a, y, b, leaf=3)
    r = warm_solve(basis, x, max_pivots=10**7, pricing="cells")
    assert r.ok, r.message
    assert r.stats.pairs_checked <= r.stats.passes * n * m
    assert_optimal_plan(x, a, y, b, r.rows, r.cols, r.mass, r.u, r.v)
    moved = x + 0.3 * rng.standard_normal(x.shape)  # and warm, from the optimal basis
    r = warm_solve(basis, moved, max_pivots=10**7, pricing="cells")
    assert r.ok, r.message
    assert_optimal_plan(moved, a, y, b, r.rows, r.cols, r.mass, r.u, r.v)


def test_cells_and_full_pass_reach_the_same_value_at_scale():
    """n = 3000 two overlapping Gaussian clouds: the same certified W1 from both pricings, and the
    cell passes compute a small part of the pairs."""
    rng = np.random.default_rng(1)
    n = 3000
    x, y = rng.standard_normal((n, 2)), 0.3 + 1.1 * rng.standard_normal((n, 2))
    a = np.full(n, 1 / n)
    full = solve_sparse(x, a, y, a, pricing="full")
    cells = solve_sparse(x, a, y, a, pricing="cells")
    assert full.ok and cells.ok
    w = [float(np.dot(r.mass, np.linalg.norm(x[r.rows] - y[r.cols], axis=1))) for r in (full, cells)]
    assert w[1] == pytest.approx(w[0], rel=1e-12)
    assert cells.stats.pairs_checked < 0.3 * full.stats.pairs_checked


def test_pricing_is_checked():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 2)), rng.standard_normal((4, 2))
    basis, _ = coarse_basis(x, np.full(5, 0.2), y, np.full(4, 0.25))
    with pytest.raises(ValueError, match="pricing must be"):
        warm_solve(basis, x, pricing="cell")
