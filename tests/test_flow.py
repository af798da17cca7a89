"""The exact W1 flow: exact identities of Euler and CappedEuler, split plans, invariances."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from conftest import generic_cloud, lp_rays, lp_w1, rand_weights as _rand_weights, ray_lengths as _ray_lengths, tol
from w1flow import CappedEuler, Euler, ExactPotential, W1Flow, metrics, simulate

seeds = st.integers(0, 2**32 - 1)


@given(seed=seeds, n=st.integers(2, 40), d=st.integers(2, 10), frac=st.floats(0.05, 1.0))
def test_euler_step_lowers_w1_by_exactly_dt_for_permutation_plans(seed, n, d, frac):
    rng = np.random.default_rng(seed)
    x, y = generic_cloud(rng, n, d, shift=0.5), generic_cloud(rng, n, d)
    pot = ExactPotential()(x, np.full(n, 1 / n), y, np.full(n, 1 / n))
    dt = frac * _ray_lengths(pot).min()
    res = simulate(W1Flow(y), x, dt, dt, solver=Euler())
    assert res.success and res.n_steps == 1
    assert res.w1[0] - res.w1[1] == pytest.approx(dt, abs=tol(x, y))
    # the identity holds for W1 from an independent LP, not only for the library's value
    assert lp_w1(x, None, y, None) - lp_w1(res.x_final, None, y, None) == pytest.approx(dt, abs=tol(x, y))


@given(seed=seeds, n=st.integers(2, 25), m=st.integers(2, 25), d=st.integers(2, 10), frac=st.floats(0.05, 1.0))
def test_split_mode_step_lowers_w1_by_exactly_dt(seed, n, m, d, frac):
    rng = np.random.default_rng(seed)
    x, y = generic_cloud(rng, n, d, shift=0.5), generic_cloud(rng, m, d)
    a, b = _rand_weights(rng, n), _rand_weights(rng, m)
    pot = ExactPotential()(x, a, y, b)
    dt = frac * _ray_lengths(pot).min()
    res = simulate(W1Flow(y, b), x, dt, dt, solver=Euler(split=True), weights=a)
    assert res.w1[0] - res.w1[1] == pytest.approx(dt, abs=tol(x, y))
    assert lp_w1(x, a, y, b) - lp_w1(res.x_final, res.a_final, y, b) == pytest.approx(dt, abs=tol(x, y))
    # weights and parents are carried: sub-particle masses add up to the parents' weights
    np.testing.assert_allclose(np.bincount(res.parents[-1], res.weights[-1], n), a, atol=1e-14)
    assert res.xs[-1].shape[0] == len(pot.plan_mass)


@given(seed=seeds, n=st.integers(2, 25), m=st.integers(2, 25), d=st.integers(2, 6), dt=st.floats(0.01, 2.0))
def test_w1_never_drops_by_more_than_dt(seed, n, m, d, dt):
    rng = np.random.default_rng(seed)
    x, y = generic_cloud(rng, n, d, shift=0.5), generic_cloud(rng, m, d)
    a, b = _rand_weights(rng, n), _rand_weights(rng, m)
    res = simulate(W1Flow(y, b), x, 3 * dt, dt, solver=Euler(), weights=a)
    assert np.all(np.diff(res.w1) >= -dt - tol(x, y))


@given(seed=seeds, n=st.integers(3, 25), m=st.integers(3, 25), d=st.integers(2, 6))
def test_default_mode_decays_at_rate_sum_a_v_squared(seed, n, m, d):
    """Averaged plan velocity: dW1/dt = −Σ a_i |V_i|² <= 1 (strictly < 1 when a row splits)."""
    rng = np.random.default_rng(seed)
    x, y = generic_cloud(rng, n, d, shift=0.5), generic_cloud(rng, m, d)
    a, b = _rand_weights(rng, n), _rand_weights(rng, m)
    pot = ExactPotential()(x, a, y, b)
    V = pot.velocity
    rate = float(a @ np.einsum("ij,ij->i", V, V))
    assert rate <= 1 + 1e-12
    if pot.is_split:
        assert rate < 1
    h = 1e-7
    slope = (metrics.w1(x + h * V, y, a, b) - pot.w1) / h
    assert slope == pytest.approx(-rate, abs=1e-5)


@given(seed=seeds, n=st.integers(2, 40), d=st.integers(2, 10))
def test_capped_euler_matches_closed_form(seed, n, d):
    rng = np.random.default_rng(seed)
    x, y = generic_cloud(rng, n, d, shift=1.0), generic_cloud(rng, n, d)
    a = np.full(n, 1 / n)
    lengths, mass = lp_rays(x, a, y, a)  # the closed form from POT's plan, not w1flow's
    t_hit = lengths.max()
    dt = t_hit / 7.3
    res = simulate(W1Flow(y), x, t_hit + dt, dt, solver=CappedEuler())
    closed = [mass @ np.maximum(lengths - t, 0) for t in res.ts]
    np.testing.assert_allclose(res.w1, closed, atol=tol(x, y), rtol=0)
    assert res.w1[-1] == 0.0
    # W1 reaches 0 exactly at the longest transport distance, not before
    at_hit = simulate(W1Flow(y), x, t_hit, dt, solver=CappedEuler())
    assert at_hit.w1[-1] <= tol(x, y)
    before = simulate(W1Flow(y), x, 0.99 * t_hit, dt, solver=CappedEuler())
    assert before.w1[-1] > 0


@given(seed=seeds, n=st.integers(2, 20), m=st.integers(2, 20), d=st.integers(2, 6))
def test_capped_euler_split_mode_matches_closed_form(seed, n, m, d):
    rng = np.random.default_rng(seed)
    x, y = generic_cloud(rng, n, d, shift=1.0), generic_cloud(rng, m, d)
    a, b = _rand_weights(rng, n), _rand_weights(rng, m)
    lengths, mass = lp_rays(x, a, y, b)  # the closed form from POT's plan, not w1flow's
    dt = lengths.max() / 5.5
    res = simulate(W1Flow(y, b), x, lengths.max() + dt, dt, solver=CappedEuler(split=True), weights=a)
    closed = [mass @ np.maximum(lengths - t, 0) for t in res.ts]
    np.testing.assert_allclose(res.w1, closed, atol=tol(x, y), rtol=0)
    assert res.w1[-1] <= tol(x, y)  # co-located sub-particles: the LP value is round-off, not 0
    np.testing.assert_allclose(np.bincount(res.parents[-1], res.weights[-1], n), a, atol=1e-14)


def test_capped_euler_refuses_split_plans_without_split_mode(rng):
    x, y = generic_cloud(rng, 5, 2), generic_cloud(rng, 7, 2)
    with pytest.raises(ValueError, match="split=True"):
        simulate(W1Flow(y), x, 1.0, 0.1, solver=CappedEuler())


@pytest.mark.parametrize("dt", [0.2, 0.05])
def test_uncapped_euler_chatters_within_dt_after_arrival(dt):
    rng = np.random.default_rng(3)
    n = 120
    x, y = generic_cloud(rng, n, 2, shift=2.0), generic_cloud(rng, n, 2)
    pot = ExactPotential()(x, np.full(n, 1 / n), y, np.full(n, 1 / n))
    t_hit = _ray_lengths(pot).max()
    res = simulate(W1Flow(y), x, t_hit + 1.0, dt, solver=Euler())
    late = res.ts >= t_hit + dt
    assert late.sum() >= 3
    assert np.all(res.w1[late] <= dt)
    # ... and it does not converge to 0: the plateau is of order dt
    assert res.w1[-1] > 0.05 * dt


@given(seed=seeds, n=st.integers(3, 30), d=st.integers(2, 6))
def test_velocity_permutation_equivariant_and_flow_translation_equivariant(seed, n, d):
    rng = np.random.default_rng(seed)
    x, y = generic_cloud(rng, n, d, shift=0.7), generic_cloud(rng, n + 3, d)
    a = _rand_weights(rng, n)
    perm = rng.permutation(n)
    V = ExactPotential()(x, a, y, np.full(n + 3, 1 / (n + 3))).velocity
    Vp = ExactPotential()(x[perm], a[perm], y, np.full(n + 3, 1 / (n + 3))).velocity
    np.testing.assert_allclose(Vp, V[perm], atol=1e-12)
    shift = rng.normal(size=d) * 3
    r1 = simulate(W1Flow(y), x, 0.6, 0.2, weights=a)
    r2 = simulate(W1Flow(y + shift), x + shift, 0.6, 0.2, weights=a)
    np.testing.assert_allclose(r1.w1, r2.w1, atol=1e-10)
    assert metrics.w1(r1.x_final + shift, r2.x_final, a, a) <= 1e-10


@given(seed=seeds, n=st.integers(2, 15))
def test_tied_inputs_give_equal_w1_histories(seed, n):
    """Small integers in 1-D are full of ties: only the W1 histories must agree.

    n = m with uniform weights and a dyadic dt keep every position exactly representable, so
    permuted and translated runs see bitwise the same geometry. (With split plans the averaged
    velocity is not dyadic; round-off then decides whether a particle lands exactly on a data
    point, where the velocity is discontinuous, and histories may differ by O(dt/n).)
    """
    rng = np.random.default_rng(seed)
    x = rng.integers(-4, 5, n).astype(float)
    y = rng.integers(-4, 5, n).astype(float)
    perm = rng.permutation(n)
    r1 = simulate(W1Flow(y), x, 3.0, 0.25)
    r2 = simulate(W1Flow(y), x[perm], 3.0, 0.25)
    r3 = simulate(W1Flow(y + 7), x + 7, 3.0, 0.25)
    r4 = simulate(W1Flow(y), x, 9.0, 0.25, solver=CappedEuler())
    r5 = simulate(W1Flow(y), x[perm], 9.0, 0.25, solver=CappedEuler())
    np.testing.assert_allclose(r1.w1, r2.w1, atol=1e-12)
    np.testing.assert_allclose(r1.w1, r3.w1, atol=1e-12)
    np.testing.assert_allclose(r4.w1, r5.w1, atol=1e-12)
    assert r4.w1[-1] == 0.0


def test_one_dimensional_flow_uses_monotone_plan():
    x = np.array([0.0, 1.0, 2.0])
    y = np.array([10.0, 11.0, 12.0])
    pot = ExactPotential()(x[:, None], np.full(3, 1 / 3), y[:, None], np.full(3, 1 / 3))
    np.testing.assert_array_equal(pot.target_index, [0, 1, 2])  # every pairing is optimal here
    res = simulate(W1Flow(y), x, 10.0, 0.5, solver=CappedEuler())
    np.testing.assert_array_equal(res.x_final[:, 0], y)
