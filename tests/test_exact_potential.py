"""The exact Kantorovich potential: LP identities, extension, gradient and plan velocity."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from conftest import generic_cloud, tol
from w1flow import ExactPotential, metrics
from w1flow.lp import monotone_plan, pairwise_distances

seeds = st.integers(0, 2**32 - 1)


def _weights(rng, n, uniform):
    if uniform:
        return np.full(n, 1.0 / n)
    w = rng.uniform(0.1, 1.0, n)
    return w / w.sum()


@given(seed=seeds, n=st.integers(2, 40), m=st.integers(2, 40), d=st.integers(2, 10), uniform=st.booleans())
def test_potential_identities(seed, n, m, d, uniform):
    """φ(x_i) = u_i, φ(y_j) = −v_j, Σ a φ(x) − Σ b φ(y) = W1, plan marginals, duality."""
    rng = np.random.default_rng(seed)
    x, y = generic_cloud(rng, n, d, shift=1.0), generic_cloud(rng, m, d)
    a, b = _weights(rng, n, uniform), _weights(rng, m, uniform)
    pot = ExactPotential()(x, a, y, b)
    assert pot.status == "optimal" and pot.success
    eps = tol(x, y)
    np.testing.assert_allclose(pot(x), pot.u, atol=eps, rtol=0)
    np.testing.assert_allclose(pot(y), -pot.v, atol=eps, rtol=0)
    assert abs(a @ pot(x) - b @ pot(y) - pot.w1) <= eps
    assert abs(pot.w1 - metrics.w1(x, y, a, b)) <= eps
    G = pot.plan
    np.testing.assert_allclose(G.sum(1), a, atol=1e-14)
    np.testing.assert_allclose(G.sum(0), b, atol=1e-14)
    M = pairwise_distances(x, y)
    assert np.all(pot.u[:, None] + pot.v[None, :] <= M + eps)  # dual feasibility
    assert len(pot.plan_mass) <= n + m - 1


@given(seed=seeds, d=st.integers(1, 6))
def test_extension_is_1_lipschitz_and_high_on_particles(seed, d):
    rng = np.random.default_rng(seed)
    x, y = generic_cloud(rng, 30, d, shift=2.0), generic_cloud(rng, 25, d)
    pot = ExactPotential()(x, np.full(30, 1 / 30), y, np.full(25, 1 / 25))
    z1, z2 = 3 * rng.standard_normal((400, d)), 3 * rng.standard_normal((400, d))
    gap = np.abs(pot(z1) - pot(z2)) - np.linalg.norm(z1 - z2, axis=1)
    # absolute round-off: φ ~ O(scale) is computed to ~1e-16·scale, so a ratio test on close
    # pairs would be dominated by cancellation
    assert gap.max() <= tol(x, y, z1, z2)
    # sign convention: high on the particles, low on the data
    assert pot(x).mean() - pot(y).mean() == pytest.approx(pot.w1, abs=1e-10)
    assert pot.w1 > 0


@given(seed=seeds, d=st.integers(2, 8))
def test_grad_matches_finite_differences_off_particles(seed, d):
    rng = np.random.default_rng(seed)
    x, y = generic_cloud(rng, 20, d, shift=1.0), generic_cloud(rng, 20, d)
    pot = ExactPotential()(x, np.full(20, 0.05), y, np.full(20, 0.05))
    z = 2 * rng.standard_normal((50, d))
    g = pot.grad(z)
    np.testing.assert_allclose(np.linalg.norm(g, axis=1), 1.0, atol=1e-12)  # unit speed
    h = 1e-6
    for k in range(d):
        e = np.zeros(d)
        e[k] = h
        fd = (pot(z + e) - pot(z - e)) / (2 * h)
        # generic points have a unique argmin; a kink within h of z is improbable but possible
        close = np.abs(fd - g[:, k]) < 1e-6
        assert close.mean() >= 0.95


def test_plan_velocity_formula_and_unit_speed_for_permutations(rng):
    n, d = 40, 3
    x, y = generic_cloud(rng, n, d, shift=2.0), generic_cloud(rng, n, d)
    a = np.full(n, 1 / n)
    pot = ExactPotential()(x, a, y, a)
    G = pot.plan
    assert set(np.unique(np.round(G * n, 12))) <= {0.0, 1.0}  # a permutation
    V = np.zeros((n, d))
    for i in range(n):
        for j in range(n):
            if G[i, j] > 0:
                diff = y[j] - x[i]
                V[i] += G[i, j] / a[i] * diff / np.linalg.norm(diff)
    np.testing.assert_allclose(pot.velocity, V, atol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(pot.velocity, axis=1), 1.0, atol=1e-14)
    assert not pot.is_split
    np.testing.assert_array_equal(pot.target_index, np.argmax(G, axis=1))


def test_subgradient_at_particles_differs_from_plan_velocity(rng):
    """Why solvers use the plan: the c-transform argmin at a particle is an arbitrary tight target."""
    n = 200
    x, y = generic_cloud(rng, n, 2, shift=1.0), generic_cloud(rng, n, 2)
    a = np.full(n, 1 / n)
    pot = ExactPotential()(x, a, y, a)
    differ = np.linalg.norm(-pot.grad(x) - pot.velocity, axis=1) > 1e-8
    assert differ.mean() > 0.2  # measured about half
    # ... and the argmin direction does not lower W1 at unit rate, while the plan velocity does
    h = 0.5 * np.min(np.linalg.norm(x[pot.plan_rows] - y[pot.plan_cols], axis=1))
    drop_plan = pot.w1 - metrics.w1(x + h * pot.velocity, y)
    drop_grad = pot.w1 - metrics.w1(x - h * pot.grad(x), y)
    assert drop_plan == pytest.approx(h, abs=1e-13)
    assert drop_grad < h - 1e-6


def test_velocity_drops_zero_length_terms_and_tracers_use_gradient(rng):
    y = generic_cloud(rng, 10, 2)
    x = y.copy()  # every particle on its data point
    x[0] += 1.0
    a = np.full(10, 0.1)
    pot = ExactPotential()(x, a, y, a)
    V = pot.velocity
    assert np.all(np.isfinite(V))
    np.testing.assert_array_equal(V[1:], 0.0)
    # a zero-weight particle is a passive tracer moved by −∇φ of the extension
    x2 = np.vstack([x, [[5.0, 5.0]]])
    a2 = np.append(a, 0.0)
    pot2 = ExactPotential()(x2, a2, y, a)
    np.testing.assert_allclose(pot2.velocity[-1:], -pot2.grad(x2[-1:]), atol=0)
    assert np.linalg.norm(pot2.velocity[-1]) == pytest.approx(1.0)


@given(seed=seeds, n=st.integers(1, 30), m=st.integers(1, 30))
def test_monotone_plan_is_optimal_in_1d(seed, n, m):
    rng = np.random.default_rng(seed)
    x, y = rng.integers(-5, 5, n).astype(float), rng.integers(-5, 5, m).astype(float)  # ties on purpose
    a, b = _weights(rng, n, False), _weights(rng, m, False)
    rows, cols, mass = monotone_plan(x, a, y, b)
    np.testing.assert_allclose(np.bincount(rows, mass, n), a, atol=1e-14)
    np.testing.assert_allclose(np.bincount(cols, mass, m), b, atol=1e-14)
    cost = mass @ np.abs(x[rows] - y[cols])
    assert cost == pytest.approx(metrics.w1(x, y, a, b), abs=1e-12)
    pot = ExactPotential()(x[:, None], a, y[:, None], b)
    assert pot.w1 == pytest.approx(cost, abs=1e-12)
    # monotone: the plan never crosses (x_i < x_k implies targets ordered)
    order = np.lexsort((y[cols], x[rows]))
    assert np.all(np.diff(y[cols][order]) >= -1e-15)
