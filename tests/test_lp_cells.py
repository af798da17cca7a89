"""The k-d cell scan of dual feasibility (w1flow.lp.cells) against the full O(n·m) check on
``cdist`` costs: the same violating pairs and the same largest violation, over near ties,
duplicates, n ≠ m and d = 1…10; a violation hidden in a block that looks prunable is found."""

import numpy as np
import ot
import pytest
from hypothesis import given, settings, strategies as st
from scipy.spatial.distance import cdist

from w1flow.lp.cells import cell_violations


def _optimal_duals(x, y, rng):
    a = rng.dirichlet(np.ones(x.shape[0]))
    b = rng.dirichlet(np.ones(y.shape[0]))
    _, log = ot.emd(a, b, cdist(x, y), log=True, numItermax=10**7)
    assert log["result_code"] == 1
    return log["u"], log["v"]


def _compare(x, y, u, v, threshold, leaf):
    V = u[:, None] + v[None, :] - cdist(x, y)
    s = cell_violations(x, y, u, v, threshold, leaf=leaf)
    margin = 1e-12 * max(1.0, np.abs(x).max(), np.abs(y).max())  # cdist and the scan round differently
    found = set(zip(s.rows.tolist(), s.cols.tolist()))
    assert {(int(i), int(j)) for i, j in zip(*np.nonzero(V > threshold + margin))} <= found
    assert all(V[i, j] > threshold - margin for i, j in found)
    np.testing.assert_allclose(s.violation, V[s.rows, s.cols], rtol=0, atol=margin)
    if V.max() > threshold + margin:
        assert s.max_violation == pytest.approx(V.max(), abs=margin)
    else:
        assert s.max_violation <= threshold + margin and s.max_violation >= V.max() - margin
    assert s.pairs_checked <= x.shape[0] * y.shape[0]
    return s


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), m=st.integers(1, 60), d=st.integers(1, 10), seed=st.integers(0, 2**31),
       kind=st.sampled_from(["generic", "grid", "duplicates"]), leaf=st.sampled_from([1, 4, 16]),
       noise=st.sampled_from([0.0, 1e-3, 0.3]))
def test_the_cell_scan_finds_exactly_the_pairs_the_full_check_finds(n, m, d, seed, kind, leaf, noise):
    rng = np.random.default_rng(seed)
    if kind == "grid":  # near ties: many equal distances
        x = rng.integers(0, 3, (n, d)).astype(float)
        y = rng.integers(0, 3, (m, d)).astype(float) + 0.5
    else:
        x, y = rng.standard_normal((n, d)), rng.standard_normal((m, d)) + 0.5
        if kind == "duplicates":
            x[n // 2:] = x[0]
            y[: m // 2] = y[-1]
    u, v = _optimal_duals(x, y, rng)
    u = u + noise * rng.standard_normal(n)  # optimal duals, or duals with violations of every size
    _compare(x, y, u, v, 1e-9, leaf)


def test_a_violation_hidden_in_a_block_that_looks_prunable_is_found():
    """Two far clusters; the optimal duals of every point but one are far from tight across the
    clusters, so their block looks prunable by its typical duals. One dual raised to violate a
    single constraint across them (a non-optimal dual certificate) must be reported."""
    rng = np.random.default_rng(0)
    x = np.vstack([rng.standard_normal((200, 2)) * 0.1, rng.standard_normal((200, 2)) * 0.1 + [10.0, 0.0]])
    y = np.vstack([rng.standard_normal((200, 2)) * 0.1 + [0.0, 0.3], rng.standard_normal((200, 2)) * 0.1 + [10.0, 0.3]])
    u, v = _optimal_duals(x, y, rng)
    s0 = _compare(x, y, u, v, 1e-9, 16)
    assert s0.rows.size == 0 and s0.blocks_pruned > 0 and s0.pairs_checked < 0.6 * 400 * 400
    D = cdist(x, y)
    i, j = 3, 250  # x in the left cluster, y in the right one: about 10 apart
    u_bad = u.copy()
    u_bad[i] = D[i, j] - v[j] + 1e-6  # violates (i, j) by 1e-6 and no constraint of a nearer y by less
    s = _compare(x, y, u_bad, v, 1e-9, 16)
    assert (i, j) in set(zip(s.rows.tolist(), s.cols.tolist())) and s.max_violation > 1e-7


@pytest.mark.parametrize("bad, match", [(dict(threshold=-1.0), "threshold"), (dict(leaf=0), "leaf"),
                                        (dict(u=np.zeros(3)), "u must have shape"),
                                        (dict(u=np.full(4, np.nan)), "finite")])
def test_bad_input_is_refused_naming_it(bad, match):
    kw = dict(x=np.zeros((4, 2)), y=np.ones((5, 2)), u=np.zeros(4), v=np.zeros(5), threshold=0.0)
    with pytest.raises(ValueError, match=match):
        cell_violations(**{**kw, **bad})
