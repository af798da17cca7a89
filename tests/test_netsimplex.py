"""The warm-started network simplex (``w1flow.lp.netsimplex``) and ``ExactPotential(incremental=True)``.

Every value is checked against references that do not go through the code under test:

* W1 from POT directly, ``ot.emd2`` on ``scipy`` ``cdist`` costs (scaled to O(1), as POT's
  tolerances are absolute);
* optimality from :func:`w1flow.lp.certify_plan` (dual feasibility over all n·m pairs on ``cdist``
  distances, plus a zero duality gap), not from the simplex's own Numba kernels;
* the plan's marginals from ``np.bincount``.

Only the public entry points are used: ``basis_from_plan``, ``warm_solve`` and the oracle.
"""

import json

import numpy as np
import ot
import pytest
from hypothesis import given, settings, strategies as st
from scipy.spatial.distance import cdist

import w1flow.lp.solver as solver_module
from conftest import examples, north_west, rand_weights, weights_of_kind
from w1flow import CappedEuler, Euler, ExactPotential, W1Flow, simulate
from w1flow.lp import certify_plan, default_certificate_tol, solve_w1_lp
from w1flow.lp.netsimplex import basis_from_plan, warm_solve

seeds = st.integers(0, 2**32 - 1)


# -- independent references ---------------------------------------------------------------------
def pot_w1(x, a, y, b):
    """Exact W1 from POT on ``cdist`` costs, scaled to O(1) and scaled back."""
    M = cdist(x, y)
    s = float(M.max())
    s = s if s > 0 else 1.0
    return float(ot.emd2(a, b, M / s, numItermax=10**7)) * s


def _atol(x, y):
    """Round-off allowance for a W1 value: 1e-12 of the problem's coordinates."""
    return 1e-12 * max(1.0, float(np.max(np.abs(x))), float(np.max(np.abs(y))))


def assert_optimal_plan(x, a, y, b, rows, cols, mass, u, v):
    """The sparse plan is a transport plan between ``a`` and ``b`` whose cost is W1 (POT), and
    ``(u, v)`` certify it over all n·m pairs (``certify_plan`` on ``cdist``)."""
    n, m = x.shape[0], y.shape[0]
    rows, cols, mass = np.asarray(rows), np.asarray(cols), np.asarray(mass)
    assert rows.shape == cols.shape == mass.shape
    assert rows.size == 0 or (rows.min() >= 0 and rows.max() < n and cols.min() >= 0 and cols.max() < m)
    assert np.all(mass >= 0)
    np.testing.assert_allclose(np.bincount(rows, mass, minlength=n), a, atol=1e-12, rtol=0)
    np.testing.assert_allclose(np.bincount(cols, mass, minlength=m), b, atol=1e-12, rtol=0)
    cost = float(np.dot(mass, np.linalg.norm(x[rows] - y[cols], axis=1)))
    ref, atol = pot_w1(x, a, y, b), _atol(x, y)
    assert abs(cost - ref) <= 1e-9 * ref + atol, f"plan cost {cost!r}, W1 (POT) {ref!r}"
    cert = certify_plan(x, a, y, b, rows, cols, mass, u, v, default_certificate_tol(x, y))
    assert cert.ok, cert.message
    return cost


def assert_optimal_potential(pot, x, a, y, b):
    """An oracle's potential: optimal status, an optimal certified plan, and ``w1`` = W1 (POT)."""
    assert pot.success and pot.status == "optimal", pot.message
    assert_optimal_plan(x, a, y, b, pot.plan_rows, pot.plan_cols, pot.plan_mass, pot.u, pot.v)
    ref, atol = pot_w1(x, a, y, b), _atol(x, y)
    assert abs(pot.w1 - ref) <= 1e-9 * ref + atol, f"potential w1 {pot.w1!r}, W1 (POT) {ref!r}"


def _warm(basis, x, **kw):
    r = warm_solve(basis, x, **kw)
    return r.ok, (r.rows, r.cols, r.mass, r.u, r.v), r.stats, r.message


def _cold_basis(x, a, y, b):
    lp = solve_w1_lp(x, a, y, b)
    assert lp.success
    return basis_from_plan(x, a, y, b, lp.rows, lp.cols, lp.u, lp.v)


def assert_strongly_feasible(basis):
    """Every column's tree arc to its parent carries positive flow (zero-flow tree arcs hang a row
    from a column): from every node a positive amount can be sent to the root along the tree, the
    invariant under which the leaving-arc rule cannot cycle on degenerate pivots (Cunningham's
    strongly feasible trees). Only meaningful when every data point has positive mass. Exact in
    the cases below; POT's plans of degenerate problems can carry 1e-16 entries, whose arcs come out
    as zero-flow arcs below a column, so it is not asserted on random weights."""
    n, m = basis.n, basis.m
    cols = np.arange(n, n + m)
    cols = cols[basis.parent[cols] >= 0]  # all columns but the root (whose parent is -1)
    assert np.all(basis.parent[cols] < n)  # a column's parent is a row (the tree is bipartite)
    flow = basis.flow[basis.pred_arc[cols]]
    assert np.all(flow != 0.0), f"zero-flow tree arcs below columns {cols[flow == 0.0] - n}"


def _toward(x, targets, step):
    """``x + step · unit(targets − x)`` (points on their target stay)."""
    diff = targets - x
    length = np.linalg.norm(diff, axis=1, keepdims=True)
    unit = np.divide(diff, length, out=np.zeros_like(diff), where=length > 0)
    return x + step * unit


_weights = weights_of_kind


# -- 1. the warm solve is optimal over all pairs, solve after solve -----------------------------
@settings(deadline=None, max_examples=examples(40))
@given(seed=seeds, n=st.integers(2, 30), m=st.integers(2, 30), d=st.sampled_from([2, 3]),
       wa=st.sampled_from(["uniform", "random", "zeros"]), wb=st.sampled_from(["uniform", "random", "zeros"]),
       moves=st.lists(st.tuples(st.sampled_from(["data", "plan", "gauss"]), st.floats(0.01, 1.5)),
                      min_size=3, max_size=3))
def test_warm_solve_is_certified_optimal_after_successive_moves(seed, n, m, d, wa, wb, moves):
    """After each of 3 moves of the particles, ``warm_solve`` from the (reused) basis returns ok and
    a plan with the marginals a, b whose cost is W1 (POT) and whose duals certify it over all pairs."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, d)) + 1.0, rng.standard_normal((m, d))
    a, b = _weights(rng, n, wa), _weights(rng, m, wb)
    basis = _cold_basis(x, a, y, b)
    target = y[rng.integers(0, m, n)]
    for kind, dt in moves:
        if kind == "data":  # Euler-like: unit speed toward a random data point (overshoots for large dt)
            x = _toward(x, y[rng.integers(0, m, n)], dt)
        elif kind == "plan":  # Euler-like: toward each particle's target in the last plan
            x = _toward(x, target, dt)
        else:
            x = x + dt * rng.standard_normal(x.shape)
        ok, plan, stats, message = _warm(basis, x)
        assert ok, message
        assert_optimal_plan(x, a, y, b, *plan)
        rows, cols, mass = plan[:3]
        heaviest = np.lexsort((-mass, rows))
        target = y[rng.integers(0, m, n)]
        target[rows[heaviest[::-1]]] = y[cols[heaviest[::-1]]]  # the heaviest entry of each row wins


@pytest.mark.parametrize("d", [2, 3])
def test_zero_weight_first_particle(d):
    """Zero-weight particles are passive tracers with no plan mass, wherever they are in the list:
    with particle 0 weightless the incremental oracle still returns W1 (POT), also after a move.
    (Regression: the basis used to be rooted at node 0, and its completion raised StopIteration.)"""
    rng = np.random.default_rng(d)
    x, y = rng.standard_normal((6, d)) + 1.0, rng.standard_normal((5, d))
    a, b = np.array([0.0, 0.3, 0.0, 0.2, 0.25, 0.25]), np.full(5, 0.2)
    pot = ExactPotential(incremental=True)
    assert_optimal_potential(pot(x, a, y, b), x, a, y, b)
    x = x + 0.3 * rng.standard_normal(x.shape)
    assert_optimal_potential(pot(x, a, y, b), x, a, y, b)


# -- 2. near ties: grids, coincident points, round-off jitter, zero costs -----------------------
def _grid(rng, k, d, side):
    return rng.integers(0, side, (k, d)).astype(float)


def _tie_case(name, rng):
    """Particles x0 and their weights, data y and its weights, with many tied costs."""
    d = 2
    if name == "grid":  # small integer grid: many exactly tied costs; uniform n = m is degenerate
        x, y = _grid(rng, 20, d, 4), _grid(rng, 20, d, 4)
        a, b = np.full(20, 1 / 20), np.full(20, 1 / 20)
    elif name == "grid_unequal":  # n != m, masses 1/12 and 1/8 that are not exact in binary
        x, y = _grid(rng, 12, d, 3), _grid(rng, 8, d, 3)
        a, b = np.full(12, 1 / 12), np.full(8, 1 / 8)
    elif name == "grid_3d_weighted":
        x, y = _grid(rng, 15, 3, 3), _grid(rng, 11, 3, 3)
        a, b = rand_weights(rng, 15), rand_weights(rng, 11)
    elif name == "duplicates":  # coincident particles and coincident data points
        x = np.repeat(rng.standard_normal((6, d)) + 1.0, 3, axis=0)
        y = np.repeat(rng.standard_normal((5, d)), [4, 3, 3, 4, 2], axis=0)
        a, b = np.full(18, 1 / 18), np.full(16, 1 / 16)
    elif name == "jitter":  # grid plus 1e-13 noise: ties broken only at round-off level
        x = _grid(rng, 20, d, 4) + 1e-13 * rng.standard_normal((20, d))
        y = _grid(rng, 24, d, 4) + 1e-13 * rng.standard_normal((24, d))
        a, b = np.full(20, 1 / 20), rand_weights(rng, 24)
    elif name == "on_data":  # every particle on a data point: zero costs, W1 = 0
        y = rng.standard_normal((16, d))
        x = y[rng.permutation(16)]
        a, b = np.full(16, 1 / 16), np.full(16, 1 / 16)
    elif name == "on_data_unequal":  # particles on some data points, n < m: zero and positive costs
        y = _grid(rng, 25, d, 5)
        x = y[rng.choice(25, 10, replace=False)].copy()
        a, b = rand_weights(rng, 10), np.full(25, 1 / 25)
    else:  # pragma: no cover
        raise ValueError(name)
    return x, a, y, b


def _tie_move(name, rng, x, y, step):
    """A move that keeps the ties: grid points jump to grid points or step 0.5 along an axis;
    duplicates move as groups; particles on data jump to data points."""
    x = x.copy()
    n = x.shape[0]
    if name == "duplicates":  # whole groups of 3 move toward one data point (they stay coincident)
        groups = x.reshape(-1, 3, x.shape[1])
        tgt = y[rng.integers(0, y.shape[0], groups.shape[0])]
        moved = _toward(groups[:, 0], tgt, 0.3 * (step + 1))
        return np.repeat(moved, 3, axis=0)
    if name.startswith("on_data"):  # half the particles jump onto (other) data points
        pick = rng.random(n) < 0.5
        x[pick] = y[rng.integers(0, y.shape[0], int(pick.sum()))]
        return x
    # grids: some particles jump to grid points, the others step 0.5 along one axis (exact)
    jump = rng.random(n) < 0.3
    x[jump] = _grid(rng, int(jump.sum()), x.shape[1], 4)
    axis = rng.integers(0, x.shape[1], n)
    sign = np.where(rng.random(n) < 0.5, -0.5, 0.5)
    x[~jump, axis[~jump]] += sign[~jump]
    return x


@pytest.mark.parametrize("name", ["grid", "grid_unequal", "grid_3d_weighted", "duplicates", "jitter", "on_data",
                                  "on_data_unequal"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_warm_solve_near_ties(name, seed):
    """With many exactly tied costs (integer grids), coincident points, ties broken at 1e-13, and
    zero costs (particles on data), every warm solve is still certified and costs exactly W1, and
    the basis stays strongly feasible through the (many degenerate) pivots."""
    rng = np.random.default_rng(seed)
    x, a, y, b = _tie_case(name, rng)
    basis = _cold_basis(x, a, y, b)
    assert_strongly_feasible(basis)
    ok, plan, _, message = _warm(basis, x)  # re-solving at the same positions: already optimal
    assert ok, message
    assert_optimal_plan(x, a, y, b, *plan)
    for step in range(3):
        x = _tie_move(name, rng, x, y, step)
        ok, plan, _, message = _warm(basis, x)
        assert ok, message
        assert_optimal_plan(x, a, y, b, *plan)
        assert_strongly_feasible(basis)


def test_warm_solve_particles_arrive_exactly_on_the_data():
    """Particles that land exactly on their data points (n = m, uniform): W1 = 0 and the warm
    plan transports nothing over a positive distance."""
    rng = np.random.default_rng(7)
    n = 24
    y = rng.standard_normal((n, 2))
    perm = rng.permutation(n)
    x0 = y[perm] + rng.standard_normal((n, 2))
    a = b = np.full(n, 1 / n)
    basis = _cold_basis(x0, a, y, b)
    for frac in (0.5, 0.9, 1.0):
        x = x0 + frac * (y[perm] - x0)
        if frac == 1.0:
            x = y[perm].copy()  # exactly on the data, no round-off
        ok, plan, _, message = _warm(basis, x)
        assert ok, message
        cost = assert_optimal_plan(x, a, y, b, *plan)
    assert cost == 0.0
    rows, cols = plan[0], plan[1]
    np.testing.assert_array_equal(x[rows], y[cols])


def test_warm_solve_large_problem():
    """n = m = 1000 (10^6 pairs: the pass over all pairs runs on all cores): after moves that send
    particles toward the first and the last data point (edges of the pass's column loop) and a
    generic Euler-like move, the warm solve is certified and costs exactly W1 (POT)."""
    rng = np.random.default_rng(21)
    n = m = 1000
    x, y = rng.standard_normal((n, 2)) + 1.0, rng.standard_normal((m, 2))
    a, b = np.full(n, 1 / n), rand_weights(rng, m)
    basis = _cold_basis(x, a, y, b)
    for j in (m - 1, 0, None):
        if j is None:
            x = _toward(x, y[rng.integers(0, m, n)], 0.05)
        else:  # the 50 particles nearest to y_j jump next to it
            near = np.argsort(np.linalg.norm(x - y[j], axis=1))[:50]
            x = x.copy()
            x[near] = y[j] + 1e-3 * rng.standard_normal((50, 2))
        ok, plan, _, message = _warm(basis, x)
        assert ok, message
        assert_optimal_plan(x, a, y, b, *plan)


# -- 3. a whole uncapped Euler flow, checked at every field evaluation --------------------------
class _Recording(ExactPotential):
    """The incremental oracle, recording every (positions, potential) it returns."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.records = []

    def __call__(self, x, a, y, b, t=0.0):
        pot = super().__call__(x, a, y, b, t)
        self.records.append((np.array(x, dtype=float, copy=True), pot))
        return pot


@pytest.mark.parametrize("n, m, weighted", [(40, 60, False), (40, 40, False), (30, 45, True)])
def test_incremental_euler_flow_is_exact_at_every_step(n, m, weighted):
    """Along an uncapped Euler flow from a blob to three clusters (dt = 0.05: particles overshoot
    and chatter, so the oracle warm-solves), every potential the oracle returns is a certified
    optimal plan whose w1 is W1 (POT) at the same positions; the W1 history equals POT at the saved
    positions; the warm solves certify on their own (no fallback to the dense LP)."""
    rng = np.random.default_rng(n + m + weighted)
    x0 = 0.3 * rng.standard_normal((n, 2))
    centers = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    y = centers[rng.integers(0, 3, m)] + 0.2 * rng.standard_normal((m, 2))
    a = rand_weights(rng, n) if weighted else np.full(n, 1 / n)
    b = rand_weights(rng, m) if weighted else np.full(m, 1 / m)
    pot = _Recording(incremental=True)
    res = simulate(W1Flow(y, target_weights=b, potential=pot), x0, 3.0, 0.05, solver=Euler(reuse_plan=False),
                   weights=a)
    assert res.success, res.message
    assert pot.counters["warm_solves"] > 0
    assert pot.counters["fallbacks"] == 0
    assert pot.counters["lp_solves"] == 1  # only the first solve is dense
    assert len(pot.records) == pot.counters["evaluations"] > 50
    for x, p in pot.records:
        assert_optimal_potential(p, x, a, y, b)
        cert = certify_plan(x, a, y, b, p.plan_rows, p.plan_cols, p.plan_mass, p.u, p.v,
                            default_certificate_tol(x, y))
        assert cert.ok, cert.message
    assert res.w1[-1] < 0.2 * res.w1[0]  # the flow did move the particles to the data
    for xs, w in zip(res.xs, res.w1):
        ref, atol = pot_w1(xs, a, y, b), _atol(xs, y)
        assert abs(w - ref) <= 1e-9 * ref + atol, f"history w1 {w!r}, W1 (POT) {ref!r}"


# -- 4. pivot caps never give a false "optimal"; the oracle falls back --------------------------
def _moved_problem(seed=3, n=25, m=20):
    rng = np.random.default_rng(seed)
    x0, y = rng.standard_normal((n, 2)) + 1.0, rng.standard_normal((m, 2))
    a, b = np.full(n, 1 / n), rand_weights(rng, m)
    x1 = x0 + 0.5 * rng.standard_normal((n, 2))
    return x0, x1, a, y, b


def test_pivot_cap_zero_is_not_optimal():
    """A basis that is not optimal at the moved cloud (its plan costs more than W1 there) with
    ``max_pivots=0`` comes back ``ok=False``; a fresh basis without a cap then solves it."""
    x0, x1, a, y, b = _moved_problem()
    lp = solve_w1_lp(x0, a, y, b)
    old_cost = float(np.dot(lp.mass, np.linalg.norm(x1[lp.rows] - y[lp.cols], axis=1)))
    assert old_cost > pot_w1(x1, a, y, b) + 1e-6  # the old plan is not optimal at x1: pivots are needed
    basis = basis_from_plan(x0, a, y, b, lp.rows, lp.cols, lp.u, lp.v)
    ok, _, stats, message = _warm(basis, x1, max_pivots=0)
    assert not ok and stats.pivots == 0, message
    ok, plan, _, message = _warm(_cold_basis(x0, a, y, b), x1)
    assert ok, message
    assert_optimal_plan(x1, a, y, b, *plan)


@pytest.mark.parametrize("seed", range(6))
def test_any_pivot_cap_ok_implies_optimal(seed):
    """For every pivot cap, ``ok=True`` implies a certified optimal plan (a capped solve never claims
    optimality it does not have); a cap of at least the uncapped pivot count gives ok."""
    x0, x1, a, y, b = _moved_problem(seed=seed, n=18, m=15)
    ok, _, full, _ = _warm(_cold_basis(x0, a, y, b), x1)
    assert ok and full.pivots > 0
    for cap in range(0, full.pivots + 1):
        ok, plan, stats, message = _warm(_cold_basis(x0, a, y, b), x1, max_pivots=cap)
        assert stats.pivots <= cap
        if ok:
            assert_optimal_plan(x1, a, y, b, *plan)
    assert ok  # cap == full.pivots: the same pivots as the uncapped solve


def test_basis_is_reusable_after_a_capped_solve():
    """The basis is updated in place and documented as reusable: after a capped, non-optimal solve it
    is still a feasible basis, so an uncapped solve from it is optimal. (Regression: the capped exit
    recomputed the flows in the tree order from before the last pivots, corrupting the basis.)"""
    capped, failures = 0, []
    for seed in range(10):
        x0, x1, a, y, b = _moved_problem(seed=seed)
        basis = _cold_basis(x0, a, y, b)
        ok, _, _, _ = _warm(basis, x1, max_pivots=3)
        if ok:
            continue
        capped += 1
        ok, plan, _, message = _warm(basis, x1)
        if not ok:
            failures.append((seed, message))
            continue
        assert_optimal_plan(x1, a, y, b, *plan)
    assert capped >= 5 and not failures, failures


def _capped_warm_solve(cap, calls):
    real = warm_solve

    def capped(basis, x, max_pivots=None, **kw):
        out = real(basis, x, max_pivots=cap, **kw)
        calls.append(out.ok)
        return out

    return capped


def test_oracle_falls_back_to_the_dense_lp_when_not_certified(monkeypatch):
    """When the warm solve is not certified (pivot cap 0), the oracle returns the dense LP's optimal
    plan, never the uncertified one, and counts the fallback."""
    x0, x1, a, y, b = _moved_problem()
    calls = []
    monkeypatch.setattr(solver_module, "warm_solve", _capped_warm_solve(0, calls))
    pot = ExactPotential(incremental=True)
    assert_optimal_potential(pot(x0, a, y, b), x0, a, y, b)
    assert pot.counters["lp_solves"] == 1 and pot.counters["warm_solves"] == 0
    assert_optimal_potential(pot(x1, a, y, b), x1, a, y, b)
    assert calls == [False]
    assert pot.counters["fallbacks"] == 1 and pot.counters["warm_solves"] == 1 and pot.counters["lp_solves"] == 2
    # after a fallback the oracle keeps working (with a basis from the dense plan)
    x2 = x1 + 0.3 * np.random.default_rng(0).standard_normal(x1.shape)
    assert_optimal_potential(pot(x2, a, y, b), x2, a, y, b)
    assert pot.counters["warm_solves"] == 2


@pytest.mark.parametrize("cap", [0, 2])
def test_capped_incremental_flow_stays_exact(monkeypatch, cap):
    """A whole Euler flow whose warm solves get a tiny pivot cap: every potential is still optimal
    (some warm solves fall back to the dense LP, the others are certified)."""
    rng = np.random.default_rng(11)
    n, m = 20, 26
    x0, y = 0.3 * rng.standard_normal((n, 2)), rng.standard_normal((m, 2)) + np.array([1.5, 0.0])
    a, b = rand_weights(rng, n), np.full(m, 1 / m)
    calls = []
    monkeypatch.setattr(solver_module, "warm_solve", _capped_warm_solve(cap, calls))
    pot = _Recording(incremental=True)
    res = simulate(W1Flow(y, target_weights=b, potential=pot), x0, 1.5, 0.1, solver=Euler(reuse_plan=False),
                   weights=a)
    assert res.success, res.message
    assert pot.counters["fallbacks"] >= 1 and pot.counters["fallbacks"] == calls.count(False)
    assert pot.counters["lp_solves"] == 1 + pot.counters["fallbacks"]
    for x, p in pot.records:
        assert_optimal_potential(p, x, a, y, b)


# -- 5. a changed problem is solved densely ------------------------------------------------------
def test_changed_problem_uses_the_dense_lp():
    """The kept basis belongs to (a, y, b): a call with other masses, other data, or another n or m
    (also: the caller's mass array changed in place) solves the dense LP and is still exact; the
    same problem with equal arrays (new objects) warm-solves."""
    rng = np.random.default_rng(5)
    n, m = 20, 16
    x, y = rng.standard_normal((n, 2)) + 1.0, rng.standard_normal((m, 2))
    a, b = rand_weights(rng, n), rand_weights(rng, m)
    pot = ExactPotential(incremental=True)

    def call(x, a, y, b, dense):
        before = dict(pot.counters)
        assert_optimal_potential(pot(x, a, y, b), x, a, y, b)
        grew = pot.counters["lp_solves"] - before["lp_solves"]
        warm = pot.counters["warm_solves"] - before["warm_solves"]
        assert (grew, warm) == ((1, 0) if dense else (0, 1))

    def move(x):
        return x + 0.2 * rng.standard_normal(x.shape)

    call(x, a, y, b, dense=True)
    x = move(x)
    call(x, a.copy(), y.copy(), b.copy(), dense=False)  # equal arrays: the same problem
    a2 = rand_weights(rng, n)
    call(x, a2, y, b, dense=True)  # other particle masses
    x = move(x)
    call(x, a2, y, b, dense=False)
    b2 = np.full(m, 1 / m)
    call(x, a2, y, b2, dense=True)  # other data masses
    y2 = y + 0.1 * rng.standard_normal(y.shape)
    call(x, a2, y2, b2, dense=True)  # other data positions
    x3 = np.vstack([x, rng.standard_normal((5, 2))])
    a3 = np.full(n + 5, 1 / (n + 5))
    call(x3, a3, y2, b2, dense=True)  # more particles
    y4, b4 = y2[:-3], np.full(m - 3, 1 / (m - 3))
    call(x3, a3, y4, b4, dense=True)  # fewer data points
    x3 = move(x3)
    call(x3, a3, y4, b4, dense=False)
    a3[[0, 1]] = [0.5 / (n + 5), 1.5 / (n + 5)]  # the caller's array changed in place
    call(x3, a3, y4, b4, dense=True)
    y4[0] += 0.25  # the data changed in place
    call(x3, a3, y4, b4, dense=True)
    assert pot.counters["fallbacks"] == 0


def test_basis_keeps_its_own_copy_of_the_problem():
    """``basis_from_plan`` copies a, b, y: changing the caller's arrays afterwards changes neither the
    basis's problem nor its warm solves (still W1 of the original problem)."""
    x0, x1, a, y, b = _moved_problem(seed=8)
    a0, y0, b0 = a.copy(), y.copy(), b.copy()
    basis = _cold_basis(x0, a, y, b)
    a[:] = a[::-1]
    y += 1.0
    b[:] = b[::-1]
    assert basis.matches(a0, y0, b0) and not basis.matches(a, y, b)
    ok, plan, _, message = _warm(basis, x1)
    assert ok, message
    assert_optimal_plan(x1, a0, y0, b0, *plan)


# -- 6. options ----------------------------------------------------------------------------------
def test_incremental_and_warm_start_are_exclusive():
    """The two ways to start a re-solve cannot be combined; the error names both; incremental is
    part of the oracle's settings and repr (so checkpoints fingerprint it)."""
    with pytest.raises(ValueError, match=r"warm_start.*incremental|incremental.*warm_start"):
        ExactPotential(warm_start=True, incremental=True)
    with pytest.raises(TypeError, match=r"\bincremental\b"):
        ExactPotential(incremental="yes")
    pot = ExactPotential(incremental=True)
    assert pot.settings()["incremental"] is True
    # (G3) the default passes neither 0.1 keyword: method="auto" decides
    assert ExactPotential().settings()["incremental"] is None
    assert ExactPotential().settings()["method"] == "auto"
    assert "incremental=True" in repr(pot)
    assert {"warm_solves", "pivots", "fallbacks"} <= set(pot.counters)


def test_reset_forgets_the_basis():
    """After ``reset()`` the next call solves the dense LP again (no stale basis) and is exact."""
    x0, x1, a, y, b = _moved_problem(seed=9)
    pot = ExactPotential(incremental=True)
    pot(x0, a, y, b)
    pot(x1, a, y, b)
    assert pot.counters["warm_solves"] == 1
    pot.reset()
    assert_optimal_potential(pot(x1, a, y, b), x1, a, y, b)
    assert pot.counters["lp_solves"] == 1 and pot.counters["warm_solves"] == 0


# -- 7. one dimension ------------------------------------------------------------------------------
def test_incremental_in_one_dimension_is_exact():
    """In 1-D the incremental oracle uses the dense (monotone-plan) path at every call and W1 is
    POT's, also for weighted n != m clouds and after moves."""
    rng = np.random.default_rng(4)
    n, m = 17, 23
    x, y = rng.standard_normal((n, 1)) + 0.5, rng.standard_normal((m, 1))
    a, b = rand_weights(rng, n), rand_weights(rng, m)
    pot = ExactPotential(incremental=True)
    for k in range(4):
        p = pot(x, a, y, b)
        assert_optimal_potential(p, x, a, y, b)
        assert p.w1 == pytest.approx(ot.wasserstein_1d(x[:, 0], y[:, 0], a, b), rel=1e-12, abs=1e-15)
        x = x + 0.3 * rng.standard_normal(x.shape)
    assert pot.counters["warm_solves"] == 0 and pot.counters["lp_solves"] == 4


# -- the sparse (cold, coarse-to-fine) solve ---------------------------------------------------------
def _kind_weights(rng, kind, k, zero_fraction):
    """Masses summing to 1: "uniform", "random" in [0.1, 1], or "zeros" (random, with
    k // zero_fraction of them zero when k > 2)."""
    if kind == "uniform":
        return np.full(k, 1.0 / k)
    w = rng.uniform(0.1, 1.0, k)
    if kind == "zeros" and k > 2:
        w[rng.choice(k, k // zero_fraction, replace=False)] = 0.0
    return w / w.sum()


@settings(deadline=None, max_examples=examples(25))
@given(seed=seeds, n=st.integers(2, 60), m=st.integers(2, 60), d=st.sampled_from([2, 3]),
       wa=st.sampled_from(["uniform", "random", "zeros"]), wb=st.sampled_from(["uniform", "random", "zeros"]),
       leaf=st.sampled_from([2, 3, 8]))
def test_sparse_solve_is_certified_optimal(seed, n, m, d, wa, wb, leaf):
    """The coarse-to-fine start is a feasible basis for any weights (also zero weights and
    n != m), and the solve from it is optimal over all pairs (POT's W1, the cdist certificate)."""
    from w1flow.lp.sparse import coarse_basis

    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)) + 1.5, rng.normal(size=(m, d))

    a, b = _kind_weights(rng, wa, n, zero_fraction=3), _kind_weights(rng, wb, m, zero_fraction=3)
    basis, info = coarse_basis(x, a, y, b, leaf=leaf)
    assert info["leaf"] == leaf
    r = warm_solve(basis, x, max_pivots=10**7)
    assert r.ok, r.message
    rows, cols, mass, u, v = r.rows, r.cols, r.mass, r.u, r.v
    assert_optimal_plan(x, a, y, b, rows, cols, mass, u, v)


@settings(deadline=None, max_examples=examples(15))
@given(seed=seeds, n=st.integers(20, 90), m=st.integers(20, 90), d=st.sampled_from([2, 3]),
       wa=st.sampled_from(["uniform", "random", "zeros"]), wb=st.sampled_from(["uniform", "random", "zeros"]))
def test_sparse_solve_through_several_coarse_levels(seed, n, m, d, wa, wb):
    """With at most 2 leaves a side solved densely, the coarse problem is itself solved sparsely,
    level after level (k-d leaves of 4: n = 90 -> 32 -> 8 -> 2 groups); the fine solve is still
    optimal over all pairs, for any weights (zero weights leave leaves of zero mass)."""
    import w1flow.lp.sparse as ns

    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)) + 1.5, rng.normal(size=(m, d))

    a, b = _kind_weights(rng, wa, n, zero_fraction=2), _kind_weights(rng, wb, m, zero_fraction=2)
    import w1flow.lp.solver as lp_solver

    saved = lp_solver.SPARSE_MIN_PAIRS
    try:
        lp_solver.SPARSE_MIN_PAIRS = 2 * 2 + 1  # 2 x 2 leaves and fewer are solved densely
        r = ns.solve_sparse(x, a, y, b)
        ok, rows, cols, mass, u, v, message, info = r.ok, r.rows, r.cols, r.mass, r.u, r.v, r.message, r.info
    finally:
        lp_solver.SPARSE_MIN_PAIRS = saved
    assert info["levels"] >= 2
    assert ok, message
    assert_optimal_plan(x, a, y, b, rows, cols, mass, u, v)


@pytest.mark.parametrize("name", ["grid", "duplicates"])
def test_sparse_solve_on_tied_clouds(name):
    """Exactly tied costs (integer grids, coincident points) in the coarse-to-fine solve."""
    from w1flow.lp.sparse import solve_sparse

    g = np.arange(5.0)
    grid = np.array([[i, j] for i in g for j in g])
    if name == "grid":
        x, y = grid + [7.0, 0.0], grid.copy()
    else:
        x = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [3.0, 0.0]]), 9, axis=0)
        y = np.repeat(np.array([[2.0, 2.0], [0.0, 3.0], [-1.0, 0.0]]), 9, axis=0)
    a, b = np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y))
    r = solve_sparse(x, a, y, b)
    assert r.ok
    rows, cols, mass, u, v = r.rows, r.cols, r.mass, r.u, r.v
    assert_optimal_plan(x, a, y, b, rows, cols, mass, u, v)


def test_sparse_basis_comes_back_in_the_callers_order():
    """solve_sparse works in k-d order inside and renames everything back: the basis belongs to the
    caller's (a, y, b), its tree carries exactly the returned plan, its data duals are the returned
    v, and a warm re-solve from it at the same positions is certified with no pivot at all."""
    from w1flow.lp.sparse import solve_sparse

    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(90, 2)) + [2.5, 0.0], rng.normal(size=(70, 2)) * 0.5
    a, b = rand_weights(rng, 90), rand_weights(rng, 70)
    r = solve_sparse(x, a, y, b)
    ok, rows, cols, mass, u, v, basis = r.ok, r.rows, r.cols, r.mass, r.u, r.v, r.basis
    assert ok and basis.matches(a, y, b)
    assert_optimal_plan(x, a, y, b, rows, cols, mass, u, v)
    tree = np.flatnonzero(basis.in_tree & (basis.flow > 0))
    got = sorted(zip(basis.arc_i[tree].tolist(), basis.arc_j[tree].tolist(), basis.flow[tree].tolist()))
    assert got == sorted(zip(rows.tolist(), cols.tolist(), mass.tolist()))
    assert np.array_equal(basis.v, v)
    r2 = warm_solve(basis, x)
    ok2, rows2, cols2, mass2, u2, v2, stats = r2.ok, r2.rows, r2.cols, r2.mass, r2.u, r2.v, r2.stats
    assert ok2 and stats.pivots == 0 and stats.passes == 1
    assert_optimal_plan(x, a, y, b, rows2, cols2, mass2, u2, v2)


@pytest.mark.parametrize("keep", [1, 3])
def test_a_pruned_arc_list_still_gives_the_optimum(keep):
    """A warm solve whose arc list outgrows max_arcs_per_node prunes it (down to keep_per_node a
    node) between rounds, counts the prunes, and still ends certified at POT's value; each pass
    that found violated rows reports its largest violation, above the tolerance."""
    rng = np.random.default_rng(12)
    x, y = rng.normal(size=(120, 2)) + [3.0, 0.0], rng.normal(size=(100, 2))
    a, b = rand_weights(rng, 120), rand_weights(rng, 100)
    v0 = np.zeros(100)  # a poor start: the tree of the north-west plan, duals from scratch
    rows, cols, mass = north_west(a, b)
    basis = basis_from_plan(x, a, y, b, rows, cols, None, v0)
    r = warm_solve(basis, x, add_per_row=6, max_arcs_per_node=3, keep_per_node=keep)
    assert r.ok and r.stats.prunes >= 1
    assert abs(float(np.dot(r.mass, np.linalg.norm(x[r.rows] - y[r.cols], axis=1))) - pot_w1(x, a, y, b)) \
        <= 1e-9 * pot_w1(x, a, y, b)
    assert_optimal_plan(x, a, y, b, r.rows, r.cols, r.mass, r.u, r.v)
    worst = r.stats.worst_violations
    assert len(worst) == len(r.stats.violated_rows) == r.stats.passes - 1
    scale = float(np.linalg.norm(np.maximum(x.max(0), y.max(0)) - np.minimum(x.min(0), y.min(0))))
    assert all(w > 1e-11 * scale for w in worst)
    # in units of length: the same solve with every coordinate times 1000 reports 1000 times the violations
    big = warm_solve(basis_from_plan(1e3 * x, a, 1e3 * y, b, rows, cols, None, v0), 1e3 * x, add_per_row=6,
                     max_arcs_per_node=3, keep_per_node=keep)
    assert big.ok and np.allclose(big.stats.worst_violations, 1e3 * np.array(worst), rtol=1e-6)
    # a prune that may keep every arc drops none, and is not counted
    roomy = warm_solve(basis_from_plan(x, a, y, b, rows, cols, None, v0), x, add_per_row=6, max_arcs_per_node=3,
                       keep_per_node=10**6)
    assert roomy.ok and roomy.stats.prunes == 0


def test_sparse_oracle_metrics_and_auto():
    """ExactPotential(sparse=True) and metrics.w1(sparse=True) agree with POT; "auto" switches to
    the sparse LP exactly when the dense one would exceed max_memory; a pivot cap gives status
    "not_certified" (never "optimal"), and metrics.w1 raises LPError then."""
    from w1flow import LPError, metrics

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(300, 2)) + [2.0, 0.0], rng.normal(size=(240, 2))
    a, b = rand_weights(rng, 300), rand_weights(rng, 240)
    ref = pot_w1(x, a, y, b)
    pot = ExactPotential(sparse=True)
    p = pot(x, a, y, b)
    assert p.success and pot.counters["sparse_solves"] == 1 and pot.counters["lp_solves"] == 0
    assert abs(p.w1 - ref) <= 1e-9 * ref
    assert p.certify().ok
    st = pot.last_sparse_stats
    assert set(st) >= {"rounds", "arcs", "passes", "pivots", "coarse_shape", "violated_rows", "pairs_checked"}
    # every field of the solve's stats, as plain Python values (a checkpoint stores them as JSON)
    from dataclasses import fields

    from w1flow.lp.netsimplex import WarmSolveStats

    assert set(st) >= {f.name for f in fields(WarmSolveStats)}
    json.dumps(st)
    plain = [v for k, v in st.items() if k != "coarse_shape"]
    assert all(type(v) in (int, float, list) for v in plain) and all(
        type(w) in (int, float) for v in plain if isinstance(v, list) for w in v)
    assert st["pivots"] == pot.counters["pivots"] and st["max_violation"] <= p.certify().tol
    assert ExactPotential().last_sparse_stats is None
    pot.reset()
    assert pot.last_sparse_stats is None
    # one count of violated rows per pass but the last (the certificate, with none), each positive
    assert len(st["violated_rows"]) == st["passes"] - 1 and all(k > 0 for k in st["violated_rows"])
    assert abs(metrics.w1(x, y, a, b, sparse=True) - ref) <= 1e-9 * ref
    small = ExactPotential(sparse="auto", max_memory=1e5)  # 300 x 240 dense needs 2.9 MB
    assert small(x, a, y, b).success and small.counters["sparse_solves"] == 1
    roomy = ExactPotential(sparse="auto")
    assert roomy(x, a, y, b).success and roomy.counters["lp_solves"] == 1 and roomy.counters["sparse_solves"] == 0
    capped = ExactPotential(sparse=True, num_itermax=1)
    bad = capped(x, a, y, b)
    assert bad.status == "not_certified" and not bad.success
    import w1flow.lp.solver as ns

    real = ns.solve_sparse
    ns_cap = lambda *args, **kw: real(*args, **dict(kw, max_pivots=1))  # noqa: E731
    try:
        ns.solve_sparse = ns_cap
        with pytest.raises(LPError, match="not certified"):
            metrics.w1(x, y, a, b, sparse=True)
    finally:
        ns.solve_sparse = real
    with pytest.raises(ValueError, match="sparse"):
        ExactPotential(sparse=True, warm_start=True)
    with pytest.raises(TypeError, match="sparse"):
        ExactPotential(sparse="yes")


def test_sparse_incremental_flow_never_builds_a_dense_lp():
    """sparse=True with incremental=True: a whole uncapped Euler flow with no dense LP at all, and
    W1 equal to POT's at the positions reached, at every step."""
    rng = np.random.default_rng(11)
    x0, y = rng.normal(size=(60, 2)) + [3.0, 0.0], rng.normal(size=(50, 2)) * 0.4
    b = rand_weights(rng, 50)
    pot = ExactPotential(sparse=True, incremental=True)
    res = simulate(W1Flow(y, target_weights=b, potential=pot), x0, 4.0, 0.25, solver=Euler(reuse_plan=False))
    assert res.success
    assert pot.counters["lp_solves"] == 0 and pot.counters["sparse_solves"] == 1 and pot.counters["warm_solves"] > 5
    # every exact LP counts in the result, the sparse cold one and each warm re-solve alike
    assert res.n_lp_solves == 1 + pot.counters["warm_solves"]
    a = np.full(60, 1 / 60)
    ref = pot_w1(res.x_final, a, y, b)
    assert abs(res.w1[-1] - ref) <= 1e-9 * ref + _atol(res.x_final, y)


def test_sparse_capped_flow_costs_one_certified_lp():
    """CappedEuler with ExactPotential(sparse=True): one sparse LP for the whole run (reported as
    one LP), and the capped W1 history equal to the closed form sum_i a_i max(|x_i - T(x_i)| - t, 0)
    of POT's own optimal cost at t = 0 (a permutation plan on generic uniform clouds)."""
    rng = np.random.default_rng(4)
    n = 120
    x0, y = rng.normal(size=(n, 3)) * 0.5 + [3.0, 0.0, 0.0], rng.normal(size=(n, 3)) * 0.3
    pot = ExactPotential(sparse=True)
    res = simulate(W1Flow(y, potential=pot), x0, 4.0, 0.25, solver=CappedEuler())
    assert res.success and res.n_lp_solves == 1
    assert pot.counters["sparse_solves"] == 1 and pot.counters["lp_solves"] == 0
    a = np.full(n, 1 / n)
    G = ot.emd(a, a, cdist(x0, y))
    rows, cols = np.nonzero(G > 0.5 / n)
    assert rows.size == n  # generic uniform clouds: POT's plan is a permutation
    ray = np.linalg.norm(x0[rows] - y[cols], axis=1)
    closed = np.array([np.sum(np.maximum(ray - t, 0.0)) / n for t in res.ts])
    assert np.allclose(res.w1, closed, rtol=1e-9, atol=1e-12)


def test_an_interrupted_incremental_flow_resumes_bitwise(tmp_path):
    """The kept basis is part of the oracle's checkpointed state (``state_dict``): an interrupted
    uncapped Euler run with ExactPotential(incremental=True) resumes to the very same positions and W1 history as an
    uninterrupted one (a fresh basis after the resume could pick another vertex near ties)."""
    import w1flow as wf
    from conftest import InterruptingExact

    rng = np.random.default_rng(7)
    x0 = rng.normal(size=(40, 2)) + [3.0, 0.0]
    y = rng.normal(size=(40, 2)) * 0.3
    kw = dict(solver=wf.Euler())
    full_oracle = ExactPotential(incremental=True)
    full = wf.simulate(wf.W1Flow(y, potential=full_oracle), x0, 6.0, 0.4, **kw)
    assert full.success and full_oracle.counters["warm_solves"] >= 3
    ck = tmp_path / "run.ckpt"
    InterruptingExact.calls = 0
    part = wf.simulate(wf.W1Flow(y, potential=InterruptingExact(incremental=True)), x0, 6.0, 0.4,
                       checkpoint=wf.Checkpoint(ck, every=1), **kw)
    assert part.status == "interrupted"
    rest = wf.simulate(wf.W1Flow(y, potential=InterruptingExact(incremental=True)), x0, 6.0, 0.4,
                       checkpoint=wf.Checkpoint(ck, resume=True), **kw)
    assert rest.success
    assert np.array_equal(rest.x_final, full.x_final)
    assert np.array_equal(rest.w1, full.w1)


# -- 7. issue [S]: weights off by round-off, the line, the W1 history, numpy booleans ------------
def _off_by_round_off(rng, k, sign):
    """Generic weights whose total differs from 1 by 9e-13: what validation keeps as given."""
    w = rand_weights(rng, k)
    w[0] += sign * 9e-13
    return w


def test_weights_within_validation_tolerance_are_certified_sparse_and_incremental():
    """Totals 1 + 9e-13 and 1 - 9e-13 (validation keeps both unchanged, so the two sides differ by
    1.8e-12): the sparse LP is certified (status optimal, no dense LP), and an incremental oracle
    warm-solves step after step with no fallback to the dense LP; every W1 equals POT's."""
    from w1flow._validation import validate_measures

    rng = np.random.default_rng(21)
    x, y = rng.normal(size=(60, 2)) + [2.0, 0.0], rng.normal(size=(50, 2))
    a, b = _off_by_round_off(rng, 60, 1.0), _off_by_round_off(rng, 50, -1.0)
    _, a_v, _, b_v = validate_measures(x, a, y, b)
    assert np.array_equal(a_v, a) and np.array_equal(b_v, b)  # kept as given, not renormalised
    assert abs(a.sum() - b.sum()) > 1.5e-12
    sparse = ExactPotential(sparse=True)
    p = sparse(x, a, y, b)
    assert p.status == "optimal", p.message
    assert sparse.counters["sparse_solves"] == 1 and sparse.counters["lp_solves"] == 0
    ref = pot_w1(x, a, y, b)
    assert abs(p.w1 - ref) <= 1e-9 * ref
    inc = ExactPotential(incremental=True)
    for k in range(4):
        xk = _toward(x, y[rng.integers(0, 50, 60)], 0.3 * k)
        q = inc(xk, a, y, b)
        assert q.status == "optimal", q.message
        ref = pot_w1(xk, a, y, b)
        assert abs(q.w1 - ref) <= 1e-9 * ref
    assert inc.counters["warm_solves"] == 3 and inc.counters["fallbacks"] == 0 and inc.counters["lp_solves"] == 1


def test_sparse_flow_with_round_off_totals_succeeds():
    """A whole sparse incremental Euler flow on weights off by 9e-13: status success, no dense LP, W1
    at the end equal to POT's."""
    rng = np.random.default_rng(5)
    x0, y = rng.normal(size=(40, 2)) + [3.0, 0.0], rng.normal(size=(30, 2)) * 0.4
    a, b = _off_by_round_off(rng, 40, 1.0), _off_by_round_off(rng, 30, -1.0)
    pot = ExactPotential(sparse=True, incremental=True)
    res = simulate(W1Flow(y, target_weights=b, potential=pot), x0, 2.0, 0.25, solver=Euler(reuse_plan=False),
                   weights=a)
    assert res.success, res.message
    assert pot.counters["lp_solves"] == 0 and pot.counters["fallbacks"] == 0 and pot.counters["sparse_solves"] == 1
    ref = pot_w1(res.x_final, a, y, b)
    assert abs(res.w1[-1] - ref) <= 1e-9 * ref + _atol(res.x_final, y)


@pytest.mark.parametrize("total", [1.0, 1000.0])
@pytest.mark.parametrize("excess, certified", [(2e-12, True), (1e-9, False), (1e-6, False)])
def test_warm_solve_root_imbalance(total, excess, certified):
    """Mass added to the tree's root node alone (every other flow unchanged) shows up only as the
    root's imbalance: within what validation accepts (2e-12 of the total mass: both totals may be
    off by 1e-12) the solve is certified, beyond it never, at any total mass."""
    x0, x1, a, y, b = _moved_problem()
    basis = _cold_basis(x0, a * total, y, b * total)
    if basis.root < basis.n:
        basis.a[basis.root] += excess * total
    else:
        basis.b[basis.root - basis.n] += excess * total
    ok, plan, _, message = _warm(basis, x1)
    assert ok == certified, message
    if not certified:
        assert "root imbalance" in message
    else:
        rows, cols, mass, u, v = plan
        cost = float(np.dot(mass, np.linalg.norm(x1[rows] - y[cols], axis=1)))
        ref = pot_w1(x1, a, y, b) * total
        assert abs(cost - ref) <= 1e-9 * ref


def test_incremental_basis_drops_round_off_plan_entries():
    """n = 20 particles onto m = 10 points, uniform weights: a degenerate LP on which POT's plan has
    entries of 1e-16. The incremental oracle's basis leaves them out, so it is strongly feasible (no
    zero-flow arc below a column); its warm solves stay optimal."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 2)), rng.normal(size=(10, 2))
    a, b = np.full(20, 1 / 20), np.full(10, 1 / 10)
    G = ot.emd(a, b, cdist(x, y) / cdist(x, y).max())
    assert np.any((G > 0) & (G < 1e-14))  # the premise: POT returns round-off entries here
    pot = ExactPotential(incremental=True)
    assert pot(x, a, y, b).success
    assert_strongly_feasible(pot._basis)
    x1 = _toward(x, y[rng.integers(0, 10, 20)], 0.4)
    p = pot(x1, a, y, b)
    assert pot.counters["warm_solves"] == 1 and pot.counters["fallbacks"] == 0
    assert_optimal_potential(p, x1, a, y, b)


@pytest.mark.parametrize("sparse", [True, "auto", np.True_])
def test_sparse_on_the_line_builds_no_matrix(sparse):
    """d = 1 with sparse=True or "auto" past a memory budget the dense LP exceeds: the monotone
    plan (the dense LP's own plan on the line) with duals that certify it over all pairs, and W1
    equal to scipy's 1-D formula; no MemoryBudgetError."""
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(8)
    n, m = 300, 200
    x, y = rng.normal(size=(n, 1)) + 0.5, rng.normal(size=(m, 1)) * 2.0
    a, b = rand_weights(rng, n), rand_weights(rng, m)
    a[rng.random(n) < 0.1] = 0.0  # tracers too
    a /= a.sum()
    pot = ExactPotential(sparse=sparse, max_memory=1e5)  # the dense LP needs 2.4 MB
    p = pot(x, a, y, b)
    assert p.success, p.message
    ref = wasserstein_distance(x[:, 0], y[:, 0], a, b)
    assert abs(p.w1 - ref) <= 1e-12 * ref + 1e-14
    cert = certify_plan(x, a, y, b, p.plan_rows, p.plan_cols, p.plan_mass, p.u, p.v, default_certificate_tol(x, y))
    assert cert.ok and abs(cert.gap) <= 1e-12, cert.message
    np.testing.assert_allclose(np.bincount(p.plan_rows, p.plan_mass, minlength=n), a, atol=1e-15)
    np.testing.assert_allclose(np.bincount(p.plan_cols, p.plan_mass, minlength=m), b, atol=1e-15)
    dense = ExactPotential()(x, a, y, b)  # within the default budget
    assert np.array_equal(dense.plan_rows, p.plan_rows) and np.array_equal(dense.plan_cols, p.plan_cols)
    assert np.array_equal(dense.plan_mass, p.plan_mass) and dense.w1 == p.w1
    np.testing.assert_allclose(p.velocity, dense.velocity, atol=1e-12)


def _budget_problem():
    """30 uniform particles onto 30 uniform data points: a permutation plan, so Euler carries it
    over steps (no LP at the saved states unless the history asks for one)."""
    rng = np.random.default_rng(12)
    n = 30
    x0, y = rng.normal(size=(n, 2)) + [2.5, 0.0], rng.normal(size=(n, 2)) * 0.5
    return x0, np.full(n, 1 / n), y, np.full(n, 1 / n)


@pytest.mark.parametrize("solver, saveat", [("Euler", "lp"), ("Heun", "auto"), ("RK4", "lp")])
def test_sparse_run_past_the_budget_records_its_history_sparsely(solver, saveat):
    """A sparse run whose dense LP exceeds max_memory (30 x 30 needs 36 kB; budget 10 kB): an
    LP-verified W1 history (SaveAt(w1="lp"), and every save of Heun and RK4) is solved by the
    oracle's own sparse LP, so the run succeeds, and its W1 values equal POT's at the saved states."""
    import w1flow as wf

    x0, a, y, b = _budget_problem()
    pot = ExactPotential(sparse=True, max_memory=1e4)
    res = simulate(W1Flow(y, target_weights=b, potential=pot), x0, 1.0, 0.25, solver=getattr(wf, solver)(),
                   saveat=wf.SaveAt(w1=saveat))
    assert res.status == "success", res.message
    assert pot.counters["lp_solves"] == 0
    assert len(res.w1) == len(res.ts) == 5
    for xs, w in zip(res.xs, res.w1):
        ref = pot_w1(xs, a, y, b)
        assert abs(w - ref) <= 1e-9 * ref + _atol(xs, y)


def test_sparse_incremental_history_uses_the_kept_basis():
    """With incremental=True as well, the history's LPs are warm solves from the kept basis (one
    cold sparse LP in the whole run) and are counted once in n_lp_solves."""
    import w1flow as wf

    x0, a, y, b = _budget_problem()
    pot = ExactPotential(sparse=True, incremental=True, max_memory=1e4)
    res = simulate(W1Flow(y, target_weights=b, potential=pot), x0, 1.0, 0.25, solver=wf.Euler(),
                   saveat=wf.SaveAt(w1="lp"))
    assert res.status == "success", res.message
    assert pot.counters["sparse_solves"] == 1 and pot.counters["lp_solves"] == 0
    assert res.n_lp_solves == 1 + pot.counters["warm_solves"]
    for xs, w in zip(res.xs, res.w1):
        ref = pot_w1(xs, a, y, b)
        assert abs(w - ref) <= 1e-9 * ref + _atol(xs, y)


def test_sparse_option_takes_numpy_booleans_and_refuses_integers():
    """metrics.w1(sparse=np.True_) takes the sparse path (the dense LP would exceed the budget and
    raise), with W1 equal to POT's; sparse=1 or "yes" are refused with an error naming sparse."""
    from w1flow import MemoryBudgetError, metrics

    x0, a, y, b = _budget_problem()
    ref = pot_w1(x0, a, y, b)
    assert abs(metrics.w1(x0, y, a, b, max_memory=1e4, sparse=np.True_) - ref) <= 1e-9 * ref
    with pytest.raises(MemoryBudgetError):
        metrics.w1(x0, y, a, b, max_memory=1e4, sparse=np.False_)
    p = ExactPotential(sparse=np.True_, max_memory=1e4)(x0, a, y, b)
    assert p.success and abs(p.w1 - ref) <= 1e-9 * ref
    for bad in (1, 0, "yes"):  # (G3: None is the default, "not given": method= decides)
        with pytest.raises(TypeError, match="sparse"):
            metrics.w1(x0, y, a, b, sparse=bad)
        with pytest.raises(TypeError, match="sparse"):
            ExactPotential(sparse=bad)


@pytest.mark.parametrize("seed", [0, 1])
def test_warm_solve_refuses_a_tree_with_negative_flows(seed):
    """The support of the plan for other particle masses (same total): the tree's duals are still
    optimal (no pivot, no violated pair), but its flows for these masses go negative, so the solve
    is not certified (a plan without the negative entries would not be a transport plan)."""
    x0, _, a, y, b = _moved_problem(seed=seed)
    lp = solve_w1_lp(x0, a, y, b)
    a2 = rand_weights(np.random.default_rng(seed), a.size)
    basis = basis_from_plan(x0, a2, y, b, lp.rows, lp.cols, lp.u, lp.v)
    assert basis.flow[basis.in_tree].min() < -1e-3  # the premise
    ok, _, stats, message = _warm(basis, x0)
    assert not ok and "tree flows infeasible" in message, message
    assert stats.pivots == 0


def test_sparse_plan_has_no_zero_entries():
    """The sparse LP's plan lists positive masses only (zero-flow tree arcs are not plan entries):
    on generic uniform clouds with n = m it is a permutation, as POT's is."""
    rng = np.random.default_rng(6)
    n = 80
    x, y = rng.normal(size=(n, 2)) + [1.0, 0.0], rng.normal(size=(n, 2))
    p = ExactPotential(sparse=True)(x, None, y, None)
    assert p.success and np.all(p.plan_mass > 0)
    assert p.plan_rows.size == n and not p.is_split
    a = np.full(n, 1 / n)
    assert_optimal_potential(p, x, a, y, a)


def test_near_tight_columns_join_once_and_the_answer_stays_certified():
    """A violating row also lists its near-tight columns (NEAR_TIGHT), never one already listed: the
    near-tied demo clouds (blob → 8 Gaussians) exercise it, the arc list has no repeated pair, and
    the plan is optimal by the independent check, at the same cost as without the option."""
    from w1flow.datasets import eight_gaussians, gaussian_blob
    from w1flow.lp.sparse import solve_sparse

    x = gaussian_blob(300, center=(3.0, 0.0), std=0.5, seed=4)
    y = eight_gaussians(300, radius=2.0, std=0.05, seed=5)
    a = b = np.full(300, 1 / 300)
    r = solve_sparse(x, a, y, b)
    assert r.ok and r.stats.near_tight_arcs > 0, r.stats
    keys = r.basis.arc_i * 300 + r.basis.arc_j
    assert np.unique(keys).size == keys.size
    assert_optimal_plan(x, a, y, b, r.rows, r.cols, r.mass, r.u, r.v)
    cost = float(r.mass @ np.linalg.norm(x[r.rows] - y[r.cols], axis=1))
    assert cost == pytest.approx(ot.emd2(a, b, cdist(x, y)), rel=1e-12)
