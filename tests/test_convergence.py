"""Convergence verification: measured orders against closed forms, and the oracles they rest on.

Property-based tests (hypothesis) draw a seed and a few sizes; the clouds and matrices are then
drawn with numpy from that seed, so every example is generic (no hand-picked degenerate input)
while hypothesis still controls and shrinks the sizes, scales and step sizes.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import w1flow as wf
from conftest import examples, rand_weights
from w1flow import metrics
from w1flow.convergence import (
    ConvergenceResult,
    capped_flow_closed_form,
    capped_w1_closed_form,
    clearance_mask,
    dt_ladder,
    fine_reference,
    fit_order,
    linear_mean_field_closed_form,
    linear_mean_field_drift,
    order_study,
    tanh_critic_drift,
    w2_flow_closed_form,
)
from w1flow.potentials.entropic import EntropicPotential
from w1flow.potentials.exact import ExactPotential
from w1flow.potentials.quantile import QuantilePotential
from w1flow.problems import MeanFieldODE, W2Flow
from w1flow.solvers import RK4, CappedEuler, Euler, Heun


def random_matrix(rng, d, rho):
    """A random d × d matrix with spectral norm (hence spectral radius <= ) ``rho``."""
    M = rng.standard_normal((d, d))
    return rho * M / np.linalg.norm(M, 2)


# ------------------------------------------------------------------------------------------
# (2) linear McKean–Vlasov: closed form by matrix exponentials
# ------------------------------------------------------------------------------------------
def test_linear_mean_field_closed_form_solves_the_ode():
    rng = np.random.default_rng(0)
    d, n = 3, 7
    A, B = random_matrix(rng, d, 1.0), random_matrix(rng, d, 0.7)
    m = rng.standard_normal(d)
    x0, a = rng.standard_normal((n, d)), rand_weights(rng, n)
    drift = linear_mean_field_drift(A, B, m)
    np.testing.assert_allclose(linear_mean_field_closed_form(A, B, m, x0, a, 0.0), x0, atol=1e-15)
    t, h = 0.7, 1e-5
    Y = linear_mean_field_closed_form(A, B, m, x0, a, t)
    dY = (linear_mean_field_closed_form(A, B, m, x0, a, t + h)
          - linear_mean_field_closed_form(A, B, m, x0, a, t - h)) / (2 * h)
    np.testing.assert_allclose(dY, drift(Y, a, t), atol=1e-8)
    # the weighted mean follows dE/dt = B(E − m)
    E = a @ Y
    np.testing.assert_allclose(a @ dY, B @ (E - m), atol=1e-8)


@settings(deadline=None, max_examples=examples(12))
@given(
    seed=st.integers(0, 2**32 - 1),
    d=st.integers(1, 3),
    n=st.integers(3, 10),
    rho=st.floats(0.5, 2.0),
    weighted=st.booleans(),
)
def test_linear_mean_field_orders(seed, d, n, rho, weighted):
    """Euler order 1 ± 0.1 and Heun 2 ± 0.15 on dY = A(Y − E Y) + B(E Y − m), dt_max·ρ <= 0.1."""
    rng = np.random.default_rng(seed)
    A, B = random_matrix(rng, d, rho), random_matrix(rng, d, rho)
    m = rng.standard_normal(d)
    x0 = rng.standard_normal((n, d))
    a = rand_weights(rng, n) if weighted else None
    problem = MeanFieldODE(linear_mean_field_drift(A, B, m), dim=d)

    def exact(x, w, T):
        return linear_mean_field_closed_form(A, B, m, x, w, T)

    dts = dt_ladder(0.1 / rho, 4)
    for solver, order, tol in ((Euler(), 1.0, 0.1), (Heun(), 2.0, 0.15)):
        res = order_study(problem, x0, solver, 1.0, dts, reference=exact, metric="max", weights=a)
        assert res.used.all(), res
        assert abs(res.slope - order) <= tol, res


# ------------------------------------------------------------------------------------------
# (1) W2 flow: Euler contracts W2 by exactly (1 − dt) per step (permutation plans)
# ------------------------------------------------------------------------------------------
def gaussian_cloud(rng, n, d, shift):
    L = rng.standard_normal((d, d)) * 0.5 + np.eye(d)
    return shift + rng.standard_normal((n, d)) @ L.T


@settings(deadline=None, max_examples=examples(15))
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 30),
    d=st.integers(1, 3),
    dt=st.floats(0.02, 1.0),
    shift=st.floats(0.0, 5.0),
)
def test_w2_euler_contracts_by_one_minus_dt(seed, n, d, dt, shift):
    rng = np.random.default_rng(seed)
    x0 = gaussian_cloud(rng, n, d, shift)
    y = gaussian_cloud(rng, n, d, 0.0)
    res = wf.simulate(W2Flow(y), x0, 4 * dt, dt, saveat=wf.SaveAt(w1=None))
    assert res.success
    w2s = np.array([metrics.w2(x, y) for x in res.xs])
    expected = w2s[0] * (1.0 - dt) ** np.arange(len(w2s))
    scale = 1.0 + np.abs(x0).max() + np.abs(y).max()
    np.testing.assert_allclose(w2s, expected, rtol=1e-9, atol=1e-10 * scale)
    # the continuous flow is the reparametrised geodesic e^{-t}Y0 + (1 − e^{-t})T(Y0)
    T0 = W2Flow(y).target_map(x0, None)[0]
    for t in (0.3, 2.0):
        np.testing.assert_allclose(metrics.w2(w2_flow_closed_form(x0, T0, t), y),
                                   np.exp(-t) * w2s[0], rtol=1e-9, atol=1e-10 * scale)


@settings(deadline=None, max_examples=examples(6))
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(1, 3))
def test_w2_euler_order_against_closed_form(seed, d):
    rng = np.random.default_rng(seed)
    n = 12
    x0, y = gaussian_cloud(rng, n, d, 3.0), gaussian_cloud(rng, n, d, 0.0)
    problem = W2Flow(y)
    T0 = problem.target_map(x0, None)[0]
    res = order_study(problem, x0, Euler(), 1.0, dt_ladder(0.1, 4),
                      reference=lambda x, w, T: w2_flow_closed_form(x, T0, T), metric="w2",
                      )
    assert abs(res.slope - 1.0) <= 0.1, res


@settings(deadline=None, max_examples=examples(15))
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 14), m=st.integers(2, 14), d=st.integers(1, 3),
       dt=st.floats(0.05, 1.0))
def test_w2_euler_with_weights_and_split_plans_never_raises_w2(seed, n, m, d, dt):
    """With weights and n ≠ m the plan splits and T is a barycentric projection: the rate (1 − dt)
    is lost, but one step obeys W2'² <= (1 − dt)² A + dt(2 − dt) B <= A, where, for the optimal
    plan G of the step's start, A = Σ G_ij |x_i − y_j|² = W2² and B = Σ G_ij |T_i − y_j|² <= A
    (the cross term vanishes because Σ_j G_ij (T_i − y_j) = 0). G comes from an independent LP."""
    import ot

    rng = np.random.default_rng(seed)
    x0, y = gaussian_cloud(rng, n, d, 2.0), gaussian_cloud(rng, m, d, 0.0)
    a, b = rand_weights(rng, n), rand_weights(rng, m)
    res = wf.simulate(W2Flow(y, b), x0, 4 * dt, dt, weights=a, saveat=wf.SaveAt(w1=None))
    assert res.success
    for x, x_next in zip(res.xs[:-1], res.xs[1:]):
        C = np.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=2)
        G = ot.emd(a, b, C, numItermax=10**6)
        T = (G @ y) / a[:, None]
        A = float(np.sum(G * C))
        B = float(np.sum(G * np.sum((T[:, None, :] - y[None, :, :]) ** 2, axis=2)))
        bound = (1 - dt) ** 2 * A + dt * (2 - dt) * B
        w2_next = metrics.w2(x_next, y, a, b) ** 2
        slack = 1e-9 * (1.0 + A)
        assert w2_next <= bound + slack and bound <= A + slack and B <= A + slack


def test_w2flow_weighted_and_tracers():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((6, 2)), rng.standard_normal((9, 2))
    a = np.array([0.3, 0.0, 0.2, 0.1, 0.4, 0.0])
    f = W2Flow(y).field(x, a, 0.0)
    assert f.success and f.velocity.shape == x.shape
    G = f.plan
    pos = a > 0
    np.testing.assert_allclose(f.target_points[pos], (G[pos] @ y) / a[pos, None], atol=1e-12)
    # tracers head for a data point
    assert all(np.min(np.linalg.norm(y - t, axis=1)) < 1e-12 for t in f.target_points[~pos])


# ------------------------------------------------------------------------------------------
# (6) capped exact W1 flow: CappedEuler equals the closed form to round-off
# ------------------------------------------------------------------------------------------
@settings(deadline=None, max_examples=examples(12))
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 25),
    m=st.integers(2, 25),
    d=st.integers(1, 3),
    weighted=st.booleans(),
    dt=st.floats(0.05, 0.7),
)
def test_capped_euler_is_the_closed_form(seed, n, m, d, weighted, dt):
    rng = np.random.default_rng(seed)
    x0 = 2.0 + rng.standard_normal((n, d))
    y = rng.standard_normal((m, d))
    a = rand_weights(rng, n) if weighted else None
    b = rand_weights(rng, m) if weighted else None
    T = 3.0
    res = wf.simulate(wf.W1Flow(y, b), x0, T, dt, solver=CappedEuler(split=True), weights=a)
    assert res.success, res.message
    scale = 1.0 + np.abs(x0).max() + np.abs(y).max()
    np.testing.assert_allclose(res.w1, capped_w1_closed_form(x0, a, y, b, res.ts), rtol=0,
                               atol=1e-11 * scale)
    z, w, _ = capped_flow_closed_form(x0, a, y, b, T)
    assert metrics.w1(z, res.x_final, w, res.a_final) <= 1e-11 * scale


def test_capped_order_study_is_roundoff():
    rng = np.random.default_rng(7)
    n = 100
    x0, y = rng.standard_normal((n, 2)) + [3.0, 0.0], 0.5 * rng.standard_normal((n, 2))
    res = order_study(wf.W1Flow(y), x0, CappedEuler(), 2.0, dt_ladder(0.2, 5),
                      reference=lambda x, w, T: capped_flow_closed_form(x, w, y, None, T)[0],
                      metric="max")
    assert res.at_roundoff and np.isnan(res.slope) and res.fit_range is None
    assert np.max(res.errors) <= 1e-12 * 10


# ------------------------------------------------------------------------------------------
# (5) the exact 1-D flow (the quantile potential's own tests: tests/test_quantile.py)
# ------------------------------------------------------------------------------------------
def test_chattering_plateau_is_first_order():
    """Uncapped Euler on the exact 1-D W1 flow: terminal W1 to the data ∝ dt (slope ~ 1)."""
    rng = np.random.default_rng(5)
    n = 200
    x0, y = 2.0 + rng.standard_normal(n), 0.5 * rng.standard_normal(n)
    T = 1.0 + quantile_hitting_time(x0, y)
    data = lambda x, w, t: (y.reshape(-1, 1), None)  # noqa: E731 - the reference is the data
    res = order_study(wf.W1Flow(y), x0, Euler(), T, dt_ladder(0.2, 6), reference=data,
                      metric="w1", potential=QuantilePotential())
    assert 0.85 <= res.slope <= 1.15, res
    assert np.all(res.errors <= res.dts)  # the plateau stays below dt (about dt/2)
    # the capped flow has no plateau
    rc = wf.simulate(wf.W1Flow(y), x0, T, 0.2, solver=CappedEuler(), potential=QuantilePotential())
    assert rc.w1[-1] <= 1e-12


def quantile_hitting_time(x0, y):
    return float(np.max(np.abs(np.sort(np.ravel(x0)) - np.sort(np.ravel(y)))))


def test_theorem_4_1_measured_rate():
    """Theorem 4.1 in measured form: W1(μ_T^dt, data) at a fixed T past every arrival → 0 with dt.

    The paper states no rate; the fitted one (about 1, from the O(dt) chattering) is recorded.
    """
    rng = np.random.default_rng(1)
    n = 100
    x0 = rng.standard_normal((n, 2)) * 0.5 + [3.0, 0.0]
    ang = 2 * np.pi * np.arange(8) / 8
    centers = 2.0 * np.c_[np.cos(ang), np.sin(ang)]
    y = centers[np.arange(n) % 8] + 0.05 * rng.standard_normal((n, 2))
    T = 1.0 + capped_hitting_time(x0, y)
    res = order_study(wf.W1Flow(y), x0, Euler(), T, dt_ladder(0.2, 5),
                      reference=lambda x, w, t: (y, None), metric="w1")
    print(f"Theorem 4.1 measured: W1 to data at T={T:.2f}: {res.errors}, fitted rate {res.slope:.3f}")
    assert np.all(np.diff(res.errors) < 0)
    assert 0.5 <= res.slope <= 1.5, res


def capped_hitting_time(x0, y):
    pot = ExactPotential()(x0, None, y, None)
    return float(np.max(np.linalg.norm(x0 - y[pot.target_index], axis=1)))


# ------------------------------------------------------------------------------------------
# (3) entropic potential: the order of Heun on its (smooth) flow (unit tests: tests/test_entropic.py)
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def entropic_setup():
    rng = np.random.default_rng(0)
    n = m = 40
    x0 = 0.5 * rng.standard_normal((n, 2)) + [2.5, 0.0]
    ang = rng.uniform(0, 2 * np.pi, m)
    y = 1.5 * np.c_[np.cos(ang), np.sin(ang)]
    pot = EntropicPotential(0.1, tol=1e-12)
    problem = wf.W1Flow(y)
    dts = dt_ladder(0.25, 5)
    ref = fine_reference(problem, x0, 1.0, dts.min() / 16, potential=pot)
    return problem, x0, y, pot, dts, ref


def test_entropic_flow_heun_order_away_from_data(entropic_setup):
    """Oracle (3): ε = 0.1, T = 1, particles whose reference path stays >= 0.1 from the data."""
    problem, x0, y, pot, dts, ref = entropic_setup
    clear = clearance_mask(ref, y, 0.1)
    assert 10 <= clear.sum() < clear.size  # some particles reach the data, most do not
    heun = order_study(problem, x0, Heun(), 1.0, dts, reference=ref, metric="max", potential=pot,
                       score=clear, drop_coarsest=True)
    euler = order_study(problem, x0, Euler(), 1.0, dts, reference=ref, metric="max", potential=pot,
                        score=clear)
    assert abs(heun.slope - 2.0) <= 0.15, heun
    assert abs(euler.slope - 1.0) <= 0.1, euler


# ------------------------------------------------------------------------------------------
# (4) a frozen tanh critic: a smooth field of the kind a neural critic gives
# ------------------------------------------------------------------------------------------
def test_tanh_critic_field_orders():
    rng = np.random.default_rng(8)
    drift = tanh_critic_drift(2, width=16, seed=1, scale=1.5)
    x0 = rng.standard_normal((100, 2))
    h = 1e-6
    fd = np.stack([(drift.critic(x0 + h * e) - drift.critic(x0 - h * e)) / (2 * h) for e in np.eye(2)], 1)
    np.testing.assert_allclose(drift(x0, None, 0.0), -fd, atol=1e-8)
    problem = MeanFieldODE(drift, dim=2)
    for solver, order, tol in ((Euler(), 1, 0.1), (Heun(), 2, 0.15), (RK4(), 4, 0.25)):
        res = order_study(problem, x0, solver, 1.0, dt_ladder(0.1, 4), metric="max")
        assert abs(res.slope - order) <= tol, res


# ------------------------------------------------------------------------------------------
# Solvers, problems and the study itself
# ------------------------------------------------------------------------------------------
class _FailAtSecondStage(wf.Problem):
    """A problem whose field fails on every second evaluation (to test failure propagation)."""

    def __init__(self):
        self.calls = 0

    def field(self, x, a, t):
        self.calls += 1
        return wf.problems.MeanFieldField(x, a, -x, status="success" if self.calls % 2 == 1 else "lp_failed",
                                          message="stage failed")


@pytest.mark.parametrize("solver", [Heun(), RK4()])
def test_multistage_solvers_propagate_failure_and_refuse_split(solver):
    x = np.ones((3, 2))
    out = wf.simulate(_FailAtSecondStage(), x, 0.3, 0.1, solver=solver)
    assert out.status == "lp_failed" and out.message.endswith("stage failed")
    assert out.n_steps == 0 and out.n_field_evals == 2  # the first stage worked, the second failed
    np.testing.assert_array_equal(out.x_final, x)
    ok = wf.simulate(MeanFieldODE(lambda x, a, t: -x), x, 0.1, 0.1, solver=solver)
    assert ok.success and ok.n_field_evals == solver.order  # Heun: 2 stages, RK4: 4
    with pytest.raises(ValueError, match="does not support split=True"):
        type(solver)(split=True)


def test_mean_field_ode_with_simulate():
    drift = lambda x, a, t: -(x - a @ x)  # noqa: E731 - contraction to the weighted mean
    x0 = np.random.default_rng(9).standard_normal((10, 2))
    res = wf.simulate(MeanFieldODE(drift), x0, 1.0, 0.01, solver=Heun())
    assert res.success and res.w1 is None
    mean = x0.mean(axis=0)
    np.testing.assert_allclose(res.x_final, mean + np.exp(-1.0) * (x0 - mean), atol=1e-4)
    f = MeanFieldODE(drift).field(x0, np.full(10, 0.1), 0.0)
    assert f.success and f.status == "success" and f.velocity.shape == (10, 2) and f.x is x0
    assert MeanFieldODE(drift).target is None
    with pytest.raises(ValueError, match="shape"):
        MeanFieldODE(lambda x, a, t: x[:, :1]).field(x0, np.full(10, 0.1), 0.0)
    with pytest.raises(TypeError):
        MeanFieldODE(3.0)
    with pytest.raises(ValueError, match="dimension"):
        wf.simulate(MeanFieldODE(drift, dim=3), x0, 1.0, 0.1)


def test_fit_order_and_result_plot(tmp_path):
    dts = dt_ladder(0.1, 5)
    errs = 3.0 * dts**2
    errs[-1] = 1e-17  # round-off point is left out
    slope, intercept, used, fr = fit_order(dts, errs, roundoff=1e-14)
    assert slope == pytest.approx(2.0) and used.tolist() == [True] * 4 + [False]
    assert fr == (dts[3], dts[0]) and np.exp(intercept) == pytest.approx(3.0)
    s2, _, used2, _ = fit_order(dts, errs, roundoff=1e-14, drop_coarsest=True)
    assert not used2[0] and s2 == pytest.approx(2.0)
    res = ConvergenceResult(dts, errs, slope, intercept, fr, "max", used=used, roundoff=1e-14,
                            label="demo")
    assert "slope 2.00" in res.legend()
    ax = res.plot()
    ax.figure.savefig(tmp_path / "loglog.png")
    assert (tmp_path / "loglog.png").stat().st_size > 0
    with pytest.raises(ValueError, match=r"\bmetric\b"):
        order_study(MeanFieldODE(lambda x, a, t: -x), np.ones((2, 1)), Euler(), 1.0, dts,
                    reference=lambda x, w, T: x, metric="l2")
    with pytest.raises(ValueError, match=r"\bscore\b"):
        order_study(MeanFieldODE(lambda x, a, t: -x), np.ones((2, 1)), Euler(), 1.0, dts,
                    reference=lambda x, w, T: x, metric="w1", score=[0])
