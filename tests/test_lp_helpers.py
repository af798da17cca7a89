"""The LP helpers and the plan operations of the exact potential, against independent references:
costs from direct differences and POT's own LP on them, brute-force c-transforms, a
north-west-corner coupling written out by hand, and tracemalloc for the memory bounds."""

import tracemalloc

import numpy as np
import ot
import pytest
from hypothesis import given, settings, strategies as st
from scipy.spatial.distance import cdist

import w1flow.lp as lp_mod
from conftest import examples, generic_cloud, rand_weights
from w1flow import CappedEuler, ExactPotential, W1Flow, solvers
from w1flow.lp import (MemoryBudgetError, certify_plan, default_num_itermax, dense_bytes, monotone_plan,
                        solve_w1_lp, solve_w2_lp, w1_value)
from w1flow.potentials.exact import c_transform


def _sq_costs(x, y):
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(axis=-1)  # direct differences, not cdist


def _costs(x, y):
    return np.sqrt(_sq_costs(x, y))


def _reference_emd2(a, b, M):
    top = M.max()
    return ot.emd2(a, b, M / top, numItermax=10**7) * top


# -- the W2 LP ------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1.0, 1e-7, 1e5])
def test_w2_lp_against_an_independent_lp(rng, scale):
    n, m, d = 40, 57, 3
    x = scale * rng.standard_normal((n, d))
    y = scale * (2 * rng.standard_normal((m, d)) + 1)
    a, b = rand_weights(rng, n), rand_weights(rng, m)
    lp = solve_w2_lp(x, a, y, b)
    G, log = lp.plan, lp.log
    M = _sq_costs(x, y)
    ref = _reference_emd2(a, b, M)
    np.testing.assert_allclose(G.sum(axis=1), a, rtol=0, atol=1e-13)
    np.testing.assert_allclose(G.sum(axis=0), b, rtol=0, atol=1e-13)
    assert abs(log["cost"] - ref) <= 1e-12 * ref
    np.testing.assert_allclose(log["cost_matrix"], M, rtol=1e-12)
    # the duals, in the units of the costs: feasible, and the dual value is the W2² value
    u, v = log["u"], log["v"]
    assert np.max(u[:, None] + v[None, :] - M) <= 1e-9 * M.max()
    assert abs(a @ u + b @ v - ref) <= 1e-9 * ref


def test_w2_lp_and_w1_value_keep_the_memory_budget_exactly():
    n, m, d = 30, 45, 3
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((n, d)), rng.standard_normal((m, d))
    a, b = np.full(n, 1 / n), np.full(m, 1 / m)
    budget = dense_bytes(n, m)
    solve_w2_lp(x, a, y, b, max_memory=budget)
    with pytest.raises(MemoryBudgetError, match=r"\bthe W2 plan needs dense 30 x 45 matrices"):
        solve_w2_lp(x, a, y, b, max_memory=budget - 1)
    lp_budget = dense_bytes(n, m, lp_mod.LP_DENSE_MATRICES)
    assert w1_value(x, a, y, b, max_memory=lp_budget).success
    with pytest.raises(MemoryBudgetError, match=r"\b30 x 45\b"):
        w1_value(x, a, y, b, max_memory=lp_budget - 1)
    # in 1-D the exact value is the quantile formula: no matrix, so no budget applies
    assert w1_value(x[:, :1], a, y[:, :1], b, max_memory=1).success


def test_the_pivot_cap_grows_with_the_problem(monkeypatch):
    """POT's default cap (1e5 pivots) fails on large problems; ours must reach the solver."""
    seen = []
    real = ot.emd

    def spy(*args, **kwargs):
        seen.append(kwargs.get("numItermax"))
        return real(*args, **kwargs)

    monkeypatch.setattr(ot, "emd", spy)
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((20, 3)), rng.standard_normal((30, 3))
    solve_w2_lp(x, np.full(20, 0.05), y, np.full(30, 1 / 30))
    solve_w1_lp(x, np.full(20, 0.05), y, np.full(30, 1 / 30))
    assert seen == [default_num_itermax(20, 30)] * 2
    assert default_num_itermax(20, 30) == 10**6 and default_num_itermax(400, 300) == 50 * 400 * 300


# -- the certificate --------------------------------------------------------------------------
def _optimal(rng, n=30, m=20, d=2):
    x, y = generic_cloud(rng, n, d), generic_cloud(rng, m, d) + 0.5
    a, b = rand_weights(rng, n), rand_weights(rng, m)
    res = solve_w1_lp(x, a, y, b)
    assert res.success
    return x, a, y, b, res


def test_certificate_values_against_independent_sums(rng):
    x, a, y, b, res = _optimal(rng)
    cert = certify_plan(x, a, y, b, res.rows, res.cols, res.mass, res.u, res.v, np.float64(1e-9))
    primal = sum(mk * np.linalg.norm(x[r] - y[c]) for r, c, mk in zip(res.rows, res.cols, res.mass))
    assert cert.ok
    assert abs(cert.primal - primal) <= 1e-14
    assert abs(cert.dual - (a @ res.u + b @ res.v)) <= 1e-14
    assert cert.gap == cert.primal - cert.dual
    assert cert.max_violation == np.max(res.u[:, None] + res.v[None, :] - _costs(x, y)) or \
        abs(cert.max_violation - np.max(res.u[:, None] + res.v[None, :] - _costs(x, y))) <= 1e-15
    assert type(cert.tol) is float and cert.tol == 1e-9


def test_certificate_checks_every_row_and_its_tolerance_is_inclusive(rng):
    x, a, y, b, res = _optimal(rng, n=30, m=20)  # more particles than data points
    # a violation in the last particle's row only (a small weight there keeps the gap smaller)
    u = res.u.copy()
    u[-1] += 0.05
    bad = certify_plan(x, a, y, b, res.rows, res.cols, res.mass, u, res.v, 1e-9)
    assert not bad.ok and bad.max_violation >= 0.05 - 1e-12
    assert abs(bad.gap) < bad.max_violation
    at_tol = certify_plan(x, a, y, b, res.rows, res.cols, res.mass, u, res.v, bad.max_violation)
    assert at_tol.ok  # "<= tol" on both
    below = certify_plan(x, a, y, b, res.rows, res.cols, res.mass, u, res.v,
                         np.nextafter(bad.max_violation, 0))
    assert not below.ok and "dual feasibility" in below.message
    # a gap only: lower every dual (still feasible), the dual value drops by the shift
    lowered = certify_plan(x, a, y, b, res.rows, res.cols, res.mass, res.u - 0.01, res.v, 1e-9)
    assert not lowered.ok and lowered.max_violation <= 0 and abs(lowered.gap - 0.01) <= 1e-12
    assert certify_plan(x, a, y, b, res.rows, res.cols, res.mass, res.u - 0.01, res.v, abs(lowered.gap)).ok
    assert not certify_plan(x, a, y, b, res.rows, res.cols, res.mass, res.u - 0.01, res.v,
                            np.nextafter(abs(lowered.gap), 0)).ok


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_certificate_and_c_transform_memory_is_bounded_by_the_chunk():
    rng = np.random.default_rng(4)
    n = m = 1500
    x, y = rng.standard_normal((n, 2)), rng.standard_normal((m, 2))
    a = b = np.full(n, 1 / n)
    rows = cols = np.arange(n)
    mass = a.copy()
    u, v = np.zeros(n), np.zeros(m)
    chunk = 8 * m * 10  # 10 rows of distances at a time: 120 kB, against 18 MB unchunked
    peak = _peak_bytes(lambda: certify_plan(x, a, y, b, rows, cols, mass, u, v, 1e-9, chunk_bytes=chunk))
    assert peak < 3 * chunk  # two blocks (distances and their shift) plus O(n + m)
    # the c-transform chunks by the number of data points (32 MB blocks): 200 MB unchunked here
    z, yy = rng.standard_normal((1000, 2)), rng.standard_normal((25000, 2))
    peak = _peak_bytes(lambda: c_transform(z, yy, np.zeros(25000)))
    assert peak < 2.5 * lp_mod.CHUNK_BYTES


def test_default_certificate_tolerance_follows_the_largest_coordinate(rng):
    x, a, y, b, _ = _optimal(rng, n=12, m=12)
    for xs, ys in [(-3e3 * x, y), (x, 7e2 * y)]:
        pot = ExactPotential()(xs, a, ys, b)
        cert = pot.certify()
        assert cert.tol == 1e-9 * max(np.max(np.abs(xs)), np.max(np.abs(ys)))
        assert cert.ok


# -- the 1-D monotone plan ------------------------------------------------------------------
def _north_west(x1, a, y1, b):
    """Hand-written north-west corner on (position, index)-sorted points; exact dyadic masses."""
    ix = sorted(range(len(x1)), key=lambda i: (x1[i], i))
    iy = sorted(range(len(y1)), key=lambda j: (y1[j], j))
    ix, iy = [i for i in ix if a[i] > 0], [j for j in iy if b[j] > 0]
    out, p, q = [], 0, 0
    ra, rb = a[ix[0]], b[iy[0]]
    while p < len(ix) and q < len(iy):
        t = min(ra, rb)
        out.append((ix[p], iy[q], t))
        ra, rb = ra - t, rb - t
        if ra == 0:
            p += 1
            ra = a[ix[p]] if p < len(ix) else 0
        if rb == 0:
            q += 1
            rb = b[iy[q]] if q < len(iy) else 0
    return out


def test_monotone_plan_is_the_north_west_corner_with_ties_by_index():
    rng = np.random.default_rng(5)
    n, m = 300, 211
    x1 = rng.integers(0, 7, n).astype(float)  # many ties
    y1 = rng.integers(0, 5, m).astype(float)
    wa = rng.integers(0, 4, n).astype(float)  # zero weights included
    wb = rng.integers(1, 4, m).astype(float)
    wa[0] = 0.0
    # dyadic weights: all cumulative sums are exact, so the pieces are exact
    a = wa / 1024.0
    a[np.argmax(a)] += 1.0 - a.sum()
    b = wb / 512.0
    b[np.argmax(b)] += 1.0 - b.sum()
    assert a.sum() == 1.0 and b.sum() == 1.0
    rows, cols, mass = monotone_plan(x1, a, y1, b)
    ref = _north_west(x1, a, y1, b)
    assert rows.tolist() == [r for r, _, _ in ref]
    assert cols.tolist() == [c for _, c, _ in ref]
    assert mass.tolist() == [t for _, _, t in ref]
    assert np.all(mass > 0)



def test_monotone_plan_with_zero_weights_last_and_round_off_totals():
    """Zero-weight points that sort last, and weights whose cumulative sums end 1 ± 1e-16: no
    mass past the end (an index error once) and none on a zero-weight point; the marginals and
    the value against POT on cdist costs."""
    from scipy.spatial.distance import cdist
    rng = np.random.default_rng(11)
    for _ in range(300):
        n, m = (int(k) for k in rng.integers(3, 30, 2))
        x1, y1 = rng.standard_normal(n), rng.standard_normal(m)
        a, b = rng.random(n), rng.random(m)
        a[np.argsort(x1)[-int(rng.integers(1, n)):]] = 0.0  # the rightmost particles weigh nothing
        if rng.random() < 0.5:
            b[np.argsort(y1)[-int(rng.integers(1, m)):]] = 0.0
        a /= a.sum()
        b /= b.sum()
        rows, cols, mass = monotone_plan(x1, a, y1, b)
        assert np.all(mass > 0)
        assert np.all(a[rows] > 0) and np.all(b[cols] > 0)
        assert np.allclose(np.bincount(rows, mass, n), a, rtol=0, atol=1e-15)
        assert np.allclose(np.bincount(cols, mass, m), b, rtol=0, atol=1e-15)
        ref = ot.emd2(a, b, cdist(x1[:, None], y1[:, None]), numItermax=10**6)
        assert abs(np.dot(mass, np.abs(x1[rows] - y1[cols])) - ref) <= 1e-12 * max(ref, 1.0)



def test_monotone_plan_lists_each_pair_once():
    """Uniform weights 1/n and 1/m: cumulative sums equal in exact arithmetic differ by an ulp and
    cut slivers (~1e-18) off pieces; each (row, col) must still appear once, or the dense plan
    (``G[rows, cols] = mass``) keeps the sliver and loses the piece (found by fuzzing: n = 774,
    m = 602). Marginals of the dense plan against the weights."""
    from w1flow import ExactPotential
    rng = np.random.default_rng(0)
    seen_merge = False
    for n, m in [(774, 602), (300, 211), (999, 700), (64, 1000), (513, 257)]:
        x1 = rng.integers(0, 6, n).astype(float)
        y1 = rng.integers(0, 6, m) + 0.5
        a, b = np.full(n, 1 / n), np.full(m, 1 / m)
        rows, cols, mass = monotone_plan(x1, a, y1, b)
        pairs = rows.astype(np.int64) * m + cols
        assert np.unique(pairs).size == pairs.size
        seen_merge |= rows.size < np.union1d(np.cumsum(a), np.cumsum(b)).size
        G = ExactPotential()(x1[:, None], a, y1[:, None], b).plan
        assert np.allclose(G.sum(1), a, rtol=0, atol=1e-13) and np.allclose(G.sum(0), b, rtol=0, atol=1e-13)
    assert seen_merge  # the sizes above do produce slivers


# -- plan operations on the exact potential -----------------------------------------------------
def _split_case(rng, n=40, m=23, budget=None):
    # budget: bytes of the exact LP, kept by the potential for its dense plan
    x, y = generic_cloud(rng, n, 2), generic_cloud(rng, m, 2) + 0.3
    a = rand_weights(rng, n)
    tracers = np.array([3, 17, n - 1])
    a[tracers] = 0.0
    a /= a.sum()
    b = rand_weights(rng, m)
    oracle = ExactPotential() if budget is None else ExactPotential(max_memory=budget)
    return x, a, y, b, tracers, oracle(x, a, y, b)


def test_split_keeps_every_entry_and_every_tracer(rng):
    x, a, y, b, tracers, pot = _split_case(rng)
    assert pot.is_split
    sub, parent = pot.split()
    nnz = pot.plan_rows.size
    assert sub.x.shape[0] == nnz + tracers.size  # min_mass=0 keeps every entry
    assert np.array_equal(np.sort(parent[sub.a == 0]), tracers)
    assert np.array_equal(sub.x, x[parent])
    assert sub.plan_rows.tolist() == np.flatnonzero(sub.a > 0).tolist()
    assert sub.plan_cols.dtype.kind == "i"
    G = sub.plan
    np.testing.assert_allclose(G.sum(axis=1), sub.a, atol=1e-15)
    np.testing.assert_allclose(G.sum(axis=0), b, atol=1e-15)
    # sub-particles sit next to their parents, in the parent plan's order
    assert np.all(np.diff(parent) >= 0)
    for i in np.unique(pot.plan_rows):
        own = np.flatnonzero((parent == i) & (sub.a > 0))
        assert sub.plan_cols[np.searchsorted(sub.plan_rows, own)].tolist() == \
            pot.plan_cols[pot.plan_rows == i].tolist()
    # the same transport: W1 of an independent LP, optimal status, the LP's code and message
    ref = ot.emd2(a, b, _costs(x, y), numItermax=10**7)
    assert abs(sub.w1 - ref) <= 1e-13 and abs(pot.w1 - ref) <= 1e-13
    assert sub.success and sub.status == "optimal" and sub.lp.result_code == 1
    assert sub.message == pot.message and sub.reused is False
    # tracers move along -grad phi; everyone else toward its own target at unit speed
    V = sub.velocity
    np.testing.assert_allclose(V[sub.a == 0], -pot.gradient(x[tracers[np.argsort(tracers)]]), atol=1e-15)
    assert sub.certify().ok


def test_split_merges_only_entries_strictly_lighter_than_min_mass(rng):
    *_, pot = _split_case(rng)
    rows, mass = pot.plan_rows, pot.plan_mass
    multi = [i for i in np.unique(rows) if np.sum(rows == i) > 1]
    i = multi[0]
    k = np.flatnonzero(rows == i)[np.argmin(mass[rows == i])]  # the lightest entry of a split row
    lightest_overall = np.min(mass[np.isin(rows, multi)])
    assert mass[k] >= lightest_overall
    full = pot.split()[0].x.shape[0]
    assert pot.split(lightest_overall)[0].x.shape[0] == full
    merged, parent = pot.split(np.nextafter(lightest_overall, 1))
    assert merged.x.shape[0] == full - 1
    # row masses are kept; the data marginal moves by the merged mass only
    np.testing.assert_allclose(np.bincount(parent, weights=merged.a, minlength=pot.a.size), pot.a, atol=1e-15)
    moved = np.abs(merged.plan.sum(axis=0) - pot.b)
    assert np.sum(moved) <= 2 * lightest_overall + 1e-15 and np.sum(moved) > 0


def test_split_and_moved_potentials_keep_the_memory_budget(rng):
    n, m = 40, 23
    budget = dense_bytes(n, m, lp_mod.LP_DENSE_MATRICES)  # just enough for the LP
    x, a, y, b, _, pot = _split_case(rng, n, m, budget=budget)
    assert pot.plan.shape == (n, m)
    sub, _ = pot.split()
    assert sub.max_memory == budget and pot.moved(x, pot.u).max_memory == budget


def test_moved_is_the_same_plan_at_new_positions(rng):
    x, a, y, b, _, pot = _split_case(rng)
    x_new = x + 0.01 * rng.standard_normal(x.shape)
    u_new = pot.u - 0.001
    mv = pot.moved(x_new, u_new)
    cost = sum(mk * np.linalg.norm(x_new[r] - y[c]) for r, c, mk in zip(pot.plan_rows, pot.plan_cols, pot.plan_mass))
    assert abs(mv.w1 - cost) <= 1e-14
    assert mv.success and mv.status == "optimal" and mv.lp.result_code == 1
    assert mv.reused is True and mv.u.dtype == np.float64 and mv.u.flags.c_contiguous
    assert np.array_equal(mv.u, u_new) and mv.v is pot.v
    assert np.array_equal(mv.plan, pot.plan)


def test_rays_send_tracers_to_their_c_transform_minimiser(rng):
    n, m = 30, 28
    x, y = generic_cloud(rng, n, 2), generic_cloud(rng, m, 2) + 0.4
    a = np.full(n, 1.0 / m)
    a[[4, 11]] = 0.0  # two tracers; the others are matched one to one
    b = np.full(m, 1.0 / m)
    pot = ExactPotential()(x, a, y, b)
    assert not pot.is_split
    target, direction, length = pot.rays()
    for i in (4, 11):
        j = np.argmin(np.linalg.norm(x[i] - y, axis=1) - pot.v)  # brute-force c-transform
        assert np.array_equal(target[i], y[j])
    has = a > 0
    np.testing.assert_array_equal(target[has], y[pot.target_index[has]])
    np.testing.assert_allclose(length, np.linalg.norm(target - x, axis=1), rtol=1e-15)


# -- CappedEuler through the solver contract ------------------------------------------------------
def _ctx(y, b=None):
    return solvers.SolverContext(W1Flow(y, b).with_potential(ExactPotential()))


def test_capped_euler_rays_from_any_start_time(rng):
    n = 25
    x, y = generic_cloud(rng, n, 2), generic_cloud(rng, n, 2) + 0.5
    a = np.full(n, 1 / n)
    perm = np.argmax(ot.emd(a, a, _costs(x, y)), axis=1)  # independent LP: a permutation
    dist = np.linalg.norm(y[perm] - x, axis=1)
    unit = (y[perm] - x) / dist[:, None]
    s = CappedEuler()
    for t0 in (0.0, 0.7):
        ctx = _ctx(y)
        out = s.init(ctx, t0, 0.1, x, a)
        assert out.ok and np.array_equal(out.x, x) and np.array_equal(out.a, a)
        h = float(np.median(dist))
        nxt = s.step(ctx, t0, h, out.x, out.a, out.state)
        expect = x + np.minimum(h, dist)[:, None] * unit
        np.testing.assert_allclose(nxt.x, expect, rtol=0, atol=1e-14)
    # landing is exact: a particle whose ray ends at t - t0 == its length sits on its target
    ctx = _ctx(y)
    out = s.init(ctx, 0.0, 0.1, x, a)
    off = [i for i in range(n) if not np.array_equal(x[i] + dist[i] * unit[i], y[perm[i]])]
    assert off, "no particle where the ray formula misses its end by round-off"
    k = off[0]
    d_k = out.state.distance[k]
    nxt = s.step(ctx, 0.0, d_k, out.x, out.a, out.state)
    assert np.array_equal(nxt.x[k], y[perm[k]])


def test_capped_euler_init_reports_its_work(rng):
    n, m = 20, 13
    x, y = generic_cloud(rng, n, 2), generic_cloud(rng, m, 2)
    a, b = rand_weights(rng, n), rand_weights(rng, m)
    s = CappedEuler(split=True)
    out = s.init(_ctx(y, b), 0.0, 0.1, x, a)
    assert out.ok and out.parent is not None
    np.testing.assert_array_equal(out.x, x[out.parent])
    np.testing.assert_allclose(np.bincount(out.parent, weights=out.a, minlength=n), a, atol=1e-15)
    assert out.field_at_end is not None and out.field_at_end.x is x
    # a failed LP: the inputs back, with the LP's status
    ctx = solvers.SolverContext(W1Flow(y, b).with_potential(ExactPotential(method="dense", num_itermax=2)))
    bad = s.init(ctx, 0.0, 0.1, x, a)
    assert not bad.ok and bad.status == "max_iter_reached" and bad.x is x and bad.a is a
    # under "auto" the sparse LP tries again with the same cap, and its failure is the status
    ctx = solvers.SolverContext(W1Flow(y, b).with_potential(ExactPotential(num_itermax=2)))
    bad = s.init(ctx, 0.0, 0.1, x, a)
    assert not bad.ok and bad.status == "not_certified" and bad.x is x and bad.a is a


def test_capped_euler_certificate_tolerance(rng):
    n = 16
    x, y = 40.0 * generic_cloud(rng, n, 2), generic_cloud(rng, n, 2)
    a = np.full(n, 1 / n)
    for tol in (None, 1e-3):
        s = CappedEuler(certify=True, certify_tol=tol)
        ctx = _ctx(y)
        out = s.init(ctx, 0.0, 0.1, x, a)
        xt = s.step(ctx, 0.0, 0.5, out.x, out.a, out.state).x
        rec = s.w1(ctx, out.state, 0.5, xt, a)
        assert rec.success and rec.certificate.ok
        expect = 1e-9 * max(np.max(np.abs(xt)), np.max(np.abs(y))) if tol is None else tol
        assert rec.certificate.tol == expect
        ref = ot.emd2(a, a, _costs(xt, y), numItermax=10**7)
        assert abs(rec.w1 - ref) <= 1e-12 * ref
        assert s.w1(ctx, out.state, 0.5, xt, a, certify=False).certificate is None


# -- carrying a plan over an Euler step -------------------------------------------------------------
def _euler_move(pot, h):
    V = pot.velocity
    return pot.x + h * V, np.linalg.norm(V, axis=1)


def test_carry_keeps_a_plan_that_stays_optimal_after_overshooting():
    # two far-apart pairs; both particles pass their targets, the pairing stays optimal
    x = np.array([[0.0, 0.0], [10.0, 0.3], [4.0, 7.0]])
    y = np.array([[1.0, 0.1], [11.0, 0.0], [4.5, 8.0]])
    a = np.full(3, 1 / 3)
    pot = ExactPotential(max_memory=10**6)(x, a, y, a)
    h = 1.05  # beyond the first two rays (about 1.005), not the third (about 1.118)
    x_new, speed = _euler_move(pot, h)
    carried = pot.carry(x_new, h, speed)
    assert carried is not None and carried.reused and carried.max_memory == 10**6
    assert carried.success and carried.lp.result_code == 1
    assert carried.certify().ok
    ref = ot.emd2(a, a, _costs(x_new, y), numItermax=10**7)
    assert abs(carried.w1 - ref) <= 1e-14


def test_carry_refuses_a_plan_that_an_overshoot_made_suboptimal():
    # particle 1 runs past its target toward the other data point: the swap is now cheaper
    x = np.array([[3.0, 5.0], [0.0, 0.0]])
    y = np.array([[3.0, 0.1], [1.0, 0.0]])
    a = np.full(2, 0.5)
    pot = ExactPotential()(x, a, y, a)
    assert pot.target_index.tolist() == [0, 1]
    x_new, speed = _euler_move(pot, 3.0)
    assert pot.carry(x_new, 3.0, speed) is None
    fresh = ExactPotential()(x_new, a, y, a)
    assert fresh.target_index.tolist() == [1, 0]
    # a step that keeps every particle on its ray is always carried
    x_ok, speed = _euler_move(pot, 0.5)
    assert pot.carry(x_ok, 0.5, speed) is not None


def test_row_chunks_are_as_many_rows_as_the_budget_holds():
    """Chunks of floor(chunk_bytes / (8 m)) rows (at least one), covering every row once."""
    sizes = [s.stop - s.start for s in lp_mod.row_chunks(100, 10, chunk_bytes=8 * 10 * 7)]
    assert sizes == [7] * 14 + [2]
    assert [s.stop - s.start for s in lp_mod.row_chunks(5, 1, chunk_bytes=8 * 3)] == [3, 2]  # m = 1
    assert [s.stop - s.start for s in lp_mod.row_chunks(3, 10**6, chunk_bytes=8)] == [1, 1, 1]  # one row too big
    assert list(lp_mod.row_chunks(0, 10)) == []


def test_an_optimal_lp_says_so_and_an_unknown_result_code_is_named(rng, monkeypatch):
    x, y = generic_cloud(rng, 6, 2) + 2, generic_cloud(rng, 5, 2)
    a, b = rand_weights(rng, 6), rand_weights(rng, 5)
    res = lp_mod.solve_w1_lp(x, a, y, b)
    assert res.success and res.status == "optimal" and res.message == "optimal"
    real = ot.emd

    def fake(*args, **kw):
        import warnings

        G, log = real(*args, **kw)
        log["result_code"] = 7
        warnings.warn("POT says something went wrong")
        return G, log

    monkeypatch.setattr(ot, "emd", fake)
    bad = lp_mod.solve_w1_lp(x, a, y, b)
    assert not bad.success and bad.status == "code_7"
    assert "result_code=7" in bad.message and "POT says something went wrong" in bad.message


def test_a_given_cost_matrix_and_warm_start_duals_reach_pot_scaled(rng, monkeypatch):
    """solve_w1_lp uses the cost it is given, and hands potentials_init to POT in the scaled units
    of the normalised costs (duals scale like costs)."""
    x, y = generic_cloud(rng, 5, 2) + 2, generic_cloud(rng, 4, 2)
    a, b = rand_weights(rng, 5), rand_weights(rng, 4)
    M = lp_mod.pairwise_distances(x, y)
    seen = {}
    real = ot.emd

    def spy(a_, b_, M_, **kw):
        seen["M"], seen["kw"] = M_.copy(), kw
        return real(a_, b_, M_, **kw)

    monkeypatch.setattr(ot, "emd", spy)
    ref = lp_mod.solve_w1_lp(x, a, y, b)
    scale = M.max() / seen["M"].max()
    assert "potentials_init" not in seen["kw"]
    lp_mod.solve_w1_lp(x, a, y, b, cost=M ** 2)  # a given cost is used as given (not recomputed)
    np.testing.assert_allclose(seen["M"], M ** 2 / (M ** 2).max(), rtol=1e-15)
    lp_mod.solve_w1_lp(x, a, y, b, potentials_init=(ref.u, ref.v))
    u0, v0 = seen["kw"]["potentials_init"]
    np.testing.assert_allclose(u0 * scale, ref.u, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(v0 * scale, ref.v, rtol=1e-14, atol=1e-15)


def test_exact_potential_warm_starts_only_when_asked_and_when_sizes_match(rng, monkeypatch):
    x, y = generic_cloud(rng, 5, 2) + 2, generic_cloud(rng, 4, 2)
    a, b = rand_weights(rng, 5), rand_weights(rng, 4)
    inits = []
    real = lp_mod.solve_w1_lp
    import w1flow.lp.solver as solver_mod

    def spy(*args, potentials_init=None, **kw):
        inits.append(potentials_init)
        return real(*args, potentials_init=potentials_init, **kw)

    monkeypatch.setattr(solver_mod, "solve_w1_lp", spy)
    cold = ExactPotential()
    cold(x, a, y, b), cold(x, a, y, b)
    assert inits == [None, None] and cold.counters["evaluations"] == 2 and cold.counters["lp_solves"] == 2
    inits.clear()
    warm = ExactPotential(warm_start=True)
    first = warm(x, a, y, b)
    warm(x + 0.01, a, y, b)
    assert inits[0] is None
    np.testing.assert_array_equal(inits[1][0], first.lp.u)
    np.testing.assert_array_equal(inits[1][1], first.lp.v)
    warm(x[:4], rand_weights(rng, 4), y, b)  # another number of particles: a cold solve
    warm(x, a, y[:3], rand_weights(rng, 3))  # another number of data points: a cold solve
    assert inits[2] is None and inits[3] is None
    assert warm.counters["evaluations"] == 4
    warm.reset()
    warm(x, a, y, b)
    assert inits[4] is None and warm.counters["evaluations"] == 1


@pytest.mark.parametrize("bad", [0, -3])
def test_num_itermax_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match=r"\bnum_itermax\b"):
        ExactPotential(num_itermax=bad)
    assert ExactPotential(num_itermax=1).num_itermax == 1


def test_plan_velocity_of_rows_without_mass_is_zero():
    """Rows with a_i = 0, or whose plan entries carry no mass, get velocity 0 (no 0/0)."""
    from w1flow.potentials.exact import plan_velocity

    x = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    y = np.array([[0.0, 3.0], [4.0, 0.0]])
    a = np.array([0.5, 0.0, 0.5])
    rows, cols = np.array([0, 0, 1, 2]), np.array([0, 1, 0, 1])
    mass = np.array([0.25, 0.25, 0.0, 0.5])  # row 1: an entry without mass, and a_1 = 0
    V = plan_velocity(x, a, y, rows, cols, mass)
    assert np.all(np.isfinite(V))
    np.testing.assert_array_equal(V[1], [0.0, 0.0])
    np.testing.assert_allclose(V[0], 0.5 * np.array([0.0, 1.0]) + 0.5 * np.array([1.0, 0.0]), rtol=1e-15)
    np.testing.assert_array_equal(V[2], [1.0, 0.0])
    # a plan entry with mass on a row whose weight is 0 still gives that row no velocity
    V2 = plan_velocity(x, a, y, np.array([0, 1, 2]), np.array([0, 0, 1]), np.array([0.5, 0.1, 0.5]))
    np.testing.assert_array_equal(V2[1], [0.0, 0.0])
    # and a row with weight whose plan entries carry no mass gets 0, not 0/0
    V3 = plan_velocity(x, np.array([0.5, 0.2, 0.3]), y, np.array([0, 1, 2]), np.array([0, 0, 1]),
                       np.array([0.5, 0.0, 0.5]))
    assert np.all(np.isfinite(V3))
    np.testing.assert_array_equal(V3[1], [0.0, 0.0])


def test_split_keeps_whether_the_plan_was_reused(rng):
    from w1flow.potentials.exact import ExactKantorovichPotential

    x, a, y, b, tracers, pot = _split_case(rng)
    again = ExactKantorovichPotential(pot.x, pot.a, pot.y, pot.b, pot.lp, reused=True)
    assert again.split()[0].reused is True and pot.split()[0].reused is False


def test_the_pivot_cap_stops_at_the_largest_c_int_and_dense_matrices_are_float64():
    assert lp_mod.default_num_itermax(10**5, 10**5) == 2**31 - 1  # POT's numItermax is a C int
    assert lp_mod.dense_bytes(10, 20, 3) == 8 * 10 * 20 * 3
    with pytest.raises(MemoryBudgetError, match=r"^the exact LP needs dense 1000 x 1000 matrices"):
        lp_mod.check_memory(1000, 1000, 1e3)


def test_the_failure_message_carries_pots_warnings_or_its_log(rng, monkeypatch):
    x, y = generic_cloud(rng, 6, 2) + 2, generic_cloud(rng, 5, 2)
    a, b = rand_weights(rng, 6), rand_weights(rng, 5)
    real = ot.emd

    def fake(warn, log_warning):
        def emd(*args, **kw):
            import warnings

            G, log = real(*args, **kw)
            log["result_code"], log["warning"] = 3, log_warning
            for w in warn:
                warnings.warn(w)
            return G, log
        return emd

    monkeypatch.setattr(ot, "emd", fake(["first", "second"], None))
    assert lp_mod.solve_w1_lp(x, a, y, b).message.endswith(": first; second")
    monkeypatch.setattr(ot, "emd", fake([], "numItermax reached before optimality"))
    res = lp_mod.solve_w1_lp(x, a, y, b)
    assert res.status == "max_iter_reached" and res.message.endswith(": numItermax reached before optimality")


# -- w1flow.lp.solve: one entry, typed results --------------------------------------------------
def test_solve_methods_agree_and_return_typed_results(rng):
    from w1flow.lp import LPResult, SimplexResult, choose_method, solve

    x, y = generic_cloud(rng, 40, 2) + 1.0, generic_cloud(rng, 30, 2)
    a, b = rand_weights(rng, 40), rand_weights(rng, 30)
    dense = solve(x, a, y, b, method="dense", keep_basis=True)
    sparse = solve(x, a, y, b, method="sparse")
    assert type(dense) is SimplexResult and isinstance(sparse, SimplexResult) and dense.success and sparse.success
    assert abs(dense.cost - sparse.cost) <= 1e-12 * dense.cost and sparse.stats.passes >= 1
    assert type(dense.plain()) is LPResult and dense.plain().cost == dense.cost
    assert type(solve(x, a, y, b)) is LPResult  # "auto" within the budget: dense, no basis asked
    x1 = x + 0.05 * rng.standard_normal(x.shape)
    warm = solve(x1, a, y, b, method="incremental", basis=dense.basis)
    assert warm.success and abs(warm.cost - solve(x1, a, y, b, method="dense").cost) <= 1e-12 * warm.cost
    with pytest.raises(ValueError, match="basis"):
        solve(x1, a, y, b, method="incremental")
    with pytest.raises(ValueError, match="method"):
        solve(x, a, y, b, method="simplex")
    need = dense_bytes(40, 30, lp_mod.LP_DENSE_MATRICES)
    assert [choose_method("auto", 40, 30, m) for m in (need, need - 1, None)] == ["dense", "sparse", "dense"]
    assert choose_method("sparse", 40, 30, None) == "sparse" and choose_method("dense", 40, 30, 1) == "dense"
    line = solve(x[:, :1], a, y[:, :1], b, method="sparse")  # the line: monotone plan, CDF duals
    assert type(line) is LPResult and "1-D monotone plan" in line.message


def test_w2_result_value_is_the_metric(rng):
    from w1flow import metrics

    x, y = generic_cloud(rng, 20, 3), generic_cloud(rng, 25, 3) + 0.5
    a, b = rand_weights(rng, 20), rand_weights(rng, 25)
    lp = solve_w2_lp(x, a, y, b)
    assert lp.success and lp.w2 == metrics.w2(x, y, a, b) and lp.w2 ** 2 == pytest.approx(lp.log["cost"], rel=1e-12)


@settings(deadline=None, max_examples=examples(30))
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 80), m=st.integers(1, 80), d=st.sampled_from([1, 2, 3, 5]),
       pricing=st.sampled_from(["full", "cells", "auto"]), grid=st.booleans())
def test_c_transform_is_the_minimum_over_all_pairs(seed, k, m, d, pricing, grid):
    """``c_transform(z, y, v)`` is ``min_j (|z_k - y_j| - v_j)`` on ``cdist`` and its index attains it,
    by every pair or by the cell bounds (any d; directional bounds in d = 2, 3); integer grids give
    exact ties (then any minimiser will do)."""
    from w1flow.lp.costs import c_transform as lp_c_transform

    rng = np.random.default_rng(seed)
    if grid:
        z, y = rng.integers(0, 3, (k, d)).astype(float), rng.integers(0, 3, (m, d)).astype(float)
    else:
        z, y = rng.normal(size=(k, d)), rng.normal(size=(m, d)) * 2.0
    v = rng.normal(size=m) * rng.choice([0.01, 1.0, 10.0])
    val, arg = lp_c_transform(z, y, v, pricing=pricing)
    D = cdist(z, y) - v[None, :]
    want = D.min(axis=1)
    tol = 1e-12 * (1 + np.abs(v).max() + np.abs(want).max())
    np.testing.assert_allclose(val, want, rtol=0, atol=tol)
    np.testing.assert_allclose(D[np.arange(k), arg], want, rtol=0, atol=tol)
    assert c_transform is lp_c_transform  # one home, re-exported by w1flow.potentials.exact


@pytest.mark.parametrize("d, min_pairs, cells", [(2, 1, True), (3, 1, True), (1, 1, False), (5, 1, False),
                                                 (2, 10**9, False)])
def test_c_transform_auto_prices_by_cells_where_the_rule_says(monkeypatch, d, min_pairs, cells):
    """``pricing="auto"`` takes the cell bounds exactly where ``lp.cells.cells_pay`` says (d = 2, 3
    from ``CELL_MIN_PAIRS[d]`` pairs), and its answer is the minimum over all pairs either way."""
    import w1flow.lp.cells as cells_mod
    from w1flow.lp.costs import c_transform as lp_c_transform

    assert set(cells_mod.CELL_MIN_PAIRS) == {2, 3}  # the dimensions with a directional bound
    monkeypatch.setattr(cells_mod, "CELL_MIN_PAIRS", {2: min_pairs, 3: min_pairs})
    scans = []
    real_scan = cells_mod.CellPricer.scan
    monkeypatch.setattr(cells_mod.CellPricer, "scan", lambda self, *a: scans.append(1) or real_scan(self, *a))
    rng = np.random.default_rng(d)
    z, y, v = rng.normal(size=(40, d)), rng.normal(size=(30, d)), rng.normal(size=30)
    val, _ = lp_c_transform(z, y, v, pricing="auto")
    assert bool(scans) == cells
    np.testing.assert_allclose(val, (cdist(z, y) - v).min(axis=1), rtol=0, atol=1e-12)
