"""Second-order systems (SecondOrderODE, SymplecticEuler, VelocityVerlet): orders against scipy's
DOP853 with time-dependent forcing, bounded energy error of the symplectic schemes, one force
evaluation per Verlet step for position-only forces, coordinate selection in metrics and plots."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from w1flow import RK4, Euler, MeanFieldODE, SaveAt, simulate
from w1flow import metrics
from w1flow.second_order import SecondOrderODE, SymplecticEuler, VelocityVerlet

N, D, T = 30, 2, 1.0


def swarm(q, v, w, t):
    """Smooth (Gaussian) attraction–repulsion in a time-dependent external field; position-only.

    (The Morse force U'(r) d/r has a kink at r = 0, which caps every method's order near close
    pairs; the orders are measured on a smooth field.)"""
    diff = q[None, :, :] - q[:, None, :]
    r2 = np.sum(diff**2, axis=2)
    g = w[None, :] * (np.exp(-r2) - 1.5 * np.exp(-r2 / 0.25))
    return np.einsum("ij,ijk->ik", g, diff) - 0.5 * q + 0.3 * np.array([np.cos(2 * t), np.sin(3 * t)])


def flock(q, v, w, t):
    """Cucker–Smale alignment with ψ(r) = (1 + r²)^(-1/2), a trap and forcing (velocity-dependent)."""
    diff_v = v[None, :, :] - v[:, None, :]
    r2 = np.sum((q[None, :, :] - q[:, None, :]) ** 2, axis=2)
    align = np.einsum("ij,ijk->ik", w[None, :] * (1 + r2) ** -0.5, diff_v)
    return align - 0.4 * q + 0.2 * np.sin(t) - 0.1 * v**3


def _z0(prob):
    rng = np.random.default_rng(7)
    return prob.state(rng.normal(size=(N, D)), rng.normal(scale=0.5, size=(N, D)))


def _reference(prob, z0):
    w = np.full(N, 1.0 / N)

    def rhs(t, y):
        return prob.field(y.reshape(N, 2 * D), w, t).velocity.ravel()

    sol = solve_ivp(rhs, (0.0, T), z0.ravel(), method="DOP853", rtol=1e-12, atol=1e-12)
    return sol.y[:, -1].reshape(N, 2 * D)


def _order(prob, solver, ks=(5, 6, 7, 8)):
    z0 = _z0(prob)
    ref = _reference(prob, z0)
    errs = [np.max(np.abs(simulate(prob, z0, T, 2.0**-k, solver=solver, saveat=SaveAt(every=10**9)).x_final - ref))
            for k in ks]
    return float(np.polyfit(np.log([2.0**-k for k in ks]), np.log(errs), 1)[0])


@pytest.mark.parametrize("model, vdep", [(swarm, False), (flock, True)])
@pytest.mark.parametrize("solver, order", [(SymplecticEuler(), 1.0), (VelocityVerlet(), 2.0), (RK4(), 4.0)])
def test_observed_orders_against_dop853(model, vdep, solver, order):
    prob = SecondOrderODE(model, dim=D, velocity_dependent=vdep)
    ks = (4, 5, 6, 7) if order == 4 else (5, 6, 7, 8)
    assert abs(_order(prob, solver, ks) - order) < 0.1


def test_verlet_without_the_velocity_prediction_is_first_order_on_velocity_forces():
    # telling Verlet the flock's force does not depend on v is wrong, and measurably so
    wrong = SecondOrderODE(flock, dim=D, velocity_dependent=False)
    assert abs(_order(wrong, VelocityVerlet()) - 1.0) < 0.15


def test_verlet_takes_one_force_per_step_for_position_forces_and_three_otherwise():
    z0 = _z0(SecondOrderODE(swarm, dim=D, velocity_dependent=False))
    res = simulate(SecondOrderODE(swarm, dim=D, velocity_dependent=False), z0, 1.0, 0.1, solver=VelocityVerlet())
    assert res.n_steps == 10 and res.n_field_evals == res.n_steps + 1
    res = simulate(SecondOrderODE(flock, dim=D), z0, 1.0, 0.1, solver=VelocityVerlet())
    assert res.n_field_evals == 3 * res.n_steps


def test_the_force_verlet_hands_to_the_next_step_is_the_field_at_the_new_state():
    from w1flow.solvers import SolverContext

    prob = SecondOrderODE(swarm, dim=D, velocity_dependent=False)
    z0 = _z0(prob)
    w = np.full(N, 1.0 / N)
    out = VelocityVerlet().step(SolverContext(prob), 0.3, 0.1, z0, w, None)
    np.testing.assert_allclose(out.field_at_end.velocity, prob.field(out.x, w, 0.4).velocity, rtol=0, atol=1e-15)
    assert out.field_at_end.x is out.x


def test_symplectic_schemes_keep_the_oscillator_energy_bounded_and_forward_euler_does_not():
    """A harmonic oscillator q'' = −q: the energy error of symplectic Euler and Verlet stays
    O(dt) and O(dt²) over 200 periods; forward Euler's grows like e^{t dt}."""
    prob = SecondOrderODE(lambda q, v, w, t: -q, dim=1, velocity_dependent=False)
    z0 = prob.state([[1.0]], [[0.0]])
    dt, t1 = 0.05, 200 * 2 * np.pi

    def energy_error(res):
        z = np.array([x[0] for x in res.xs])
        return np.max(np.abs(0.5 * (z[:, 0] ** 2 + z[:, 1] ** 2) - 0.5))

    se = simulate(prob, z0, t1, dt, solver=SymplecticEuler(), saveat=SaveAt(every=97))
    vv = simulate(prob, z0, t1, dt, solver=VelocityVerlet(), saveat=SaveAt(every=97))
    fe = simulate(prob, z0, 50.0, dt, solver=Euler(), saveat=SaveAt(every=97))
    assert energy_error(se) < 0.5 * dt * 1.1  # |ΔE| <= dt/2 · E-scale for symplectic Euler
    assert energy_error(vv) < dt**2 / 8 * 1.1
    assert energy_error(fe) > 1.0  # forward Euler gains energy: (1 + dt²)^{t/dt}


def test_state_helpers_and_refusals():
    prob = SecondOrderODE(swarm, dim=D, velocity_dependent=False)
    q, v = np.ones((3, 2)), np.zeros((3, 2))
    z = prob.state(q, v)
    assert z.shape == (3, 4) and np.array_equal(prob.positions(z), q) and np.array_equal(prob.velocities(z), v)
    with pytest.raises(ValueError, match=r"q and v must both have shape \(n, 2\)"):
        prob.state(np.ones((3, 2)), np.ones((3, 3)))
    with pytest.raises(TypeError, match="needs a SecondOrderODE"):
        simulate(MeanFieldODE(lambda x, w, t: -x), np.ones((3, 2)), 0.1, 0.05, solver=VelocityVerlet())
    with pytest.raises(ValueError, match="x0 has dimension 2 but the problem has dimension 4"):
        simulate(prob, np.ones((3, 2)), 0.1, 0.05, solver=VelocityVerlet())


def test_per_particle_masses_reach_the_acceleration():
    masses = np.linspace(1.0, 3.0, N)
    prob = SecondOrderODE(lambda q, v, w, t, m: -q / m[:, None], dim=1, velocity_dependent=False, params=masses)
    z0 = prob.state(np.ones((N, 1)), np.zeros((N, 1)))
    res = simulate(prob, z0, 1.0, 2.0**-8, solver=VelocityVerlet())
    # q(t) = cos(t / sqrt(m))
    np.testing.assert_allclose(prob.positions(res.x_final)[:, 0], np.cos(1.0 / np.sqrt(masses)), atol=2e-5)


def test_metrics_select_coordinates():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 4)), rng.normal(size=(25, 4))
    assert metrics.w1(x, y, coords=range(2)) == pytest.approx(metrics.w1(x[:, :2], y[:, :2]), abs=1e-15)
    assert metrics.w2(x, y, coords=[1, 3]) == pytest.approx(metrics.w2(x[:, [1, 3]], y[:, [1, 3]]), abs=1e-15)
    with pytest.raises(ValueError, match=r"coords must select columns of the 4"):
        metrics.w1(x, y, coords=[4])


@pytest.mark.parametrize("n, m", [(1, 1), (6, 9), (40, 33)])
def test_w1_on_the_circle_against_an_lp_with_geodesic_costs(n, m):
    import ot

    rng = np.random.default_rng(n)
    th, ph = rng.uniform(-9.0, 9.0, n), rng.uniform(0.0, 2 * np.pi, m)  # unwrapped phases are fine
    a, b = rng.uniform(0.1, 1.0, n), rng.uniform(0.1, 1.0, m)
    a, b = a / a.sum(), b / b.sum()
    gap = np.abs(np.mod(th, 2 * np.pi)[:, None] - np.mod(ph, 2 * np.pi)[None, :])
    ref = ot.emd2(a, b, np.minimum(gap, 2 * np.pi - gap))  # the LP, an independent formula
    assert metrics.w1_circle(th, ph, a, b) == pytest.approx(ref, abs=1e-13)
    # rotation invariance, and 2π-periodicity of the phases
    assert metrics.w1_circle(th + 1.3, ph + 1.3, a, b) == pytest.approx(ref, abs=1e-12)
    assert metrics.w1_circle(th + 2 * np.pi, ph, a, b) == pytest.approx(ref, abs=1e-12)
