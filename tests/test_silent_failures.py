"""No silent wrong answers ([K]): each test here pins a case that returned a wrong answer with status
"success" (or passed a deliberately broken library) before, against an independent reference."""

import numpy as np
import ot
import pytest
from scipy.spatial.distance import cdist

from conftest import generic_cloud, rand_weights
from w1flow import (CappedEuler, EntropicPotential, Euler, ExactPotential, Heun, MeanFieldODE, RK4,
                    QuantilePotential, SaveAt, W1Flow, W2Flow, metrics, simulate)
from w1flow.datasets import eight_gaussians, gaussian_blob
from w1flow.monitors import LipschitzDriftMonitor, W1IncreaseMonitor


# ---------------------------------------------------------------------------------------------
# User code gets read-only views
# ---------------------------------------------------------------------------------------------
def test_a_drift_that_writes_into_x_is_refused_not_obeyed():
    def sneaky(x, a, t):
        x[:] = 0.0  # would change the solution if it were the solver's array
        return -x

    with pytest.raises(ValueError, match="read-only"):
        simulate(MeanFieldODE(sneaky), np.ones((4, 2)), 1.0, 0.1)


def test_callbacks_see_read_only_views_not_copies():
    seen = []

    def callback(t, x, a):
        seen.append((x.flags.writeable, a.flags.writeable, x.base is not None))
        with pytest.raises(ValueError, match="read-only"):
            a[0] = 1.0

    res = simulate(MeanFieldODE(lambda x, a, t: -x), np.ones((4, 2)), 0.3, 0.1, callback=callback)
    assert res.success and seen == [(False, False, True)] * 3


# ---------------------------------------------------------------------------------------------
# Monitors: the verdict does not depend on how often the run saves
# ---------------------------------------------------------------------------------------------
class _Backwards(CappedEuler):
    """A broken solver with a transient fault: for t in (0.35, 0.65] it moves particles away from
    their targets, then puts them back on their rays (W1 at t = 0 and t = 2 looks healthy)."""

    def step(self, ctx, t, dt, x, a, state):
        import dataclasses

        res = super().step(ctx, t, dt, x, a, state)
        if 0.35 < t + dt <= 0.65:
            return dataclasses.replace(res, x=2 * state.start - res.x)
        return res


@pytest.mark.parametrize("every", [1, 3, 20, 1000])
def test_a_rising_w1_is_flagged_whatever_the_save_interval(every):
    rng = np.random.default_rng(0)
    x, y = gaussian_blob(30, seed=rng), eight_gaussians(30, seed=rng)
    res = simulate(W1Flow(y), x, 2.0, 0.1, solver=_Backwards(), saveat=SaveAt(every=every))
    assert res.status == "unhealthy" and "W1 rose" in res.message
    assert res.ts[-1] == pytest.approx(0.4)  # the first step that left the rays, not a save point


class _DriftingCritic(ExactPotential):
    """Reports a Lipschitz estimate 2.5 + t: above the monitor's 3 from t = 0.6 on."""

    def __call__(self, x, a, y, b, t=0.0):
        pot = super().__call__(x, a, y, b, t)
        pot.lipschitz = 2.5 + t  # above the default bound 3 from t = 0.6 on
        return pot


@pytest.mark.parametrize("every, t_stop", [(1, 0.6), (20, 0.7)])
def test_critic_lipschitz_drift_is_flagged_whatever_the_save_interval(every, t_stop):
    """The field computed at t = 0.6 is checked as soon as it exists: at the save point t = 0.6
    (where it is computed for W1), or after the step 0.6 -> 0.7 that computed it."""
    rng = np.random.default_rng(1)
    x, y = gaussian_blob(20, seed=rng), eight_gaussians(20, seed=rng)
    res = simulate(W1Flow(y), x, 2.0, 0.1, solver=Euler(reuse_plan=False), potential=_DriftingCritic(),
                   saveat=SaveAt(every=every))
    assert res.status == "unhealthy" and "Lipschitz" in res.message
    assert res.ts[-1] == pytest.approx(t_stop)


def test_a_monitor_that_keeps_flagging_warns_once():
    rng = np.random.default_rng(1)
    x, y = gaussian_blob(20, seed=rng), eight_gaussians(20, seed=rng)
    with pytest.warns(RuntimeWarning, match="Lipschitz") as record:
        res = simulate(W1Flow(y), x, 2.0, 0.1, solver=Euler(reuse_plan=False), potential=_DriftingCritic(),
                       on_unhealthy="warn")
    assert res.success and len(res.health) == 1 and len(record) == 1


def test_w1_rise_allowance_is_relative_to_the_run():
    mon = W1IncreaseMonitor()
    assert mon.check(0.0, None, None, [1e-14, 5e-15, 5.1e-15], None) is not None  # a rise of 2 %
    assert mon.check(0.0, None, None, [1e8, 5e7, 5e7 + 1e-3], None) is None  # round-off at 1e8
    assert LipschitzDriftMonitor().every_step and mon.every_step


# ---------------------------------------------------------------------------------------------
# Sinkhorn reaches its tolerance, or says so with its own status
# ---------------------------------------------------------------------------------------------
def test_entropic_flow_of_the_docs_reaches_t1():
    x, y = gaussian_blob(30, center=(3, 0), std=0.5, seed=1), eight_gaussians(30, seed=2)
    res = simulate(W1Flow(y, potential=EntropicPotential(0.1)), x, 6.0, 0.05, saveat=SaveAt(every=20))
    assert res.success, res.message
    assert res.ts[-1] == 6.0 and res.w1[-1] < 0.35 < 3.0 < res.w1[0]


def test_particles_on_the_data_converge():
    y = eight_gaussians(30, seed=2)
    oracle = EntropicPotential(0.1)
    pot = oracle(y, None, y, None)
    assert pot.success and pot.marginal_error < 1e-10 and pot.n_iter < 2000
    P = pot.plan  # the plan's marginals, checked here from its definition
    np.testing.assert_allclose(P.sum(axis=0), np.full(30, 1 / 30), atol=1e-10, rtol=0)
    np.testing.assert_allclose(P.sum(axis=1), np.full(30, 1 / 30), atol=1e-10, rtol=0)
    assert simulate(W1Flow(y, potential=EntropicPotential(0.1)), y, 1.0, 0.05).success


def test_sinkhorn_failure_has_its_own_status():
    x, y = gaussian_blob(30, center=(3, 0), std=0.5, seed=1), eight_gaussians(30, seed=2)
    res = simulate(W1Flow(y, potential=EntropicPotential(0.01, max_iter=3)), x, 1.0, 0.1)
    assert res.status == "sinkhorn_failed" and "Sinkhorn did not converge" in res.message
    assert "marginal error" in res.message and res.n_steps == 0


# ---------------------------------------------------------------------------------------------
# Splitting keeps no round-off sub-particles, and keeps the mass
# ---------------------------------------------------------------------------------------------
def test_splitting_breeds_no_round_off_particles():
    rng = np.random.default_rng(0)
    x, y = gaussian_blob(30, center=(3, 0), std=0.5, seed=1), eight_gaussians(30, seed=2)
    a = rand_weights(rng, 30)
    res = simulate(W1Flow(y), x, 6.0, 0.05, weights=a, solver=Euler(split=True))
    assert res.success
    w = res.a_final
    assert np.all(w >= 1e-12) and w.size < 300  # 0.1: 2,343 sub-particles, 2,167 below 1e-15
    assert abs(w.sum() - 1.0) < 1e-13
    # the measure is the one of the unmerged flow, to the merged mass
    raw = simulate(W1Flow(y), x, 6.0, 0.05, weights=a, solver=Euler(split=True, min_mass=0.0))
    assert raw.a_final.size > 5 * w.size
    assert metrics.w1(res.x_final, raw.x_final, w, raw.a_final) < 1e-9


def test_split_merges_only_light_entries_into_their_rows():
    rng = np.random.default_rng(3)
    x, y = generic_cloud(rng, 12, 2, shift=1.0), generic_cloud(rng, 17, 2)
    a = rand_weights(rng, 12)
    pot = ExactPotential()(x, a, y, None)
    keep, parent = pot.split(min_mass=0.0)
    assert keep.a.size == pot.plan_mass.size
    threshold = 0.5 * (np.sort(pot.plan_mass)[3] + np.sort(pot.plan_mass)[4])  # the 4 lightest entries
    light = pot.plan_mass < threshold
    row_max = np.array([pot.plan_mass[pot.plan_rows == r].max() for r in pot.plan_rows])
    n_merged = int(np.sum(light & (pot.plan_mass < row_max)))  # a row's heaviest entry stays
    assert n_merged >= 1
    merged, parent2 = pot.split(min_mass=threshold)
    assert merged.a.size == keep.a.size - n_merged
    # every particle keeps its mass: row sums of the merged sub-particles equal the weights
    np.testing.assert_allclose(np.bincount(parent2, weights=merged.a, minlength=12), a, rtol=0, atol=1e-16)


# ---------------------------------------------------------------------------------------------
# Unstable steps, tiny t1, one input rule, honest counters
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("solver, bad, ok", [(Euler(), 2.0, 1.99), (Heun(), 2.0, 1.99), (RK4(), 2.79, 2.78)])
def test_w2_flow_refuses_an_unstable_step(solver, bad, ok, rng):
    x, y = generic_cloud(rng, 10, 2, shift=3.0), generic_cloud(rng, 10, 2)
    with pytest.raises(ValueError, match=r"\bdt=.* is unstable for W2Flow"):
        simulate(W2Flow(y), x, 10.0, bad, solver=solver)
    res = simulate(W2Flow(y), x, 30 * ok, ok, solver=solver, saveat=SaveAt(w1=None))
    assert res.success and np.max(np.abs(res.x_final)) < 10  # contracts (slowly) instead of 2.6e6


def test_a_tiny_t1_still_takes_a_step():
    res = simulate(MeanFieldODE(lambda x, a, t: np.ones_like(x)), np.zeros((2, 1)), 1e-14, 0.1)
    assert res.success and res.n_steps == 1 and res.ts[-1] == 1e-14
    np.testing.assert_allclose(res.x_final, 1e-14, rtol=1e-15)


def test_flat_arrays_are_points_on_a_line_everywhere():
    y = np.array([[0.0, 0.0], [1.0, 1.0]])
    pot = ExactPotential()(y + 2, None, y, None)
    msg = r"a 1-D array is read as points on a line .*shape \(1, 2\)"
    with pytest.raises(ValueError, match=msg):
        pot([3.0, 4.0])
    with pytest.raises(ValueError, match=r"^x0 has dimension 1 but problem\.target has dimension 2.*" + msg):
        simulate(W1Flow(y), [3.0, 4.0], 1.0, 0.1)
    assert pot([[3.0, 4.0]]).shape == (1,)
    line = ExactPotential()(np.array([2.0, 3.0]), None, np.array([0.0, 1.0]), None)
    assert line([3.0, 4.0]).shape == (2,) and np.ndim(line(3.0)) == 0


@pytest.mark.parametrize("solver", [Euler(), Heun(), RK4()])
def test_mean_field_runs_count_and_time_their_drift(solver):
    calls = []

    def drift(x, a, t):
        calls.append(t)
        return -x

    res = simulate(MeanFieldODE(drift), np.ones((50, 3)), 1.0, 0.1, solver=solver)
    assert res.n_field_evals == len(calls) == 10 * solver.order
    assert res.timings["field"] > 0 and res.n_lp_solves == 0


# ---------------------------------------------------------------------------------------------
# Against independent references (the mutations the 0.1 suite let through)
# ---------------------------------------------------------------------------------------------
def test_capped_tracers_follow_minus_grad_phi_not_the_nearest_data_point(rng):
    """Zero-weight tracers go to the c-transform argmin of φ_0, which is often not the nearest point."""
    x, y = generic_cloud(rng, 16, 2, shift=1.5), generic_cloud(rng, 16, 2)
    tracers = generic_cloud(rng, 40, 2, scale=2.0)
    xs = np.vstack([x, tracers])
    a = np.r_[np.full(16, 1 / 16), np.zeros(40)]
    res = simulate(W1Flow(y), xs, 0.2, 0.1, solver=CappedEuler(), weights=a)
    pot = ExactPotential()(xs, a, y, None)
    D = cdist(tracers, y)
    j = np.argmin(D - pot.v[None, :], axis=1)  # the c-transform minimiser, computed here
    assert np.any(j != np.argmin(D, axis=1))  # the configuration tells the two apart
    step = np.minimum(0.2, D[np.arange(40), j])[:, None]
    expected = tracers + step * (y[j] - tracers) / D[np.arange(40), j][:, None]
    np.testing.assert_allclose(res.x_final[16:], expected, atol=1e-13, rtol=0)


def test_w2_tracers_follow_their_c_transform(rng):
    x, y = generic_cloud(rng, 15, 2, shift=2.0), generic_cloud(rng, 15, 2)
    tracers = generic_cloud(rng, 30, 2, scale=2.0)
    xs = np.vstack([x, tracers])
    a = np.r_[np.full(15, 1 / 15), np.zeros(30)]
    T, G, log = W2Flow(y).target_map(xs, a)
    D2 = cdist(tracers, y, "sqeuclidean")
    j = np.argmin(D2 - np.asarray(log["v"])[None, :], axis=1)
    assert np.any(j != np.argmin(D2, axis=1))
    np.testing.assert_array_equal(T[15:], y[j])
    # and the particles' targets are the barycentres of an independent W2 plan
    G_ref = ot.emd(np.full(15, 1 / 15), np.full(15, 1 / 15), cdist(x, y, "sqeuclidean"))
    np.testing.assert_allclose(T[:15], (G_ref @ y) * 15, atol=1e-12)


def test_a_carried_plan_is_certified_by_its_duals(rng):
    """Scan the step length across the overshoot thresholds: whenever carry() keeps the plan, its
    duals are feasible at the new positions (checked here on all pairs) and its cost is the
    independent LP's; a loosened overshoot check would return infeasible duals."""
    kept = refused = 0
    for trial in range(4):
        x, y = generic_cloud(rng, 6, 2, shift=0.5), generic_cloud(rng, 6, 2)
        a = np.full(6, 1 / 6)
        pot = ExactPotential()(x, a, y, a)
        V = pot.velocity
        speed = np.linalg.norm(V, axis=1)
        for h in np.linspace(1e-3, 3.0, 3000):
            x_new = x + h * V
            carried = pot.carry(x_new, h, speed)
            if carried is None:
                refused += 1
                continue
            kept += 1
            D = cdist(x_new, y)
            assert np.max(carried.u[:, None] + carried.v[None, :] - D) <= 1e-12, (trial, h)
            assert carried.w1 <= ot.emd2(a, a, D) + 1e-12, (trial, h)
    assert kept > 100 and refused > 100


def test_sliced_w1_equals_pots_with_the_same_directions(rng):
    x, y = generic_cloud(rng, 40, 3), generic_cloud(rng, 30, 3, shift=1.0)
    a, b = rand_weights(rng, 40), rand_weights(rng, 30)
    theta = np.random.default_rng(7).standard_normal((64, 3))
    theta /= np.linalg.norm(theta, axis=1, keepdims=True)
    ref = ot.sliced_wasserstein_distance(x, y, a, b, n_projections=64, p=1, projections=theta.T)
    assert metrics.sliced_w1(x, y, a, b, n_projections=64, seed=7) == pytest.approx(ref, rel=1e-12)


def test_quantile_potential_at_thousands_of_points(rng):
    n, m = 3000, 2500
    x, y = rng.standard_normal(n) + 0.3, 1.2 * rng.standard_normal(m)
    a, b = rand_weights(rng, n), rand_weights(rng, m)
    q = QuantilePotential()(x, a, y, b)
    w1_ref = ot.emd2(a, b, np.abs(x[:, None] - y[None, :]))  # an independent LP
    assert q.w1 == pytest.approx(w1_ref, rel=1e-10)
    assert a @ q(x) - b @ q(y) == pytest.approx(w1_ref, rel=1e-10)  # Kantorovich duality
    # φ' = sign(F_ν − F_μ) between support points, from CDFs computed here
    z = np.sort(np.r_[x, y])
    mid = 0.5 * (z[1:] + z[:-1])[::37]
    Fm = np.searchsorted(np.sort(x), mid, side="right")
    Fm = np.cumsum(a[np.argsort(x)])[np.maximum(Fm - 1, 0)] * (Fm > 0)
    Fn = np.searchsorted(np.sort(y), mid, side="right")
    Fn = np.cumsum(b[np.argsort(y)])[np.maximum(Fn - 1, 0)] * (Fn > 0)
    np.testing.assert_array_equal(q.grad(mid)[:, 0], np.sign(Fn - Fm))


def test_capped_w1_history_against_an_independent_lp(rng):
    x, y = generic_cloud(rng, 40, 2, shift=2.0), generic_cloud(rng, 33, 2)
    a, b = rand_weights(rng, 40), rand_weights(rng, 33)
    res = simulate(W1Flow(y, b), x, 6.0, 0.25, weights=a, solver=CappedEuler(split=True))
    for t, xt, wt, w1 in zip(res.ts, res.xs, res.weights, res.w1):
        assert w1 == pytest.approx(ot.emd2(wt, b, cdist(xt, y)), abs=1e-12), t
