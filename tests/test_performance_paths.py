"""The fast paths of the exact flow: plan reuse, one-LP capped flow, certificates, memory budget.

Each fast path must give what the slow reference gives: Euler(reuse_plan=True) the W1 history
of re-solving the LP at every step (on generic clouds), CappedEuler the LP-verified W1 history.
"""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, strategies as st

from conftest import generic_cloud, lp_rays, rand_weights as _rand_weights, ray_lengths as _ray_lengths, tol
from w1flow import CappedEuler, Euler, ExactPotential, MemoryBudgetError, SaveAt, W1Flow, metrics, simulate
from w1flow.lp import certify_plan

seeds = st.integers(0, 2**32 - 1)


@given(seed=seeds, n=st.integers(2, 30), d=st.integers(2, 5), uniform=st.booleans(),
       same_size=st.booleans(), split=st.booleans(), dt=st.floats(0.02, 0.6))
def test_plan_reuse_equals_resolve_every_step(seed, n, d, uniform, same_size, split, dt):
    rng = np.random.default_rng(seed)
    m = n if same_size else int(rng.integers(2, 31))
    x, y = generic_cloud(rng, n, d, shift=1.5), generic_cloud(rng, m, d)
    a = None if uniform else _rand_weights(rng, n)
    b = None if uniform else _rand_weights(rng, m)
    ref = simulate(W1Flow(y, b), x, 3.0, dt, solver=Euler(reuse_plan=False, split=split), weights=a)
    fast = simulate(W1Flow(y, b), x, 3.0, dt, solver=Euler(split=split), weights=a)
    assert ref.success and fast.success
    np.testing.assert_allclose(fast.w1, ref.w1, atol=tol(x, y), rtol=0)
    assert fast.n_lp_solves <= ref.n_lp_solves
    if not split:  # the same particles, in the same places
        np.testing.assert_allclose(fast.x_final, ref.x_final, atol=tol(x, y), rtol=0)
    else:  # the same measure: re-solving may split off sub-particles of round-off mass (~1e-18)
        assert metrics.w1(fast.x_final, ref.x_final, fast.weights[-1], ref.weights[-1]) <= tol(x, y)


def test_reuse_solves_one_lp_before_the_first_arrival(rng):
    n = 60
    x, y = generic_cloud(rng, n, 2, shift=4.0), generic_cloud(rng, n, 2)
    pot = ExactPotential()(x, np.full(n, 1 / n), y, np.full(n, 1 / n))
    dt = _ray_lengths(pot).min() / 25
    t1 = 24 * dt  # every step stays before the first arrival
    fast = simulate(W1Flow(y), x, t1, dt, solver=Euler())
    ref = simulate(W1Flow(y), x, t1, dt, solver=Euler(reuse_plan=False))
    assert fast.n_steps == ref.n_steps == 24
    assert fast.n_lp_solves == 1 and ref.n_lp_solves == 25
    # W1 drops by exactly dt per step, and agrees with the reference
    np.testing.assert_allclose(np.diff(fast.w1), -dt, atol=tol(x, y))
    np.testing.assert_allclose(fast.w1, ref.w1, atol=tol(x, y), rtol=0)


def test_reuse_resolves_after_overshoot_and_stays_correct(rng):
    n = 40
    x, y = generic_cloud(rng, n, 2, shift=2.0), generic_cloud(rng, n, 2)
    fast = simulate(W1Flow(y), x, 6.0, 0.1, solver=Euler())
    ref = simulate(W1Flow(y), x, 6.0, 0.1, solver=Euler(reuse_plan=False))
    assert 1 < fast.n_lp_solves < ref.n_lp_solves == ref.n_steps + 1
    np.testing.assert_allclose(fast.w1, ref.w1, atol=tol(x, y), rtol=0)


def test_capped_flow_costs_one_lp_including_the_w1_history(rng):
    n = 50
    x, y = generic_cloud(rng, n, 3, shift=1.0), generic_cloud(rng, n, 3)
    lengths, mass = lp_rays(x, None, y, None)  # POT's plan, not w1flow's
    dt = lengths.max() / 20
    t1 = lengths.max() + 2 * dt
    res = simulate(W1Flow(y), x, t1, dt, solver=CappedEuler())
    assert res.success and res.n_lp_solves == 1 and len(res.w1) == res.n_steps + 1
    closed = [mass @ np.maximum(lengths - t, 0) for t in res.ts]
    np.testing.assert_allclose(res.w1, closed, atol=tol(x, y), rtol=0)
    assert res.w1[-1] == 0.0
    # the LP-verified history (one LP per save point) agrees
    lp = simulate(W1Flow(y), x, t1, dt, solver=CappedEuler(), saveat=SaveAt(w1="lp"))
    assert lp.n_lp_solves == len(lp.ts)  # the initial LP gives W1 at t = 0, one LP per later save
    np.testing.assert_allclose(res.w1, lp.w1, atol=tol(x, y), rtol=0)
    # the certificate adds no LP
    cert = simulate(W1Flow(y), x, t1, dt, solver=CappedEuler(certify=True), saveat=SaveAt(every=5))
    assert cert.success and cert.n_lp_solves == 1


def test_capped_flow_split_mode_one_lp_and_certified(rng):
    x, y = generic_cloud(rng, 20, 2, shift=1.0), generic_cloud(rng, 27, 2)
    a, b = _rand_weights(rng, 20), _rand_weights(rng, 27)
    res = simulate(W1Flow(y, b), x, 8.0, 0.25, solver=CappedEuler(certify=True, split=True), weights=a)
    assert res.success and res.n_lp_solves == 1
    lp = simulate(W1Flow(y, b), x, 8.0, 0.25, solver=CappedEuler(split=True), weights=a, saveat=SaveAt(w1="lp"))
    np.testing.assert_allclose(res.w1, lp.w1, atol=tol(x, y), rtol=0)


class _WrongPlan(ExactPotential):
    """An oracle whose plan swaps the targets of two particles (a feasible, non-optimal plan)."""

    def __call__(self, x, a, y, b, t=0.0):
        pot = super().__call__(x, a, y, b, t)
        cols = pot.plan_cols.copy()
        cols[[0, 1]] = cols[[1, 0]]
        pot.plan_cols = cols
        pot._velocity = None
        return pot


class _WrongDuals(ExactPotential):
    """An oracle whose data duals are perturbed (dual infeasible)."""

    def __call__(self, x, a, y, b, t=0.0):
        pot = super().__call__(x, a, y, b, t)
        pot.v = pot.v + 0.1
        return pot


@pytest.mark.parametrize("oracle", [_WrongPlan, _WrongDuals])
def test_certificate_fails_on_a_wrong_plan(rng, oracle):
    n = 30
    x, y = generic_cloud(rng, n, 2, shift=1.0), generic_cloud(rng, n, 2)
    bad = simulate(W1Flow(y), x, 2.0, 0.2, solver=CappedEuler(certify=True), potential=oracle())
    assert bad.status == "certificate_failed"
    assert "certificate failed" in bad.message
    # without the certificate the wrong plan goes unnoticed: the certificate is what catches it
    quiet = simulate(W1Flow(y), x, 2.0, 0.2, solver=CappedEuler(), potential=oracle(), monitors=None)
    assert quiet.success


def test_certificate_passes_on_a_capped_flow_and_on_reuse_euler(rng):
    n = 40
    x, y = generic_cloud(rng, n, 2, shift=3.0), generic_cloud(rng, n, 2)
    res = simulate(W1Flow(y), x, 8.0, 0.1, solver=CappedEuler(certify=True))
    assert res.success, res.message
    eu = simulate(W1Flow(y), x, 2.0, 0.05, solver=Euler(certify=True))
    assert eu.success, eu.message


def test_certificate_is_chunked_and_detects_violations(rng):
    n, m = 70, 50
    x, y = generic_cloud(rng, n, 3), generic_cloud(rng, m, 3)
    a, b = np.full(n, 1 / n), np.full(m, 1 / m)
    pot = ExactPotential()(x, a, y, b)
    args = (x, a, y, b, pot.plan_rows, pot.plan_cols, pot.plan_mass, pot.u, pot.v, 1e-9)
    whole = certify_plan(*args)
    chunked = certify_plan(*args, chunk_bytes=8 * m * 3)  # 3 rows at a time
    assert whole.ok and chunked.ok
    assert whole.max_violation == chunked.max_violation and whole.gap == chunked.gap
    u_bad = pot.u.copy()
    u_bad[17] += 1e-6
    bad = certify_plan(x, a, y, b, pot.plan_rows, pot.plan_cols, pot.plan_mass, u_bad, pot.v, 1e-9,
                       chunk_bytes=8 * m * 3)
    assert not bad.ok and bad.max_violation == pytest.approx(1e-6, rel=1e-3)


def test_memory_budget_error_without_allocating():
    n = 30_000  # dense LP matrices: 5 x 7.2 GB
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
    tracemalloc.start()
    try:
        with pytest.raises(MemoryBudgetError, match="memory budget") as info:
            # (G3) the dense path: the default method="auto" solves this one sparsely
            simulate(W1Flow(y, potential=ExactPotential(method="dense")), x + 3, 1.0, 0.5, solver=CappedEuler())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50e6  # nothing of size n x m was allocated
    assert "max_memory" in str(info.value) and "sliced" in str(info.value)
    # a configurable budget: the same error at small n with a small budget, also for Euler
    small = rng.normal(size=(100, 2))
    with pytest.raises(MemoryBudgetError):
        simulate(W1Flow(small), small + 1, 1.0, 0.5, solver=Euler(),
                 potential=ExactPotential(max_memory=1e5, method="dense"))
    # the dense plan of a potential respects its budget too (the sparse plan is always there)
    pot = ExactPotential(max_memory=1e6)(small, np.full(100, 0.01), small + 1, np.full(100, 0.01))
    assert pot.plan.shape == (100, 100)  # 80 kB: within the budget
    pot.max_memory = 5e4
    with pytest.raises(MemoryBudgetError, match="dense plan"):
        pot.plan  # noqa: B018
    assert pot.plan_sparse.nnz <= 199


def test_solver_options_are_validated():
    with pytest.raises(TypeError, match=r"\breuse_plan\b"):
        Euler(reuse_plan="yes")
    with pytest.raises(TypeError, match=r"\bcertify\b"):
        CappedEuler(certify=1)
    with pytest.raises(ValueError, match=r"\bcertify_tol\b"):
        CappedEuler(certify=True, certify_tol=-1.0)
    with pytest.raises(ValueError, match=r"\bw1 must be"):
        SaveAt(w1="closed")


def test_warm_start_option_gives_the_same_w1(rng):
    with pytest.raises(TypeError, match=r"\bwarm_start\b"):
        ExactPotential(warm_start="yes")
    x, y = generic_cloud(rng, 40, 2, shift=2.0), generic_cloud(rng, 40, 2)
    cold = simulate(W1Flow(y), x, 3.0, 0.1, solver=Euler(reuse_plan=False))
    warm = simulate(W1Flow(y), x, 3.0, 0.1, solver=Euler(reuse_plan=False), potential=ExactPotential(warm_start=True))
    np.testing.assert_allclose(warm.w1, cold.w1, atol=1e-9, rtol=0)
